"""The Omnibus reference price (COMPLIANCE A3 items 12-14): the lowest price of the 30 days before the
reduction started, since sales started when shorter, the price before the first reduction for perishables."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest
from django.utils import timezone

from zaplecze.catalog.models import Offer, PriceChange
from zaplecze.catalog.omnibus import (
    EffectivePrice,
    ReferencePrice,
    discount_percent,
    effective_prices,
    reference_price,
    reference_prices,
)
from zaplecze.catalog.prices import price_set

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)
REG, PROMO = PriceChange.Kind.REGULAR, PriceChange.Kind.PROMO


def days(n: float) -> dt.datetime:
    """n days after NOW (negative: before)."""
    return NOW + dt.timedelta(days=n)


def history(variant, entries, channel=""):
    """entries: (day offset, price, kind?) in order; written as backdated history."""
    for entry in entries:
        offset, price, kind = (*entry, REG) if len(entry) == 2 else entry
        PriceChange.objects.create(
            variant=variant,
            channel=channel,
            price=D(price),
            kind=kind,
            effective_from=days(offset),
            source="test",
        )


@pytest.fixture
def variant(product_factory):
    v = product_factory(sku="MUG-1", price="100.00", stock=0)
    PriceChange.objects.filter(variant=v).delete()  # each test writes the whole history itself
    return v


def test_raised_then_cut_uses_the_lowest_price_before_the_cut_not_the_raised_one(variant):
    # 100 for 60 days, raised to 150 ten days before the cut, cut to 120.
    history(variant, [(-70, "100.00"), (-10, "150.00"), (0, "120.00")])
    ref = reference_price(variant.pk, at=days(1))
    assert ref is not None
    assert ref.price == D("100.00")
    assert ref.basis == "30_days"
    assert ref.reduced_price == D("120.00")
    assert ref.window_to == days(0)
    # The reduced price is above the 30-day lowest: no "-X %" may be shown.
    assert ref.discount_percent is None
    assert ref.discount_label == ""


def test_the_window_is_before_the_reduction_not_before_at(variant):
    # 80 held 35-31 days before the cut; a window of 30 days before `at` (20 days later) would miss 100.
    history(variant, [(-100, "80.00"), (-35, "100.00"), (0, "70.00", PROMO)])
    ref = reference_price(variant.pk, at=days(20))
    assert ref.price == D("100.00")  # 80 ended more than 30 calendar days before the cut
    assert ref.discount_percent == 30
    # 30 calendar days in Warsaw: from midnight of the day 30 days before the start day.
    assert ref.window_from == dt.datetime(2026, 10, 21, 0, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))


def test_a_price_that_held_one_day_inside_the_window_counts(variant):
    history(variant, [(-90, "100.00"), (-20, "89.00"), (-19, "100.00"), (0, "90.00", PROMO)])
    ref = reference_price(variant.pk, at=days(0))
    assert ref.price == D("89.00")
    assert ref.discount_percent is None  # 90 is not below 89


def test_on_sale_for_fewer_than_30_days_uses_the_lowest_price_since_sales_started(variant):
    history(variant, [(-12, "110.00"), (-5, "100.00"), (0, "79.99", PROMO)])
    ref = reference_price(variant.pk, at=days(0))
    assert (ref.price, ref.basis, ref.window_from) == (D("100.00"), "since_sales_start", days(-12))
    assert ref.discount_percent == 20  # 20.01 % rounded down


def test_perishables_use_the_price_before_the_first_reduction(variant):
    variant.product.perishable = True
    variant.product.save(update_fields=["perishable"])
    history(variant, [(-60, "10.00"), (-20, "8.00"), (-3, "9.00"), (-2, "6.00", PROMO), (-1, "4.00", PROMO)])
    ref = reference_price(variant.pk, at=days(0))
    # The run of reductions started at -2 (6.00 promo); before it the price was 9.00.
    assert (ref.price, ref.basis) == (D("9.00"), "before_first_reduction")
    assert (ref.window_from, ref.window_to) == (days(-3), days(-2))
    assert ref.discount_percent == 55  # (9 - 4) / 9 = 55.5 %, rounded down


def test_several_reductions_in_a_row_each_deeper_cut_is_a_new_reduction(variant):
    history(variant, [(-60, "100.00"), (-10, "80.00", PROMO), (-5, "70.00", PROMO)])
    ref = reference_price(variant.pk, at=days(0))
    # Poland did not adopt Art. 6a(5): the second cut's 30 days include the first promotional price.
    assert (ref.price, ref.window_to) == (D("80.00"), days(-5))
    assert ref.discount_percent == 12


def test_a_promotional_price_raised_within_the_promotion_keeps_the_start_of_the_cut(variant):
    history(variant, [(-60, "100.00"), (-10, "80.00", PROMO), (-5, "85.00", PROMO)])
    ref = reference_price(variant.pk, at=days(0))
    assert (ref.price, ref.window_to, ref.reduced_price) == (D("100.00"), days(-10), D("85.00"))
    assert ref.discount_percent == 15


def test_a_regular_price_raise_is_not_a_reduction_and_the_first_price_is_never_one(variant):
    history(variant, [(-60, "100.00"), (-5, "120.00")])
    assert reference_price(variant.pk, at=days(0)) is None
    assert reference_price(variant.pk, at=days(-30)) is None


def test_a_promotion_from_the_first_day_of_sales_has_no_reference(variant):
    history(variant, [(-5, "50.00", PROMO)])
    assert reference_price(variant.pk, at=days(0)) is None


def test_a_promotion_scheduled_in_the_future_applies_from_its_start(variant):
    history(variant, [(-60, "100.00")])
    price_set(variant, price=D("75.00"), kind=PROMO, effective_from=days(10), source="test", backdate=True)
    price_set(variant, price=D("100.00"), effective_from=days(17), source="test", backdate=True)
    before = effective_prices([variant.pk], at=days(9))[variant.pk]
    assert (before.price, before.sale_price, before.reference) == (D("100.00"), None, None)
    during = effective_prices([variant.pk], at=days(12))[variant.pk]
    assert during.price == during.sale_price == D("75.00")
    assert during.regular_price == D("100.00")
    assert (during.sale_from, during.sale_to) == (days(10), days(17))
    assert during.reference.price == D("100.00")
    assert during.reference.discount_percent == 25
    after = effective_prices([variant.pk], at=days(18))[variant.pk]
    assert (after.price, after.sale_price, after.reference) == (D("100.00"), None, None)


def test_a_channel_without_its_own_history_uses_the_base_history(variant):
    Offer.objects.create(variant=variant, channel="allegro")
    history(variant, [(-60, "100.00"), (0, "80.00", PROMO)])
    ref = reference_price(variant.pk, channel="allegro", at=days(1))
    assert (ref.price, ref.reduced_price) == (D("100.00"), D("80.00"))


def test_a_channel_with_its_own_history_uses_it_and_the_base_price_before_it(variant):
    Offer.objects.create(variant=variant, channel="allegro")
    history(variant, [(-60, "100.00"), (-1, "60.00", PROMO)])  # a base promotion: not on allegro
    history(variant, [(-20, "110.00"), (0, "99.00", PROMO)], channel="allegro")
    allegro = effective_prices([variant.pk], "allegro", at=days(1))[variant.pk]
    # Before its own first entry (-20) the offer sold at the base 100: the lowest of the 30 days.
    assert (allegro.price, allegro.regular_price, allegro.reference.price) == (
        D("99.00"),
        D("110.00"),
        D("100.00"),
    )
    assert allegro.reference.discount_percent == 1
    base = effective_prices([variant.pk], "", at=days(1))[variant.pk]
    assert (base.price, base.reference.price) == (D("60.00"), D("100.00"))


def test_a_variant_without_history_gets_its_own_price_and_no_reference(product_factory):
    v = product_factory(sku="NEW-1", price="19.99", stock=0)
    PriceChange.objects.filter(variant=v).delete()  # as product_create leaves it today
    Offer.objects.create(variant=v, channel="shop", price=D("21.00"))
    assert effective_prices([v.pk])[v.pk] == EffectivePrice(
        D("19.99"), D("19.99"), None, None, None, None, "PLN", from_history=False
    )
    assert effective_prices([v.pk], "shop")[v.pk].price == D("21.00")


def test_many_variants_take_a_fixed_number_of_queries(product_factory, django_assert_max_num_queries):
    variants = [product_factory(sku=f"V-{n}", price="10.00", stock=0) for n in range(30)]
    for n, v in enumerate(variants):
        history(v, [(-40, "10.00"), (-1 - n % 3, "8.00", PROMO)])
    with django_assert_max_num_queries(4):
        refs = reference_prices([v.pk for v in variants], "allegro", at=days(0))
    assert len(refs) == 30
    assert {r.price for r in refs.values()} == {D("10.00")}


def test_same_moment_entries_only_the_last_was_in_effect(variant):
    history(variant, [(-60, "100.00"), (-10, "50.00"), (-10, "100.00"), (0, "90.00", PROMO)])
    assert reference_price(variant.pk, at=days(0)).price == D("100.00")


def test_discount_percent_is_rounded_down_and_none_without_a_reduction():
    assert discount_percent(D("100.00"), D("79.99")) == 20
    assert discount_percent(D("100.00"), D("80.50")) == 19
    assert discount_percent(D("100.00"), D("99.50")) is None
    assert discount_percent(D("100.00"), D("100.00")) is None
    assert discount_percent(D("100.00"), D("120.00")) is None


def test_reference_price_is_a_plain_value(variant):
    history(variant, [(-60, "100.00"), (0, "50.00", PROMO)])
    ref = reference_price(variant.pk, at=days(0))
    assert isinstance(ref, ReferencePrice)
    assert ref.as_dict()["discount_label"] == "-50 %"


def test_now_is_the_default_moment(variant):
    now = timezone.now()
    history(variant, [(-5000, "100.00")])
    PriceChange.objects.create(
        variant=variant, price=D("50.00"), kind=PROMO, effective_from=now - dt.timedelta(hours=1)
    )
    assert reference_price(variant.pk).discount_percent == 50


# --- properties (no database: the pure timeline functions) ------------------------------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from zaplecze.catalog.omnibus import build_timeline, reference_from_timeline  # noqa: E402

entry = st.tuples(
    st.integers(min_value=1, max_value=20 * 24),  # hours after the previous entry
    st.integers(min_value=1, max_value=500),  # price in whole złoty
    st.sampled_from([REG, REG, PROMO]),
)


def _timeline(entries):
    t, rows = NOW - dt.timedelta(days=400), []
    for hours, price, kind in entries:
        t += dt.timedelta(hours=hours)
        rows.append((t, D(price), kind))
    return build_timeline(rows)


def _price_at(segs, moment):
    current = None
    for s in segs:
        if s.start <= moment:
            current = s.price
    return current


@settings(max_examples=200, deadline=None)
@given(st.lists(entry, min_size=1, max_size=25), st.booleans())
def test_property_reference_is_the_lowest_price_in_effect_in_its_window(entries, perishable):
    segs = _timeline(entries)
    i = len(segs) - 1
    ref = reference_from_timeline(segs, i, perishable=perishable)
    if ref is None:
        return
    assert ref.reduced_price == segs[i].price
    assert ref.window_from < ref.window_to <= segs[i].start
    # Every price in effect at some moment of the window is >= the reference, and the reference was one.
    in_window = {_price_at(segs, ref.window_from)} | {
        s.price for s in segs if ref.window_from <= s.start < ref.window_to
    }
    in_window.discard(None)
    if perishable:
        assert ref.price == _price_at(segs, ref.window_to - dt.timedelta(microseconds=1))
    else:
        assert ref.price == min(in_window)
    # The badge never claims more than the real reduction against the reference.
    if ref.discount_percent is not None:
        assert 1 <= ref.discount_percent < 100
        assert ref.reduced_price <= ref.price * (100 - ref.discount_percent) / 100


@settings(max_examples=100, deadline=None)
@given(st.lists(entry, min_size=1, max_size=25))
def test_property_a_raise_is_never_a_reduction(entries):
    segs = _timeline(entries)
    i = len(segs) - 1
    if segs[i].kind == REG and i > 0 and segs[i].price >= segs[i - 1].price:
        assert reference_from_timeline(segs, i, perishable=False) is None
