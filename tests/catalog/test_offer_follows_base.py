"""A channel offer that goes back to the variant's price follows the base price from then on: in the
history (a "base" entry), in the effective price the feeds use, and in Offer.price (empty again)."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from zaplecze.catalog.models import Offer, PriceChange
from zaplecze.catalog.omnibus import effective_prices
from zaplecze.catalog.prices import price_set
from zaplecze.catalog.services import offer_save
from zaplecze.core.errors import DomainError

pytestmark = pytest.mark.django_db


def test_clearing_the_channel_price_follows_the_base_including_later_changes(product_factory, admin_user):
    v = product_factory(sku="FOLLOW-1", price="100.00", stock=0)
    offer_save(variant_id=v.pk, channel="allegro", data={"price": "120.00"}, actor=admin_user)
    assert effective_prices([v.pk], "allegro")[v.pk].price == D("120.00")

    offer_save(variant_id=v.pk, channel="allegro", data={"price": None}, actor=admin_user)
    last = PriceChange.objects.filter(variant=v, channel="allegro").latest("id")
    assert (last.kind, last.price) == ("base", D("100.00"))
    assert Offer.objects.get(variant=v, channel="allegro").price is None
    assert effective_prices([v.pk], "allegro")[v.pk].price == D("100.00")

    v.refresh_from_db()
    price_set(v, price=D("90.00"))  # a later change of the base price reaches the channel
    assert effective_prices([v.pk], "allegro")[v.pk].price == D("90.00")
    assert Offer.objects.get(variant=v, channel="allegro").price is None

    offer_save(variant_id=v.pk, channel="allegro", data={"price": "95.00"}, actor=admin_user)
    assert effective_prices([v.pk], "allegro")[v.pk].price == D("95.00")  # its own price again


def test_the_base_price_itself_cannot_follow_the_base(product_factory):
    v = product_factory(sku="FOLLOW-2", price="10.00", stock=0)
    with pytest.raises(DomainError) as err:
        price_set(v, price=D("10.00"), kind=PriceChange.Kind.BASE)
    assert err.value.field == "kind"
