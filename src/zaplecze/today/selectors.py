"""Reads of the Today page: the open exceptions a person may see, grouped by area; today's numbers against
the same weekday last week; and the history of exceptions (opened, resolved, time to resolve) per day.

The page reads only exception rows (indexed by state, area, severity and due time), never the modules'
tables: what it shows was computed by the worker."""

from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.core.cache import cache
from django.db.models import Count, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from zaplecze.core import today as registry
from zaplecze.core.businesstime import local_date, tz
from zaplecze.core.permissions import Role, user_has

from .models import OpsException

State = OpsException.State
PER_AREA = 50
AREA_ORDER = (
    "orders", "shipping", "service", "stock", "integrations", "catalog", "promotions", "monitoring", "reports",
)  # fmt: skip


def area_labels() -> dict[str, str]:
    return {
        "orders": _("Orders"),
        "shipping": _("Shipping"),
        "service": _("Customer service"),
        "stock": _("Stock and purchasing"),
        "integrations": _("Channels"),
        "catalog": _("Catalog and feeds"),
        "promotions": _("Promotions"),
        "monitoring": _("Shop health"),
        "reports": _("Sales signals"),
    }


@dataclass
class TodayFilter:
    owner: str = "all"  # all, mine, role
    area: str = ""
    kind: str = ""
    show: str = "open"  # open, snoozed, resolved


def visible_kinds(user) -> list[str]:
    return [code for code, k in registry.kinds().items() if user_has(user, k.permission)]


def _base(user, f: TodayFilter, now: dt.datetime):
    qs = OpsException.objects.filter(kind__in=visible_kinds(user))
    if f.show == "snoozed":
        qs = qs.filter(state=State.SNOOZED, snoozed_until__gt=now)
    elif f.show == "resolved":
        qs = qs.filter(state=State.RESOLVED, resolved_at__gte=now - dt.timedelta(days=1))
    else:  # open, and snoozes that ran out (the worker flips them within a minute)
        qs = qs.filter(Q(state=State.OPEN) | Q(state=State.SNOOZED, snoozed_until__lte=now))
    if f.owner == "mine":
        qs = qs.filter(Q(owner=user) | Q(owner__isnull=True, owner_role=user.role))
    elif f.owner == "role":
        qs = qs.filter(owner_role=user.role)
    if f.kind:
        qs = qs.filter(kind=f.kind)
    return qs


def page(user, f: TodayFilter, *, now: dt.datetime | None = None) -> dict:
    """Exceptions grouped by area (each sorted by severity, then due time), with counts per area."""
    now = now or timezone.now()
    qs = _base(user, f, now)
    counts = dict(qs.values_list("area").annotate(n=Count("id")).order_by())
    areas = [a for a in AREA_ORDER if counts.get(a)] + sorted(a for a in counts if a not in AREA_ORDER)
    if f.area:
        areas = [a for a in areas if a == f.area]
    labels = area_labels()
    kinds = registry.kinds()
    roles = dict(Role.choices)
    groups = []
    for area in areas:
        rows = list(qs.filter(area=area).select_related("owner").order_by("rank", "due_at", "id")[:PER_AREA])
        for row in rows:
            kind = kinds.get(row.kind)
            row.kind_label = kind.label if kind else row.kind
            row.actions = [
                a for a in (kind.actions if kind else ()) if not a.permission or user_has(user, a.permission)
            ]
            row.overdue = row.due_at is not None and row.due_at < now
            row.owner_role_label = roles.get(row.owner_role, row.owner_role)
        groups.append({"area": area, "label": labels.get(area, area), "count": counts[area], "rows": rows})
    return {
        "groups": groups,
        "counts": [{"area": a, "label": labels.get(a, a), "count": counts[a]} for a in areas],
        "total": sum(counts.values()),
    }


def exceptions_list(
    user, f: TodayFilter, *, limit: int = 1000, now: dt.datetime | None = None
) -> list[OpsException]:
    now = now or timezone.now()
    return list(_base(user, f, now).select_related("owner").order_by("rank", "due_at", "id")[:limit])


# --- today's numbers ----------------------------------------------------------------------------------


def _orders_between(start: dt.datetime, end: dt.datetime) -> tuple[int, Decimal]:
    from zaplecze.orders.models import Order, Stage

    agg = (
        Order.objects.filter(placed_at__gte=start, placed_at__lt=end, currency="PLN")
        .exclude(stage=Stage.CANCELLED)
        .aggregate(n=Count("id"), revenue=Sum("total_gross"))
    )
    return agg["n"] or 0, agg["revenue"] or Decimal("0")


def _traffic(day: dt.date) -> dict | None:
    """Visitors and conversion of a whole day from the traffic warehouse (None without a site)."""
    try:
        from zaplecze.analytics import metrics
        from zaplecze.analytics.selectors import site_default
    except ImportError:  # pragma: no cover - analytics is part of the product
        return None
    site = site_default()
    if site is None:
        return None
    try:
        with metrics.Workspace(metrics.Query(site.domain, day, day), previous=False) as ws:
            cards = {c.key: c.value for c in metrics.summary(ws)}
    except Exception:  # noqa: BLE001 - the page must open even when the warehouse has a problem
        return None
    return {"visitors": cards.get("visitors"), "conversion_rate": cards.get("conversion_rate")}


def _change(now_value, before) -> float | None:
    if now_value is None or not before:
        return None
    return round((float(now_value) - float(before)) / float(before), 4)


def numbers(*, now: dt.datetime | None = None) -> dict:
    """Orders and revenue so far today, and visitors and conversion today, each against the same weekday
    last week up to the same time of day. Cached for a minute (the page may be reloaded often)."""
    now = now or timezone.now()
    key = f"today:numbers:{now:%Y%m%d%H%M}"
    got = cache.get(key)
    if got is not None:
        return got
    day = local_date(now)
    start = dt.datetime.combine(day, dt.time.min, tzinfo=tz())
    week = dt.timedelta(days=7)
    orders, revenue = _orders_between(start, now)
    orders_lw, revenue_lw = _orders_between(start - week, now - week)
    traffic, traffic_lw = _traffic(day), _traffic(day - week)
    out = {
        "day": day,
        "compared_with": day - week,
        "orders": {"value": orders, "previous": orders_lw, "change": _change(orders, orders_lw)},
        "revenue": {"value": revenue, "previous": revenue_lw, "change": _change(revenue, revenue_lw)},
        "visitors": None,
        "conversion_rate": None,
    }
    if traffic is not None:
        for k in ("visitors", "conversion_rate"):
            prev = traffic_lw.get(k) if traffic_lw else None
            out[k] = {"value": traffic[k], "previous": prev, "change": _change(traffic[k], prev)}
    cache.set(key, out, 90)
    return out


# --- history -----------------------------------------------------------------------------------------------


def history(*, days: int = 30, now: dt.datetime | None = None) -> dict:
    """Per day: exceptions opened and resolved (by kind), and the median hours to resolve those resolved
    that day. The measure of whether the shop's processes get better."""
    now = now or timezone.now()
    first = local_date(now) - dt.timedelta(days=days - 1)
    start = dt.datetime.combine(first, dt.time.min, tzinfo=tz())
    opened: dict[dt.date, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    resolved: dict[dt.date, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    hours: dict[dt.date, list[float]] = defaultdict(list)
    hours_by_kind: dict[str, list[float]] = defaultdict(list)
    for kind, at in OpsException.objects.filter(opened_at__gte=start).values_list("kind", "opened_at"):
        opened[local_date(at)][kind] += 1
    rows = OpsException.objects.filter(state=State.RESOLVED, resolved_at__gte=start).values_list(
        "kind", "opened_at", "resolved_at"
    )
    for kind, opened_at, resolved_at in rows:
        d = local_date(resolved_at)
        resolved[d][kind] += 1
        h = (resolved_at - opened_at).total_seconds() / 3600
        hours[d].append(h)
        hours_by_kind[kind].append(h)
    out_days = []
    for i in range(days):
        d = first + dt.timedelta(days=i)
        out_days.append(
            {
                "day": d,
                "opened": sum(opened[d].values()),
                "resolved": sum(resolved[d].values()),
                "median_hours": round(statistics.median(hours[d]), 1) if hours[d] else None,
                "opened_by_kind": dict(opened[d]),
                "resolved_by_kind": dict(resolved[d]),
            }
        )
    kinds = registry.kinds()
    by_kind = []
    for code in sorted(set(hours_by_kind) | {k for d in opened.values() for k in d}):
        by_kind.append(
            {
                "kind": code,
                "label": str(kinds[code].label) if code in kinds else code,
                "opened": sum(opened[d].get(code, 0) for d in opened),
                "resolved": len(hours_by_kind.get(code, [])),
                "median_hours": round(statistics.median(hours_by_kind[code]), 1)
                if hours_by_kind.get(code)
                else None,
            }
        )
    return {"from": first, "to": local_date(now), "days": out_days, "kinds": by_kind}
