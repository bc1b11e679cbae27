"""Stock writes. Levels change only through conditional UPDATEs (never read-modify-write in Python),
so N concurrent reservations for K units produce exactly K and stock never goes negative; the
database CHECK constraints are the last line of defence."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from zaplecze.catalog.models import Variant
from zaplecze.core.errors import DomainError
from zaplecze.core.services import audit_record

from .models import Reservation, StockLevel, StockMovement, Warehouse


def warehouse_default() -> Warehouse:
    wh = (
        Warehouse.objects.filter(is_default=True).first()
        or Warehouse.objects.order_by("priority", "id").first()
    )
    if wh is None:
        wh = Warehouse.objects.create(code="MAIN", name="Magazyn główny", is_default=True, priority=0)
    return wh


def _level(variant_id: int, warehouse_id: int) -> StockLevel:
    level = StockLevel.objects.filter(variant_id=variant_id, warehouse_id=warehouse_id).first()
    if level is None:
        try:
            with transaction.atomic():
                level = StockLevel.objects.create(variant_id=variant_id, warehouse_id=warehouse_id)
        except IntegrityError:  # created concurrently
            level = StockLevel.objects.get(variant_id=variant_id, warehouse_id=warehouse_id)
    return level


def stock_adjust(
    *,
    variant: Variant,
    warehouse: Warehouse,
    delta: int,
    kind: str = StockMovement.Kind.ADJUSTMENT,
    reason: str = "",
    reference: str = "",
    actor=None,
) -> StockMovement:
    """Change on-hand stock by `delta` (signed) and write the ledger row. Refuses to go below reserved."""
    if delta == 0:
        raise DomainError("Quantity must not be zero", field="quantity")
    if kind not in StockMovement.Kind.values:
        raise DomainError(f"Unknown movement type {kind!r}", field="kind")
    with transaction.atomic():
        level = _level(variant.pk, warehouse.pk)
        qs = StockLevel.objects.filter(pk=level.pk)
        if delta < 0:
            qs = qs.filter(on_hand__gte=F("reserved") - delta)
        if qs.update(on_hand=F("on_hand") + delta) != 1:
            raise DomainError(
                f"Not enough free stock of {variant.sku} in {warehouse.code} to remove {-delta}",
                code="insufficient_stock",
                field="quantity",
            )
        after = StockLevel.objects.values_list("on_hand", flat=True).get(pk=level.pk)
        movement = StockMovement.objects.create(
            variant=variant,
            warehouse=warehouse,
            kind=kind,
            quantity=delta,
            on_hand_after=after,
            reason=reason[:200],
            reference=reference[:100],
            actor=actor,
        )
        audit_record(
            obj_type="inventory.stocklevel",
            obj_id=level.pk,
            action=kind,
            actor=actor,
            changes={"on_hand": [after - delta, after]},
            reason=reason,
        )
    return movement


@dataclass
class ReserveResult:
    reserved: int
    short: int


def stock_reserve(
    *, variant_id: int, quantity: int, reference: str, warehouses: list[Warehouse] | None = None
) -> ReserveResult:
    """Reserve `quantity` units, trying warehouses in priority order (a fixed order, so no deadlocks).

    All-or-nothing per warehouse: a line is reserved whole in one warehouse or not at all."""
    if quantity <= 0:
        raise DomainError("Quantity must be positive", field="quantity")
    warehouses = (
        warehouses
        if warehouses is not None
        else list(Warehouse.objects.order_by("-is_default", "priority", "id"))
    )
    for wh in warehouses:
        updated = StockLevel.objects.filter(
            variant_id=variant_id, warehouse_id=wh.pk, on_hand__gte=F("reserved") + quantity
        ).update(reserved=F("reserved") + quantity)
        if updated == 1:
            Reservation.objects.create(
                variant_id=variant_id, warehouse=wh, reference=reference, quantity=quantity
            )
            return ReserveResult(reserved=quantity, short=0)
    return ReserveResult(reserved=0, short=quantity)


def stock_release(*, reference: str) -> int:
    """Release every active reservation with this reference. Returns units released."""
    released = 0
    for r in Reservation.objects.filter(reference=reference, state=Reservation.State.ACTIVE).order_by("id"):
        n = Reservation.objects.filter(pk=r.pk, state=Reservation.State.ACTIVE).update(
            state=Reservation.State.RELEASED, closed_at=timezone.now()
        )
        if n:
            StockLevel.objects.filter(variant_id=r.variant_id, warehouse_id=r.warehouse_id).update(
                reserved=F("reserved") - r.quantity
            )
            released += r.quantity
    return released


def stock_issue(*, reference: str, actor=None, note: str = "") -> int:
    """Ship the reserved units: on hand and reserved both go down; a 'sale' movement is written."""
    issued = 0
    for r in Reservation.objects.filter(reference=reference, state=Reservation.State.ACTIVE).order_by("id"):
        n = Reservation.objects.filter(pk=r.pk, state=Reservation.State.ACTIVE).update(
            state=Reservation.State.ISSUED, closed_at=timezone.now()
        )
        if not n:
            continue
        StockLevel.objects.filter(variant_id=r.variant_id, warehouse_id=r.warehouse_id).update(
            on_hand=F("on_hand") - r.quantity, reserved=F("reserved") - r.quantity
        )
        after = StockLevel.objects.values_list("on_hand", flat=True).get(
            variant_id=r.variant_id, warehouse_id=r.warehouse_id
        )
        StockMovement.objects.create(
            variant_id=r.variant_id,
            warehouse_id=r.warehouse_id,
            kind=StockMovement.Kind.SALE,
            quantity=-r.quantity,
            on_hand_after=after,
            reason=note[:200],
            reference=reference,
            actor=actor,
        )
        issued += r.quantity
    return issued
