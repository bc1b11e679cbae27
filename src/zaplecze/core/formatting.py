"""Money, numbers and dates formatted for the active language (Babel)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

from babel import dates as babel_dates
from babel import numbers as babel_numbers
from django.conf import settings
from django.utils import translation

_LOCALES = {"pl": "pl_PL", "en": "en_GB"}


def current_locale() -> str:
    return _LOCALES.get((translation.get_language() or settings.LANGUAGE_CODE)[:2], "pl_PL")


def format_money(
    amount: Decimal | int | float | str | None, currency: str | None = None, locale: str | None = None
) -> str:
    if amount is None or amount == "":
        return ""
    return babel_numbers.format_currency(
        Decimal(str(amount)), currency or settings.DEFAULT_CURRENCY, locale=locale or current_locale()
    )


def format_number(value, locale: str | None = None, decimals: int | None = None) -> str:
    if value is None:
        return ""
    if decimals is not None:
        fmt = "#,##0" + ("." + "0" * decimals if decimals else "")
        return babel_numbers.format_decimal(value, format=fmt, locale=locale or current_locale())
    return babel_numbers.format_decimal(value, locale=locale or current_locale())


def format_percent(value, locale: str | None = None) -> str:
    if value is None:
        return ""
    return babel_numbers.format_percent(value, format="#,##0.0 %", locale=locale or current_locale())


def local(value: dt.datetime) -> dt.datetime:
    return value.astimezone(ZoneInfo(settings.TIME_ZONE))


def format_datetime(value: dt.datetime | None, locale: str | None = None, fmt: str = "short") -> str:
    if value is None:
        return ""
    return babel_dates.format_datetime(local(value), format=fmt, locale=locale or current_locale())


def format_date(value: dt.date | dt.datetime | None, locale: str | None = None, fmt: str = "medium") -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        value = local(value).date()
    return babel_dates.format_date(value, format=fmt, locale=locale or current_locale())
