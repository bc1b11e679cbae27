"""Dashboard: figures with change vs the previous period, drill-down links, channel split, chart spec."""

from __future__ import annotations

import datetime as dt
import json
import re
from urllib.parse import parse_qs, urlparse

from django.utils import timezone

from zaplecze.core.businesstime import tz
from zaplecze.web import charts


def ago(days: float) -> str:
    return (timezone.now() - dt.timedelta(days=days)).isoformat()


def figure(html: str, name: str) -> str:
    return re.search(
        rf'data-figure="{name}"><div class="kpi-label">[^<]*</div><div class="kpi-value">([^<]+)<', html
    ).group(1)


def test_dashboard_needs_login(client, db):
    response = client.get("/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_dashboard_figures_and_links(admin_client, ingest, product_factory):
    product_factory(sku="SKU-0001", stock=100)
    now = timezone.now()
    ingest(external_id="t1", placed_at=now.isoformat())  # today, ready, 112.97
    ingest(external_id="t2", channel="allegro", placed_at=now.isoformat(), stage="shipped")
    ingest(external_id="w1", placed_at=ago(3))  # this week, ready -> waiting to ship, late
    ingest(external_id="p1", placed_at=ago(10))  # the previous 7 days
    ingest(external_id="c1", placed_at=now.isoformat(), stage="cancelled")  # never counted in sales
    response = admin_client.get("/dashboard/")
    assert response.status_code == 200
    html = response.content.decode()
    today = now.astimezone(tz()).date()
    week = html[html.index('data-period="7"') : html.index('data-period="30"')]
    assert "PLN338.91" in week  # 3 orders x 112.97 in the last 7 days
    assert '<span class="kpi-num">3</span> orders' in week
    assert "▲ 200.0 %" in week  # 3 orders against 1 in the 7 days before
    period_link = re.search(r'<a class="kpi-value" href="([^"]+)"', week).group(1).replace("&amp;", "&")
    params = parse_qs(urlparse(period_link).query)
    assert params["date_from"] == [(today - dt.timedelta(days=6)).isoformat()]
    assert params["date_to"] == [today.isoformat()]
    assert "cancelled" not in params["stage"][0].split(",")
    # The linked queue shows exactly the orders the figure counts.
    queue = admin_client.get(period_link).content.decode()
    assert sorted(re.findall(r'<a class="strong" href="/orders/\d+/">([^<]+)</a>', queue)) == ["#1001"] * 3
    assert figure(html, "waiting") == "3"
    assert figure(html, "late") == "2"  # the 3- and 10-day-old ready orders
    assert 'href="/orders/?late=1&amp;sort=ship_by" data-figure="late"' in html


def test_channel_split_with_waiting_and_late(admin_client, ingest, product_factory):
    product_factory(sku="SKU-0001", stock=100)
    ingest(external_id="a", channel="allegro", placed_at=ago(0))
    ingest(external_id="b", channel="allegro", placed_at=ago(4))
    ingest(external_id="c", channel="shop", placed_at=ago(1), stage="delivered")
    html = admin_client.get("/dashboard/").content.decode()
    row = re.search(r'<tr data-channel="allegro">(.*?)</tr>', html, re.S).group(1)
    cells = re.findall(r'<td class="num">(.*?)</td>', row, re.S)
    assert ">2</a>" in cells[0]  # orders, 30 days
    assert cells[1] == "PLN225.94"
    assert "66.7 %" in cells[2]  # share of revenue
    assert ">2</a>" in cells[4] and "stage=ready%2Cin_fulfilment" in cells[4]  # waiting, linked
    assert ">1</a>" in cells[5] and "late=1" in cells[5]


def test_dashboard_chart_spec_has_the_daily_data(admin_client, ingest):
    ingest(external_id="a", placed_at=ago(0))
    html = admin_client.get("/dashboard/").content.decode()
    spec = json.loads(
        re.search(r'<script id="chart-daily" type="application/json">(.*?)</script>', html, re.S).group(1)
    )
    assert spec["$schema"].startswith("https://vega.github.io/schema/vega-lite/")
    values = spec["data"]["values"]
    assert [(v["channel"], v["revenue"], v["orders"]) for v in values] == [("Sklep internetowy", 112.97, 1)]
    assert 'data-vega-spec="chart-daily"' in html
    assert "/static/zaplecze/gen/vega-bundle.js" in html


def test_daily_chart_spans_the_whole_period_in_utc_days():
    daily = [
        {"day": dt.date(2026, 11, 3), "channel__name": "Allegro", "revenue": 10, "orders": 1},
        {"day": dt.date(2026, 11, 3), "channel__name": "Sklep", "revenue": 5, "orders": 2},
    ]
    spec = charts.daily_revenue_chart(daily, start=dt.date(2026, 11, 1), end=dt.date(2026, 11, 30))
    x = spec["encoding"]["x"]
    assert x["timeUnit"] == "utcyearmonthdate"
    assert x["scale"] == {"type": "utc", "domain": ["2026-11-01T00:00:00Z", "2026-12-01T00:00:00Z"]}
    assert spec["encoding"]["color"]["scale"]["domain"] == ["Allegro", "Sklep"]
    assert spec["data"]["values"][0] == {
        "day": "2026-11-03",
        "channel": "Allegro",
        "revenue": 10.0,
        "orders": 1,
    }


def test_empty_dashboard(admin_client, db):
    html = admin_client.get("/dashboard/").content.decode()
    assert "No orders yet." in html
    assert figure(html, "late") == "0"


def test_home_is_today_and_the_dashboard_is_one_click_away(admin_client):
    response = admin_client.get("/")
    assert response.status_code == 302 and response["Location"] == "/today/"
    assert 'data-area="dashboard"' in admin_client.get("/today/").content.decode()
