"""Benchmark: building the Google Merchant Center feed for 100,000 products, streamed (SQLite by default, or
PostgreSQL).

    python bench/catalog_feed_bench.py [--products 100000] [--kinds google,ceneo,csv] [--tracemalloc] [--pg]

In a child process with a fresh database (a temp ZAPLECZE_DATA_DIR; with --pg or
ZAPLECZE_DATABASE_URL=postgresql://... a scratch database `<name>_feed_bench` created and dropped):
1. setup (not timed): migrate; 40 categories in two levels; P active products made with bulk_create, each with
   a brand, an HTML description of ~600 characters, one variant (every 10th product has three, with colour and
   size), two images by URL; a valid EAN on 95 % of the variants (the rest are left out: no GTIN); a running
   promotion in the price history of every 8th variant (sale price and dates in the feed);
2. timed, per kind: `catalog.feeds.feed_build` -- the file written in the data dir through a temp file and a
   rename, the exclusions stored, the feed's counts updated (what the hourly job and "Build now" do).
Prints per kind: time, items/s, database queries, peak RSS (VmHWM, reset before the phase; the whole process,
Django included), the peak of Python allocations (with --tracemalloc, which slows the run) and the file size.

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

QUICK_ARGS = ["--products", "3000"]
sys.path.insert(0, str(Path(__file__).resolve().parent))

DESCRIPTION = (
    "<p><b>Ceramiczny kubek</b> o pojemności 350 ml &amp; grubych ściankach, które dłużej trzymają ciepło.</p>"
    "<ul><li>można myć w zmywarce</li><li>nadaje się do mikrofalówki</li><li>szkliwo bez ołowiu i kadmu</li></ul>"
    "<p>Wymiary: średnica 8,5 cm, wysokość 9,5 cm. Produkt wykonany w Polsce, pakowany w karton z recyklingu. "
    "Idealny na prezent & do biura; kolor może się nieznacznie różnić od zdjęcia.</p>"
)


def _ean13(n: int) -> str:
    body = f"590{n:09d}"
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body))
    return body + str((10 - total % 10) % 10)


def _setup(n_products: int) -> dict:
    import datetime as dt
    from decimal import Decimal

    from django.db import transaction
    from django.utils import timezone

    from zaplecze.catalog.models import Category, PriceChange, Product, ProductImage, Variant

    now = timezone.now()
    with transaction.atomic():
        roots = [Category.objects.create(name=f"Dział {i}", slug=f"dzial-{i}") for i in range(5)]
        cats = [
            Category.objects.create(name=f"Kategoria {r.pk}-{j}", slug=f"kat-{r.pk}-{j}", parent=r)
            for r in roots
            for j in range(7)
        ]
    batch = 5000
    variants_made = images_made = promos = 0
    for start in range(0, n_products, batch):
        size = min(batch, n_products - start)
        with transaction.atomic():
            Product.objects.bulk_create(
                Product(
                    name=f"Kubek ceramiczny {start + i} 350 ml",
                    brand=f"Marka {(start + i) % 300}",
                    category=cats[(start + i) % len(cats)],
                    description_html=DESCRIPTION,
                    status=Product.Status.ACTIVE,
                )
                for i in range(size)
            )
            products = list(Product.objects.order_by("-pk").values_list("pk", flat=True)[:size])[::-1]
            variants = []
            for i, pid in enumerate(products):
                n = start + i
                count = 3 if n % 10 == 0 else 1
                for k in range(count):
                    sku = f"K-{n:06d}-{k}"
                    variants.append(
                        Variant(
                            product_id=pid,
                            sku=sku,
                            ean=_ean13(n * 3 + k) if n % 20 else "",
                            mpn="",
                            name=f"Kubek ceramiczny {n} 350 ml",
                            price=Decimal("39.99") + (n % 50),
                            weight_kg=Decimal("0.450"),
                            attributes={"kolor": ["biały", "czarny", "zielony"][k], "rozmiar": "350 ml"}
                            if count > 1
                            else {},
                        )
                    )
            Variant.objects.bulk_create(variants, batch_size=2000)
            variants_made += len(variants)
            ProductImage.objects.bulk_create(
                (
                    ProductImage(
                        product_id=pid,
                        source_url=f"https://shop.example/img/{pid}-{pos}.jpg",
                        position=pos,
                        width=1200,
                        height=1200,
                    )
                    for pid in products
                    for pos in range(2)
                ),
                batch_size=5000,
            )
            images_made += 2 * len(products)
            ids = list(
                Variant.objects.filter(product_id__in=products).order_by("pk").values_list("pk", "price")
            )
            history = []
            for j, (vid, price) in enumerate(ids):
                if j % 8 == 0:
                    history.append(
                        PriceChange(variant_id=vid, price=price, effective_from=now - dt.timedelta(days=90))
                    )
                    history.append(
                        PriceChange(
                            variant_id=vid,
                            price=price - 10,
                            kind=PriceChange.Kind.PROMO,
                            effective_from=now - dt.timedelta(days=3),
                        )
                    )
                    history.append(
                        PriceChange(variant_id=vid, price=price, effective_from=now + dt.timedelta(days=4))
                    )
                    promos += 1
            PriceChange.objects.bulk_create(history, batch_size=5000)
    return {"variants": variants_made, "images": images_made, "promotions": promos}


def _child(n_products: int, kinds: list[str], use_tracemalloc: bool) -> dict:
    from zaplecze.cli import setup_django

    setup_django()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    from django.db import connection
    from shipping_bench import _rss_peak_mb, _rss_reset

    from zaplecze.catalog import feeds

    t0 = time.perf_counter()
    made = _setup(n_products)
    setup_seconds = time.perf_counter() - t0
    phases = []
    for kind in kinds:
        feed = feeds.feed_create(
            data={
                "name": f"Bench {kind}",
                "kind": kind,
                "link_template": "https://shop.example/p/{sku}",
                "shipping_price": "12.99",
            }
        )
        queries = [0]

        def count(execute, sql, params, many, context, queries=queries):
            queries[0] += 1
            return execute(sql, params, many, context)

        if use_tracemalloc:
            import tracemalloc

            tracemalloc.start()
        _rss_reset()
        t0, c0 = time.perf_counter(), time.process_time()
        with connection.execute_wrapper(count):
            stats = feeds.feed_build(feed_id=feed.pk)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        rss = _rss_peak_mb()
        py_peak = None
        if use_tracemalloc:
            py_peak = tracemalloc.get_traced_memory()[1] / 1024 / 1024
            tracemalloc.stop()
        feed.refresh_from_db()
        phases.append(
            {
                "kind": kind,
                "seconds": wall,
                "cpu_seconds": cpu,
                "items": stats.items,
                "excluded": stats.excluded,
                "by_reason": dict(stats.by_reason),
                "items_per_second": (stats.items + stats.excluded) / wall if wall else None,
                "queries": queries[0],
                "peak_rss_mb": rss,
                "python_peak_mb": py_peak,
                "file_mb": feed.size_bytes / 1024 / 1024,
            }
        )
    return {
        "database": connection.vendor,
        "products": n_products,
        **made,
        "setup_seconds": setup_seconds,
        "phases": phases,
    }


def main(argv: list[str] | None = None) -> dict:
    from shipping_bench import PG_DEFAULT, _drop_pg, _scratch_pg

    parser = argparse.ArgumentParser(description="Google (Ceneo, CSV) feed build benchmark")
    parser.add_argument("--products", type=int, default=100_000)
    parser.add_argument("--kinds", default="google", help="comma-separated: google, ceneo, csv")
    parser.add_argument(
        "--tracemalloc", action="store_true", help="also the peak of Python allocations (slower)"
    )
    parser.add_argument(
        "--pg",
        action="store_true",
        help=f"PostgreSQL: $ZAPLECZE_DATABASE_URL if it is one, else {PG_DEFAULT} (a scratch database beside it)",
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    unknown = [k for k in kinds if k not in ("google", "ceneo", "csv")]
    if unknown:
        parser.error(f"unknown kind(s): {', '.join(unknown)}")
    if args.child:
        out = _child(args.products, kinds, args.tracemalloc)
        print(json.dumps(out))
        return out
    pg_url = os.environ.get("ZAPLECZE_DATABASE_URL", "")
    if args.pg and not pg_url.startswith("postgres"):
        pg_url = PG_DEFAULT
    tmp = Path(tempfile.mkdtemp(prefix="zaplecze-bench-feed-"))
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
            scratch, admin = _scratch_pg(pg_url, "_feed_bench")
            env["ZAPLECZE_DATABASE_URL"] = scratch
        cmd = [sys.executable, str(Path(__file__).resolve()), "--child", "--products", str(args.products)]
        cmd += ["--kinds", ",".join(kinds)] + (["--tracemalloc"] if args.tracemalloc else [])
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
        f"feeds on {out['database']}: {out['products']:,} products, {out['variants']:,} variants, "
        f"{out['images']:,} images by URL, {out['promotions']:,} running promotions (setup {out['setup_seconds']:.1f} s)"
    )
    for p in out["phases"]:
        py = f"  Python peak {p['python_peak_mb']:.0f} MB" if p["python_peak_mb"] is not None else ""
        print(
            f"  {p['kind']:<7} {p['items']:>7,} items + {p['excluded']:>6,} left out  {p['seconds']:>6.1f} s "
            f"{p['items_per_second']:>8,.0f} variants/s  CPU {p['cpu_seconds']:>6.1f} s  {p['queries']:>5} queries  "
            f"peak RSS {p['peak_rss_mb']:>4.0f} MB{py}  file {p['file_mb']:.1f} MB"
        )
        print(f"          left out by reason: {p['by_reason']}")
    print(f"  (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
    return out


if __name__ == "__main__":
    main()
