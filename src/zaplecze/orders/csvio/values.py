"""Parsing of single CSV cell values: numbers with a decimal comma, quantities, dates in several formats.

Every parser raises `ValueProblem` with a message meant for the person who edits the file."""

from __future__ import annotations

import datetime as dt
import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from django.utils.translation import gettext as _

CENT = Decimal("0.01")
_SPACES = str.maketrans("", "", " \u00a0\u202f\u2009'")
_NUMBER = re.compile(r"[+-]?\d+(?:\.\d+)?")
_CURRENCY = re.compile(
    r"^(?:zł|zl|pln|eur|usd|gbp|czk|€|\$|£)|(?:zł|zl|pln|eur|usd|gbp|czk|€|\$|£)$", re.IGNORECASE
)
# "2024-01-05 10:11:12 -0500" (Shopify) and other ISO-like values with a space before the offset.
_SPACED_OFFSET = re.compile(
    r"^(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)\s+(Z|UTC|GMT|[+-]\d{2}:?\d{2})$", re.IGNORECASE
)
_PL_DATE = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})(?:[ T,]+(\d{1,2}):(\d{2})(?::(\d{2}))?)?$")


class ValueProblem(ValueError):
    """A cell value that cannot be understood; the message names the value and what was expected."""


def parse_decimal(raw: str) -> Decimal | None:
    """ "1 234,56", "1234.56", "1,234.56", "1.234,56", "12,5 zł" -> Decimal; "" -> None.

    A lone comma is a decimal comma (Polish convention): "1,234" is 1.234."""
    s = (raw or "").strip()
    if not s:
        return None
    s = _CURRENCY.sub("", s.translate(_SPACES)).strip()
    if "," in s and "." in s:
        s = s.replace(".", "").replace(",", ".") if s.rfind(",") > s.rfind(".") else s.replace(",", "")
    elif "," in s:
        s = s.replace(",", ".") if s.count(",") == 1 else s.replace(",", "")
    elif s.count(".") > 1:
        s = s.replace(".", "")
    if not _NUMBER.fullmatch(s):
        raise ValueProblem(_("%(value)r is not a number") % {"value": raw.strip()})
    try:
        return Decimal(s)
    except InvalidOperation:  # pragma: no cover - the regular expression admits only valid input
        raise ValueProblem(_("%(value)r is not a number") % {"value": raw.strip()})


def parse_money(raw: str) -> Decimal | None:
    value = parse_decimal(raw)
    if value is None:
        return None
    if value < 0:
        raise ValueProblem(_("%(value)r is negative; amounts must be 0 or more") % {"value": raw.strip()})
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def parse_quantity(raw: str) -> int:
    value = parse_decimal(raw)
    if value is None:
        raise ValueProblem(_("the quantity is empty"))
    if value != value.to_integral_value():
        raise ValueProblem(_("%(value)r is not a whole number") % {"value": raw.strip()})
    if value <= 0:
        raise ValueProblem(_("the quantity must be greater than 0 (got %(value)s)") % {"value": raw.strip()})
    if value > 100_000:
        raise ValueProblem(_("the quantity %(value)s is larger than 100000") % {"value": raw.strip()})
    return int(value)


def parse_datetime(raw: str, tz: ZoneInfo) -> dt.datetime | None:
    """ISO 8601 with or without an offset, Shopify's "2024-01-05 10:11:12 -0500", "DD.MM.YYYY HH:MM[:SS]",
    a bare date. Values without an offset are local time in `tz` (Europe/Warsaw by default)."""
    s = (raw or "").strip()
    if not s:
        return None
    value: dt.datetime | None = None
    m = _SPACED_OFFSET.match(s)
    if m:
        offset = m.group(2).upper()
        s = m.group(1) + ("+00:00" if offset in {"Z", "UTC", "GMT"} else offset)
    m = _PL_DATE.match(s)
    try:
        if m:
            day, month, year, hour, minute, second = m.groups()
            parts = [int(x or 0) for x in (year, month, day, hour, minute, second)]
            value = dt.datetime(*parts)  # noqa: DTZ001 - made aware below
        else:
            value = dt.datetime.fromisoformat(s)
    except ValueError:
        raise ValueProblem(
            _(
                "%(value)r is not a date and time; use e.g. 2026-05-01T10:00:00+02:00, "
                "2026-05-01 10:00:00 or 01.05.2026 10:00"
            )
            % {"value": raw.strip()}
        )
    if value.tzinfo is None:
        value = value.replace(tzinfo=tz)
    return value
