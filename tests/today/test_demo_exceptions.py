"""The demo shop opens on a filled Today page: exceptions from at least four areas right after the build
(the build runs the refresh itself), one of them with a quick action that makes it leave the page."""

from __future__ import annotations

import pytest
from django.urls import reverse

from zaplecze.core import today as registry
from zaplecze.demo import build_demo
from zaplecze.today import selectors, services
from zaplecze.today.models import OpsException

pytestmark = pytest.mark.django_db


def test_the_demo_shop_fills_today_with_four_areas_and_a_quick_action(admin_client, admin_user):
    stats = build_demo(orders=400, days=60, seed=42)  # the real clock: "late" and "due" are about now

    # The build refreshed the exceptions itself: nothing to run before opening the page.
    open_rows = OpsException.objects.filter(state=OpsException.State.OPEN)
    assert stats["today"]["exceptions_opened"] == open_rows.count() > 0
    areas = set(open_rows.values_list("area", flat=True))
    assert len(areas) >= 4, (areas, stats["today"])
    assert {"orders", "service", "shipping", "stock"} <= areas
    assert stats["today"]["situations"]["complaint"] and stats["today"]["situations"]["parcel"]
    kinds = set(open_rows.values_list("kind", flat=True))
    assert {"service.complaint_due", "shipping.exception", "purchasing.po_overdue"} <= kinds

    # The page shows each area, and rows with a quick action of their module.
    page = admin_client.get(reverse("today:index"))
    assert page.status_code == 200
    html = page.content.decode()
    for area in areas:
        assert f'data-area="{area}"' in html
    with_action = [row for row in open_rows.order_by("id") if registry.kinds()[row.kind].actions]
    assert with_action, kinds
    row = with_action[0]
    action = registry.kinds()[row.kind].actions[0]
    assert f'data-action="{action.code}"' in html

    # Running it clears the exception at once (the detector is asked again about that subject).
    services.exception_act(exception_id=row.pk, action=action.code, actor=admin_user)
    row.refresh_from_db()
    assert row.state == OpsException.State.RESOLVED and row.resolved_how == "cleared"
    ids = {e.pk for e in selectors.exceptions_list(admin_user, selectors.TodayFilter())}
    assert row.pk not in ids and ids
