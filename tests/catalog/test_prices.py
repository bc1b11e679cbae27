"""price_set: the price history is append-only; current prices follow it; scheduled prices apply later."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest
from django.utils import timezone

from zaplecze.catalog.models import Offer, PriceChange, Variant
from zaplecze.catalog.prices import price_set, prices_apply_due
from zaplecze.core.errors import Conflict, DomainError

pytestmark = pytest.mark.django_db


@pytest.fixture
def variant(product_factory):
    return product_factory(sku="MUG-1", price="100.00", stock=0)


def test_a_new_product_starts_its_history_with_one_entry(variant):
    assert list(PriceChange.objects.filter(variant=variant).values_list("price", "channel")) == [
        (D("100.00"), "")
    ]


def test_price_set_appends_and_applies_now(variant, admin_user):
    PriceChange.objects.filter(variant=variant).delete()
    change = price_set(variant, price=D("89.99"), actor=admin_user)
    variant.refresh_from_db()
    assert variant.price == D("89.99")
    # The variant had no history: its price until now became the first entry.
    rows = list(PriceChange.objects.filter(variant=variant).values_list("price", "source", "actor_id"))
    assert rows == [(D("100.00"), "initial", None), (D("89.99"), "manual", admin_user.pk)]
    assert change.channel == "" and change.kind == "regular"


@pytest.mark.parametrize("bad", ["-1", "-0.01", "abc", "1.005", "NaN", "1e9"])
def test_bad_prices_are_refused_naming_the_field_and_nothing_is_written(variant, bad):
    before = PriceChange.objects.count()
    with pytest.raises(DomainError) as exc:
        price_set(variant, price=bad)
    assert exc.value.field == "price"
    assert PriceChange.objects.count() == before
    variant.refresh_from_db()
    assert variant.price == D("100.00")


def test_a_moment_in_the_past_is_refused_unless_loading_history(variant):
    past = timezone.now() - dt.timedelta(days=3)
    with pytest.raises(DomainError) as exc:
        price_set(variant, price=D("50.00"), effective_from=past)
    assert exc.value.field == "effective_from"
    price_set(variant, price=D("50.00"), effective_from=past, backdate=True, source="import")
    assert PriceChange.objects.filter(variant=variant, price=D("50.00")).exists()


def test_a_backdated_entry_does_not_override_a_later_one(variant):
    price_set(variant, price=D("90.00"))
    price_set(variant, price=D("50.00"), effective_from=timezone.now() - dt.timedelta(days=1), backdate=True)
    variant.refresh_from_db()
    assert variant.price == D("90.00")


def test_unknown_kind_and_channel_without_offer_are_refused(variant):
    with pytest.raises(DomainError) as exc:
        price_set(variant, price=D("1.00"), kind="clearance")
    assert exc.value.field == "kind"
    with pytest.raises(DomainError) as exc:
        price_set(variant, price=D("1.00"), channel="allegro")
    assert exc.value.field == "channel"


def test_a_channel_price_goes_to_the_offer_not_the_variant(variant):
    Offer.objects.create(variant=variant, channel="allegro")
    price_set(variant, price=D("109.00"), channel="allegro")
    assert Offer.objects.get(variant=variant).price == D("109.00")
    variant.refresh_from_db()
    assert variant.price == D("100.00")


def test_expected_price_guards_against_a_stale_edit(variant):
    price_set(variant, price=D("95.00"))
    before = PriceChange.objects.count()
    with pytest.raises(Conflict) as exc:
        price_set(variant, price=D("80.00"), expected_price=D("100.00"))
    assert exc.value.details["current"] == "95.00"
    assert PriceChange.objects.count() == before
    price_set(variant, price=D("80.00"), expected_price=D("95.00"))
    variant.refresh_from_db()
    assert variant.price == D("80.00")


def test_a_scheduled_price_waits_and_the_periodic_task_applies_it(variant):
    now = timezone.now()
    price_set(variant, price=D("70.00"), kind="promo", effective_from=now + dt.timedelta(hours=2))
    variant.refresh_from_db()
    assert variant.price == D("100.00")
    assert prices_apply_due(now + dt.timedelta(hours=1)) == 0
    assert prices_apply_due(now + dt.timedelta(hours=3)) == 1
    assert Variant.objects.get(pk=variant.pk).price == D("70.00")
    assert prices_apply_due(now + dt.timedelta(hours=4)) == 0  # idempotent
