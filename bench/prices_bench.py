"""Benchmark: Omnibus reference prices for a whole catalog, and a bulk price change (SQLite).

    python bench/prices_bench.py [--variants 100000] [--entries 4] [--reprice 10000]

In a child process with a fresh data dir:
0. setup (not timed): migrate; V products with one variant each (bulk inserts), each with E history entries
   over the last 120 days (regular prices, every third variant ending in a promotion since yesterday);
1. `catalog.omnibus.effective_prices(all ids)` at now: time, variants/s, queries, peak RSS; the number of
   variants with a reference price is checked against the promotions written;
2. `reprice_preview` of R variants (-10 %, round to ,99, min. margin 15 %) then `reprice_apply` and
   `reprice_undo`: time of each.

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

QUICK_ARGS = ["--variants", "5000", "--reprice", "500"]
sys.path.insert(0, str(Path(__file__).resolve().parent))


def _child(n_variants: int, n_entries: int, n_reprice: int) -> dict:
    from zaplecze.cli import setup_django

    setup_django()
    import datetime as dt
    from decimal import Decimal

    from django.core.management import call_command
    from django.db import connection, reset_queries
    from django.utils import timezone

    call_command("migrate", interactive=False, verbosity=0)
    from shipping_bench import _rss_peak_mb, _rss_reset

    from zaplecze.catalog.models import PriceChange, Product, Variant
    from zaplecze.catalog.omnibus import effective_prices
    from zaplecze.catalog.reprice import reprice_apply, reprice_preview, reprice_undo

    now = timezone.now()
    t0 = time.perf_counter()
    batch = 5000
    promos = 0
    for start in range(0, n_variants, batch):
        count = min(batch, n_variants - start)
        products = Product.objects.bulk_create(
            [
                Product(name=f"Bench product {start + i}", created_at=now - dt.timedelta(days=120))
                for i in range(count)
            ]
        )
        variants = Variant.objects.bulk_create(
            [
                Variant(
                    product=p,
                    sku=f"B-{start + i:07d}",
                    name=p.name,
                    price=Decimal("100.00"),
                    cost_price=Decimal("40.00"),
                )
                for i, p in enumerate(products)
            ]
        )
        rows = []
        for i, v in enumerate(variants):
            n = start + i
            for k in range(n_entries):
                rows.append(
                    PriceChange(
                        variant=v,
                        price=Decimal(100 + (n + k) % 7 * 5),
                        effective_from=now - dt.timedelta(days=120 - k * 25),
                        source="bench",
                    )
                )
            if n % 3 == 0:
                promos += 1
                rows.append(
                    PriceChange(
                        variant=v,
                        price=Decimal("79.99"),
                        kind="promo",
                        effective_from=now - dt.timedelta(days=1),
                    )
                )
        PriceChange.objects.bulk_create(rows, batch_size=5000)
    setup_seconds = time.perf_counter() - t0
    ids = list(Variant.objects.values_list("pk", flat=True))

    _rss_reset()
    connection.force_debug_cursor = True
    reset_queries()
    t0 = time.perf_counter()
    found = effective_prices(ids, "", now)
    seconds = time.perf_counter() - t0
    queries = len(connection.queries)
    connection.force_debug_cursor = False
    with_reference = sum(1 for e in found.values() if e.reference is not None)
    omnibus = {
        "variants": len(ids),
        "seconds": seconds,
        "variants_per_second": len(ids) / seconds if seconds else None,
        "queries": queries,
        "peak_rss_mb": _rss_peak_mb(),
        "with_reference": with_reference,
        "promotions_written": promos,
    }
    assert with_reference >= promos, (with_reference, promos)

    target = ids[:n_reprice]
    # Variants without a running promotion (every third has one): those are refused, the rest change.
    t0 = time.perf_counter()
    bulk = reprice_preview(variant_ids=target, percent="-10", round_99=True, min_margin="15")
    preview_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    bulk = reprice_apply(bulk, None)
    apply_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    reprice_undo(bulk, None)
    undo_s = time.perf_counter() - t0
    reprice = {
        "variants": len(target),
        "changed": bulk.summary.get("applied", 0),
        "refused": bulk.summary.get("refused", 0),
        "preview_seconds": preview_s,
        "apply_seconds": apply_s,
        "undo_seconds": undo_s,
    }
    return {"setup_seconds": setup_seconds, "omnibus": omnibus, "reprice": reprice}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description="Omnibus reference price and bulk reprice benchmark")
    parser.add_argument("--variants", type=int, default=100_000)
    parser.add_argument("--entries", type=int, default=4, help="regular history entries per variant")
    parser.add_argument("--reprice", type=int, default=10_000, help="variants in the bulk price change")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        out = _child(args.variants, args.entries, args.reprice)
        print(json.dumps(out))
        return out
    tmp = Path(tempfile.mkdtemp(prefix="zaplecze-bench-prices-"))
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
            "--entries",
            str(args.entries),
            "--reprice",
            str(args.reprice),
        ]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        if proc.stderr:
            sys.stderr.write(proc.stderr[-5000:])
        if proc.returncode != 0:
            raise RuntimeError(f"bench child failed with exit code {proc.returncode}")
        out = json.loads(proc.stdout.strip().splitlines()[-1])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    o, r = out["omnibus"], out["reprice"]
    print(
        f"effective_prices + Omnibus reference for {o['variants']:,} variants: {o['seconds']:.2f} s "
        f"({o['variants_per_second']:,.0f}/s), {o['queries']} queries, peak RSS {o['peak_rss_mb']:.0f} MB; "
        f"{o['with_reference']:,} with a reference"
    )
    print(
        f"reprice {r['variants']:,} variants (-10 %, ,99, min. margin 15 %): preview {r['preview_seconds']:.2f} s, "
        f"apply {r['apply_seconds']:.2f} s ({r['changed']:,} changed, {r['refused']:,} refused), "
        f"undo {r['undo_seconds']:.2f} s"
    )
    return out


if __name__ == "__main__":
    main()
