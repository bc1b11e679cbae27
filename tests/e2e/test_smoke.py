"""Browser smoke test in Debian's Chromium (never a downloaded browser): log in, the dashboard draws its
chart, filter the queue, open an order, change its status, see the change in the history."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PASSWORD = "Correct-Horse-9"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is missing (apt-get install chromium)"
    ),
]


@pytest.fixture
def page(monkeypatch):
    # Playwright's sync API keeps an event loop in this thread; the test's own ORM calls are still sync.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="en-GB")
        context.set_default_timeout(15_000)
        yield context.new_page()
        context.close()
        browser.close()


@pytest.fixture
def shop(transactional_db, make_user, product_factory, ingest):
    from django.utils import timezone

    from zaplecze.web.assets import build_vega_bundle

    build_vega_bundle()  # generated offline from vl-convert when missing
    product_factory(sku="SKU-0001", stock=100)
    now = timezone.now()
    for n in range(1, 7):
        ingest(
            external_id=f"E{n}",
            number=f"E2E-{n}",
            email=f"buyer{n}@example.com",
            channel="allegro" if n % 2 else "shop",
            placed_at=(now - dt.timedelta(days=n)).isoformat(),
        )
    return make_user("organiser", "ola", password=PASSWORD)


def test_login_dashboard_queue_filter_and_status_change(live_server, shop, page):
    from playwright.sync_api import expect

    base = live_server.url
    page.goto(f"{base}/orders/")
    expect(page).to_have_url(re.compile(r"/login/\?next=/orders/"))
    page.goto(f"{base}/login/")
    page.fill("input[name=username]", "ola")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{base}/today/")  # the home page is Today

    # The dashboard draws its chart (vega-embed from the locally generated bundle).
    page.click("nav.areas a[data-area=dashboard]")
    page.wait_for_selector("#chart-daily-target[data-ready='1'] svg")
    assert page.locator("#chart-daily-target svg .mark-rect path").count() >= 2
    expect(page.locator("[data-figure=waiting] .kpi-value")).to_have_text("6")

    # The queue, filtered by channel (htmx swaps the table and pushes the URL) and by search.
    page.click("nav.areas a[data-area=orders]")
    rows = page.locator("table.queue tbody tr[data-order]")
    expect(rows).to_have_count(6)
    page.select_option("select[name=channel]", "allegro")
    expect(rows).to_have_count(3)
    expect(page).to_have_url(re.compile(r"channel=allegro"))
    page.fill("#id_q", "buyer3@example.com")
    page.press("#id_q", "Enter")
    expect(rows).to_have_count(1)
    expect(page.locator("table.queue a.strong")).to_have_text("E2E-3")

    # Open the order and move it on (follow the link once htmx has no request in flight, so the click
    # cannot land on a table that is being swapped).
    page.wait_for_function("document.querySelectorAll('.htmx-request').length === 0")
    with page.expect_navigation():
        page.click("table.queue a.strong")
    expect(page.locator("h1")).to_contain_text("E2E-3")
    expect(page.locator("[data-current-status]")).to_have_text("Ready to fulfil")
    page.select_option("#status select[name=status]", "picking")
    page.fill("#status input[name=reason]", "picking now")
    page.click("#status button[type=submit]")
    expect(page.locator(".msg-success")).to_have_text("Status changed.")
    expect(page.locator("[data-current-status]")).to_have_text("Picking")
    latest = page.locator("[data-timeline] li").first
    expect(latest).to_contain_text("Status changed")
    expect(latest).to_contain_text("Ready to fulfil → Picking")
    expect(latest).to_contain_text("ola")
    expect(latest).to_contain_text("picking now")
