import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from zaplecze.orders.csvio.values import (
    ValueProblem,
    parse_datetime,
    parse_decimal,
    parse_money,
    parse_quantity,
)

WARSAW = ZoneInfo("Europe/Warsaw")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1234.56", Decimal("1234.56")),
        ("1 234,56", Decimal("1234.56")),
        ("1\u00a0234,56", Decimal("1234.56")),
        ("1.234,56", Decimal("1234.56")),
        ("1,234.56", Decimal("1234.56")),
        ("12,5 zł", Decimal("12.5")),
        ("PLN 7", Decimal("7")),
        ("1,234", Decimal("1.234")),  # a lone comma is a decimal comma
        ("-3,10", Decimal("-3.10")),
    ],
)
def test_parse_decimal_accepts_polish_and_english_notation(raw, expected):
    assert parse_decimal(raw) == expected


def test_parse_decimal_empty_is_none_and_text_is_an_error_naming_the_value():
    assert parse_decimal("  ") is None
    with pytest.raises(ValueProblem, match="'abc' is not a number"):
        parse_decimal("abc")
    with pytest.raises(ValueProblem, match="is not a number"):
        parse_decimal("12.3.4,5,6")


def test_parse_money_rounds_to_cents_and_refuses_negative():
    assert parse_money("9,995") == Decimal("10.00")
    with pytest.raises(ValueProblem, match="negative"):
        parse_money("-1,00")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("0", "greater than 0"),
        ("-2", "greater than 0"),
        ("1,5", "not a whole number"),
        ("", "empty"),
        ("dwa", "not a number"),
        ("100001", "larger than 100000"),
    ],
)
def test_parse_quantity_refuses_non_positive_and_fractions(raw, message):
    with pytest.raises(ValueProblem, match=message):
        parse_quantity(raw)


def test_parse_quantity_accepts_whole_numbers_written_as_decimals():
    assert parse_quantity("3") == 3
    assert parse_quantity("2,00") == 2


@pytest.mark.parametrize(
    ("raw", "expected_utc"),
    [
        ("2026-05-01T10:00:00+02:00", dt.datetime(2026, 5, 1, 8, 0, tzinfo=dt.UTC)),
        ("2026-05-01T08:00:00Z", dt.datetime(2026, 5, 1, 8, 0, tzinfo=dt.UTC)),
        ("2024-01-05 10:11:12 -0500", dt.datetime(2024, 1, 5, 15, 11, 12, tzinfo=dt.UTC)),  # Shopify
        ("2026-05-01 10:00:00", dt.datetime(2026, 5, 1, 8, 0, tzinfo=dt.UTC)),  # local summer time
        ("2026-01-15 10:00", dt.datetime(2026, 1, 15, 9, 0, tzinfo=dt.UTC)),  # local winter time
        ("01.05.2026 10:00", dt.datetime(2026, 5, 1, 8, 0, tzinfo=dt.UTC)),
        ("1.5.2026 10:00:30", dt.datetime(2026, 5, 1, 8, 0, 30, tzinfo=dt.UTC)),
        ("01.05.2026", dt.datetime(2026, 4, 30, 22, 0, tzinfo=dt.UTC)),
    ],
)
def test_parse_datetime_formats(raw, expected_utc):
    value = parse_datetime(raw, WARSAW)
    assert value.tzinfo is not None
    assert value == expected_utc


def test_parse_datetime_rejects_nonsense_with_examples():
    with pytest.raises(ValueProblem, match=r"'31\.02\.2026' is not a date and time; use e\.g\."):
        parse_datetime("31.02.2026", WARSAW)
    assert parse_datetime("", WARSAW) is None
