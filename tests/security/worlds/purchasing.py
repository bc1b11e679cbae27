"""URL parameters of purchasing: a supplier with an item for SKU-0001, its reorder parameters, a sent PO."""

from __future__ import annotations


def build(world) -> dict:
    from zaplecze.catalog.models import Variant
    from zaplecze.purchasing import services

    variant = Variant.objects.get(sku="SKU-0001")
    supplier = services.supplier_create(
        data={"name": "Security Supplier", "nip": "5260250274", "email": "po@supplier.example"}, actor=None
    )
    item = services.supplier_item_save(
        supplier_id=supplier.pk, variant_id=variant.pk, unit_cost="5.00", actor=None
    )
    param = services.reorder_parameter_set(
        variant_id=variant.pk, mode="manual", reorder_point=50, safety_stock=5, actor=None
    )
    po = services.po_create(
        supplier_id=supplier.pk, lines=[{"variant_id": variant.pk, "quantity": 20}], actor=None
    )
    services.po_send(po_id=po.pk, actor=None, email=False)
    return {"supplier_id": supplier.pk, "item_id": item.pk, "param_id": param.pk, "po_id": po.pk}
