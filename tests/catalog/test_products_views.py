"""Product screens: the list with its filters and bulk actions, the product page and its forms (errors shown
with 400), a new product, manufacturers, the category tree, and the panels of stock and returns."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from zaplecze.catalog import selectors, services
from zaplecze.catalog.models import (
    AuditFinding,
    Category,
    Manufacturer,
    Offer,
    Product,
    ProductImage,
    Variant,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalog(db):
    """Three products: a mug (kitchen > mugs, ACME, image, shop offer, finding), a plate (kitchen), a lamp."""
    kitchen = services.category_create(name="Kuchnia", actor=None)
    mugs = services.category_create(name="Kubki", parent_id=kitchen.pk, actor=None)
    acme = services.manufacturer_save(data={"name": "ACME", "country": "PL"}, actor=None).manufacturer
    mug = services.product_create(
        name="Kubek czerwony",
        category=mugs,
        brand="Ceramix",
        manufacturer=acme,
        variants=[{"sku": "MUG-1", "ean": "5901234123457", "price": "19.99"}],
    )
    plate = services.product_create(
        name="Talerz", category=kitchen, brand="Ceramix", variants=[{"sku": "PLT-1", "price": "29.99"}]
    )
    lamp = services.product_create(
        name="Lampa", brand="Lumo", status="draft", variants=[{"sku": "LMP-1", "price": "99.00"}]
    )
    ProductImage.objects.create(product=mug, source_url="https://img.example/mug.png", width=800, height=800)
    services.offer_save(variant_id=mug.variants.get().pk, channel="shop", data={"active": True}, actor=None)
    AuditFinding.objects.create(product=plate, rule="no_image", severity="error")
    Product.objects.filter(pk=mug.pk).update(quality_score=90)
    Product.objects.filter(pk=plate.pk).update(quality_score=40)
    return {"mug": mug, "plate": plate, "lamp": lamp, "kitchen": kitchen, "mugs": mugs, "acme": acme}


def _names(params) -> list[str]:
    f = selectors.ProductFilter.from_params(params)
    return [p.name for p in selectors.product_page(f).items]


def test_list_filters(catalog):
    assert _names({}) == ["Kubek czerwony", "Lampa", "Talerz"]
    assert _names({"q": "MUG"}) == ["Kubek czerwony"]
    assert _names({"q": "5901234123457"}) == ["Kubek czerwony"]
    assert _names({"q": "talerz"}) == ["Talerz"]
    assert _names({"status": "draft"}) == ["Lampa"]
    assert _names({"category": str(catalog["kitchen"].pk)}) == [
        "Kubek czerwony",
        "Talerz",
    ]  # with descendants
    assert _names({"category": str(catalog["mugs"].pk)}) == ["Kubek czerwony"]
    assert _names({"brand": "ceramix"}) == ["Kubek czerwony", "Talerz"]
    assert _names({"manufacturer": str(catalog["acme"].pk)}) == ["Kubek czerwony"]
    assert _names({"has_image": "yes"}) == ["Kubek czerwony"]
    assert _names({"has_image": "no"}) == ["Lampa", "Talerz"]
    assert _names({"issue": "no_image"}) == ["Talerz"]
    assert _names({"severity": "error"}) == ["Talerz"]
    assert _names({"score_min": "50"}) == ["Kubek czerwony"]
    assert _names({"score_max": "50"}) == ["Talerz"]
    assert _names({"channel": "shop", "offer": "active"}) == ["Kubek czerwony"]
    assert _names({"channel": "shop", "offer": "missing"}) == ["Lampa", "Talerz"]
    assert _names({"sort": "score"}) == ["Lampa", "Talerz", "Kubek czerwony"]  # never audited first
    assert _names({"status": "bogus", "category": "x", "score_min": "900"}) == [
        "Kubek czerwony",
        "Lampa",
        "Talerz",
    ]


def test_keyset_paging_visits_every_product_once(catalog):
    for sort in ("name", "-name", "-updated", "score", "-score", "newest"):
        f = selectors.ProductFilter.from_params({"sort": sort})
        seen, cursor = [], None
        while True:
            page = selectors.product_page(f, cursor=cursor, limit=2)
            seen += [p.pk for p in page.items]
            if not page.next_cursor:
                break
            cursor = page.next_cursor
        assert sorted(seen) == sorted(Product.objects.values_list("pk", flat=True)), sort
    assert selectors.product_page(
        selectors.ProductFilter(), cursor="garbage!!"
    ).items  # a bad cursor = first page


def test_list_page_renders_with_a_bounded_number_of_queries(
    admin_client, catalog, django_assert_max_num_queries
):
    with django_assert_max_num_queries(25):
        page = admin_client.get(reverse("catalog:products"), {"q": "Kubek"})
    assert page.status_code == 200
    html = page.content.decode()
    assert f'data-product-id="{catalog["mug"].pk}"' in html and "Talerz" not in html
    assert 'class="badge score score-good"' in html
    assert "/products/import/export/?q=Kubek&amp;format=csv" in html  # export with the list's filters


def test_bulk_archive_and_category(admin_client, catalog):
    ids = [catalog["plate"].pk, catalog["lamp"].pk]
    r = admin_client.post(
        reverse("catalog:products_bulk"), {"ids": ids, "action": "archive", "next": "/products/?q=x"}
    )
    assert r.status_code == 302 and r["Location"] == "/products/?q=x"
    assert set(Product.objects.filter(pk__in=ids).values_list("status", flat=True)) == {"archived"}
    admin_client.post(
        reverse("catalog:products_bulk"), {"ids": ids, "action": "category", "category": catalog["mugs"].pk}
    )
    assert Product.objects.filter(category=catalog["mugs"]).count() == 3
    r = admin_client.post(
        reverse("catalog:products_bulk"), {"ids": ids, "action": "", "next": "https://evil.example/"}
    )
    assert r["Location"] == reverse("catalog:products")


def test_readonly_sees_the_list_but_cannot_change(catalog, make_user):
    client = Client()
    client.force_login(make_user("readonly"))
    assert client.get(reverse("catalog:products")).status_code == 200
    page = client.get(reverse("catalog:product", args=[catalog["mug"].pk]))
    assert page.status_code == 200 and 'action="/products/' not in page.content.decode().split("panel-")[0]
    assert (
        client.post(
            reverse("catalog:products_bulk"), {"ids": [catalog["mug"].pk], "action": "archive"}
        ).status_code
        == 403
    )
    assert (
        client.post(reverse("catalog:product_edit", args=[catalog["mug"].pk]), {"name": "x"}).status_code
        == 403
    )
    assert Product.objects.get(pk=catalog["mug"].pk).status == "active"


def test_product_page_shows_every_section_and_the_panels(admin_client, catalog):
    mug = catalog["mug"]
    html = admin_client.get(reverse("catalog:product", args=[mug.pk])).content.decode()
    for anchor in (
        "details",
        "description",
        "variants",
        "attributes",
        "offers",
        "images",
        "gpsr",
        "findings",
    ):
        assert f'id="{anchor}"' in html
    assert 'id="panel-stock"' in html and 'data-stock-sku="MUG-1"' in html
    assert 'id="panel-return_exclusion"' in html
    assert "800 × 800 px" in html
    ids = re.findall(r'\sid="([^"]+)"', html)
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    assert admin_client.get(reverse("catalog:product", args=[999999])).status_code == 404


def test_edit_details_with_errors_and_success(admin_client, catalog):
    mug = catalog["mug"]
    url = reverse("catalog:product_edit", args=[mug.pk])
    bad = admin_client.post(url, {"name": "", "status": "active"})
    assert bad.status_code == 400 and "field-error" in bad.content.decode()
    ok = admin_client.post(
        url,
        {
            "name": "Kubek",
            "status": "draft",
            "category": catalog["kitchen"].pk,
            "brand": "B",
            "safety_info": "Uwaga",
        },
    )
    assert ok.status_code == 302
    mug.refresh_from_db()
    assert (mug.name, mug.status, mug.category, mug.manufacturer, mug.safety_info) == (
        "Kubek",
        "draft",
        catalog["kitchen"],
        None,
        "Uwaga",
    )


def test_description_is_saved_sanitised_and_previewed(admin_client, catalog):
    mug = catalog["mug"]
    preview = admin_client.post(
        reverse("catalog:description_preview", args=[mug.pk]),
        {"description_html": "<p>Hi</p><script>x()</script>"},
    )
    assert preview.status_code == 200
    assert "<p>Hi</p>" in preview.content.decode() and "x()" not in preview.content.decode()
    r = admin_client.post(
        reverse("catalog:product_description", args=[mug.pk]),
        {"description_html": '<p onclick="x()">Hi</p><a href="javascript:alert(1)">x</a>'},
        follow=True,
    )
    mug.refresh_from_db()
    assert mug.description_html == '<p>Hi</p><a rel="noopener noreferrer">x</a>'
    assert "removed as unsafe" in r.content.decode()


def test_variants_add_edit_with_errors_and_remove(admin_client, catalog):
    mug = catalog["mug"]
    add = reverse("catalog:variant_add", args=[mug.pk])
    bad = admin_client.post(
        add, {"new-sku": "MUG-1", "new-price": "5", "new-vat_rate": "23", "new-attributes": "size M"}
    )
    assert bad.status_code == 400
    assert "name: value" in bad.content.decode()
    bad = admin_client.post(add, {"new-sku": "MUG-1", "new-price": "5", "new-vat_rate": "23"})
    assert bad.status_code == 400 and "already exists" in bad.content.decode()
    ok = admin_client.post(
        add,
        {
            "new-sku": "MUG-2",
            "new-price": "25",
            "new-vat_rate": "23",
            "new-attributes": "colour: blue\nsize: L",
            "new-active": "on",
        },
    )
    assert ok.status_code == 302
    v2 = Variant.objects.get(sku="MUG-2")
    assert v2.attributes == {"colour": "blue", "size": "L"} and v2.name == "Kubek czerwony"
    edit = reverse("catalog:variant_edit", args=[mug.pk, v2.pk])
    bad = admin_client.post(
        edit,
        {
            f"v{v2.pk}-sku": "MUG-2",
            f"v{v2.pk}-price": "25",
            f"v{v2.pk}-vat_rate": "23",
            f"v{v2.pk}-ean": "123",
        },
    )
    assert bad.status_code == 400 and "EAN" in bad.content.decode()
    ok = admin_client.post(
        edit,
        {
            f"v{v2.pk}-sku": "MUG-2",
            f"v{v2.pk}-price": "27.50",
            f"v{v2.pk}-vat_rate": "8",
            f"v{v2.pk}-active": "on",
        },
    )
    assert ok.status_code == 302
    v2.refresh_from_db()
    assert (v2.price, v2.vat_rate, v2.attributes) == (Decimal("27.50"), "8", {})
    other = catalog["plate"].variants.get()
    assert admin_client.post(reverse("catalog:variant_edit", args=[mug.pk, other.pk]), {}).status_code == 404
    admin_client.post(reverse("catalog:variant_remove", args=[mug.pk, v2.pk]))
    assert not Variant.objects.get(pk=v2.pk).active  # it has a price history: archived, not deleted


def test_offers_form(admin_client, catalog):
    mug = catalog["mug"]
    v = mug.variants.get()
    url = reverse("catalog:offer_save", args=[mug.pk])
    bad = admin_client.post(url, {"variant": v.pk, "channel": "shop", "price": "-1"})
    assert bad.status_code == 400
    wrong = admin_client.post(url, {"variant": catalog["plate"].variants.get().pk, "channel": "shop"})
    assert wrong.status_code == 400 and "Choose a variant" in wrong.content.decode()
    ok = admin_client.post(url, {"variant": v.pk, "channel": "shop", "price": "18.49", "external_id": "S-1"})
    assert ok.status_code == 302
    offer = Offer.objects.get(variant=v, channel="shop")
    assert (offer.price, offer.active, offer.external_id) == (Decimal("18.49"), False, "S-1")


def test_image_url_form_and_actions(admin_client, catalog, django_capture_on_commit_callbacks):
    mug = catalog["mug"]
    bad = admin_client.post(reverse("catalog:image_url", args=[mug.pk]), {"url": "javascript:alert(1)"})
    assert bad.status_code == 400
    with django_capture_on_commit_callbacks(execute=False):
        ok = admin_client.post(
            reverse("catalog:image_url", args=[mug.pk]), {"url": "https://img.example/2.png", "alt": "B"}
        )
    assert ok.status_code == 302
    first, second = ProductImage.objects.filter(product=mug).order_by("position")
    admin_client.post(reverse("catalog:image_action", args=[mug.pk, second.pk]), {"action": "up"})
    assert list(
        ProductImage.objects.filter(product=mug).order_by("position").values_list("pk", flat=True)
    ) == [second.pk, first.pk]
    admin_client.post(reverse("catalog:image_action", args=[mug.pk, first.pk]), {"action": "delete"})
    assert list(ProductImage.objects.filter(product=mug).values_list("pk", flat=True)) == [second.pk]


def test_new_product(admin_client, catalog):
    url = reverse("catalog:product_create")
    bad = admin_client.post(
        url, {"name": "Nowy", "sku": "MUG-1", "price": "10", "vat_rate": "23", "status": "draft"}
    )
    assert bad.status_code == 400 and "already exists" in bad.content.decode()
    ok = admin_client.post(
        url,
        {
            "name": "Nowy",
            "sku": "NEW-1",
            "price": "10",
            "vat_rate": "23",
            "status": "draft",
            "manufacturer": catalog["acme"].pk,
            "perishable": "on",
        },
    )
    product = Product.objects.get(name="Nowy")
    assert ok.status_code == 302 and ok["Location"] == reverse("catalog:product", args=[product.pk])
    assert (product.status, product.manufacturer, product.perishable) == ("draft", catalog["acme"], True)


def test_manufacturer_screens(admin_client, catalog):
    assert "ACME" in admin_client.get(reverse("catalog:manufacturers")).content.decode()
    bad = admin_client.post(
        reverse("catalog:manufacturer_create"), {"name": "Maker", "email": "nope", "country": "PL"}
    )
    assert bad.status_code == 400 and "not a valid e-mail" in bad.content.decode()
    r = admin_client.post(
        reverse("catalog:manufacturer_create"), {"name": "Maker CN", "country": "CN"}, follow=True
    )
    assert "GPSR data is missing" in r.content.decode()
    m = Manufacturer.objects.get(name="Maker CN")
    r = admin_client.post(reverse("catalog:manufacturer", args=[m.pk]), {"action": "delete"})
    assert r.status_code == 302 and not Manufacturer.objects.filter(pk=m.pk).exists()


def test_category_screens(admin_client, catalog):
    assert "Kubki" in admin_client.get(reverse("catalog:categories")).content.decode()
    url = reverse("catalog:category_action")
    r = admin_client.post(
        url, {"action": "move", "category": catalog["kitchen"].pk, "parent": catalog["mugs"].pk}, follow=True
    )
    assert "inside it" in r.content.decode()
    assert Category.objects.get(pk=catalog["kitchen"].pk).parent is None
    admin_client.post(url, {"action": "create", "name": "Ogród"})
    garden = Category.objects.get(name="Ogród")
    admin_client.post(url, {"action": "delete", "category": garden.pk})
    assert not Category.objects.filter(pk=garden.pk).exists()


def test_return_exclusion_panel_sets_the_flag_for_service_staff_only(catalog, make_user, admin_client):
    from zaplecze.service.models import ProductReturnExclusion

    mug = catalog["mug"]
    url = reverse("catalog:product_panel", args=[mug.pk, "return_exclusion"])
    marketing = Client()
    marketing.force_login(make_user("marketing"))
    marketing.post(url, {"kind": "sealed_hygiene"})
    assert not ProductReturnExclusion.objects.exists()
    r = admin_client.post(url, {"kind": "sealed_hygiene", "note": "sealed"})
    assert r.status_code == 302 and r["Location"].endswith("#panel-return_exclusion")
    assert ProductReturnExclusion.objects.get(product=mug).kind == "sealed_hygiene"
    page = admin_client.get(reverse("catalog:product", args=[mug.pk])).content.decode()
    assert 'data-return-exclusion="sealed_hygiene"' in page
    assert admin_client.post(reverse("catalog:product_panel", args=[mug.pk, "stock"])).status_code == 404
