"""Each automation condition is a small named function of (order, params): true and false cases."""

from __future__ import annotations

import pytest

from zaplecze.orders import automation as a
from zaplecze.orders.services import order_tags_change, order_transition

pytestmark = pytest.mark.django_db


@pytest.fixture
def order(ingest, product_factory):
    product_factory(sku="SKU-0001", stock=10)
    # shop, card, paid, InPost locker, PL, consumer, 2 x 49.99 + 12.99 = 112.97, status "ready"
    return ingest().order


def test_channel(order):
    assert a.condition_channel(order, {"channels": ["allegro", "shop"]}) is True
    assert a.condition_channel(order, {"channels": ["allegro"]}) is False


def test_payment_method(order):
    assert a.condition_payment_method(order, {"methods": ["card"]}) is True
    assert a.condition_payment_method(order, {"methods": ["cod", "blik"]}) is False


def test_payment_status(order):
    assert a.condition_payment_status(order, {"statuses": ["paid"]}) is True
    assert a.condition_payment_status(order, {"statuses": ["unpaid", "cod"]}) is False


def test_delivery_method(order):
    assert a.condition_delivery_method(order, {"methods": ["inpost_locker", "dpd"]}) is True
    assert a.condition_delivery_method(order, {"methods": ["pickup"]}) is False


def test_total_at_least_and_at_most_compare_the_gross_total_inclusively(order):
    assert str(order.total_gross) == "112.97"
    assert a.condition_total_at_least(order, {"amount": "112.97"}) is True
    assert a.condition_total_at_least(order, {"amount": "112.98"}) is False
    assert a.condition_total_at_most(order, {"amount": "112.97"}) is True
    assert a.condition_total_at_most(order, {"amount": "112.96"}) is False


def test_shipping_country(ingest, order):
    assert a.condition_shipping_country(order, {"countries": ["PL"]}) is True
    german = ingest(
        external_id="de-1",
        shipping_address={
            "name": "Max",
            "street": "Hauptstr. 1",
            "postcode": "10115",
            "city": "Berlin",
            "country": "DE",
        },
    ).order
    assert a.condition_shipping_country(german, {"countries": ["PL", "CZ"]}) is False
    assert a.condition_shipping_country(german, {"countries": ["DE"]}) is True


def test_has_tag_and_lacks_tag_ignore_letter_case(order):
    order_tags_change(order_ids=[order.pk], add=["VIP-check"], actor=None)
    assert a.condition_has_tag(order, {"tag": "vip-check"}) is True
    assert a.condition_lacks_tag(order, {"tag": "VIP-CHECK"}) is False
    assert a.condition_has_tag(order, {"tag": "fragile"}) is False
    assert a.condition_lacks_tag(order, {"tag": "fragile"}) is True


def test_all_in_stock_when_every_line_is_reserved(order):
    assert a.condition_all_in_stock(order, {}) is True


def test_all_in_stock_is_false_when_a_line_could_not_be_reserved(ingest, product_factory):
    product_factory(sku="LOW-1", stock=1)
    order = ingest(
        external_id="low",
        lines=[{"sku": "LOW-1", "name": "Low", "quantity": 3, "unit_price_gross": "10.00", "vat_rate": "23"}],
    ).order
    assert a.condition_all_in_stock(order, {}) is False


def test_all_in_stock_counts_free_stock_in_any_warehouse_for_unreserved_lines(ingest, product_factory):
    from zaplecze.inventory.models import Warehouse
    from zaplecze.inventory.services import stock_adjust

    variant = product_factory(sku="TWO-1", stock=0)
    order = ingest(
        external_id="two",
        lines=[{"sku": "TWO-1", "name": "Two", "quantity": 2, "unit_price_gross": "10.00", "vat_rate": "23"}],
    ).order
    assert a.condition_all_in_stock(order, {}) is False  # nothing reserved, nothing available
    second = Warehouse.objects.create(code="WH2", name="Second", priority=50)
    stock_adjust(variant=variant, warehouse=second, delta=2, kind="receipt", reason="delivery")
    assert a.condition_all_in_stock(order, {}) is True  # not reserved, but 2 free units in WH2


def test_all_in_stock_is_false_for_an_unknown_sku(ingest, order):
    unknown = ingest(
        external_id="unk",
        lines=[{"sku": "NOPE", "name": "?", "quantity": 1, "unit_price_gross": "10.00", "vat_rate": "23"}],
    ).order
    assert a.condition_all_in_stock(unknown, {}) is False


def test_customer_type(ingest, order):
    assert a.condition_customer_type(order, {"types": ["consumer"]}) is True
    company = ingest(
        external_id="b2b", customer_type="business", company="ACME sp. z o.o.", nip="5260250274"
    ).order
    assert a.condition_customer_type(company, {"types": ["consumer", "sole_trader"]}) is False
    assert a.condition_customer_type(company, {"types": ["business"]}) is True


def test_status_is(order):
    assert a.condition_status_is(order, {"statuses": ["ready", "new"]}) is True
    order = order_transition(order_id=order.pk, status_code="picking", actor=None)
    assert a.condition_status_is(order, {"statuses": ["ready", "new"]}) is False


def test_first_failing_returns_the_first_condition_that_does_not_hold(order):
    conditions = [
        {"type": "channel", "channels": ["shop"]},
        {"type": "total_at_least", "amount": "1000.00"},
        {"type": "payment_method", "methods": ["cod"]},
    ]
    assert a.first_failing(conditions, order) == conditions[1]
    assert a.first_failing(conditions[:1], order) is None
    assert a.describe_condition(conditions[1]) == "Order total (gross) at least: 1000.00"
