"""URL parameters of the product import: a preview of a two-row file (bulk_id) and one of its rows (import_row)."""

from __future__ import annotations


def build(world) -> dict:
    from zaplecze.catalog.bulk import import_preview

    data = b"sku;product_name;price\nSEC-IMP-1;Security import;9,99\nSEC-IMP-2;Security import;x\n"
    preview = import_preview(data, "security.csv", None)
    return {"bulk_id": preview.pk, "import_row": 2}
