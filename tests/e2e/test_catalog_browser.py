"""Browser test in Debian's Chromium (issue #6 point 8): a product CSV with one bad row is uploaded, the bad row is
fixed in the preview (inline, htmx), the import applied; the product's quality score changes (the audit runs
after the commit, queued tasks running at once in tests); the Google feed is built and downloaded with the
imported product in it."""

from __future__ import annotations

import io
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

PASSWORD = "Correct-Horse-9"
EAN = "5901234123457"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def image_server():
    """A loopback server with one 1000 × 1000 PNG, so the imported image URL has a real pixel size."""
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (1000, 1000), (200, 120, 40)).save(buf, format="PNG")
    png = buf.getvalue()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            if self.path != "/koc.png":
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(png)))
            self.end_headers()
            self.wfile.write(png)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def shop(transactional_db, settings, make_user, product_factory, tmp_path):
    """A poor product (no description, image, EAN, brand) audited once, a Google feed, and an admin."""
    from huey.contrib.djhuey import HUEY

    from zaplecze.catalog import feeds
    from zaplecze.catalog.audit import audit_run

    settings.DATA_DIR = tmp_path  # the built feed file goes here
    HUEY.immediate = True
    variant = product_factory(sku="KOC-1", price="99.00", name="Koc")
    audit_run(product_ids=[variant.product_id])
    feed = feeds.feed_create(
        data={"name": "Google", "kind": "google", "link_template": "https://shop.example/p/{sku}"}
    )
    make_user("admin", "ola", password=PASSWORD)
    return variant, feed


def test_import_fix_apply_audit_and_feed(live_server, shop, image_server, page, tmp_path):
    from playwright.sync_api import expect

    from zaplecze.catalog.models import BulkChange, Product, Variant

    variant, feed = shop
    product = variant.product
    product.refresh_from_db()
    score_before = product.quality_score
    assert score_before is not None

    description = (
        "<p>" + "Miękki, ciepły koc z bawełny, 150 × 200 cm. Można prać w pralce w 30 °C. " * 5 + "</p>"
    )
    rows = [
        "sku;product_name;price;ean;brand;manufacturer;category;image_urls;description_html;safety_info",
        f'KOC-1;Koc bawełniany;99,00;{EAN};Łąka;Łąka sp. z o.o.;Dom > Tekstylia;{image_server}/koc.png;"{description}";'
        "Nie używać w pobliżu ognia.",
        "KOC-2;Koc wełniany;sto;;Łąka;;Dom > Tekstylia;;;",
    ]
    csv_path = tmp_path / "koce.csv"
    csv_path.write_bytes(("\n".join(rows) + "\n").encode("cp1250"))

    base = live_server.url
    page.goto(f"{base}/login/")
    page.fill("input[name=username]", "ola")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")

    # Upload: the preview shows one change, one error in the price cell; nothing is written yet.
    page.goto(f"{base}/products/import/")
    page.set_input_files("[data-import-upload] input[type=file]", str(csv_path))
    page.click("[data-import-upload] button[type=submit]")
    expect(page.locator("h1")).to_contain_text("koce.csv")
    expect(page.locator("[data-count=update]")).to_have_text("1")
    expect(page.locator("[data-count=error]")).to_have_text("1")
    bad = page.locator("tr[data-row='3']")
    expect(bad).to_have_attribute("data-action", "error")
    expect(bad.locator("[data-error-column=price]")).to_contain_text("sto")
    assert Variant.objects.filter(sku="KOC-2").count() == 0

    # Fix the bad row inline: the form replaces the row, the fixed row replaces the form, the counts update.
    bad.locator("[data-fix-row]").click()
    form = page.locator("tr[data-row='3'] [data-row-form]")
    expect(form).to_be_visible()
    form.locator("input[name='cell:price']").fill("149,00")
    form.locator("button[type=submit]").click()
    expect(page.locator("tr[data-row='3']")).to_have_attribute("data-action", "create")
    expect(page.locator("[data-count=error]")).to_have_text("0")
    expect(page.locator("[data-count=create]")).to_have_text("1")

    # Apply.
    page.locator("[data-apply] button[type=submit]").click()
    expect(page.locator("[data-state]").first).to_have_attribute("data-state", "applied")
    assert BulkChange.objects.get().state == "applied"
    assert str(Variant.objects.get(sku="KOC-2").price) == "149.00"

    # The audit ran after the commit: the product page shows a better score.
    product.refresh_from_db()
    assert product.quality_score is not None and product.quality_score > score_before
    page.goto(f"{base}/products/{product.pk}/")
    expect(page.locator("h1 .score")).to_have_text(str(product.quality_score))

    # The Google feed: build it, download it, the imported product is in it with its GTIN and image.
    page.goto(f"{base}/products/feeds/")
    page.click(f"tr[data-feed-id='{feed.pk}'] a")
    page.get_by_role("button", name="Build now").click()
    page.goto(f"{base}/products/feeds/{feed.pk}/")
    download = page.locator(f"a[href$='/products/feeds/{feed.pk}/download/']")
    expect(download).to_be_visible()
    xml = page.request.get(base + download.get_attribute("href")).text()
    assert "<g:id>KOC-1</g:id>" in xml
    assert f"<g:gtin>{EAN}</g:gtin>" in xml
    assert f"{image_server}/koc.png" in xml
    assert Product.objects.get(pk=product.pk).name == "Koc bawełniany"
