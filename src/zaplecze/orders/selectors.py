"""Reads of orders: the queue (filters, text search, keyset pagination), one order, dashboard figures."""

from __future__ import annotations

import base64
import datetime as dt
import json
from dataclasses import dataclass, field, fields
from decimal import Decimal
from typing import Any

from django.db.models import Count, Prefetch, Q, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from zaplecze.core.businesstime import tz
from zaplecze.core.errors import DomainError, NotFound, PermissionDenied
from zaplecze.core.permissions import user_has

from .models import OPEN_STAGES, Channel, Order, OrderEvent, OrderSearchToken, OrderStatus, Stage, Tag

SORTS = {
    "-placed_at": ("placed_at", True),
    "placed_at": ("placed_at", False),
    "-total_gross": ("total_gross", True),
    "total_gross": ("total_gross", False),
    "ship_by": ("ship_by", False),
    "-ship_by": ("ship_by", True),
}
SEARCH_ID_LIMIT = 5000


@dataclass
class OrderFilter:
    status: list[str] = field(default_factory=list)
    stage: list[str] = field(default_factory=list)
    channel: list[str] = field(default_factory=list)
    payment_status: list[str] = field(default_factory=list)
    payment_method: list[str] = field(default_factory=list)
    delivery_method: list[str] = field(default_factory=list)
    tag: list[str] = field(default_factory=list)
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    needs_attention: bool | None = None
    late: bool | None = None
    q: str = ""

    LIST_FIELDS = ("status", "stage", "channel", "payment_status", "payment_method", "delivery_method", "tag")

    @classmethod
    def from_params(cls, params) -> OrderFilter:
        """Build from a QueryDict/dict; bad values raise DomainError naming the parameter."""
        getlist = params.getlist if hasattr(params, "getlist") else (lambda k: _as_list(params.get(k)))
        f = cls()
        for name in cls.LIST_FIELDS:
            values = []
            for raw in getlist(name):
                values += [v.strip() for v in str(raw).split(",") if v.strip()]
            setattr(f, name, values)
        for name in ("date_from", "date_to"):
            raw = params.get(name)
            if raw:
                try:
                    setattr(f, name, dt.date.fromisoformat(str(raw)))
                except ValueError:
                    raise DomainError(f"{name}: {raw!r} is not a date (YYYY-MM-DD)", field=name)
        for name in ("needs_attention", "late"):
            raw = params.get(name)
            if raw not in (None, ""):
                if str(raw).lower() not in {"1", "0", "true", "false", "yes", "no", "on"}:
                    raise DomainError(f"{name}: expected true or false", field=name)
                setattr(f, name, str(raw).lower() in {"1", "true", "yes", "on"})
        f.q = str(params.get("q") or "").strip()[:200]
        bad_stage = [s for s in f.stage if s not in Stage.values]
        if bad_stage:
            raise DomainError(f"stage: unknown {', '.join(bad_stage)}", field="stage")
        return f

    def as_params(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for fd in fields(self):
            v = getattr(self, fd.name)
            if v in (None, "", []):
                continue
            out[fd.name] = ",".join(v) if isinstance(v, list) else (v.isoformat() if isinstance(v, dt.date) else v)
        return out


def _as_list(v) -> list:
    if v is None:
        return []
    return list(v) if isinstance(v, list | tuple) else [v]


def _local_midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=tz())


def _search_bounds(token: str) -> tuple[str, str]:
    return token, token[:-1] + chr(ord(token[-1]) + 1)


def orders_filtered(f: OrderFilter) -> QuerySet[Order]:
    qs = Order.objects.all()
    if f.status:
        qs = qs.filter(status__code__in=f.status)
    if f.stage:
        qs = qs.filter(stage__in=f.stage)
    if f.channel:
        qs = qs.filter(channel__code__in=f.channel)
    if f.payment_status:
        qs = qs.filter(payment_status__in=f.payment_status)
    if f.payment_method:
        qs = qs.filter(payment_method__in=f.payment_method)
    if f.delivery_method:
        qs = qs.filter(delivery_method__in=f.delivery_method)
    for name in f.tag:
        qs = qs.filter(tags__name=name)
    if f.date_from:
        qs = qs.filter(placed_at__gte=_local_midnight(f.date_from))
    if f.date_to:
        qs = qs.filter(placed_at__lt=_local_midnight(f.date_to + dt.timedelta(days=1)))
    if f.needs_attention is not None:
        qs = qs.filter(needs_attention=f.needs_attention)
    if f.late is not None:
        late_q = Q(stage__in=OPEN_STAGES, ship_by__lt=timezone.now())
        qs = qs.filter(late_q) if f.late else qs.exclude(late_q)
    if f.q:
        for token in f.q.lower().split()[:5]:
            token = token.strip("#")[:64]
            if not token:
                continue
            lo, hi = _search_bounds(token)
            sub = OrderSearchToken.objects.filter(token__gte=lo, token__lt=hi, token__startswith=token)
            ids = list(sub.values_list("order_id", flat=True)[: SEARCH_ID_LIMIT + 1])
            if len(ids) <= SEARCH_ID_LIMIT:
                qs = qs.filter(pk__in=set(ids))
            else:
                qs = qs.filter(pk__in=sub.values("order_id"))
    return qs


@dataclass
class Page:
    items: list[Order]
    next_cursor: str | None
    sort: str


def _encode_cursor(value: Any, pk: int) -> str:
    if isinstance(value, dt.datetime):
        value = {"t": value.isoformat()}
    elif isinstance(value, Decimal):
        value = {"d": str(value)}
    raw = json.dumps([value, pk]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[Any, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value, pk = json.loads(raw)
        if isinstance(value, dict) and "t" in value:
            value = dt.datetime.fromisoformat(value["t"])
        elif isinstance(value, dict) and "d" in value:
            value = Decimal(value["d"])
        return value, int(pk)
    except Exception:
        raise DomainError("cursor: not a valid page cursor", field="cursor")


def order_queue(f: OrderFilter, *, sort: str = "-placed_at", cursor: str | None = None, limit: int = 50) -> Page:
    """One page of the queue, keyset-paginated on (sort field, id)."""
    if sort not in SORTS:
        raise DomainError(f"sort: choose one of {', '.join(SORTS)}", field="sort")
    limit = max(1, min(int(limit), 500))
    col, desc = SORTS[sort]
    qs = orders_filtered(f)
    if col == "ship_by":
        qs = qs.filter(ship_by__isnull=False)
    if cursor:
        value, pk = _decode_cursor(cursor)
        if desc:
            qs = qs.filter(Q(**{f"{col}__lt": value}) | Q(**{col: value, "pk__lt": pk}))
        else:
            qs = qs.filter(Q(**{f"{col}__gt": value}) | Q(**{col: value, "pk__gt": pk}))
    order_by = [f"-{col}", "-id"] if desc else [col, "id"]
    items = list(
        qs.select_related("channel", "status").prefetch_related(Prefetch("tags", queryset=Tag.objects.order_by("name")))
        .order_by(*order_by)[: limit + 1]
    )
    next_cursor = None
    if len(items) > limit:
        items = items[:limit]
        last = items[-1]
        next_cursor = _encode_cursor(getattr(last, col), last.pk)
    return Page(items=items, next_cursor=next_cursor, sort=sort)


def access_order(actor, order_id: int, permission: str = "orders.view") -> Order:
    """Fetch an order the actor may see (one step: fetch and check)."""
    if not user_has(actor, permission):
        raise PermissionDenied("You may not do this")
    order = (
        Order.objects.select_related("channel", "status", "customer")
        .prefetch_related("tags", "lines__variant")
        .filter(pk=order_id)
        .first()
    )
    if order is None:
        raise NotFound("Order not found")
    return order


def order_by_external(channel: str, external_id: str) -> Order | None:
    return Order.objects.filter(channel__code=channel, external_id=external_id).first()


def order_events(order: Order) -> QuerySet[OrderEvent]:
    return order.events.select_related("actor").order_by("at", "id")


def statuses() -> list[OrderStatus]:
    return list(OrderStatus.objects.all())


def channels() -> list[Channel]:
    return list(Channel.objects.all())


def tags() -> list[Tag]:
    return list(Tag.objects.order_by("name"))


# --- dashboard ------------------------------------------------------------------------------------


@dataclass
class PeriodFigures:
    days: int
    orders: int
    revenue: Decimal
    prev_orders: int
    prev_revenue: Decimal

    @property
    def aov(self) -> Decimal | None:
        return (self.revenue / self.orders).quantize(Decimal("0.01")) if self.orders else None

    @property
    def orders_change(self) -> float | None:
        return (self.orders - self.prev_orders) / self.prev_orders if self.prev_orders else None

    @property
    def revenue_change(self) -> float | None:
        return float((self.revenue - self.prev_revenue) / self.prev_revenue) if self.prev_revenue else None


def _sales(qs: QuerySet[Order], start: dt.datetime, end: dt.datetime) -> tuple[int, Decimal]:
    agg = qs.filter(placed_at__gte=start, placed_at__lt=end).aggregate(n=Count("id"), s=Sum("total_gross"))
    return agg["n"] or 0, agg["s"] or Decimal("0")


def dashboard_figures(now: dt.datetime | None = None, currency: str = "PLN") -> dict[str, Any]:
    """Orders and gross revenue for today / 7 / 30 days with the previous period, backlog, late, by channel."""
    now = now or timezone.now()
    today = now.astimezone(tz()).date()
    tomorrow = _local_midnight(today + dt.timedelta(days=1))
    sales = Order.objects.exclude(stage=Stage.CANCELLED).filter(currency=currency)
    periods = []
    for days in (1, 7, 30):
        start = _local_midnight(today - dt.timedelta(days=days - 1))
        prev_start = start - (tomorrow - start)
        n, s = _sales(sales, start, tomorrow)
        pn, ps = _sales(sales, prev_start, start)
        periods.append(PeriodFigures(days=days, orders=n, revenue=s, prev_orders=pn, prev_revenue=ps))
    waiting = Order.objects.filter(stage__in=[Stage.READY, Stage.IN_FULFILMENT]).count()
    late = Order.objects.filter(stage__in=OPEN_STAGES, ship_by__lt=now).count()
    attention = Order.objects.filter(needs_attention=True).exclude(stage=Stage.CANCELLED).count()
    start30 = _local_midnight(today - dt.timedelta(days=29))
    by_channel = list(
        sales.filter(placed_at__gte=start30, placed_at__lt=tomorrow)
        .values("channel__code", "channel__name")
        .annotate(orders=Count("id"), revenue=Sum("total_gross"))
        .order_by("-revenue")
    )
    daily = list(
        sales.filter(placed_at__gte=start30, placed_at__lt=tomorrow)
        .annotate(day=TruncDate("placed_at", tzinfo=tz()))
        .values("day", "channel__name")
        .annotate(orders=Count("id"), revenue=Sum("total_gross"))
        .order_by("day", "channel__name")
    )
    return {"periods": periods, "waiting_to_ship": waiting, "late": late, "attention": attention,
            "by_channel": by_channel, "daily": daily, "today": today}
