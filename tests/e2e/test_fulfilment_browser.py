"""Browser test in Debian's Chromium: a pick list from two orders, packing one of them by typing EANs into the
scan field (the keyboard, as a keyboard-wedge scanner does), its InPost shipment created against the fake
ShipX server, the label PDF and the tracking status on the shipment page."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.conftest import need
from tests.shipping.fakeshipx import ORG, TOKEN, FakeShipX

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
MUG_EAN = "5901234123457"
TEA_EAN = "5900000000015"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def page(monkeypatch):
    need("chromium")
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
        context.set_default_timeout(30_000)  # a loaded CI machine can be slow
        yield context.new_page()
        context.close()
        browser.close()


@pytest.fixture
def shipx(settings, tmp_path):
    """The fake ShipX server with the InPost settings pointing at it; labels stored under tmp_path."""
    fake = FakeShipX().start()
    settings.INPOST_API_URL = fake.url
    settings.INPOST_TOKEN = TOKEN
    settings.INPOST_ORGANIZATION_ID = ORG
    settings.INPOST_TIMEOUT = 5
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "media")},
        },
    }
    yield fake
    fake.stop()


@pytest.fixture
def shop(transactional_db, settings, make_user, product_factory, ingest):
    """Default statuses, channels and carriers (a flush by an earlier transactional test removes them), two
    products with EANs in two bins, two paid orders ready to fulfil, and a warehouse worker."""
    from importlib import import_module

    from django.apps import apps
    from huey.contrib.djhuey import HUEY

    from zaplecze.inventory.models import Location, StockLevel
    from zaplecze.inventory.services import warehouse_default

    import_module("zaplecze.orders.migrations.0002_defaults").forwards(apps, None)
    import_module("zaplecze.shipping.migrations.0002_carriers").seed(apps, None)
    settings.LANGUAGE_CODE = "en"
    HUEY.immediate = True
    wh = warehouse_default()
    bins = {
        "MUG": Location.objects.create(warehouse=wh, code="A-01", sort_order=1),
        "TEA": Location.objects.create(warehouse=wh, code="B-07", sort_order=2),
    }
    for sku, ean in (("MUG", MUG_EAN), ("TEA", TEA_EAN)):
        variant = product_factory(sku=sku, ean=ean, stock=20, name=f"{sku.title()} product")
        StockLevel.objects.filter(variant=variant).update(location=bins[sku])

    def lines(*items):
        return [
            {"sku": s, "name": f"{s.title()}", "quantity": q, "unit_price_gross": "20.00"} for s, q in items
        ]

    placed = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=3)).isoformat()
    first = ingest(
        external_id="E1", number="#E1", placed_at=placed, lines=lines(("MUG", 2), ("TEA", 1))
    ).order
    second = ingest(external_id="E2", number="#E2", placed_at=placed, lines=lines(("MUG", 1))).order
    make_user("warehouse", "magda", password=PASSWORD)
    return first, second


def test_pick_pack_and_ship_with_the_keyboard(live_server, shop, shipx, page):
    from django.utils import timezone
    from playwright.sync_api import expect

    from zaplecze.orders.models import Order
    from zaplecze.shipping.models import Shipment

    first, second = shop
    base = live_server.url
    page.goto(f"{base}/login/")
    page.fill("input[name=username]", "magda")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")

    # A pick list of the two orders, chosen on the pick & pack screen.
    page.click("nav.areas a[data-area=fulfilment]")
    page.check(f"tr[data-order='{first.pk}'] input[name=ids]")
    page.check(f"tr[data-order='{second.pk}'] input[name=ids]")
    page.click("[data-action=create-selected]")
    expect(page.locator("h1")).to_contain_text("Pick list PL-")
    groups = page.locator("[data-pick-sheet] .pick-group")
    expect(groups).to_have_count(2)
    expect(groups.nth(0)).to_have_attribute("data-location", "A-01")
    expect(groups.nth(0).locator("[data-qty]")).to_have_text("3")
    expect(groups.nth(0)).to_contain_text("#E1 × 2")
    expect(groups.nth(0)).to_contain_text("#E2 × 1")
    expect(groups.nth(1)).to_have_attribute("data-location", "B-07")
    pdf = page.request.get(base + page.locator("[data-pdf-link]").get_attribute("href"))
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.body().startswith(b"%PDF-")
    assert Order.objects.get(pk=first.pk).status.code == "picking"

    # Pack #E1: the scan field has the focus; each code is typed and ended with Enter.
    page.click(f"tr[data-order='{first.pk}'] [data-pack-link]")
    expect(page.locator("h1")).to_contain_text("#E1")
    expect(page.locator("#scan")).to_be_focused()

    def scan(code: str) -> None:
        page.keyboard.type(code)
        page.keyboard.press("Enter")

    alert = page.locator("[data-scan-alert]")
    scan(MUG_EAN)
    expect(page.locator("[data-sku=MUG] [data-count]")).to_have_text("1 / 2")
    expect(alert).to_have_attribute("data-scan-alert", "ok")
    scan("4006381333931")  # not a product of ours
    expect(alert).to_have_attribute("data-scan-alert", "warn")
    expect(alert).to_contain_text("Unknown code 4006381333931")
    expect(page.locator("[data-sku=MUG] [data-count]")).to_have_text("1 / 2")
    scan(TEA_EAN)
    scan(TEA_EAN)  # one too many
    expect(alert).to_contain_text("Surplus")
    expect(page.locator("[data-sku=TEA] [data-count]")).to_have_text("1 / 1")
    expect(page.locator("#scan")).to_be_focused()
    scan(MUG_EAN)
    expect(page.locator("[data-packed]")).to_be_visible()
    expect(alert).to_have_text("Order #E1 is packed.")
    assert Order.objects.get(pk=first.pk).status.code == "packed"

    # A reload keeps the state.
    page.reload()
    expect(page.locator("[data-sku=MUG] [data-count]")).to_have_text("2 / 2")
    expect(page.locator("[data-progress]")).to_have_text("3 / 3")

    # Create its InPost shipment (the shipping panel, with the order's locker prefilled).
    panel = page.locator("#shipping-panel")
    panel.locator("summary").click()
    expect(panel.locator("input[name=target_point]")).to_have_value("KRA01M")
    panel.locator("button[type=submit]").click()
    expect(page.locator("#shipping-panel [data-shipment-id]")).to_have_count(1)
    shipment = Shipment.objects.get(order=first)
    assert shipment.carrier.code == "inpost"
    assert shipx.calls("create") == 1
    page.locator("#shipping-panel [data-shipment-id] a").first.click()

    # The shipment page: the label is a PDF; the tracking status after asking the carrier.
    expect(page.locator("[data-shipment-status]").first).to_have_text("Label ready")
    label = page.request.get(base + page.locator("[data-label-link]").get_attribute("href"))
    assert label.headers["content-type"] == "application/pdf"
    assert label.body().startswith(b"%PDF-")
    shipment.refresh_from_db()
    later = (timezone.now() + dt.timedelta(minutes=5)).replace(microsecond=0).isoformat()
    shipx.set_tracking(shipment.tracking_number, [("confirmed", later), ("collected_from_sender", later)])
    page.get_by_role("button", name="Ask the carrier now").click()
    expect(page.locator("[data-shipment-status]").first).to_have_text("Handed over")
    expect(page.locator("[data-tracking]")).to_contain_text("collected_from_sender")
    assert Order.objects.get(pk=first.pk).stage == "shipped"
    assert Order.objects.get(pk=second.pk).status.code == "picking"
