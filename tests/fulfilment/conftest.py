from __future__ import annotations

import pytest


@pytest.fixture
def bins(db):
    """The default warehouse with three bins; the walk order is by sort order, then code (so B-01 < A-05)."""
    from zaplecze.inventory.models import Location
    from zaplecze.inventory.services import warehouse_default

    wh = warehouse_default()
    return {
        "wh": wh,
        "A-05": Location.objects.create(warehouse=wh, code="A-05", sort_order=20),
        "B-01": Location.objects.create(warehouse=wh, code="B-01", sort_order=10),
        "C-09": Location.objects.create(warehouse=wh, code="C-09", sort_order=20),
    }


@pytest.fixture
def stocked(product_factory, bins):
    """stocked(sku, ean, bin code or None, stock) -> variant, with its pick bin in the default warehouse."""
    from zaplecze.inventory.models import StockLevel

    def _make(sku, ean="", location=None, stock=50, name=None):
        variant = product_factory(sku=sku, ean=ean, stock=stock, name=name)
        if location:
            StockLevel.objects.filter(variant=variant, warehouse=bins["wh"]).update(location=bins[location])
        return variant

    return _make


def line(sku, quantity, name=None, price="10.00"):
    return {"sku": sku, "name": name or f"Item {sku}", "quantity": quantity, "unit_price_gross": price}


@pytest.fixture
def make_order(ingest):
    """make_order(number, [lines]) -> a paid order, ready to fulfil, with its stock reserved."""
    state = {"n": 0}

    def _make(number, lines, **overrides):
        state["n"] += 1
        return ingest(external_id=f"F{state['n']}-{number}", number=number, lines=lines, **overrides).order

    return _make


@pytest.fixture
def warehouse_user(make_user):
    return make_user("warehouse", "magda")
