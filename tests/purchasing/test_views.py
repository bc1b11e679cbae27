"""Purchasing screens: home with the overdue alert, suppliers, reorder list -> POs, PO page, PDF/CSV, receiving."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse

from zaplecze.core.businesstime import local_today
from zaplecze.inventory.models import StockMovement
from zaplecze.purchasing import services
from zaplecze.purchasing.models import POStatus, PurchaseOrder, Supplier


@pytest.fixture
def warehouse_client(make_user):
    client = Client()
    client.force_login(make_user("warehouse"))
    return client


def test_home_lists_overdue_orders(admin_client, sent_po):
    PurchaseOrder.objects.filter(pk=sent_po.pk).update(expected_date=local_today() - dt.timedelta(days=3))
    page = admin_client.get(reverse("purchasing:index")).content.decode()
    assert f'data-overdue-po="{sent_po.pk}"' in page
    assert "3 days late" in page


def test_supplier_create_validates_nip_and_lists(admin_client):
    bad = admin_client.post(
        reverse("purchasing:supplier_new"),
        {
            "name": "ACME",
            "nip": "1234567890",
            "currency": "PLN",
            "language": "pl",
            "lead_time_days": 3,
            "active": "on",
        },
    )
    assert bad.status_code == 400
    assert "NIP 1234567890 is not valid" in bad.content.decode()
    ok = admin_client.post(
        reverse("purchasing:supplier_new"),
        {
            "name": "ACME",
            "nip": "526-025-02-74",
            "currency": "eur",
            "language": "en",
            "lead_time_days": 3,
            "active": "on",
        },
    )
    supplier = Supplier.objects.get(name="ACME")
    assert ok.status_code == 302 and supplier.currency == "EUR" and supplier.nip == "5260250274"
    listing = admin_client.get(reverse("purchasing:suppliers"), {"q": "acme"}).content.decode()
    assert f'data-supplier-id="{supplier.pk}"' in listing
    add = admin_client.post(
        reverse("purchasing:supplier", args=[supplier.pk]),
        {"sku": "NOPE", "unit_cost": "1", "min_order_qty": 1, "pack_size": 1},
    )
    assert add.status_code == 400 and "Unknown variant NOPE" in add.content.decode()


def test_reorder_list_shows_the_computation_and_creates_a_po(admin_client, item_factory, supplier):
    mug = item_factory(sku="MUG-1", moq=10, pack=5, stock=2)
    param = services.reorder_parameter_set(
        variant_id=mug.pk, mode="manual", reorder_point=6, safety_stock=2, actor=None
    )
    page = admin_client.get(reverse("purchasing:reorder")).content.decode()
    assert 'data-suggestion="MUG-1"' in page
    assert "Raised to the minimum order quantity: 4 → 10." in page
    response = admin_client.post(
        reverse("purchasing:reorder_create"), {"param": [param.pk], f"qty_{param.pk}": "15"}
    )
    po = PurchaseOrder.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("purchasing:po", args=[po.pk])
    assert [(ln.sku, ln.quantity) for ln in po.lines.all()] == [("MUG-1", 15)]
    detail = admin_client.get(response["Location"]).content.decode()
    assert "How this quantity was suggested" in detail and 'data-po-status="draft"' in detail


def test_new_po_from_typed_lines_reports_the_bad_row(admin_client, item_factory, supplier):
    item_factory(sku="MUG-1")
    url = reverse("purchasing:po_new")
    data = {"supplier": supplier.pk, "warehouse": "", "lines": "MUG-1 5\nMUG-2 x"}
    from zaplecze.inventory.services import warehouse_default

    data["warehouse"] = warehouse_default().pk
    bad = admin_client.post(url, data)
    assert (
        bad.status_code == 400
        and "Row 2: the quantity “x” is not a whole number above 0." in bad.content.decode()
    )
    data["lines"] = "MUG-1 5\nGHOST 2"
    bad = admin_client.post(url, data)
    assert bad.status_code == 400 and "Unknown variant GHOST" in bad.content.decode()
    data["lines"] = "MUG-1 5 9,90"
    ok = admin_client.post(url, data)
    po = PurchaseOrder.objects.get()
    assert ok.status_code == 302 and str(po.lines.get().unit_cost) == "9.90"


def test_pdf_and_csv_downloads(admin_client, sent_po):
    pdf = admin_client.get(reverse("purchasing:po_pdf", args=[sent_po.pk]))
    assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF-")
    csv_ = admin_client.get(reverse("purchasing:po_csv", args=[sent_po.pk]))
    assert csv_.content.decode().splitlines()[1].startswith(f"{sent_po.number},")


def test_receiving_screen_posts_stock_and_refuses_over_receipt(warehouse_client, sent_po):
    mug = sent_po.lines.get(sku="MUG-1")
    url = reverse("purchasing:po_receive", args=[sent_po.pk])
    page = warehouse_client.get(url).content.decode()
    assert 'data-ean="5901234123457"' in page and "data-scan" in page
    over = warehouse_client.post(url, {f"qty_{mug.pk}": "12"})
    assert over.status_code == 400
    assert (
        "would exceed" in over.content.decode() and 'value="12"' in over.content.decode()
    )  # typed numbers kept
    assert StockMovement.objects.filter(reference=sent_po.number).count() == 0
    unknown = warehouse_client.post(url, {"scans": "0000000000000"})
    assert unknown.status_code == 400 and "Unknown EAN or SKU 0000000000000" in unknown.content.decode()
    ok = warehouse_client.post(url, {f"qty_{mug.pk}": "4", "scans": "5901234123457", "note": "WZ 12/2026"})
    assert ok.status_code == 302
    mug.refresh_from_db()
    sent_po.refresh_from_db()
    assert mug.received_qty == 5 and sent_po.status == POStatus.PARTIAL
    detail = warehouse_client.get(reverse("purchasing:po", args=[sent_po.pk])).content.decode()
    assert f'data-receipt="{sent_po.number}/R1"' in detail


def test_warehouse_cannot_manage(warehouse_client, sent_po):
    assert warehouse_client.post(reverse("purchasing:po_cancel", args=[sent_po.pk])).status_code == 403
    assert warehouse_client.get(reverse("purchasing:supplier_new")).status_code == 403
    sent_po.refresh_from_db()
    assert sent_po.status == POStatus.SENT


def test_parameters_pages(admin_client, item_factory):
    mug = item_factory(sku="MUG-1", stock=4)
    p = services.reorder_parameter_set(variant_id=mug.pk, mode="auto", actor=None)
    listing = admin_client.get(reverse("purchasing:parameters")).content.decode()
    assert 'data-param="MUG-1"' in listing
    detail = admin_client.get(reverse("purchasing:parameter", args=[p.pk])).content.decode()
    assert "No sales in the history" in detail
    response = admin_client.post(
        reverse("purchasing:parameter", args=[p.pk]),
        {"mode": "manual", "reorder_point": "9", "safety_stock": "3"},
    )
    assert response.status_code == 302
    p.refresh_from_db()
    assert (p.mode, p.reorder_point, p.safety_stock) == ("manual", 9, 3)


def test_an_item_is_removed_only_from_its_own_suppliers_page(admin_client, item_factory, supplier):
    from zaplecze.purchasing.models import SupplierItem

    item_factory(sku="MUG-1")
    item = SupplierItem.objects.get()
    other = services.supplier_create(data={"name": "Other"}, actor=None)
    wrong = admin_client.post(
        reverse("purchasing:supplier", args=[other.pk]), {"action": "delete", "item_id": item.pk}
    )
    assert wrong.status_code == 404 and SupplierItem.objects.filter(pk=item.pk).exists()
    right = admin_client.post(
        reverse("purchasing:supplier", args=[supplier.pk]), {"action": "delete", "item_id": item.pk}
    )
    assert right.status_code == 302 and not SupplierItem.objects.exists()
