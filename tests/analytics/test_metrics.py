"""Named metric functions over DuckDB: exact values on a small hand-built day of traffic."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from zaplecze.analytics import metrics, warehouse

DAY = dt.date(2026, 11, 20)


def at(hh: int, mm: int) -> dt.datetime:
    # 10:00 Warsaw = 09:00 UTC (CET)
    return dt.datetime(2026, 11, 20, hh - 1, mm, tzinfo=dt.UTC)


def ev(
    n,
    visitor,
    hh,
    mm,
    event="pageview",
    path="/",
    source="direct",
    name="Direct",
    device="desktop",
    order="",
    **kw,
):
    return {
        "event_id": f"e{n}",
        "ts": at(hh, mm),
        "site": "shop.example",
        "event": event,
        "visitor": visitor,
        "path": path,
        "source": source,
        "source_name": name,
        "device": device,
        "browser": "Chrome",
        "os": "Windows",
        "order_number": order,
        "origin": "collector",
        "is_bot": False,
        "is_static": False,
        "utm_campaign": kw.get("campaign", ""),
    }


TRAFFIC = [
    # visitor 1 from Google: the full funnel, buys order 1001; comes back 55 minutes later (a new visit)
    ev(1, 1, 10, 0, source="search", name="Google"),
    ev(2, 1, 10, 1, "product_view", "/p/kubek", source="search", name="Google"),
    ev(3, 1, 10, 2, "add_to_cart", "/p/kubek", source="search", name="Google"),
    ev(4, 1, 10, 3, "begin_checkout", "/koszyk", source="search", name="Google"),
    ev(5, 1, 10, 5, "purchase", "/dziekujemy", source="search", name="Google", order="1001"),
    ev(6, 1, 11, 0),
    # visitor 2 from Facebook on a phone: two pages in ten minutes, views a product
    ev(7, 2, 10, 0, source="social", name="Facebook", device="mobile", campaign="jesien"),
    ev(8, 2, 10, 10, path="/kubki", source="direct", device="mobile"),
    ev(9, 2, 10, 11, "product_view", "/p/kubek", device="mobile"),
    # visitor 3: one page, a bounce
    ev(10, 3, 12, 0),
    # visitor 4 from a newsletter buys order 1002, which is then cancelled
    ev(11, 4, 13, 0, "product_view", "/p/talerz", source="email", name="newsletter"),
    ev(12, 4, 13, 1, "add_to_cart", "/p/talerz", source="email", name="newsletter"),
    ev(13, 4, 13, 2, "begin_checkout", "/koszyk", source="email", name="newsletter"),
    ev(14, 4, 13, 3, "purchase", "/dziekujemy", source="email", name="newsletter", order="1002"),
    # visitor 5 from search reports a purchase of an order the shop does not know
    ev(15, 5, 14, 0, "purchase", "/dziekujemy", source="search", name="Bing", order="9999"),
]


@pytest.fixture
def traffic(ingest, product_factory):
    from zaplecze.orders.models import Order
    from zaplecze.orders.services import order_transition

    product_factory(sku="SKU-0001", stock=100)
    ingest(external_id="1001", number="#1001")
    second = ingest(external_id="1002", number="#1002").order
    order_transition(order_id=second.pk, status_code="cancelled", actor=None)
    warehouse.write_events(TRAFFIC, name="test")
    warehouse.orders_export()
    return {o.number: o for o in Order.objects.all()}


def workspace(**filters):
    return metrics.Workspace(metrics.Query("shop.example", DAY, DAY, filters))


def cards(ws):
    return {c.key: c.value for c in metrics.summary(ws)}


def test_summary_counts_visits_bounces_and_real_orders(traffic):
    order_total = traffic["#1001"].total_gross
    with workspace() as ws:
        got = cards(ws)
    assert got == {
        "visitors": 5,
        "visits": 6,
        "pageviews": 5,
        "views_per_visit": 0.83,
        "bounce_rate": 0.5,
        "visit_duration": round((300 + 660 + 180) / 6, 1),
        "orders": 1,
        "conversion_rate": round(1 / 6, 4),
        "revenue": order_total,
        "unmatched_purchases": 1,
    }


def test_previous_period_is_alongside(traffic):
    with workspace() as ws:
        s = {c.key: c for c in metrics.summary(ws)}
    assert s["visitors"].previous == 0 and s["visitors"].change is None
    assert ws.q.previous() == metrics.Query(
        "shop.example", DAY - dt.timedelta(days=1), DAY - dt.timedelta(days=1)
    )


def test_funnel_counts_visits_in_order_with_drop_off(traffic):
    with workspace() as ws:
        steps = metrics.funnel(ws)
    assert [(s["step"], s["visits"], s["drop_off"]) for s in steps] == [
        ("product_view", 3, None),
        ("add_to_cart", 2, 1),
        ("begin_checkout", 2, 0),
        ("purchase", 2, 0),
    ]
    assert steps[1]["from_previous"] == round(2 / 3, 4)


def test_revenue_by_source_is_net_of_cancelled_orders(traffic):
    with workspace() as ws:
        rows = {r["value"]: r for r in metrics.revenue_by_source(ws)}
    assert rows["search"]["visits"] == 2 and rows["search"]["orders"] == 1
    assert rows["search"]["revenue"] == traffic["#1001"].total_gross
    assert rows["email"]["orders"] == 0 and rows["email"]["cancelled_or_refunded"] == 1
    assert rows["email"]["revenue"] == Decimal("0.00")
    assert rows["direct"]["visits"] == 2 and rows["social"]["visits"] == 1


def test_source_is_the_visits_first_event(traffic):
    with workspace() as ws:
        rows = metrics.breakdown(ws, "source")
    assert [(r["value"], r["visitors"], r["visits"]) for r in rows] == [
        ("direct", 2, 2),
        ("search", 2, 2),
        ("email", 1, 1),
        ("social", 1, 1),
    ]


def test_top_pages_entry_and_exit_pages(traffic):
    with workspace() as ws:
        pages = metrics.breakdown(ws, "page")
        entry = metrics.breakdown(ws, "entry_page")
        exits = metrics.breakdown(ws, "exit_page")
    assert [(r["value"], r["visitors"], r["pageviews"]) for r in pages] == [("/", 3, 4), ("/kubki", 1, 1)]
    assert entry[0]["value"] == "/" and entry[0]["visits"] == 4
    assert ("/kubki", 1) in [(r["value"], r["visits"]) for r in exits]


def test_filter_by_source_filters_every_panel(traffic):
    with workspace(source="social") as ws:
        got = cards(ws)
        devices = metrics.breakdown(ws, "device")
        campaigns = metrics.breakdown(ws, "utm_campaign")
    assert (got["visitors"], got["visits"], got["pageviews"], got["orders"]) == (1, 1, 2, 0)
    assert [(r["value"], r["visits"]) for r in devices] == [("mobile", 1)]
    assert [r["value"] for r in campaigns] == ["jesien"]


def test_filter_by_page_keeps_visits_that_saw_it(traffic):
    with workspace(page="/kubki") as ws:
        assert cards(ws)["visits"] == 1


def test_timeseries_has_every_day(traffic):
    q = metrics.Query("shop.example", DAY - dt.timedelta(days=1), DAY)
    with metrics.Workspace(q) as ws:
        rows = metrics.timeseries(ws)
    assert rows == [
        {"day": DAY - dt.timedelta(days=1), "visitors": 0, "visits": 0, "pageviews": 0},
        {"day": DAY, "visitors": 5, "visits": 6, "pageviews": 5},
    ]


def test_realtime_includes_the_spool(site, client):
    import json

    from .conftest import CHROME_UA

    client.post(
        "/collect",
        json.dumps({"url": "https://shop.example/teraz"}),
        content_type="text/plain",
        HTTP_USER_AGENT=CHROME_UA,
    )
    got = metrics.realtime(site="shop.example")
    assert got == {"visitors": 1, "pageviews": 1, "top_pages": [{"path": "/teraz", "pageviews": 1}]}
    warehouse.flush()
    assert metrics.realtime(site="shop.example") == got  # flushed: still counted once


def test_bad_queries_are_refused():
    with pytest.raises(metrics.QueryError, match="date_to"):
        metrics.Query("s", DAY, DAY - dt.timedelta(days=1))
    with pytest.raises(metrics.QueryError, match="filter 'country'"):
        metrics.Query("s", DAY, DAY, {"country": "PL"})


def test_an_empty_store_gives_zeros(db):
    with workspace() as ws:
        got = cards(ws)
        assert metrics.breakdown(ws, "source") == []
    assert (got["visitors"], got["visits"], got["pageviews"], got["orders"]) == (0, 0, 0, 0)


def test_demo_traffic_converts_at_about_two_percent_and_names_real_orders(ingest, product_factory):
    from django.utils import timezone

    from zaplecze.analytics.demo import demo_traffic_generate

    product_factory(sku="SKU-0001", stock=1000)
    now = timezone.now()
    for k in range(20):
        ingest(
            external_id=f"d{k}",
            number=f"#D{k}",
            placed_at=(now - dt.timedelta(days=k % 10, hours=1)).isoformat(),
        )
    assert demo_traffic_generate(domain="demo.example", days=30) > 1000
    today = timezone.localdate()
    q = metrics.Query("demo.example", today - dt.timedelta(days=30), today)
    with metrics.Workspace(q) as ws:
        got = {c.key: c.value for c in metrics.summary(ws)}
    assert got["orders"] == 20 and got["unmatched_purchases"] == 0
    assert 0.01 <= got["conversion_rate"] <= 0.03


def test_the_dashboard_exports_changed_orders_at_most_once_a_minute(traffic):
    import os
    import time

    from zaplecze.orders.models import Order

    state = warehouse.orders_dir() / "state.json"
    Order.objects.filter(number="#1001").update(payment_status="refunded", updated_at=timezone_now())
    assert warehouse.orders_export(min_interval=60) == 0  # exported a moment ago
    old = time.time() - 120
    os.utime(state, (old, old))
    assert warehouse.orders_export(min_interval=60) >= 1
    with workspace() as ws:
        assert cards(ws)["orders"] == 0  # the refund counts now


def timezone_now():
    from django.utils import timezone

    return timezone.now()
