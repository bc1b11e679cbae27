"""Demo traffic consistent with the demo orders: visits whose purchases are the real orders, ~2 % conversion.

from zaplecze.analytics.demo import demo_traffic_generate
demo_traffic_generate(days=30)     # called by `zaplecze demo` (the lead wires it in)
"""

from __future__ import annotations

import datetime as dt
import random

from django.utils import timezone

from . import warehouse
from .services import site_ensure

SOURCES = [
    ("search", "Google", 0.38),
    ("direct", "Direct", 0.22),
    ("social", "Facebook", 0.10),
    ("social", "Instagram", 0.05),
    ("marketplace", "Ceneo", 0.08),
    ("email", "newsletter", 0.07),
    ("paid", "google", 0.07),
    ("other", "blog.example.pl", 0.03),
]
DEVICES = [
    ("mobile", "Mobile Safari", "iOS", 0.3),
    ("mobile", "Chrome Mobile", "Android", 0.3),
    ("desktop", "Chrome", "Windows", 0.3),
    ("desktop", "Firefox", "Linux", 0.1),
]


def _pick(rng: random.Random, table):
    x, acc = rng.random(), 0.0
    for row in table:
        acc += row[-1]
        if x <= acc:
            return row
    return table[-1]


def demo_traffic_generate(
    *, domain: str = "demo-shop.example", days: int = 30, conversion: float = 0.02, seed: int = 5
) -> int:
    """Write demo visits for the orders of the last `days` days (each order is the purchase of one visit)
    plus non-buying visits, so that orders / visits ≈ `conversion`. Returns the number of events."""
    from zaplecze.orders.models import Order

    site = site_ensure(domain=domain)
    rng = random.Random(seed)
    since = timezone.now() - dt.timedelta(days=days)
    orders = list(
        Order.objects.filter(placed_at__gte=since).values_list("number", "placed_at", "total_gross")
    )
    products = [f"/produkt/{i}" for i in range(60)]
    events: list[dict] = []
    n = 0

    def visit(start: dt.datetime, order: tuple | None) -> None:
        nonlocal n
        kind, name, _w = _pick(rng, SOURCES)
        device, browser, os_name, _ = _pick(rng, DEVICES)
        visitor = rng.getrandbits(63)
        campaign = "black-week" if kind in ("email", "paid") and rng.random() < 0.6 else ""
        steps = [("pageview", "/")]
        depth = rng.randint(1, 5)
        for _ in range(depth):
            page = rng.choice(products)
            steps += [("pageview", page), ("product_view", page)]
        if order or rng.random() < 0.12:
            steps.append(("add_to_cart", steps[-1][1]))
            if order or rng.random() < 0.4:
                steps += [("pageview", "/koszyk"), ("begin_checkout", "/koszyk")]
        if order:
            steps.append(("purchase", "/dziekujemy"))
        if rng.random() < 0.45 and not order:
            steps = steps[:1]  # a bounce
        t = start
        for event, path in steps:
            n += 1
            events.append(
                {
                    "event_id": f"demo-{seed}-{n}",
                    "ts": t,
                    "site": site,
                    "event": event,
                    "visitor": visitor,
                    "path": path,
                    "host": site,
                    "source": kind,
                    "source_name": name,
                    "utm_campaign": campaign,
                    "device": device,
                    "browser": browser,
                    "os": os_name,
                    "order_number": str(order[0]).lstrip("#") if order and event == "purchase" else "",
                    "value": order[2] if order and event == "purchase" else None,
                    "origin": "collector",
                    "is_bot": False,
                    "is_static": False,
                }
            )
            t += dt.timedelta(seconds=rng.randint(10, 120))

    for order in orders:
        visit(order[1] - dt.timedelta(minutes=rng.randint(3, 20)), order)
    extra = int(len(orders) / conversion) - len(orders) if orders else 500
    span = days * 86400
    for _ in range(extra):
        visit(since + dt.timedelta(seconds=rng.randint(0, span)), None)
    warehouse.write_events(events, name=f"demo-{seed}")
    warehouse.orders_export()
    return len(events)
