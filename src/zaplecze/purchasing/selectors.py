"""Purchasing reads: suppliers, purchase orders, overdue POs, sales history for the forecast, stock position
(available + on order) and the "to reorder" suggestions with their computation."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Count, F, Min, Q, QuerySet, Sum
from django.db.models.functions import TruncDate

from zaplecze.catalog.models import Variant, VatRate
from zaplecze.core.businesstime import local_today, tz
from zaplecze.core.errors import NotFound
from zaplecze.inventory.models import StockLevel, StockMovement

from . import forecast
from .models import (
    CENT,
    OPEN_STATUSES,
    POStatus,
    PurchaseOrder,
    PurchaseOrderLine,
    PurchasingSettings,
    ReorderParameter,
    Supplier,
    SupplierItem,
)

# --- suppliers ----------------------------------------------------------------------------------------


def suppliers(*, q: str = "", active: bool | None = None) -> QuerySet[Supplier]:
    qs = Supplier.objects.annotate(
        n_items=Count("items", distinct=True),
        n_open=Count("purchase_orders", filter=Q(purchase_orders__status__in=OPEN_STATUSES), distinct=True),
    )
    if q:
        qs = qs.filter(Q(name__icontains=q) | Q(nip__icontains=q.replace("-", "")) | Q(email__icontains=q))
    if active is not None:
        qs = qs.filter(active=active)
    return qs.order_by("name", "id")


def access_supplier(supplier_id: int) -> Supplier:
    supplier = Supplier.objects.filter(pk=supplier_id).first()
    if supplier is None:
        raise NotFound("Supplier not found")
    return supplier


def supplier_items(supplier_id: int) -> QuerySet[SupplierItem]:
    return (
        SupplierItem.objects.filter(supplier_id=supplier_id)
        .select_related("variant", "supplier")
        .order_by("variant__sku")
    )


def access_supplier_item(item_id: int) -> SupplierItem:
    item = SupplierItem.objects.select_related("variant", "supplier").filter(pk=item_id).first()
    if item is None:
        raise NotFound("Supplier item not found")
    return item


def chosen_supplier_items(variant_ids) -> dict[int, SupplierItem]:
    """The supplier each variant is bought from: the preferred one, else the cheapest active one."""
    out: dict[int, SupplierItem] = {}
    rows = (
        SupplierItem.objects.filter(variant_id__in=list(variant_ids), supplier__active=True)
        .select_related("supplier")
        .order_by("variant_id", "-preferred", "unit_cost", "id")
    )
    for item in rows:
        out.setdefault(item.variant_id, item)
    return out


# --- purchase orders ----------------------------------------------------------------------------------


@dataclass
class POFilter:
    q: str = ""
    status: str = ""
    supplier: int | None = None
    overdue: bool = False

    @classmethod
    def from_params(cls, params) -> POFilter:
        status = params.get("status", "")
        supplier = params.get("supplier", "")
        return cls(
            q=(params.get("q") or "").strip()[:100],
            status=status if status in POStatus.values or status == "open" else "",
            supplier=int(supplier) if str(supplier).isdigit() else None,
            overdue=params.get("overdue") in ("1", "true", "on"),
        )


def purchase_orders(f: POFilter | None = None, *, today: dt.date | None = None) -> QuerySet[PurchaseOrder]:
    f = f or POFilter()
    qs = PurchaseOrder.objects.select_related("supplier", "warehouse").annotate(
        n_lines=Count("lines", distinct=True),
        ordered=Sum("lines__quantity"),
        received=Sum("lines__received_qty"),
    )
    if f.q:
        qs = qs.filter(
            Q(number__icontains=f.q) | Q(supplier__name__icontains=f.q) | Q(lines__sku__iexact=f.q)
        ).distinct()
    if f.status == "open":
        qs = qs.filter(status__in=OPEN_STATUSES)
    elif f.status:
        qs = qs.filter(status=f.status)
    if f.supplier:
        qs = qs.filter(supplier_id=f.supplier)
    if f.overdue:
        qs = qs.filter(status__in=OPEN_STATUSES, expected_date__lt=today or local_today())
    return qs.order_by("-created_at", "-id")


def access_purchase_order(po_id: int) -> PurchaseOrder:
    po = (
        PurchaseOrder.objects.select_related("supplier", "warehouse", "created_by", "email")
        .filter(pk=po_id)
        .first()
    )
    if po is None:
        raise NotFound("Purchase order not found")
    return po


def overdue_purchase_orders(*, today: dt.date | None = None) -> QuerySet[PurchaseOrder]:
    """Open POs (sent or partially received) whose expected delivery date has passed: dashboard-ready."""
    return (
        PurchaseOrder.objects.filter(status__in=OPEN_STATUSES, expected_date__lt=today or local_today())
        .select_related("supplier", "warehouse")
        .order_by("expected_date", "id")
    )


@dataclass
class Totals:
    net: Decimal
    vat: Decimal
    gross: Decimal
    by_rate: list[tuple[str, Decimal, Decimal]]  # (rate label, net, vat)


def po_totals(lines) -> Totals:
    """Net per line (rounded to grosze), VAT per rate on the sum of its lines' net (as on an invoice)."""
    net_by_rate: dict[str, Decimal] = defaultdict(Decimal)
    for line in lines:
        net_by_rate[line.vat_rate] += line.net
    rows = []
    for rate in sorted(net_by_rate, key=lambda r: VatRate.values.index(r) if r in VatRate.values else 99):
        net = net_by_rate[rate]
        vat = (net * VatRate.fraction(rate)).quantize(CENT, ROUND_HALF_UP)
        rows.append((VatRate(rate).label if rate in VatRate.values else rate, net, vat))
    net = sum((r[1] for r in rows), Decimal(0))
    vat = sum((r[2] for r in rows), Decimal(0))
    return Totals(net=net, vat=vat, gross=net + vat, by_rate=rows)


def po_lines(po: PurchaseOrder) -> list[PurchaseOrderLine]:
    return list(po.lines.select_related("variant").order_by("id"))


# --- sales history and stock position -----------------------------------------------------------------


def _local_midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0, 0), tzinfo=tz())


def daily_sales(
    *, variant_ids, today: dt.date, days: int
) -> dict[tuple[int, int | None], dict[dt.date, int]]:
    """Units sold per local day (sale movements, sign flipped), per (variant, warehouse) and per (variant, None)
    for all warehouses together, over the `days` days before `today`."""
    start = today - dt.timedelta(days=days)
    rows = (
        StockMovement.objects.filter(
            kind=StockMovement.Kind.SALE,
            variant_id__in=list(variant_ids),
            at__gte=_local_midnight(start),
            at__lt=_local_midnight(today),
        )
        .annotate(day=TruncDate("at", tzinfo=tz()))
        .values("variant_id", "warehouse_id", "day")
        .annotate(q=Sum("quantity"))
    )
    out: dict[tuple[int, int | None], dict[dt.date, int]] = defaultdict(lambda: defaultdict(int))
    for r in rows:
        units = -int(r["q"] or 0)
        out[(r["variant_id"], r["warehouse_id"])][r["day"]] += units
        out[(r["variant_id"], None)][r["day"]] += units
    return out


def first_movement_days(*, variant_ids) -> dict[tuple[int, int | None], dt.date]:
    """The local day of each variant's first stock movement (per warehouse and overall)."""
    out: dict[tuple[int, int | None], dt.date] = {}
    rows = (
        StockMovement.objects.filter(variant_id__in=list(variant_ids))
        .values("variant_id", "warehouse_id")
        .annotate(first=Min("at"))
    )
    for r in rows:
        day = r["first"].astimezone(tz()).date()
        out[(r["variant_id"], r["warehouse_id"])] = day
        key = (r["variant_id"], None)
        out[key] = min(out.get(key, day), day)
    return out


def available(variant_ids) -> dict[tuple[int, int | None], int]:
    out: dict[tuple[int, int | None], int] = defaultdict(int)
    rows = StockLevel.objects.filter(variant_id__in=list(variant_ids)).values_list(
        "variant_id", "warehouse_id", "on_hand", "reserved"
    )
    for v, w, on_hand, reserved in rows:
        out[(v, w)] += on_hand - reserved
        out[(v, None)] += on_hand - reserved
    return out


def on_order(variant_ids) -> dict[tuple[int, int | None], int]:
    """Units ordered and not yet received on open POs (sent or partially received)."""
    out: dict[tuple[int, int | None], int] = defaultdict(int)
    rows = (
        PurchaseOrderLine.objects.filter(
            variant_id__in=list(variant_ids),
            purchase_order__status__in=OPEN_STATUSES,
            received_qty__lt=F("quantity"),
        )
        .values_list("variant_id", "purchase_order__warehouse_id")
        .annotate(q=Sum(F("quantity") - F("received_qty")))
    )
    for v, w, q in rows:
        out[(v, w)] += int(q or 0)
        out[(v, None)] += int(q or 0)
    return out


def in_drafts(variant_ids) -> dict[int, list[tuple[int, str]]]:
    out: dict[int, list[tuple[int, str]]] = defaultdict(list)
    rows = PurchaseOrderLine.objects.filter(
        variant_id__in=list(variant_ids), purchase_order__status=POStatus.DRAFT
    ).values_list("variant_id", "purchase_order_id", "purchase_order__number")
    for v, po_id, number in rows:
        out[v].append((po_id, number))
    return out


# --- reorder parameters and suggestions ---------------------------------------------------------------


def purchasing_settings() -> PurchasingSettings:
    obj, _created = PurchasingSettings.objects.get_or_create(pk=1)
    return obj


@dataclass
class ParamRow:
    param: ReorderParameter
    available: int
    on_order: int
    days_of_cover: float | None  # None: no demand forecast

    @property
    def variant(self) -> Variant:
        return self.param.variant


def parameters(*, q: str = "", method: str = "", at_risk: bool = False, limit: int = 500) -> list[ParamRow]:
    qs = ReorderParameter.objects.select_related("variant", "warehouse")
    if q:
        qs = qs.filter(Q(variant__sku__icontains=q) | Q(variant__ean=q) | Q(variant__name__icontains=q))
    if method:
        qs = qs.filter(method=method)
    params = list(qs.order_by("variant__sku", "warehouse_id")[: limit * (4 if at_risk else 1)])
    ids = {p.variant_id for p in params}
    avail, ordered = available(ids), on_order(ids)
    rows = []
    for p in params:
        a = avail.get((p.variant_id, p.warehouse_id), 0)
        o = ordered.get((p.variant_id, p.warehouse_id), 0)
        rate = float(p.daily_rate)
        row = ParamRow(p, a, o, round(max(a, 0) / rate, 1) if rate > 0 else None)
        if at_risk and not (p.reorder_point > 0 and a + o <= p.reorder_point):
            continue
        rows.append(row)
    return rows[:limit]


def access_parameter(param_id: int) -> ParamRow:
    p = ReorderParameter.objects.select_related("variant", "warehouse").filter(pk=param_id).first()
    if p is None:
        raise NotFound("Reorder parameters not found")
    a = available([p.variant_id]).get((p.variant_id, p.warehouse_id), 0)
    o = on_order([p.variant_id]).get((p.variant_id, p.warehouse_id), 0)
    rate = float(p.daily_rate)
    return ParamRow(p, a, o, round(max(a, 0) / rate, 1) if rate > 0 else None)


@dataclass
class SuggestionRow:
    param: ReorderParameter
    variant: Variant
    item: SupplierItem | None
    available: int
    on_order: int
    quantity: int
    steps: list[dict] = field(default_factory=list)
    drafts: list[tuple[int, str]] = field(default_factory=list)

    @property
    def line_net(self) -> Decimal | None:
        if self.item is None:
            return None
        return (self.item.unit_cost * self.quantity).quantize(CENT, ROUND_HALF_UP)


@dataclass
class SupplierGroup:
    supplier: Supplier | None
    rows: list[SuggestionRow]

    @property
    def total_net(self) -> Decimal:
        return sum((r.line_net or Decimal(0) for r in self.rows), Decimal(0))


def reorder_suggestions(
    *,
    supplier_id: int | None = None,
    param_ids: list[int] | None = None,
    include_all: bool = False,
    q: str = "",
) -> list[SuggestionRow]:
    """Variants whose available + on order is at or below the reorder point (reorder point above 0), each with
    the quantity to order and how it was computed. `include_all`: the given parameters whatever their
    position (quantity 0 when not needed)."""
    conf = purchasing_settings()
    qs = ReorderParameter.objects.select_related("variant", "warehouse").filter(variant__active=True)
    if param_ids is not None:
        qs = qs.filter(pk__in=param_ids)
    else:
        qs = qs.filter(reorder_point__gt=0)
    if q:
        qs = qs.filter(Q(variant__sku__icontains=q) | Q(variant__ean=q) | Q(variant__name__icontains=q))
    params = list(qs.order_by("variant__sku", "warehouse_id"))
    ids = {p.variant_id for p in params}
    avail, ordered, items, drafts = available(ids), on_order(ids), chosen_supplier_items(ids), in_drafts(ids)
    rows: list[SuggestionRow] = []
    for p in params:
        item = items.get(p.variant_id)
        if supplier_id is not None and (item is None or item.supplier_id != supplier_id):
            continue
        a = avail.get((p.variant_id, p.warehouse_id), 0)
        o = ordered.get((p.variant_id, p.warehouse_id), 0)
        s = forecast.suggest_quantity(
            available=a,
            on_order=o,
            reorder_point=p.reorder_point,
            daily_rate=float(p.daily_rate),
            review_days=conf.review_days,
            min_order_qty=item.min_order_qty if item else 1,
            pack_size=item.pack_size if item else 1,
        )
        if s.quantity == 0 and not include_all:
            continue
        steps = list(s.steps)
        if item is not None:
            steps.insert(
                0,
                {
                    "code": "supplier",
                    "params": {
                        "supplier": item.supplier.name,
                        "preferred": item.preferred,
                        "moq": item.min_order_qty,
                        "pack": item.pack_size,
                        "cost": str(item.unit_cost),
                        "currency": item.supplier.currency,
                    },
                },
            )
        rows.append(SuggestionRow(p, p.variant, item, a, o, s.quantity, steps, drafts.get(p.variant_id, [])))
    return rows


def suggestions_by_supplier(rows: list[SuggestionRow]) -> list[SupplierGroup]:
    groups: dict[int | None, list[SuggestionRow]] = defaultdict(list)
    suppliers_by_id: dict[int, Supplier] = {}
    for r in rows:
        key = r.item.supplier_id if r.item else None
        if r.item:
            suppliers_by_id[r.item.supplier_id] = r.item.supplier
        groups[key].append(r)
    ordered = sorted((k for k in groups if k is not None), key=lambda k: suppliers_by_id[k].name.lower())
    out = [SupplierGroup(suppliers_by_id[k], groups[k]) for k in ordered]
    if None in groups:
        out.append(SupplierGroup(None, groups[None]))
    return out


def receiving_lines(po: PurchaseOrder) -> list[PurchaseOrderLine]:
    return list(po.lines.select_related("variant").order_by("id"))
