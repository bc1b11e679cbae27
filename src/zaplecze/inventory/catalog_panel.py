"""The product page's stock panel (registered at "catalog.product_panels" from InventoryConfig.ready()):
on hand, reserved and available per warehouse for each variant, with a link to its stock ledger."""

from __future__ import annotations

from django.utils.translation import gettext as _

from zaplecze.core.permissions import user_has

from .models import StockLevel, Warehouse


def stock_panel(request, product) -> dict | None:
    if not user_has(request.user, "stock.view"):
        return None
    variants = list(product.variants.order_by("sku"))
    levels = StockLevel.objects.filter(variant__product=product).select_related("warehouse", "location")
    by_variant: dict[int, dict[int, StockLevel]] = {}
    used: set[int] = set()
    for level in levels:
        by_variant.setdefault(level.variant_id, {})[level.warehouse_id] = level
        used.add(level.warehouse_id)
    warehouses = [w for w in Warehouse.objects.order_by("priority", "code") if w.pk in used]
    rows = []
    for v in variants:
        cells = [by_variant.get(v.pk, {}).get(w.pk) for w in warehouses]
        on_hand = sum(c.on_hand for c in cells if c)
        reserved = sum(c.reserved for c in cells if c)
        rows.append({"variant": v, "cells": cells, "available": on_hand - reserved})
    return {
        "title": _("Stock"),
        "template": "inventory/_catalog_panel.html",
        "context": {"stock_rows": rows, "stock_warehouses": warehouses},
        "order": 20,
    }
