"""Exceptions of shipping for the Today page (see `core/today.py`): a parcel the carrier reports as an
exception (damaged, address problem, refused) or sent back, while its order is still waiting for it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop

from zaplecze.core import today
from zaplecze.orders.models import Stage

from .models import Shipment, ShipmentStatus

RECENT_DAYS = 30


def detect_exceptions(*, now: dt.datetime, ids: list[int] | None = None) -> Iterable[today.Found]:
    qs = Shipment.objects.filter(
        status__in=[ShipmentStatus.EXCEPTION, ShipmentStatus.RETURNED],
        created_at__gte=now - dt.timedelta(days=RECENT_DAYS),
    ).exclude(order__stage__in=[Stage.DELIVERED, Stage.COMPLETED, Stage.CANCELLED, Stage.RETURNED])
    if ids is not None:
        qs = qs.filter(pk__in=ids)
    rows = qs.values_list(
        "pk", "status", "raw_status", "status_at", "created_at", "tracking_number", "order_id", "order__number",
        "carrier__name",
    )  # fmt: skip
    for pk, status, raw, status_at, created, tracking, order_id, number, carrier in rows:
        when = status_at or created
        yield today.Found(
            subject_id=pk,
            label=(
                gettext_noop("Parcel %(tracking)s of order %(number)s (%(carrier)s)"),
                {"tracking": tracking or "—", "number": number, "carrier": carrier},
            ),
            why=(
                gettext_noop("Sent back to the shop (%(raw)s).")
                if status == ShipmentStatus.RETURNED
                else gettext_noop("The carrier reports a problem: %(raw)s."),
                {"raw": raw or status},
            ),
            url=reverse("orders:detail", args=[order_id]),
            due_at=when + dt.timedelta(days=1),
            severity="high",
        )


today.register(
    today.Kind(
        code="shipping.exception",
        area="shipping",
        label=_("Parcel with a delivery problem"),
        subject_type="shipment",
        detect=detect_exceptions,
        severity="high",
        owner_role="warehouse",
        permission="shipping.view",
    )
)
