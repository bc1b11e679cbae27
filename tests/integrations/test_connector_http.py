"""The shared HTTP client and the WooCommerce connector against the fake API: pagination, retries,
rate limits, auth failures, malformed bodies, status mapping."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest

from zaplecze.integrations.connectors.base import AuthFailed, ConnectorError, HttpClient
from zaplecze.integrations.connectors.woocommerce import STATUS_MAP, WooCommerce, map_status

from .fake_woo import KEY, SECRET, TEMPLATE, woo_order


def _woo(fake, key=KEY, secret=SECRET):
    return WooCommerce(
        base_url=fake.url, credentials={"consumer_key": key, "consumer_secret": secret}, channel="shop"
    )


def test_pages_follow_x_wp_totalpages_and_ask_oldest_first(fake_woo, waits):
    fake_woo.orders = [woo_order(i) for i in range(1, 251)]
    pages = list(_woo(fake_woo).orders_since(""))

    assert [p.page for p in pages] == [1, 2, 3]
    assert [len(p.items) for p in pages] == [100, 100, 50]
    assert pages[0].total == 250 and pages[0].total_pages == 3
    assert [m.external_id for p in pages for m in p.items] == [str(1000 + i) for i in range(1, 251)]
    query = fake_woo.calls("/orders")[0]
    assert query["orderby"] == "date" and query["order"] == "asc" and query["dates_are_gmt"] == "true"
    assert "modified_after" not in query
    # the cursor records the page reached mid-run and the newest modification when done
    assert pages[0].cursor == "#2#2026-11-20T09:40:06+00:00"
    assert pages[-1].cursor == "2026-11-20T12:10:06+00:00"


def test_resume_from_a_mid_run_cursor_starts_at_that_page(fake_woo, waits):
    fake_woo.orders = [woo_order(i) for i in range(1, 251)]
    pages = list(_woo(fake_woo).orders_since("2026-11-20T07:00:00+00:00#3#2026-11-20T09:00:00+00:00"))

    assert [p.page for p in pages] == [3]
    assert fake_woo.calls("/orders")[0]["modified_after"] == "2026-11-20T07:00:00"


def test_an_idle_cursor_reads_again_a_minute_back(fake_woo, waits):
    fake_woo.orders = [woo_order(1), woo_order(2)]
    pages = list(_woo(fake_woo).orders_since("2026-11-20T08:02:06+00:00"))

    assert fake_woo.calls("/orders")[0]["modified_after"] == "2026-11-20T08:01:06"
    assert [m.external_id for m in pages[0].items] == ["1002"]


def test_5xx_twice_then_success_is_retried_with_backoff(fake_woo, waits):
    fake_woo.orders = [woo_order(1)]
    fake_woo.script("/orders", 502, "<html>Bad gateway</html>")
    fake_woo.script("/orders", 503, "")

    pages = list(_woo(fake_woo).orders_since(""))

    assert len(pages[0].items) == 1
    assert len(waits) == 2 and all(0 < w <= 1.0 for w in waits)
    assert len(fake_woo.calls("/orders")) == 3


def test_429_waits_for_retry_after(fake_woo, waits):
    fake_woo.orders = [woo_order(1)]
    fake_woo.script("/orders", 429, '{"code":"rate_limited"}', {"Retry-After": "7"})

    pages = list(_woo(fake_woo).orders_since(""))

    assert waits == [7.0]
    assert len(pages[0].items) == 1


def test_a_platform_down_gives_up_after_the_retries(fake_woo, waits):
    for _ in range(5):
        fake_woo.script("/orders", 500, "")
    with pytest.raises(ConnectorError, match="gave up after 5 attempts"):
        list(_woo(fake_woo).orders_since(""))
    assert len(waits) == 4


def test_401_is_an_auth_failure_at_once_without_retries(fake_woo, waits):
    with pytest.raises(AuthFailed) as info:
        _woo(fake_woo, secret="cs_wrong").test()
    assert info.value.status == 401
    assert waits == []
    assert SECRET not in str(info.value) and "cs_wrong" not in str(info.value)


def test_a_connection_refused_is_retried_then_reported(waits):
    client = HttpClient("http://127.0.0.1:9", retries=2)
    with pytest.raises(ConnectorError, match="gave up after 3 attempts"):
        client.get("orders")
    assert len(waits) == 2


def test_a_malformed_page_is_read_again_then_kept_as_an_error(fake_woo, waits):
    fake_woo.orders = [woo_order(1)]
    fake_woo.script("/orders", 200, '[{"id": 1001, "status": "proc')
    pages = list(_woo(fake_woo).orders_since(""))
    assert len(pages[0].items) == 1 and pages[0].errors == []

    fake_woo.script("/orders", 200, "<html>PHP Fatal error</html>")
    fake_woo.script("/orders", 200, "<html>PHP Fatal error</html>")
    pages = list(_woo(fake_woo).orders_since(""))
    assert pages[0].items == []
    assert "not JSON" in pages[0].errors[0].message
    assert pages[0].errors[0].payload == "<html>PHP Fatal error</html>"


def test_a_bad_record_is_kept_with_its_payload_and_the_page_goes_on(fake_woo, waits):
    bad = woo_order(2)
    bad["line_items"][0]["quantity"] = "many"
    fake_woo.orders = [woo_order(1), bad, woo_order(3)]
    page = next(_woo(fake_woo).orders_since(""))

    assert [m.external_id for m in page.items] == ["1001", "1003"]
    assert page.errors[0].external_id == "1002"
    assert json.loads(page.errors[0].payload)["line_items"][0]["quantity"] == "many"


def test_the_docs_example_order_maps_to_order_in():
    mapped = WooCommerce(base_url="https://shop.example", credentials={}, channel="shop").map_order(TEMPLATE)
    order = mapped.order

    assert mapped.external_id == "727" and mapped.platform_status == "processing" and mapped.stage == "ready"
    assert mapped.modified_at == dt.datetime(2017, 3, 22, 19, 28, 8, tzinfo=dt.UTC)
    assert order.placed_at == dt.datetime(2017, 3, 22, 19, 28, 2, tzinfo=dt.UTC)
    assert order.currency == "USD" and order.payment_method == "transfer"
    assert order.paid_at == dt.datetime(2017, 3, 22, 19, 28, 8, tzinfo=dt.UTC)
    assert order.customer_name == "John Doe" and order.email == "john.doe@example.com"
    assert [(ln.sku, ln.quantity, ln.unit_price_gross) for ln in order.lines] == [
        ("WC-93", 2, Decimal("3.23")),  # no SKU in the shop: product id; (6.00 + 0.45) / 2
        ("Bar3", 1, Decimal("12.90")),
    ]
    assert order.lines[1].name == "Ship Your Idea – Color: Black, Size: M Test"
    assert order.lines[1].vat_rate == "8"  # 0.90 on 12.00 = 7.5 %: the nearest Polish rate
    assert order.shipping_cost == Decimal("10.00") and order.total_gross == Decimal("29.35")
    assert order.shipping_address.street == "969 Market"


@pytest.mark.parametrize(
    ("status", "current", "stage"),
    [
        ("pending", None, "awaiting_payment"),
        ("on-hold", None, "awaiting_payment"),
        ("processing", None, "ready"),
        ("completed", None, "completed"),
        ("cancelled", None, "cancelled"),
        ("failed", None, "awaiting_payment"),
        ("trash", None, "cancelled"),
        ("refunded", "ready", "cancelled"),
        ("refunded", "shipped", "returned"),
        ("checkout-draft", None, None),
    ],
)
def test_status_mapping(status, current, stage):
    assert map_status(status, current) == stage


def test_every_documented_status_is_mapped_and_an_unknown_one_needs_attention():
    documented = {"pending", "processing", "on-hold", "completed", "cancelled", "refunded", "failed", "trash"}
    assert documented | {"checkout-draft"} == set(STATUS_MAP)
    mapped = WooCommerce(base_url="https://shop.example", credentials={}, channel="shop").map_order(
        dict(TEMPLATE, status="wc-shipped-partially")
    )
    assert mapped.stage is None and mapped.order is not None
    assert [n.code for n in mapped.attention] == ["unknown_channel_status"]


def test_plain_http_to_a_remote_shop_is_refused():
    with pytest.raises(ConnectorError, match="https"):
        WooCommerce(base_url="http://shop.example", credentials={}, channel="shop")


def test_push_status_tracking_stock_and_price(fake_woo, waits):
    fake_woo.orders = [woo_order(1)]
    fake_woo.products = [
        {"id": 93, "parent_id": 0, "sku": "MUG-1", "name": "Mug", "type": "simple", "price": "10"},
        {"id": 23, "parent_id": 22, "sku": "TEE-M", "name": "Tee M", "type": "variation", "price": "12"},
    ]
    woo = _woo(fake_woo)

    assert woo.push_status(external_id="1001", stage="shipped") == "completed"
    woo.push_tracking(external_id="1001", carrier="InPost", tracking_number="6800000000000")
    assert woo.push_stock(sku="TEE-M", quantity=7) is True
    assert woo.push_price(sku="MUG-1", regular="19.99", sale="14.99") is True
    assert woo.push_stock(sku="NOPE", quantity=1) is False

    assert fake_woo.bodies == [
        ("PUT", "/wp-json/wc/v3/orders/1001", {"status": "completed"}),
        (
            "POST",
            "/wp-json/wc/v3/orders/1001/notes",
            {"note": "Shipped with InPost: 6800000000000", "customer_note": True},
        ),
        ("PUT", "/wp-json/wc/v3/products/22/variations/23", {"manage_stock": True, "stock_quantity": 7}),
        ("PUT", "/wp-json/wc/v3/products/93", {"regular_price": "19.99", "sale_price": "14.99"}),
    ]
    assert [(o.sku, o.external_id) for o in woo.offers()] == [("MUG-1", "93"), ("TEE-M", "23")]
