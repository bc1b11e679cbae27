"""Browser test in Debian's Chromium: a customer files a return on the public page with the keyboard; staff
accept it, receive the goods, record and confirm the refund; the timeline shows every step and e-mail."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import need

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

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def page(monkeypatch):
    need("chromium")
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
        context.set_default_timeout(15_000)
        yield context.new_page()
        context.close()
        browser.close()


@pytest.fixture
def shop(transactional_db, settings):
    """Default statuses and channels (a flush by an earlier transactional test removes them)."""
    from importlib import import_module

    from django.apps import apps

    import_module("zaplecze.orders.migrations.0002_defaults").forwards(apps, None)
    settings.LANGUAGE_CODE = "en"


def test_a_return_from_the_public_page_to_the_refund(live_server, shop, page, delivered_order, make_user):
    from django.core import mail
    from playwright.sync_api import expect

    from zaplecze.service.models import Return

    assert Path(CHROMIUM).exists()
    order = delivered_order()
    make_user("service", "ola", password=PASSWORD)
    base = live_server.url

    # The customer, with the keyboard only: labels lead to the fields, Tab moves on, Space ticks, Enter sends.
    page.goto(f"{base}/zwrot/")
    page.get_by_label("Order number").focus()
    page.keyboard.type("S1")
    page.keyboard.press("Tab")
    page.keyboard.type("anna@example.com")
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{base}/zwrot/wybor/")
    page.get_by_label("Quantity of Kubek to return").fill("1")
    page.get_by_label("Reason (optional)").fill("Too small")
    page.get_by_label("I withdraw from the contract for the items selected above.").check()
    page.get_by_role("button", name="Send the statement of withdrawal").press("Enter")
    number = page.locator("[data-return-number]").inner_text()
    ret = Return.objects.get()
    assert number == ret.number

    # Staff.
    page.goto(f"{base}/login/")
    page.fill("input[name=username]", "ola")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.goto(f"{base}/service/returns/?due=open")
    page.get_by_role("link", name=number).click()
    page.click("[data-action=accept]")
    expect(page.locator("[data-state]")).to_have_attribute("data-state", "accepted")
    page.click("[data-action=receive]")
    expect(page.locator("[data-state]")).to_have_attribute("data-state", "received")
    page.click("[data-action=refund]")
    expect(page.locator("[data-state]")).to_have_attribute("data-state", "refunded")
    page.get_by_role("button", name="Confirm sent").click()
    page.click("[data-action=close]")
    expect(page.locator("[data-state]")).to_have_attribute("data-state", "closed")

    timeline = page.locator("[data-timeline]").inner_text()
    for step in (
        "Created",
        "Requested → Accepted",
        "Goods inspected",
        "Back in stock",
        "Accepted → Goods received",
        "Refund of 49.99 PLN recorded",
        "Refund of 49.99 PLN sent.",
        "Goods received → Refunded",
        "Refunded → Closed",
        f"E-mail sent to anna@example.com: Your return {number}: statement received",
        f"E-mail sent to anna@example.com: Your return {number} has been accepted",
        "E-mail sent to anna@example.com: Refund for order #S1 sent",
    ):
        assert step in timeline, step
    assert len(mail.outbox) == 3
    order.refresh_from_db()
    assert order.payment_status == "partially_refunded"
