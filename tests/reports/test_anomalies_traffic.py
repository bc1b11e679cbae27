"""Traffic and conversion anomalies: the same weekday baseline as orders and revenue, read from the analytics
metrics; conversion has the day's sampling error as a floor; alert in the UI and an e-mail."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from zaplecze.reports.anomalies import check_day, describe, evaluate_rate, traffic_verdicts
from zaplecze.reports.models import Anomaly
from zaplecze.service.models import OutboxEmail

pytestmark = pytest.mark.django_db
DAY = dt.date(2026, 11, 23)  # a Monday
WAW = dt.timezone(dt.timedelta(hours=1))
MONDAYS = [DAY - dt.timedelta(weeks=w) for w in range(1, 9)]


@pytest.fixture
def store(settings, tmp_path):
    from zaplecze.analytics import pipeline, spool
    from zaplecze.analytics.services import site_create

    settings.DATA_DIR = tmp_path
    pipeline.sites_forget()
    spool.close()
    site_create(domain="shop.example", name="Shop", actor=None)
    yield tmp_path
    spool.close()
    pipeline.sites_forget()


@pytest.fixture
def organiser(make_user):
    user = make_user("organiser", "ola")
    user.email, user.language = "ola@example.com", "en"
    user.save()
    return user


def visits(day: dt.date, n: int, *, first: int, orders: list[str] = ()) -> list[dict]:
    """`n` one-page visits on `day` (visitor ids from `first`); the first len(orders) of them buy."""
    out = []
    for i in range(n):
        when = dt.datetime.combine(day, dt.time(8 + i % 12, i % 60), tzinfo=WAW).astimezone(dt.UTC)
        base = {
            "site": "shop.example", "visitor": first + i, "path": "/", "source": "direct", "source_name": "",
            "device": "desktop", "browser": "Chrome", "os": "Linux", "origin": "collector", "is_bot": False,
            "is_static": False,
        }  # fmt: skip
        out.append(base | {"event_id": f"{day}-{i}", "ts": when, "event": "pageview", "order_number": ""})
        if i < len(orders):
            out.append(
                base
                | {
                    "event_id": f"{day}-{i}-buy",
                    "ts": when + dt.timedelta(minutes=1),
                    "event": "purchase",
                    "order_number": orders[i],
                }
            )
    return out


def write(records: list[dict]) -> None:
    from zaplecze.analytics import warehouse

    warehouse.write_events(records, name="test")


def test_a_drop_in_visitors_is_an_alert_and_an_email(store, organiser):
    records = []
    for w, monday in enumerate(MONDAYS):
        records += visits(monday, 20 + w % 3, first=1000 * w)  # 20-22 visitors every Monday
        records += visits(monday - dt.timedelta(days=1), 2, first=1000 * w + 500)  # quiet Sundays
    records += visits(DAY, 3, first=99_000)
    write(records)
    found = check_day(DAY)
    assert {a.metric for a in found} == {"visitors", "visits"}
    a = Anomaly.objects.get(metric="visitors")
    assert (a.value, a.expected, a.direction) == (3, 21, "down")
    assert "Visitors on 2026-11-23: 3, well below the 21 expected" in describe(a)
    mail = OutboxEmail.objects.get(kind="anomaly_alert")
    assert mail.to == "ola@example.com" and "Unusual traffic on 2026-11-23" in mail.subject
    assert check_day(DAY) == []  # once per metric and day


def test_the_baseline_is_the_same_weekday_so_a_usual_monday_is_not_an_alert(store):
    records = []
    for w, monday in enumerate(MONDAYS):
        records += visits(monday, 20, first=1000 * w)
        records += visits(monday - dt.timedelta(days=1), 2, first=1000 * w + 500)
    records += visits(DAY - dt.timedelta(days=1), 2, first=98_000)  # Sunday before: quiet as always
    records += visits(DAY, 21, first=99_000)
    write(records)
    verdicts = traffic_verdicts(DAY)
    assert verdicts["visitors"]["anomaly"] is False and verdicts["visitors"]["expected"] == 20
    assert traffic_verdicts(DAY - dt.timedelta(days=1))["visitors"]["anomaly"] is False


def test_a_conversion_spike_is_an_alert_with_the_rate_in_percent(
    store, ingest, product_factory, organiser, admin_client
):
    product_factory(sku="SKU-0001", stock=1000)
    n = 0
    records = []

    def buy(day: dt.date, k: int) -> list[str]:
        nonlocal n
        numbers = []
        for _ in range(k):
            n += 1
            placed = dt.datetime.combine(day, dt.time(9), tzinfo=WAW)
            ingest(external_id=str(n), number=f"#{n}", placed_at=placed.isoformat())
            numbers.append(str(n))
        return numbers

    for w, monday in enumerate(MONDAYS):
        records += visits(monday, 100, first=1000 * w, orders=buy(monday, 1))  # 1 % converts
    records += visits(DAY, 100, first=99_000, orders=buy(DAY, 20))  # 20 %
    write(records)
    found = check_day(DAY)
    conv = Anomaly.objects.get(metric="conversion_rate")
    assert conv in found and (conv.value, conv.expected, conv.direction) == (20, 1, "up")
    assert "Conversion rate (%) on 2026-11-23: 20 %, well above the 1 % expected" in describe(conv)
    assert "Unusual sales and traffic on 2026-11-23" in OutboxEmail.objects.get(kind="anomaly_alert").subject
    page = admin_client.get(reverse("reports:alerts")).content.decode()
    assert "well above the 1 % expected" in page
    assert {a.metric for a in found} >= {"conversion_rate", "orders"}


def test_a_conversion_dip_within_sampling_error_is_not_an_alert():
    rates = {d: 10.0 for d in MONDAYS}
    visits_ = {d: 40 for d in MONDAYS}
    # 0 of 40 when 10 % convert: unlikely, but 40 visits cannot tell (binomial error 4.7 points)
    quiet = evaluate_rate(rates | {DAY: 0.0}, visits_ | {DAY: 40}, DAY)
    assert quiet["anomaly"] is False and quiet["sampling_error"] == pytest.approx(4.7434, abs=1e-3)
    # the same drop on 2,000 visits is far outside the range
    loud = evaluate_rate(rates | {DAY: 5.0}, visits_ | {DAY: 2000}, DAY)
    assert loud["anomaly"] is True and loud["score"] < -3.5
    # too few visits on the day: no verdict at all
    assert evaluate_rate(rates | {DAY: 0.0}, visits_ | {DAY: 5}, DAY) is None


def test_no_analytics_site_means_no_traffic_check(ingest, product_factory):
    assert traffic_verdicts(DAY) == {}
    assert check_day(DAY) == []
