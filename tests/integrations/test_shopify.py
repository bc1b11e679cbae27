"""The Shopify connector against the fake Admin API: Link-header pagination, status mapping, webhooks with
X-Shopify-Hmac-Sha256 and X-Shopify-Webhook-Id, fulfillment with tracking."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pytest
from django.urls import reverse

from zaplecze.integrations import services
from zaplecze.integrations.connectors.base import AuthFailed
from zaplecze.integrations.connectors.shopify import Shopify, map_status
from zaplecze.integrations.models import Connection, WebhookDelivery
from zaplecze.orders.models import Order

from .fake_shopify import TEMPLATE, TOKEN, FakeShopify, shopify_order

SAMPLE = json.loads(Path("/work/shared/samples/shopify/webhook-orders-create.request.json").read_text())


@pytest.fixture
def fake_shopify():
    server = FakeShopify().start()
    yield server
    server.stop()


@pytest.fixture
def shop_connection(db, fake_shopify, waits):
    return services.connection_create(
        channel_code="other",
        platform="shopify",
        base_url=fake_shopify.url,
        credentials={"access_token": TOKEN, "webhook_secret": SAMPLE["secret"]},
        actor=None,
    )


def _shopify(fake, token=TOKEN):
    return Shopify(base_url=fake.url, credentials={"access_token": token}, channel="other")


def test_pages_follow_the_link_header_with_page_info_only(fake_shopify, waits):
    fake_shopify.orders = [shopify_order(i) for i in range(1, 601)]
    pages = list(_shopify(fake_shopify).orders_since("2026-11-20T08:00:00+00:00"))

    assert [len(p.items) for p in pages] == [250, 250, 100]
    assert [m.external_id for p in pages for m in p.items] == [str(5000 + i) for i in range(1, 601)]
    first, second = fake_shopify.calls("orders.json")[:2]
    assert first["updated_at_min"] == "2026-11-20T07:59:00+00:00" and first["order"] == "updated_at asc"
    assert first["status"] == "any" and set(second) == {"limit", "page_info"}
    assert pages[0].cursor == "2026-11-20T12:10:06+00:00"  # newest updated_at committed so far


def test_the_sample_order_maps(waits):
    mapped = Shopify(base_url="https://x.myshopify.com", credentials={}, channel="other").map_order(TEMPLATE)
    order = mapped.order
    assert mapped.platform_status == "partially_refunded/unfulfilled" and mapped.stage == "ready"
    assert order.number == "#1001" and order.payment_status == "partially_refunded"
    assert order.placed_at == dt.datetime(2008, 1, 10, 16, 0, tzinfo=dt.UTC)
    assert [ln.sku for ln in order.lines] == ["IPOD2008GREEN", "IPOD2008RED", "IPOD2008BLACK"]
    assert order.lines[0].unit_price_gross == Decimal("202.98")  # 199.00 + 3.98 tax (taxes not included)
    assert order.total_gross == Decimal("598.94") and order.discount == Decimal("10.00")
    assert order.shipping_address.postcode == "40202" and order.shipping_address.country == "US"


@pytest.mark.parametrize(
    ("financial", "fulfilment", "cancelled", "stage"),
    [
        ("pending", None, False, "awaiting_payment"),
        ("partially_paid", None, False, "awaiting_payment"),
        ("authorized", None, False, "ready"),
        ("paid", None, False, "ready"),
        ("paid", "partial", False, "in_fulfilment"),
        ("paid", "fulfilled", False, "shipped"),
        ("paid", None, True, "cancelled"),
        ("refunded", None, False, "cancelled"),
        ("refunded", "fulfilled", False, "returned"),
        ("voided", None, False, "cancelled"),
    ],
)
def test_status_mapping(financial, fulfilment, cancelled, stage):
    assert map_status(financial, fulfilment, cancelled) == stage


def test_an_unknown_status_needs_attention():
    mapped = Shopify(base_url="https://x.myshopify.com", credentials={}, channel="other").map_order(
        dict(TEMPLATE, financial_status="expired")
    )
    assert mapped.stage is None and mapped.attention[0].code == "unknown_channel_status"


def test_401_and_429(fake_shopify, waits):
    with pytest.raises(AuthFailed):
        _shopify(fake_shopify, token="shpat_wrong").test()
    fake_shopify.script(
        "orders/count",
        429,
        '{"errors":"Exceeded 2 calls per second for api client."}',
        {"Retry-After": "2.0"},
    )
    # Shopify sends Retry-After as seconds with a decimal
    assert _shopify(fake_shopify).test() == "Shopify: 0 orders"
    assert waits == [2.0]


def test_import_through_the_engine(fake_shopify, shop_connection):
    fake_shopify.orders = [shopify_order(1), shopify_order(2, financial="pending")]
    run = services.connection_sync(connection_id=shop_connection.pk)
    assert (run.outcome, run.created) == ("ok", 2)
    assert dict(Order.objects.values_list("number", "stage")) == {
        "#5001": "ready",
        "#5002": "awaiting_payment",
    }
    assert Connection.objects.get(pk=shop_connection.pk).cursor == "2026-11-20T08:02:06+00:00"


def test_the_sample_webhook_is_verified_and_replays_deduplicated(
    client, shop_connection, django_capture_on_commit_callbacks
):
    url = reverse("hooks:receive", args=["shopify", shop_connection.webhook_token])
    headers = {
        f"HTTP_{k.upper().replace('-', '_')}": v for k, v in SAMPLE["headers"].items() if k != "Content-Type"
    }
    with django_capture_on_commit_callbacks(execute=True):
        codes = [
            client.post(
                url, data=SAMPLE["body"].encode(), content_type="application/json", **headers
            ).status_code
            for _ in range(3)
        ]
    assert codes == [202, 200, 200]
    delivery = WebhookDelivery.objects.get()
    assert delivery.delivery_id == "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043" and delivery.state == "processed"
    assert Order.objects.filter(channel__code="other").count() == 1

    tampered = SAMPLE["body"].replace("598.94", "1.00").encode()
    with django_capture_on_commit_callbacks(execute=True):
        bad = client.post(url, data=tampered, content_type="application/json", **headers)
    assert bad.status_code == 401 and WebhookDelivery.objects.count() == 1


def test_tracking_creates_a_fulfillment_for_the_open_fulfillment_orders(fake_shopify, shop_connection):
    fake_shopify.orders = [shopify_order(1)]
    services.connection_sync(connection_id=shop_connection.pk)
    order = Order.objects.get(external_id="5001")
    fake_shopify.fulfillment_orders["5001"] = [
        {"id": 1046000805, "status": "open"},
        {"id": 9, "status": "closed"},
    ]

    assert services.order_push_tracking(
        order_id=order.pk, carrier="InPost", tracking_number="MS1562678", url="https://inpost.pl/?n=MS1562678"
    )

    assert fake_shopify.bodies[-1] == (
        "POST",
        "/admin/api/2024-10/fulfillments.json",
        {
            "fulfillment": {
                "line_items_by_fulfillment_order": [{"fulfillment_order_id": 1046000805}],
                "notify_customer": True,
                "tracking_info": {
                    "number": "MS1562678",
                    "company": "InPost",
                    "url": "https://inpost.pl/?n=MS1562678",
                },
            }
        },
    )
