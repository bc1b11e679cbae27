"""Screens: list, form, campaign page with the check, launch with override, calendar with clashes, codes,
results and exports."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

from django.urls import reverse
from django.utils import timezone

from zaplecze.catalog.models import Variant
from zaplecze.core.businesstime import tz
from zaplecze.promotions.models import Campaign, CampaignEvent, CampaignStatus


def _local(value):
    return value.astimezone(tz()).strftime("%Y-%m-%dT%H:%M")


def test_create_campaign_through_the_form_and_see_it_listed(admin_client, product_factory):
    v = product_factory(sku="MUG-1", price="40.00")
    start = timezone.now() + dt.timedelta(days=3)
    resp = admin_client.post(
        reverse("promotions:new"),
        {
            "name": "Mugs week",
            "kind": "price",
            "value_type": "percent",
            "value": "15",
            "start": _local(start),
            "end": _local(start + dt.timedelta(days=7)),
            "skus": "MUG-1",
            "min_margin_percent": "0",
        },
    )
    c = Campaign.objects.get()
    assert resp.status_code == 302
    assert resp["Location"] == reverse("promotions:campaign", args=[c.pk])
    assert c.targets.get().product_id == v.product_id
    page = admin_client.get(reverse("promotions:index"))
    assert b"Mugs week" in page.content


def test_form_errors_end_before_start_and_unknown_sku(admin_client, product_factory):
    product_factory(sku="MUG-1")
    start = timezone.now() + dt.timedelta(days=3)
    data = {
        "name": "Bad",
        "kind": "price",
        "value_type": "percent",
        "value": "150",
        "start": _local(start),
        "end": _local(start + dt.timedelta(days=1)),
        "skus": "MUG-1",
    }
    resp = admin_client.post(reverse("promotions:new"), data)
    assert resp.status_code == 400
    assert b"over 100" in resp.content
    resp = admin_client.post(
        reverse("promotions:new"), {**data, "value": "10", "end": _local(start - dt.timedelta(days=1))}
    )
    assert resp.status_code == 400
    assert b"must end after it starts" in resp.content
    resp = admin_client.post(reverse("promotions:new"), {**data, "value": "10", "skus": "NOPE-9"})
    assert resp.status_code == 400
    assert b"Unknown SKU" in resp.content
    assert Campaign.objects.count() == 0


def test_check_launch_override_and_price_change(admin_client, product_factory, campaign_factory, cost):
    v = cost(product_factory(sku="MUG-1", price="100.00"), "75.00")
    c = campaign_factory([v], start=timezone.now() - dt.timedelta(minutes=1))
    admin_client.post(reverse("promotions:check", args=[c.pk]))
    page = admin_client.get(reverse("promotions:campaign", args=[c.pk]))
    assert b'data-error="below_cost"' in page.content
    assert b"Sells below cost" in page.content
    # launch without a reason is refused, nothing changes
    admin_client.post(reverse("promotions:launch", args=[c.pk]), {"override_reason": ""})
    c.refresh_from_db()
    assert c.status == CampaignStatus.DRAFT
    assert Variant.objects.get(pk=v.pk).price == D("100.00")
    admin_client.post(reverse("promotions:launch", args=[c.pk]), {"override_reason": "Clearing old stock"})
    c.refresh_from_db()
    assert c.status == CampaignStatus.RUNNING
    assert Variant.objects.get(pk=v.pk).price == D("80.00")
    assert c.events.filter(kind=CampaignEvent.Kind.OVERRIDE, message="Clearing old stock").exists()
    product_page = admin_client.get(reverse("catalog:product", args=[v.product_id]))
    assert b"80,00" in product_page.content or b"80.00" in product_page.content
    results = admin_client.get(reverse("promotions:results", args=[c.pk]))
    assert results.status_code == 200
    assert b"chart-daily" in results.content
    csv_resp = admin_client.get(reverse("promotions:results", args=[c.pk]) + "?format=csv")
    assert csv_resp.content.decode().startswith("metric,actual")
    check_csv = admin_client.get(reverse("promotions:check_csv", args=[c.pk]))
    assert "MUG-1" in check_csv.content.decode()


def test_calendar_month_and_week_show_clashes(admin_client, product_factory, campaign_factory):
    v = product_factory()
    start = timezone.now().replace(hour=10, minute=0, second=0, microsecond=0) + dt.timedelta(days=1)
    a = campaign_factory([v], name="Spring", start=start)
    b = campaign_factory(
        [v], name="Flash", start=start + dt.timedelta(days=1), end=start + dt.timedelta(days=2)
    )
    day = start.astimezone(tz()).date().isoformat()
    for view in ("month", "week"):
        resp = admin_client.get(reverse("promotions:calendar") + f"?view={view}&date={day}")
        assert resp.status_code == 200
        html = resp.content.decode()
        assert f'data-clash="{a.pk}-{b.pk}"' in html
        assert f'data-entry="{a.pk}"' in html
        assert "promo-ev draft clash" in html
    resp = admin_client.get(reverse("promotions:calendar") + "?view=week&date=nonsense")
    assert resp.status_code == 200


def test_codes_generate_and_export(admin_client, campaign_factory):
    c = campaign_factory(kind="codes", value="10", targets=[])
    admin_client.post(
        reverse("promotions:codes_generate", args=[c.pk]),
        {"count": "25", "prefix": "XM", "length": "8", "max_uses": "1"},
    )
    admin_client.post(reverse("promotions:code_add", args=[c.pk]), {"code": "welcome", "max_uses": ""})
    assert c.codes.count() == 26
    resp = admin_client.get(reverse("promotions:codes_csv", args=[c.pk]))
    lines = resp.content.decode().strip().splitlines()
    assert len(lines) == 27
    assert any(line.startswith("WELCOME,,0,") for line in lines)
    rules = admin_client.get(reverse("promotions:rules", args=[c.pk])).json()
    assert rules["type"] == "codes"
    assert rules["codes"] == 26


def test_readonly_sees_but_cannot_launch(client, make_user, product_factory, campaign_factory):
    v = product_factory()
    c = campaign_factory([v])
    client.force_login(make_user("readonly", "ro"))
    assert client.get(reverse("promotions:campaign", args=[c.pk])).status_code == 200
    resp = client.post(reverse("promotions:launch", args=[c.pk]))
    assert resp.status_code == 403
    c.refresh_from_db()
    assert c.status == CampaignStatus.DRAFT


def test_list_page_query_count_does_not_grow(
    admin_client, product_factory, campaign_factory, django_assert_max_num_queries
):
    v = product_factory()
    for i in range(3):
        campaign_factory([v], name=f"C{i}")
    with django_assert_max_num_queries(12) as few:
        admin_client.get(reverse("promotions:index"))
    for i in range(20):
        campaign_factory([v], name=f"D{i}")
    with django_assert_max_num_queries(len(few.captured_queries)):
        resp = admin_client.get(reverse("promotions:index"))
    assert resp.content.count(b"data-campaign=") == 23


def test_edit_a_running_campaign_through_the_form(admin_client, product_factory, campaign_factory):
    from zaplecze.promotions.services import campaign_launch

    v = product_factory(sku="MUG-1", price="100.00")
    c = campaign_factory([v], start=timezone.now() - dt.timedelta(seconds=90))
    campaign_launch(campaign_id=c.pk, actor=None)
    page = admin_client.get(reverse("promotions:edit", args=[c.pk]))
    form = page.context["form"]
    data = {k: v for k, v in form.initial.items() if v is not None}
    data.update(value="30", channels=[], categories=[])
    resp = admin_client.post(reverse("promotions:edit", args=[c.pk]), data)
    assert resp.status_code == 302, resp.content.decode()[-2000:]
    c.refresh_from_db()
    assert c.value == D("30.00")
    assert Variant.objects.get(pk=v.pk).price == D("70.00")
    assert c.events.filter(kind=CampaignEvent.Kind.EDITED).get().data["changes"] == {
        "value": ["20.00", "30.00"]
    }
