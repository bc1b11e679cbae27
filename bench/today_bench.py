"""Benchmark: the Today page with 100,000 open orders, 10,000 open cases and about 1,000 open exceptions --
the worker's refresh per kind, a refresh of touched subjects, and the page's server time (median and p95).

    python bench/today_bench.py [--orders 100000] [--closed 10000] [--cases 10000] [--exceptional 1000]
                                [--history-per-day 300] [--reps 20] [--profile] [--explain] [--analyze]
                                [--keep]

In a child process with a fresh SQLite data dir:
1. setup (printed, not timed): ORDERS + CLOSED orders with the order-queue benchmark's bulk loader
   (`queue_bench.load`), then reshaped with executemany: CLOSED stay delivered (the cases are about them);
   ORDERS become open (new, awaiting payment, ready, picking, packed), placed in the last 40 hours, with a
   ship-by time still ahead and a recent change -- except about EXCEPTIONAL situations spread over the kinds:
   late against ship-by, stuck for a day, unpaid by transfer for 3+ days, flagged for attention, complaints
   and refunds due within 2 days, tickets past their SLA, variants under their reorder point. CASES open
   returns, complaints and tickets (4:3:3) with deadlines ahead, 300 variants with stock and reorder points,
   and HISTORY_PER_DAY resolved exceptions a day for the last 30 days (what the History page reads);
2. timed once each: the first full `exceptions_refresh()` kind by kind (the detector alone, then the refresh
   that opens the rows), and a steady full refresh (the worker's every-few-minutes run: nothing new);
3. timed: `touched_refresh()` after a stock change touched 100 variants (`core.today.touch`);
4. timed: the Today page through Django's test client as a logged-in organiser, `--reps` times after a
   warm-up, for the default view, `owner=mine` and `area=orders`; and `selectors.history(days=30)`.

The database has no planner statistics, as the app's own has none (nothing runs ANALYZE); `--analyze`
gathers them after loading, to see how the plans change. `--explain` prints the slowest queries of a page
view and of a refresh with SQLite's plans, `--profile` a cProfile of both (standard error).

`bench/run.py` imports this module and calls `main(argv)`, which returns the figures as a dict.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

QUICK_ARGS = [
    "--orders",
    "10000",
    "--closed",
    "2000",
    "--cases",
    "2000",
    "--exceptional",
    "300",
    "--reps",
    "5",
]
sys.path.insert(0, str(Path(__file__).resolve().parent))

# Shares of the exceptional situations (of --exceptional).
SHARES = {
    "late": 0.35,
    "stuck": 0.12,
    "unpaid": 0.12,
    "attention": 0.12,
    "complaint": 0.08,
    "refund": 0.08,
    "ticket": 0.08,
    "stock": 0.05,
}


def _ts(value: dt.datetime | None):
    """A datetime as SQLite stores it (naive UTC text), as queue_bench.load writes them."""
    return None if value is None else str(value.astimezone(dt.UTC).replace(tzinfo=None))


def _reshape_orders(args, rng: random.Random, now: dt.datetime, counts: dict[str, int]) -> dict:
    """CLOSED first orders delivered, the rest open; pick the exceptional ones among the open."""
    from django.db import connection, transaction

    from zaplecze.orders.models import Order, OrderStatus

    status = {s.code: (s.pk, s.stage) for s in OrderStatus.objects.all()}
    ids = list(Order.objects.order_by("id").values_list("id", flat=True))
    closed, open_ids = ids[: args.closed], ids[args.closed :]
    picks = rng.sample(range(len(open_ids)), sum(counts[k] for k in ("late", "stuck", "unpaid", "attention")))
    special: dict[int, str] = {}
    at = 0
    for kind in ("late", "stuck", "unpaid", "attention"):
        for i in picks[at : at + counts[kind]]:
            special[open_ids[i]] = kind
        at += counts[kind]
    h = dt.timedelta(hours=1)
    rows = []
    for pk in open_ids:
        kind = special.get(pk)
        placed = now - rng.uniform(0.2, 40) * h
        updated = max(placed, now - rng.uniform(0, 20) * h)
        ship_by = now + rng.uniform(2, 72) * h
        attention, method = False, None
        r = rng.random()
        code = "new" if r < 0.05 else "awaiting_payment" if r < 0.15 else "ready" if r < 0.75 else "picking"
        code = "packed" if code == "picking" and rng.random() < 0.4 else code
        if kind == "late":
            code, ship_by = "ready", now - rng.uniform(1, 72) * h
            placed = min(placed, ship_by - 20 * h)
        elif kind == "stuck":
            code, updated = "ready", now - rng.uniform(25, 96) * h
            placed = updated - rng.uniform(1, 24) * h
        elif kind == "unpaid":
            code, method = "awaiting_payment", "transfer"
            placed = now - rng.uniform(73, 200) * h
        elif kind == "attention":
            code, attention = "ready", True
        elif code == "awaiting_payment":
            method = "transfer"
        status_pk, stage = status[code]
        rows.append(
            (
                status_pk,
                stage,
                _ts(placed),
                _ts(ship_by),
                _ts(updated),
                attention,
                '[{"code": "stock_short"}]' if attention else "[]",
                method,
                "unpaid" if code in ("new", "awaiting_payment") and method else "paid",
                pk,
            )
        )
    status_pk, stage = status["delivered"]
    with transaction.atomic(), connection.cursor() as c:
        for i in range(0, len(rows), 20000):
            c.executemany(
                "UPDATE orders_order SET status_id=%s, stage=%s, placed_at=%s, ship_by=%s, updated_at=%s, "
                "needs_attention=%s, attention_reasons=%s, payment_method=COALESCE(%s, payment_method), "
                "payment_status=%s, shipped_at=NULL, delivered_at=NULL WHERE id=%s",
                rows[i : i + 20000],
            )
        c.executemany(
            "UPDATE orders_order SET status_id=%s, stage=%s, needs_attention=0, "
            "shipped_at=COALESCE(shipped_at, placed_at), delivered_at=COALESCE(delivered_at, placed_at) "
            "WHERE id=%s",
            [(status_pk, stage, pk) for pk in closed],
        )
    return {"closed": closed, "open": len(open_ids)}


def _cases(args, rng: random.Random, now: dt.datetime, counts: dict[str, int], closed: list[int]) -> None:
    """Open returns, complaints and tickets (4:3:3), deadlines ahead except for the due ones."""
    from zaplecze.core.businesstime import local_date
    from zaplecze.orders.models import OrderLine
    from zaplecze.service.models import Complaint, Return, Ticket

    today = local_date(now)
    lines = dict(OrderLine.objects.filter(order_id__in=closed[:20000]).values_list("order_id", "id"))
    order_ids = list(lines)
    n_ret, n_comp = args.cases * 4 // 10, args.cases * 3 // 10
    n_tick = args.cases - n_ret - n_comp
    day = dt.timedelta(days=1)

    def due(i: int, n_due: int) -> dt.date:
        return today + (rng.randint(-1, 2) if i < n_due else rng.randint(3, 14)) * day

    returns = []
    for i in range(n_ret):
        received = now - rng.uniform(0, 10) * day
        returns.append(
            Return(
                order_id=rng.choice(order_ids),
                state=rng.choice(["requested", "accepted", "received"]),
                email="c@example.com",
                statement_sent_at=received,
                statement_received_at=received,
                refund_due=due(i, counts["refund"]),
                refund_warn_on=today,
                goods_received_at=received,
                created_at=received,
                updated_at=received,
            )
        )
    Return.objects.bulk_create(returns, batch_size=2000)
    complaints = []
    for i in range(n_comp):
        oid = rng.choice(order_ids)
        received = now - rng.uniform(0, 10) * day
        complaints.append(
            Complaint(
                order_id=oid,
                order_line_id=lines[oid],
                state="received",
                email="c@example.com",
                defect="Pęknięte ucho kubka",
                received_at=received,
                requested_remedy="replacement",
                response_due=due(i, counts["complaint"]),
                escalate_on=today + 7 * day,
                created_at=received,
                updated_at=received,
            )
        )
    Complaint.objects.bulk_create(complaints, batch_size=2000)
    tickets = []
    for i in range(n_tick):
        breached = i < counts["ticket"]
        answered = rng.random() < 0.5
        tickets.append(
            Ticket(
                subject=f"Pytanie o zamówienie {i}",
                status=rng.choice(["new", "open", "waiting_third_party"]),
                email=f"t{i}@example.com",
                sla_seconds=41 * 3600 if breached else rng.randint(0, 3600),
                sla_since=now - rng.uniform(0, 6) * dt.timedelta(hours=1),
                first_response_at=now if answered else None,
                first_response_sla_seconds=600 if answered else None,
                created_at=now - day,
                updated_at=now,
            )
        )
    Ticket.objects.bulk_create(tickets, batch_size=2000)


def _stock(counts: dict[str, int], rng: random.Random) -> list[int]:
    """Stock and a reorder point for every variant; `stock` of them at or under it."""
    from zaplecze.catalog.models import Variant
    from zaplecze.inventory.models import StockLevel
    from zaplecze.inventory.services import warehouse_default
    from zaplecze.purchasing.models import ReorderParameter

    wh = warehouse_default()
    variants = list(Variant.objects.order_by("id").values_list("id", flat=True))
    low = set(rng.sample(variants, min(counts["stock"], len(variants))))
    StockLevel.objects.bulk_create(
        [
            StockLevel(variant_id=v, warehouse=wh, on_hand=5 if v in low else rng.randint(50, 500))
            for v in variants
        ]
    )
    ReorderParameter.objects.bulk_create(
        [ReorderParameter(variant_id=v, mode="manual", reorder_point=20, lead_time_days=5) for v in variants]
    )
    return variants


def _history(per_day: int, rng: random.Random, now: dt.datetime) -> int:
    """Resolved exceptions of the last 30 days, as the History page reads them."""
    from zaplecze.core import today as registry
    from zaplecze.today.models import OpsException

    kinds = list(registry.kinds().values())
    rows = []
    for d in range(30):
        for j in range(per_day):
            k = rng.choice(kinds)
            opened = now - dt.timedelta(days=d, hours=rng.uniform(0, 24))
            resolved = min(now, opened + dt.timedelta(hours=rng.expovariate(1 / 6)))
            rows.append(
                OpsException(
                    kind=k.code,
                    area=k.area,
                    subject_type=k.subject_type,
                    subject_id=10_000_000 + d * per_day + j,
                    label="history",
                    why="history",
                    owner_role=k.owner_role,
                    state="resolved",
                    opened_at=opened,
                    seen_at=resolved,
                    resolved_at=resolved,
                    resolved_how="cleared",
                )
            )
    OpsException.objects.bulk_create(rows, batch_size=2000)
    return len(rows)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(q * (len(ordered) - 1))))]


def _stats(ms: list[float]) -> dict:
    return {"median_ms": round(statistics.median(ms), 1), "p95_ms": round(_pct(ms, 0.95), 1)}


def _plans(run) -> list[tuple[float, str, str]]:
    """Every query `run` makes with its time and SQLite's plan, slowest first."""
    from django.db import connection

    captured: list[tuple[float, str, tuple]] = []

    def grab(execute, sql, params, many, context):
        t = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            captured.append(((time.perf_counter() - t) * 1000, sql, params))

    with connection.execute_wrapper(grab):
        run()
    out = []
    for ms, sql, params in sorted(captured, key=lambda q: -q[0]):
        if not sql.lstrip().upper().startswith("SELECT"):
            out.append((ms, sql, ""))
            continue
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
            out.append((ms, sql, " | ".join(r[3] for r in cursor.fetchall())))
    return out


def _child(args) -> dict:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "zaplecze.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.urls import reverse
    from django.utils import timezone, translation
    from queue_bench import _add_indexes, _drop_indexes, load

    from zaplecze.core import today as registry
    from zaplecze.core.services import user_create
    from zaplecze.orders.models import Order, OrderSearchToken
    from zaplecze.today import selectors, services
    from zaplecze.today.models import OpsException

    translation.activate("en")
    rng = random.Random(args.seed)
    counts = {k: max(1, round(v * args.exceptional)) for k, v in SHARES.items()}
    t0 = time.perf_counter()
    call_command("migrate", verbosity=0, interactive=False)
    with connection.cursor() as c:
        c.execute("PRAGMA journal_mode=OFF")
        c.execute("PRAGMA synchronous=OFF")
    now = timezone.now()
    _drop_indexes([Order, OrderSearchToken])
    load(args.orders + args.closed, args.seed, now)
    shaped = _reshape_orders(args, rng, now, counts)
    _add_indexes([Order, OrderSearchToken])
    _cases(args, rng, now, counts, shaped["closed"])
    variants = _stock(counts, rng)
    history_rows = _history(args.history_per_day, rng, now)
    with connection.cursor() as c:
        if args.analyze:  # statistics the app itself never gathers: shows how the plans change with them
            c.execute("ANALYZE")
        c.execute("PRAGMA journal_mode=WAL")
    setup_s = time.perf_counter() - t0
    connection.close()  # reopen with the app's connection settings

    user, _ = user_create(username="bench", password=None, role="organiser", validate=False)
    reverse("today:index")  # import the URLconf (and every view module) before anything is timed
    now = timezone.now()

    # (a) the first full refresh, kind by kind: the detector alone, then the refresh that opens the rows.
    kinds = {}
    for code, kind in sorted(registry.kinds().items()):
        t = time.perf_counter()
        found = len(list(kind.detect(now=now, ids=None)))
        detect_ms = (time.perf_counter() - t) * 1000
        t = time.perf_counter()
        report = services.exceptions_refresh(kinds=[code], now=now)
        refresh_ms = (time.perf_counter() - t) * 1000
        kinds[code] = {
            "found": found,
            "opened": report.opened,
            "detect_ms": round(detect_ms, 1),
            "first_refresh_ms": round(refresh_ms, 1),
            "failed": report.failed.get(code, ""),
        }
    open_rows = OpsException.objects.exclude(state="resolved").count()
    steady = []
    for _ in range(3):  # the worker's run when nothing changed (every kind due)
        t = time.perf_counter()
        services.exceptions_refresh(now=now)
        steady.append((time.perf_counter() - t) * 1000)
    for code in kinds:  # and each kind's part of it
        t = time.perf_counter()
        services.exceptions_refresh(kinds=[code], now=now)
        kinds[code]["steady_refresh_ms"] = round((time.perf_counter() - t) * 1000, 1)

    # (b) a stock change touches 100 variants; the next minute's run looks at them again.
    touched = rng.sample(variants, min(100, len(variants)))
    registry.touch("variant", touched)
    t = time.perf_counter()
    touch_report = services.touched_refresh()
    touch_ms = (time.perf_counter() - t) * 1000

    # (c) the page, as a logged-in organiser.
    client = Client()
    client.force_login(user)
    url = reverse("today:index")
    views = {"default": {}, "owner=mine": {"owner": "mine"}, "area=orders": {"area": "orders"}}
    page = {}
    for name, params in views.items():
        response = client.get(url, params)  # warm-up
        assert response.status_code == 200, (name, response.status_code)
        ms, cpu = [], []
        for _ in range(args.reps):
            t, c = time.perf_counter(), time.process_time()
            response = client.get(url, params)
            ms.append((time.perf_counter() - t) * 1000)
            cpu.append((time.process_time() - c) * 1000)  # SQLite runs in-process: less sensitive to load
            assert response.status_code == 200
        sel = selectors.page(user, selectors.TodayFilter(**params))
        page[name] = {
            **_stats(ms),
            "cpu_median_ms": round(statistics.median(cpu), 1),
            "total": sel["total"],
            "rows_shown": sum(len(g["rows"]) for g in sel["groups"]),
        }
    # the numbers at the top are cached for a minute: once uncached, for the record
    from django.core.cache import cache

    cache.clear()
    t = time.perf_counter()
    selectors.numbers()
    numbers_ms = (time.perf_counter() - t) * 1000

    # (d) the history of 30 days.
    selectors.history(days=30)
    hist = []
    for _ in range(max(3, args.reps // 4)):
        t = time.perf_counter()
        selectors.history(days=30)
        hist.append((time.perf_counter() - t) * 1000)

    out = {
        "open_orders": shaped["open"],
        "closed_orders": len(shaped["closed"]),
        "open_cases": args.cases,
        "planted": counts,
        "history_rows": history_rows,
        "setup_seconds": round(setup_s, 1),
        "open_exceptions": open_rows,
        "kinds": kinds,
        "first_refresh_ms": round(sum(k["first_refresh_ms"] for k in kinds.values()), 1),
        "steady_refresh": _stats(steady),
        "touched_variants": len(touched),
        "touched_refresh_ms": round(touch_ms, 1),
        "touched_report": {"opened": touch_report.opened, "updated": touch_report.updated},
        "page": page,
        "numbers_uncached_ms": round(numbers_ms, 1),
        "history_30d": _stats(hist),
        "reps": args.reps,
        "analyzed": args.analyze,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    if args.explain:  # the slowest queries of a page view and of a steady refresh, with their plans
        for name, run in (
            ("page", lambda: client.get(url)),
            ("refresh", lambda: services.exceptions_refresh(now=now)),
        ):
            sys.stderr.write(f"\n--- {name}: slowest queries\n")
            for ms, sql, plan in _plans(run)[:8]:
                sys.stderr.write(f"{ms:8.1f} ms  {sql[:300]}\n           {plan}\n")
    if args.profile:
        import cProfile
        import pstats

        for name, run in (
            ("page", lambda: client.get(url)),
            ("refresh", lambda: services.exceptions_refresh(now=now)),
        ):
            sys.stderr.write(f"\n--- {name}: profile\n")
            prof = cProfile.Profile()
            prof.runcall(run)
            pstats.Stats(prof, stream=sys.stderr).sort_stats("cumulative").print_stats(25)
    return out


def _print(out: dict) -> None:
    print(
        f"Today on sqlite: {out['open_orders']:,} open orders (+{out['closed_orders']:,} delivered), "
        f"{out['open_cases']:,} open cases, {out['history_rows']:,} resolved in 30 days "
        f"(setup {out['setup_seconds']} s{'; after ANALYZE' if out['analyzed'] else ''})"
    )
    print(f"  open exceptions after the first refresh: {out['open_exceptions']:,}")
    print(f"  {'kind':28} {'found':>6} {'detect':>9} {'1st refresh':>12} {'steady':>9}")
    for code, k in out["kinds"].items():
        line = (
            f"  {code:28} {k['found']:>6} {k['detect_ms']:>7.1f}ms {k['first_refresh_ms']:>10.1f}ms "
            f"{k['steady_refresh_ms']:>7.1f}ms"
        )
        print(line + (f"  FAILED: {k['failed']}" if k["failed"] else ""))
    print(
        f"  full refresh: first {out['first_refresh_ms']:,.0f} ms; steady median "
        f"{out['steady_refresh']['median_ms']:,.0f} ms, p95 {out['steady_refresh']['p95_ms']:,.0f} ms"
    )
    print(
        f"  touched_refresh after {out['touched_variants']} variants touched: {out['touched_refresh_ms']:,.1f} ms"
    )
    for name, p in out["page"].items():
        print(
            f"  page {name:12} median {p['median_ms']:7.1f} ms  p95 {p['p95_ms']:7.1f} ms  "
            f"(CPU median {p['cpu_median_ms']:.1f} ms; {p['total']:,} open, {p['rows_shown']} rows shown, "
            f"{out['reps']} runs)"
        )
    print(f"  numbers at the top, uncached (cached for a minute): {out['numbers_uncached_ms']:,.1f} ms")
    print(
        f"  history(days=30): median {out['history_30d']['median_ms']:,.1f} ms, "
        f"p95 {out['history_30d']['p95_ms']:,.1f} ms"
    )


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description="Today page and exception refresh benchmark (SQLite)")
    parser.add_argument("--orders", type=int, default=100_000, help="open orders")
    parser.add_argument(
        "--closed", type=int, default=10_000, help="delivered orders (the cases are about them)"
    )
    parser.add_argument("--cases", type=int, default=10_000, help="open returns, complaints and tickets")
    parser.add_argument("--exceptional", type=int, default=1_000, help="exceptional situations planted")
    parser.add_argument("--history-per-day", type=int, default=300, help="resolved exceptions a day, 30 days")
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--explain", action="store_true", help="slowest queries with their plans (stderr)")
    parser.add_argument(
        "--profile", action="store_true", help="cProfile of a page view and a refresh (stderr)"
    )
    parser.add_argument(
        "--analyze", action="store_true", help="run ANALYZE after loading (the app never does)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp data dir (for EXPLAIN by hand)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        out = _child(args)
        print(json.dumps(out, default=str))
        return out
    tmp = Path(tempfile.mkdtemp(prefix="zaplecze-bench-today-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZAPLECZE_")}
    env.update(
        {"ZAPLECZE_DATA_DIR": str(tmp / "data"), "ZAPLECZE_LOG_LEVEL": "WARNING", "ZAPLECZE_DEMO": "0"}
    )
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child"]
    for opt in ("orders", "closed", "cases", "exceptional", "history_per_day", "reps", "seed"):
        cmd += ["--" + opt.replace("_", "-"), str(getattr(args, opt))]
    for flag in ("explain", "profile", "analyze"):
        cmd += [f"--{flag}"] if getattr(args, flag) else []
    try:
        proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, text=True, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"today bench child failed with exit code {proc.returncode}")
        out = json.loads(proc.stdout.strip().splitlines()[-1])
    finally:
        if args.keep:
            print(f"kept: {tmp / 'data'}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    _print(out)
    return out


if __name__ == "__main__":
    main()
