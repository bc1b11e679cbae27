"""URL parameters of the prices area: the history of SKU-0001 and a bulk price change (a preview)."""

from __future__ import annotations


def build(world) -> dict:
    from zaplecze.catalog.models import Variant
    from zaplecze.catalog.reprice import reprice_preview

    variant = Variant.objects.get(sku="SKU-0001")
    bulk = reprice_preview(variant_ids=[variant.pk], percent="5", actor=None)
    return {"price_variant_id": variant.pk, "reprice_id": bulk.pk}
