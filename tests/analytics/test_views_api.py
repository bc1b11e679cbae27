"""The traffic dashboard, CSV export, sites page and the API."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.test import Client

from zaplecze.analytics import warehouse
from zaplecze.core.services import token_create

from .conftest import CHROME_UA, IPHONE_UA


def send(client, url, referrer="", ua=CHROME_UA, ip="203.0.113.1", **extra):
    body = {"url": url, "referrer": referrer, **extra}
    resp = client.post(
        "/collect", json.dumps(body), content_type="text/plain", HTTP_USER_AGENT=ua, REMOTE_ADDR=ip
    )
    assert resp.status_code == 202, resp.content


@pytest.fixture
def visits(site):
    c = Client()
    send(c, "https://shop.example/", "https://www.google.com/", ip="203.0.113.1")
    send(c, "https://shop.example/kubki", "https://shop.example/", ip="203.0.113.1")
    send(c, "https://shop.example/", "https://www.facebook.com/", ua=IPHONE_UA, ip="203.0.113.2")
    send(c, "https://shop.example/p/kubek", ua=IPHONE_UA, ip="203.0.113.2", event="add_to_cart", sku="KUB-1")
    warehouse.flush()
    return site


def test_dashboard_shows_cards_panels_and_charts(admin_client, visits):
    resp = admin_client.get("/analytics/")
    assert resp.status_code == 200
    html = resp.content.decode()
    assert 'data-card="visitors"' in html and "chart-timeseries" in html and "chart-funnel" in html
    cards = {c["key"]: c["value"] for c in resp.context["data"]["cards"]}
    assert (cards["visitors"], cards["visits"], cards["pageviews"]) == (2, 2, 3)
    sources = {r["value"]: r["visits"] for r in resp.context["data"]["breakdowns"]["source"]}
    assert sources == {"search": 1, "social": 1}


def test_clicking_a_source_filters_the_whole_page(admin_client, visits):
    resp = admin_client.get("/analytics/")
    link = next(
        r["url"]
        for p in resp.context["panels"]
        if p["key"] == "source"
        for r in p["rows"]
        if r["value"] == "social"
    )
    filtered = admin_client.get("/analytics/" + link)
    cards = {c["key"]: c["value"] for c in filtered.context["data"]["cards"]}
    assert (cards["visitors"], cards["pageviews"]) == (1, 1)
    assert [r["value"] for r in filtered.context["data"]["breakdowns"]["device"]] == ["mobile"]
    assert "data-filters" in filtered.content.decode()


def test_csv_export_of_a_table(admin_client, visits):
    resp = admin_client.get("/analytics/export.csv", {"table": "page", "period": "7d"})
    assert resp.status_code == 200 and resp["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(resp.content.decode())))
    assert rows[0] == ["value", "visitors", "visits", "pageviews"]
    assert rows[1] == ["/", "2", "2", "2"]
    assert admin_client.get("/analytics/export.csv", {"table": "nope"}).status_code == 404


def test_bad_period_is_a_400_with_the_form(admin_client, visits):
    resp = admin_client.get("/analytics/", {"date_from": "2026-11-20", "date_to": "2026-11-01"})
    assert resp.status_code == 400
    assert "The end is before the start." in resp.content.decode()


def test_empty_state_explains_the_snippet(admin_client, db):
    resp = admin_client.get("/analytics/")
    assert resp.status_code == 200
    assert "z.js" in resp.content.decode()


def test_sites_page_adds_a_site_and_validates(admin_client, db):
    resp = admin_client.post("/analytics/sites/", {"domain": "not a domain", "name": ""})
    assert resp.status_code == 400
    resp = admin_client.post(
        "/analytics/sites/",
        {
            "domain": "https://www.Sklep.example/",
            "name": "Sklep",
            "allowed_origins": "https://m.sklep.example",
        },
    )
    assert resp.status_code == 302
    from zaplecze.analytics.models import Site

    site = Site.objects.get()
    assert (site.domain, site.allowed_origins) == ("sklep.example", "https://m.sklep.example")


def test_readonly_user_sees_but_cannot_manage(client, make_user, visits):
    client.force_login(make_user("readonly"))
    assert client.get("/analytics/").status_code == 200
    assert client.post("/analytics/sites/", {"domain": "x.example"}).status_code == 403


def test_api_dashboard_sites_and_validation(make_user, visits):
    api = Client(HTTP_AUTHORIZATION=f"Bearer {token_create(user=make_user('admin'))}")
    import datetime as dt

    today = (
        dt.datetime.now(dt.UTC)
        .astimezone(__import__("zoneinfo").ZoneInfo("Europe/Warsaw"))
        .date()
        .isoformat()
    )
    resp = api.get(
        "/api/v1/analytics/dashboard",
        {"site": "shop.example", "date_from": today, "date_to": today, "source": "search"},
    )
    assert resp.status_code == 200, resp.content
    cards = {c["key"]: c["value"] for c in resp.json()["cards"]}
    assert (cards["visitors"], cards["pageviews"]) == (1, 2)
    bad = api.get(
        "/api/v1/analytics/dashboard", {"site": "shop.example", "date_from": today, "date_to": "2000-01-01"}
    )
    assert bad.status_code == 400 and bad.json()["code"] == "invalid"
    sites = api.get("/api/v1/analytics/sites").json()
    assert sites[0]["domain"] == "shop.example" and "z.js" in sites[0]["snippet"]
    created = api.post("/api/v1/analytics/sites", {"domain": "b.example"}, content_type="application/json")
    assert created.status_code == 201
    dup = api.post("/api/v1/analytics/sites", {"domain": "b.example"}, content_type="application/json")
    assert dup.status_code == 400 and dup.json()["field"] == "domain"
    assert api.get("/api/v1/analytics/realtime", {"site": "shop.example"}).json()["visitors"] == 2


def test_api_flush_moves_the_spool_into_the_store_and_can_run_the_nightly_pass(make_user, site):
    api = Client(HTTP_AUTHORIZATION=f"Bearer {token_create(user=make_user('admin'))}")
    send(Client(), "https://shop.example/", "https://www.google.com/")
    first = api.post("/api/v1/analytics/flush", {}, content_type="application/json")
    assert first.status_code == 200, first.content
    assert sum(first.json().values()) >= 1 and "compacted" not in first.json()
    again = api.post("/api/v1/analytics/flush", {"maintain": True}, content_type="application/json")
    assert again.status_code == 200 and "compacted" in again.json()
    bad = api.post("/api/v1/analytics/flush", {"maintain": True, "x": 1}, content_type="application/json")
    assert bad.status_code == 422
