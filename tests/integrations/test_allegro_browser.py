"""The Allegro connection in Debian's Chromium: save it with the app's client id and secret, start the
device flow, see the user code and the link, and the box completing by itself (HTMX check every interval)
once the code is confirmed on (the fake) Allegro; then test and sync. axe-core on each state."""

from __future__ import annotations

import pytest

from .fake_allegro import CLIENT_ID, CLIENT_SECRET, FakeAllegro, allegro_form
from .test_browser import PASSWORD, axe_violations, page  # noqa: F401 - the page fixture

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def fake():
    server = FakeAllegro([allegro_form(1)]).start()
    yield server
    server.stop()


def test_authorize_allegro_in_the_browser(live_server, page, make_user, fake, waits):  # noqa: F811
    from playwright.sync_api import expect

    from zaplecze.integrations import crypto
    from zaplecze.integrations.models import Connection
    from zaplecze.orders.models import Order

    make_user("organiser", "ola", password=PASSWORD)
    problems: list[str] = []
    base = live_server.url
    page.goto(f"{base}/login/")
    page.fill("input[name=username]", "ola")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")

    page.goto(f"{base}/integrations/new/")
    page.select_option("select[name=channel]", "allegro")
    page.select_option("select[name=platform]", "allegro")
    page.fill("input[name=base_url]", fake.url)
    page.fill("input[name=client_id]", CLIENT_ID)
    page.fill("input[name=client_secret]", CLIENT_SECRET)
    page.select_option("select[name=window]", "all")
    page.click("main button:has-text('Save')")
    card = page.locator("#allegro-auth")
    expect(card).to_have_attribute("data-auth-state", "none")
    problems += [f"not authorized: {v}" for v in axe_violations(page)]

    page.click("#allegro-auth button:has-text('Authorize on Allegro')")
    expect(page.locator("[data-user-code]")).to_have_text("cbt3zdu4g")
    link = page.locator("#allegro-auth a:has-text('Open Allegro to confirm')")
    expect(link).to_have_attribute("href", "https://allegro.pl/skojarz-aplikacje?code=cbt3zdu4g")
    problems += [f"pending: {v}" for v in axe_violations(page)]

    fake.grant()  # the organiser confirms the code on allegro.pl; the box notices within the interval
    expect(page.locator("#allegro-auth")).to_have_attribute("data-auth-state", "granted", timeout=30_000)
    expect(page.locator("#allegro-auth")).to_contain_text("Allegro access granted")
    problems += [f"granted: {v}" for v in axe_violations(page)]
    connection = Connection.objects.get(channel__code="allegro")
    stored = crypto.decrypt(connection.credentials_encrypted)
    assert stored["access_token"] in fake.access_tokens and stored["access_token"] not in page.content()

    page.click("button:has-text('Test connection')")
    expect(page.locator(".messages")).to_contain_text("Allegro: 1 orders")
    page.click("form[action$='/sync/'] button[type=submit]")
    expect(page.locator("[data-runs] tbody tr").first).to_contain_text("OK")
    assert Order.objects.filter(channel__code="allegro").count() == 1
    assert problems == []
