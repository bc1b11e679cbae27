"""Warehouses and bins: codes, assignment to stock levels (one by one and from a file), deactivation."""

from __future__ import annotations

import pytest

from zaplecze.core.errors import DomainError
from zaplecze.core.models import AuditEntry
from zaplecze.inventory import selectors, services
from zaplecze.inventory.models import Location, StockLevel, Warehouse

from .conftest import csv_bytes, xlsx_bytes

pytestmark = pytest.mark.django_db


def test_warehouse_codes_are_unique_and_one_is_default(main_wh):
    second = services.warehouse_create(code="ful", name="Fulfilment", is_default=True)
    assert second.code == "FUL"
    assert list(Warehouse.objects.filter(is_default=True).values_list("code", flat=True)) == ["FUL"]
    with pytest.raises(DomainError) as exc:
        services.warehouse_create(code="FUL", name="Again")
    assert exc.value.field == "code"
    with pytest.raises(DomainError):
        services.warehouse_create(code="a b", name="Spaces")
    with pytest.raises(DomainError):  # switching the default off leaves none
        services.warehouse_update(warehouse_id=second.pk, name="F", priority=1, is_default=False)


def test_bins_assign_and_filter(product_factory, main_wh, second_wh, admin_user):
    v = product_factory(sku="KUB-01", stock=3)
    product_factory(sku="KUB-02", stock=3)
    shelf = services.location_create(warehouse=main_wh, code="A-01-01", sort_order=5)
    other = services.location_create(warehouse=second_wh, code="X-1")

    services.stock_level_set_location(variant=v, warehouse=main_wh, location=shelf, actor=admin_user)

    assert [lv.variant.sku for lv in selectors.stock_levels(location="a-01-01")] == ["KUB-01"]
    assert [lv.variant.sku for lv in selectors.stock_levels(warehouse="MAIN", location="-")] == ["KUB-02"]
    entry = AuditEntry.objects.get(object_type="inventory.stocklevel", action="location")
    assert entry.changes == {"location": [None, "A-01-01"]}
    with pytest.raises(DomainError):
        services.stock_level_set_location(variant=v, warehouse=main_wh, location=other)
    with pytest.raises(DomainError):
        services.location_create(warehouse=main_wh, code="a-01-01")


def test_a_switched_off_bin_cannot_be_assigned(product_factory, main_wh):
    v = product_factory(sku="KUB-01", stock=3)
    shelf = services.location_create(warehouse=main_wh, code="A-1")
    services.location_update(location_id=shelf.pk, code="A-1", name="", sort_order=0, active=False)
    with pytest.raises(DomainError) as exc:
        services.stock_level_set_location(
            variant=v, warehouse=main_wh, location=Location.objects.get(pk=shelf.pk)
        )
    assert "switched off" in exc.value.message


def test_bulk_assignment_from_a_file_is_all_or_nothing(product_factory, main_wh):
    a = product_factory(sku="KUB-01", stock=3)
    product_factory(sku="KUB-02", stock=0)
    services.location_create(warehouse=main_wh, code="A-1")

    bad = services.locations_assign_file(
        warehouse=main_wh, data=csv_bytes("sku;location\nKUB-01;A-1\nKUB-02;B-9\nNOPE;A-1"), filename="b.csv"
    )
    assert [(e["row"], e["column"]) for e in bad.errors] == [(3, "location"), (4, "sku")]
    assert StockLevel.objects.filter(location__isnull=False).count() == 0

    good = services.locations_assign_file(
        warehouse=main_wh,
        data=xlsx_bytes([["SKU", "Bin"], ["KUB-01", "a-1"], ["KUB-02", "A-1"]]),
        filename="b.xlsx",
    )
    assert good.errors == []
    assert good.changed == 2
    assert StockLevel.objects.get(variant=a, warehouse=main_wh).location.code == "A-1"


def test_bins_import_creates_and_updates(main_wh):
    services.location_create(warehouse=main_wh, code="A-1", name="old")
    report = services.locations_import_file(
        warehouse=main_wh,
        data=csv_bytes("code,name,sort_order\nA-1,Aisle A,1\nA-2,,2\n"),
        filename="bins.csv",
    )
    assert report.errors == [] and report.changed == 2
    assert list(Location.objects.values_list("code", "name", "sort_order")) == [
        ("A-1", "Aisle A", 1),
        ("A-2", "", 2),
    ]

    bad = services.locations_import_file(
        warehouse=main_wh, data=csv_bytes("code\nA 3\nA-2\nA-2"), filename="bins.csv"
    )
    assert [(e["row"], e["column"]) for e in bad.errors] == [(2, "code"), (4, "code")]
