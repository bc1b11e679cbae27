"""Shop health in Debian's Chromium: add a check of a local shop page, run it, see its charts drawn, watch it go
down (incident) and open an IT ticket; axe-core (WCAG 2.0/2.1 A and AA) on each screen."""

from __future__ import annotations

import pytest

from tests.conftest import IN_CI, need
from tests.e2e.test_a11y import AXE, CHROMIUM, CHROMIUM_ARGS
from tests.e2e.test_a11y import axe_violations as _axe

PASSWORD = "Correct-Horse-9"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def axe_violations(page) -> list[str]:
    if not AXE.exists():
        return []
    return _axe(page)


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


def test_add_run_chart_incident_and_ticket_in_the_browser(live_server, page, make_user, shop):
    from playwright.sync_api import expect

    from zaplecze.monitoring.models import Incident, StorefrontCheck
    from zaplecze.service.models import Ticket

    make_user("organiser", "ola", password=PASSWORD)
    problems: list[str] = []
    base = live_server.url
    page.goto(f"{base}/login/")
    page.fill("input[name=username]", "ola")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")

    page.goto(f"{base}/monitoring/")
    expect(page.locator("h1")).to_have_text("Shop health")
    problems += [f"list: {v}" for v in axe_violations(page)]
    page.click("text=Add a check")
    page.fill("input[name=name]", "Cart")
    page.fill("input[name=url]", "ftp://nowhere")
    page.select_option("select[name=kind]", "cart")
    page.click("button:has-text('Save')")
    expect(page.locator(".field-error")).to_contain_text("Only http:// and https:// addresses")
    problems += [f"form: {v}" for v in axe_violations(page)]
    page.fill("input[name=url]", shop.url + "/flaky")
    page.fill("input[name=expected_text]", "Witamy")
    page.click("button:has-text('Save')")
    check = StorefrontCheck.objects.get()

    page.click("button:has-text('Run now')")
    expect(page.locator(".msg-success")).to_contain_text("Up: HTTP 200")
    expect(page.locator('.badge[data-state="up"]').first).to_be_visible()
    expect(page.locator("[data-vega-spec='chart-response'] svg")).to_be_visible()
    expect(page.locator("[data-vega-spec='chart-uptime'] svg")).to_be_visible()
    problems += [f"check: {v}" for v in axe_violations(page)]

    shop.flaky_status = 503
    for _ in range(2):
        page.click("button:has-text('Run now')")
        expect(page.locator(".msg-error")).to_contain_text("HTTP 503, expected 200")
    expect(page.locator('.badge[data-state="down"]').first).to_be_visible()
    incident = Incident.objects.get(check_ref=check)
    page.click(f"tr[data-incident-id='{incident.pk}'] button:has-text('Open IT ticket')")
    ticket = Ticket.objects.get()
    expect(page.locator(".msg-success")).to_contain_text(f"Ticket {ticket.number} opened in the IT queue.")
    expect(page.locator(f"tr[data-incident-id='{incident.pk}'] a[data-ticket]")).to_have_text(ticket.number)

    page.goto(f"{base}/monitoring/incidents/?state=open")
    expect(page.locator("tr[data-incident-id]")).to_have_count(1)
    problems += [f"incidents: {v}" for v in axe_violations(page)]
    assert problems == []
