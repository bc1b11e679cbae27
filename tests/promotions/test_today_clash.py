"""A promotion clash reaches the Today page, and leaves it when the clash is gone."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from zaplecze.today.models import OpsException
from zaplecze.today.services import exceptions_refresh

pytestmark = pytest.mark.django_db


def test_overlapping_campaigns_on_one_product_are_an_exception_each(
    product_factory, campaign_factory, manager
):
    from zaplecze.promotions.services import campaign_cancel

    v = product_factory()
    start = timezone.now() + dt.timedelta(days=1)
    a = campaign_factory([v], name="Spring", start=start)
    b = campaign_factory(
        [v], name="Flash", start=start + dt.timedelta(days=1), end=start + dt.timedelta(days=2)
    )
    other = product_factory(sku="SKU-OTHER")
    campaign_factory([other], name="Alone", start=start)
    exceptions_refresh(kinds=["promotions.clash"])
    rows = {e.subject_id: e for e in OpsException.objects.filter(kind="promotions.clash", state="open")}
    assert set(rows) == {a.pk, b.pk}
    assert "Flash" in rows[a.pk].why and rows[a.pk].owner_role == "marketing"
    campaign_cancel(campaign_id=b.pk, actor=manager, reason="clash")
    exceptions_refresh(kinds=["promotions.clash"])
    assert not OpsException.objects.filter(kind="promotions.clash", state="open").exists()
