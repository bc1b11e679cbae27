"""Path parameters of the stock screens and API: a warehouse, a bin, a stocktake and a transfer."""

from __future__ import annotations


def build(world) -> dict:
    from zaplecze.catalog.models import Variant
    from zaplecze.inventory import services

    main = services.warehouse_default()
    second = services.warehouse_create(code="SEC", name="Second warehouse", priority=200)
    location = services.location_create(warehouse=main, code="A-01")
    stocktake = services.stocktake_create(warehouse=main)
    services.stocktake_transition(stocktake_id=stocktake.pk, to="counting")
    variant = Variant.objects.get(sku="SKU-0001")
    transfer = services.transfer_create(source=main, destination=second, lines=[(variant, 1)])
    return {
        "warehouse_id": second.pk,
        "location_id": location.pk,
        "stocktake_id": stocktake.pk,
        "transfer_id": transfer.pk,
    }
