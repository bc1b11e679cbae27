"""The webhook receiver: signature on the raw body before any write, deduplication by delivery id,
processing by the worker, out-of-order deliveries, and the ping."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
from pathlib import Path

import pytest
from django.urls import reverse

from zaplecze.integrations.models import Connection, ExternalOrder, SyncError, WebhookDelivery
from zaplecze.orders.models import Order, OrderEvent

from .conftest import WEBHOOK_SECRET
from .fake_woo import woo_order

SAMPLE = json.loads(Path("/work/shared/samples/woocommerce/webhook-order-updated.request.json").read_text())
PING = json.loads(Path("/work/shared/samples/woocommerce/webhook-ping.request.json").read_text())


def _url(conn):
    return reverse("hooks:receive", args=["woocommerce", conn.webhook_token])


def _headers(headers: dict) -> dict:
    return {
        f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items() if k.lower() != "content-type"
    }


def _post(client, conn, body: bytes, headers: dict, content_type="application/json"):
    return client.post(_url(conn), data=body, content_type=content_type, **_headers(headers))


def _signed(body: bytes, delivery: str, topic="order.updated") -> dict:
    sig = base64.b64encode(hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).digest()).decode()
    return {"X-WC-Webhook-Signature": sig, "X-WC-Webhook-Delivery-ID": delivery, "X-WC-Webhook-Topic": topic}


def _counts():
    return (
        WebhookDelivery.objects.count(),
        Order.objects.count(),
        SyncError.objects.count(),
        ExternalOrder.objects.count(),
        OrderEvent.objects.count(),
    )


def test_the_sample_delivery_is_verified_stored_and_processed(
    client, woo_connection, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(client, woo_connection, SAMPLE["body"].encode(), SAMPLE["headers"])

    assert response.status_code == 202 and response.json() == {"outcome": "accepted"}
    delivery = WebhookDelivery.objects.get()
    assert delivery.delivery_id == "8d5e0b4f2a9c4b1e9f0a7e6d5c4b3a21" and delivery.topic == "order.updated"
    assert delivery.state == "processed" and bytes(delivery.body) == SAMPLE["body"].encode()
    order = Order.objects.get(external_id="727")
    assert order.channel.code == "shop" and order.total_gross == order.total_gross.__class__("29.35")


@pytest.mark.parametrize(
    "tamper",
    ["body", "signature", "missing", "other_secret"],
)
def test_a_tampered_delivery_is_401_and_writes_no_rows(
    client, woo_connection, tamper, django_capture_on_commit_callbacks
):
    body, headers = SAMPLE["body"].encode(), dict(SAMPLE["headers"])
    if tamper == "body":
        body = body.replace(b'"total":"29.35"', b'"total":"0.01"')
    elif tamper == "signature":
        headers["X-WC-Webhook-Signature"] = "A" + headers["X-WC-Webhook-Signature"][1:]
    elif tamper == "missing":
        del headers["X-WC-Webhook-Signature"]
    else:
        headers["X-WC-Webhook-Signature"] = base64.b64encode(
            hmac.new(b"guessed", body, hashlib.sha256).digest()
        ).decode()
    before = _counts()

    with django_capture_on_commit_callbacks(execute=True):
        response = _post(client, woo_connection, body, headers)

    assert response.status_code == 401
    assert _counts() == before == (0, 0, 0, 0, 0)
    assert Connection.objects.get(pk=woo_connection.pk).rejected_deliveries == 1


def test_ten_replays_make_one_order_and_every_reply_is_2xx(
    client, woo_connection, django_capture_on_commit_callbacks
):
    body, headers = SAMPLE["body"].encode(), SAMPLE["headers"]
    codes = []
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(10):
            codes.append(_post(client, woo_connection, body, headers).status_code)

    assert codes == [202] + [200] * 9
    assert Order.objects.filter(external_id="727").count() == 1
    delivery = WebhookDelivery.objects.get()
    assert delivery.replays == 9
    assert OrderEvent.objects.filter(order__external_id="727", kind="created").count() == 1


def test_processing_twice_does_nothing_the_second_time(
    woo_connection, client, django_capture_on_commit_callbacks
):
    from zaplecze.integrations.services import delivery_process

    with django_capture_on_commit_callbacks(execute=True):
        _post(client, woo_connection, SAMPLE["body"].encode(), SAMPLE["headers"])
    delivery = WebhookDelivery.objects.get()
    events = OrderEvent.objects.count()

    delivery_process(delivery_id=delivery.pk)

    assert OrderEvent.objects.count() == events


def test_out_of_order_deliveries_keep_the_newest_version(
    client, woo_connection, django_capture_on_commit_callbacks
):
    newer = json.dumps(woo_order(1, status="completed", modified=dt.datetime(2026, 11, 21, 12, 0))).encode()
    older = json.dumps(woo_order(1, status="processing", modified=dt.datetime(2026, 11, 21, 9, 0))).encode()

    with django_capture_on_commit_callbacks(execute=True):
        assert _post(client, woo_connection, newer, _signed(newer, "d-2")).status_code == 202
        assert _post(client, woo_connection, older, _signed(older, "d-1")).status_code == 202

    order = Order.objects.get(external_id="1001")
    assert order.stage == "completed"
    assert sorted(WebhookDelivery.objects.values_list("state", flat=True)) == ["processed", "processed"]


def test_the_ping_is_answered_and_stores_nothing(client, woo_connection):
    response = _post(
        client,
        woo_connection,
        PING["body"].encode(),
        PING["headers"],
        content_type=PING["headers"]["Content-Type"],
    )
    assert response.status_code == 200 and response.json() == {"outcome": "ping"}
    assert _counts() == (0, 0, 0, 0, 0)


def test_unknown_token_or_platform_is_404_and_get_is_405(client, woo_connection):
    body = SAMPLE["body"].encode()
    assert (
        client.post("/hooks/woocommerce/nope/", data=body, content_type="application/json").status_code == 404
    )
    wrong_platform = reverse("hooks:receive", args=["shopify", woo_connection.webhook_token])
    assert client.post(wrong_platform, data=body, content_type="application/json").status_code == 404
    assert client.get(_url(woo_connection)).status_code == 405
    assert WebhookDelivery.objects.count() == 0


def test_a_signed_but_unreadable_delivery_is_kept_failed_and_can_be_retried(
    client, woo_connection, django_capture_on_commit_callbacks
):
    from zaplecze.integrations.services import delivery_retry

    body = b'{"id": 1001, "status": '
    with django_capture_on_commit_callbacks(execute=True):
        assert _post(client, woo_connection, body, _signed(body, "d-broken")).status_code == 202
    delivery = WebhookDelivery.objects.get()
    assert delivery.state == "failed" and "not JSON" in delivery.error
    assert bytes(delivery.body) == body
    assert delivery_retry(delivery_id=delivery.pk, actor=None).state == "failed"


def test_other_topics_are_stored_and_ignored(client, woo_connection, django_capture_on_commit_callbacks):
    body = b'{"id": 5, "name": "Mug"}'
    with django_capture_on_commit_callbacks(execute=True):
        assert (
            _post(client, woo_connection, body, _signed(body, "p-1", topic="product.updated")).status_code
            == 202
        )
    assert WebhookDelivery.objects.get().state == "ignored"
    assert Order.objects.count() == 0
