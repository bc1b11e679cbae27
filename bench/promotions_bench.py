"""Benchmark: the pre-launch check and the launch of a campaign over a whole category, and the results of a
campaign over many orders (SQLite).

    python bench/promotions_bench.py [--variants 50000] [--orders 100000]

In a child process with a fresh data dir:
0. setup (not timed): migrate; V products in one category (one variant each, cost price, 3 history
   entries over 120 days, stock for half); O orders over the 120 days before the campaign and during it,
   2 lines each, a third of them on campaign products;
1. `check.campaign_check` of a -20 % campaign on the category: time, rows/s, queries, findings;
2. `services.campaign_launch` (check stored, scheduled) and `services.campaign_start` as the worker runs
   it (promotional and end entries written for every variant): time of each;
3. `results.campaign_results` over the orders: time, queries.

`main(argv)` returns the figures as a dict (bench/run.py).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

QUICK_ARGS = ["--variants", "3000", "--orders", "5000"]
sys.path.insert(0, str(Path(__file__).resolve().parent))


def _child(n_variants: int, n_orders: int) -> dict:
    from zaplecze.cli import setup_django

    setup_django()
    import datetime as dt
    import random
    from decimal import Decimal

    from django.core.management import call_command
    from django.db import connection, reset_queries
    from django.utils import timezone

    call_command("migrate", interactive=False, verbosity=0)
    from shipping_bench import _rss_peak_mb, _rss_reset

    from zaplecze.catalog.models import Category, PriceChange, Product, Variant
    from zaplecze.inventory.models import StockLevel
    from zaplecze.inventory.services import warehouse_default
    from zaplecze.orders.models import Channel, Customer, Order, OrderLine, OrderStatus
    from zaplecze.promotions import check, services

    rnd = random.Random(7)
    now = timezone.now()
    t0 = time.perf_counter()
    cat = Category.objects.create(name="Bench", slug="bench")
    other = Category.objects.create(name="Other", slug="other")
    wh = warehouse_default()
    batch = 5000
    for start in range(0, n_variants + n_variants // 10, batch):
        count = min(batch, n_variants + n_variants // 10 - start)
        products = Product.objects.bulk_create(
            [
                Product(
                    name=f"Bench product {start + i}",
                    category=cat if start + i < n_variants else other,
                    created_at=now - dt.timedelta(days=200),
                )
                for i in range(count)
            ]
        )
        variants = Variant.objects.bulk_create(
            [
                Variant(
                    product=p,
                    sku=f"P-{start + i:07d}",
                    name=p.name,
                    price=Decimal("100.00"),
                    cost_price=Decimal(rnd.choice(["40.00", "55.00", "70.00"])),
                )
                for i, p in enumerate(products)
            ]
        )
        rows, levels = [], []
        for i, v in enumerate(variants):
            for k, price in enumerate(("100.00", "95.00" if i % 4 == 0 else "100.00", "100.00")):
                rows.append(
                    PriceChange(
                        variant=v,
                        price=Decimal(price),
                        effective_from=now - dt.timedelta(days=120 - k * 50),
                        source="bench",
                    )
                )
            if i % 2 == 0:
                levels.append(StockLevel(variant=v, warehouse=wh, on_hand=5, reserved=0))
        PriceChange.objects.bulk_create(rows, batch_size=5000)
        StockLevel.objects.bulk_create(levels, batch_size=5000)
    # orders: 120 days before the campaign + 7 days of campaign (placed in the future of the campaign start)
    channel, _ = Channel.objects.get_or_create(code="shop", defaults={"name": "Shop"})
    status = OrderStatus.objects.order_by("position").first()
    customers = Customer.objects.bulk_create(
        [Customer(name=f"C{i}", email=f"c{i}@x.pl") for i in range(n_orders // 3 + 1)]
    )
    ids = list(Variant.objects.order_by("pk").values_list("pk", "sku"))
    in_campaign, outside = ids[:n_variants], ids[n_variants:]
    camp_start = now + dt.timedelta(minutes=1)
    span = 127 * 86400
    for start in range(0, n_orders, batch):
        count = min(batch, n_orders - start)
        orders = Order.objects.bulk_create(
            [
                Order(
                    channel=channel,
                    external_id=f"B{start + i}",
                    number=f"B{start + i}",
                    status=status,
                    stage=status.stage,
                    customer=rnd.choice(customers),
                    total_net=Decimal("150.00"),
                    total_vat=Decimal("34.50"),
                    total_gross=Decimal("184.50"),
                    placed_at=camp_start - dt.timedelta(days=120) + dt.timedelta(seconds=rnd.randrange(span)),
                )
                for i in range(count)
            ]
        )
        lines = []
        for o in orders:
            for pos in range(2):
                vid, sku = rnd.choice(
                    in_campaign if (pos == 0 and rnd.random() < 0.34) else outside or in_campaign
                )
                lines.append(
                    OrderLine(
                        order=o,
                        position=pos,
                        variant_id=vid,
                        sku=sku,
                        name=sku,
                        quantity=1,
                        unit_price_gross=Decimal("92.25"),
                        total_net=Decimal("75.00"),
                        total_gross=Decimal("92.25"),
                    )
                )
        OrderLine.objects.bulk_create(lines, batch_size=5000)
    setup_seconds = time.perf_counter() - t0

    campaign = services.campaign_create(
        data={
            "name": "Bench -20 %",
            "kind": "price",
            "value_type": "percent",
            "value": "20",
            "min_margin_percent": "10",
            "start": camp_start,
            "end": camp_start + dt.timedelta(days=7),
        },
        targets=[{"kind": "category", "category_id": cat.pk}],
        actor=None,
    )
    _rss_reset()
    connection.force_debug_cursor = True
    reset_queries()
    t0 = time.perf_counter()
    result = check.campaign_check(campaign)
    check_s = time.perf_counter() - t0
    queries = len(connection.queries)
    connection.force_debug_cursor = False
    summary = result.summary()
    out_check = {
        "rows": len(result.rows),
        "seconds": check_s,
        "rows_per_second": len(result.rows) / check_s if check_s else None,
        "queries": queries,
        "peak_rss_mb": _rss_peak_mb(),
        "errors": summary["errors"],
        "warnings": summary["warnings"],
        "by_code": summary["by_code"],
    }
    assert len(result.rows) == n_variants, len(result.rows)

    Campaign = type(campaign)
    Campaign.objects.filter(pk=campaign.pk).update(start=now - dt.timedelta(seconds=1))
    t0 = time.perf_counter()
    services.campaign_launch(
        campaign_id=campaign.pk, actor=None, override_reason="benchmark: below-cost rows accepted"
    )
    launch_s = time.perf_counter() - t0
    # a campaign this big is written by the worker (campaign_start), not in the launch request
    t0 = time.perf_counter()
    services.campaign_start(campaign_id=campaign.pk)
    start_s = time.perf_counter() - t0
    campaign.refresh_from_db()
    written = PriceChange.objects.filter(source=services.source_of(campaign)).count()
    out_launch = {
        "seconds": launch_s,
        "start_seconds": start_s,
        "status": campaign.status,
        "entries_written": written,
    }

    out_results = None
    try:
        from zaplecze.promotions import results

        Campaign.objects.filter(pk=campaign.pk).update(start=camp_start)
        campaign.refresh_from_db()
        connection.force_debug_cursor = True
        reset_queries()
        t0 = time.perf_counter()
        res = results.campaign_results(campaign, now=campaign.end, traffic=False)
        res_s = time.perf_counter() - t0
        out_results = {
            "orders": n_orders,
            "seconds": res_s,
            "queries": len(connection.queries),
            "campaign_orders": res["actual"]["orders"],
        }
        connection.force_debug_cursor = False
    except ImportError:
        pass
    return {"setup_seconds": setup_seconds, "check": out_check, "launch": out_launch, "results": out_results}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description="Promotions: pre-launch check, launch and results")
    parser.add_argument("--variants", type=int, default=50_000)
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        out = _child(args.variants, args.orders)
        print(json.dumps(out, default=str))
        return out
    tmp = Path(tempfile.mkdtemp(prefix="zaplecze-bench-promo-"))
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ZAPLECZE_")}
        env.update(
            {
                "ZAPLECZE_DATA_DIR": str(tmp / "data"),
                "DJANGO_SETTINGS_MODULE": "zaplecze.settings",
                "ZAPLECZE_LOG_LEVEL": "WARNING",
                "ZAPLECZE_DEMO": "0",
            }
        )
        cmd = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--child",
            "--variants",
            str(args.variants),
            "--orders",
            str(args.orders),
        ]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        if proc.stderr:
            sys.stderr.write(proc.stderr[-5000:])
        if proc.returncode != 0:
            raise RuntimeError(f"bench child failed with exit code {proc.returncode}")
        out = json.loads(proc.stdout.strip().splitlines()[-1])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    c, la, r = out["check"], out["launch"], out["results"]
    print(
        f"pre-launch check of {c['rows']:,} variants: {c['seconds']:.2f} s ({c['rows_per_second']:,.0f}/s), "
        f"{c['queries']} queries, peak RSS {c['peak_rss_mb']:.0f} MB; {c['errors']:,} with errors, "
        f"{c['warnings']:,} with warnings {c['by_code']}"
    )
    print(
        f"launch (check stored, scheduled): {la['seconds']:.2f} s; start by the worker "
        f"({la['entries_written']:,} price entries): {la['start_seconds']:.2f} s -> {la['status']}"
    )
    if r:
        print(
            f"results over {r['orders']:,} orders: {r['seconds']:.2f} s, {r['queries']} queries "
            f"({r['campaign_orders']:,} campaign orders)"
        )
    return out


if __name__ == "__main__":
    main()
