from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, F, Q, QuerySet, Sum

from zaplecze.core.businesstime import tz

from .models import (
    Location,
    Reservation,
    StockLevel,
    StockMovement,
    Stocktake,
    StocktakeLine,
    Transfer,
    Warehouse,
)


def stock_levels(
    *, q: str = "", warehouse: str = "", low_only: bool = False, sku: str = "", location: str = ""
) -> QuerySet[StockLevel]:
    """Levels by SKU. `location`: a bin code, or "-" for levels without a bin."""
    qs = StockLevel.objects.select_related("variant", "warehouse", "location").annotate(
        avail=F("on_hand") - F("reserved")
    )
    if location == "-":
        qs = qs.filter(location__isnull=True)
    elif location:
        qs = qs.filter(location__code=location.upper())
    if sku:
        qs = qs.filter(variant__sku=sku)
    if q:
        qs = qs.filter(variant__sku__istartswith=q) | qs.filter(variant__ean=q)
    if warehouse:
        qs = qs.filter(warehouse__code=warehouse)
    if low_only:
        qs = qs.filter(avail__lte=0)
    return qs.order_by("variant__sku", "warehouse__priority")


def available_by_variant(variant_ids) -> dict[int, int]:
    """Available (on hand - reserved, over all warehouses) per variant; `variant_ids` None = every variant."""
    levels = (
        StockLevel.objects.all()
        if variant_ids is None
        else StockLevel.objects.filter(variant_id__in=list(variant_ids))
    )
    rows = levels.values("variant_id").annotate(on_hand=Sum("on_hand"), reserved=Sum("reserved"))
    return {r["variant_id"]: r["on_hand"] - r["reserved"] for r in rows}


def reservations_for(reference: str) -> QuerySet[Reservation]:
    return Reservation.objects.filter(reference=reference).select_related("warehouse")


def movements(
    *, variant_id: int | None = None, reference: str = "", limit: int = 200
) -> QuerySet[StockMovement]:
    qs = StockMovement.objects.select_related("variant", "warehouse", "actor")
    if variant_id:
        qs = qs.filter(variant_id=variant_id)
    if reference:
        qs = qs.filter(reference=reference)
    return qs[:limit]


def warehouse_by_code(code: str) -> Warehouse | None:
    return Warehouse.objects.filter(code=code).first()


def access_stock_level(level_id: int) -> StockLevel | None:
    return (
        StockLevel.objects.select_related("variant", "variant__product", "warehouse", "location")
        .filter(pk=level_id)
        .first()
    )


def level_movements(level: StockLevel, limit: int = 200) -> QuerySet[StockMovement]:
    return (
        StockMovement.objects.filter(variant_id=level.variant_id, warehouse_id=level.warehouse_id)
        .select_related("actor")
        .order_by("-at", "-id")[:limit]
    )


def level_reservations(level: StockLevel, limit: int = 200) -> QuerySet[Reservation]:
    return Reservation.objects.filter(
        variant_id=level.variant_id, warehouse_id=level.warehouse_id, state=Reservation.State.ACTIVE
    ).order_by("-created_at", "-id")[:limit]


# --- warehouses and bins ------------------------------------------------------------------------------


def warehouses() -> list[Warehouse]:
    return list(
        Warehouse.objects.annotate(
            bins=Count("locations", distinct=True),
            levels=Count("stock_levels", distinct=True),
        ).order_by("priority", "code")
    )


def access_warehouse(warehouse_id: int) -> Warehouse | None:
    return Warehouse.objects.filter(pk=warehouse_id).first()


def locations(*, warehouse: Warehouse, q: str = "", active: bool | None = None) -> QuerySet[Location]:
    qs = Location.objects.filter(warehouse=warehouse).annotate(levels=Count("stock_levels"))
    if q:
        qs = qs.filter(Q(code__istartswith=q) | Q(name__icontains=q))
    if active is not None:
        qs = qs.filter(active=active)
    return qs.order_by("sort_order", "code")


def active_locations(warehouse_id: int | None) -> list[Location]:
    """Active bins of a warehouse by pick order; None: one entry per distinct bin code of any warehouse."""
    if warehouse_id is None:
        seen, out = set(), []
        for loc in Location.objects.filter(active=True).order_by("code")[:1000]:
            if loc.code not in seen:
                seen.add(loc.code)
                out.append(loc)
        return out
    return list(
        Location.objects.filter(warehouse_id=warehouse_id, active=True).order_by("sort_order", "code")
    )


def access_location(location_id: int) -> Location | None:
    return Location.objects.select_related("warehouse").filter(pk=location_id).first()


def location_by_code(warehouse: Warehouse, code: str) -> Location | None:
    return Location.objects.filter(warehouse=warehouse, code=(code or "").strip().upper()).first()


# --- the ledger -----------------------------------------------------------------------------------------


@dataclass
class MovementFilter:
    kind: list[str]
    reason: str = ""
    reference: str = ""
    user: str = ""
    warehouse: str = ""
    sku: str = ""
    date_from: dt.date | None = None
    date_to: dt.date | None = None

    @classmethod
    def from_params(cls, params) -> MovementFilter:
        def day(name: str) -> dt.date | None:
            value = (params.get(name) or "").strip()
            try:
                return dt.date.fromisoformat(value) if value else None
            except ValueError:
                return None

        kinds = params.getlist("kind") if hasattr(params, "getlist") else params.get("kind") or []
        if isinstance(kinds, str):
            kinds = [kinds]
        kinds = [k for part in kinds for k in str(part).split(",") if k in StockMovement.Kind.values]
        return cls(
            kind=kinds,
            reason=(params.get("reason") or "").strip()[:100],
            reference=(params.get("reference") or "").strip()[:100],
            user=(params.get("user") or "").strip()[:150],
            warehouse=(params.get("warehouse") or "").strip()[:20],
            sku=(params.get("sku") or "").strip()[:64],
            date_from=day("date_from"),
            date_to=day("date_to"),
        )

    @property
    def active(self) -> bool:
        return bool(
            self.kind or self.reason or self.reference or self.user or self.warehouse or self.sku
        ) or bool(self.date_from or self.date_to)


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), tzinfo=tz())


def movements_filtered(f: MovementFilter) -> QuerySet[StockMovement]:
    """Movements matching the filter: kinds, reason (contains), reference (begins with), user (login, or
    "system" for movements without a user), warehouse code, SKU or EAN (exact), dates in Europe/Warsaw."""
    qs = StockMovement.objects.all()
    if f.kind:
        qs = qs.filter(kind__in=f.kind)
    if f.reason:
        qs = qs.filter(reason__icontains=f.reason)
    if f.reference:
        qs = qs.filter(reference__startswith=f.reference)
    if f.user:
        qs = qs.filter(actor__isnull=True) if f.user == "system" else qs.filter(actor__username=f.user)
    if f.warehouse:
        qs = qs.filter(warehouse__code=f.warehouse.upper())
    if f.sku:
        qs = qs.filter(Q(variant__sku=f.sku) | Q(variant__ean=f.sku))
    if f.date_from:
        qs = qs.filter(at__gte=_midnight(f.date_from))
    if f.date_to:
        qs = qs.filter(at__lt=_midnight(f.date_to + dt.timedelta(days=1)))
    return qs


@dataclass
class MovementPage:
    items: list[StockMovement]
    next_cursor: str | None


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _cursor(m: StockMovement) -> str:
    return f"{(m.at - _EPOCH) // dt.timedelta(microseconds=1)}_{m.pk}"


def movement_page(f: MovementFilter, *, cursor: str | None = None, limit: int = 50) -> MovementPage:
    """Newest first, keyset-paginated on (at, id): the cursor is the last row's "<µs since epoch>_<id>"
    (URL-safe as it is)."""
    qs = movements_filtered(f)
    if cursor:
        micros, _sep, pk = cursor.partition("_")
        try:
            at = _EPOCH + dt.timedelta(microseconds=int(micros))
            qs = qs.filter(Q(at__lt=at) | Q(at=at, id__lt=int(pk)))
        except (ValueError, OverflowError):
            pass
    rows = list(qs.select_related("variant", "warehouse", "actor").order_by("-at", "-id")[: limit + 1])
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = _cursor(rows[-1])
    return MovementPage(rows, next_cursor)


def movement_export_rows(f: MovementFilter):
    """Rows for the CSV export, streamed (the whole filtered ledger, newest first)."""
    qs = movements_filtered(f).order_by("-at", "-id")
    values = qs.values_list(
        "at",
        "variant__sku",
        "variant__name",
        "warehouse__code",
        "kind",
        "quantity",
        "on_hand_after",
        "reason",
        "reference",
        "actor__username",
    )
    zone = tz()
    for row in values.iterator(chunk_size=2000):
        yield [row[0].astimezone(zone).strftime("%Y-%m-%d %H:%M:%S"), *row[1:9], row[9] or ""]


# --- stocktakes -----------------------------------------------------------------------------------------


def stocktakes(*, status: str = "", warehouse: str = "", limit: int = 200) -> QuerySet[Stocktake]:
    qs = Stocktake.objects.select_related("warehouse", "location", "category", "created_by").annotate(
        n_lines=Count("lines"), n_counted=Count("lines", filter=Q(lines__counted__isnull=False))
    )
    if status:
        qs = qs.filter(status=status)
    if warehouse:
        qs = qs.filter(warehouse__code=warehouse)
    return qs.order_by("-created_at", "-id")[:limit]


def access_stocktake(stocktake_id: int) -> Stocktake | None:
    return (
        Stocktake.objects.select_related("warehouse", "location", "category", "created_by", "posted_by")
        .filter(pk=stocktake_id)
        .first()
    )


def stocktake_lines(st: Stocktake, *, only: str = "", q: str = "") -> QuerySet[StocktakeLine]:
    """only: "" all, "counted", "uncounted", "differences"."""
    qs = st.lines.select_related("variant", "location", "counted_by").order_by("variant__sku")
    if only == "counted":
        qs = qs.filter(counted__isnull=False)
    elif only == "uncounted":
        qs = qs.filter(counted__isnull=True)
    elif only == "differences":
        qs = qs.filter(counted__isnull=False).exclude(counted=F("expected"))
    if q:
        qs = qs.filter(Q(variant__sku__istartswith=q) | Q(variant__ean=q) | Q(variant__name__icontains=q))
    return qs


@dataclass
class StocktakeSummary:
    lines: int
    counted: int
    differences: int
    units_gained: int
    units_lost: int
    value_gained: Decimal
    value_lost: Decimal
    without_cost: int

    @property
    def value_net(self) -> Decimal:
        return self.value_gained - self.value_lost


def stocktake_summary(st: Stocktake) -> StocktakeSummary:
    """Counts and differences, valued at each variant's cost price (net); lines without a cost are counted."""
    s = StocktakeSummary(0, 0, 0, 0, 0, Decimal(0), Decimal(0), 0)
    rows = st.lines.values_list("counted", "expected", "variant__cost_price")
    for counted, expected, cost in rows.iterator(chunk_size=2000):
        s.lines += 1
        if counted is None:
            continue
        s.counted += 1
        d = counted - expected
        if not d:
            continue
        s.differences += 1
        if cost is None:
            s.without_cost += 1
        if d > 0:
            s.units_gained += d
            s.value_gained += d * (cost or 0)
        else:
            s.units_lost += -d
            s.value_lost += -d * (cost or 0)
    return s


def count_sheet_rows(st: Stocktake) -> list[dict]:
    """A blank count sheet: one row per line of the stocktake (by bin, then SKU), quantity empty."""
    rows = st.lines.select_related("variant", "location").order_by(
        F("location__sort_order").asc(nulls_last=True), "location__code", "variant__sku"
    )
    return [
        {
            "sku": ln.variant.sku,
            "ean": ln.variant.ean,
            "name": ln.variant.name,
            "location": ln.location.code if ln.location_id else "",
            "quantity": None,
        }
        for ln in rows
    ]


# --- transfers --------------------------------------------------------------------------------------------


def transfers(*, status: str = "", warehouse: str = "", limit: int = 200) -> QuerySet[Transfer]:
    qs = Transfer.objects.select_related("source", "destination", "created_by").annotate(
        n_lines=Count("lines"), units=Sum("lines__quantity")
    )
    if status:
        qs = qs.filter(status=status)
    if warehouse:
        qs = qs.filter(Q(source__code=warehouse) | Q(destination__code=warehouse))
    return qs.order_by("-created_at", "-id")[:limit]


def access_transfer(transfer_id: int) -> Transfer | None:
    return (
        Transfer.objects.select_related("source", "destination", "created_by").filter(pk=transfer_id).first()
    )


def transfer_lines_with_stock(t: Transfer) -> list:
    lines = list(t.lines.select_related("variant").order_by("id"))
    levels = {
        lv.variant_id: lv
        for lv in StockLevel.objects.filter(
            warehouse_id=t.source_id, variant_id__in=[ln.variant_id for ln in lines]
        )
    }
    for ln in lines:
        lv = levels.get(ln.variant_id)
        ln.available = lv.available if lv else 0
    return lines
