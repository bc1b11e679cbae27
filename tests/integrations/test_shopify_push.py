"""The Shopify connector's stock and price push against the fake Admin API: the SKU map from paged
products.json (Link header, fields=id,variants), inventory_levels/set.json at the primary location,
variants/{id}.json with price and compare_at_price, unknown SKUs, a stale map, untracked inventory."""

from __future__ import annotations

import pytest

from zaplecze.integrations.connectors import shopify as shopify_module
from zaplecze.integrations.connectors.base import ConnectorError
from zaplecze.integrations.connectors.shopify import Shopify

from .fake_shopify import PRIMARY_LOCATION, TOKEN, FakeShopify, shopify_product


@pytest.fixture
def fake_shopify():
    server = FakeShopify().start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _fresh_sku_maps():
    shopify_module._sku_maps.clear()
    yield
    shopify_module._sku_maps.clear()


def _shopify(fake, **credentials):
    return Shopify(base_url=fake.url, credentials={"access_token": TOKEN, **credentials}, channel="other")


def test_the_sku_map_pages_through_every_product_with_page_info_only(fake_shopify, waits):
    fake_shopify.products = [shopify_product(n, [f"A-{n}", f"B-{n}"]) for n in range(1, 301)]

    found = _shopify(fake_shopify).variants_by_sku()

    assert len(found) == 600
    assert found["B-7"] == [(800000702, 800000702)]
    first, second = fake_shopify.calls("products.json")
    assert first == {"fields": "id,variants", "limit": "250"}
    assert set(second) == {"limit", "page_info"}


def test_the_sku_map_is_reused_until_it_expires(fake_shopify, waits, monkeypatch):
    fake_shopify.products = [shopify_product(1, ["A-1"])]
    connector = _shopify(fake_shopify)
    connector.variants_by_sku()
    connector.variants_by_sku()
    _shopify(fake_shopify).variants_by_sku()  # another push run in the same worker
    assert len(fake_shopify.calls("products.json")) == 1

    monkeypatch.setattr(shopify_module, "SKU_MAP_TTL", 0.0)
    connector.variants_by_sku()
    assert len(fake_shopify.calls("products.json")) == 2


def test_stock_is_set_at_the_primary_location_and_prices_on_the_variant(fake_shopify, waits):
    fake_shopify.products = [shopify_product(1, ["MUG-1", "MUG-2"])]
    results = _shopify(fake_shopify).push_items(
        [
            {"sku": "MUG-1", "quantity": 7, "regular": "49.99", "sale": None},
            {"sku": "MUG-2", "regular": "59.00", "sale": "44.25"},
            {"sku": "NOPE", "quantity": 1},
        ]
    )

    assert results == {"MUG-1": True, "MUG-2": True, "NOPE": False}
    assert fake_shopify.levels == {(800000101, PRIMARY_LOCATION): 7}
    mug1, mug2 = fake_shopify.products[0]["variants"]
    assert (mug1["price"], mug1["compare_at_price"], mug1["inventory_quantity"]) == ("49.99", None, 7)
    # A promotion: the price customers pay, the regular one struck through.
    assert (mug2["price"], mug2["compare_at_price"]) == ("44.25", "59.00")
    assert ("POST", "/admin/api/2024-10/inventory_levels/set.json") in [
        (m, p) for m, p, _b in fake_shopify.bodies
    ]
    assert [b for m, p, b in fake_shopify.bodies if p.endswith("set.json")] == [
        {"location_id": PRIMARY_LOCATION, "inventory_item_id": 800000101, "available": 7}
    ]
    assert [b for m, p, b in fake_shopify.bodies if "/variants/" in p] == [
        {"variant": {"id": 800000101, "price": "49.99", "compare_at_price": None}},
        {"variant": {"id": 800000102, "price": "44.25", "compare_at_price": "59.00"}},
    ]
    assert len(fake_shopify.calls("shop.json")) == 1  # the primary location is read once per run


def test_a_configured_location_is_used_instead_of_the_primary_one(fake_shopify, waits):
    fake_shopify.products = [shopify_product(1, ["MUG-1"])]
    assert _shopify(fake_shopify, location_id="487838322").push_items([{"sku": "MUG-1", "quantity": 3}]) == {
        "MUG-1": True
    }
    assert fake_shopify.levels == {(800000101, 487838322): 3}
    assert fake_shopify.calls("shop.json") == []


def test_a_negative_available_quantity_is_sent_as_zero(fake_shopify, waits):
    fake_shopify.products = [shopify_product(1, ["MUG-1"])]
    _shopify(fake_shopify).push_items([{"sku": "MUG-1", "quantity": -2}])
    assert fake_shopify.levels == {(800000101, PRIMARY_LOCATION): 0}


def test_a_variant_deleted_since_the_map_was_built_is_looked_up_again(fake_shopify, waits):
    fake_shopify.products = [shopify_product(1, ["MUG-1"])]
    connector = _shopify(fake_shopify)
    connector.variants_by_sku()
    fake_shopify.products = [shopify_product(2, ["MUG-1"])]  # recreated: new variant id

    assert connector.push_items([{"sku": "MUG-1", "regular": "10.00", "sale": None}]) == {"MUG-1": True}
    assert fake_shopify.products[0]["variants"][0]["price"] == "10.00"
    assert len(fake_shopify.calls("products.json")) == 2

    fake_shopify.products = []  # and now gone altogether
    assert connector.push_items([{"sku": "MUG-1", "regular": "11.00", "sale": None}]) == {"MUG-1": False}


def test_an_untracked_inventory_item_is_that_skus_error_not_the_batchs(fake_shopify, waits):
    fake_shopify.products = [shopify_product(1, ["MUG-1"], tracked=False), shopify_product(2, ["MUG-2"])]
    results = _shopify(fake_shopify).push_items(
        [{"sku": "MUG-1", "quantity": 1}, {"sku": "MUG-2", "quantity": 2}]
    )
    assert isinstance(results["MUG-1"], ConnectorError) and results["MUG-1"].status == 422
    assert "inventory tracking" in str(results["MUG-1"])
    assert results["MUG-2"] is True


def test_a_full_bucket_slows_down(fake_shopify, waits):
    fake_shopify.products = [shopify_product(1, ["MUG-1"])]
    fake_shopify.call_limit = "39/40"
    _shopify(fake_shopify).push_items([{"sku": "MUG-1", "quantity": 1}])
    assert waits == [1.0, 1.0]  # after the products page and after the stock call


def test_single_sku_push_stock_and_price(fake_shopify, waits):
    fake_shopify.products = [shopify_product(1, ["MUG-1"])]
    connector = _shopify(fake_shopify)
    assert connector.push_stock(sku="MUG-1", quantity=4) is True
    assert connector.push_price(sku="MUG-1", regular="20.00", sale="15.00") is True
    assert connector.push_stock(sku="NOPE", quantity=4) is False
    variant = fake_shopify.products[0]["variants"][0]
    assert (variant["inventory_quantity"], variant["price"], variant["compare_at_price"]) == (
        4,
        "15.00",
        "20.00",
    )
