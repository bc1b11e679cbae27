"""Product API at /api/v1/products: detail, PATCH (sanitised description), variants, offers, images
(multipart and URL), manufacturers and categories; permissions and errors."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from django.test import Client
from PIL import Image

from zaplecze.catalog import services
from zaplecze.catalog.models import Category, Manufacturer, Offer, PriceChange, Product, ProductImage, Variant

pytestmark = pytest.mark.django_db
JSON = "application/json"


@pytest.fixture
def api_as(make_user):
    from zaplecze.core.services import token_create

    def _client(role: str = "admin") -> Client:
        return Client(HTTP_AUTHORIZATION=f"Bearer {token_create(user=make_user(role))}")

    return _client


@pytest.fixture
def product(db):
    return services.product_create(name="Kubek", variants=[{"sku": "KUB-1", "price": "19.99"}])


def test_get_product_in_full(api_as, product):
    ProductImage.objects.create(product=product, source_url="https://img.example/a.png", width=10, height=20)
    r = api_as("readonly").get(f"/api/v1/products/{product.pk}")
    assert r.status_code == 200
    body = r.json()
    assert body["name"] == "Kubek" and body["variants"][0]["sku"] == "KUB-1"
    assert body["images"][0] == {
        "id": body["images"][0]["id"],
        "variant_id": None,
        "url": "https://img.example/a.png",
        "uploaded": False,
        "width": 10,
        "height": 20,
        "size_bytes": None,
        "content_type": "",
        "alt": "",
        "position": 0,
        "error": "",
        "checked_at": None,
    }
    assert api_as().get("/api/v1/products/999999").status_code == 404


def test_patch_product_sanitises_and_refuses_unknown_fields(api_as, product):
    api = api_as()
    r = api.patch(
        f"/api/v1/products/{product.pk}",
        data={"description_html": "<p>Hi</p><script>x()</script>", "status": "draft"},
        content_type=JSON,
    )
    assert r.status_code == 200
    assert r.json()["description_html"] == "<p>Hi</p>" and r.json()["removed_html"] == ["<script>"]
    assert Product.objects.get(pk=product.pk).status == "draft"
    r = api.patch(f"/api/v1/products/{product.pk}", data={"quality_score": 100}, content_type=JSON)
    assert r.status_code == 422
    r = api.patch(f"/api/v1/products/{product.pk}", data={"category_id": 999999}, content_type=JSON)
    assert r.status_code == 400 and r.json()["field"] == "category"
    denied = api_as("warehouse").patch(
        f"/api/v1/products/{product.pk}", data={"name": "X"}, content_type=JSON
    )
    assert denied.status_code == 403 and Product.objects.get(pk=product.pk).name == "Kubek"


def test_variants_add_and_patch_with_price_history(api_as, product):
    api = api_as()
    r = api.post(
        f"/api/v1/products/{product.pk}/variants",
        data={"sku": "KUB-2", "price": "21.00", "attributes": {"size": "L"}},
        content_type=JSON,
    )
    assert r.status_code == 201 and r.json()["attributes"] == {"size": "L"}
    vid = r.json()["id"]
    dup = api.post(
        f"/api/v1/products/{product.pk}/variants", data={"sku": "KUB-2", "price": "1"}, content_type=JSON
    )
    assert dup.status_code == 400 and dup.json()["field"] == "sku"
    r = api.patch(
        f"/api/v1/products/variants/{vid}", data={"price": "23.00", "ean": "5901234123457"}, content_type=JSON
    )
    assert r.status_code == 200 and r.json()["price"] == "23.00"
    assert list(PriceChange.objects.filter(variant_id=vid).values_list("price", "source")) == [
        (Decimal("21.00"), "api"),
        (Decimal("23.00"), "api"),
    ]
    bad = api.patch(f"/api/v1/products/variants/{vid}", data={"ean": "123"}, content_type=JSON)
    assert bad.status_code == 400 and bad.json()["field"] == "ean"
    assert (
        api.patch("/api/v1/products/variants/999999", data={"name": "x"}, content_type=JSON).status_code
        == 404
    )


def test_put_offer(api_as, product):
    v = product.variants.get()
    api = api_as()
    r = api.put(
        f"/api/v1/products/variants/{v.pk}/offers/shop",
        data={"price": "17.99", "external_id": "A1", "url": "https://shop.example/kubek"},
        content_type=JSON,
    )
    assert r.status_code == 200 and r.json()["price"] == "17.99"
    r = api.put(f"/api/v1/products/variants/{v.pk}/offers/shop", data={"active": False}, content_type=JSON)
    assert r.json()["active"] is False and r.json()["price"] is None
    assert Offer.objects.get().external_id == ""
    r = api.put(f"/api/v1/products/variants/{v.pk}/offers/nowhere", data={}, content_type=JSON)
    assert r.status_code == 400 and r.json()["field"] == "channel"


def test_images_upload_url_and_delete(api_as, product, django_capture_on_commit_callbacks):
    api = api_as()
    buf = io.BytesIO()
    Image.new("RGB", (40, 30)).save(buf, "JPEG")
    buf.seek(0)
    buf.name = "a.jpg"
    r = api.post(f"/api/v1/products/{product.pk}/images", data={"file": buf, "alt": "Front"})
    assert r.status_code == 201, r.content
    assert (r.json()["width"], r.json()["height"], r.json()["content_type"], r.json()["alt"]) == (
        40,
        30,
        "image/jpeg",
        "Front",
    )
    text = io.BytesIO(b"just text")
    text.name = "b.jpg"
    r = api.post(f"/api/v1/products/{product.pk}/images", data={"file": text})
    assert r.status_code == 400 and r.json()["code"] == "not_image"
    with django_capture_on_commit_callbacks(execute=False):
        r = api.post(
            f"/api/v1/products/{product.pk}/images/url",
            data={"url": "https://img.example/b.png"},
            content_type=JSON,
        )
    assert r.status_code == 201 and r.json()["width"] is None
    r = api.post(f"/api/v1/products/{product.pk}/images/url", data={"url": "javascript:x"}, content_type=JSON)
    assert r.status_code == 400
    image_id = ProductImage.objects.get(source_url="https://img.example/b.png").pk
    assert api.delete(f"/api/v1/products/images/{image_id}").status_code == 204
    assert api.delete(f"/api/v1/products/images/{image_id}").status_code == 404
    assert ProductImage.objects.count() == 1


def test_manufacturers_and_categories(api_as):
    api = api_as()
    r = api.post(
        "/api/v1/products/manufacturers", data={"name": "Maker CN", "country": "CN"}, content_type=JSON
    )
    assert r.status_code == 201 and "EU responsible person" in r.json()["warnings"]
    bad = api.post("/api/v1/products/manufacturers", data={"name": "X", "email": "bad"}, content_type=JSON)
    assert bad.status_code == 400 and bad.json()["field"] == "email"
    assert [m["name"] for m in api_as("readonly").get("/api/v1/products/manufacturers").json()] == [
        "Maker CN"
    ]
    top = api.post("/api/v1/products/categories", data={"name": "Dom"}, content_type=JSON)
    assert top.status_code == 201
    child = api.post(
        "/api/v1/products/categories",
        data={"name": "Kuchnia", "parent_id": top.json()["id"]},
        content_type=JSON,
    )
    assert child.json()["parent_id"] == top.json()["id"]
    assert [c["name"] for c in api.get("/api/v1/products/categories").json()] == ["Dom", "Kuchnia"]
    assert (
        api.post(
            "/api/v1/products/categories", data={"name": "X", "parent_id": 999999}, content_type=JSON
        ).status_code
        == 404
    )
    assert Category.objects.count() == 2 and Manufacturer.objects.count() == 1
    denied = api_as("service").post("/api/v1/products/categories", data={"name": "Y"}, content_type=JSON)
    assert denied.status_code == 403 and Category.objects.count() == 2


def test_existing_list_and_create_still_work(api_as):
    api = api_as()
    r = api.post(
        "/api/v1/products",
        data={"name": "Talerz", "variants": [{"sku": "TAL-1", "price": "9.99"}]},
        content_type=JSON,
    )
    assert r.status_code == 201
    assert [i["sku"] for i in api.get("/api/v1/products").json()["items"]] == ["TAL-1"]
    assert Variant.objects.get(sku="TAL-1").price_changes.count() == 1
