import pytest

from zaplecze.catalog.models import Category, Product, Variant
from zaplecze.core.models import AuditEntry
from zaplecze.inventory.models import StockLevel, StockMovement, Warehouse

pytestmark = pytest.mark.django_db

JSON = "application/json"


def product_body(**overrides):
    body = {
        "name": "Kubek ceramiczny",
        "brand": "Ćmielów",
        "category": "Kuchnia",
        "variants": [
            {"sku": "KUB-1", "ean": "5901234123457", "price": "39.90", "vat_rate": "23", "weight_kg": "0.350"}
        ],
    }
    body.update(overrides)
    return body


# --- products -----------------------------------------------------------------------------------------


def test_create_product_with_a_valid_ean(api):
    response = api.post("/api/v1/products", data=product_body(), content_type=JSON)

    assert response.status_code == 201, response.content
    data = response.json()
    assert (data["name"], data["brand"], data["category"]) == ("Kubek ceramiczny", "Ćmielów", "Kuchnia")
    assert data["variants"] == [
        {
            "id": Variant.objects.get().pk,
            "product_id": data["id"],
            "product_name": "Kubek ceramiczny",
            "sku": "KUB-1",
            "ean": "5901234123457",
            "name": "Kubek ceramiczny",
            "price": "39.90",
            "currency": "PLN",
            "vat_rate": "23",
            "weight_kg": "0.350",
            "active": True,
            "category": "Kuchnia",
            "brand": "Ćmielów",
        }
    ]
    assert (
        AuditEntry.objects.filter(object_type="catalog.variant", action="created", actor=api.user).count()
        == 1
    )


def test_an_ean_with_a_wrong_check_digit_is_refused_naming_the_variant(api):
    body = product_body(
        variants=[{"sku": "A", "price": "1"}, {"sku": "B", "ean": "5901234123458", "price": "1"}]
    )

    response = api.post("/api/v1/products", data=body, content_type=JSON)

    assert response.status_code == 400
    assert response.json()["field"] == "variants[1].ean"
    assert (Product.objects.count(), Variant.objects.count(), Category.objects.count()) == (0, 0, 0)


def test_an_existing_sku_is_refused(api, product_factory):
    product_factory(sku="KUB-1")
    response = api.post("/api/v1/products", data=product_body(), content_type=JSON)
    assert response.status_code == 400
    assert (response.json()["code"], response.json()["field"]) == ("exists", "variants[0].sku")
    assert Product.objects.count() == 1


@pytest.mark.parametrize(
    ("variant", "field"),
    [
        ({"sku": "A", "price": "-1"}, "variants[0].price"),
        ({"sku": "A", "price": "1.001"}, "variants[0].price"),
        ({"sku": "A", "price": "1e30"}, "variants[0].price"),
        ({"sku": "A", "price": "1", "vat_rate": "7"}, "variants[0].vat_rate"),
        ({"sku": "", "price": "1"}, "variants[0].sku"),
        ({"sku": "A" * 65, "price": "1"}, "variants[0].sku"),
        ({"sku": "A", "price": "1", "cost_price": "0.5"}, "variants[0].cost_price"),
        ({"sku": "A"}, "variants[0].price"),
    ],
)
def test_invalid_variants_are_422_naming_the_field(api, variant, field):
    response = api.post("/api/v1/products", data=product_body(variants=[variant]), content_type=JSON)
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == [field]


def test_products_list_searches_and_pages_by_sku(api, product_factory):
    for sku in ("A-1", "A-2", "A-3", "B-1"):
        product_factory(sku=sku, stock=0)

    first = api.get("/api/v1/products?q=A-&limit=2").json()
    second = api.get(f"/api/v1/products?q=A-&limit=2&after={first['next_cursor']}").json()
    by_ean = api.get("/api/v1/products?q=nothing").json()

    assert [v["sku"] for v in first["items"]] == ["A-1", "A-2"]
    assert [v["sku"] for v in second["items"]] == ["A-3"]
    assert second["next_cursor"] is None
    assert by_ean["items"] == []


# --- stock --------------------------------------------------------------------------------------------


def test_stock_levels_per_variant_and_warehouse(api, product_factory):
    variant = product_factory(sku="A-1", stock=7)
    product_factory(sku="A-2", stock=3)

    response = api.get("/api/v1/stock?sku=A-1")

    assert response.status_code == 200
    assert response.json() == {
        "items": [
            {
                "sku": "A-1",
                "name": "Product A-1",
                "variant_id": variant.pk,
                "warehouse": "MAIN",
                "location": None,
                "on_hand": 7,
                "reserved": 0,
                "available": 7,
            }
        ],
        "total": 1,
        "next_offset": None,
    }
    assert api.get("/api/v1/stock?warehouse=NONE").json()["items"] == []
    assert api.get("/api/v1/stock?limit=1").json()["next_offset"] == 1


def test_adjustment_writes_the_ledger(api, product_factory):
    variant = product_factory(sku="A-1", stock=5)

    response = api.post(
        "/api/v1/stock/adjustments",
        content_type=JSON,
        data={"sku": "A-1", "quantity": 4, "kind": "receipt", "reason": "delivery FV/1/2026"},
    )

    assert response.status_code == 201, response.content
    assert (response.json()["on_hand_after"], response.json()["kind"], response.json()["warehouse"]) == (
        9,
        "receipt",
        "MAIN",
    )
    movement = StockMovement.objects.get(pk=response.json()["id"])
    assert (movement.quantity, movement.actor, movement.reason) == (4, api.user, "delivery FV/1/2026")
    assert StockLevel.objects.get(variant=variant).on_hand == 9


def test_stock_never_goes_negative_nor_below_reserved(api, product_factory, ingest):
    variant = product_factory(sku="SKU-0001", stock=5)
    ingest()  # reserves 2

    response = api.post(
        "/api/v1/stock/adjustments",
        content_type=JSON,
        data={"sku": "SKU-0001", "quantity": -4, "reason": "broken"},
    )

    assert response.status_code == 409
    assert response.json()["code"] == "insufficient_stock"
    assert response.json()["field"] == "quantity"
    level = StockLevel.objects.get(variant=variant)
    assert (level.on_hand, level.reserved) == (5, 2)
    assert StockMovement.objects.filter(kind="adjustment").count() == 0
    ok = api.post(
        "/api/v1/stock/adjustments",
        content_type=JSON,
        data={"sku": "SKU-0001", "quantity": -3, "reason": "broken"},
    )
    assert ok.json()["on_hand_after"] == 2


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"sku": "A-1", "quantity": 0, "reason": "x"}, 422, ""),
        ({"sku": "A-1", "quantity": -1, "kind": "receipt", "reason": "x"}, 422, ""),
        ({"sku": "A-1", "quantity": 1, "kind": "sale", "reason": "x"}, 422, "kind"),
        ({"sku": "A-1", "quantity": 10**12, "reason": "x"}, 422, "quantity"),
        ({"sku": "A-1", "quantity": 1}, 422, "reason"),
        ({"sku": "A-1", "quantity": "1.5", "reason": "x"}, 422, "quantity"),
        ({"sku": "NOPE", "quantity": 1, "reason": "x"}, 400, "sku"),
        ({"sku": "A-1", "warehouse": "NOPE", "quantity": 1, "reason": "x"}, 400, "warehouse"),
    ],
)
def test_bad_adjustments_are_refused_naming_the_field(api, product_factory, body, status, field):
    product_factory(sku="A-1", stock=5)
    response = api.post("/api/v1/stock/adjustments", data=body, content_type=JSON)
    assert response.status_code == status
    data = response.json()
    assert field == (data["errors"][0]["field"] if status == 422 else data["field"])
    assert StockMovement.objects.count() == 1  # the initial receipt only


def test_adjustment_in_a_named_warehouse(api, product_factory):
    product_factory(sku="A-1", stock=5)
    Warehouse.objects.create(code="WRO", name="Wrocław", priority=10)
    response = api.post(
        "/api/v1/stock/adjustments",
        content_type=JSON,
        data={"sku": "A-1", "warehouse": "WRO", "quantity": 2, "kind": "receipt", "reason": "x"},
    )
    assert (response.status_code, response.json()["warehouse"]) == (201, "WRO")
