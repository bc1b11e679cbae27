"""What other modules may know about an order's shipments (read-only), offered at the extension point
``"orders.shipments"``: customer service shows them in the customer panel and uses the newest tracking link
in canned replies, without importing shipping."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from zaplecze.core import extensions

from .models import Shipment

LIMIT = 50


def shipments_summary(order_ids: Iterable[int]) -> list[dict[str, Any]]:
    """The orders' shipments, newest first: carrier, tracking number and link, status."""
    rows = (
        Shipment.objects.filter(order_id__in=list(order_ids))
        .select_related("carrier", "order")
        .order_by("-created_at", "-id")[:LIMIT]
    )
    return [
        {
            "id": s.pk,
            "order_id": s.order_id,
            "order_number": s.order.number,
            "carrier": s.carrier.name,
            "tracking_number": s.tracking_number,
            "tracking_url": s.tracking_link,
            "status": s.status,
            "status_label": s.get_status_display(),
            "status_at": s.status_at,
        }
        for s in rows
    ]


def register() -> None:
    extensions.register("orders.shipments", "shipping", shipments_summary)
