"""The operations report: what is open and what is due, as of now (backlog, late orders, returns and
complaints due, stock at risk)."""

from __future__ import annotations

import datetime as dt

from django.db.models import Count, Min
from django.utils import timezone

from zaplecze.core.businesstime import tz
from zaplecze.orders.models import OPEN_STAGES, Order, Stage
from zaplecze.purchasing.selectors import parameters
from zaplecze.service.selectors import due_cases, due_counts

LIST_LIMIT = 200


def operations_report(*, now: dt.datetime | None = None, channel: str = "") -> dict:
    now = now or timezone.now()
    today = now.astimezone(tz()).date()
    open_orders = Order.objects.filter(stage__in=list(OPEN_STAGES))
    if channel:
        open_orders = open_orders.filter(channel__code=channel)
    labels = dict(Stage.choices)
    backlog = [
        {
            "stage": r["stage"],
            "name": str(labels.get(r["stage"], r["stage"])),
            "orders": r["n"],
            "oldest_placed_at": r["oldest"],
        }
        for r in open_orders.values("stage")
        .annotate(n=Count("id"), oldest=Min("placed_at"))
        .order_by("stage")
    ]
    late_qs = open_orders.filter(ship_by__lt=now).select_related("channel").order_by("ship_by", "id")
    late = [
        {
            "number": o.number,
            "channel": o.channel.name,
            "stage": o.stage,
            "placed_at": o.placed_at,
            "ship_by": o.ship_by,
            "hours_late": round((now - o.ship_by).total_seconds() / 3600, 1),
        }
        for o in late_qs[:LIST_LIMIT]
    ]
    due = due_cases(today=today, limit=LIST_LIMIT)
    counts = due_counts(today=today)
    at_risk = [
        {
            "sku": row.variant.sku,
            "name": row.variant.name,
            "warehouse": row.param.warehouse.code if row.param.warehouse_id else "",
            "available": row.available,
            "on_order": row.on_order,
            "reorder_point": row.param.reorder_point,
            "days_of_cover": row.days_of_cover,
        }
        for row in parameters(at_risk=True, limit=LIST_LIMIT)
    ]
    return {
        "as_of": now,
        "today": today,
        "channel": channel,
        "open_orders": sum(b["orders"] for b in backlog),
        "late_orders": late_qs.count(),
        "needs_attention": open_orders.filter(needs_attention=True).count(),
        "returns_due_today": counts.returns_today,
        "returns_overdue": counts.returns_overdue,
        "complaints_due_today": counts.complaints_today,
        "complaints_overdue": counts.complaints_overdue,
        "refunds_awaiting_confirmation": counts.refunds_awaiting,
        "stock_at_risk": len(at_risk),
        "backlog": backlog,
        "late": late,
        "returns_due": due["returns"],
        "complaints_due": due["complaints"],
        "at_risk": at_risk,
    }
