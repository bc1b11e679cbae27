"""Benchmark: legal deadlines of many open cases and the "due today" lists, on SQLite.

    python bench/service_bench.py [--cases 1000000] [--compute 100000] [--reps 5]

In a child process with a fresh SQLite database (temp ZAPLECZE_DATA_DIR):
1. setup (not timed): migrate, 100 delivered orders, then CASES returns inserted directly (states mixed,
   statements received over the last 60 days, refund due dates computed by the calculator);
2. timed: the deadline computation for COMPUTE open cases: read each case's statement date and delivery date
   and compute its refund deadline and withdrawal deadline with the rule steps (`service.deadlines`);
3. timed (median of REPS): the due counts of the overview (`selectors.due_counts`), the first page of the
   "due today" and "overdue" lists (`selectors.returns_list`) and the `zaplecze service deadlines` data
   (`selectors.due_cases`, up to 1,000 rows) over all CASES.

`main(argv)` returns the figures as a dict (for bench/run.py).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

QUICK_ARGS = ["--cases", "20000", "--compute", "5000", "--reps", "3"]


def _child(cases: int, compute: int, reps: int) -> dict:
    import resource

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "zaplecze.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    from django.db import connection, transaction
    from django.utils import timezone, translation

    from zaplecze.catalog.services import product_create
    from zaplecze.core.businesstime import local_date, local_today
    from zaplecze.inventory.services import stock_adjust, warehouse_default
    from zaplecze.orders.models import Order
    from zaplecze.orders.schemas import OrderIn
    from zaplecze.orders.services import ingest_orders_batch
    from zaplecze.service import deadlines, selectors
    from zaplecze.service.models import Return

    translation.activate("en")
    rng = random.Random(11)
    t0 = time.perf_counter()
    product = product_create(name="Kubek", variants=[{"sku": "BENCH-1", "price": "19.99"}])
    stock_adjust(variant=product.variants.get(), warehouse=warehouse_default(), delta=1000, kind="receipt")
    now = timezone.now()
    items = [
        OrderIn.model_validate(
            {
                "channel": "shop",
                "external_id": f"B{i}",
                "number": f"#B{i}",
                "stage": "delivered",
                "placed_at": (now - dt.timedelta(days=70)).isoformat(),
                "payment_method": "card",
                "payment_status": "paid",
                "email": f"c{i}@example.com",
                "lines": [{"sku": "BENCH-1", "quantity": 1, "unit_price_gross": "19.99"}],
            }
        )
        for i in range(100)
    ]
    ingest_orders_batch(items, source="bench")
    Order.objects.update(delivered_at=now - dt.timedelta(days=65))
    order_ids = list(Order.objects.values_list("pk", flat=True))
    today = local_today()
    states = (
        ["requested"] * 3 + ["accepted"] * 3 + ["received"] * 2 + ["refunded", "closed", "closed", "rejected"]
    )
    # Refund deadlines of every day of the last 60 days, computed once (the same rule as return_request).
    due_for = {d: deadlines.refund_deadline(today - dt.timedelta(days=d)) for d in range(61)}
    cols = (
        "order_id",
        "state",
        "source",
        "reason",
        "email",
        "statement_sent_at",
        "statement_received_at",
        "withdrawal_deadline",
        "refund_due",
        "refund_warn_on",
        "rejection_reason",
        "bank_account",
        "language",
        "version",
        "created_at",
        "updated_at",
    )
    sql = f"INSERT INTO service_return ({', '.join(cols)}) VALUES ({', '.join(['%s'] * len(cols))})"  # noqa: S608 - fixed column names
    batch = []
    with transaction.atomic(), connection.cursor() as cur:
        for _ in range(cases):
            ago = rng.randint(0, 60)
            received = now - dt.timedelta(days=ago, minutes=rng.randint(0, 1440))
            d = due_for[ago]
            batch.append(
                (
                    rng.choice(order_ids),
                    rng.choice(states),
                    "public",
                    "",
                    "c@example.com",
                    received,
                    received,
                    None,
                    d.deadline,
                    d.warn_on,
                    "",
                    "",
                    "pl",
                    1,
                    received,
                    received,
                )
            )
            if len(batch) == 10_000:
                cur.executemany(sql, batch)
                batch.clear()
        if batch:
            cur.executemany(sql, batch)
    with connection.cursor() as cur:
        cur.execute("ANALYZE")
    setup_s = time.perf_counter() - t0

    # 2. deadline computation for `compute` open cases, read from the database.
    t0 = time.perf_counter()
    rows = list(
        Return.objects.filter(state__in=["requested", "accepted", "received"])
        .order_by("id")
        .values_list("statement_received_at", "order__delivered_at")[:compute]
    )
    computed = 0
    for received_at, delivered_at in rows:
        refund = deadlines.refund_deadline(local_date(received_at))
        withdrawal = deadlines.withdrawal_deadline(local_date(delivered_at))
        computed += bool(refund.deadline and withdrawal.deadline)
    compute_s = time.perf_counter() - t0

    # 3. the lists over all cases.
    def timed(fn) -> float:
        out = []
        for _ in range(reps):
            t = time.perf_counter()
            fn()
            out.append(time.perf_counter() - t)
        return statistics.median(out)

    counts = selectors.due_counts(today)
    figures = {
        "due_counts_ms": 1000 * timed(lambda: selectors.due_counts(today)),
        "due_today_page_ms": 1000
        * timed(
            lambda: selectors.returns_list(selectors.CaseFilter(due="today"), limit=50, today=today).items
        ),
        "overdue_page_ms": 1000
        * timed(
            lambda: selectors.returns_list(selectors.CaseFilter(due="overdue"), limit=50, today=today).items
        ),
        "due_cases_ms": 1000 * timed(lambda: selectors.due_cases(today)),
    }
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "cases": cases,
        "setup_seconds": setup_s,
        "computed": computed,
        "compute_seconds": compute_s,
        "compute_per_second": computed / compute_s if compute_s else None,
        "due_today": counts.returns_today,
        "overdue": counts.returns_overdue,
        **figures,
        "peak_rss_mb": rss_kb / 1024,
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description="Legal deadlines and due lists benchmark (SQLite)")
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--compute", type=int, default=100_000)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        out = _child(args.cases, args.compute, args.reps)
        print(json.dumps(out))
        return out
    tmp = Path(tempfile.mkdtemp(prefix="zaplecze-bench-service-"))
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
            "--cases",
            str(args.cases),
            "--compute",
            str(args.compute),
            "--reps",
            str(args.reps),
        ]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        if proc.stderr:
            sys.stderr.write(proc.stderr[-5000:])
        if proc.returncode != 0:
            raise RuntimeError(f"bench child failed with exit code {proc.returncode}")
        out = json.loads(proc.stdout.strip().splitlines()[-1])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(
        f"deadlines: {out['computed']:,} open cases (refund + withdrawal deadline with rule steps) in "
        f"{out['compute_seconds']:.2f} s ({out['compute_per_second']:,.0f}/s)\n"
        f"due lists over {out['cases']:,} returns ({out['due_today']:,} due today, {out['overdue']:,} overdue): "
        f"counts {out['due_counts_ms']:.0f} ms, 'due today' first page {out['due_today_page_ms']:.1f} ms, "
        f"'overdue' first page {out['overdue_page_ms']:.1f} ms, deadlines list (1,000 rows) "
        f"{out['due_cases_ms']:.0f} ms; peak RSS {out['peak_rss_mb']:.0f} MB (setup {out['setup_seconds']:.0f} s)"
    )
    return out


if __name__ == "__main__":
    main()
