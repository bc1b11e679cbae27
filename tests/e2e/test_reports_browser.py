"""Browser test of the reports (issue #7): open the sales report, see its charts, drill from a total into the
orders behind it, and download the PDF report, which has pages."""

from __future__ import annotations

import datetime as dt
import re
import zlib

import pytest

PASSWORD = "Correct-Horse-9"
pytestmark = pytest.mark.browser


@pytest.fixture
def sales(transactional_db, make_user, product_factory, ingest):
    from django.utils import timezone

    from zaplecze.web.assets import build_vega_bundle

    build_vega_bundle()
    product_factory(sku="SKU-0001", stock=100)
    now = timezone.now()
    for n in range(1, 6):
        ingest(
            external_id=f"R{n}",
            number=f"REP-{n}",
            channel="allegro" if n % 2 else "shop",
            placed_at=(now - dt.timedelta(days=n + 1)).isoformat(),
        )
    return make_user("organiser", "ola", password=PASSWORD)


def test_sales_report_drill_down_and_pdf(live_server, sales, page):
    from playwright.sync_api import expect
    from weasyprint import HTML  # noqa: F401  (the PDF renderer must be importable)

    base = live_server.url
    page.goto(f"{base}/login/?next=/reports/")
    page.fill("input[name=username]", "ola")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(re.compile(r"/reports/$"))
    expect(page.locator("h2").first).to_contain_text("Sales report")
    page.wait_for_selector("[data-vega-spec='chart-revenue-day'][data-ready='1'] svg")
    expect(page.locator("tr[data-figure=orders] td").first).to_have_text("5")

    # Drill down: the orders total opens the queue with exactly those orders.
    page.click("tr[data-figure=orders] th a")
    expect(page).to_have_url(re.compile(r"/orders/\?.*date_from="))
    for n in range(1, 6):
        expect(page.get_by_role("link", name=f"REP-{n}", exact=True)).to_be_visible()

    # The PDF download: a real PDF with at least one page.
    page.go_back()
    with page.expect_download() as info:
        page.evaluate(
            "href => { const a = document.createElement('a'); a.href = href; a.download = ''; "
            "document.body.appendChild(a); a.click(); }",
            page.get_attribute("a[data-format=pdf]", "href"),
        )
    content = open(info.value.path(), "rb").read()
    assert content.startswith(b"%PDF")
    assert pdf_pages(content) >= 1


def pdf_pages(data: bytes) -> int:
    """Pages of a PDF: its page objects, looked for in the plain text and in every compressed stream
    (WeasyPrint keeps the page dictionaries in compressed object streams)."""
    texts = [data]
    for match in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", data, re.S):
        try:
            texts.append(zlib.decompress(match.group(1)))
        except zlib.error:
            continue
    return sum(len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", t)) for t in texts)
