"""Shipping's parts of order automation, registered through `zaplecze.core.extensions` (orders may not import
shipping):

* "automation.action" / "create_shipment": create a shipment for the order (the carrier serving its delivery
  method, or a chosen one). Sending it to the carrier is queued after commit, as for a shipment made by hand.
  An order that already has a shipment (not cancelled) gets no second one.
* "orders.paid" / "shipping.ship_by": when orders become paid, recompute their ship-by time from the delivery
  promises (the promise counts from the payment).
"""

from __future__ import annotations

import logging
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from zaplecze.core import extensions
from zaplecze.core.errors import Conflict, NotFound
from zaplecze.orders.automation import ACTION_POINT, PAID_HOOK_POINT, ActionContext, ActionType, Param

log = logging.getLogger("zaplecze.shipping")


def _carrier_choices() -> list[tuple[str, str]]:
    from .models import Carrier

    return [(c.code, c.name) for c in Carrier.objects.filter(active=True).order_by("position", "name")]


def action_create_shipment(ctx: ActionContext, params: dict[str, Any]) -> str:
    from .models import Shipment, ShipmentStatus
    from .services import shipment_create

    existing = (
        Shipment.objects.filter(order_id=ctx.order.pk)
        .exclude(status=ShipmentStatus.CANCELLED)
        .order_by("id")
        .first()
    )
    if existing is not None:
        return _("The order already has shipment %(ref)s; no second one was created") % {
            "ref": existing.reference
        }
    shipment = shipment_create(
        order_id=ctx.order.pk,
        carrier_code=params.get("carrier") or None,
        actor=None,
        comments=_("Automation rule “%(rule)s”") % {"rule": ctx.rule.name},
        submit=True,
    )
    return _("Shipment %(ref)s created (%(carrier)s)") % {
        "ref": shipment.reference,
        "carrier": shipment.carrier.name,
    }


CREATE_SHIPMENT = ActionType(
    "create_shipment",
    gettext_lazy("Create shipment"),
    (
        Param(
            "carrier",
            gettext_lazy("carrier"),
            "choice",
            _carrier_choices,
            required=False,
            help=gettext_lazy("Empty: the carrier serving the order's delivery method"),
        ),
    ),
    action_create_shipment,
)


def ship_by_on_paid(*, order_ids: list[int]) -> int:
    """Recompute the ship-by time of orders that just became paid. Returns how many were looked at."""
    from .services import order_ship_by_update

    done = 0
    for order_id in order_ids:
        try:
            order_ship_by_update(order_id=order_id)
            done += 1
        except (NotFound, Conflict) as exc:
            log.info("ship-by of order %s not updated: %s", order_id, exc)
    return done


def register() -> None:
    extensions.register(ACTION_POINT, CREATE_SHIPMENT.code, CREATE_SHIPMENT)
    extensions.register(PAID_HOOK_POINT, "shipping.ship_by", ship_by_on_paid)
