"""Benchmark: the process-mining page (Reports › Order handling) over 1,000,000 orders and about 6,000,000
order events -- server time of the page for the last 30 days, median and p95.

    python bench/process_bench.py [--orders 1000000] [--reps 5]

In a child process with a fresh SQLite database:
1. setup (printed, not timed): N orders over the last 365 days with the order-queue benchmark's bulk loader
   (`queue_bench.load`), then an event log for each order written with executemany: created, then a
   status event for every stage it went through up to its current one (paid/ready, packed, shipped,
   delivered, completed; cancelled ones stop early), at plausible hours apart -- about 6 events an order;
2. the first build of the per-order traces (`reports.traces`; the worker's job), timed once;
3. timed: `reports.process.process_report` for the last 30 days and the page itself through Django's test
   client as a logged-in administrator, `--reps` times after one warm-up; and once, for comparison, the same
   report from the raw event log (checked equal).

`bench/run.py` imports this module and calls `main(argv)`, which returns the figures as a dict.
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

QUICK_ARGS = ["--orders", "20000", "--reps", "3"]
sys.path.insert(0, str(Path(__file__).resolve().parent))

# The path an order takes, as (stage, status, hours after the previous step).
PATH = [
    ("ready", "paid", (0.1, 6)),
    ("in_fulfilment", "packed", (2, 30)),
    ("shipped", "shipped", (1, 10)),
    ("delivered", "delivered", (12, 60)),
    ("completed", "completed", (100, 400)),
]
ORDER_OF = {stage: i for i, (stage, _s, _h) in enumerate(PATH)}


def _events(rows, rng: random.Random):
    for oid, placed, stage in rows:
        yield (oid, placed, "created", "", "new", "", "new")
        if stage in ("new", "awaiting_payment"):
            continue
        last = ORDER_OF.get(stage, len(PATH) - 1)
        at = placed
        for i, (to_stage, status, (lo, hi)) in enumerate(PATH):
            if stage == "cancelled" and i > 1:
                break
            if stage not in ("cancelled", "returned") and i > last:
                break
            at = at + dt.timedelta(hours=rng.uniform(lo, hi))
            yield (oid, at, "status", "", status, "", to_stage)
        if stage in ("cancelled", "returned"):
            yield (oid, at + dt.timedelta(hours=rng.uniform(1, 48)), "status", "", stage, "", stage)


def _child(args) -> dict:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "zaplecze.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.urls import reverse
    from django.utils import timezone
    from queue_bench import _add_indexes, _drop_indexes, load

    from zaplecze.core.businesstime import local_today
    from zaplecze.core.services import user_create
    from zaplecze.orders.models import Order, OrderEvent, OrderSearchToken
    from zaplecze.reports.process import process_report
    from zaplecze.reports.sales import Period

    t0 = time.perf_counter()
    call_command("migrate", verbosity=0, interactive=False)
    with connection.cursor() as c:
        c.execute("PRAGMA journal_mode=OFF")
        c.execute("PRAGMA synchronous=OFF")
    _drop_indexes([Order, OrderSearchToken, OrderEvent])
    load(args.orders, args.seed, timezone.now())
    rng = random.Random(args.seed)
    orders = Order.objects.values_list("id", "placed_at", "stage").order_by("id")
    sql = (
        "INSERT INTO orders_orderevent (order_id, at, kind, from_status, to_status, from_stage, to_stage, "
        "actor_label, message, data) VALUES (%s, %s, %s, %s, %s, %s, %s, 'system', '', '{}')"
    )
    n_events, batch = 0, []
    with connection.cursor() as c:
        OrderEvent.objects.all().delete()
        for ev in _events(orders.iterator(chunk_size=20000), rng):
            batch.append(ev)
            if len(batch) == 50000:
                c.executemany(sql, batch)
                n_events += len(batch)
                batch = []
        c.executemany(sql, batch)
        n_events += len(batch)
    _add_indexes([Order, OrderSearchToken, OrderEvent])
    with connection.cursor() as c:
        c.execute("PRAGMA journal_mode=WAL")
    load_s = time.perf_counter() - t0
    connection.close()

    today = local_today()
    period = Period(today - dt.timedelta(days=30), today - dt.timedelta(days=1))
    user, _ = user_create(username="bench", password="Bench-pass-2026", role="admin", validate=False)
    client = Client()
    client.force_login(user)
    url = reverse("reports:process")
    params = {"date_from": period.start.isoformat(), "date_to": period.end.isoformat()}

    def timed(fn) -> list[float]:
        fn()  # warm-up
        out = []
        for _ in range(args.reps):
            start = time.perf_counter()
            fn()
            out.append((time.perf_counter() - start) * 1000)
        return out

    from zaplecze.reports import process
    from zaplecze.reports.traces import traces_rebuild

    # The worker folds the event log into per-order traces as events arrive; on a loaded database the
    # first build is done in steps (timed here once, like the setup).
    t0 = time.perf_counter()
    traced = traces_rebuild()
    build_s = time.perf_counter() - t0
    data = process_report(period)
    if args.profile:  # where the time goes, on standard error
        import cProfile
        import pstats

        prof = cProfile.Profile()
        prof.runcall(process_report, period)
        pstats.Stats(prof, stream=sys.stderr).sort_stats("cumulative").print_stats(25)
    report_ms = timed(lambda: process_report(period))
    page_ms = timed(lambda: client.get(url, params))
    # For comparison: the same report computed from the raw event log of the period (one run).
    folded_traces = process.trace_table
    process.trace_table = process.trace_table_from_log
    t0 = time.perf_counter()
    from_log = process_report(period)
    log_ms = (time.perf_counter() - t0) * 1000
    process.trace_table = folded_traces
    assert {k: v for k, v in from_log.items() if k not in ("from", "to")} == {
        k: v for k, v in data.items() if k not in ("from", "to")
    }, "the folded traces and the raw log disagree"
    return {
        "orders_loaded": args.orders,
        "events": n_events,
        "setup_seconds": round(load_s, 1),
        "period": f"{period.start} – {period.end}",
        "orders_in_period": data["orders"],
        "report_median_ms": round(statistics.median(report_ms)),
        "report_p95_ms": round(sorted(report_ms)[max(0, round(0.95 * len(report_ms)) - 1)]),
        "page_median_ms": round(statistics.median(page_ms)),
        "page_p95_ms": round(sorted(page_ms)[max(0, round(0.95 * len(page_ms)) - 1)]),
        "reps": args.reps,
        "traces_built": traced,
        "traces_build_seconds": round(build_s, 1),
        "report_from_raw_log_ms": round(log_ms),
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description="Process-mining page over 1M orders / ~6M events")
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--profile", action="store_true", help="print a cProfile of one report (stderr)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        out = _child(args)
        print(json.dumps(out, default=str))
        return out
    tmp = Path(tempfile.mkdtemp(prefix="zaplecze-bench-process-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZAPLECZE_")}
    env.update(
        {"ZAPLECZE_DATA_DIR": str(tmp / "data"), "ZAPLECZE_LOG_LEVEL": "WARNING", "ZAPLECZE_DEMO": "0"}
    )
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", "--orders", str(args.orders)]
    cmd += ["--reps", str(args.reps), "--seed", str(args.seed)] + (["--profile"] if args.profile else [])
    try:
        proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, text=True, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"process bench child failed with exit code {proc.returncode}")
        out = json.loads(proc.stdout.strip().splitlines()[-1])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(
        f"process mining on sqlite: {out['orders_loaded']:,} orders, {out['events']:,} events "
        f"(setup {out['setup_seconds']} s); last 30 days: {out['orders_in_period']:,} orders"
    )
    print(
        f"  first build of the order traces: {out['traces_built']:,} orders in {out['traces_build_seconds']} s "
        "(the worker's job, in steps)"
    )
    print(f"  process_report  median {out['report_median_ms']:,} ms  p95 {out['report_p95_ms']:,} ms")
    print(f"  the same report from the raw event log: {out['report_from_raw_log_ms']:,} ms (one run)")
    print(
        f"  page (server)   median {out['page_median_ms']:,} ms  p95 {out['page_p95_ms']:,} ms  ({out['reps']} runs)"
    )
    return out


if __name__ == "__main__":
    main()
