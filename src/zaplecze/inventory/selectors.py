from __future__ import annotations

from django.db.models import F, QuerySet, Sum

from .models import Reservation, StockLevel, StockMovement, Warehouse


def stock_levels(
    *, q: str = "", warehouse: str = "", low_only: bool = False, sku: str = ""
) -> QuerySet[StockLevel]:
    qs = StockLevel.objects.select_related("variant", "warehouse").annotate(
        avail=F("on_hand") - F("reserved")
    )
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
    rows = (
        StockLevel.objects.filter(variant_id__in=list(variant_ids))
        .values("variant_id")
        .annotate(on_hand=Sum("on_hand"), reserved=Sum("reserved"))
    )
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
        StockLevel.objects.select_related("variant", "variant__product", "warehouse")
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
