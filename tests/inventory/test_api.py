"""The stock API: bins, the ledger with filters, stocktakes (create, counts, import, post) and transfers."""

from __future__ import annotations

import pytest
from django.test import Client

from zaplecze.core.services import token_create
from zaplecze.inventory.models import StockLevel, StocktakeLine

from .conftest import csv_bytes, level

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(make_user):
    def _client(role="admin"):
        user = make_user(role, f"api-{role}")
        return Client(HTTP_AUTHORIZATION=f"Bearer {token_create(user=user)}")

    return _client


def test_locations_and_assignment(api, product_factory, main_wh):
    product_factory(sku="KUB-01", stock=4)
    c = api()
    r = c.post("/api/v1/stock/locations", {"code": "a-1", "sort_order": 2}, content_type="application/json")
    assert r.status_code == 201 and r.json()["code"] == "A-1"
    loc_id = r.json()["id"]

    r = c.post(
        "/api/v1/stock/locations/assign",
        {"sku": "KUB-01", "location": "A-1"},
        content_type="application/json",
    )
    assert r.status_code == 200 and r.json()["location"] == "A-1"
    assert c.get("/api/v1/stock?bin=A-1").json()["total"] == 1

    r = c.patch(f"/api/v1/stock/locations/{loc_id}", {"active": False}, content_type="application/json")
    assert r.json()["active"] is False
    r = c.post(
        "/api/v1/stock/locations/assign",
        {"sku": "KUB-01", "location": "Z-9"},
        content_type="application/json",
    )
    assert r.status_code == 404 and r.json()["field"] == "location"


def test_movements_with_filters_and_cursor(api, product_factory):
    product_factory(sku="KUB-01", stock=4)
    product_factory(sku="KUB-02", stock=5)
    product_factory(sku="KUB-03", stock=6)
    c = api("readonly")

    first = c.get("/api/v1/stock/movements?kind=receipt&limit=2").json()
    second = c.get(f"/api/v1/stock/movements?kind=receipt&limit=2&cursor={first['next_cursor']}").json()

    assert [m["sku"] for m in first["items"]] == ["KUB-03", "KUB-02"]
    assert [m["sku"] for m in second["items"]] == ["KUB-01"] and second["next_cursor"] is None
    assert c.get("/api/v1/stock/movements?kind=sale").json()["items"] == []
    assert c.get("/api/v1/stock/movements?kind=nonsense").status_code == 422


def test_stocktake_lifecycle(api, product_factory, main_wh):
    a = product_factory(sku="KUB-01", stock=10)
    b = product_factory(sku="KUB-02", stock=3)
    counter, poster = api("warehouse"), api("organiser")

    st = counter.post("/api/v1/stock/stocktakes", {}, content_type="application/json").json()
    assert (st["status"], st["lines"]) == ("counting", 2)
    sid = st["id"]

    bad = counter.post(
        f"/api/v1/stock/stocktakes/{sid}/counts",
        {"counts": [{"code": "KUB-01", "quantity": 8}, {"code": "NOPE", "quantity": 1}]},
        content_type="application/json",
    )
    assert bad.status_code == 400 and bad.json()["field"] == "counts[1].code"
    assert StocktakeLine.objects.filter(counted__isnull=False).count() == 0

    ok = counter.post(
        f"/api/v1/stock/stocktakes/{sid}/counts",
        {"counts": [{"code": "KUB-01", "quantity": 8}]},
        content_type="application/json",
    )
    assert ok.status_code == 200 and ok.json()[0]["difference"] == -2

    upload = counter.post(
        f"/api/v1/stock/stocktakes/{sid}/import", {"file": _file("sku,quantity\nKUB-02,x\n")}
    )
    assert upload.status_code == 422
    assert upload.json()["errors"] == [{"row": 2, "column": "quantity", "message": "'x' is not a number"}]
    upload = counter.post(
        f"/api/v1/stock/stocktakes/{sid}/import", {"file": _file("sku,quantity\nKUB-02,4\n")}
    )
    assert upload.status_code == 200 and upload.json()["changed"] == 1

    counter.post(f"/api/v1/stock/stocktakes/{sid}/status", {"to": "review"}, content_type="application/json")
    denied = api("readonly").post(f"/api/v1/stock/stocktakes/{sid}/post", {}, content_type="application/json")
    assert denied.status_code == 403
    assert level(a, main_wh) == (10, 0)
    posted = poster.post(f"/api/v1/stock/stocktakes/{sid}/post", {}, content_type="application/json")
    assert posted.status_code == 200 and posted.json()["status"] == "posted"
    assert level(a, main_wh) == (8, 0) and level(b, main_wh) == (4, 0)


def _file(text: str):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("count.csv", csv_bytes(text), content_type="text/csv")


def test_transfers(api, product_factory, main_wh, second_wh):
    a = product_factory(sku="KUB-01", stock=5)
    c = api()
    body = {"source": "MAIN", "destination": "FUL", "lines": [{"sku": "KUB-01", "quantity": 6}]}

    r = c.post("/api/v1/stock/transfers", body, content_type="application/json")
    assert r.status_code == 409 and r.json()["code"] == "insufficient_stock"

    body["lines"][0]["quantity"] = 2
    body["action"] = "send"
    r = c.post("/api/v1/stock/transfers", body, content_type="application/json")
    t = r.json()
    assert r.status_code == 201 and t["status"] == "sent" and t["lines"] == [{"sku": "KUB-01", "quantity": 2}]
    r = c.post(
        f"/api/v1/stock/transfers/{t['id']}/status", {"to": "received"}, content_type="application/json"
    )
    assert r.json()["status"] == "received"
    assert level(a, main_wh) == (3, 0) and level(a, second_wh) == (2, 0)
    assert StockLevel.objects.count() == 2
