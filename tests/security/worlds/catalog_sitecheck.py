"""URL parameters of the storefront check: a finished run with one result row for SKU-0001's product."""

from __future__ import annotations


def build(world) -> dict:
    from zaplecze.catalog.models import SiteCheckPage, SiteCheckRun, Variant

    variant = Variant.objects.get(sku="SKU-0001")
    run = SiteCheckRun.objects.create(base_url="https://shop.example/", state="done", pages=1, mismatched=1)
    SiteCheckPage.objects.create(
        run=run,
        url="https://shop.example/p/1",
        variant=variant,
        http_status=200,
        problems=[{"code": "price", "expected": "49.99", "found": "59.99"}],
        fetch_ms=12,
    )
    return {"sc_run_id": run.pk, "sc_product_id": variant.product_id}
