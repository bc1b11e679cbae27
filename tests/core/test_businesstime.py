import datetime as dt

from zaplecze.core.businesstime import add_business_days, is_business_day, ship_by


def test_polish_holidays_including_christmas_eve_from_2025_are_not_business_days():
    assert not is_business_day(dt.date(2025, 12, 24))
    assert not is_business_day(dt.date(2026, 11, 11))  # Independence Day
    assert not is_business_day(dt.date(2026, 11, 28))  # Saturday
    assert is_business_day(dt.date(2026, 11, 27))


def test_add_business_days_skips_weekends_and_holidays():
    assert add_business_days(dt.date(2025, 12, 23), 1) == dt.date(2025, 12, 29)
    assert add_business_days(dt.date(2026, 11, 27), 1) == dt.date(2026, 11, 30)


def test_ship_by_is_end_of_nth_business_day_in_warsaw():
    placed = dt.datetime(2026, 11, 27, 15, 0, tzinfo=dt.UTC)  # Friday 16:00 Warsaw
    assert ship_by(placed, 24) == dt.datetime(2026, 11, 30, 15, 0, tzinfo=dt.UTC)  # Monday 16:00 CET
    assert ship_by(placed, 48) == dt.datetime(2026, 12, 1, 15, 0, tzinfo=dt.UTC)
