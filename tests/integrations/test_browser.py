"""The integration screens in Debian's Chromium: connect a WooCommerce shop (fake API on loopback), test it,
sync, see the kept error with its payload and retry it; axe-core (WCAG 2.0/2.1 A and AA) on each screen."""

from __future__ import annotations

import pytest

from tests.conftest import IN_CI, need
from tests.e2e.test_a11y import AXE, CHROMIUM, CHROMIUM_ARGS
from tests.e2e.test_a11y import axe_violations as _axe

from .conftest import WEBHOOK_SECRET
from .fake_woo import KEY, SECRET, woo_order

PASSWORD = "Correct-Horse-9"


def axe_violations(page) -> list[str]:
    """axe-core's findings; without node_modules (a local run without `npm ci`) only the flow is checked."""
    if not AXE.exists():
        return []
    return _axe(page)


pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def page(monkeypatch):
    need("chromium")
    if not AXE.exists() and IN_CI:
        pytest.fail(f"{AXE} is missing: run `npm ci`")
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="en-GB")
        context.set_default_timeout(60_000)
        yield context.new_page()
        context.close()
        browser.close()


def test_connect_sync_and_retry_in_the_browser(live_server, page, make_user, fake_woo, waits):
    from playwright.sync_api import expect

    from zaplecze.integrations.models import SyncError
    from zaplecze.orders.models import Order

    make_user("organiser", "ola", password=PASSWORD)
    bad = woo_order(2)
    bad["billing"]["email"] = "broken-address"
    fake_woo.orders = [woo_order(1), bad]
    problems: list[str] = []
    base = live_server.url
    page.goto(f"{base}/login/")
    page.fill("input[name=username]", "ola")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")

    page.goto(f"{base}/integrations/")
    expect(page.locator("h1")).to_have_text("Integrations")
    problems += [f"list: {v}" for v in axe_violations(page)]

    page.click("text=Connect a channel")
    page.select_option("select[name=channel]", "shop")
    page.select_option("select[name=platform]", "woocommerce")
    page.fill("input[name=base_url]", "http://shop.example")
    page.click("main button:has-text('Save')")
    expect(page.locator(".field-error, .alert-error").first).to_contain_text("https://")
    problems += [f"form with errors: {v}" for v in axe_violations(page)]

    page.fill("input[name=base_url]", fake_woo.url)
    page.fill("input[name=consumer_key]", KEY)
    page.fill("input[name=consumer_secret]", SECRET)
    page.fill("input[name=webhook_secret]", WEBHOOK_SECRET)
    page.select_option("select[name=window]", "all")
    page.click("main button:has-text('Save')")
    expect(page.locator("h1")).to_contain_text("Sklep internetowy")
    assert SECRET not in page.content()

    page.click("button:has-text('Test connection')")
    expect(page.locator(".messages")).to_contain_text("WooCommerce: 2 orders")
    page.click("form[action$='/sync/'] button[type=submit]")
    expect(page.locator("[data-runs] tbody tr").first).to_contain_text("With errors")
    problems += [f"detail: {v}" for v in axe_violations(page)]
    assert Order.objects.count() == 1

    page.click("nav.tabs >> text=Errors")
    expect(page.locator("[data-errors]")).to_contain_text("broken-address")
    problems += [f"errors tab: {v}" for v in axe_violations(page)]
    error = SyncError.objects.get()
    SyncError.objects.filter(pk=error.pk).update(
        payload=error.payload.replace("broken-address", "ok@example.com")
    )
    page.click(f"[data-error-id='{error.pk}'] button:has-text('Retry')")
    expect(page.locator(".messages")).to_contain_text("Taken in.")
    assert Order.objects.count() == 2
    assert problems == []
