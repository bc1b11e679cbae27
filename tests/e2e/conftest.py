"""Shared browser fixture: Debian's Chromium driven by Playwright (never a downloaded browser)."""

from __future__ import annotations

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


@pytest.fixture
def page(monkeypatch):
    """A fresh page (English UI, 1366x900); tests that define their own `page` fixture keep theirs."""
    from tests.conftest import need

    need("chromium")
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="en-GB")
        context.set_default_timeout(30_000)  # CI runs two suites side by side on 2 cores
        yield context.new_page()
        context.close()
        browser.close()
