"""Purchasing API: suppliers and items, reorder list -> POs, PO create/send/receive/pdf/csv, errors."""

from __future__ import annotations

import pytest
from django.test import Client

from zaplecze.core.services import token_create
from zaplecze.inventory.models import StockMovement
from zaplecze.purchasing import services

BASE = "/api/v1/purchasing"


@pytest.fixture
def api(make_user):
    def _client(role="admin"):
        user = make_user(role, username=f"api-{role}")
        return Client(HTTP_AUTHORIZATION=f"Bearer {token_create(user=user)}")

    return _client


def _post(client, url, body):
    return client.post(url, data=body, content_type="application/json")


def test_supplier_and_items(api, product_factory):
    client = api()
    product_factory(sku="MUG-1", stock=0, ean="5901234123457")
    bad = _post(client, f"{BASE}/suppliers", {"name": "ACME", "nip": "123"})
    assert bad.status_code == 400 and bad.json()["field"] == "nip"
    created = _post(
        client,
        f"{BASE}/suppliers",
        {"name": "ACME", "nip": "5260250274", "email": "po@acme.example", "lead_time_days": 4},
    )
    assert created.status_code == 201
    sid = created.json()["id"]
    item = _post(
        client,
        f"{BASE}/suppliers/{sid}/items",
        {"sku": "5901234123457", "unit_cost": "4.20", "min_order_qty": 12, "pack_size": 6},
    )
    assert item.status_code == 200 and item.json()["sku"] == "MUG-1"
    assert [i["sku"] for i in client.get(f"{BASE}/suppliers/{sid}/items").json()] == ["MUG-1"]
    patched = client.patch(
        f"{BASE}/suppliers/{sid}", data={"lead_time_days": 9}, content_type="application/json"
    )
    assert patched.json()["lead_time_days"] == 9 and patched.json()["nip"] == "5260250274"
    assert client.delete(f"{BASE}/supplier-items/{item.json()['id']}").status_code == 204


def test_reorder_to_po_to_receipt(api, item_factory, supplier):
    client = api()
    mug = item_factory(sku="MUG-1", ean="5901234123457", moq=6, pack=6, stock=1)
    param = services.reorder_parameter_set(
        variant_id=mug.pk, mode="manual", reorder_point=4, safety_stock=1, actor=None
    )
    [s] = client.get(f"{BASE}/reorder").json()
    assert (s["sku"], s["quantity"], s["supplier_id"]) == ("MUG-1", 6, supplier.pk)
    assert s["explanation"][-1] == "Suggested quantity: 6."
    created = _post(client, f"{BASE}/reorder/purchase-orders", {"param_ids": [param.pk]})
    assert created.status_code == 201
    po_id = created.json()[0]["id"]
    sent = _post(client, f"{BASE}/purchase-orders/{po_id}/send", {"email": False})
    assert sent.json()["status"] == "sent"
    over = _post(client, f"{BASE}/purchase-orders/{po_id}/receive", {"scans": ["5901234123457"] * 7})
    assert over.status_code == 400 and over.json()["code"] == "over_receipt"
    unknown = _post(
        client, f"{BASE}/purchase-orders/{po_id}/receive", {"lines": [{"code": "NOPE", "quantity": 1}]}
    )
    assert unknown.status_code == 400 and unknown.json() == {
        "code": "unknown_code",
        "message": "Unknown EAN or SKU NOPE: no such product in the catalogue (lines[0].code).",
        "field": "lines[0].code",
    }
    ok = _post(
        client, f"{BASE}/purchase-orders/{po_id}/receive", {"scans": ["5901234123457"] * 2, "note": "WZ/1"}
    )
    assert ok.status_code == 201
    body = ok.json()
    assert body["purchase_order"]["status"] == "partially_received"
    assert body["receipt"]["lines"] == [{"sku": "MUG-1", "quantity": 2}]
    number = body["purchase_order"]["number"]
    assert list(StockMovement.objects.filter(reference=number).values_list("kind", "quantity")) == [
        ("receipt", 2)
    ]
    [p] = client.get(f"{BASE}/parameters", {"q": "MUG"}).json()
    assert (p["available"], p["on_order"]) == (3, 4)


def test_create_by_hand_pdf_csv_and_permissions(api, item_factory, supplier):
    item_factory(sku="MUG-1")
    admin, warehouse = api(), api("warehouse")
    body = {"supplier_id": supplier.pk, "lines": [{"sku": "MUG-1", "quantity": 3, "unit_cost": "2.50"}]}
    assert _post(warehouse, f"{BASE}/purchase-orders", body).status_code == 403
    created = _post(admin, f"{BASE}/purchase-orders", body)
    assert created.status_code == 201
    po = created.json()
    assert (po["status"], po["total_net"], po["total_gross"]) == ("draft", "7.50", "9.23")
    pdf = warehouse.get(f"{BASE}/purchase-orders/{po['id']}/pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
    csv_ = warehouse.get(f"{BASE}/purchase-orders/{po['id']}/csv").content.decode()
    assert csv_.splitlines()[1].split(",")[3] == "MUG-1"
    edited = admin.patch(
        f"{BASE}/purchase-orders/{po['id']}",
        data={"version": 999, "notes": "x"},
        content_type="application/json",
    )
    assert edited.status_code == 409
    assert warehouse.get(f"{BASE}/purchase-orders/999999").status_code == 404


def test_forecast_job_for_chosen_skus_and_unknown_sku_refused(
    api, product_factory, django_capture_on_commit_callbacks
):
    from zaplecze.core.models import Job
    from zaplecze.purchasing.models import ReorderParameter

    client = api()
    product_factory(sku="MUG-1", stock=3)
    product_factory(sku="CUP-2", stock=3)
    bad = _post(client, f"{BASE}/forecast", {"skus": ["MUG-1", "NOPE-9"]})
    assert bad.status_code == 400 and bad.json()["field"] == "skus" and "NOPE-9" in bad.json()["message"]
    assert not Job.objects.filter(kind="purchasing.forecast").exists()

    with django_capture_on_commit_callbacks(execute=True):
        started = _post(client, f"{BASE}/forecast", {"skus": ["MUG-1"]})
    assert started.status_code == 202
    job = Job.objects.get(pk=started.json()["job_id"])
    assert job.state == "done", job.error
    # Only the chosen variant got its reorder parameters computed.
    assert list(ReorderParameter.objects.values_list("variant__sku", flat=True)) == ["MUG-1"]
