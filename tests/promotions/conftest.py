from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from tests.e2e.conftest import page  # noqa: F401 - the browser fixture (test_browser.py)


@pytest.fixture
def manager(make_user):
    return make_user("marketing", "promo-manager")


@pytest.fixture
def campaign_factory(manager):
    from zaplecze.promotions.services import campaign_create

    def _make(variants=(), *, start=None, end=None, targets=None, **data):
        start = start or timezone.now() + dt.timedelta(days=1)
        end = end or start + dt.timedelta(days=7)
        values = {"name": "Sale", "kind": "price", "value_type": "percent", "value": "20", **data}
        values.update(start=start, end=end)
        if targets is None:
            targets = [{"kind": "product", "product_id": v.product_id} for v in variants]
        return campaign_create(data=values, targets=targets, actor=manager)

    return _make


@pytest.fixture
def cost(db):
    from zaplecze.catalog.models import Variant

    def _set(variant, value):
        Variant.objects.filter(pk=variant.pk).update(cost_price=Decimal(value))
        variant.refresh_from_db()
        return variant

    return _set
