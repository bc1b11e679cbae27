from __future__ import annotations

import datetime as dt

import pytest


@pytest.fixture
def supplier(db):
    from zaplecze.purchasing.services import supplier_create

    return supplier_create(
        data={
            "name": "Hurtownia Kubek Sp. z o.o.",
            "nip": "526-025-02-74",
            "email": "zamowienia@kubek.example",
            "currency": "PLN",
            "language": "pl",
            "lead_time_days": 5,
        },
        actor=None,
    )


@pytest.fixture
def item_factory(product_factory, supplier):
    """item_factory(sku, unit_cost, moq, pack, stock) -> a variant sold by `supplier`."""
    from zaplecze.purchasing.services import supplier_item_save

    def _make(sku="MUG-1", unit_cost="10.00", moq=1, pack=1, stock=0, ean="", preferred=True, lead=None):
        variant = product_factory(sku=sku, stock=stock, ean=ean)
        supplier_item_save(
            supplier_id=supplier.pk,
            variant_id=variant.pk,
            supplier_sku=f"S-{sku}",
            unit_cost=unit_cost,
            min_order_qty=moq,
            pack_size=pack,
            preferred=preferred,
            lead_time_days=lead,
            actor=None,
        )
        return variant

    return _make


@pytest.fixture
def sales():
    """sales(variant, {date: units}) writes sale movements (one per day, at noon Warsaw time)."""
    from zaplecze.core.businesstime import tz
    from zaplecze.inventory.models import StockMovement
    from zaplecze.inventory.services import warehouse_default

    def _write(variant, per_day: dict[dt.date, int], warehouse=None):
        wh = warehouse or warehouse_default()
        rows = [
            StockMovement(
                at=dt.datetime.combine(day, dt.time(12, 0), tzinfo=tz()),
                variant=variant,
                warehouse=wh,
                kind=StockMovement.Kind.SALE,
                quantity=-units,
                reference="order-line:test",
            )
            for day, units in per_day.items()
            if units
        ]
        # the product "exists" from the first day of the history
        first = min(per_day)
        rows.append(
            StockMovement(
                at=dt.datetime.combine(first, dt.time(6, 0), tzinfo=tz()),
                variant=variant,
                warehouse=wh,
                kind=StockMovement.Kind.RECEIPT,
                quantity=1,
                reference="opening",
            )
        )
        StockMovement.objects.bulk_create(rows)

    return _write


@pytest.fixture
def sent_po(supplier, item_factory, admin_user):
    """A sent PO: 10 × MUG-1 (EAN 5901234123457) and 4 × TEA-1 (EAN 5900000000015)."""
    from zaplecze.purchasing.services import po_create, po_send

    mug = item_factory(sku="MUG-1", ean="5901234123457")
    tea = item_factory(sku="TEA-1", ean="5900000000015", unit_cost="3.50")
    po = po_create(
        supplier_id=supplier.pk,
        lines=[{"variant_id": mug.pk, "quantity": 10}, {"variant_id": tea.pk, "quantity": 4}],
        actor=admin_user,
    )
    return po_send(po_id=po.pk, actor=admin_user, email=False)
