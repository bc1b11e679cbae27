"""Exceptions of the order queue for the Today page (see `core/today.py`).

* late: an open order whose ship-by time has passed and that has not left;
* stuck: an open order nothing has happened to for `STUCK_HOURS` (no status change, no edit);
* unpaid: an order awaiting a prepayment for `UNPAID_HOURS` (cash on delivery never waits for payment);
* attention: an order flagged as needing attention (an unknown SKU, a status the channel sent that it cannot
  take, totals that do not add up).

Each query goes through an index on (stage, time), so it reads the exceptional orders, not the open ones (the
model's default ordering is dropped: with statistics SQLite would otherwise walk all orders in that order).
Times in the reasons are ISO strings under keys starting with "when": the page shows them in the reader's
locale and time zone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop

from zaplecze.core import today

from .models import Order, PaymentMethod, Stage

STUCK_HOURS = 24
UNPAID_HOURS = 72
WORK_STAGES = (Stage.NEW, Stage.READY, Stage.IN_FULFILMENT)


def _url(order_id: int) -> str:
    return reverse("orders:detail", args=[order_id])


def _scoped(qs, ids):
    return qs.filter(pk__in=ids) if ids is not None else qs


def _label(number: str) -> tuple[str, dict]:
    return (gettext_noop("Order %(number)s"), {"number": number})


def detect_late(*, now: dt.datetime, ids: list[int] | None = None) -> Iterable[today.Found]:
    qs = _scoped(Order.objects.filter(stage__in=WORK_STAGES, ship_by__lt=now).order_by(), ids)
    for pk, number, ship_by in qs.values_list("pk", "number", "ship_by").iterator(chunk_size=5000):
        late_h = (now - ship_by).total_seconds() / 3600
        yield today.Found(
            subject_id=pk,
            label=_label(number),
            why=(gettext_noop("Not shipped; its ship-by time was %(when)s."), {"when": ship_by.isoformat()}),
            url=_url(pk),
            due_at=ship_by,
            severity="critical" if late_h >= 24 else "high",
        )


def detect_stuck(*, now: dt.datetime, ids: list[int] | None = None) -> Iterable[today.Found]:
    since = now - dt.timedelta(hours=STUCK_HOURS)
    qs = _scoped(Order.objects.filter(stage__in=WORK_STAGES, updated_at__lt=since).order_by(), ids)
    for pk, number, updated, status in qs.values_list("pk", "number", "updated_at", "status__code").iterator(
        chunk_size=5000
    ):
        yield today.Found(
            subject_id=pk,
            label=_label(number),
            why=(
                gettext_noop("In status %(status)s with no change since %(when)s."),
                {"status": status, "when": updated.isoformat()},
            ),
            url=_url(pk),
            due_at=updated + dt.timedelta(hours=STUCK_HOURS),
        )


def detect_unpaid(*, now: dt.datetime, ids: list[int] | None = None) -> Iterable[today.Found]:
    since = now - dt.timedelta(hours=UNPAID_HOURS)
    qs = _scoped(
        Order.objects.filter(stage=Stage.AWAITING_PAYMENT, placed_at__lt=since).exclude(
            payment_method=PaymentMethod.COD
        ),
        ids,
    )
    for pk, number, placed, total, currency in qs.values_list(
        "pk", "number", "placed_at", "total_gross", "currency"
    ).iterator(chunk_size=5000):
        yield today.Found(
            subject_id=pk,
            label=_label(number),
            why=(
                gettext_noop("Placed %(when)s and still not paid (%(total)s %(currency)s)."),
                {"when": placed.isoformat(), "total": str(total), "currency": currency},
            ),
            url=_url(pk),
            due_at=placed + dt.timedelta(hours=UNPAID_HOURS),
            severity="low",
        )


def detect_attention(*, now: dt.datetime, ids: list[int] | None = None) -> Iterable[today.Found]:
    qs = _scoped(
        # `needs_attention__in=[True]`, not `=True`: Django writes the latter as a bare column, which SQLite
        # cannot look up in the (needs_attention, placed_at) index (0.6 ms instead of 0.5 s at 100,000 orders).
        Order.objects.filter(
            needs_attention__in=[True], stage__in=(*WORK_STAGES, Stage.AWAITING_PAYMENT)
        ).order_by(),
        ids,
    )
    for pk, number, reasons, placed in qs.values_list("pk", "number", "attention_reasons", "placed_at"):
        codes = sorted({(r.get("code") or "?") if isinstance(r, dict) else "?" for r in reasons or []})
        yield today.Found(
            subject_id=pk,
            label=_label(number),
            why=(gettext_noop("Needs attention: %(reasons)s."), {"reasons": ", ".join(codes) or "?"}),
            url=_url(pk),
            due_at=placed + dt.timedelta(hours=4),
            severity="high",
            data={"reasons": codes},
        )


def _cancel(*, subject_id: int, actor) -> str:
    from django.utils.translation import gettext

    from .models import OrderStatus
    from .services import order_transition

    status = OrderStatus.objects.filter(stage=Stage.CANCELLED, is_default_for_stage=True).first()
    status = status or OrderStatus.objects.filter(stage=Stage.CANCELLED).order_by("position").first()
    order = order_transition(
        order_id=subject_id,
        status_code=status.code,
        actor=actor,
        reason=gettext("Not paid in time (Today page)"),
        source="ui",
    )
    return gettext("Order %(number)s cancelled.") % {"number": order.number}


def _resolve_attention(*, subject_id: int, actor) -> str:
    from django.utils.translation import gettext

    from .services import order_resolve_attention

    order = order_resolve_attention(
        order_id=subject_id, actor=actor, note=gettext("Checked on the Today page")
    )
    return gettext("Order %(number)s marked as checked.") % {"number": order.number}


today.register(
    today.Kind(
        code="orders.late",
        area="orders",
        label=_("Order late against its ship-by time"),
        subject_type="order",
        detect=detect_late,
        severity="high",
        owner_role="warehouse",
        permission="orders.view",
        every_minutes=1,
    )
)
today.register(
    today.Kind(
        code="orders.stuck",
        area="orders",
        label=_("Order with no progress for a day"),
        subject_type="order",
        detect=detect_stuck,
        permission="orders.view",
    )
)
today.register(
    today.Kind(
        code="orders.unpaid",
        area="orders",
        label=_("Order waiting for payment for 3 days"),
        subject_type="order",
        detect=detect_unpaid,
        severity="low",
        permission="orders.view",
        actions=(
            today.QuickAction(
                code="cancel",
                label=_("Cancel the order"),
                run=_cancel,
                confirm=_("Cancel this order? The customer is not told by this action."),
                permission="orders.change_status",
            ),
        ),
    )
)
today.register(
    today.Kind(
        code="orders.attention",
        area="orders",
        label=_("Order needing attention"),
        subject_type="order",
        detect=detect_attention,
        severity="high",
        permission="orders.view",
        actions=(
            today.QuickAction(
                code="checked",
                label=_("Mark as checked"),
                run=_resolve_attention,
                permission="orders.edit",
            ),
        ),
    )
)
