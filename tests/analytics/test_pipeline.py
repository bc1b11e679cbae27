"""The ingestion pipeline's named steps: enrich or drop with a reason."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from zaplecze.analytics import classify, pipeline

from .conftest import CHROME_UA, IPHONE_UA

NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)


def run(raw, ua=CHROME_UA, ip="203.0.113.5", now=NOW):
    return pipeline.run(raw, ip=ip, user_agent=ua, now=now)


def test_pageview_is_enriched_with_source_device_and_visitor(site):
    ev = run(
        {
            "event": "pageview",
            "url": "https://shop.example/kubki?utm_source=newsletter&utm_medium=email&utm_campaign=black-friday",
            "referrer": "https://mail.google.com/",
        }
    )
    assert ev["site"] == "shop.example"
    assert ev["path"] == "/kubki"
    assert (ev["utm_source"], ev["utm_medium"], ev["utm_campaign"]) == ("newsletter", "email", "black-friday")
    assert (ev["source"], ev["source_name"]) == ("email", "newsletter")
    assert (ev["device"], ev["browser"], ev["os"]) == ("desktop", "Chrome", "Windows")
    assert isinstance(ev["visitor"], int)
    assert "203.0.113.5" not in repr(ev)  # no IP stored


@pytest.mark.parametrize(
    ("referrer", "url", "expected"),
    [
        ("https://www.google.pl/", "https://shop.example/", ("search", "Google")),
        ("https://l.facebook.com/x", "https://shop.example/", ("social", "Facebook")),
        ("", "https://shop.example/", ("direct", "Direct")),
        ("https://shop.example/other", "https://shop.example/", ("direct", "Direct")),
        ("https://allegro.pl/oferta/1", "https://shop.example/", ("marketplace", "Allegro")),
        ("https://www.google.com/", "https://shop.example/?gclid=abc", ("paid", "Google")),
        ("", "https://shop.example/?utm_source=fb&utm_medium=cpc", ("paid", "fb")),
        ("https://blog.example.org/post", "https://shop.example/", ("other", "blog.example.org")),
    ],
)
def test_referrer_and_utm_give_the_source_type(site, referrer, url, expected):
    ev = run({"url": url, "referrer": referrer})
    assert (ev["source"], ev["source_name"]) == expected


def test_mobile_device_from_user_agent(site):
    ev = run({"url": "https://shop.example/"}, ua=IPHONE_UA)
    assert (ev["device"], ev["browser"], ev["os"]) == ("mobile", "Mobile Safari", "iOS")


def test_visitor_id_is_stable_within_a_day_and_rotates_daily(site):
    a = run({"url": "https://shop.example/a"})["visitor"]
    b = run({"url": "https://shop.example/b"})["visitor"]
    other_ip = run({"url": "https://shop.example/a"}, ip="203.0.113.6")["visitor"]
    tomorrow = run({"url": "https://shop.example/a"}, now=NOW + dt.timedelta(days=1))["visitor"]
    assert a == b
    assert a != other_ip
    assert a != tomorrow


@pytest.mark.parametrize(
    ("ua", "reason"),
    [
        ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "bot"),
        ("curl/8.4.0", "bot"),
        ("", "bot"),
        (
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0",
            "bot",
        ),
    ],
)
def test_bots_are_dropped_silently(site, ua, reason):
    with pytest.raises(pipeline.Drop) as exc:
        run({"url": "https://shop.example/"}, ua=ua)
    assert (exc.value.step, exc.value.reason, exc.value.status) == ("bots", reason, 202)


@pytest.mark.parametrize(
    ("raw", "step", "reason"),
    [
        ([], "validate", "not_an_object"),
        ({"url": 5}, "validate", "invalid_url"),
        ({}, "validate", "missing_url"),
        ({"url": "https://shop.example/", "event": "hack"}, "validate", "invalid_event"),
        ({"url": "https://shop.example/", "event": "purchase", "value": 10}, "validate", "missing_order"),
        (
            {"url": "https://shop.example/", "event": "purchase", "order": "1", "value": "abc"},
            "validate",
            "invalid_value",
        ),
        (
            {"url": "https://shop.example/", "event": "purchase", "order": "1", "value": True},
            "validate",
            "invalid_value",
        ),
        (
            {"url": "https://shop.example/", "event": "purchase", "order": "1", "value": -1},
            "validate",
            "invalid_value",
        ),
        ({"url": "https://shop.example/", "currency": "zloty"}, "validate", "invalid_currency"),
        ({"url": "https://shop.example/", "id": "x"}, "validate", "invalid_id"),
        ({"url": "https://shop.example/", "props": [1]}, "validate", "invalid_props"),
        ({"url": "https://shop.example/", "event": "custom"}, "validate", "missing_name"),
        ({"url": "https://x" * 1000}, "validate", "invalid_url"),
        ({"url": "https://unknown.example/"}, "site", "unknown_site"),
    ],
)
def test_bad_events_are_dropped_with_a_reason(site, raw, step, reason):
    with pytest.raises(pipeline.Drop) as exc:
        run(raw)
    assert (exc.value.step, exc.value.reason, exc.value.status) == (step, reason, 400)


def test_purchase_keeps_order_number_and_value(site):
    ev = run(
        {
            "url": "https://shop.example/dziekujemy",
            "event": "purchase",
            "order": "#1001",
            "value": "123.456",
            "currency": "pln",
        }
    )
    assert (ev["event"], ev["order_number"], ev["value"], ev["currency"]) == (
        "purchase",
        "1001",
        Decimal("123.46"),
        "PLN",
    )


def test_site_by_public_token_and_www(site):
    assert run({"url": "https://www.shop.example/"})["site"] == "shop.example"
    assert run({"url": "https://elsewhere/", "site": site.public_token})["site"] == "shop.example"


def test_static_assets_are_recognised():
    assert classify.is_static("/style.css") and classify.is_static("/img/a.PNG")
    assert not classify.is_static("/produkt/kubek") and not classify.is_static("/blog/2015/05/post.html")
