"""Reads of orders: the queue (filters, text search, keyset pagination), one order, dashboard figures."""

from __future__ import annotations

import base64
import datetime as dt
import json
from dataclasses import dataclass, field, fields
from decimal import Decimal
from typing import Any

from django.db.models import Count, F, OuterRef, Prefetch, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Concat, TruncDate
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
SEARCH_ID_LIMIT = 5000  # text search / tag matches up to this many are fetched as an id list
DENSE_ROWS = 5000  # a multi-value filter matching more rows than this walks the sort index instead


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
            out[fd.name] = (
                ",".join(v) if isinstance(v, list) else (v.isoformat() if isinstance(v, dt.date) else v)
            )
        return out


def _as_list(v) -> list:
    if v is None:
        return []
    return list(v) if isinstance(v, list | tuple) else [v]


def _local_midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=tz())


def _search_bounds(token: str) -> tuple[str, str]:
    return token, token[:-1] + chr(ord(token[-1]) + 1)


def _has_more_than(qs: QuerySet, n: int) -> bool:
    """Whether `qs` has more than n rows, reading at most n + 1 index entries (never a full count)."""
    return qs.order_by().values("pk")[n : n + 1].exists()


def _one_of(
    qs: QuerySet[Order], column: str, values: list, *, by_code: type | None = None
) -> QuerySet[Order]:
    """`column IN values` for an indexed column of the queue, written so that a page stays cheap.
    `by_code`: the values are codes of this related model (status, channel), `column` its foreign key.

    One value: equality (a code becomes an uncorrelated subquery, which the database evaluates once, so
    the (column, placed_at, id) index still returns rows already in queue order -- a join here made
    PostgreSQL walk every order). Several values that match many rows (> DENSE_ROWS): the condition is
    wrapped in an expression no index can serve, so the database walks the sort index and stops at the
    page's end instead of sorting every match (1M orders, two stages: 7 s -> a few ms)."""
    values = list(dict.fromkeys(values))
    if len(values) == 1:
        if by_code:
            return qs.filter(
                **{column: Subquery(by_code.objects.filter(code=values[0]).order_by().values("pk")[:1])}
            )
        return qs.filter(**{column: values[0]})
    if by_code:
        values = list(by_code.objects.filter(code__in=values).values_list("pk", flat=True))
    if not _has_more_than(Order.objects.filter(**{f"{column}__in": values}), DENSE_ROWS):
        return qs.filter(**{f"{column}__in": values})
    unindexed = (F(column) + Value(0)) if by_code else Concat(F(column), Value(""))
    return qs.alias(**{f"_{column}_any": unindexed}).filter(**{f"_{column}_any__in": values})


def _matching(qs: QuerySet[Order], related: QuerySet) -> QuerySet[Order]:
    """Orders with a row in `related` (search tokens, tag links; it has an `order_id`). Few matches: an
    id list, sorted cheaply. Many: a correlated scalar subquery per order (not EXISTS, which PostgreSQL
    turns into a join and, misjudging how many rows match, sorts every match), so the database walks
    the sort index, probes each order with one index lookup and stops at the page's end."""
    ids = list(related.values_list("order_id", flat=True)[: SEARCH_ID_LIMIT + 1])
    if len(ids) <= SEARCH_ID_LIMIT:
        return qs.filter(pk__in=set(ids))
    name = f"_match_{len(qs.query.annotations)}"
    probe = Subquery(related.filter(order_id=OuterRef("pk")).values("order_id")[:1])
    return qs.alias(**{name: probe}).filter(**{f"{name}__isnull": False})


def orders_filtered(f: OrderFilter) -> QuerySet[Order]:
    qs = Order.objects.all()
    if f.status:
        qs = _one_of(qs, "status_id", f.status, by_code=OrderStatus)
    if f.stage:
        qs = _one_of(qs, "stage", f.stage)
    if f.channel:
        qs = _one_of(qs, "channel_id", f.channel, by_code=Channel)
    if f.payment_status:
        qs = _one_of(qs, "payment_status", f.payment_status)
    if f.payment_method:
        qs = qs.filter(payment_method__in=f.payment_method)
    if f.delivery_method:
        qs = qs.filter(delivery_method__in=f.delivery_method)
    for name in f.tag:
        qs = _matching(qs, Order.tags.through.objects.filter(tag__name=name))
    if f.date_from:
        qs = qs.filter(placed_at__gte=_local_midnight(f.date_from))
    if f.date_to:
        qs = qs.filter(placed_at__lt=_local_midnight(f.date_to + dt.timedelta(days=1)))
    if f.needs_attention is not None:
        qs = qs.filter(needs_attention=f.needs_attention)
    if f.late is not None:
        now = timezone.now()
        if f.late:
            qs = _one_of(qs.filter(ship_by__lt=now), "stage", list(OPEN_STAGES))
        else:
            qs = qs.exclude(stage__in=OPEN_STAGES, ship_by__lt=now)
    if f.q:
        for token in f.q.lower().split()[:5]:
            token = token.strip("#")[:64]
            if not token:
                continue
            lo, hi = _search_bounds(token)
            qs = _matching(
                qs, OrderSearchToken.objects.filter(token__gte=lo, token__lt=hi, token__startswith=token)
            )
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


def order_queue(
    f: OrderFilter, *, sort: str = "-placed_at", cursor: str | None = None, limit: int = 50
) -> Page:
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
        # A cursor is client input: its value must fit the sort column, or the query would fail (500).
        fits = (
            (isinstance(value, Decimal) and value.is_finite() and abs(value) < 10**18)
            if col == "total_gross"
            else (isinstance(value, dt.datetime) and value.tzinfo is not None)
        )
        if not fits or not 0 < pk < 2**53:
            raise DomainError("cursor: not a valid page cursor", field="cursor")
        # (col, id) < (value, pk), written with a plain range on col first so that an index on col seeks
        # straight to the page instead of skipping every row before it.
        if desc:
            qs = qs.filter(
                Q(**{f"{col}__lte": value}), Q(**{f"{col}__lt": value}) | Q(**{col: value, "pk__lt": pk})
            )
        else:
            qs = qs.filter(
                Q(**{f"{col}__gte": value}), Q(**{f"{col}__gt": value}) | Q(**{col: value, "pk__gt": pk})
            )
    order_by = [f"-{col}", "-id"] if desc else [col, "id"]
    items = list(
        qs.select_related("channel", "status")
        .prefetch_related(Prefetch("tags", queryset=Tag.objects.order_by("name")))
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
    return {
        "periods": periods,
        "waiting_to_ship": waiting,
        "late": late,
        "attention": attention,
        "by_channel": by_channel,
        "daily": daily,
        "today": today,
    }
