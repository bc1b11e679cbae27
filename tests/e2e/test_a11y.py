"""Accessibility of the public pages (European Accessibility Act, WCAG 2.1 AA; COMPLIANCE A5.21): every step
of the return, complaint and contact forms, including an error state, is checked in Debian's Chromium with
axe-core (npm package, node_modules/axe-core; `npm ci` installs it) for the WCAG 2.0/2.1 A and AA rules; the
forms are walked with the Tab key (every field and the submit button are reached, in order), every control
has a label, and the focused control shows a visible focus indicator."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from tests.conftest import IN_CI, need

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
AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 100

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def page(monkeypatch):
    need("chromium")
    if not AXE.exists():
        message = f"{AXE} is missing: run `npm ci` in the repository"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
        context.set_default_timeout(30_000)
        yield context.new_page()
        context.close()
        browser.close()


@pytest.fixture
def shop(transactional_db, settings, product_factory, ingest, tmp_path):
    """Default statuses and channels, an informed channel, media in a temporary folder, queued tasks run at
    once, and Anna's delivered order #A11Y-1 (two lines)."""
    from importlib import import_module

    from django.apps import apps
    from django.utils import timezone
    from huey.contrib.djhuey import HUEY

    from zaplecze.orders.models import Order
    from zaplecze.orders.services import order_transition
    from zaplecze.service.services import withdrawal_notice_record

    import_module("zaplecze.orders.migrations.0002_defaults").forwards(apps, None)
    settings.LANGUAGE_CODE = "en"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path)},
        },
    }
    before = HUEY.immediate
    HUEY.immediate = True
    withdrawal_notice_record(
        channel_code="shop",
        informed_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC),
        how="checkout terms",
        actor=None,
    )
    for sku in ("A11Y-A", "A11Y-B"):
        product_factory(sku=sku, price="20.00", stock=10)
    delivered = timezone.now() - dt.timedelta(days=2)
    order = ingest(
        external_id="A11Y-1",
        number="#A11Y-1",
        placed_at=(delivered - dt.timedelta(days=3)).isoformat(),
        lines=[
            {"sku": "A11Y-A", "name": "Kubek", "quantity": 2, "unit_price_gross": "20.00", "vat_rate": "23"},
            {"sku": "A11Y-B", "name": "Talerz", "quantity": 1, "unit_price_gross": "20.00", "vat_rate": "23"},
        ],
    ).order
    order_transition(order_id=order.pk, status_code="shipped", actor=None)
    order_transition(order_id=order.pk, status_code="delivered", actor=None)
    Order.objects.filter(pk=order.pk).update(delivered_at=delivered)
    yield order
    HUEY.immediate = before


def axe_violations(page) -> list[str]:
    page.add_script_tag(path=str(AXE))
    found = page.evaluate(
        """async (tags) => {
            const r = await axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']});
            return r.violations.map(v => `${v.id} (${v.impact}): ${v.help} -> ` +
                v.nodes.map(n => n.target.join(' ')).join(', '));
        }""",
        WCAG_TAGS,
    )
    return found


def check(page, where: str, problems: list[str]) -> None:
    for v in axe_violations(page):
        problems.append(f"{where}: {v}")
    unlabelled = page.evaluate(
        """() => [...document.querySelectorAll('main input, main select, main textarea')]
            .filter(el => el.type !== 'hidden' && !el.closest('[aria-hidden="true"]'))
            .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                          && !el.getAttribute('aria-labelledby'))
            .map(el => el.name || el.id)"""
    )
    for name in unlabelled:
        problems.append(f"{where}: the field {name} has no label")
    if page.evaluate("() => document.documentElement.lang") not in ("en", "pl"):
        problems.append(f"{where}: the page has no language")


def tab_walk(page, where: str, problems: list[str]) -> None:
    """From the top of the page, Tab through: every enabled field of the main form and its submit button are
    reached, each with a visible focus indicator, in document order."""
    expected = page.evaluate(
        """() => {
            const form = document.querySelector('main form');
            const els = [...form.querySelectorAll('input, select, textarea, button[type=submit]')]
              .filter(el => el.type !== 'hidden' && !el.disabled && el.tabIndex >= 0
                            && !el.closest('[aria-hidden="true"]'));
            // one stop per radio group
            const seen = new Set();
            return els.filter(el => {
              if (el.type !== 'radio') return true;
              if (seen.has(el.name)) return false;
              seen.add(el.name); return true;
            }).map(el => el.type === 'radio' ? 'radio:' + el.name : (el.id || el.name || el.type));
        }"""
    )
    page.evaluate("() => { document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0); }")
    page.locator("body").focus()
    reached: list[str] = []
    unfocused: list[str] = []
    shown: set[str] = set()
    for _ in range(len(expected) + 15):
        page.keyboard.press("Tab")
        info = page.evaluate(
            """() => {
                const el = document.activeElement;
                if (!el || el === document.body) return null;
                const s = getComputedStyle(el);
                const visible = (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0) || s.boxShadow !== 'none';
                const key = el.type === 'radio' ? 'radio:' + el.name : (el.id || el.name || el.type || el.tagName);
                return {key, visible, inForm: !!el.closest('main form'),
                        style: `${s.outlineStyle} ${s.outlineWidth} ${s.boxShadow}`};
            }"""
        )
        if info is None:
            continue
        if info["inForm"]:
            if info["key"] not in reached:
                reached.append(info["key"])
            # A date field is several stops (day, month, year): its indicator must show at least once.
            if info["visible"]:
                shown.add(info["key"])
            else:
                unfocused.append(f"{info['key']} ({info['style']})")
        if expected and info["key"] == expected[-1]:
            break
    if reached != expected:
        problems.append(f"{where}: Tab order reached {reached}, expected {expected}")
    never = sorted({u for u in unfocused if u.split(" (")[0] not in shown})
    if never:
        problems.append(f"{where}: no visible focus on {never}")


def test_the_return_pages_pass_axe_and_work_with_the_keyboard(live_server, shop, page):
    base, problems = live_server.url, []
    page.goto(f"{base}/zwrot/")
    check(page, "return: look-up", problems)
    tab_walk(page, "return: look-up", problems)
    page.get_by_label("Order number").fill("A11Y-1")
    page.get_by_label("E-mail address used for the order").fill("someone@example.com")
    page.get_by_role("button", name="Find my order").click()
    page.wait_for_selector("#lookup-error")
    check(page, "return: look-up error", problems)
    page.get_by_label("E-mail address used for the order").fill("anna@example.com")
    page.get_by_role("button", name="Find my order").click()
    page.wait_for_url(f"{base}/zwrot/wybor/")
    check(page, "return: choose", problems)
    tab_walk(page, "return: choose", problems)
    page.get_by_label("Quantity of Kubek to return").fill("1")
    page.get_by_role("button", name="Send the statement of withdrawal").click()
    page.wait_for_selector(".field-error, .error-box")
    check(page, "return: choose error", problems)
    page.get_by_label("I withdraw from the contract for the items selected above.").check()
    page.get_by_role("button", name="Send the statement of withdrawal").click()
    page.wait_for_selector("[data-return-number]")
    check(page, "return: receipt", problems)
    assert problems == [], "\n".join(problems)


def test_the_complaint_pages_pass_axe_and_work_with_the_keyboard(live_server, shop, page, tmp_path):
    base, problems = live_server.url, []
    page.goto(f"{base}/reklamacja/")
    check(page, "complaint: look-up", problems)
    tab_walk(page, "complaint: look-up", problems)
    page.get_by_label("Order number").fill("A11Y-1")
    page.get_by_label("E-mail address used for the order").fill("nobody@example.com")
    page.get_by_role("button", name="Find my order").click()
    page.wait_for_selector("#lookup-error")
    check(page, "complaint: look-up error", problems)
    page.get_by_label("E-mail address used for the order").fill("anna@example.com")
    page.get_by_role("button", name="Find my order").click()
    page.wait_for_url(f"{base}/reklamacja/formularz/")
    check(page, "complaint: form", problems)
    tab_walk(page, "complaint: form", problems)
    # An error state: withdrawal without a statutory reason, and a file that is not a photo.
    page.get_by_label("Talerz (A11Y-B) × 1").check()
    page.get_by_label("Describe the defect").fill("The glaze is cracked")
    page.get_by_label("Withdrawal from the contract (refund)").check()
    bad = tmp_path / "notes.txt"
    bad.write_text("not a photo")
    page.get_by_label("Photos or documents (optional)").set_input_files(str(bad))
    page.get_by_role("button", name="Send the complaint").click()
    page.wait_for_selector("#form-errors")
    check(page, "complaint: form error", problems)
    tab_walk(page, "complaint: form error", problems)
    page.get_by_label("Repair", exact=True).check()
    photo = tmp_path / "crack.png"
    photo.write_bytes(PNG)
    page.get_by_label("Photos or documents (optional)").set_input_files(str(photo))
    page.get_by_role("button", name="Send the complaint").click()
    page.wait_for_selector("[data-complaint-number]")
    check(page, "complaint: receipt", problems)
    assert problems == [], "\n".join(problems)


def test_the_contact_page_passes_axe_and_works_with_the_keyboard(live_server, shop, page):
    base, problems = live_server.url, []
    page.goto(f"{base}/kontakt/")
    check(page, "contact: form", problems)
    tab_walk(page, "contact: form", problems)
    page.get_by_role("button", name="Send").click()
    page.wait_for_selector(".field-error")
    check(page, "contact: form error", problems)
    tab_walk(page, "contact: form error", problems)
    page.get_by_label("Your name").fill("Anna Kowalska")
    page.get_by_label("E-mail address").fill("anna@example.com")
    page.get_by_label("Subject").fill("Parcel")
    page.get_by_label("Message").fill("Where is my parcel?")
    page.get_by_role("button", name="Send").click()
    page.wait_for_selector("[data-ticket-number]")
    check(page, "contact: sent", problems)
    assert problems == [], "\n".join(problems)


def test_the_polish_pages_pass_axe_and_the_language_switch_is_reachable(live_server, shop, page):
    base, problems = live_server.url, []
    page.goto(f"{base}/jezyk/?lang=pl&next=/reklamacja/")
    assert page.evaluate("() => document.documentElement.lang") == "pl"
    check(page, "complaint (pl): look-up", problems)
    page.goto(f"{base}/jezyk/?lang=pl&next=/zwrot/")
    check(page, "return (pl): look-up", problems)
    page.goto(f"{base}/jezyk/?lang=pl&next=/kontakt/")
    check(page, "contact (pl): form", problems)
    english = page.get_by_role("link", name="English")
    english.focus()
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.documentElement.lang === 'en'")
    assert page.url == f"{base}/kontakt/"
    assert problems == [], "\n".join(problems)
