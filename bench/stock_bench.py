"""Benchmark: reserving and issuing stock for 100,000 order lines (SQLite by default, or PostgreSQL).

    python bench/stock_bench.py [--lines 100000] [--service-lines 100000] [--variants 300] [--pg]

In a child process with a fresh database (a temp ZAPLECZE_DATA_DIR; with --pg or
ZAPLECZE_DATABASE_URL=postgresql://... a scratch database `<name>_stock_bench` created and dropped):
0. setup (not timed): migrate; V products with one variant each and enough stock in the default warehouse.
1. "reserve, one call per line": `inventory.services.stock_reserve` for each of S lines (1-3 units, variants
   in turn), four lines per transaction as `ingest_order` reserves an order's lines;
2. "issue, one call per line": `stock_issue` for each of those lines, four per transaction as one order's
   lines are issued by `order_transition`;
3. "intake (reserve at intake)": the order path -- L lines as L/4 paid orders through
   `orders.services.ingest_orders_batch` (the import's and the demo's way in), which reserves every line with
   conditional UPDATEs;
4. "ship (issue at shipment)": all those orders moved to the shipped stage with
   `orders.services.order_bulk_transition` (the queue's bulk status change; also how orders follow their
   shipments), which issues their stock with `inventory.services.stock_issue_many`.
Each phase prints time, lines/s and its own peak RSS (VmHWM, reset before each phase; the whole process,
Django included). At the end the ledger is checked: no reservation left active, nothing reserved, on hand =
received - issued for every variant, one 'sale' movement per line, every movement's on_hand_after
consistent with the level, and every order shipped.

`main(argv)` returns the figures as a dict (for bench/run.py).
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

QUICK_ARGS = ["--lines", "4000", "--service-lines", "2000", "--variants", "50", "--file-rows", "500"]
LINES_PER_ORDER = 4
sys.path.insert(0, str(Path(__file__).resolve().parent))


def _phase(name: str, lines: int, fn) -> dict:
    from shipping_bench import _rss_peak_mb, _rss_reset

    _rss_reset()
    t0, c0 = time.perf_counter(), time.process_time()
    fn()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {
        "phase": name,
        "lines": lines,
        "seconds": wall,
        "cpu_seconds": cpu,
        "lines_per_second": lines / wall if wall else None,
        "peak_rss_mb": _rss_peak_mb(),
    }


def _child(lines: int, service_lines: int, n_variants: int, file_rows: int) -> dict:
    from zaplecze.cli import setup_django

    setup_django()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    import datetime as dt

    from django.db import connection, transaction
    from django.db.models import Count, Sum
    from django.utils import timezone

    from zaplecze.catalog.services import product_create
    from zaplecze.inventory.models import Reservation, StockLevel, StockMovement
    from zaplecze.inventory.services import stock_adjust, stock_issue, stock_reserve, warehouse_default
    from zaplecze.orders.models import Order, Stage
    from zaplecze.orders.schemas import OrderIn
    from zaplecze.orders.services import ingest_orders_batch, order_bulk_transition, status_for

    t0 = time.perf_counter()
    warehouse = warehouse_default()
    variants = []
    per_variant = 3 * (lines + service_lines) // n_variants + 10
    received: dict[int, int] = {}
    for i in range(n_variants):
        product = product_create(name=f"Produkt {i}", variants=[{"sku": f"STK-{i:05d}", "price": "9.99"}])
        variant = product.variants.get()
        stock_adjust(variant=variant, warehouse=warehouse, delta=per_variant, kind="receipt", reason="bench")
        variants.append(variant)
        received[variant.pk] = per_variant
    setup_s = time.perf_counter() - t0
    phases = []

    # 1-2: the stock services, one call per line
    refs = [(f"bench-line:{i}", variants[i % n_variants].pk, 1 + i % 3) for i in range(service_lines)]
    short = 0

    def reserve() -> None:
        nonlocal short
        for start in range(0, len(refs), LINES_PER_ORDER):
            with transaction.atomic():
                for ref, variant_id, qty in refs[start : start + LINES_PER_ORDER]:
                    short += stock_reserve(variant_id=variant_id, quantity=qty, reference=ref).short

    def issue() -> None:
        for start in range(0, len(refs), LINES_PER_ORDER):
            with transaction.atomic():
                for ref, _variant_id, _qty in refs[start : start + LINES_PER_ORDER]:
                    stock_issue(reference=ref, note="bench")

    if refs:
        phases.append(_phase("reserve, one stock_reserve call per line", len(refs), reserve))
        phases.append(_phase("issue, one stock_issue call per line", len(refs), issue))

    # 3-4: the order path
    placed = timezone.now() - dt.timedelta(days=1)
    n_orders = lines // LINES_PER_ORDER
    items = [
        OrderIn.model_validate(
            {
                "channel": "shop",
                "external_id": f"S{o}",
                "number": f"#S{o}",
                "placed_at": placed.isoformat(),
                "paid_at": placed.isoformat(),
                "payment_method": "card",
                "payment_status": "paid",
                "email": f"k{o % 5000}@example.com",
                "lines": [
                    {
                        "sku": variants[(o * LINES_PER_ORDER + k) % n_variants].sku,
                        "quantity": 1 + (o + k) % 3,
                        "unit_price_gross": "9.99",
                    }
                    for k in range(LINES_PER_ORDER)
                ],
            }
        )
        for o in range(n_orders)
    ]
    order_lines = n_orders * LINES_PER_ORDER
    intake_failed = 0

    def intake() -> None:
        nonlocal intake_failed
        for start in range(0, len(items), 1000):
            for r in ingest_orders_batch(items[start : start + 1000], source="bench"):
                intake_failed += not hasattr(r, "outcome")

    phases.append(
        _phase("intake: orders through ingest_orders_batch (reserve at intake)", order_lines, intake)
    )
    shipped_code = status_for(stage=Stage.SHIPPED).code
    order_ids = list(Order.objects.order_by("pk").values_list("pk", flat=True))
    ship_failed = 0

    def ship() -> None:
        nonlocal ship_failed
        for start in range(0, len(order_ids), 2000):
            result = order_bulk_transition(
                order_ids=order_ids[start : start + 2000], status_code=shipped_code, actor=None
            )
            ship_failed += len(result.failed)

    phases.append(_phase("ship: order_bulk_transition to shipped (issue at shipment)", order_lines, ship))

    # 5-6: a stock file of F rows (mode "set") through `stock_import_file`, which applies it as one set
    # (`stock_adjust_many`); beside it, the same number of changes as one `stock_adjust` per row (the way
    # the file import went before), on a second set of variants.
    from zaplecze.catalog.models import Product, Variant
    from zaplecze.inventory.services import stock_import_file

    def file_variants(prefix: str) -> list:
        products = Product.objects.bulk_create([Product(name=f"{prefix} {i}") for i in range(file_rows)])
        return Variant.objects.bulk_create(
            [
                Variant(product=p, sku=f"{prefix}-{i:06d}", name=p.name, price="9.99")
                for i, p in enumerate(products)
            ]
        )

    set_variants, loop_variants = file_variants("FILE"), file_variants("LOOP")
    sheet = "sku;quantity\n" + "".join(f"{v.sku};{7 + i % 5}\n" for i, v in enumerate(set_variants))
    file_report = {}

    def import_file() -> None:
        report = stock_import_file(data=sheet.encode(), filename="bench.csv", warehouse=warehouse, mode="set")
        file_report.update(changed=report.changed, errors=len(report.errors), applied=report.applied)

    def adjust_loop() -> None:
        for i, v in enumerate(loop_variants):
            stock_adjust(variant=v, warehouse=warehouse, delta=7 + i % 5, reason="bench")

    phases.append(_phase("stock file import, set mode (one set)", file_rows, import_file))
    phases.append(_phase("the same as one stock_adjust per row", file_rows, adjust_loop))
    for group in (set_variants, loop_variants):
        received.update({v.pk: 7 + i % 5 for i, v in enumerate(group)})

    # the ledger after it all
    issued = dict(
        StockMovement.objects.filter(kind="sale").values_list("variant_id").annotate(n=Sum("quantity"))
    )
    levels = {
        v: (on_hand, reserved)
        for v, on_hand, reserved in StockLevel.objects.values_list("variant_id", "on_hand", "reserved")
    }
    problems = []
    if Reservation.objects.filter(state="active").exists():
        problems.append("active reservations left")
    for vid, got in received.items():
        on_hand, reserved = levels[vid]
        if reserved != 0 or on_hand != got + issued.get(vid, 0):
            problems.append(f"variant {vid}: on hand {on_hand}, reserved {reserved}")
    sales = StockMovement.objects.filter(kind="sale").count()
    if sales != len(refs) + order_lines:
        problems.append(f"{sales} sale movements for {len(refs) + order_lines} lines")
    last = {}
    for vid, after in StockMovement.objects.order_by("at", "id").values_list("variant_id", "on_hand_after"):
        last[vid] = after
    if any(last[v] != levels[v][0] for v in last):
        problems.append("a level's last movement does not show its on-hand figure")
    not_shipped = Order.objects.exclude(stage=Stage.SHIPPED).count()
    if not_shipped:
        problems.append(f"{not_shipped} orders not shipped")
    stages = dict(Order.objects.values_list("stage").annotate(n=Count("id")))
    return {
        "database": connection.vendor,
        "variants": n_variants,
        "setup_seconds": setup_s,
        "service_lines": len(refs),
        "service_short": short,
        "orders": n_orders,
        "order_lines": order_lines,
        "intake_failed": intake_failed,
        "ship_failed": ship_failed,
        "file_rows": file_rows,
        "file_import": file_report,
        "stages": stages,
        "phases": phases,
        "ledger_ok": not problems,
        "ledger_problems": problems[:10],
    }


def main(argv: list[str] | None = None) -> dict:
    from shipping_bench import PG_DEFAULT, _drop_pg, _scratch_pg

    parser = argparse.ArgumentParser(description="Stock reserve/issue benchmark")
    parser.add_argument("--lines", type=int, default=100_000, help="order lines through the order path")
    parser.add_argument(
        "--service-lines", type=int, default=100_000, help="lines through stock_reserve/stock_issue directly"
    )
    parser.add_argument("--variants", type=int, default=300)
    parser.add_argument("--file-rows", type=int, default=10_000, help="rows of the stock file import phase")
    parser.add_argument(
        "--pg",
        action="store_true",
        help=f"PostgreSQL: $ZAPLECZE_DATABASE_URL if it is one, else {PG_DEFAULT} (a scratch database beside it)",
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        out = _child(args.lines, args.service_lines, args.variants, args.file_rows)
        print(json.dumps(out))
        return out
    pg_url = os.environ.get("ZAPLECZE_DATABASE_URL", "")
    if args.pg and not pg_url.startswith("postgres"):
        pg_url = PG_DEFAULT
    tmp = Path(tempfile.mkdtemp(prefix="zaplecze-bench-stock-"))
    scratch = admin = None
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
        if pg_url.startswith("postgres"):
            scratch, admin = _scratch_pg(pg_url, "_stock_bench")
            env["ZAPLECZE_DATABASE_URL"] = scratch
        cmd = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--child",
            "--lines",
            str(args.lines),
            "--service-lines",
            str(args.service_lines),
            "--variants",
            str(args.variants),
            "--file-rows",
            str(args.file_rows),
        ]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        if proc.stderr:
            sys.stderr.write(proc.stderr[-5000:])
        if proc.returncode != 0:
            raise RuntimeError(f"bench child failed with exit code {proc.returncode}")
        out = json.loads(proc.stdout.strip().splitlines()[-1])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if scratch:
            _drop_pg(scratch, admin)
    print(
        f"stock on {out['database']}: {out['variants']} variants; {out['service_lines']:,} lines through the "
        f"stock services, {out['order_lines']:,} lines ({out['orders']:,} orders) through the order path "
        f"(setup {out['setup_seconds']:.1f} s)"
    )
    for p in out["phases"]:
        print(
            f"  {p['phase']:<64} {p['lines']:>7,} lines {p['seconds']:>7.1f} s {p['lines_per_second']:>8,.0f} "
            f"lines/s  CPU {p['cpu_seconds']:>6.1f} s  peak RSS {p['peak_rss_mb']:>4.0f} MB"
        )
    print(
        f"  ledger {'consistent' if out['ledger_ok'] else 'INCONSISTENT: ' + '; '.join(out['ledger_problems'])}; "
        f"failed: intake {out['intake_failed']}, ship {out['ship_failed']}; short at reserve {out['service_short']}"
    )
    print(f"  (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
    return out


if __name__ == "__main__":
    main()
