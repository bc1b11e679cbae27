import datetime as dt
from decimal import Decimal

from django.utils import translation

from zaplecze.core.formatting import format_date, format_datetime, format_money

NBSP = "\xa0"


def test_money_is_formatted_per_locale():
    with translation.override("pl"):
        assert (
            format_money(Decimal("1234.56"), "PLN").replace(NBSP, " ").replace("\u202f", " ") == "1 234,56 zł"
        )
        assert format_money(Decimal("1234.56"), "PLN") == f"1{NBSP}234,56{NBSP}zł"
    with translation.override("en"):
        assert format_money(Decimal("1234.56"), "PLN") == "PLN1,234.56"
        assert format_money(Decimal("1234.56"), "EUR") == "€1,234.56"


def test_dates_are_shown_in_warsaw_time_per_locale():
    moment = dt.datetime(2026, 7, 1, 22, 30, tzinfo=dt.UTC)  # 00:30 next day in Warsaw (CEST)
    with translation.override("pl"):
        assert format_date(moment) == "2 lip 2026"
        assert format_datetime(moment) == "2.07.2026, 00:30"
    with translation.override("en"):
        assert format_date(moment) == "2 Jul 2026"


def test_empty_values_format_as_empty_string():
    assert format_money(None) == ""
    assert format_datetime(None) == ""
