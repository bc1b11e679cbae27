"""Receiving with a keyboard-wedge scanner in Debian's Chromium: each typed EAN/SKU + Enter adds one unit,
an unknown code is reported and adds nothing, posting puts the goods into stock."""

from __future__ import annotations

import pytest

from tests.conftest import need

PASSWORD = "Correct-Horse-9"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]

pytestmark = pytest.mark.browser


@pytest.fixture
def page(monkeypatch):
    need("chromium")
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="en-GB")
        context.set_default_timeout(60_000)
        yield context.new_page()
        context.close()
        browser.close()


@pytest.fixture
def po(transactional_db, make_user, product_factory):
    from zaplecze.purchasing import services

    make_user("warehouse", "magda", password=PASSWORD)
    supplier = services.supplier_create(data={"name": "Hurtownia", "nip": "5260250274"}, actor=None)
    mug = product_factory(sku="MUG-1", ean="5901234123457", stock=0)
    tea = product_factory(sku="TEA-1", ean="5900000000015", stock=0)
    for v in (mug, tea):
        services.supplier_item_save(supplier_id=supplier.pk, variant_id=v.pk, unit_cost="2.00", actor=None)
    po = services.po_create(
        supplier_id=supplier.pk,
        lines=[{"variant_id": mug.pk, "quantity": 5}, {"variant_id": tea.pk, "quantity": 2}],
        actor=None,
    )
    return services.po_send(po_id=po.pk, actor=None, email=False)


def test_scan_to_receive(live_server, po, page):
    from playwright.sync_api import expect

    from zaplecze.inventory.models import StockMovement
    from zaplecze.purchasing.models import PurchaseOrder

    base = live_server.url
    page.goto(f"{base}/login/")
    page.fill("input[name=username]", "magda")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.goto(f"{base}/purchasing/orders/{po.pk}/receive/")
    scan = page.locator("#scan")
    expect(scan).to_be_focused()
    for code in ("5901234123457", "5901234123457", "tea-1"):
        page.keyboard.type(code)
        page.keyboard.press("Enter")
    expect(page.locator("#scan-status")).to_have_text("TEA-1 +1 (now 1)")
    page.keyboard.type("0000000000017")
    page.keyboard.press("Enter")
    expect(page.locator("#scan-status")).to_contain_text("Unknown EAN or SKU 0000000000017")
    mug_qty = page.locator('tr[data-sku="MUG-1"] input[data-qty]')
    expect(mug_qty).to_have_value("2")
    expect(page.locator('tr[data-sku="TEA-1"] input[data-qty]')).to_have_value("1")
    mug_qty.fill("3")  # corrected by hand
    page.click("button[data-post]")
    expect(page.locator('tr[data-line="MUG-1"] [data-received]')).to_have_text("3")
    expect(page.locator('[data-po-status="partially_received"]')).to_be_visible()
    assert list(
        StockMovement.objects.filter(reference=po.number)
        .order_by("id")
        .values_list("variant__sku", "quantity")
    ) == [
        ("MUG-1", 3),
        ("TEA-1", 1),
    ]
    assert PurchaseOrder.objects.get(pk=po.pk).status == "partially_received"
