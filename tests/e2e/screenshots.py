"""Screenshots of the UI for the README (not a test; pytest does not collect this file).

1. Fill a database with a demo shop (the demo generator when it is there, else a small built-in one):
       ZAPLECZE_DATA_DIR=/tmp/zshots .venv/bin/python tests/e2e/screenshots.py seed --orders 600
2. Start the app on it (e.g. `ZAPLECZE_DATA_DIR=/tmp/zshots .venv/bin/zaplecze serve --port 8765`).
3. Take the pictures with Debian's Chromium:
       .venv/bin/python tests/e2e/screenshots.py shoot --base-url http://127.0.0.1:8765 \
           --username admin --password ... --out docs/screenshots
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import sys
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
EXTRA_PAGES = [
    ("stock-ledger", "/stock/ledger/"),
    ("reorder", "/purchasing/reorder/"),
    ("picklists", "/fulfilment/"),
    ("automation", "/orders/settings/automation/"),
    ("traffic", "/analytics/"),
    ("products", "/products/"),
    ("product", "/products/1/"),
    ("catalog-audit", "/products/audit/"),
    ("feeds", "/products/feeds/"),
    ("reports", "/reports/"),
    ("process", "/reports/process/"),
    ("customers", "/reports/customers/"),
    ("integrations", "/integrations/"),
    ("insights", "/reports/insights/"),
    ("monitoring", "/monitoring/"),
    ("promotions-calendar", "/promotions/calendar/"),
]
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

FIRST = [
    "Anna",
    "Piotr",
    "Katarzyna",
    "Tomasz",
    "Magdalena",
    "Michał",
    "Agnieszka",
    "Krzysztof",
    "Joanna",
    "Paweł",
    "Ewa",
    "Marcin",
    "Aleksandra",
    "Jakub",
    "Monika",
    "Łukasz",
    "Natalia",
    "Grzegorz",
    "Zofia",
    "Adam",
]
LAST = [
    "Nowak",
    "Kowalska",
    "Wiśniewski",
    "Wójcik",
    "Kowalczyk",
    "Kamińska",
    "Lewandowski",
    "Zielińska",
    "Szymański",
    "Woźniak",
    "Dąbrowska",
    "Kozłowski",
    "Jankowska",
    "Mazur",
    "Kwiatkowski",
    "Krawczyk",
]
CITIES = [
    ("Kraków", "30"),
    ("Warszawa", "00"),
    ("Gdańsk", "80"),
    ("Wrocław", "50"),
    ("Poznań", "60"),
    ("Łódź", "90"),
    ("Lublin", "20"),
    ("Katowice", "40"),
    ("Szczecin", "70"),
    ("Białystok", "15"),
]
STREETS = [
    "ul. Długa",
    "ul. Polna",
    "ul. Leśna",
    "ul. Słoneczna",
    "ul. Krótka",
    "ul. Szkolna",
    "ul. Ogrodowa",
]
PRODUCTS = [
    ("Kubek ceramiczny", "39.99"),
    ("Dzbanek 1,5 l", "89.00"),
    ("Talerz płaski", "24.90"),
    ("Miska do sałatek", "59.00"),
    ("Zestaw sztućców", "149.00"),
    ("Deska do krojenia", "69.90"),
    ("Nóż szefa kuchni", "229.00"),
    ("Patelnia 28 cm", "189.00"),
    ("Garnek 5 l", "249.00"),
    ("Młynek do kawy", "139.00"),
    ("Kawiarka 6 filiżanek", "119.00"),
    ("Pojemnik na chleb", "99.00"),
    ("Ściereczki lniane 3 szt.", "45.00"),
    ("Fartuch kuchenny", "79.00"),
    ("Formy do muffinek", "35.00"),
    ("Waga kuchenna", "89.90"),
    ("Termos 0,75 l", "129.00"),
    ("Karafka szklana", "74.00"),
    ("Szklanki 6 szt.", "64.90"),
    ("Podkładki korkowe", "29.90"),
]
CHANNEL_WEIGHTS = [("shop", 45), ("allegro", 35), ("amazon", 9), ("manual", 6), ("ebay", 5)]


def _setup_django() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "zaplecze.settings")
    import django

    django.setup()


def _weighted(rng: random.Random, pairs):
    return rng.choices([p[0] for p in pairs], weights=[p[1] for p in pairs])[0]


def seed_small(orders: int, days: int, seed: int) -> None:
    """A small demo shop through the real services (used when the demo generator is not available)."""
    from django.utils import timezone

    from zaplecze.catalog.services import product_create
    from zaplecze.inventory.services import stock_adjust, warehouse_default
    from zaplecze.orders.schemas import OrderIn
    from zaplecze.orders.services import ingest_order, order_tags_change

    rng = random.Random(seed)
    warehouse = warehouse_default()
    variants = []
    for i, (name, price) in enumerate(PRODUCTS, 1):
        product = product_create(
            name=name, variants=[{"sku": f"KUCH-{i:03d}", "price": price, "vat_rate": "23"}]
        )
        variant = product.variants.get()
        stock_adjust(
            variant=variant,
            warehouse=warehouse,
            delta=rng.randint(5, 400),
            kind="receipt",
            reason="demo stock",
        )
        variants.append(variant)
    now = timezone.now()
    attention_ids = []
    for n in range(orders):
        age = dt.timedelta(days=days) * (rng.random() ** 1.6)  # more orders recently
        placed = now - age
        channel = _weighted(rng, CHANNEL_WEIGHTS)
        first, last = rng.choice(FIRST), rng.choice(LAST)
        city, prefix = rng.choice(CITIES)
        lines = []
        for variant in rng.sample(variants, k=rng.choice([1, 1, 1, 2, 2, 3])):
            lines.append(
                {
                    "sku": variant.sku,
                    "quantity": rng.choice([1, 1, 1, 2, 3]),
                    "unit_price_gross": str(variant.price),
                    "vat_rate": "23",
                }
            )
        if rng.random() < 0.02:
            lines.append(
                {
                    "sku": f"OLD-{rng.randint(100, 999)}",
                    "name": "Produkt wycofany",
                    "quantity": 1,
                    "unit_price_gross": "19.99",
                }
            )
        payment = _weighted(
            rng,
            [("online", 35), ("blik", 20), ("cod", 18), ("card", 12), ("transfer", 10), ("marketplace", 5)],
        )
        if channel == "allegro":
            payment = "marketplace" if rng.random() < 0.7 else payment
        hours = age.total_seconds() / 3600
        if rng.random() < 0.04:
            stage = "cancelled"
        elif hours < 20:
            stage = _weighted(rng, [("new", 2), ("awaiting_payment", 2), ("ready", 5), ("in_fulfilment", 2)])
        elif hours < 50:
            stage = _weighted(rng, [("ready", 2), ("in_fulfilment", 2), ("shipped", 6)])
        elif hours < 24 * 6:
            stage = _weighted(rng, [("ready", 1), ("shipped", 5), ("delivered", 14)])
        else:
            stage = _weighted(rng, [("delivered", 5), ("completed", 14), ("returned", 1)])
        if stage == "awaiting_payment":
            payment = "transfer"
        paid = stage not in ("new", "awaiting_payment") and payment != "cod"
        delivery = _weighted(
            rng,
            [
                ("inpost_locker", 55),
                ("inpost_courier", 12),
                ("dpd", 12),
                ("poczta", 6),
                ("orlen", 8),
                ("pickup", 2),
                ("dhl", 5),
            ],
        )
        data = {
            "channel": channel,
            "external_id": f"{channel[:2].upper()}-{100000 + n}",
            "number": f"{'ZA' if channel == 'shop' else channel[:2].upper()}/{placed:%y}/{10000 + n}",
            "stage": stage,
            "placed_at": placed.isoformat(),
            "customer_name": f"{first} {last}",
            "email": f"{first.lower()}.{n}@example.pl".encode("ascii", "ignore").decode(),
            "phone": f"+48 6{rng.randint(10, 99)} {rng.randint(100, 999)} {rng.randint(100, 999)}",
            "payment_method": payment,
            "payment_status": "paid" if paid else ("cod" if payment == "cod" else "unpaid"),
            "paid_at": placed.isoformat() if paid else None,
            "delivery_method": delivery,
            "pickup_point": f"{city[:3].upper()}{rng.randint(10, 99)}M"
            if delivery == "inpost_locker"
            else "",
            "shipping_cost": "0.00"
            if rng.random() < 0.2
            else rng.choice(["9.99", "12.99", "14.99", "16.90"]),
            "shipping_address": {
                "name": f"{first} {last}",
                "street": f"{rng.choice(STREETS)} {rng.randint(1, 80)}",
                "postcode": f"{prefix}-{rng.randint(100, 999)}",
                "city": city,
                "country": "PL",
            },
            "lines": lines,
        }
        if rng.random() < 0.05:
            data["tags"] = [rng.choice(["VIP", "prezent", "pilne", "reklamacja"])]
        result = ingest_order(OrderIn.model_validate(data), source="demo")
        if result.order.needs_attention:
            attention_ids.append(result.order.pk)
    if attention_ids:
        order_tags_change(order_ids=attention_ids[:5], add=["sprawdzić"], actor=None)
    print(f"seeded {orders} orders ({len(attention_ids)} need attention)")


def seed(orders: int, days: int, seed_value: int) -> None:
    _setup_django()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    try:
        from zaplecze.demo import build_demo  # the full demo shop, when it exists
    except ImportError:
        build_demo = None
    if build_demo is not None:
        build_demo(orders=orders, days=days, seed=seed_value)
        print(f"demo shop built: {orders} orders")
        _catalog_extras()
    else:
        seed_small(orders, days, seed_value)
    from zaplecze.core.models import User
    from zaplecze.core.services import user_create

    if not User.objects.filter(username="admin").exists():
        _, password = user_create(
            username="admin", password=os.environ.get("ZAPLECZE_ADMIN_PASSWORD"), role="admin", validate=False
        )
        print(f"admin password: {password}")
    _later_extras(User.objects.get(username="admin"))


def _later_extras(admin) -> None:
    """Promotions in the calendar (two of them clashing), the morning's insights, and Today looked at again."""
    import datetime as dt

    from django.utils import timezone

    from zaplecze.catalog.models import Category

    now = timezone.now().replace(minute=0, second=0, microsecond=0)
    try:
        from zaplecze.promotions.services import campaign_create
    except ImportError:
        campaign_create = None
    category = Category.objects.order_by("id").first()
    if campaign_create is not None and category is not None:
        targets = [{"kind": "category", "category_id": category.pk}]
        campaign_create(
            data={"name": "Black Week", "kind": "price", "value_type": "percent", "value": "20",
                  "start": now - dt.timedelta(days=1), "end": now + dt.timedelta(days=5), "utm_campaign": "black-week"},
            targets=targets, actor=admin,
        )  # fmt: skip
        campaign_create(
            data={"name": "Weekend -15%", "kind": "price", "value_type": "percent", "value": "15",
                  "start": now + dt.timedelta(days=1), "end": now + dt.timedelta(days=3)},
            targets=targets, actor=admin,
        )  # fmt: skip
        campaign_create(
            data={"name": "Free shipping over 199 PLN", "kind": "free_shipping", "threshold": "199",
                  "start": now + dt.timedelta(days=8), "end": now + dt.timedelta(days=15)},
            targets=[], actor=admin,
        )  # fmt: skip
    try:
        from zaplecze.core.businesstime import local_today
        from zaplecze.reports.insights_services import insights_refresh

        insights_refresh(local_today())
    except ImportError:
        pass
    try:
        from zaplecze.today.services import exceptions_refresh

        exceptions_refresh()
    except ImportError:
        pass


def _catalog_extras() -> None:
    """The catalog screens look as they do in a shop that uses them: audited, with a Google feed built."""
    try:
        from zaplecze.catalog.audit import audit_run
        from zaplecze.catalog.feeds import feed_build, feed_create
    except ImportError:
        return
    audit_run()
    feed = feed_create(
        data={
            "kind": "google",
            "name": "Google Merchant Center",
            "link_template": "https://sklep.example.pl/p/{sku}",
        }
    )
    feed_build(feed_id=feed.pk)


def shoot(base_url: str, username: str, password: str, out: Path, language: str) -> None:
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(
            viewport={"width": 1440, "height": 900},
            device_scale_factor=1,
            locale="pl-PL" if language == "pl" else "en-GB",
        )
        page.goto(f"{base_url}/login/")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", password)
        page.click("button[type=submit]")
        page.wait_for_url(f"{base_url}/today/")
        page.screenshot(path=str(out / "today.png"), full_page=False)
        page.goto(f"{base_url}/dashboard/")
        page.wait_for_selector("#chart-daily-target[data-ready='1'] svg", timeout=20_000)
        page.screenshot(path=str(out / "dashboard.png"), full_page=True)
        page.goto(f"{base_url}/orders/")
        page.screenshot(path=str(out / "queue.png"))
        # An order with some history behind it.
        page.goto(f"{base_url}/orders/?stage=delivered")
        page.locator("table.queue tbody tr a.strong").first.click()
        page.wait_for_selector("[data-timeline]")
        page.screenshot(path=str(out / "order.png"), full_page=True)
        # One picture per area of the later modules (each skipped when the page is not there).
        for name, url in EXTRA_PAGES:
            response = page.goto(f"{base_url}{url}")
            if response is not None and response.ok:
                page.wait_for_timeout(800)  # charts render after load
                page.screenshot(path=str(out / f"{name}.png"))
        browser.close()
    print(f"screenshots written to {out}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("seed", help="fill the database of ZAPLECZE_DATA_DIR / ZAPLECZE_DATABASE_URL")
    s.add_argument("--orders", type=int, default=600)
    s.add_argument("--days", type=int, default=60)
    s.add_argument("--seed", type=int, default=7)
    t = sub.add_parser("shoot", help="take the screenshots from a running server")
    t.add_argument("--base-url", default="http://127.0.0.1:8000")
    t.add_argument("--username", default="admin")
    t.add_argument("--password", default=os.environ.get("ZAPLECZE_ADMIN_PASSWORD", ""))
    t.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    t.add_argument("--language", choices=["pl", "en"], default="pl")
    args = parser.parse_args()
    if args.cmd == "seed":
        seed(args.orders, args.days, args.seed)
    else:
        if not Path(CHROMIUM).exists():
            sys.exit(f"{CHROMIUM} is missing (apt-get install chromium)")
        shoot(args.base_url.rstrip("/"), args.username, args.password, args.out, args.language)


if __name__ == "__main__":
    main()
