"""Browser test in Debian's Chromium: the tracking script on a test page (another origin, so CORS is
exercised) sends a pageview and an add-to-cart; the dashboard shows them; clicking a source filters the
page."""

from __future__ import annotations

import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.conftest import need

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
PASSWORD = "Correct-Horse-9"

pytestmark = pytest.mark.browser


def shop_page(collector: str) -> bytes:
    return f"""<!doctype html><html><head><title>Sklep</title>
<script>window.zaplecze = window.zaplecze || function () {{ (window.zaplecze.q = window.zaplecze.q || []).push(arguments) }};
zaplecze('product_view', {{sku: 'KUB-1'}});</script>
<script defer src="{collector}/z.js" data-site="127.0.0.1"></script></head>
<body><h1>Kubek</h1><button id="buy" onclick="zaplecze('add_to_cart', {{sku: 'KUB-1'}})">Do koszyka</button>
</body></html>""".encode()


@pytest.fixture
def shop_server(live_server):
    page = shop_page(live_server.url)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture
def page(monkeypatch):
    need("chromium")
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        # Headless Chromium says "HeadlessChrome" in its user agent, which the collector drops as a bot.
        context = browser.new_context(
            viewport={"width": 1366, "height": 900},
            locale="en-GB",
            user_agent="Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
        )
        context.set_default_timeout(60_000)
        yield context.new_page()
        context.close()
        browser.close()


def test_script_sends_events_and_dashboard_filters_by_source(
    live_server, transactional_db, make_user, shop_server, page
):
    from playwright.sync_api import expect

    from zaplecze.analytics import spool, warehouse
    from zaplecze.analytics.services import site_create
    from zaplecze.web.assets import build_vega_bundle

    build_vega_bundle()
    site_create(domain="127.0.0.1", allowed_origins=shop_server, actor=None)
    make_user("organiser", "ola", password=PASSWORD)

    page.goto(f"{shop_server}/kubek?utm_source=newsletter&utm_medium=email", wait_until="commit")
    page.wait_for_function("typeof window.zaplecze === 'function'")
    page.click("#buy")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        text = b"".join(p.read_bytes() for p in spool.segments())
        if all(text.count(f'"event":"{e}"'.encode()) for e in ("pageview", "product_view", "add_to_cart")):
            break
        time.sleep(0.2)
    warehouse.flush()

    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", "ola")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.goto(f"{live_server.url}/analytics/?site=127.0.0.1&period=7d")
    expect(page.locator("[data-card=visitors] .kpi-value")).to_have_text("1")
    expect(page.locator("[data-card=pageviews] .kpi-value")).to_have_text("1")
    expect(page.locator("[data-panel=page] tbody")).to_contain_text("/kubek")
    page.wait_for_selector("#chart-timeseries-target[data-ready='1'] svg")
    funnel = page.locator("[data-panel=funnel] tbody tr").nth(1)
    expect(funnel).to_contain_text("1")  # add to cart

    page.click("[data-panel=source] a[data-value=email]")
    expect(page).to_have_url(re.compile(r"source=email"))
    expect(page.locator("[data-filters]")).to_contain_text("E-mail")
    expect(page.locator("[data-card=visitors] .kpi-value")).to_have_text("1")
    page.goto(f"{live_server.url}/analytics/?site=127.0.0.1&period=7d&source=search")
    expect(page.locator("[data-card=visitors] .kpi-value")).to_have_text("0")
