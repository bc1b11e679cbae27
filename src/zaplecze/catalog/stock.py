"""Stock as the catalog sees it, without importing inventory (which sits above the catalog).

Inventory registers ``"catalog.stock"`` -> ``available(variant_ids: list[int] | None) -> {variant_id: qty}``
(available = on hand - reserved, summed over warehouses). With nothing registered, stock is unknown and
this returns None, so callers can tell "unknown" from "zero".
"""

from __future__ import annotations

from zaplecze.core import extensions


def available(variant_ids: list[int] | None = None) -> dict[int, int] | None:
    fn = extensions.get("catalog.stock", "available")
    if fn is None:
        return None
    return fn(variant_ids)
