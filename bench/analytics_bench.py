"""Benchmark: traffic analytics (issue #5 figures), each part in child processes with a fresh data dir.

    python bench/analytics_bench.py [--copies 100] [--events 10000000] [--orders 1000000] [--collect 20000]
                                    [--skip-goaccess] [--only log,dashboard,collector]

1. log import: the real access log (../shared/datasets/access-logs/elastic_apache_logs.log, read in place)
   concatenated `--copies` times into a temp file (100 copies = 1,000,000 lines); `zaplecze analytics
   import-log` vs `goaccess FILE --log-format=COMBINED -o report.json` (GoAccess 1.7) on the same file:
   lines/s, the ratio, peak RSS of each, and whether requests / unique visitors agree;
2. dashboard: `--events` synthetic events over 365 days and `--orders` orders (Parquet, as the worker writes
   them); every panel of the dashboard (`selectors.dashboard`) timed `--reps` times for the last 30 days
   and for the whole year: p50/p95 per panel;
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

DASH_CHILD = """
import datetime as dt, json, time, django
django.setup()
import numpy as np, pyarrow as pa
from zaplecze.analytics import metrics, warehouse, selectors
N, M, REPS = %d, %d, %d
rng = np.random.default_rng(7)
end = dt.date(2026, 11, 20)
start = end - dt.timedelta(days=364)
t0 = time.perf_counter()
# visits of 1-6 events; visitors rotate daily; purchases name real orders
n_visits = N // 3
visit_day = rng.integers(0, 365, n_visits)
visit_sec = rng.integers(0, 86000, n_visits)
visit_len = rng.integers(1, 6, n_visits)
idx = np.repeat(np.arange(n_visits), visit_len)[:N]
offset = (np.arange(len(idx)) - np.repeat(np.cumsum(visit_len) - visit_len, visit_len)[:N]) * 40
base = np.datetime64(start.isoformat(), "s").astype("int64")
ts = (base + visit_day[idx] * 86400 + visit_sec[idx] + offset) * 1_000_000
sources = np.array(["search", "direct", "social", "email", "paid", "marketplace", "other"])
devices = np.array(["desktop", "mobile", "tablet"])
pages = np.array([f"/p/{i}" for i in range(2000)])
kinds = np.array(["pageview", "pageview", "product_view", "add_to_cart", "begin_checkout", "purchase"])
step = np.minimum(offset // 40, 5)
kind = kinds[step]
n = len(idx)
order_no = np.where(kind == "purchase", (idx %% M).astype(str), "")
table = pa.table({
  "event_id": pa.array(np.char.add("e", np.arange(n).astype(str))),
  "ts": pa.array(ts, pa.timestamp("us", tz="UTC")),
  "site": pa.array(["shop.example"] * n), "event": pa.array(kind), "name": pa.array([""] * n),
  "visitor": pa.array(idx.astype("int64")), "path": pa.array(pages[rng.integers(0, 2000, n)]),
  "raw_path": pa.array([""] * n), "host": pa.array(["shop.example"] * n), "referrer": pa.array([""] * n),
  "source": pa.array(sources[idx %% 7]), "source_name": pa.array(sources[idx %% 7]),
  "utm_source": pa.array([""] * n), "utm_medium": pa.array([""] * n), "utm_campaign": pa.array([""] * n),
  "utm_content": pa.array([""] * n), "utm_term": pa.array([""] * n),
  "device": pa.array(devices[idx %% 3]), "browser": pa.array(["Chrome"] * n), "os": pa.array(["Windows"] * n),
  "is_bot": pa.array(np.zeros(n, bool)), "is_static": pa.array(np.zeros(n, bool)),
  "sku": pa.array([""] * n), "order_number": pa.array(order_no),
  "value": pa.nulls(n, pa.decimal128(20, 2)), "currency": pa.array([""] * n), "props": pa.array([""] * n),
  "origin": pa.array(["collector"] * n), "status": pa.nulls(n, pa.int16()), "bytes": pa.nulls(n, pa.int64()),
  "method": pa.array([""] * n),
}).cast(warehouse.SCHEMA)
days = (ts // 86_400_000_000).astype("int64")
import pyarrow.compute as pc
day_arr = pa.array(days)
for d in np.unique(days):
    part = table.filter(pc.equal(day_arr, int(d)))
    day = dt.date(1970, 1, 1) + dt.timedelta(days=int(d))
    warehouse.write_parquet_atomic(part, warehouse.partition(day) / "bench.parquet")
from decimal import Decimal
placed = pa.array((base + rng.integers(0, 365 * 86400, M)) * 1_000_000, pa.timestamp("us", tz="UTC"))
orders = pa.table({"id": pa.array(np.arange(M, dtype="int64")), "number": pa.array(np.arange(M).astype(str)),
  "channel": pa.array(["shop"] * M), "stage": pa.array(np.where(rng.random(M) < 0.05, "cancelled", "delivered")),
  "payment_status": pa.array(["paid"] * M), "total_gross": pa.array([Decimal("99.90")] * M, pa.decimal128(20, 2)),
  "currency": pa.array(["PLN"] * M), "placed_at": placed, "updated_at": placed}).cast(warehouse.ORDER_SCHEMA)
warehouse.write_parquet_atomic(orders, warehouse.orders_dir() / "o-00000001.parquet")
setup = time.perf_counter() - t0
out = {"events": n, "orders": M, "setup_s": round(setup, 1)}
for label, d0 in (("30d", end - dt.timedelta(days=29)), ("365d", start)):
    times = {}
    for _ in range(REPS):
        q = metrics.Query("shop.example", d0, end)
        t = time.perf_counter(); ws = metrics.Workspace(q); times.setdefault("build", []).append(time.perf_counter() - t)
        for name, fn in (("summary", lambda: metrics.summary(ws)), ("timeseries", lambda: metrics.timeseries(ws)),
                         ("sources", lambda: metrics.breakdown(ws, "source")), ("pages", lambda: metrics.breakdown(ws, "page")),
                         ("devices", lambda: metrics.breakdown(ws, "device")), ("funnel", lambda: metrics.funnel(ws)),
                         ("revenue_by_source", lambda: metrics.revenue_by_source(ws))):
            t = time.perf_counter(); fn(); times.setdefault(name, []).append(time.perf_counter() - t)
        ws.close()
        t = time.perf_counter(); selectors.dashboard(site="shop.example", date_from=d0, date_to=end)
        times.setdefault("whole_page", []).append(time.perf_counter() - t)
    for name, xs in times.items():
        xs = sorted(xs)
        out[f"{label}_{name}_p50_ms"] = round(xs[len(xs) // 2] * 1000, 1)
        out[f"{label}_{name}_p95_ms"] = round(xs[min(len(xs) - 1, int(round(0.95 * (len(xs) - 1))))] * 1000, 1)
print(json.dumps(out))
"""


def bench_dashboard(events: int, orders: int, reps: int, tmp: Path) -> dict:
    data_dir = tmp / "dash"
    _migrate(data_dir)
    out = _child(DASH_CHILD % (events, orders, reps), data_dir)
    print(
        f"dashboard: {out['events']:,} events, {out['orders']:,} orders (setup {out['setup_s']} s)",
        flush=True,
    )
    for label in ("30d", "365d"):
        parts = [
            f"{k[len(label) + 1 : -7]} {v}"
            for k, v in out.items()
            if k.startswith(label) and k.endswith("_p95_ms")
        ]
        print(f"  p95 ms, {label}: " + ", ".join(parts), flush=True)
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
    parser.add_argument("--reps", type=int, default=10)
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
