"""The legal calculator: each function returns the date AND the steps it applied, in words.

Pure functions of dates and the parameters in `rules.py` (and the holiday calendar in core.businesstime); no
database. The steps are translatable sentences, so a customer letter, the case page, the API and the CLI all
explain a deadline the same way.
"""

from __future__ import annotations

import calendar
import datetime as dt
import functools
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

from django.utils import translation
from django.utils.translation import gettext as _

from zaplecze.core import businesstime
from zaplecze.core.formatting import format_date

from . import rules


class Kind:
    WITHDRAWAL = "withdrawal"
    REFUND = "refund"
    COMPLAINT = "complaint"
    LIABILITY = "liability"
    ALL = ("withdrawal", "refund", "complaint", "liability")


@dataclass(frozen=True)
class Deadline:
    kind: str
    start: dt.date | None
    deadline: dt.date | None
    rule: list[str] = field(default_factory=list)
    warn_on: dt.date | None = None
    #: For complaints: whether silence past the deadline means acceptance (consumers only).
    deemed_accepted_after: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "from": self.start.isoformat() if self.start else None,
            "deadline": self.deadline.isoformat() if self.deadline else None,
            "warn_on": self.warn_on.isoformat() if self.warn_on else None,
            "deemed_accepted_after": self.deemed_accepted_after,
            "rule": [str(s) for s in self.rule],
            **{k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in self.extra.items()},
        }

    def is_over(self, today: dt.date) -> bool:
        return self.deadline is not None and today > self.deadline


def day(d: dt.date) -> str:
    """E.g. "Wed 10.12.2025", in the active language."""
    return _day(d, translation.get_language() or "")


@lru_cache(maxsize=8192)
def _day(d: dt.date, language: str) -> str:
    return format_date(d, fmt="EEE dd.MM.yyyy")


def _holiday(d: dt.date) -> str | None:
    lang = "pl" if (translation.get_language() or "pl").startswith("pl") else "en_US"
    return businesstime.holiday_name(d, lang)


def _why_off(d: dt.date) -> str:
    name = _holiday(d)
    if name:
        return _("%(day)s is a public holiday (%(name)s)") % {"day": day(d), "name": name}
    if d.weekday() == 5:
        return _("%(day)s is a Saturday") % {"day": day(d)}
    return _("%(day)s is a Sunday") % {"day": day(d)}


def move_off_day(end: dt.date, steps: list[str]) -> dt.date:
    """kc art. 115: an end on a Saturday or a day off moves to the next day that is neither."""
    if not rules.END_ON_DAY_OFF_MOVES or businesstime.is_business_day(end):
        return end
    reasons = []
    current = end
    while not businesstime.is_business_day(current):
        reasons.append(_why_off(current))
        current += dt.timedelta(days=1)
    steps.append(
        _(
            "%(reasons)s: the end moves to the next day that is neither a Saturday nor a day off, %(day)s "
            "(kc art. 115)."
        )
        % {"reasons": "; ".join(reasons), "day": day(current)}
    )
    return current


def add_days(start: dt.date, days: int, steps: list[str], *, event: str, law: str) -> dt.date:
    """A period of `days` days from an event on `start` (kc art. 111 §2: the event's day is not counted)."""
    if rules.EVENT_DAY_COUNTED:
        end = start + dt.timedelta(days=days - 1)
        steps.append(_("%(event)s on %(day)s, counted as day 1.") % {"event": event, "day": day(start)})
    else:
        end = start + dt.timedelta(days=days)
        steps.append(
            _("%(event)s on %(day)s; that day is not counted (kc art. 111 §2), counting starts on %(next)s.")
            % {"event": event, "day": day(start), "next": day(start + dt.timedelta(days=1))}
        )
    steps.append(_("%(days)s days (%(law)s) end on %(day)s.") % {"days": days, "law": law, "day": day(end)})
    return end


def add_months(start: dt.date, months: int) -> dt.date:
    """kc art. 112: the day with the start's date number, or the month's last day when it has none."""
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    return dt.date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def _final(end: dt.date, steps: list[str]) -> dt.date:
    steps.append(_("Deadline: %(day)s.") % {"day": day(end)})
    return end


def _params() -> tuple:
    """The rule parameters a result depends on (part of the memo key, so a corrected parameter takes effect)."""
    return tuple(getattr(rules, name) for name in _PARAM_NAMES)


_PARAM_NAMES = (
    "WITHDRAWAL_DAYS",
    "NOT_INFORMED_EXTENSION_MONTHS",
    "INFORMED_LATE_DAYS",
    "REFUND_DAYS",
    "REFUND_WARNING_DAY",
    "COMPLAINT_RESPONSE_DAYS",
    "COMPLAINT_ESCALATION_DAY",
    "CONSUMER_LIABILITY_YEARS",
    "B2B_LIABILITY_YEARS",
    "B2B_RESPONSE_TARGET_DAYS",
    "EVENT_DAY_COUNTED",
    "END_ON_DAY_OFF_MOVES",
    "LIABILITY_END_MOVES",
    "EXTENSION_FROM_MOVED_END",
    "CONSUMER_RIGHTS_TYPES",
)


def memoised(fn):
    """Same dates, parameters and language -> the same result: computed once, returned as a fresh copy.
    Deadlines of many open cases share few distinct dates (the figure in bench/service_bench.py)."""
    cache: dict = {}

    @functools.wraps(fn)
    def wrapped(*args, **kwargs):
        key = (args, tuple(sorted(kwargs.items())), translation.get_language(), _params())
        result = cache.get(key)
        if result is None:
            if len(cache) > 20_000:
                cache.clear()
            result = cache[key] = fn(*args, **kwargs)
        return replace(result, rule=list(result.rule), extra=dict(result.extra))

    wrapped.cache_clear = cache.clear
    return wrapped


# --- withdrawal ------------------------------------------------------------------------------------------


@memoised
def withdrawal_deadline(
    delivered_on: dt.date | None, *, informed: bool = True, informed_on: dt.date | None = None
) -> Deadline:
    """The last day to send the withdrawal statement (COMPLIANCE A1).

    `delivered_on`: the day the customer took possession of the (last parcel of the) goods; None when not
    delivered yet. `informed=False`: no record that the customer was informed of the right (+12 months).
    `informed_on`: the day the information came when it came after delivery (art. 29 ust. 2)."""
    steps: list[str] = []
    if delivered_on is None:
        steps.append(
            _(
                "The goods have not been delivered yet: the 14-day period has not started, and the "
                "customer may already withdraw (upk art. 27)."
            )
        )
        return Deadline(Kind.WITHDRAWAL, None, None, steps)
    nominal = add_days(
        delivered_on, rules.WITHDRAWAL_DAYS, steps, event=_("Delivered (last parcel)"), law="upk art. 27"
    )
    regular = move_off_day(nominal, steps)
    if informed and (informed_on is None or informed_on <= delivered_on):
        return Deadline(
            Kind.WITHDRAWAL, delivered_on, _final(regular, steps), steps, extra={"informed": True}
        )
    base = regular if rules.EXTENSION_FROM_MOVED_END else nominal
    extended_nominal = add_months(base, rules.NOT_INFORMED_EXTENSION_MONTHS)
    ext_steps: list[str] = [
        _(
            "No record that the customer was informed of the right of withdrawal: the right ends %(months)s "
            "months after the 14-day period, on %(day)s (upk art. 29 ust. 1, kc art. 112)."
        )
        % {"months": rules.NOT_INFORMED_EXTENSION_MONTHS, "day": day(extended_nominal)}
    ]
    extended = move_off_day(extended_nominal, ext_steps)
    if informed_on is not None and informed_on <= extended:
        steps.append(
            _(
                "The customer was informed of the right late, on %(day)s: the period is 14 days from "
                "then (upk art. 29 ust. 2)."
            )
            % {"day": day(informed_on)}
        )
        late = add_days(
            informed_on, rules.INFORMED_LATE_DAYS, steps, event=_("Informed"), law="upk art. 29 ust. 2"
        )
        end = move_off_day(late, steps)
        return Deadline(
            Kind.WITHDRAWAL,
            delivered_on,
            _final(end, steps),
            steps,
            extra={"informed": True, "informed_on": informed_on},
        )
    steps.extend(ext_steps)
    return Deadline(Kind.WITHDRAWAL, delivered_on, _final(extended, steps), steps, extra={"informed": False})


# --- refund ----------------------------------------------------------------------------------------------


@memoised
def refund_deadline(statement_received_on: dt.date) -> Deadline:
    """Refund due within 14 days of receiving the withdrawal statement (upk art. 32); warning at day 10."""
    steps: list[str] = []
    nominal = add_days(
        statement_received_on,
        rules.REFUND_DAYS,
        steps,
        event=_("Withdrawal statement received"),
        law="upk art. 32 ust. 1",
    )
    end = move_off_day(nominal, steps)
    warn = statement_received_on + dt.timedelta(days=rules.REFUND_WARNING_DAY)
    steps.append(
        _(
            "The refund may be held until the goods are back or proof of sending them arrives, whichever "
            "comes first (upk art. 32 ust. 3)."
        )
    )
    return Deadline(Kind.REFUND, statement_received_on, _final(end, steps), steps, warn_on=min(warn, end))


# --- complaints ------------------------------------------------------------------------------------------


@memoised
def complaint_response_deadline(received_on: dt.date, *, customer_type: str = "consumer") -> Deadline:
    """Reply to a complaint: 14 days from receipt for consumers, else deemed accepted (upk art. 7a); a
    business complaint has no statutory deadline and no deemed acceptance (a house target instead)."""
    steps: list[str] = []
    warn = received_on + dt.timedelta(days=rules.COMPLAINT_ESCALATION_DAY)
    if rules.has_consumer_rights(customer_type):
        nominal = add_days(
            received_on,
            rules.COMPLAINT_RESPONSE_DAYS,
            steps,
            event=_("Complaint received"),
            law="upk art. 7a",
        )
        end = move_off_day(nominal, steps)
        steps.append(
            _("No reply sent by the end of that day: the complaint is deemed accepted (upk art. 7a).")
        )
        return Deadline(
            Kind.COMPLAINT,
            received_on,
            _final(end, steps),
            steps,
            warn_on=min(warn, end),
            deemed_accepted_after=True,
            extra={"consumer_rights": True},
        )
    steps.append(
        _(
            "Business customer: the seller's warranty of the Civil Code applies (kc art. 556 ff.); there is "
            "no statutory reply deadline and no deemed acceptance."
        )
    )
    nominal = add_days(
        received_on,
        rules.B2B_RESPONSE_TARGET_DAYS,
        steps,
        event=_("Complaint received"),
        law=_("house target"),
    )
    end = move_off_day(nominal, steps)
    return Deadline(
        Kind.COMPLAINT,
        received_on,
        _final(end, steps),
        steps,
        warn_on=min(warn, end),
        deemed_accepted_after=False,
        extra={"consumer_rights": False},
    )


@memoised
def complaint_liability(
    delivered_on: dt.date, *, customer_type: str = "consumer", contract_months: int | None = None
) -> Deadline:
    """The last day a non-conformity may appear for the seller to be liable: 2 years from delivery for
    consumers (upk art. 43b-43c); for businesses 2 years unless the contract shortened it (kc art. 568)."""
    steps: list[str] = []
    consumer = rules.has_consumer_rights(customer_type)
    if consumer or contract_months is None:
        years = rules.CONSUMER_LIABILITY_YEARS if consumer else rules.B2B_LIABILITY_YEARS
        law = "upk art. 43b-43c" if consumer else "kc art. 568 §1"
        end = add_months(delivered_on, 12 * years)
        steps.append(
            _(
                "Delivered on %(day)s; liability for a non-conformity that appears within %(years)s years "
                "(%(law)s) ends on %(end)s (kc art. 112)."
            )
            % {"day": day(delivered_on), "years": years, "law": law, "end": day(end)}
        )
    else:
        end = add_months(delivered_on, contract_months)
        steps.append(
            _(
                "Delivered on %(day)s; the contract limits the seller's warranty to %(months)s months "
                "(kc art. 558 §1), ending on %(end)s."
            )
            % {"day": day(delivered_on), "months": contract_months, "end": day(end)}
        )
    if not consumer:
        steps.append(
            _(
                "A business buyer must inspect the goods and notify a defect promptly, or loses the warranty "
                "(kc art. 563)."
            )
        )
    if rules.LIABILITY_END_MOVES:
        end = move_off_day(end, steps)
    return Deadline(
        Kind.LIABILITY, delivered_on, _final(end, steps), steps, extra={"consumer_rights": consumer}
    )


def compute(
    kind: str,
    start: dt.date,
    *,
    not_informed: bool = False,
    informed_on: dt.date | None = None,
    customer_type: str = "consumer",
    contract_months: int | None = None,
) -> Deadline:
    """One door for the CLI and API: `kind` is one of Kind.ALL."""
    if kind == Kind.WITHDRAWAL:
        return withdrawal_deadline(start, informed=not not_informed, informed_on=informed_on)
    if kind == Kind.REFUND:
        return refund_deadline(start)
    if kind == Kind.COMPLAINT:
        return complaint_response_deadline(start, customer_type=customer_type)
    if kind == Kind.LIABILITY:
        return complaint_liability(start, customer_type=customer_type, contract_months=contract_months)
    raise ValueError(f"Unknown deadline kind {kind!r}; choose one of {', '.join(Kind.ALL)}")
