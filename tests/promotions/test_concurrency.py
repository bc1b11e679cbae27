"""Codes under concurrency: ten orders racing for a code with three uses; exactly three win (conditional
UPDATE, no check-then-act). Real threads; on PostgreSQL (marked `postgres`) they really overlap."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from tests.inventory.test_concurrency import backends, on, run_concurrently, threaded_db  # noqa: F401
from zaplecze.core.errors import Conflict
from zaplecze.promotions import services
from zaplecze.promotions.models import CampaignCode, CodeRedemption


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("backend", backends())
@pytest.mark.usefixtures("threaded_db")
def test_ten_orders_for_a_code_with_three_uses(backend, campaign_factory, manager):
    on(backend)
    c = campaign_factory(kind="codes", value="10", targets=[], start=timezone.now() - dt.timedelta(minutes=1))
    services.code_add(campaign_id=c.pk, code="RACE-3", max_uses=3, actor=manager)
    services.campaign_launch(campaign_id=c.pk, actor=manager)

    results = run_concurrently(
        [lambda i=i: services.code_redeem(code="RACE-3", order_ref=f"#{i}") for i in range(10)]
    )

    won = [r for r in results if isinstance(r, CampaignCode)]
    lost = [r for r in results if isinstance(r, Conflict)]
    assert (len(won), len(lost)) == (3, 7), results
    assert CampaignCode.objects.get(code="RACE-3").uses == 3
    assert CodeRedemption.objects.filter(code__code="RACE-3").count() == 3
