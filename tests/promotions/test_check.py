"""The pre-launch check: new price, margin, Omnibus reference and "-X %", cost, stock, clashes."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

from django.utils import timezone

from zaplecze.catalog.models import Offer, Product, Variant
from zaplecze.catalog.prices import price_set_many
from zaplecze.promotions.check import campaign_check
from zaplecze.promotions.models import CampaignCheck
from zaplecze.promotions.services import campaign_check_run


def _row(result, variant, channel=""):
    [row] = [r for r in result.rows if r.variant_id == variant.pk and r.channel == channel]
    return row


def _history(variant, *steps):
    """steps: (days ago, price); the product existed before the first."""
    now = timezone.now()
    Product.objects.filter(pk=variant.product_id).update(created_at=now - dt.timedelta(days=120))
    price_set_many(
        [
            {"variant_id": variant.pk, "price": p, "effective_from": now - dt.timedelta(days=d)}
            for d, p in steps
        ],
        source="test",
        backdate=True,
    )


def test_new_price_margin_and_omnibus_reference(product_factory, campaign_factory, cost):
    v = cost(product_factory(price="100.00"), "40.00")
    # 90.00 twelve days ago, back to 100.00 five days ago: the 30-day lowest price is 90.00
    _history(v, (60, "100.00"), (12, "90.00"), (5, "100.00"))
    c = campaign_factory([v], value="20", min_margin_percent="30")
    r = _row(campaign_check(c), v)
    assert (r.regular_price, r.new_price) == (D("100.00"), D("80.00"))
    # net 80 / 1.23 = 65.04; margin 25.04 = 38.5 % of the net price
    assert (r.margin, r.margin_percent) == (D("25.04"), D("38.5"))
    assert r.reference_price == D("90.00")
    assert r.reference_basis == "30_days"
    assert r.discount_label == "-11 %"  # (90 - 80) / 90, rounded down; not the nominal -20 %
    assert r.findings == ["badge_differs"]
    assert r.nominal_percent == 20


def test_reference_equal_to_regular_gives_the_nominal_badge(product_factory, campaign_factory, cost):
    v = cost(product_factory(price="100.00"), "40.00")
    _history(v, (60, "100.00"))
    r = _row(campaign_check(campaign_factory([v], value="20")), v)
    assert (r.reference_price, r.discount_label, r.findings) == (D("100.00"), "-20 %", [])


def test_no_reduction_against_the_reference(product_factory, campaign_factory, cost):
    v = cost(product_factory(price="100.00"), "10.00")
    _history(v, (60, "100.00"), (10, "70.00"), (2, "100.00"))
    r = _row(campaign_check(campaign_factory([v], value="20")), v)
    assert r.reference_price == D("70.00")
    assert r.discount_label == ""
    assert "no_reduction_vs_reference" in r.warnings


def test_below_cost_low_margin_no_cost_and_out_of_stock(product_factory, campaign_factory, cost):
    below = cost(product_factory(price="100.00"), "70.00")
    low = cost(product_factory(price="100.00"), "60.00")  # net 65.04 - 60 = 5.04: 7.7 % < 10 %
    unknown = product_factory(price="100.00", stock=0)
    c = campaign_factory([below, low, unknown], value="20", min_margin_percent="10")
    result = campaign_check(c)
    assert _row(result, below).errors == ["below_cost"]
    assert _row(result, below).margin == D("-4.96")
    assert _row(result, low).warnings == ["low_margin"]
    assert _row(result, unknown).warnings == ["no_cost", "out_of_stock"]
    assert _row(result, unknown).stock == 0
    assert (result.errors, result.warnings) == (1, 2)
    stored, _r = campaign_check_run(campaign_id=c.pk, actor=None)
    assert CampaignCheck.objects.get().errors == 1
    assert stored.summary["by_code"] == {"below_cost": 1, "low_margin": 1, "no_cost": 1, "out_of_stock": 1}
    assert len(stored.rows) == 3


def test_amount_reduction_to_zero_is_an_error(product_factory, campaign_factory):
    v = product_factory(price="10.00")
    r = _row(campaign_check(campaign_factory([v], value_type="amount", value="10")), v)
    assert r.errors == ["zero_price"]
    assert not r.written


def test_clash_and_stacking_below_margin(product_factory, campaign_factory, cost):
    shared = cost(product_factory(price="100.00"), "50.00")
    alone = cost(product_factory(price="100.00"), "10.00")
    a = campaign_factory([shared, alone], value="10", min_margin_percent="20")
    start = a.start + dt.timedelta(days=2)
    # a code campaign on the same product at the same time: -10 % then -20 % = 72.00 -> net 58.54, margin 14.6 %
    campaign_factory(
        [shared],
        kind="codes",
        value="20",
        start=start,
        targets=[{"kind": "product", "product_id": shared.product_id}],
    )
    result = campaign_check(a)
    r = _row(result, shared)
    assert r.errors == ["stacking_margin"]
    assert len(r.clashes) == 1
    assert _row(result, alone).findings == []
    # a gentler overlapping campaign is a clash (warning) only
    b = campaign_factory([alone], value="5", start=start)
    result = campaign_check(a)
    assert _row(result, alone).warnings == ["clash"]
    assert _row(result, alone).clashes == [b.pk]


def test_campaign_after_the_other_ends_does_not_clash(product_factory, campaign_factory):
    v = product_factory()
    a = campaign_factory([v])
    campaign_factory([v], start=a.end, end=a.end + dt.timedelta(days=1))
    assert "clash" not in _row(campaign_check(a), v).findings


def test_inactive_products_and_missing_offers_are_left_out(product_factory, campaign_factory, ingest):
    ingest()  # creates the "shop" channel
    on = product_factory(price="100.00")
    off = product_factory(price="100.00")
    Variant.objects.filter(pk=off.pk).update(active=False)
    Offer.objects.create(variant=on, channel="shop", price=None)  # follows the base price
    c = campaign_factory([on, off], channels=["shop"])
    result = campaign_check(c)
    r_on = _row(result, on, "shop")
    assert (r_on.regular_price, r_on.new_price) == (D("100.00"), D("80.00"))
    assert r_on.written
    r_off = _row(result, off, "shop")
    assert set(r_off.warnings) == {"inactive", "no_offer", "no_cost"}
    assert not r_off.written


def test_check_query_count_does_not_grow_with_products(
    product_factory, campaign_factory, django_assert_max_num_queries
):
    variants = [product_factory(price="20.00") for _ in range(30)]
    c = campaign_factory(variants)
    with django_assert_max_num_queries(12):
        result = campaign_check(c)
    assert len(result.rows) == 30


def test_free_shipping_is_a_rule_and_buy_x_get_y_checks_the_bundle_margin(
    product_factory, campaign_factory, cost
):
    from zaplecze.promotions.selectors import calendar

    v = cost(product_factory(price="90.00"), "40.00")
    ship = campaign_factory(kind="free_shipping", threshold="199", targets=[])
    result = campaign_check(ship)
    assert result.rows == []
    assert "Free shipping from 199.00" in result.notes[0]
    # buy 2 get 1: each unit sells at 60.00 on average -> net 48.78 - 40 = 8.78 (18.0 %) < 20 %
    bxgy = campaign_factory([v], kind="buy_x_get_y", buy_quantity=2, get_quantity=1, min_margin_percent="20")
    r = _row(campaign_check(bxgy), v)
    assert (r.new_price, r.margin, r.margin_percent) == (D("60.00"), D("8.78"), D("18.0"))
    assert r.findings == ["low_margin"]
    assert r.reference_price is None  # a bundle is not an announced price reduction
    # free shipping never clashes on a product in the calendar
    assert calendar(mode="month", day=bxgy.start.date()).clashes == []


def test_budget_note_when_the_stock_at_the_new_price_costs_more(product_factory, campaign_factory):
    v = product_factory(price="100.00", stock=10)  # 10 x 20.00 = 200.00 of discount
    assert campaign_check(campaign_factory([v], budget="500")).notes == []
    [note] = campaign_check(campaign_factory([v], budget="150")).notes
    assert "200.00" in note and "150.00" in note
