"""URL parameters of integrations: a PrestaShop connection (no connector yet, so nothing in the walk reaches
the network) with a run, a kept error and a failed webhook delivery."""

from __future__ import annotations


def build(world) -> dict:
    from zaplecze.integrations import services
    from zaplecze.integrations.models import SyncError, SyncRun, WebhookDelivery

    connection = services.connection_create(
        channel_code="allegro",
        platform="prestashop",
        base_url="https://presta.example",
        credentials={"access_token": "WEBSERVICEKEY0123456789"},
        actor=None,
    )
    run = SyncRun.objects.create(connection=connection, kind="import", outcome="partial")
    error = SyncError.objects.create(
        connection=connection, run=run, external_id="1", message="x", payload="{}"
    )
    delivery = WebhookDelivery.objects.create(
        connection=connection, delivery_id="d-1", topic="order.updated", body=b"{}", state="failed"
    )
    return {
        "connection_id": connection.pk,
        "error_id": error.pk,
        "delivery_id": delivery.pk,
        "hook_platform": "prestashop",
        "hook_token": connection.webhook_token,
    }
