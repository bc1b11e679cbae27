"""Benchmark: historical order import (orders.history, issue #7 point 8) on SQLite, in a child process with a
fresh data dir.

    python bench/history_import_bench.py [--dataset online-retail|cdnow|both] [--limit ROWS]

Imports the real UCI Online Retail file (541,909 invoice lines, ../shared/datasets/online-retail) with the
`online-retail` preset, and/or CDNOW (69,659 purchases) with the `cdnow` preset, into a new database:
wall time, rows/s, orders and lines created, and the child's peak RSS (ru_maxrss, the whole process:
Python, Django and the import). Then the same file again (idempotent re-run: every order is found and
skipped) and one month's sales report on the imported data. `--limit` imports only the first ROWS rows of
a copy (a smoke run). `main(argv)` returns the figures as a dict (bench/run.py).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

QUICK_ARGS = ["--limit", "50000", "--dataset", "online-retail"]
REPO = Path(__file__).resolve().parents[1]
DATASETS = REPO.parent / "shared" / "datasets"
FILES = {
    "online-retail": DATASETS / "online-retail" / "online_retail.csv.gz",
    "cdnow": DATASETS / "cdnow" / "CDNOW_master.txt.gz",
}

CHILD = r"""
import datetime as dt, json, resource, sys, time
from pathlib import Path

import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)

from zaplecze.orders.history import history_import, mapping_load
from zaplecze.orders.models import Channel, Order, OrderLine
from zaplecze.reports.sales import Period, sales_report

args = json.loads(sys.argv[1])
out = {}
for name, path in args["files"].items():
    Channel.objects.create(code=name, name=name, kind="other")
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    r = history_import(path=Path(path), mapping=mapping_load(preset=name), channel=name)
    seconds = time.perf_counter() - started
    t0 = time.perf_counter()
    again = history_import(path=Path(path), mapping=mapping_load(preset=name), channel=name)
    rerun = time.perf_counter() - t0
    month = Period(dt.date(2011, 11, 1), dt.date(2011, 11, 30)) if name == "online-retail" else Period(dt.date(1997, 3, 1), dt.date(1997, 3, 31))
    t0 = time.perf_counter()
    rep = sales_report(month, currency="GBP" if name == "online-retail" else "USD", channel=name)
    report_s = time.perf_counter() - t0
    out[name] = {
        "rows": r.rows, "orders_created": r.created, "cancellations": r.cancelled, "lines": r.lines,
        "customers_created": r.customers_created, "failed": r.failed, "skipped_rows": r.skipped_rows,
        "seconds": round(seconds, 1), "rows_per_s": round(r.rows / seconds),
        "orders_per_s": round(r.created / seconds),
        "peak_rss_mb_before": round(rss_before / 1024),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "rerun_seconds": round(rerun, 1), "rerun_created": again.created, "rerun_existing": again.existing,
        "month_report_seconds": round(report_s, 2), "month_orders": rep["orders"],
    }
    f = out[name]
    print(f"{name}: {f['rows']:,} rows -> {f['orders_created']:,} orders ({f['cancellations']:,} cancellations), "
          f"{f['lines']:,} lines, {f['customers_created']:,} customers in {f['seconds']} s = {f['rows_per_s']:,} rows/s; "
          f"peak RSS {f['peak_rss_mb']} MB (after Django setup and migrate: {f['peak_rss_mb_before']} MB); "
          f"re-run {f['rerun_seconds']} s ({f['rerun_created']} created, {f['rerun_existing']:,} found); "
          f"one month's sales report {f['month_report_seconds']} s", flush=True)
out["db_orders"] = Order.objects.count()
out["db_lines"] = OrderLine.objects.count()
print("JSON " + json.dumps(out))
"""


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=["online-retail", "cdnow", "both"], default="online-retail")
    parser.add_argument("--limit", type=int, default=0, help="import only the first ROWS rows (smoke run)")
    args = parser.parse_args(argv)
    names = ["online-retail", "cdnow"] if args.dataset == "both" else [args.dataset]
    missing = [str(FILES[n]) for n in names if not FILES[n].exists()]
    if missing:
        raise RuntimeError(
            f"dataset not found: {', '.join(missing)} (../shared/datasets next to the repository)"
        )
    data_dir = Path(tempfile.mkdtemp(prefix="zaplecze-bench-history-"))
    files = {}
    for n in names:
        files[n] = str(FILES[n])
        if args.limit:
            part = data_dir / f"{n}-first-{args.limit}.txt"
            with gzip.open(FILES[n], "rt", encoding="utf-8") as src, open(part, "w", encoding="utf-8") as dst:
                for i, line in enumerate(src):
                    if i > args.limit:
                        break
                    dst.write(line)
            files[n] = str(part)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZAPLECZE_")}
    env.update(
        ZAPLECZE_DATA_DIR=str(data_dir / "data"),
        DJANGO_SETTINGS_MODULE="zaplecze.settings",
        PYTHONPATH=f"{REPO / 'src'}{os.pathsep}{REPO}",
    )
    try:
        proc = subprocess.run(
            [sys.executable, "-c", CHILD, json.dumps({"files": files})],
            env=env,
            cwd=REPO,
            capture_output=True,
            text=True,
            check=False,
        )
        for line in proc.stdout.splitlines():
            if not line.startswith("JSON "):
                print(line)
        if proc.returncode:
            print(proc.stderr[-5000:], file=sys.stderr)
            raise RuntimeError(f"history import bench child failed ({proc.returncode})")
        return json.loads(next(ln for ln in proc.stdout.splitlines() if ln.startswith("JSON "))[5:])
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1:]), indent=2))
