"""Reads of fulfilment: the pick sheet (a pick list's lines grouped by warehouse and bin), ready orders to
choose from, and the packing state of an order."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.utils.translation import gettext as _

from zaplecze.catalog.models import Variant
from zaplecze.core.errors import NotFound
from zaplecze.core.permissions import user_has
from zaplecze.inventory.models import Location, Reservation, StockLevel, Warehouse
from zaplecze.orders.models import Order, OrderLine, Stage
from zaplecze.shipping.models import Carrier

from .models import Packing, PackingScan, PickList, PickListOrder, PickListStatus, ScanOutcome

# Orders a pick list may hold: ready to fulfil, or already in fulfilment (picking, packed).
PICKABLE_STAGES = (Stage.READY, Stage.IN_FULFILMENT)
CHUNK = 500  # ids per IN (...) query


def _chunks(items: list, size: int = CHUNK):
    for i in range(0, len(items), size):
        yield items[i : i + size]


# --- the pick sheet -----------------------------------------------------------------------------------


@dataclass
class OrderNeed:
    order_id: int
    number: str
    quantity: int


@dataclass
class PickRow:
    key: str
    sku: str
    ean: str
    name: str
    quantity: int = 0
    orders: list[OrderNeed] = field(default_factory=list)
    picked: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "sku": self.sku,
            "ean": self.ean,
            "name": self.name,
            "quantity": self.quantity,
            "picked": self.picked,
            "orders": [
                {"order_id": o.order_id, "number": o.number, "quantity": o.quantity} for o in self.orders
            ],
        }


@dataclass
class PickGroup:
    warehouse_id: int | None
    warehouse_code: str
    warehouse_name: str
    location_id: int | None
    location_code: str
    location_name: str
    rows: list[PickRow] = field(default_factory=list)

    @property
    def quantity(self) -> int:
        return sum(r.quantity for r in self.rows)

    def as_dict(self) -> dict[str, Any]:
        return {
            "warehouse": self.warehouse_code or None,
            "warehouse_name": self.warehouse_name,
            "location": self.location_code or None,
            "location_name": self.location_name,
            "quantity": self.quantity,
            "rows": [r.as_dict() for r in self.rows],
        }


@dataclass
class SheetOrder:
    id: int
    number: str
    channel: str
    delivery_method: str
    status: str
    stage: str
    lines: int = 0
    units: int = 0


@dataclass
class SkuTotal:
    sku: str
    name: str
    quantity: int


@dataclass
class PickSheet:
    orders: list[SheetOrder]
    groups: list[PickGroup]
    totals: list[SkuTotal]
    unreserved: int = 0  # order lines with no stock reservation (listed under "not reserved")

    @property
    def units(self) -> int:
        return sum(g.quantity for g in self.groups)

    @property
    def rows(self) -> int:
        return sum(len(g.rows) for g in self.groups)

    @property
    def split_totals(self) -> list[SkuTotal]:
        """Totals of the SKUs picked from more than one place (elsewhere a row's quantity is the SKU's total)."""
        seen: dict[str, int] = defaultdict(int)
        for g in self.groups:
            for r in g.rows:
                seen[r.sku] += 1
        return [t for t in self.totals if seen[t.sku] > 1]

    @property
    def picked_rows(self) -> int:
        return sum(1 for g in self.groups for r in g.rows if r.picked)

    def as_dict(self) -> dict[str, Any]:
        return {
            "orders": [
                {
                    "id": o.id,
                    "number": o.number,
                    "channel": o.channel,
                    "delivery_method": o.delivery_method,
                    "status": o.status,
                    "stage": o.stage,
                    "lines": o.lines,
                    "units": o.units,
                }
                for o in self.orders
            ],
            "groups": [g.as_dict() for g in self.groups],
            "totals": [{"sku": t.sku, "name": t.name, "quantity": t.quantity} for t in self.totals],
            "units": self.units,
            "unreserved_lines": self.unreserved,
        }


def row_key(warehouse_id: int | None, location_id: int | None, sku: str) -> str:
    return f"{warehouse_id or 0}:{location_id or 0}:{sku}"


def _line_warehouses(line_ids: list[int]) -> dict[int, list[tuple[int, int]]]:
    """order line id -> [(warehouse id, units)] from its reservations (active first; issued ones still say
    where the goods came from; released ones are ignored)."""
    out: dict[int, list[tuple[int, int]]] = defaultdict(list)
    refs = [f"order-line:{pk}" for pk in line_ids]
    rows = []
    for chunk in _chunks(refs):
        rows.extend(
            Reservation.objects.filter(reference__in=chunk)
            .exclude(state=Reservation.State.RELEASED)
            .values_list("reference", "warehouse_id", "quantity", "state")
        )
    active = {r[0] for r in rows if r[3] == Reservation.State.ACTIVE}
    for ref, wh, qty, state in rows:
        if ref in active and state != Reservation.State.ACTIVE:
            continue
        out[int(ref.rpartition(":")[2])].append((wh, qty))
    return out


def pick_sheet(order_ids: list[int], picked: set[str] | frozenset[str] = frozenset()) -> PickSheet:
    """The lines of these orders grouped by warehouse (priority order) and bin (pick-walk order: the bin's
    sort order, then its code; "no location" last in each warehouse; lines without a reservation last of
    all), one row per SKU with its total and which orders need how many."""
    order_ids = list(dict.fromkeys(order_ids))
    position = {pk: i for i, pk in enumerate(order_ids)}
    orders: dict[int, SheetOrder] = {}
    for chunk in _chunks(order_ids):
        for o in Order.objects.filter(pk__in=chunk).values(
            "pk", "number", "channel__code", "delivery_method", "status__code", "stage"
        ):
            orders[o["pk"]] = SheetOrder(
                id=o["pk"],
                number=o["number"],
                channel=o["channel__code"],
                delivery_method=o["delivery_method"],
                status=o["status__code"],
                stage=o["stage"],
            )
    lines = []
    for chunk in _chunks(order_ids):
        lines.extend(
            OrderLine.objects.filter(order_id__in=chunk).values(
                "pk", "order_id", "variant_id", "sku", "ean", "name", "quantity", "variant__ean", "position"
            )
        )
    lines.sort(key=lambda ln: (position.get(ln["order_id"], 0), ln["position"], ln["pk"]))
    where = _line_warehouses([ln["pk"] for ln in lines])
    variant_ids = sorted({ln["variant_id"] for ln in lines if ln["variant_id"]})
    bins: dict[tuple[int, int], int | None] = {}
    for chunk in _chunks(variant_ids):
        for vid, wh, loc in StockLevel.objects.filter(variant_id__in=chunk).values_list(
            "variant_id", "warehouse_id", "location_id"
        ):
            bins[(vid, wh)] = loc
    warehouses = {w.pk: w for w in Warehouse.objects.all()}
    location_ids = {loc for loc in bins.values() if loc}
    locations = {loc.pk: loc for loc in Location.objects.filter(pk__in=location_ids)} if location_ids else {}

    groups: dict[tuple[int | None, int | None], PickGroup] = {}
    rows: dict[tuple[tuple[int | None, int | None], str], PickRow] = {}
    totals: dict[str, SkuTotal] = {}
    unreserved = 0

    def add(wh_id: int | None, ln: dict, qty: int) -> None:
        loc_id = bins.get((ln["variant_id"], wh_id)) if wh_id and ln["variant_id"] else None
        gkey = (wh_id, loc_id)
        group = groups.get(gkey)
        if group is None:
            wh = warehouses.get(wh_id) if wh_id else None
            loc = locations.get(loc_id) if loc_id else None
            group = groups[gkey] = PickGroup(
                warehouse_id=wh_id,
                warehouse_code=wh.code if wh else "",
                warehouse_name=wh.name if wh else "",
                location_id=loc_id,
                location_code=loc.code if loc else "",
                location_name=loc.name if loc else "",
            )
        sku = ln["sku"]
        row = rows.get((gkey, sku))
        if row is None:
            key = row_key(wh_id, loc_id, sku)
            row = rows[(gkey, sku)] = PickRow(
                key=key,
                sku=sku,
                ean=ln["ean"] or ln["variant__ean"] or "",
                name=ln["name"],
                picked=key in picked,
            )
            group.rows.append(row)
        row.quantity += qty
        need = row.orders[-1] if row.orders and row.orders[-1].order_id == ln["order_id"] else None
        if need is None:
            order = orders.get(ln["order_id"])
            row.orders.append(OrderNeed(ln["order_id"], order.number if order else "?", qty))
        else:
            need.quantity += qty
        total = totals.setdefault(sku, SkuTotal(sku=sku, name=ln["name"], quantity=0))
        total.quantity += qty

    for ln in lines:
        order = orders.get(ln["order_id"])
        if order is not None:
            order.lines += 1
            order.units += ln["quantity"]
        remaining = ln["quantity"]
        for wh_id, qty in where.get(ln["pk"], []):
            take = min(qty, remaining)
            if take > 0:
                add(wh_id, ln, take)
                remaining -= take
        if remaining > 0:
            unreserved += 1
            add(None, ln, remaining)

    def group_order(g: PickGroup):
        wh = warehouses.get(g.warehouse_id) if g.warehouse_id else None
        loc = locations.get(g.location_id) if g.location_id else None
        return (
            wh is None,
            (wh.priority, wh.pk) if wh else (0, 0),
            loc is None,
            (loc.sort_order, loc.code) if loc else (0, ""),
        )

    ordered = sorted(groups.values(), key=group_order)
    for g in ordered:
        g.rows.sort(key=lambda r: r.sku)
    return PickSheet(
        orders=[orders[pk] for pk in order_ids if pk in orders],
        groups=ordered,
        totals=sorted(totals.values(), key=lambda t: t.sku),
        unreserved=unreserved,
    )


def picklist_order_ids(pick_list: PickList) -> list[int]:
    return list(pick_list.entries.order_by("position", "id").values_list("order_id", flat=True))


def picklist_sheet(pick_list: PickList) -> PickSheet:
    return pick_sheet(picklist_order_ids(pick_list), set(pick_list.picked or []))


# --- pick lists ---------------------------------------------------------------------------------------


def access_picklist(actor, pick_list_id: int, permission: str = "fulfilment.pick") -> PickList:
    """Fetch a pick list for someone who may work with pick lists (NotFound when there is none; a caller
    without the permission gets NotFound too, so ids are not probed)."""
    if not user_has(actor, permission):
        raise NotFound(_("Pick list not found"))
    pick_list = PickList.objects.select_related("created_by").filter(pk=pick_list_id).first()
    if pick_list is None:
        raise NotFound(_("Pick list not found"))
    return pick_list


def picklists(*, status: str = "", limit: int = 100) -> QuerySet[PickList]:
    qs = PickList.objects.select_related("created_by").annotate(order_count=Count("entries"))
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("-created_at", "-id")[:limit]


def open_picklists_of_orders(order_ids: list[int]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = defaultdict(list)
    for oid, number in PickListOrder.objects.filter(
        order_id__in=order_ids, pick_list__status=PickListStatus.OPEN
    ).values_list("order_id", "pick_list__number"):
        out[oid].append(number)
    return out


@dataclass
class ReadyFilter:
    channel: str = ""
    delivery_method: str = ""
    carrier: str = ""
    include_listed: bool = False  # orders already on an open pick list are left out unless asked for


def orders_ready(f: ReadyFilter | None = None) -> QuerySet[Order]:
    """Orders ready to fulfil (stage "ready"), oldest ship-by first, with the filters of the pick list screen.
    The carrier filter keeps the delivery methods that carrier serves."""
    f = f or ReadyFilter()
    qs = Order.objects.filter(stage=Stage.READY).select_related("channel", "status")
    if f.channel:
        qs = qs.filter(channel__code=f.channel)
    if f.delivery_method:
        qs = qs.filter(delivery_method=f.delivery_method)
    if f.carrier:
        carrier = Carrier.objects.filter(code=f.carrier).first()
        methods = list(carrier.delivery_methods or []) if carrier else []
        qs = qs.filter(delivery_method__in=methods)
    if not f.include_listed:
        qs = qs.exclude(
            Exists(
                PickListOrder.objects.filter(order_id=OuterRef("pk"), pick_list__status=PickListStatus.OPEN)
            )
        )
    return qs.order_by("ship_by", "placed_at", "id")


def resolve_orders(refs: list[str]) -> tuple[list[int], list[str]]:
    """Order references (numbers, with or without "#", or ids) -> (ids in the given order, refs not found).
    A number wins over an id when both match."""
    refs = [r.strip() for r in refs if r and r.strip()]
    wanted = set(refs) | {f"#{r}" for r in refs if not r.startswith("#")}
    by_number: dict[str, int] = {}
    for chunk in _chunks(sorted(wanted)):
        for number, pk in Order.objects.filter(number__in=chunk).order_by("-pk").values_list("number", "pk"):
            by_number[number] = pk
    digits = [int(r) for r in refs if r.isdigit() and len(r) < 16]
    by_id = set()
    for chunk in _chunks(digits):
        by_id |= set(Order.objects.filter(pk__in=chunk).values_list("pk", flat=True))
    ids: list[int] = []
    missing: list[str] = []
    for r in refs:
        pk = by_number.get(r) or by_number.get(f"#{r}")
        if pk is None and r.isdigit() and len(r) < 16 and int(r) in by_id:
            pk = int(r)
        (ids.append(pk) if pk else missing.append(r))
    return list(dict.fromkeys(ids)), missing


def order_for_packing(ref: str) -> Order | None:
    ids, _missing = resolve_orders([ref])
    return Order.objects.select_related("status", "channel").filter(pk=ids[0]).first() if ids else None


# --- packing ------------------------------------------------------------------------------------------


def normalise_code(code: str) -> str:
    """Scanner input compared case-insensitively; all-digit codes without leading zeros (EAN-13 = GTIN-14)."""
    code = (code or "").strip().upper()
    return code.lstrip("0") or code if code.isdigit() else code


@dataclass
class PackLine:
    line_id: int
    sku: str
    ean: str
    name: str
    needed: int
    scanned: int

    @property
    def done(self) -> bool:
        return self.scanned >= self.needed

    @property
    def remaining(self) -> int:
        return max(0, self.needed - self.scanned)

    def codes(self) -> set[str]:
        return {normalise_code(c) for c in (self.sku, self.ean) if c}


@dataclass
class PackState:
    order: Order
    packing: Packing | None
    lines: list[PackLine]
    scans: list[PackingScan]

    @property
    def complete(self) -> bool:
        return bool(self.lines) and all(ln.done for ln in self.lines)

    @property
    def units_needed(self) -> int:
        return sum(ln.needed for ln in self.lines)

    @property
    def units_scanned(self) -> int:
        return sum(min(ln.scanned, ln.needed) for ln in self.lines)

    @property
    def can_undo(self) -> bool:
        return any(s.outcome == ScanOutcome.COUNTED and s.undone_at is None for s in self.scans)

    def as_dict(self) -> dict[str, Any]:
        return {
            "order_id": self.order.pk,
            "order_number": self.order.number,
            "order_status": self.order.status.code,
            "packing_status": self.packing.status if self.packing else "open",
            "complete": self.complete,
            "units_needed": self.units_needed,
            "units_scanned": self.units_scanned,
            "lines": [
                {
                    "line_id": ln.line_id,
                    "sku": ln.sku,
                    "ean": ln.ean,
                    "name": ln.name,
                    "needed": ln.needed,
                    "scanned": ln.scanned,
                }
                for ln in self.lines
            ],
            "scans": [
                {
                    "id": s.pk,
                    "at": s.at.isoformat(),
                    "code": s.code,
                    "outcome": s.outcome,
                    "line_id": s.line_id,
                    "undone": s.undone_at is not None,
                }
                for s in self.scans
            ],
        }


def pack_lines(order: Order, packing: Packing | None) -> list[PackLine]:
    counts: dict[int, int] = {}
    if packing is not None:
        counts = dict(
            PackingScan.objects.filter(packing=packing, outcome=ScanOutcome.COUNTED, undone_at__isnull=True)
            .values("line_id")
            .annotate(n=Count("id"))
            .values_list("line_id", "n")
        )
    return [
        PackLine(
            line_id=ln.pk,
            sku=ln.sku,
            ean=ln.ean or (ln.variant.ean if ln.variant else "") or "",
            name=ln.name,
            needed=ln.quantity,
            scanned=counts.get(ln.pk, 0),
        )
        for ln in order.lines.select_related("variant").order_by("position", "id")
    ]


def pack_state(order: Order, *, scans: int = 30) -> PackState:
    order = Order.objects.select_related("status", "channel").get(pk=order.pk)
    packing = Packing.objects.filter(order=order).first()
    recent: list[PackingScan] = []
    if packing is not None:
        recent = list(
            PackingScan.objects.filter(packing=packing).select_related("line").order_by("-id")[:scans]
        )
    return PackState(order=order, packing=packing, lines=pack_lines(order, packing), scans=recent)


def variant_for_code(raw: str) -> Variant | None:
    """The catalogue variant a scanned code names (SKU in any case, or EAN with or without leading zeros)."""
    raw = (raw or "").strip()
    if not raw:
        return None
    variant = Variant.objects.filter(Q(sku__iexact=raw) | Q(ean=raw)).order_by("pk").first()
    if variant is None and raw.isdigit():
        norm = normalise_code(raw)
        for candidate in Variant.objects.filter(ean__endswith=norm).order_by("pk")[:10]:
            if normalise_code(candidate.ean) == norm:
                return candidate
    return variant


def packing_of_orders(order_ids: list[int]) -> dict[int, str]:
    """order id -> its packing status, for the orders that have one."""
    out: dict[int, str] = {}
    for chunk in _chunks(list(order_ids)):
        out.update(Packing.objects.filter(order_id__in=chunk).values_list("order_id", "status"))
    return out


def next_to_pack(pick_list_id: int | None, after_order_id: int) -> Order | None:
    """The next order of a pick list (after the given one, then from the start) still to be packed."""
    if not pick_list_id:
        return None
    ids = list(
        PickListOrder.objects.filter(pick_list_id=pick_list_id)
        .order_by("position", "id")
        .values_list("order_id", flat=True)
    )
    if after_order_id in ids:
        i = ids.index(after_order_id)
        ids = ids[i + 1 :] + ids[:i]
    done = {oid for oid, status in packing_of_orders(ids).items() if status == "complete"}
    candidates = [oid for oid in ids if oid not in done]
    if not candidates:
        return None
    open_ids = set(
        Order.objects.filter(pk__in=candidates, stage__in=PICKABLE_STAGES).values_list("pk", flat=True)
    )
    for oid in candidates:
        if oid in open_ids:
            return Order.objects.filter(pk=oid).first()
    return None
