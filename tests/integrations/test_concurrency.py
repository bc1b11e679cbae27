"""Ten copies of one webhook delivery arriving at once, on PostgreSQL with real threads: one delivery row,
one order, every answer 2xx (the unique (connection, delivery id) index decides, not a Python check)."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

SAMPLE = json.loads(Path("/work/shared/samples/woocommerce/webhook-order-updated.request.json").read_text())


def test_ten_concurrent_replays_make_one_delivery_and_one_order(woo_connection):
    from django.db import connection as db

    from zaplecze.integrations.models import WebhookDelivery
    from zaplecze.integrations.services import delivery_process, webhook_receive
    from zaplecze.orders.models import Order

    headers = {k.lower(): v for k, v in SAMPLE["headers"].items()}
    body = SAMPLE["body"].encode()
    barrier = threading.Barrier(10)
    outcomes: list[tuple[int, str, int | None]] = []
    lock = threading.Lock()

    def deliver():
        try:
            barrier.wait()
            result = webhook_receive(
                platform="woocommerce", token=woo_connection.webhook_token, headers=headers, body=body
            )
            if result.delivery_id:
                delivery_process(delivery_id=result.delivery_id)  # the worker, as many times as it runs
            with lock:
                outcomes.append((result.status, result.outcome, result.delivery_id))
        finally:
            db.close()

    threads = [threading.Thread(target=deliver) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert sorted(o[0] for o in outcomes) == [200] * 9 + [202]
    assert WebhookDelivery.objects.count() == 1
    delivery = WebhookDelivery.objects.get()
    assert delivery.state == "processed" and delivery.replays == 9
    assert Order.objects.filter(external_id="727").count() == 1
