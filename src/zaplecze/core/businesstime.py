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
