"""Promotions in Debian's Chromium: plan a campaign, see the clash and the Omnibus check, launch it, see the
price change on the product page; the calendar shows the clash."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.e2e.test_a11y import AXE

PASSWORD = "Correct-Horse-9"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _axe(p) -> list[str]:
    if not AXE.exists():
        return []
    from tests.e2e.test_a11y import axe_violations

    return axe_violations(p)


def test_plan_check_launch_and_see_the_price(live_server, page, make_user, product_factory):
    from django.urls import reverse
    from django.utils import timezone
    from playwright.sync_api import expect

    from zaplecze.catalog.models import Product, Variant
    from zaplecze.catalog.prices import price_set_many
    from zaplecze.core.businesstime import tz
    from zaplecze.promotions.models import Campaign
    from zaplecze.promotions.services import campaign_create

    user = make_user("marketing", "mia", password=PASSWORD)
    mug = product_factory(sku="MUG-1", price="100.00")
    Variant.objects.filter(pk=mug.pk).update(cost_price="40.00")
    now = timezone.now()
    Product.objects.filter(pk=mug.product_id).update(created_at=now - dt.timedelta(days=90))
    # 90.00 twelve days ago: the 30-day lowest price is 90.00, so -20 % may only be announced as -11 %
    price_set_many(
        [
            {"variant_id": mug.pk, "price": "100.00", "effective_from": now - dt.timedelta(days=60)},
            {"variant_id": mug.pk, "price": "90.00", "effective_from": now - dt.timedelta(days=12)},
            {"variant_id": mug.pk, "price": "100.00", "effective_from": now - dt.timedelta(days=5)},
        ],
        source="test",
        backdate=True,
    )
    other = campaign_create(
        data={
            "name": "Newsletter codes",
            "kind": "codes",
            "value": "5",
            "start": now + dt.timedelta(days=1),
            "end": now + dt.timedelta(days=3),
        },
        targets=[{"kind": "product", "product_id": mug.product_id}],
        actor=user,
    )
    base = live_server.url
    problems: list[str] = []
    page.goto(f"{base}/login/")
    page.fill("input[name=username]", "mia")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")

    page.goto(f"{base}/promotions/")
    expect(page.locator("h1")).to_have_text("Promotions")
    page.click("text=New campaign")
    local = (now - dt.timedelta(minutes=2)).astimezone(tz())
    page.fill("input[name=name]", "Mug week")
    page.fill("input[name=value]", "20")
    page.fill("input[name=start]", local.strftime("%Y-%m-%dT%H:%M"))
    page.fill("input[name=end]", (local - dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"))
    page.fill("textarea[name=skus]", "MUG-1")
    page.click("main button:has-text('Save')")
    expect(page.locator(".field-error").first).to_contain_text("must end after it starts")
    problems += [f"form with errors: {v}" for v in _axe(page)]
    page.fill("input[name=end]", (local + dt.timedelta(days=7)).strftime("%Y-%m-%dT%H:%M"))
    page.click("main button:has-text('Save')")
    expect(page.locator("h1")).to_contain_text("Mug week")

    page.click("button[data-run-check]")
    row = page.locator("[data-check-rows] tr[data-row='MUG-1']")
    expect(row.locator("[data-reference]")).to_contain_text("90")
    expect(row.locator("[data-badge]")).to_have_text("-11 %")
    expect(row.locator("[data-warning='badge_differs']")).to_be_visible()
    expect(row.locator("[data-warning='clash']")).to_contain_text("Newsletter codes")
    problems += [f"campaign page: {v}" for v in _axe(page)]

    page.click("form[data-launch] button[type=submit]")
    expect(page.locator(".messages")).to_contain_text("Campaign running")
    campaign = Campaign.objects.get(name="Mug week")
    assert campaign.status == "running"

    page.goto(base + reverse("catalog:product", args=[mug.product_id]))
    expect(page.locator("input[name$='-price']").first).to_have_value("80.00")

    page.goto(
        f"{base}/promotions/calendar/?view=week&date={(now + dt.timedelta(days=1)).astimezone(tz()).date()}"
    )
    expect(
        page.locator(f"[data-clash='{campaign.pk}-{other.pk}'], [data-clash='{other.pk}-{campaign.pk}']")
    ).to_be_visible()
    expect(page.locator(f"[data-entry='{campaign.pk}']").first).to_have_class("promo-ev running clash")
    problems += [f"calendar: {v}" for v in _axe(page)]
    assert problems == [], "\n".join(problems)
