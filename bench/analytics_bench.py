"""Benchmark: traffic analytics (issue #5 figures), each part in child processes with a fresh data dir.

    python bench/analytics_bench.py [--copies 100] [--events 10000000] [--orders 1000000] [--collect 20000]
                                    [--skip-goaccess] [--only log,dashboard,collector]

1. log import: the real access log (../shared/datasets/access-logs/elastic_apache_logs.log, read in place)
   concatenated `--copies` times into a temp file (100 copies = 1,000,000 lines); `zaplecze analytics
   import-log` vs `goaccess FILE --log-format=COMBINED -o report.json` (GoAccess 1.7) on the same file:
   lines/s, the ratio, peak RSS of each, and whether requests / unique visitors agree;
2. dashboard: `--orders` orders inserted into the (SQLite) database and exported to Parquet by the real
   `warehouse.orders_export()` (the metrics join orders from that export, through DuckDB); `--events`
   synthetic events over 365 days written straight into the date partitions with pyarrow (not through the
   collector); visits built per day as the flush does; every panel of the dashboard timed `--reps` times for
   the last 30 days and for the whole year, plus the whole page (`selectors.dashboard`, which also runs the
   incremental orders export): p50/p95 per panel;
3. collector: gunicorn (2 workers) on loopback, `--collect` events POSTed by 8 client threads over
   keep-alive connections: events/s accepted, p50/p99 latency, and events sent = events stored after a flush.
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

QUICK_ARGS = ["--copies", "5", "--events", "200000", "--orders", "20000", "--collect", "2000", "--reps", "3"]
REPO = Path(__file__).resolve().parents[1]
LOG = REPO.parent / "shared" / "datasets" / "access-logs" / "elastic_apache_logs.log"
PY = sys.executable


def _env(data_dir: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZAPLECZE_")}
    env.update(
        ZAPLECZE_DATA_DIR=str(data_dir),
        ZAPLECZE_DEMO="0",
        ZAPLECZE_ADMIN_PASSWORD="bench-password-123",
        DJANGO_SETTINGS_MODULE="zaplecze.settings",
        ZAPLECZE_ANALYTICS_RATE_LIMIT="100000000",
        PYTHONPATH=str(REPO / "src"),
    )
    return env


def _child(code: str, data_dir: Path) -> dict:
    proc = subprocess.run([PY, "-c", code], env=_env(data_dir), capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-3000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _migrate(data_dir: Path) -> None:
    subprocess.run([PY, str(REPO / "manage.py"), "migrate", "-v0"], env=_env(data_dir), check=True)


# --- 1. log import vs GoAccess ------------------------------------------------------------------------

IMPORT_CHILD = """
import json, time, resource, django
django.setup()
from pathlib import Path
from zaplecze.analytics import logs, metrics
from zaplecze.analytics.services import site_ensure
site = site_ensure(domain="semicomplete.com")
t0 = time.perf_counter()
r = logs.import_file(Path(%r), site=site)
elapsed = time.perf_counter() - t0
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
s = metrics.log_summary(site=site, date_from=None, date_to=None)
print(json.dumps({"seconds": elapsed, "lines": r.lines, "imported": r.imported, "malformed": r.malformed,
                  "rss_mb": rss, "requests": s["requests"], "unique_visitors": s["unique_visitors"],
                  "top_paths": [(p["path"], p["hits"]) for p in s["top_paths"]]}))
"""

GOACCESS_CHILD = """
import json, resource, subprocess, sys, time
t0 = time.perf_counter()
subprocess.run(["goaccess", %r, "--log-format=COMBINED", "--no-progress", "--max-items=100000", "-o", %r],
               check=True, capture_output=True)
elapsed = time.perf_counter() - t0
print(json.dumps({"seconds": elapsed, "rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))
"""


def bench_log(copies: int, tmp: Path, skip_goaccess: bool) -> dict:
    big = tmp / "big.log"
    data = LOG.read_bytes()
    with open(big, "wb") as fh:
        for _ in range(copies):
            fh.write(data)
    lines = copies * data.count(b"\n")
    data_dir = tmp / "log"
    _migrate(data_dir)
    ours = _child(IMPORT_CHILD % str(big), data_dir)
    out = {
        "lines": lines,
        "mb": round(big.stat().st_size / 1e6, 1),
        "zaplecze_s": round(ours["seconds"], 2),
        "zaplecze_lines_per_s": round(lines / ours["seconds"]),
        "zaplecze_peak_rss_mb": round(ours["rss_mb"], 1),
        "zaplecze_requests": ours["requests"],
        "zaplecze_unique_visitors": ours["unique_visitors"],
        "malformed": ours["malformed"],
    }
    print(
        f"log import: {lines:,} lines, {out['mb']} MB: Zaplecze {out['zaplecze_s']} s = "
        f"{out['zaplecze_lines_per_s']:,} lines/s, peak RSS {out['zaplecze_peak_rss_mb']} MB",
        flush=True,
    )
    if not skip_goaccess and shutil.which("goaccess"):
        report = tmp / "ga.json"
        ga = _child(GOACCESS_CHILD % (str(big), str(report)), data_dir)
        g = json.loads(report.read_bytes().decode("utf-8", "replace"))["general"]
        out.update(
            {
                "goaccess_s": round(ga["seconds"], 2),
                "goaccess_lines_per_s": round(lines / ga["seconds"]),
                "goaccess_peak_rss_mb": round(ga["rss_mb"], 1),
                "goaccess_requests": g["total_requests"],
                "goaccess_unique_visitors": g["unique_visitors"],
                "speed_ratio": round(ga["seconds"] / ours["seconds"], 2),
            }
        )
        out["counts_agree"] = (out["goaccess_requests"], out["goaccess_unique_visitors"]) == (
            ours["requests"],
            ours["unique_visitors"],
        )
        print(
            f"  GoAccess {out['goaccess_s']} s = {out['goaccess_lines_per_s']:,} lines/s, peak RSS "
            f"{out['goaccess_peak_rss_mb']} MB; Zaplecze is {out['speed_ratio']}x GoAccess's speed; "
            f"counts agree: {out['counts_agree']}",
            flush=True,
        )
    return out


# --- 2. dashboard on many events ----------------------------------------------------------------------

DASH_CHILD = r"""
import datetime as dt, json, os, time, django
django.setup()
import numpy as np, pyarrow as pa
from django.db import connection
from zaplecze.analytics import metrics, warehouse, selectors, visits
from zaplecze.orders.models import Channel, Order, OrderStatus
N, M, REPS = %d, %d, %d
rng = np.random.default_rng(7)
end = dt.date(2026, 11, 20)
start = end - dt.timedelta(days=364)
out = {}

# 1. Orders: in the database (SQLite here), as the shop has them. One template order through the ORM, then
#    M copies by one INSERT ... SELECT over a generated sequence (5%% cancelled, 2%% refunded).
t0 = time.perf_counter()
status = OrderStatus.objects.filter(stage="delivered").first()
tpl = Order.objects.create(channel=Channel.objects.first(), external_id="template", number="template",
                           status=status, stage="delivered", total_net=81, total_vat=18.63, total_gross=99.63,
                           placed_at=dt.datetime(2025, 11, 21, tzinfo=dt.UTC), payment_status="paid")
cols = [f.column for f in Order._meta.concrete_fields if f.column != "id"]
override = {
    "external_id": "'b' || i", "number": "CAST(i AS TEXT)",
    "stage": "CASE WHEN i %% 20 = 7 THEN 'cancelled' ELSE 'delivered' END",
    "payment_status": "CASE WHEN i %% 50 = 3 THEN 'refunded' ELSE 'paid' END",
    "total_gross": "CAST(50 + (i %% 400) AS REAL)",
    "placed_at": "datetime('2025-11-21', '+' || ((i * 31) %% 31536000) || ' seconds')",
    "updated_at": "datetime('2025-11-21', '+' || ((i * 31) %% 31536000) || ' seconds')",
    "created_at": "datetime('2025-11-21', '+' || ((i * 31) %% 31536000) || ' seconds')",
}
select = ", ".join(override.get(c, f'o."{c}"') for c in cols)
with connection.cursor() as cur:
    cur.execute(
        f'INSERT INTO orders_order ({", ".join(chr(34) + c + chr(34) for c in cols)}) '
        f"WITH RECURSIVE seq(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM seq WHERE i < {M - 1}) "
        f"SELECT {select} FROM seq, orders_order o WHERE o.id = {tpl.pk}"
    )
out["orders_insert_s"] = round(time.perf_counter() - t0, 1)
t = time.perf_counter()
exported = warehouse.orders_export()
out["orders_export_first_s"] = round(time.perf_counter() - t, 1)
t = time.perf_counter()
warehouse.orders_export()
out["orders_export_incremental_ms"] = round((time.perf_counter() - t) * 1000, 1)
out["orders"] = Order.objects.count()

# 2. Events: N over 365 days, written straight into the date partitions (one zstd Parquet file per day, as
#    after compaction). Visits of 1-6 events 40 s apart; 3%% of visits reach the purchase, naming an order;
#    visitor ids are unique per day (they rotate daily).
t0 = time.perf_counter()
base_ts = np.datetime64(start.isoformat(), "s").astype("int64")
sources = np.array(["search", "direct", "social", "email", "paid", "marketplace", "other"])
names = np.array(["Google", "Direct", "Facebook", "newsletter", "google", "Ceneo", "blog.example.pl"])
devices = np.array(["desktop", "mobile", "tablet"])
browsers = np.array(["Chrome", "Mobile Safari", "Firefox", "Edge"])
oses = np.array(["Windows", "iOS", "Android", "Linux"])
pages = np.array([f"/p/{i}" for i in range(2000)])
kinds = np.array(["pageview", "pageview", "product_view", "add_to_cart", "begin_checkout", "purchase"])
lengths = np.arange(1, 7)
probs = np.array([0.35, 0.25, 0.15, 0.12, 0.10, 0.03])
per_day = N // 365
written, order_seq = 0, 0
for d in range(365):
    day = start + dt.timedelta(days=d)
    want = per_day + (N - per_day * 365 if d == 364 else 0)
    n_v = int(want / float((lengths * probs).sum()) * 1.2) + 20
    vlen = rng.choice(lengths, n_v, p=probs)
    cum = np.cumsum(vlen)
    n_v = int(np.searchsorted(cum, want)) + 1
    vlen = vlen[:n_v]
    vlen[-1] -= int(cum[n_v - 1] - want)
    idx = np.repeat(np.arange(n_v), vlen)
    step = np.arange(len(idx)) - np.repeat(np.cumsum(vlen) - vlen, vlen)
    vstart = rng.integers(0, 86400 - 300, n_v)
    ts = (base_ts + d * 86400 + vstart[idx] + step * 40) * 1_000_000
    kind = kinds[np.minimum(step, 5)]
    n = len(idx)
    buys = kind == "purchase"
    order_no = np.full(n, "", dtype=object)
    k = int(buys.sum())
    order_no[buys] = ((order_seq + np.arange(k)) %% M).astype(str)
    order_seq += k
    src = rng.integers(0, 7, n_v)[idx]
    dev = rng.integers(0, 3, n_v)[idx]
    empty = pa.array(np.full(n, "", dtype=object), pa.string())
    table = pa.table({
        "event_id": pa.array(np.char.add(f"e{d}-", np.arange(n).astype(str))),
        "ts": pa.array(ts, pa.timestamp("us", tz="UTC")),
        "site": pa.array(np.full(n, "shop.example", dtype=object)), "event": pa.array(kind), "name": empty,
        "visitor": pa.array((d * 10_000_000 + idx).astype("int64")),
        "path": pa.array(pages[rng.integers(0, 2000, n)]),
        "raw_path": empty, "host": pa.array(np.full(n, "shop.example", dtype=object)), "referrer": empty,
        "source": pa.array(sources[src]), "source_name": pa.array(names[src]),
        "utm_source": empty, "utm_medium": empty, "utm_campaign": empty, "utm_content": empty, "utm_term": empty,
        "device": pa.array(devices[dev]), "browser": pa.array(browsers[dev]), "os": pa.array(oses[dev]),
        "is_bot": pa.array(np.zeros(n, bool)), "is_static": pa.array(np.zeros(n, bool)),
        "sku": empty, "order_number": pa.array(order_no, pa.string()),
        "value": pa.nulls(n, pa.decimal128(20, 2)), "currency": empty, "props": empty,
        "origin": pa.array(np.full(n, "collector", dtype=object)), "status": pa.nulls(n, pa.int16()),
        "bytes": pa.nulls(n, pa.int64()), "method": empty,
    }).cast(warehouse.SCHEMA)
    warehouse.write_parquet_atomic(table, warehouse.partition(day) / "bench.parquet")
    written += n
out["events"] = written
out["purchases"] = order_seq
out["events_write_s"] = round(time.perf_counter() - t0, 1)

# 3. Visits, built as the worker does (per day after a flush, runs of stale days in one query; one file per
#    settled month): timed once here, so the queries below read pre-built visits as in steady state.
t = time.perf_counter()
visits.ensure(start, end)
out["visits_build_s"] = round(time.perf_counter() - t, 1)
out["visits_build_ms_per_day"] = round((time.perf_counter() - t) / 365 * 1000, 1)
t = time.perf_counter()
visits.refresh([end])
out["visits_refresh_one_day_ms"] = round((time.perf_counter() - t) * 1000, 1)

# 4. Every panel, --reps times, for the last 30 days and for the whole year (each with its previous period).
def pct(xs, p):
    xs = sorted(xs)
    return round(xs[min(len(xs) - 1, int(round(p * (len(xs) - 1))))] * 1000, 1)

for label, d0 in (("30d", end - dt.timedelta(days=29)), ("365d", start)):
    times = {}
    for _ in range(REPS):
        q = metrics.Query("shop.example", d0, end)
        t = time.perf_counter(); ws = metrics.Workspace(q); times.setdefault("visits", []).append(time.perf_counter() - t)
        for name, fn in (("summary", lambda: metrics.summary(ws)), ("timeseries", lambda: metrics.timeseries(ws)),
                         ("sources", lambda: metrics.breakdown(ws, "source")), ("pages", lambda: metrics.breakdown(ws, "page")),
                         ("entry_pages", lambda: metrics.breakdown(ws, "entry_page")),
                         ("devices", lambda: metrics.breakdown(ws, "device")), ("funnel", lambda: metrics.funnel(ws)),
                         ("revenue_by_source", lambda: metrics.revenue_by_source(ws)),
                         ("not_found", lambda: metrics.not_found(ws))):
            t = time.perf_counter(); fn(); times.setdefault(name, []).append(time.perf_counter() - t)
        ws.close()
        t = time.perf_counter(); selectors.dashboard(site="shop.example", date_from=d0, date_to=end)
        times.setdefault("whole_page", []).append(time.perf_counter() - t)
        t = time.perf_counter(); selectors.dashboard(site="shop.example", date_from=d0, date_to=end, filters={"source": "search"})
        times.setdefault("whole_page_filtered", []).append(time.perf_counter() - t)
    for name, xs in times.items():
        out[f"{label}_{name}_p50_ms"] = pct(xs, 0.5)
        out[f"{label}_{name}_p95_ms"] = pct(xs, 0.95)
# for comparison: grouping the events into visits per request (the way before pre-built visits), once
q = metrics.Query("shop.example", end - dt.timedelta(days=29), end)
t = time.perf_counter(); metrics.Workspace(q, prebuilt=False).close()
out["30d_visits_from_events_ms"] = round((time.perf_counter() - t) * 1000, 1)
print(json.dumps(out))
"""


def bench_dashboard(events: int, orders: int, reps: int, tmp: Path) -> dict:
    data_dir = tmp / "dash"
    _migrate(data_dir)
    out = _child(DASH_CHILD % (events, orders, reps), data_dir)
    print(
        f"dashboard: {out['events']:,} events ({out['purchases']:,} purchases) written in "
        f"{out['events_write_s']} s; {out['orders']:,} orders in SQLite (insert {out['orders_insert_s']} s, "
        f"first export to Parquet {out['orders_export_first_s']} s, incremental export "
        f"{out['orders_export_incremental_ms']} ms); visits built in {out['visits_build_s']} s "
        f"({out['visits_build_ms_per_day']} ms per day; rebuilding one day and its neighbours, as a flush "
        f"does: {out['visits_refresh_one_day_ms']} ms)",
        flush=True,
    )
    for label in ("30d", "365d"):
        parts = [
            f"{k[len(label) + 1 : -7]} {v}"
            for k, v in out.items()
            if k.startswith(label) and k.endswith("_p95_ms")
        ]
        print(f"  p95 ms, {label}: " + ", ".join(parts), flush=True)
    print(f"  30d visits grouped from the events instead: {out['30d_visits_from_events_ms']} ms", flush=True)
    return out


# --- 3. collector under load -------------------------------------------------------------------------

SITE_CHILD = """
import json, django
django.setup()
from zaplecze.analytics.services import site_create
site_create(domain="shop.example", actor=None)
print(json.dumps({}))
"""
COUNT_CHILD = """
import json, django
django.setup()
from zaplecze.analytics import warehouse
r = warehouse.flush()
con = warehouse.connect()
print(json.dumps({"stored": con.execute("SELECT count(*) FROM events").fetchone()[0], "flush": r}))
"""


def bench_collector(total: int, tmp: Path) -> dict:
    import http.client
    import socket
    import threading

    data_dir = tmp / "collect"
    _migrate(data_dir)
    _child(SITE_CHILD, data_dir)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    server = subprocess.Popen(
        [
            str(Path(PY).parent / "gunicorn"),
            "zaplecze.wsgi",
            "-w",
            "2",
            "--threads",
            "4",
            "-b",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
        ],
        env=_env(data_dir),
        cwd=str(REPO),
    )
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.2)
        threads, per = 8, total // 8
        latencies: list[float] = []
        accepted = [0]
        lock = threading.Lock()
        ua = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"

        def worker(k: int) -> None:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            mine, ok = [], 0
            for i in range(per):
                body = json.dumps({"url": f"https://shop.example/p/{i % 100}", "id": f"bench{k:02d}{i:08d}"})
                t = time.perf_counter()
                conn.request(
                    "POST",
                    "/collect",
                    body,
                    {
                        "Content-Type": "text/plain",
                        "User-Agent": ua,
                        "X-Forwarded-For": f"10.0.{k}.{i % 250}",
                    },
                )
                resp = conn.getresponse()
                resp.read()
                mine.append(time.perf_counter() - t)
                ok += resp.status == 202
            with lock:
                latencies.extend(mine)
                accepted[0] += ok

        t0 = time.perf_counter()
        pool = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
        for th in pool:
            th.start()
        for th in pool:
            th.join()
        elapsed = time.perf_counter() - t0
    finally:
        server.terminate()
        server.wait(timeout=30)
    stored = _child(COUNT_CHILD, data_dir)["stored"]
    latencies.sort()
    sent = threads * per
    out = {
        "sent": sent,
        "accepted": accepted[0],
        "stored": stored,
        "events_per_s": round(sent / elapsed),
        "p50_ms": round(latencies[len(latencies) // 2] * 1000, 2),
        "p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1000, 2),
        "sent_equals_stored": sent == stored,
    }
    print(
        f"collector: {sent:,} events sent, {out['accepted']:,} accepted, {stored:,} stored; "
        f"{out['events_per_s']:,} events/s, p50 {out['p50_ms']} ms, p99 {out['p99_ms']} ms",
        flush=True,
    )
    return out


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=100, help="copies of the real log (100 = 1M lines)")
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--reps", type=int, default=5, help="runs per panel (p95 of 5 runs = the slowest)")
    parser.add_argument("--collect", type=int, default=20_000)
    parser.add_argument("--skip-goaccess", action="store_true")
    parser.add_argument("--only", default="log,dashboard,collector")
    args = parser.parse_args(argv)
    only = set(args.only.split(","))
    figures: dict = {}
    tmp = Path(tempfile.mkdtemp(prefix="zaplecze-analytics-bench-"))
    try:
        if "log" in only:
            figures["log_import"] = bench_log(args.copies, tmp, args.skip_goaccess)
        if "dashboard" in only:
            figures["dashboard"] = bench_dashboard(args.events, args.orders, args.reps, tmp)
        if "collector" in only:
            figures["collector"] = bench_collector(args.collect, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return figures


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
