"""Catalog writes: sanitised descriptions, product and variant changes, prices through the price history,
offers per channel, bulk status, the category tree and manufacturers' GPSR data."""

from __future__ import annotations

from decimal import Decimal

import pytest

from zaplecze.catalog import services
from zaplecze.catalog.models import Category, Offer, PriceChange, Product, Variant
from zaplecze.core.errors import DomainError, NotFound
from zaplecze.core.models import AuditEntry

pytestmark = pytest.mark.django_db


def _product(name="Kubek", sku="KUB-1", price="19.99"):
    return services.product_create(name=name, variants=[{"sku": sku, "price": price}])


# --- sanitising ---------------------------------------------------------------------------------------


def test_sanitize_removes_scripts_handlers_javascript_links_and_iframes():
    dirty = (
        '<p onclick="steal()">Hello <b>world</b></p><script>alert(1)</script>'
        '<img src="x.png" onerror="alert(2)" alt="cup">'
        '<a href="javascript:alert(3)">bad</a><a href="https://example.com/">good</a>'
        '<iframe src="https://evil.example/"></iframe><style>p{}</style>'
    )
    result = services.sanitize_html(dirty)
    assert "<script" not in result.html and "alert(1)" not in result.html
    assert "onerror" not in result.html and "onclick" not in result.html
    assert "javascript:" not in result.html
    assert "<iframe" not in result.html and "<style" not in result.html
    assert "<b>world</b>" in result.html
    assert '<img src="x.png" alt="cup">' in result.html
    assert '<a href="https://example.com/" rel="noopener noreferrer">good</a>' in result.html
    assert set(result.removed) >= {
        "<script>",
        "<iframe>",
        "<style>",
        "event handler onclick=",
        "javascript: link",
    }


def test_sanitize_keeps_lists_tables_and_headings_and_reports_nothing():
    clean = (
        "<h2>Cechy</h2><ul><li>one</li><li>two</li></ul><ol><li>a</li></ol>"
        '<table><thead><tr><th scope="col">Size</th></tr></thead><tbody><tr><td>M</td></tr></tbody></table>'
        "<p><em>x</em> <strong>y</strong><br></p>"
    )
    result = services.sanitize_html(clean)
    assert result.removed == []
    for tag in ("<h2>", "<ul>", "<li>", "<ol>", "<table>", '<th scope="col">', "<td>", "<em>", "<strong>"):
        assert tag in result.html


def test_product_update_sanitises_and_records_what_was_removed():
    product = _product()
    result = services.product_update(
        product_id=product.pk,
        data={"description_html": '<p>Nice</p><script>x()</script><img src=a onerror="y()">'},
        actor=None,
    )
    product.refresh_from_db()
    assert product.description_html == '<p>Nice</p><img src="a">'
    assert result.html_cleaned and "<script>" in result.removed_html
    entry = AuditEntry.objects.filter(object_type="catalog.product", action="updated").get()
    assert "<script>" in entry.reason


# --- products -----------------------------------------------------------------------------------------


def test_product_update_changes_fields_and_keeps_updated_at_current():
    product = _product()
    maker = services.manufacturer_save(data={"name": "ACME", "country": "PL"}, actor=None).manufacturer
    cat = services.category_create(name="Kuchnia", actor=None)
    before = product.updated_at
    result = services.product_update(
        product_id=product.pk,
        data={
            "name": "Kubek 2",
            "status": "draft",
            "category": cat.pk,
            "manufacturer": maker.pk,
            "perishable": True,
        },
        actor=None,
    )
    product.refresh_from_db()
    assert (product.name, product.status, product.category, product.manufacturer) == (
        "Kubek 2",
        "draft",
        cat,
        maker,
    )
    assert product.perishable is True
    assert product.updated_at > before
    assert set(result.changes) == {"name", "status", "category", "manufacturer", "perishable"}


def test_product_update_refuses_unknown_fields_and_bad_values():
    product = _product()
    with pytest.raises(DomainError) as exc:
        services.product_update(product_id=product.pk, data={"quality_score": 100}, actor=None)
    assert exc.value.field == "quality_score"
    with pytest.raises(DomainError) as exc:
        services.product_update(product_id=product.pk, data={"status": "sold"}, actor=None)
    assert exc.value.field == "status"
    with pytest.raises(DomainError) as exc:
        services.product_update(product_id=product.pk, data={"category": 999999}, actor=None)
    assert exc.value.field == "category"
    with pytest.raises(NotFound):
        services.product_update(product_id=999999, data={"name": "x"}, actor=None)


def test_product_create_starts_the_price_history():
    product = _product(price="19.99")
    change = PriceChange.objects.get(variant__product=product)
    assert (change.channel, change.price, change.source) == ("", Decimal("19.99"), "initial")


def test_bulk_status_and_category():
    a, b = _product(sku="A-1"), _product(sku="B-1")
    cat = services.category_create(name="Promo", actor=None)
    assert services.products_bulk_update(product_ids=[a.pk, b.pk], status="archived", actor=None) == 2
    assert services.products_bulk_update(product_ids=[a.pk, b.pk], status="archived", actor=None) == 0
    assert set(Product.objects.values_list("status", flat=True)) == {"archived"}
    assert (
        services.products_bulk_update(product_ids=[a.pk], category=cat.pk, set_category=True, actor=None) == 1
    )
    assert Product.objects.get(pk=a.pk).category == cat and Product.objects.get(pk=b.pk).category is None
    with pytest.raises(DomainError):
        services.products_bulk_update(product_ids=[], status="active", actor=None)


# --- variants -----------------------------------------------------------------------------------------


def test_variant_create_validates_sku_ean_and_attributes():
    product = _product()
    v = services.variant_create(
        product_id=product.pk,
        data={"sku": "KUB-2", "price": "21.00", "ean": "5901234123457", "attributes": {"colour": "red"}},
        actor=None,
    )
    assert (v.name, v.attributes, v.ean) == ("Kubek", {"colour": "red"}, "5901234123457")
    for data, field in [
        ({"sku": "KUB-1", "price": "1"}, "sku"),
        ({"sku": "KUB 3", "price": "1"}, "sku"),
        ({"sku": "KUB-3", "price": "1", "ean": "5901234123458"}, "ean"),
        ({"sku": "KUB-3", "price": "-1"}, "price"),
        ({"sku": "KUB-3", "price": "1", "attributes": {"size": 42}}, "attributes"),
        ({"sku": "KUB-3", "price": "1", "attributes": {"x" * 61: "a"}}, "attributes"),
        ({"sku": "KUB-3", "price": "1", "attributes": {f"a{i}": "v" for i in range(31)}}, "attributes"),
        ({"sku": "KUB-3", "price": "1", "attributes": ["size"]}, "attributes"),
        ({"sku": "KUB-3", "price": "1", "vat_rate": "22"}, "vat_rate"),
    ]:
        with pytest.raises(DomainError) as exc:
            services.variant_create(product_id=product.pk, data=data, actor=None)
        assert exc.value.field == field, data
    assert Variant.objects.filter(product=product).count() == 2


def test_variant_price_change_goes_into_the_price_history():
    product = _product(price="19.99")
    v = product.variants.get()
    services.variant_update(variant_id=v.pk, data={"price": "24.99", "name": "Kubek duży"}, actor=None)
    v.refresh_from_db()
    assert v.price == Decimal("24.99") and v.name == "Kubek duży"
    history = list(PriceChange.objects.filter(variant=v).order_by("id").values_list("price", "source"))
    assert history == [(Decimal("19.99"), "initial"), (Decimal("24.99"), "manual")]
    # the same price again is no change and adds no history
    services.variant_update(variant_id=v.pk, data={"price": "24.99"}, actor=None)
    assert PriceChange.objects.filter(variant=v).count() == 2


def test_variant_remove_deletes_a_fresh_one_and_archives_one_with_history():
    product = _product()
    fresh = services.variant_create(product_id=product.pk, data={"sku": "KUB-2", "price": "5"}, actor=None)
    assert services.variant_remove(variant_id=fresh.pk, actor=None) == "deleted"
    used = services.variant_create(product_id=product.pk, data={"sku": "KUB-3", "price": "5"}, actor=None)
    services.variant_update(variant_id=used.pk, data={"price": "6"}, actor=None)
    assert services.variant_remove(variant_id=used.pk, actor=None) == "archived"
    assert Variant.objects.get(pk=used.pk).active is False
    only = _product(name="Talerz", sku="TAL-1").variants.get()
    assert services.variant_remove(variant_id=only.pk, actor=None) == "archived"  # the last one stays


# --- offers -------------------------------------------------------------------------------------------


def test_offer_save_creates_updates_and_records_channel_prices():
    product = _product(price="19.99")
    v = product.variants.get()
    offer = services.offer_save(
        variant_id=v.pk,
        channel="shop",
        data={"price": "17.99", "external_id": "X1", "url": "https://shop.example/k"},
        actor=None,
    )
    assert (offer.price, offer.external_id, offer.active) == (Decimal("17.99"), "X1", True)
    assert PriceChange.objects.filter(variant=v, channel="shop").values_list(
        "price", flat=True
    ).get() == Decimal("17.99")
    services.offer_save(variant_id=v.pk, channel="shop", data={"active": False, "price": None}, actor=None)
    offer.refresh_from_db()
    assert offer.active is False and offer.price is None
    assert Offer.objects.count() == 1
    with pytest.raises(DomainError) as exc:
        services.offer_save(variant_id=v.pk, channel="nope", data={}, actor=None)
    assert exc.value.field == "channel"
    with pytest.raises(DomainError) as exc:
        services.offer_save(variant_id=v.pk, channel="shop", data={"url": "javascript:alert(1)"}, actor=None)
    assert exc.value.field == "url"


def test_channel_choices_come_from_orders():
    from zaplecze.orders.models import Channel

    Channel.objects.create(code="allegro-2", name="Allegro 2")
    choices = dict(services.channel_choices())
    assert "shop" in choices and choices["allegro-2"] == "Allegro 2"


# --- categories ---------------------------------------------------------------------------------------


def test_category_tree_move_refuses_cycles():
    top = services.category_create(name="Dom", actor=None)
    mid = services.category_create(name="Kuchnia", parent_id=top.pk, actor=None)
    low = services.category_create(name="Kubki", parent_id=mid.pk, actor=None)
    for target in (top, low, mid):
        with pytest.raises(DomainError) as exc:
            services.category_move(
                category_id=top.pk if target is not mid else mid.pk, parent_id=target.pk, actor=None
            )
        assert exc.value.code == "cycle"
    services.category_move(category_id=low.pk, parent_id=None, actor=None)
    assert Category.objects.get(pk=low.pk).parent is None
    services.category_move(category_id=top.pk, parent_id=low.pk, actor=None)
    assert Category.objects.get(pk=top.pk).parent_id == low.pk


def test_category_names_are_unique_among_siblings_and_delete_only_when_empty():
    top = services.category_create(name="Dom", actor=None)
    with pytest.raises(DomainError):
        services.category_create(name="dom", actor=None)
    child = services.category_create(name="Dom", parent_id=top.pk, actor=None)  # another level: fine
    assert child.slug != top.slug
    with pytest.raises(DomainError) as exc:
        services.category_delete(category_id=top.pk, actor=None)
    assert exc.value.code == "in_use"
    product = _product()
    services.product_update(product_id=product.pk, data={"category": child.pk}, actor=None)
    with pytest.raises(DomainError):
        services.category_delete(category_id=child.pk, actor=None)
    services.product_update(product_id=product.pk, data={"category": None}, actor=None)
    services.category_delete(category_id=child.pk, actor=None)
    services.category_rename(category_id=top.pk, name="Dom i ogród", actor=None)
    assert list(Category.objects.values_list("name", flat=True)) == ["Dom i ogród"]


# --- manufacturers ------------------------------------------------------------------------------------


def test_manufacturer_validation_refuses_malformed_data():
    for data, field in [
        ({"name": "A", "email": "not-an-email"}, "email"),
        ({"name": "A", "country": "XX"}, "country"),
        ({"name": "A", "eu_rp_email": "x@"}, "eu_rp_email"),
        ({"name": "A", "website": "ftp://a"}, "website"),
        ({"name": ""}, "name"),
    ]:
        with pytest.raises(DomainError) as exc:
            services.manufacturer_save(data=data, actor=None)
        assert exc.value.field == field, data
    services.manufacturer_save(data={"name": "ACME"}, actor=None)
    with pytest.raises(DomainError) as exc:
        services.manufacturer_save(data={"name": "acme"}, actor=None)
    assert exc.value.code == "exists"


def test_non_eu_manufacturer_without_responsible_person_is_saved_with_warnings():
    full_address = {"street": "1 Road", "postcode": "518000", "city": "Shenzhen", "email": "a@maker.cn"}
    saved = services.manufacturer_save(data={"name": "Maker CN", "country": "cn", **full_address}, actor=None)
    assert saved.manufacturer.country == "CN"
    assert [str(w) for w in saved.warnings] == [
        "EU responsible person",
        "EU responsible person's address",
        "EU responsible person's e-mail",
    ]
    fixed = services.manufacturer_save(
        manufacturer_id=saved.manufacturer.pk,
        data={
            "eu_rp_name": "Rep Sp. z o.o.",
            "eu_rp_address": "ul. Prosta 1, Warszawa",
            "eu_rp_email": "rep@rep.pl",
        },
        actor=None,
    )
    assert fixed.warnings == []
    eu = services.manufacturer_save(data={"name": "Maker DE", "country": "DE", **full_address}, actor=None)
    assert eu.warnings == []


def test_manufacturer_delete_only_when_unused():
    m = services.manufacturer_save(data={"name": "ACME"}, actor=None).manufacturer
    product = _product()
    services.product_update(product_id=product.pk, data={"manufacturer": m.pk}, actor=None)
    with pytest.raises(DomainError):
        services.manufacturer_delete(manufacturer_id=m.pk, actor=None)
    services.product_update(product_id=product.pk, data={"manufacturer": None}, actor=None)
    services.manufacturer_delete(manufacturer_id=m.pk, actor=None)
