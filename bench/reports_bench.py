"""Benchmark: the monthly sales report over 1,000,000 orders -- the figures, the PDF and the XLSX.

    python bench/reports_bench.py [--orders 1000000] [--seed 1]

In a child process with a fresh database (SQLite in a temp data dir, or a scratch PostgreSQL database
with ZAPLECZE_DATABASE_URL=postgresql://...):
1. setup (printed, not part of the figures): N orders over the last 365 days, one line each, loaded with
   the order-queue benchmark's bulk loader (`queue_bench.load`);
2. timed: the figures of the last full calendar month (`reports.sales.sales_report`: totals, the previous
   period and the same month last year, by day/channel/payment/delivery/customer type, top products,
   customers), then the PDF and the XLSX made from them (`reports.render`), each with its own peak RSS.

`bench/run.py` imports this module and calls `main(argv)`, which returns the figures as a dict.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

QUICK_ARGS = ["--orders", "20000"]
sys.path.insert(0, str(Path(__file__).resolve().parent))


def _child(args) -> dict:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "zaplecze.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone
    from queue_bench import _add_indexes, _drop_indexes, load
    from shipping_bench import _rss_peak_mb, _rss_reset

    from zaplecze.core.businesstime import local_today
    from zaplecze.orders.models import Order, OrderSearchToken
    from zaplecze.reports import render
    from zaplecze.reports.sales import Period, sales_report

    t0 = time.perf_counter()
    call_command("migrate", verbosity=0, interactive=False)
    if connection.vendor == "sqlite":
        with connection.cursor() as c:
            c.execute("PRAGMA journal_mode=OFF")
            c.execute("PRAGMA synchronous=OFF")
    _drop_indexes([Order, OrderSearchToken])
    load(args.orders, args.seed, timezone.now())
    _add_indexes([Order, OrderSearchToken])
    with connection.cursor() as c:
        c.execute("PRAGMA journal_mode=WAL" if connection.vendor == "sqlite" else "VACUUM ANALYZE")
    load_s = time.perf_counter() - t0
    connection.close()

    first = local_today().replace(day=1)
    end = first - dt.timedelta(days=1)
    period = Period(end.replace(day=1), end)
    phases = []

    def phase(name, fn):
        _rss_reset()
        start = time.perf_counter()
        out = fn()
        phases.append(
            {
                "phase": name,
                "seconds": round(time.perf_counter() - start, 2),
                "peak_rss_mb": round(_rss_peak_mb()),
            }
        )
        return out

    data = phase("figures (sales_report)", lambda: sales_report(period))
    pdf = phase("PDF (WeasyPrint, charts via vl-convert)", lambda: render.to_pdf("sales", data))
    xlsx = phase("XLSX (XlsxWriter)", lambda: render.to_xlsx("sales", data))
    return {
        "database": connection.vendor,
        "orders_loaded": args.orders,
        "load_seconds": round(load_s, 1),
        "period": f"{period.start} – {period.end}",
        "orders_in_month": data["orders"],
        "revenue_gross": str(data["revenue_gross"]),
        "pdf_bytes": len(pdf),
        "xlsx_bytes": len(xlsx),
        "phases": phases,
        "total_seconds": round(sum(p["seconds"] for p in phases[:2]), 2),
    }


def main(argv: list[str] | None = None) -> dict:
    from queue_bench import _drop_pg, _scratch_pg

    parser = argparse.ArgumentParser(description="Monthly sales report over 1M orders")
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        out = _child(args)
        print(json.dumps(out, default=str))
        return out
    tmp = Path(tempfile.mkdtemp(prefix="zaplecze-bench-reports-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZAPLECZE_")}
    env.update(
        {"ZAPLECZE_DATA_DIR": str(tmp / "data"), "ZAPLECZE_LOG_LEVEL": "WARNING", "ZAPLECZE_DEMO": "0"}
    )
    scratch = admin = None
    pg_url = os.environ.get("ZAPLECZE_DATABASE_URL", "")
    if pg_url.startswith("postgres"):
        scratch, admin = _scratch_pg(pg_url)
        env["ZAPLECZE_DATABASE_URL"] = scratch
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        "--orders",
        str(args.orders),
        "--seed",
        str(args.seed),
    ]
    try:
        proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, text=True, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"reports bench child failed with exit code {proc.returncode}")
        out = json.loads(proc.stdout.strip().splitlines()[-1])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if scratch:
            _drop_pg(scratch, admin)
    print(
        f"monthly sales report on {out['database']}: {out['orders_loaded']:,} orders loaded "
        f"(setup {out['load_seconds']} s); month {out['period']}: {out['orders_in_month']:,} orders"
    )
    for p in out["phases"]:
        print(f"  {p['phase']:<44} {p['seconds']:>7.2f} s  peak RSS {p['peak_rss_mb']:>5} MB")
    print(f"  PDF {out['pdf_bytes']:,} bytes, XLSX {out['xlsx_bytes']:,} bytes")
    return out


if __name__ == "__main__":
    main()
