"""The public collector: script, POST /collect, pixel; bad input is a 4xx, never a 5xx."""

from __future__ import annotations

import json

import pytest

from zaplecze.analytics import warehouse

from .conftest import CHROME_UA


def post(client, body, ua=CHROME_UA, **extra):
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return client.post("/collect", data=data, content_type="text/plain", HTTP_USER_AGENT=ua, **extra)


def stored(con=None):
    warehouse.flush()
    con = warehouse.connect()
    return con.sql("SELECT event, path, source, order_number FROM events ORDER BY ts, path").fetchall()


def test_script_is_served_small_without_cookies(client, db):
    resp = client.get("/z.js")
    assert resp.status_code == 200
    assert resp["Content-Type"].startswith("application/javascript")
    body = resp.content.decode()
    assert len(resp.content) < 4096
    assert "http://testserver/collect" in body
    assert "document.cookie" not in body and "localStorage" not in body and "sessionStorage" not in body
    assert not resp.cookies


def test_collect_stores_a_pageview_and_answers_202(client, site):
    resp = post(client, {"url": "https://shop.example/kubki", "referrer": "https://www.google.com/"})
    assert resp.status_code == 202
    assert resp.json() == {"accepted": 1}
    assert not resp.cookies
    assert stored() == [("pageview", "/kubki", "search", "")]


def test_collect_accepts_a_batch_of_ecommerce_events(client, site):
    events = [
        {"event": "product_view", "url": "https://shop.example/p/kubek", "sku": "KUB-1"},
        {"event": "add_to_cart", "url": "https://shop.example/p/kubek", "sku": "KUB-1"},
        {"event": "begin_checkout", "url": "https://shop.example/koszyk"},
        {"event": "purchase", "url": "https://shop.example/dziekujemy", "order": "#1001", "value": 99.5},
        {"event": "custom", "name": "newsletter_signup", "url": "https://shop.example/"},
    ]
    assert post(client, events).json() == {"accepted": 5}
    rows = stored()
    assert sorted(r[0] for r in rows) == [
        "add_to_cart",
        "begin_checkout",
        "custom",
        "product_view",
        "purchase",
    ]
    assert [r[3] for r in rows if r[0] == "purchase"] == ["1001"]


def test_cors_answers_only_configured_origins(client, site):
    ok = client.options("/collect", HTTP_ORIGIN="https://www.shop.example")
    assert ok.status_code == 204 and ok["Access-Control-Allow-Origin"] == "https://www.shop.example"
    other = client.options("/collect", HTTP_ORIGIN="https://evil.example")
    assert other.status_code == 204 and "Access-Control-Allow-Origin" not in other


def test_pixel_records_a_pageview(client, site):
    resp = client.get(
        "/collect.gif",
        {"site": "shop.example", "url": "https://shop.example/bez-js", "ref": ""},
        HTTP_USER_AGENT=CHROME_UA,
    )
    assert resp.status_code == 202 and resp["Content-Type"] == "image/gif"
    assert stored() == [("pageview", "/bez-js", "direct", "")]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"{not json", 400, "bad_json"),
        (b"\xff\xfe\x00garbage", 400, "bad_json"),
        (b"[]", 400, "bad_batch"),
        (json.dumps([{"url": "https://shop.example/"}] * 21), 400, "bad_batch"),
        (json.dumps({"url": 12}), 400, "invalid"),
        (json.dumps({"url": "https://nope.example/"}), 400, "invalid"),
        (json.dumps("a string"), 400, "invalid"),
        (json.dumps({"url": "https://shop.example/", "value": {"a": 1}}), 400, "invalid"),
    ],
)
def test_bad_input_is_a_4xx_with_a_reason(client, site, body, status, code):
    resp = post(client, body)
    assert resp.status_code == status
    assert resp.json()["code"] == code
    assert stored() == []


def test_oversized_body_is_413(client, site, settings):
    settings.ANALYTICS_MAX_BODY = 1000
    resp = post(client, {"url": "https://shop.example/", "props": {f"k{i}": "a" * 150 for i in range(10)}})
    assert resp.status_code == 413
    assert stored() == []


def test_flood_from_one_ip_is_rate_limited(client, site, settings):
    settings.ANALYTICS_RATE_LIMIT = 5
    codes = [post(client, {"url": "https://shop.example/"}).status_code for _ in range(8)]
    assert codes == [202] * 5 + [429] * 3
    other = post(client, {"url": "https://shop.example/"}, REMOTE_ADDR="198.51.100.9")
    assert other.status_code == 202
    assert len(stored()) == 6


def test_bots_get_202_but_are_not_stored_and_are_counted(client, site):
    resp = post(client, {"url": "https://shop.example/"}, ua="Mozilla/5.0 (compatible; bingbot/2.0)")
    assert resp.status_code == 202 and resp.json() == {"accepted": 0}
    post(client, {"url": "https://nope.example/"})
    assert stored() == []
    drops = (
        warehouse.connect()
        .sql("SELECT step, reason, sum(count)::INT FROM drops GROUP BY ALL ORDER BY 1")
        .fetchall()
    )
    assert drops == [("bots", "bot", 1), ("site", "unknown_site", 1)]


def test_wrong_method_is_405(client, db):
    assert client.get("/collect").status_code == 405
