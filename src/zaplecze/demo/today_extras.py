"""A few situations of a real shop's day that need someone, so that the demo opens on a filled Today page.

The planned year of orders already leaves late orders, orders short of stock (needing attention, with the
quick action *Mark as checked*) and an overdue purchase order. This adds two more areas, without adding
orders (the demo has exactly the orders asked for):

* a consumer's complaint received about two weeks ago, its answer due within two days (Customer
  service), through `service.services.complaint_create`;
* a parcel the carrier reports as undeliverable (wrong address) on a shipped order (Shipping).
"""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from zaplecze.core.businesstime import local_date, tz
from zaplecze.orders.models import Order, OrderLine, Stage


def seed_today_situations(*, now: dt.datetime | None = None) -> dict:
    """Create the situations; returns what was made (each is skipped when the demo has no order for it)."""
    now = now or timezone.now()
    return {
        "complaint": _complaint(now),
        "parcel": _parcel(now),
    }


def _complaint(now: dt.datetime) -> str:
    from zaplecze.service.models import OutboxEmail
    from zaplecze.service.services import complaint_create

    line = (
        OrderLine.objects.filter(
            order__stage__in=[Stage.DELIVERED, Stage.COMPLETED],
            order__customer_type="consumer",
            order__delivered_at__lt=now - dt.timedelta(days=20),
        )
        .order_by("-order__delivered_at", "id")
        .first()
    )
    if line is None:
        return ""
    # Received about two weeks ago: the day whose answer deadline (14 days, moved past holidays) is today
    # or the next working days.
    from zaplecze.service.deadlines import complaint_response_deadline

    today = local_date(now)
    received = now - dt.timedelta(days=13)
    for days_ago in range(12, 18):
        due = complaint_response_deadline(
            today - dt.timedelta(days=days_ago), customer_type="consumer"
        ).deadline
        if due and today <= due <= today + dt.timedelta(days=2):
            received = now - dt.timedelta(days=days_ago)
            break
    complaint = complaint_create(
        order_line_id=line.pk,
        defect="Po dwóch tygodniach używania odkleił się uchwyt. Proszę o wymianę na nowy.",
        requested_remedy="replacement",
        actor=None,
        noticed_on=(received - dt.timedelta(days=1)).astimezone(tz()).date(),
        received_at=received,
        source="email",
    )
    # The acknowledgement went out when the complaint came in.
    OutboxEmail.objects.filter(complaint=complaint).update(state=OutboxEmail.State.SENT, sent_at=received)
    return complaint.number


def _parcel(now: dt.datetime) -> str:
    from zaplecze.shipping.models import Carrier, Shipment, ShipmentStatus

    order = Order.objects.filter(stage=Stage.SHIPPED).order_by("-shipped_at", "-id").first()
    carrier = Carrier.objects.filter(code="dpd").first() or Carrier.objects.order_by("id").first()
    if order is None or carrier is None:
        return ""
    shipped = order.shipped_at or now - dt.timedelta(days=1)
    problem = max(shipped, now - dt.timedelta(hours=5))
    tracking = f"0000{order.pk:07d}7U"
    Shipment.objects.create(
        order=order,
        carrier=carrier,
        status=ShipmentStatus.EXCEPTION,
        raw_status="Adresat nieznany pod wskazanym adresem",
        status_at=problem,
        reference=f"demo-{order.pk}-1",
        submission="done",
        tracking_number=tracking,
        receiver=order.shipping_address or {},
        created_at=shipped,
        updated_at=problem,
        handed_over_at=shipped,
    )
    return tracking
