"""Benchmark: generating a pick list for many orders on SQLite.

    python bench/fulfilment_bench.py [--orders 500] [--lines 3] [--skus 300] [--bins 200]

In a child process with a fresh SQLite database (temp ZAPLECZE_DATA_DIR):
1. setup (not timed): migrate; one warehouse with BINS bins; SKUS products, each with stock and a pick bin
   (every 25th has none, to exercise "no location"); ORDERS paid orders with LINES lines each (distinct SKUs
   picked at random, 1-3 units) through the batch intake, so their stock is reserved;
2. timed: `fulfilment.services.picklist_create` for all the orders (validation, the document, its entries);
3. timed: building the pick sheet (`selectors.picklist_sheet`: lines, reservations, bins, grouping by bin
   with totals per SKU and the orders that need each);
4. timed: rendering the printable PDF with WeasyPrint (`pdf.picklist_pdf`).
Prints each time, the PDF's pages and size, and the child's peak RSS (ru_maxrss: the whole process, Django
and WeasyPrint included).

`main(argv)` returns the figures as a dict (for bench/run.py).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

QUICK_ARGS = ["--orders", "50"]


def _child(n: int, lines: int, skus: int, bins: int) -> dict:
    import resource

    from zaplecze.cli import setup_django

    setup_django()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    from django.utils import timezone

    from zaplecze.catalog.services import product_create
    from zaplecze.fulfilment import pdf, selectors, services
    from zaplecze.inventory.models import Location, StockLevel
    from zaplecze.inventory.services import stock_adjust, warehouse_default
    from zaplecze.orders.models import Order
    from zaplecze.orders.schemas import OrderIn
    from zaplecze.orders.services import ingest_orders_batch
    from zaplecze.shipping.pdfmerge import page_count

    rng = random.Random(42)
    t0 = time.perf_counter()
    wh = warehouse_default()
    locations = Location.objects.bulk_create(
        [
            Location(warehouse=wh, code=f"{chr(65 + i // 50)}-{i % 50 + 1:02d}", sort_order=i)
            for i in range(bins)
        ]
    )
    locations = list(Location.objects.filter(warehouse=wh).order_by("sort_order"))
    for k in range(skus):
        product = product_create(
            name=f"Produkt {k}", variants=[{"sku": f"SKU-{k:05d}", "price": "19.99", "ean": ""}]
        )
        variant = product.variants.get()
        stock_adjust(variant=variant, warehouse=wh, delta=10 * n, kind="receipt", reason="bench")
        if k % 25:
            StockLevel.objects.filter(variant=variant, warehouse=wh).update(location=locations[k % bins])
    placed = timezone.now() - dt.timedelta(hours=5)
    for start in range(0, n, 500):
        items = [
            OrderIn.model_validate(
                {
                    "channel": "shop",
                    "external_id": f"P{i}",
                    "number": f"#P{i}",
                    "placed_at": placed.isoformat(),
                    "paid_at": placed.isoformat(),
                    "payment_method": "card",
                    "payment_status": "paid",
                    "delivery_method": "inpost_locker",
                    "pickup_point": "KRA010",
                    "email": f"c{i}@example.com",
                    "lines": [
                        {"sku": f"SKU-{s:05d}", "quantity": rng.randint(1, 3), "unit_price_gross": "19.99"}
                        for s in rng.sample(range(skus), lines)
                    ],
                }
            )
            for i in range(start, min(n, start + 500))
        ]
        ingest_orders_batch(items, source="bench")
    ids = list(Order.objects.order_by("pk").values_list("pk", flat=True))
    setup_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    pick_list = services.picklist_create(order_ids=ids, actor=None)
    create_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    sheet = selectors.picklist_sheet(pick_list)
    sheet_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    data = pdf.picklist_pdf(pick_list, sheet)
    pdf_s = time.perf_counter() - t0
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "orders": len(sheet.orders),
        "order_lines": sum(o.lines for o in sheet.orders),
        "units": sheet.units,
        "bins_used": len(sheet.groups),
        "rows": sheet.rows,
        "setup_seconds": setup_s,
        "create_seconds": create_s,
        "sheet_seconds": sheet_s,
        "pdf_seconds": pdf_s,
        "total_seconds": create_s + sheet_s + pdf_s,
        "pdf_pages": page_count(data),
        "pdf_kb": len(data) / 1024,
        "peak_rss_mb": rss_kb / 1024,
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description="Pick list benchmark (SQLite)")
    parser.add_argument("--orders", type=int, default=500)
    parser.add_argument("--lines", type=int, default=3, help="lines per order")
    parser.add_argument("--skus", type=int, default=300)
    parser.add_argument("--bins", type=int, default=200)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        out = _child(args.orders, args.lines, args.skus, args.bins)
        print(json.dumps(out))
        return out
    tmp = Path(tempfile.mkdtemp(prefix="zaplecze-bench-fulfilment-"))
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
        cmd = [sys.executable, str(Path(__file__).resolve()), "--child"]
        cmd += ["--orders", str(args.orders), "--lines", str(args.lines), "--skus", str(args.skus)]
        cmd += ["--bins", str(args.bins)]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        if proc.stderr:
            sys.stderr.write(proc.stderr[-5000:])
        if proc.returncode != 0:
            raise RuntimeError(f"bench child failed with exit code {proc.returncode}")
        out = json.loads(proc.stdout.strip().splitlines()[-1])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(
        f"pick list: {out['orders']:,} orders, {out['order_lines']:,} lines, {out['units']:,} units in "
        f"{out['bins_used']} bins ({out['rows']:,} rows): document {out['create_seconds']:.2f} s, "
        f"sheet {out['sheet_seconds']:.2f} s, PDF {out['pdf_seconds']:.1f} s ({out['pdf_pages']} pages, "
        f"{out['pdf_kb']:.0f} KB); total {out['total_seconds']:.1f} s; peak RSS {out['peak_rss_mb']:.0f} MB "
        f"(setup {out['setup_seconds']:.1f} s)"
    )
    return out


if __name__ == "__main__":
    main()
