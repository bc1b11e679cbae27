"""The legal calculator: dates AND the rule steps, per COMPLIANCE A1/A2, with the Polish holiday calendar."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from zaplecze.core.businesstime import is_business_day
from zaplecze.service import deadlines, rules
from zaplecze.service.deadlines import (
    add_months,
    complaint_liability,
    complaint_response_deadline,
    refund_deadline,
    withdrawal_deadline,
)

D = dt.date


def test_the_compliance_example_delivered_wed_10_12_2025_ends_mon_29_12_2025():
    result = withdrawal_deadline(D(2025, 12, 10))
    assert result.deadline == D(2025, 12, 29)
    assert result.rule == [
        "Delivered (last parcel) on Wed 10.12.2025; that day is not counted (kc art. 111 §2), counting starts on "
        "Thu 11.12.2025.",
        "14 days (upk art. 27) end on Wed 24.12.2025.",
        "Wed 24.12.2025 is a public holiday (Christmas Eve); Thu 25.12.2025 is a public holiday (Christmas Day); "
        "Fri 26.12.2025 is a public holiday (Second Day of Christmas); Sat 27.12.2025 is a Saturday; "
        "Sun 28.12.2025 is a Sunday: the end moves to the next day that is neither a Saturday nor a day off, "
        "Mon 29.12.2025 (kc art. 115).",
        "Deadline: Mon 29.12.2025.",
    ]


@pytest.mark.parametrize(
    ("delivered", "deadline"),
    [
        (D(2026, 3, 2), D(2026, 3, 16)),  # Monday -> Monday, a working day: no move
        (D(2026, 3, 7), D(2026, 3, 23)),  # ends Saturday 21.03 -> Monday 23.03
        (D(2026, 3, 8), D(2026, 3, 23)),  # ends Sunday 22.03 -> Monday 23.03
        (D(2026, 10, 28), D(2026, 11, 12)),  # ends Wed 11.11 (Independence Day) -> Thursday
        (D(2026, 3, 23), D(2026, 4, 7)),  # ends Easter Monday 06.04 -> Tuesday
        (D(2026, 12, 18), D(2027, 1, 4)),  # ends Fri 01.01.2027 (New Year) -> Sat, Sun -> Monday 04.01
        (D(2024, 12, 10), D(2024, 12, 24)),  # 24 December was a working day before 2025
        (D(2025, 12, 11), D(2025, 12, 29)),  # ends Thu 25.12 -> Mon 29.12
    ],
)
def test_withdrawal_deadline_moves_a_saturday_sunday_or_holiday_end(delivered, deadline):
    assert withdrawal_deadline(delivered).deadline == deadline


def test_not_informed_adds_twelve_months_to_the_end_of_the_period():
    result = withdrawal_deadline(D(2025, 12, 10), informed=False)
    assert result.deadline == D(2026, 12, 29)
    assert result.extra == {"informed": False}
    assert result.rule[-2] == (
        "No record that the customer was informed of the right of withdrawal: the right ends 12 months after the "
        "14-day period, on Tue 29.12.2026 (upk art. 29 ust. 1, kc art. 112)."
    )
    assert result.rule[-1] == "Deadline: Tue 29.12.2026."


def test_not_informed_extension_ending_on_a_holiday_moves_too():
    # 14 days from Tue 2025-10-28 end Tue 11.11.2025 (holiday) -> Wed 12.11.2025; + 12 months = Thu 12.11.2026.
    assert withdrawal_deadline(D(2025, 10, 28), informed=False).deadline == D(2026, 11, 12)
    # 14 days from 2025-04-17 end Thu 01.05.2025 (holiday) -> Fri 02.05.2025; + 12 months = Sat 02.05.2026,
    # Sun 03.05.2026 is a holiday and a Sunday -> Mon 04.05.2026.
    assert withdrawal_deadline(D(2025, 4, 17), informed=False).deadline == D(2026, 5, 4)


def test_informed_late_runs_fourteen_days_from_the_information():
    result = withdrawal_deadline(D(2025, 12, 10), informed=True, informed_on=D(2026, 2, 1))
    # 01.02.2026 + 14 = Sun 15.02.2026 -> Mon 16.02.2026
    assert result.deadline == D(2026, 2, 16)
    assert "The customer was informed of the right late, on Sun 01.02.2026" in result.rule[3]


def test_informed_on_or_before_delivery_is_the_normal_period():
    assert withdrawal_deadline(D(2025, 12, 10), informed_on=D(2025, 12, 1)).deadline == D(2025, 12, 29)
    assert withdrawal_deadline(D(2025, 12, 10), informed_on=D(2025, 12, 10)).deadline == D(2025, 12, 29)


def test_information_after_the_extended_period_does_not_revive_it():
    result = withdrawal_deadline(D(2025, 12, 10), informed=True, informed_on=D(2027, 3, 1))
    assert result.deadline == D(2026, 12, 29)


def test_not_delivered_yet_has_no_deadline_and_says_why():
    result = withdrawal_deadline(None)
    assert result.deadline is None
    assert result.rule == [
        "The goods have not been delivered yet: the 14-day period has not started, and the customer may already "
        "withdraw (upk art. 27)."
    ]


def test_refund_is_due_fourteen_days_after_the_statement_with_a_warning_at_day_ten():
    result = refund_deadline(D(2025, 12, 10))
    assert (result.deadline, result.warn_on) == (D(2025, 12, 29), D(2025, 12, 20))
    assert result.rule[0].startswith("Withdrawal statement received on Wed 10.12.2025")
    assert result.rule[-1] == "Deadline: Mon 29.12.2025."


def test_consumer_complaint_reply_deadline_and_deemed_acceptance():
    result = complaint_response_deadline(D(2026, 3, 3), customer_type="consumer")
    assert (result.deadline, result.warn_on, result.deemed_accepted_after) == (
        D(2026, 3, 17),
        D(2026, 3, 13),
        True,
    )
    assert "the complaint is deemed accepted (upk art. 7a)" in result.rule[-2]


def test_sole_trader_has_consumer_rights_and_business_has_no_deemed_acceptance():
    assert (
        complaint_response_deadline(D(2026, 3, 3), customer_type="sole_trader").deemed_accepted_after is True
    )
    b2b = complaint_response_deadline(D(2026, 3, 3), customer_type="business")
    assert b2b.deemed_accepted_after is False
    assert b2b.deadline == D(2026, 3, 17)  # house target, same counting
    assert b2b.rule[0].startswith("Business customer: the seller's warranty of the Civil Code applies")


def test_complaint_received_before_christmas_is_answered_after_the_holidays():
    assert complaint_response_deadline(D(2025, 12, 10)).deadline == D(2025, 12, 29)


def test_liability_is_two_years_from_delivery_not_moved():
    result = complaint_liability(D(2024, 2, 29))
    assert result.deadline == D(2026, 2, 28)  # no 29 February in 2026: the month's last day (kc art. 112)
    assert complaint_liability(D(2025, 12, 13)).deadline == D(2027, 12, 13)  # a Monday anyway
    assert complaint_liability(D(2024, 11, 11)).deadline == D(2026, 11, 11)  # a holiday: not moved


def test_business_liability_can_be_shortened_by_contract_and_warns_about_prompt_notice():
    result = complaint_liability(D(2026, 1, 15), customer_type="business", contract_months=12)
    assert result.deadline == D(2027, 1, 15)
    assert result.rule[1].startswith("A business buyer must inspect the goods and notify a defect promptly")
    assert complaint_liability(D(2026, 1, 15), customer_type="business").deadline == D(2028, 1, 15)


def test_add_months_clamps_to_the_last_day_of_the_month():
    assert add_months(D(2025, 1, 31), 1) == D(2025, 2, 28)
    assert add_months(D(2024, 1, 31), 1) == D(2024, 2, 29)
    assert add_months(D(2025, 12, 29), 12) == D(2026, 12, 29)
    assert add_months(D(2025, 11, 30), 3) == D(2026, 2, 28)


def test_compute_refuses_an_unknown_kind():
    with pytest.raises(ValueError, match="Unknown deadline kind"):
        deadlines.compute("shipping", D(2026, 1, 1))


def test_parameters_live_in_rules():
    assert (
        rules.WITHDRAWAL_DAYS,
        rules.REFUND_DAYS,
        rules.COMPLAINT_RESPONSE_DAYS,
        rules.REFUND_WARNING_DAY,
        rules.COMPLAINT_ESCALATION_DAY,
        rules.NOT_INFORMED_EXTENSION_MONTHS,
    ) == (14, 14, 14, 10, 10, 12)


def test_changing_a_parameter_in_rules_changes_the_result(monkeypatch):
    monkeypatch.setattr(rules, "END_ON_DAY_OFF_MOVES", False)
    assert withdrawal_deadline(D(2025, 12, 10)).deadline == D(2025, 12, 24)


@settings(max_examples=300, deadline=None)
@given(st.dates(min_value=D(2024, 1, 1), max_value=D(2030, 12, 31)))
def test_every_withdrawal_deadline_is_the_first_working_day_on_or_after_the_nominal_end(delivered):
    nominal = delivered + dt.timedelta(days=14)
    deadline = withdrawal_deadline(delivered).deadline
    assert is_business_day(deadline)
    assert nominal <= deadline <= nominal + dt.timedelta(days=6)
    day = nominal
    while day < deadline:
        assert not is_business_day(day)
        day += dt.timedelta(days=1)


# --- the CLI -------------------------------------------------------------------------------------------


def _cli(*args):
    from zaplecze.cli import main

    return CliRunner().invoke(main, ["service", *args], catch_exceptions=False)


def test_cli_withdrawal_prints_one_json_object():
    result = _cli("deadline", "withdrawal", "--from", "2025-12-10", "--json", "--lang", "en")
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert data["deadline"] == "2025-12-29"
    assert data["kind"] == "withdrawal"
    assert data["rule"][-1] == "Deadline: Mon 29.12.2025."
    assert result.output.count("\n") == 1


def test_cli_not_informed_refund_and_complaint():
    data = json.loads(
        _cli("deadline", "withdrawal", "--from", "2025-12-10", "--not-informed", "--json").output
    )
    assert data["deadline"] == "2026-12-29"
    data = json.loads(_cli("deadline", "refund", "--from", "2025-12-10", "--json").output)
    assert (data["deadline"], data["warn_on"]) == ("2025-12-29", "2025-12-20")
    data = json.loads(_cli("deadline", "complaint", "--from", "2026-03-03", "--json").output)
    assert (data["deadline"], data["deemed_accepted_after"]) == ("2026-03-17", True)
    data = json.loads(_cli("deadline", "complaint", "--from", "2026-03-03", "--business", "--json").output)
    assert data["deemed_accepted_after"] is False
    data = json.loads(_cli("deadline", "liability", "--from", "2024-02-29", "--json").output)
    assert data["deadline"] == "2026-02-28"


def test_cli_refuses_a_malformed_date_with_exit_2():
    result = _cli("deadline", "withdrawal", "--from", "10.12.2025", "--json")
    assert result.exit_code == 2
    assert "is not a date; use YYYY-MM-DD" in result.output


def test_cli_text_output_lists_the_steps():
    result = _cli("deadline", "withdrawal", "--from", "2025-12-10", "--lang", "en")
    lines = result.output.splitlines()
    assert lines[0] == "withdrawal: 2025-12-29"
    assert lines[-1] == "  4. Deadline: Mon 29.12.2025."
