"""Benchmark: the catalog quality audit of 100,000 products built from the real Olist product table.

    python bench/catalog_audit_bench.py [--products 100000] [--batch 500] [--pg]
    make bench BENCH_ARGS=catalog_audit

In a child process with a fresh database (a temp ZAPLECZE_DATA_DIR; with --pg or
ZAPLECZE_DATABASE_URL=postgresql://... a scratch database `<name>_audit_bench`, created and dropped):

0. setup (not timed): the 32,951 rows of /work/shared/datasets/olist/olist_products_dataset.csv.gz repeated
   with new SKUs up to N products: `product_photos_qty` images (sizes mostly 1200×1200, some small, some not
   read yet), a description of `product_description_lenght` characters, a name of `product_name_lenght`
   characters, weight and dimensions, the category translated with product_category_name_translation.csv.gz.
   What Olist does not have is drawn from a fixed seed: EANs (most valid, some missing, invalid or shared),
   brands, manufacturers with more or less GPSR data, prices and costs (a few below cost or 0), a price
   history (two entries for a third of the variants, some jumps), stock (some 0), a few eco claims.
1. the full audit (`catalog.audit.audit_run()`): time, products/s, CPU, peak RSS (VmHWM, reset before);
2. an incremental audit of 100 products (what `audit_soon` queues after an edit): time.
Then the findings per rule and the catalog score are printed.

`main(argv)` returns the figures as a dict (for bench/run.py).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import gzip
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

QUICK_ARGS = ["--products", "3000"]
DATA = Path(os.environ.get("ZAPLECZE_OLIST_DIR", "/work/shared/datasets/olist"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

WORDS = (
    "kubek ceramiczny pojemność trwały wygodny materiał zestaw kolor wysokiej jakości idealny prezent "
    "do domu biura kuchni łatwy w czyszczeniu wymiary produkt solidny lekki elegancki nowoczesny design "
    "gwarancja zawartość opakowania instrukcja obsługi bezpieczny dla dzieci od lat"
).split()
ECO = ("produkt ekologiczny", "przyjazny dla środowiska", "eco-friendly", "biodegradowalne opakowanie")


def _int(value: str) -> int | None:
    value = (value or "").strip()
    return int(float(value)) if value else None


def read_olist() -> tuple[list[dict], dict[str, str]]:
    src = DATA / "olist_products_dataset.csv.gz"
    if not src.exists():
        raise SystemExit(f"The Olist product table is missing: {src}")
    with gzip.open(src, "rt", encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    names = {}
    tr = DATA / "product_category_name_translation.csv.gz"
    if tr.exists():
        with gzip.open(tr, "rt", encoding="utf-8-sig", newline="") as fh:
            names = {
                r["product_category_name"]: r["product_category_name_english"] for r in csv.DictReader(fh)
            }
    return rows, names


def _text(rng: random.Random, length: int, prefix: str = "") -> str:
    out = prefix
    while len(out) < length:
        out += (" " if out else "") + rng.choice(WORDS)
    return out[:length].rstrip() if length else ""


def build(n: int, seed: int = 42) -> dict:
    """Create n products from the Olist rows (bulk inserts); returns counts of what was made."""
    from decimal import Decimal

    from django.db import transaction
    from django.utils import timezone
    from stdnum import ean as stdnum_ean

    from zaplecze.catalog.models import Category, Manufacturer, PriceChange, Product, ProductImage, Variant
    from zaplecze.inventory.models import StockLevel
    from zaplecze.inventory.services import warehouse_default

    rows, names = read_olist()
    rng = random.Random(seed)
    categories = {}
    for i, (pt, en) in enumerate(sorted(names.items())):
        categories[pt] = Category(name=en.replace("_", " "), slug=f"olist-{i}")
    Category.objects.bulk_create(categories.values())
    categories = {pt: Category.objects.get(slug=c.slug) for pt, c in categories.items()}
    makers = []
    for i in range(60):
        complete = i % 3 != 0
        country = ["PL", "DE", "CN", "US", "IT"][i % 5]
        makers.append(
            Manufacturer(
                name=f"Producent {i}",
                street="ul. Fabryczna 1" if complete or i % 2 else "",
                postcode="00-001",
                city="Łódź",
                country=country,
                email=f"kontakt{i}@producent.example" if complete else "",
                eu_rp_name="EU Rep Sp. z o.o." if country in ("CN", "US") and i % 4 else "",
                eu_rp_address="ul. Prosta 2, Warszawa" if country in ("CN", "US") and i % 4 else "",
                eu_rp_email="rep@eurep.example" if country in ("CN", "US") and i % 4 else "",
            )
        )
    Manufacturer.objects.bulk_create(makers)
    maker_ids = list(Manufacturer.objects.values_list("pk", flat=True))
    warehouse = warehouse_default()
    now = timezone.now()
    images = variants_n = 0
    chunk = 2000
    eans_used: list[str] = []
    for start in range(0, n, chunk):
        batch = []
        specs = []
        for k in range(start, min(n, start + chunk)):
            r = rows[k % len(rows)]
            rep = k // len(rows)
            cat = categories.get(r["product_category_name"].strip())
            name_len = _int(r["product_name_lenght"]) or 40
            desc_len = _int(r["product_description_lenght"]) or 0
            desc = _text(rng, desc_len)
            if desc and rng.random() < 0.02:
                desc = rng.choice(ECO) + ". " + desc
            batch.append(
                Product(
                    name=_text(rng, name_len, (cat.name.capitalize() if cat else "Produkt") + f" {k}"),
                    category=cat,
                    brand="" if rng.random() < 0.1 else f"Marka {k % 400}",
                    status=Product.Status.DRAFT if rng.random() < 0.03 else Product.Status.ACTIVE,
                    description_html=f"<p>{desc}</p>" if desc else "",
                    manufacturer_id=rng.choice(maker_ids) if rng.random() < 0.8 else None,
                    safety_info="Chronić przed dziećmi." if rng.random() < 0.4 else "",
                )
            )
            specs.append((r, rep, k))
        with transaction.atomic():
            products = Product.objects.bulk_create(batch)
            vrows, irows = [], []
            for p, (r, rep, k) in zip(products, specs, strict=True):
                roll = rng.random()
                if roll < 0.08:
                    ean = ""
                elif roll < 0.10 and eans_used:
                    ean = rng.choice(eans_used)
                else:
                    base = f"59{k:010d}"
                    ean = base + stdnum_ean.calc_check_digit(base)
                    if roll < 0.15:
                        ean = ean[:-1] + str((int(ean[-1]) + 1) % 10)
                    elif len(eans_used) < 5000:
                        eans_used.append(ean)
                price = Decimal(rng.randrange(999, 49999)) / 100
                net = price / Decimal("1.23")
                cost = (net * Decimal(rng.uniform(0.4, 0.7))).quantize(Decimal("0.01"))
                if rng.random() < 0.02:
                    cost = (net * Decimal("1.1")).quantize(Decimal("0.01"))
                if rng.random() < 0.005:
                    price = Decimal("0.00")
                weight = _int(r["product_weight_g"])
                dims = [_int(r[f"product_{d}_cm"]) for d in ("length", "width", "height")]
                vrows.append(
                    Variant(
                        product=p,
                        sku=f"OL{rep}-{r['product_id'][:12]}",
                        ean=ean,
                        name=p.name,
                        price=price,
                        cost_price=cost if rng.random() < 0.9 else None,
                        weight_kg=Decimal(weight) / 1000 if weight is not None else None,
                        length_cm=dims[0],
                        width_cm=dims[1],
                        height_cm=dims[2],
                    )
                )
                for pos in range(_int(r["product_photos_qty"]) or 0):
                    roll = rng.random()
                    w, h = (1200, 1200) if roll < 0.8 else (400, 300) if roll < 0.9 else (800, 600)
                    if roll > 0.97:
                        w = h = None
                    irows.append(
                        ProductImage(
                            product=p,
                            source_url=f"https://img.example/{p.pk}/{pos}.jpg",
                            width=w,
                            height=h,
                            position=pos,
                        )
                    )
            variants = Variant.objects.bulk_create(vrows)
            ProductImage.objects.bulk_create(irows, batch_size=2000)
            StockLevel.objects.bulk_create(
                [
                    StockLevel(
                        variant=v,
                        warehouse=warehouse,
                        on_hand=0 if rng.random() < 0.07 else rng.randrange(1, 50),
                    )
                    for v in variants
                    if rng.random() < 0.95
                ]
            )
            history = []
            for v in variants:
                if rng.random() < 0.33:
                    old = v.price if rng.random() > 0.05 else (v.price * 3).quantize(Decimal("0.01"))
                    history.append(
                        PriceChange(variant=v, price=old, effective_from=now - dt.timedelta(days=20))
                    )
                    history.append(
                        PriceChange(variant=v, price=v.price, effective_from=now - dt.timedelta(days=2))
                    )
            PriceChange.objects.bulk_create(history, batch_size=2000)
        images += len(irows)
        variants_n += len(vrows)
    return {"products": n, "variants": variants_n, "images": images, "olist_rows": len(rows)}


def _child(n: int, batch: int) -> dict:
    from zaplecze.cli import setup_django

    setup_django()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    from django.db import connection
    from shipping_bench import _rss_peak_mb, _rss_reset

    from zaplecze.catalog import audit
    from zaplecze.catalog.models import Product

    t0 = time.perf_counter()
    made = build(n)
    setup_s = time.perf_counter() - t0
    _rss_reset()
    t0, c0 = time.perf_counter(), time.process_time()
    report = audit.audit_run(batch_size=batch)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    rss = _rss_peak_mb()
    summary = audit.catalog_summary()
    some = list(Product.objects.order_by("?").values_list("pk", flat=True)[:100])
    t1 = time.perf_counter()
    inc = audit.audit_run(product_ids=some)
    inc_s = time.perf_counter() - t1
    return {
        "database": connection.vendor,
        **made,
        "setup_seconds": setup_s,
        "audit_seconds": wall,
        "audit_cpu_seconds": cpu,
        "products_per_second": report.products / wall if wall else None,
        "peak_rss_mb": rss,
        "findings": report.findings,
        "by_rule": dict(sorted(report.by_rule.items())),
        "score": summary["score"],
        "by_severity": summary["by_severity"],
        "products_with_findings": summary["products_with_findings"],
        "incremental_products": inc.products,
        "incremental_seconds": inc_s,
        "batch": batch,
    }


def main(argv: list[str] | None = None) -> dict:
    from shipping_bench import PG_DEFAULT, _drop_pg, _scratch_pg

    parser = argparse.ArgumentParser(description="Catalog audit benchmark (Olist products)")
    parser.add_argument("--products", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=500, help="products per audit batch")
    parser.add_argument(
        "--pg",
        action="store_true",
        help=f"PostgreSQL: $ZAPLECZE_DATABASE_URL if it is one, else {PG_DEFAULT} (a scratch database beside it)",
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        out = _child(args.products, args.batch)
        print(json.dumps(out, default=str))
        return out
    pg_url = os.environ.get("ZAPLECZE_DATABASE_URL", "")
    if args.pg and not pg_url.startswith("postgres"):
        pg_url = PG_DEFAULT
    tmp = Path(tempfile.mkdtemp(prefix="zaplecze-bench-audit-"))
    scratch = admin = None
    try:
        env = {
            k: v for k, v in os.environ.items() if not k.startswith("ZAPLECZE_") or k == "ZAPLECZE_OLIST_DIR"
        }
        env.update(
            {
                "ZAPLECZE_DATA_DIR": str(tmp / "data"),
                "DJANGO_SETTINGS_MODULE": "zaplecze.settings",
                "ZAPLECZE_LOG_LEVEL": "WARNING",
                "ZAPLECZE_DEMO": "0",
            }
        )
        if pg_url.startswith("postgres"):
            scratch, admin = _scratch_pg(pg_url, "_audit_bench")
            env["ZAPLECZE_DATABASE_URL"] = scratch
        cmd = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--child",
            "--products",
            str(args.products),
            "--batch",
            str(args.batch),
        ]
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
        f"catalog audit on {out['database']}: {out['products']:,} products from {out['olist_rows']:,} Olist rows "
        f"({out['variants']:,} variants, {out['images']:,} images; setup {out['setup_seconds']:.0f} s)"
    )
    print(
        f"  full audit: {out['audit_seconds']:.1f} s, {out['products_per_second']:,.0f} products/s, "
        f"CPU {out['audit_cpu_seconds']:.1f} s, peak RSS {out['peak_rss_mb']:.0f} MB (batches of {out['batch']})"
    )
    print(
        f"  incremental audit of {out['incremental_products']} products (100 edited + those sharing an EAN/SKU): "
        f"{out['incremental_seconds'] * 1000:.0f} ms"
    )
    sev = out["by_severity"]
    print(
        f"  catalog score {out['score']}; {out['findings']:,} findings on {out['products_with_findings']:,} products "
        f"(error {sev['error']:,}, warning {sev['warning']:,}, info {sev['info']:,})"
    )
    for rule, count in sorted(out["by_rule"].items(), key=lambda kv: -kv[1]):
        print(f"    {rule:<22} {count:>8,}")
    print(f"  (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
    return out


if __name__ == "__main__":
    main()
