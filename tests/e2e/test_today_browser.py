"""Today in Debian's Chromium: the demo shop opens on Today with exceptions from at least four areas;
resolving one by its quick action removes it; snoozing hides one until the time given."""

from __future__ import annotations

import datetime as dt
import re

import pytest

PASSWORD = "Correct-Horse-9"
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def demo_shop(transactional_db, make_user):
    from zaplecze.demo import build_demo
    from zaplecze.web.assets import build_vega_bundle

    build_vega_bundle()
    build_demo(orders=400, days=60, seed=42)  # runs the exceptions refresh at its end
    return make_user("admin", "ola", password=PASSWORD)


def test_demo_opens_on_today_quick_action_and_snooze(live_server, demo_shop, page):
    from playwright.sync_api import expect

    from zaplecze.today.models import OpsException

    base = live_server.url
    page.goto(f"{base}/login/")
    page.fill("input[name=username]", "ola")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{base}/today/")
    areas = page.locator("section.today-area")
    assert areas.count() >= 4, [areas.nth(i).get_attribute("data-area") for i in range(areas.count())]
    expect(page.locator("[data-figure=orders] .kpi-value")).to_be_visible()

    # A quick action: the row's own module does the work, and the exception leaves the page.
    button = page.locator("button[data-action=checked]").first
    row = button.locator("xpath=ancestor::tr")
    exception_id = row.get_attribute("data-exception")
    button.click()
    expect(page.locator(".messages, [role=status], .flash").first).to_contain_text("marked as checked")
    expect(page.locator(f"tr[data-exception='{exception_id}']")).to_have_count(0)
    assert OpsException.objects.get(pk=exception_id).resolved_how == "cleared"

    # Snooze another one for an hour: gone from the open list, listed as snoozed until then.
    row = page.locator("section[data-area=service] tr[data-exception]").first
    snoozed_id = row.get_attribute("data-exception")
    row.locator("summary[data-action=snooze]").click()
    row.locator("button[name=until][value='1h']").click()
    expect(page.locator(f"tr[data-exception='{snoozed_id}']")).to_have_count(0)
    snoozed = OpsException.objects.get(pk=snoozed_id)
    left = snoozed.snoozed_until - dt.datetime.now(dt.UTC)
    assert snoozed.state == "snoozed" and dt.timedelta(minutes=55) < left <= dt.timedelta(hours=1)
    page.click("a.chip[href*='show=snoozed']")
    expect(page).to_have_url(re.compile(r"show=snoozed"))
    expect(page.locator(f"tr[data-exception='{snoozed_id}']")).to_have_count(1)
