"""Bulk price change by rule: preview with refusals, apply through price_set, undo by new entries."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from zaplecze.catalog.models import BulkChange, Offer, PriceChange, Variant
from zaplecze.catalog.prices import price_set
from zaplecze.catalog.reprice import (
    RepriceFilter,
    margin_percent,
    reprice_apply,
    reprice_discard,
    reprice_preview,
    reprice_undo,
    round99,
)
from zaplecze.core.errors import Conflict, DomainError, IllegalTransition

pytestmark = pytest.mark.django_db


@pytest.fixture
def mugs(product_factory):
    """Three mugs (MUG-*) with cost prices and one plate (PLT-1) without."""
    out = {}
    for sku, price, cost in [
        ("MUG-1", "123.45", "50.00"),
        ("MUG-2", "20.00", "14.00"),
        ("MUG-3", "10.00", "1.00"),
    ]:
        v = product_factory(sku=sku, price=price, stock=0)
        Variant.objects.filter(pk=v.pk).update(cost_price=D(cost))
        out[sku] = v
    out["PLT-1"] = product_factory(sku="PLT-1", price="40.00", stock=0)
    return out


def rows_by_sku(bulk):
    return {r["sku"]: r for r in bulk.rows}


def test_round99_is_the_highest_99_price_not_above():
    assert round99(D("123.45")) == D("122.99")
    assert round99(D("123.99")) == D("123.99")
    assert round99(D("124.00")) == D("123.99")
    assert round99(D("0.50")) == D("0.50")


@given(st.decimals(min_value=D("0.99"), max_value=D("99999.99"), places=2))
def test_property_round99_never_rounds_up_and_moves_less_than_one_zloty(price):
    r = round99(price)
    assert r <= price < r + 1
    assert r % 1 == D("0.99")


def test_margin_is_on_the_net_price():
    # 123 gross at 23 % VAT = 100 net; cost 60 -> 40 %.
    assert margin_percent(D("123.00"), D("60.00"), "23") == D("40.0")
    assert margin_percent(D("100.00"), D("60.00"), "zw") == D("40.0")
    assert margin_percent(D("100.00"), None, "23") is None


def test_preview_computes_rows_and_changes_nothing(mugs, admin_user):
    before = PriceChange.objects.count()
    bulk = reprice_preview(sku_prefix="MUG-", percent="-10", round_99=True, min_margin="15", actor=admin_user)
    assert (bulk.kind, bulk.state) == ("reprice", "preview")
    rows = rows_by_sku(bulk)
    assert set(rows) == {"MUG-1", "MUG-2", "MUG-3"}
    # 123.45 - 10 % = 111.11 -> 110.99; net 90.24, cost 50: margin 44.6 %.
    assert rows["MUG-1"] | {} == {
        "variant_id": mugs["MUG-1"].pk,
        "sku": "MUG-1",
        "name": "Product MUG-1",
        "channel": "",
        "old": "123.45",
        "new": "110.99",
        "margin_old": "50.2",
        "margin_new": "44.6",
        "refused": None,
        "flags": [],
    }
    # 20.00 - 10 % = 18.00 -> 17.99: net 14.63 vs cost 14: margin 4.3 % < 15 %: refused.
    assert (rows["MUG-2"]["new"], rows["MUG-2"]["refused"]) == ("17.99", "below_min_margin")
    assert rows["MUG-3"]["new"] == "8.99"
    assert bulk.summary == {"rows": 3, "to_change": 2, "refused": 1, "no_cost_price": 0}
    assert PriceChange.objects.count() == before
    assert Variant.objects.get(sku="MUG-1").price == D("123.45")


def test_variants_without_cost_price_are_flagged_not_refused(mugs):
    bulk = reprice_preview(variant_ids=[mugs["PLT-1"].pk], amount="-5", min_margin="15")
    row = bulk.rows[0]
    assert (row["new"], row["refused"], row["flags"], row["margin_new"]) == (
        "35.00",
        None,
        ["no_cost_price"],
        None,
    )


def test_apply_writes_through_price_set_and_undo_appends_the_old_prices(mugs, admin_user):
    bulk = reprice_preview(sku_prefix="MUG-", percent="-10", round_99=True, min_margin="15")
    bulk = reprice_apply(bulk, admin_user)
    assert bulk.state == "applied" and bulk.applied_at is not None
    assert Variant.objects.get(sku="MUG-1").price == D("110.99")
    assert Variant.objects.get(sku="MUG-2").price == D("20.00")  # refused row untouched
    written = PriceChange.objects.filter(bulk_change=bulk)
    assert sorted(written.values_list("variant__sku", "price", "source", "actor_id")) == [
        ("MUG-1", D("110.99"), "bulk", admin_user.pk),
        ("MUG-3", D("8.99"), "bulk", admin_user.pk),
    ]
    count = PriceChange.objects.count()
    bulk = reprice_undo(bulk, admin_user)
    assert bulk.state == "undone"
    assert Variant.objects.get(sku="MUG-1").price == D("123.45")
    # History is never deleted: the undo added two entries.
    assert PriceChange.objects.count() == count + 2
    assert set(PriceChange.objects.filter(source="bulk-undo").values_list("variant__sku", "price")) == {
        ("MUG-1", D("123.45")),
        ("MUG-3", D("10.00")),
    }


def test_apply_twice_and_undo_of_a_preview_are_refused(mugs, admin_user):
    bulk = reprice_preview(sku_prefix="MUG-", percent="5")
    with pytest.raises(IllegalTransition):
        reprice_undo(bulk, admin_user)
    reprice_apply(bulk, admin_user)
    with pytest.raises(IllegalTransition):
        reprice_apply(bulk, admin_user)


def test_undo_is_refused_listing_prices_changed_since(mugs, admin_user):
    bulk = reprice_apply(reprice_preview(sku_prefix="MUG-", percent="5"), admin_user)
    price_set(Variant.objects.get(sku="MUG-3"), price=D("12.00"))
    count = PriceChange.objects.count()
    with pytest.raises(Conflict) as exc:
        reprice_undo(bulk, admin_user)
    assert exc.value.details["changed"] == ["MUG-3"]
    assert PriceChange.objects.count() == count
    assert BulkChange.objects.get(pk=bulk.pk).state == "applied"


def test_apply_is_refused_when_prices_changed_since_the_preview(mugs, admin_user):
    bulk = reprice_preview(sku_prefix="MUG-", percent="5")
    price_set(Variant.objects.get(sku="MUG-1"), price=D("99.00"))
    with pytest.raises(Conflict) as exc:
        reprice_apply(bulk, admin_user)
    assert exc.value.details["changed"] == ["MUG-1"]
    assert not PriceChange.objects.filter(bulk_change=bulk).exists()


def test_running_promotions_and_scheduled_changes_are_refused(mugs):
    now = timezone.now()
    price_set(mugs["MUG-1"], price=D("99.00"), kind="promo")
    price_set(mugs["MUG-2"], price=D("25.00"), effective_from=now + dt.timedelta(days=3))
    rows = rows_by_sku(reprice_preview(sku_prefix="MUG-", percent="5"))
    assert rows["MUG-1"]["refused"] == "promo_running"
    assert rows["MUG-2"]["refused"] == "scheduled"
    assert rows["MUG-3"]["refused"] is None


def test_a_channel_reprices_its_offers(mugs, admin_user):
    Offer.objects.create(variant=mugs["MUG-1"], channel="allegro", price=D("130.00"))
    price_set(mugs["MUG-1"], price=D("130.00"), channel="allegro")
    bulk = reprice_apply(reprice_preview(channel="allegro", amount="10"), admin_user)
    assert [(r["sku"], r["old"], r["new"]) for r in bulk.rows] == [("MUG-1", "130.00", "140.00")]
    assert Offer.objects.get(variant=mugs["MUG-1"]).price == D("140.00")
    assert Variant.objects.get(sku="MUG-1").price == D("123.45")


def test_filter_by_category_includes_subcategories(product_factory):
    from zaplecze.catalog.services import category_get_or_create

    kitchen = category_get_or_create(name="Kitchen")
    mugs = category_get_or_create(name="Mugs", parent=kitchen)
    a, b = product_factory(sku="A", stock=0), product_factory(sku="B", stock=0)
    a.product.category = mugs
    a.product.save(update_fields=["category"])
    bulk = reprice_preview(flt=RepriceFilter(category_id=kitchen.pk), percent="1")
    assert [r["sku"] for r in bulk.rows] == ["A"]
    assert b.pk not in {r["variant_id"] for r in bulk.rows}


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"sku_prefix": "MUG-"}, "percent"),
        ({"sku_prefix": "MUG-", "percent": "5", "amount": "1"}, "percent"),
        ({"sku_prefix": "MUG-", "percent": "-100"}, "percent"),
        ({"sku_prefix": "MUG-", "percent": "x"}, "percent"),
        ({"sku_prefix": "MUG-", "amount": "0.001"}, "amount"),
        ({"percent": "5"}, "filter"),
        ({"sku_prefix": "MUG-", "percent": "5", "min_margin": "100"}, "min_margin"),
        ({"status": "gone", "percent": "5"}, "status"),
        ({"category_id": 999999, "percent": "5"}, "category_id"),
    ],
)
def test_bad_rules_are_refused_naming_the_field(mugs, kwargs, field):
    with pytest.raises(DomainError) as exc:
        reprice_preview(**kwargs)
    assert exc.value.field == field
    assert not BulkChange.objects.exists()


def test_a_discarded_preview_cannot_be_applied(mugs, admin_user):
    bulk = reprice_discard(reprice_preview(sku_prefix="MUG-", percent="5"), admin_user)
    with pytest.raises(IllegalTransition):
        reprice_apply(bulk, admin_user)
