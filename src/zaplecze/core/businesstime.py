"""Working days and deadlines in the shop's time zone (Europe/Warsaw), with Polish public holidays.

The parameters (time zone, working hours, holiday calendar) live here and only here."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays
from django.conf import settings

WORKDAY_END = dt.time(16, 0)


def tz() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


@lru_cache(maxsize=64)
def _holidays(year: int) -> holidays.HolidayBase:
    return holidays.country_holidays("PL", years=year)


def is_holiday(day: dt.date) -> bool:
    return day in _holidays(day.year)


def is_business_day(day: dt.date) -> bool:
    return day.weekday() < 5 and not is_holiday(day)


def add_business_days(day: dt.date, n: int) -> dt.date:
    """The n-th business day after `day` (n >= 1); n == 0 gives `day` itself if it is one, else the next."""
    current = day
    if n == 0:
        while not is_business_day(current):
            current += dt.timedelta(days=1)
        return current
    count = 0
    while count < n:
        current += dt.timedelta(days=1)
        if is_business_day(current):
            count += 1
    return current


def ship_by(placed_at: dt.datetime, within_hours: int) -> dt.datetime:
    """Dispatch deadline: the end of the working day (16:00 local) of the N-th business day after
    the order was placed, N = ceil(hours / 24), at least 1. Returned in UTC."""
    days = max(1, -(-within_hours // 24))
    local_day = placed_at.astimezone(tz()).date()
    deadline_day = add_business_days(local_day, days)
    return dt.datetime.combine(deadline_day, WORKDAY_END, tzinfo=tz()).astimezone(dt.UTC)


def ship_by_promise(
    accepted_at: dt.datetime,
    *,
    handling_days: int,
    cutoff: dt.time | None = None,
    deadline: dt.time | None = None,
) -> dt.datetime:
    """Dispatch deadline of a delivery promise such as "ships within 1 working day; paid by 14:00 ships the
    same day". Returned in UTC.

    The acceptance day is the local (Europe/Warsaw) day of `accepted_at` (usually the payment time) when it
    is a business day and the time is at or before `cutoff` (no cut-off: any time of the day counts);
    otherwise the next business day. The ship-by day is the `handling_days`-th business day counting the
    acceptance day as the first (0 is read as 1: the same day). The deadline time on that day is `deadline`,
    by default the end of the working day (16:00), but never earlier than the cut-off.

    Paid Fri 19.12.2025 15:00, cut-off 14:00, 1 day -> Mon 22.12.2025; paid Tue 23.12.2025 15:00 ->
    Mon 29.12.2025 (24-26.12 are holidays, 27-28 a weekend)."""
    local = accepted_at.astimezone(tz())
    day = local.date()
    if not is_business_day(day) or (cutoff is not None and local.time().replace(tzinfo=None) > cutoff):
        day = add_business_days(day, 1)
    ship_day = add_business_days(day, max(1, handling_days) - 1)
    end = deadline or WORKDAY_END
    if cutoff is not None and cutoff > end:
        end = cutoff
    return dt.datetime.combine(ship_day, end, tzinfo=tz()).astimezone(dt.UTC)


@lru_cache(maxsize=64)
def _holiday_names(year: int, language: str) -> holidays.HolidayBase:
    return holidays.country_holidays("PL", years=year, language=language)


def holiday_name(day: dt.date, language: str = "en_US") -> str | None:
    """The public holiday's name on `day` ("pl" or "en_US"), or None."""
    if not is_holiday(day):
        return None
    return _holiday_names(day.year, language).get(day)


def first_business_day_from(day: dt.date) -> dt.date:
    """`day` itself when it is a business day, else the next one (neither Saturday, Sunday nor a holiday)."""
    return add_business_days(day, 0)


def local_today() -> dt.date:
    """Today in the shop's time zone (deadlines are calendar days in Europe/Warsaw)."""
    from django.utils import timezone

    return timezone.now().astimezone(tz()).date()


def local_date(value: dt.datetime) -> dt.date:
    return value.astimezone(tz()).date()


# --- business hours (helpdesk SLA timers) -------------------------------------------------------------

#: The shop's working hours on business days, local time.
WORKDAY_START = dt.time(8, 0)


def _day_window(day: dt.date) -> tuple[dt.datetime, dt.datetime] | None:
    if not is_business_day(day):
        return None
    zone = tz()
    return dt.datetime.combine(day, WORKDAY_START, tzinfo=zone), dt.datetime.combine(
        day, WORKDAY_END, tzinfo=zone
    )


def business_seconds_between(start: dt.datetime, end: dt.datetime) -> int:
    """Working seconds (business days, WORKDAY_START-WORKDAY_END local) from `start` to `end` (0 if end <= start)."""
    if end <= start:
        return 0
    zone = tz()
    a, b = start.astimezone(zone), end.astimezone(zone)
    total = 0.0
    day = a.date()
    while day <= b.date():
        window = _day_window(day)
        if window is not None:
            lo, hi = max(window[0], a), min(window[1], b)
            if hi > lo:
                total += (hi - lo).total_seconds()
        day += dt.timedelta(days=1)
    return int(total)


def add_business_seconds(start: dt.datetime, seconds: int) -> dt.datetime:
    """The moment `seconds` working seconds after `start` (in UTC)."""
    zone = tz()
    current = start.astimezone(zone)
    remaining = max(0, seconds)
    day = current.date()
    for _ in range(3660):  # ten years of days at most
        window = _day_window(day)
        if window is not None:
            lo = max(window[0], current)
            if lo < window[1]:
                available = (window[1] - lo).total_seconds()
                if remaining <= available:
                    return (lo + dt.timedelta(seconds=remaining)).astimezone(dt.UTC)
                remaining -= available
        day += dt.timedelta(days=1)
        current = dt.datetime.combine(day, dt.time(0, 0), tzinfo=zone)
    raise ValueError("business time out of range")
