"""Benchmark: the storefront check of N product pages served by a local fake shop.

    python bench/catalog_sitecheck_bench.py [--pages 1000] [--concurrency 8] [--rate 0]

1. a fake shop (tests/catalog/fakeshop.py: threaded http.server on 127.0.0.1) in its own process serves
   robots.txt, a sitemap index with two gzip sitemaps, N product pages (schema.org JSON-LD) and one image
   per page; every 10th page shows a wrong price, so the comparison has something to report;
2. in a child process: a fresh SQLite database (temp ZAPLECZE_DATA_DIR), migrate, N products (not timed);
3. timed: `sitecheck.site_check_execute` of one run (sitemap, robots.txt, N pages, N image HEADs, matching,
   comparison, results written), with the rate limit off (or --rate) and --concurrency worker threads.

Prints the total time and pages/s. `bench/run.py` calls `main(argv)`, which returns the figures as a dict.
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

ROOT = Path(__file__).resolve().parents[1]
QUICK_ARGS = ["--pages", "100"]


def _serve(pages: int) -> None:
    """The fake shop (run in its own process): prints its port, then serves until killed."""
    sys.path.insert(0, str(ROOT))
    from tests.catalog.fakeshop import FakeShop, Reply, product_html

    shop = FakeShop().start()
    shop.robots(f"User-agent: *\nAllow: /\nSitemap: {shop.url('/sitemap_index.xml')}\n")
    half = pages // 2
    shop.sitemap("/sitemap_index.xml", ["/sitemap-1.xml.gz", "/sitemap-2.xml.gz"], index=True)
    shop.sitemap("/sitemap-1.xml.gz", [f"/p/{n}" for n in range(half)], gz=True)
    shop.sitemap("/sitemap-2.xml.gz", [f"/p/{n}" for n in range(half, pages)], gz=True)
    for n in range(pages):
        price = "59.99" if n % 10 == 0 else "49.99"
        body = product_html(
            name=f"Produkt {n}",
            sku=f"B-{n:05d}",
            price=price,
            availability="https://schema.org/OutOfStock",
            images=[shop.url(f"/img/{n}.png")],
            body_html="<p>" + "Opis produktu. " * 200 + "</p>",  # a page of ~6 kB
        )
        shop.add(f"/p/{n}", Reply(body=body.encode()))
        shop.image(f"/img/{n}.png")
    print(shop.port, flush=True)
    while True:
        time.sleep(3600)


def _child(pages: int, concurrency: int, rate: float, port: int) -> dict:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "zaplecze.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    from decimal import Decimal

    from zaplecze.catalog import sitecheck
    from zaplecze.catalog.models import Product, Variant

    started = time.perf_counter()
    products = Product.objects.bulk_create(Product(name=f"Produkt {n}") for n in range(pages))
    Variant.objects.bulk_create(
        Variant(product=p, sku=f"B-{n:05d}", name=p.name, price=Decimal("49.99"))
        for n, p in enumerate(products)
    )
    setup_seconds = time.perf_counter() - started
    base = f"http://127.0.0.1:{port}/"
    params = sitecheck.CheckParams(base_url=base, max_pages=pages, rate=rate, concurrency=concurrency)
    run = sitecheck.site_check_start(params=params, queue=False)
    started = time.perf_counter()
    run = sitecheck.site_check_execute(run_id=run.pk)
    seconds = time.perf_counter() - started
    return {
        "pages": run.pages,
        "state": run.state,
        "error": run.error,
        "ok": run.ok,
        "mismatched": run.mismatched,
        "failed": run.failed,
        "seconds": seconds,
        "pages_per_second": run.pages / seconds if seconds else 0.0,
        "concurrency": concurrency,
        "rate": rate,
        "setup_seconds": setup_seconds,
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description="Storefront check of N pages of a local fake shop")
    parser.add_argument("--pages", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rate", type=float, default=0.0, help="requests/s per host (0 = no limit)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        _serve(args.pages)
        return {}
    if args.child:
        out = _child(args.pages, args.concurrency, args.rate, args.port)
        print(json.dumps(out))
        return out
    tmp = Path(tempfile.mkdtemp(prefix="zaplecze-bench-sitecheck-"))
    server = subprocess.Popen(  # noqa: S603 - our own script
        [sys.executable, str(Path(__file__).resolve()), "--serve", "--pages", str(args.pages)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        port = int(server.stdout.readline().strip())
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
            "--pages",
            str(args.pages),
            "--concurrency",
            str(args.concurrency),
            "--rate",
            str(args.rate),
            "--port",
            str(port),
        ]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)  # noqa: S603
        if proc.stderr:
            sys.stderr.write(proc.stderr[-5000:])
        if proc.returncode != 0:
            raise RuntimeError(f"bench child failed with exit code {proc.returncode}")
        out = json.loads(proc.stdout.strip().splitlines()[-1])
    finally:
        server.kill()
        server.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    print(
        f"storefront check: {out['pages']:,} pages ({out['ok']:,} OK, {out['mismatched']:,} mismatched, "
        f"{out['failed']:,} not checked; state {out['state']}) in {out['seconds']:.2f} s = "
        f"{out['pages_per_second']:,.0f} pages/s, concurrency {out['concurrency']}, "
        f"rate limit {'off' if not out['rate'] else str(out['rate']) + '/s'} "
        f"(each page: fetch, parse JSON-LD, HEAD its image, match, compare, write)"
    )
    return out


if __name__ == "__main__":
    main()
