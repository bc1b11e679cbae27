"""Benchmark: import of a generated Shopify-format order CSV on SQLite.

    python bench/import_bench.py [--orders 100000] [--seed 7] [--keep] [--profile]

1. generates a deterministic Shopify "Export orders" CSV (about 1.5 line items per order) in a temp dir;
2. in a child process: a fresh SQLite database (temp ZAPLECZE_DATA_DIR), migrate, 300 products with stock;
3. in another child process: `orders.importing.import_orders` on the file; prints orders/s and the
   child's peak RSS (ru_maxrss: the whole process, Django included);
4. baseline in a third process: the same CSV rows loaded by csv.reader + sqlite3 executemany into one
   plain table; the ratio says how many times longer the real import takes than that raw load.

`bench/run.py` imports this module and calls `main(argv)`, which returns the figures as a dict.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PRODUCTS = 300
QUICK_ARGS = ["--orders", "2000"]
SHOPIFY_HEADER = [
    "Name",
    "Email",
    "Financial Status",
    "Paid at",
    "Fulfillment Status",
    "Fulfilled at",
    "Accepts Marketing",
    "Currency",
    "Subtotal",
    "Shipping",
    "Taxes",
    "Total",
    "Discount Code",
    "Discount Amount",
    "Shipping Method",
    "Created at",
    "Lineitem quantity",
    "Lineitem name",
    "Lineitem price",
    "Lineitem compare at price",
    "Lineitem sku",
    "Lineitem requires shipping",
    "Lineitem taxable",
    "Lineitem fulfillment status",
    "Billing Name",
    "Billing Street",
    "Billing Address1",
    "Billing Address2",
    "Billing Company",
    "Billing City",
    "Billing Zip",
    "Billing Province",
    "Billing Country",
    "Billing Phone",
    "Shipping Name",
    "Shipping Street",
    "Shipping Address1",
    "Shipping Address2",
    "Shipping Company",
    "Shipping City",
    "Shipping Zip",
    "Shipping Province",
    "Shipping Country",
    "Shipping Phone",
    "Notes",
    "Note Attributes",
    "Cancelled at",
    "Payment Method",
    "Payment Reference",
    "Refunded Amount",
    "Vendor",
    "Outstanding Balance",
    "Employee",
    "Location",
    "Device ID",
    "Id",
    "Tags",
    "Risk Level",
    "Source",
    "Lineitem discount",
    "Tax 1 Name",
    "Tax 1 Value",
    "Tax 2 Name",
    "Tax 2 Value",
    "Tax 3 Name",
    "Tax 3 Value",
    "Tax 4 Name",
    "Tax 4 Value",
    "Tax 5 Name",
    "Tax 5 Value",
    "Phone",
    "Receipt Number",
    "Duties",
    "Billing Province Name",
    "Shipping Province Name",
    "Payment ID",
    "Payment Terms Name",
    "Next Payment Due At",
    "Payment References",
]
FIRST = [
    "Anna",
    "Piotr",
    "Katarzyna",
    "Tomasz",
    "Magdalena",
    "Paweł",
    "Agnieszka",
    "Michał",
    "Ewa",
    "Łukasz",
    "Joanna",
    "Krzysztof",
    "Małgorzata",
    "Marcin",
    "Zofia",
    "Jakub",
]
LAST = [
    "Nowak",
    "Kowalska",
    "Wiśniewski",
    "Wójcik",
    "Kamińska",
    "Lewandowski",
    "Zielińska",
    "Szymański",
    "Woźniak",
    "Dąbrowska",
    "Kozłowski",
    "Jankowska",
    "Mazur",
    "Krawczyk",
]
CITIES = [
    ("Warszawa", "00-"),
    ("Kraków", "30-"),
    ("Łódź", "90-"),
    ("Wrocław", "50-"),
    ("Poznań", "60-"),
    ("Gdańsk", "80-"),
    ("Szczecin", "70-"),
    ("Lublin", "20-"),
    ("Katowice", "40-"),
    ("Białystok", "15-"),
]
PAYMENTS = [
    ("Shopify Payments", 40),
    ("Cash on Delivery (COD)", 15),
    ("Bank Deposit", 10),
    ("BLIK", 15),
    ("Przelewy24", 15),
    ("PayPal Express Checkout", 5),
]
SHIPPING = [
    ("InPost Paczkomat 24/7", 50),
    ("DPD Kurier", 20),
    ("Poczta Polska", 10),
    ("InPost Kurier", 15),
    ("Odbiór osobisty", 5),
]


def _pick(rng: random.Random, weighted: list[tuple[str, int]]) -> str:
    return rng.choices([w[0] for w in weighted], weights=[w[1] for w in weighted])[0]


def product_prices(seed: int) -> list[tuple[str, str, str]]:
    rng = random.Random(seed)
    return [
        (f"BENCH-{i:04d}", f"Produkt testowy {i}", f"{rng.randrange(990, 49990) / 100:.2f}")
        for i in range(1, PRODUCTS + 1)
    ]


def generate_csv(path: Path, orders: int, seed: int = 7) -> int:
    """Write a Shopify-format CSV with `orders` orders; returns the number of data rows."""
    rng = random.Random(seed)
    products = product_prices(seed)
    warsaw = dt.timezone(dt.timedelta(hours=1))
    start = dt.datetime(2025, 1, 1, 8, 0, tzinfo=warsaw)
    col = {name: i for i, name in enumerate(SHOPIFY_HEADER)}
    rows = 0
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(SHOPIFY_HEADER)
        for n in range(orders):
            created = start + dt.timedelta(seconds=n * 290 + rng.randrange(0, 200))
            stamp = created.strftime("%Y-%m-%d %H:%M:%S %z")
            k = rng.choices([1, 2, 3, 4], weights=[62, 28, 8, 2])[0]
            items = [(rng.choice(products), rng.choices([1, 2, 3], weights=[75, 20, 5])[0]) for _ in range(k)]
            subtotal = sum(int(round(float(p[2]) * 100)) * q for p, q in items)
            shipping = rng.choice([0, 999, 1299, 1499])
            discount = rng.choice([0] * 8 + [500, 1000])
            total = subtotal + shipping - discount
            financial = rng.choices(
                ["paid", "pending", "authorized", "refunded", "partially_refunded", "voided"],
                weights=[72, 12, 5, 4, 2, 5],
            )[0]
            fulfilment = rng.choices(["fulfilled", "unfulfilled", "partial"], weights=[55, 40, 5])[0]
            cancelled = stamp if financial == "voided" and rng.random() < 0.7 else ""
            customer = rng.randrange(0, max(1, orders // 3))
            first, last = FIRST[customer % len(FIRST)], LAST[(customer // 7) % len(LAST)]
            city, prefix = CITIES[customer % len(CITIES)]
            email = f"klient{customer}@example.com"
            phone = f"+48 {600000000 + customer * 37 % 100000000}"
            name = f"#{100000 + n}"
            for idx, ((sku, pname, price), qty) in enumerate(items):
                row = [""] * len(SHOPIFY_HEADER)
                row[col["Name"]] = name
                row[col["Email"]] = email
                row[col["Created at"]] = stamp
                row[col["Lineitem quantity"]] = str(qty)
                row[col["Lineitem name"]] = pname
                row[col["Lineitem price"]] = price
                row[col["Lineitem sku"]] = sku
                row[col["Lineitem requires shipping"]] = "true"
                row[col["Lineitem taxable"]] = "true"
                row[col["Lineitem fulfillment status"]] = (
                    "fulfilled" if fulfilment == "fulfilled" else "pending"
                )
                row[col["Lineitem discount"]] = "0.00"
                if idx == 0:
                    street = f"ul. Testowa {customer % 200 + 1}"
                    postcode = f"{prefix}{customer % 1000:03d}"
                    row[col["Financial Status"]] = financial
                    if financial in ("paid", "partially_refunded", "refunded"):
                        row[col["Paid at"]] = stamp
                    row[col["Fulfillment Status"]] = fulfilment
                    row[col["Accepts Marketing"]] = "no"
                    row[col["Currency"]] = "PLN"
                    row[col["Subtotal"]] = f"{subtotal / 100:.2f}"
                    row[col["Shipping"]] = f"{shipping / 100:.2f}"
                    row[col["Taxes"]] = f"{(total - round(total / 1.23)) / 100:.2f}"
                    row[col["Total"]] = f"{total / 100:.2f}"
                    row[col["Discount Amount"]] = f"{discount / 100:.2f}"
                    row[col["Shipping Method"]] = _pick(rng, SHIPPING)
                    for kind in ("Billing", "Shipping"):
                        row[col[f"{kind} Name"]] = f"{first} {last}"
                        row[col[f"{kind} Street"]] = street
                        row[col[f"{kind} Address1"]] = street
                        row[col[f"{kind} City"]] = city
                        row[col[f"{kind} Zip"]] = postcode
                        row[col[f"{kind} Country"]] = "PL"
                        row[col[f"{kind} Phone"]] = phone
                    row[col["Cancelled at"]] = cancelled
                    row[col["Payment Method"]] = _pick(rng, PAYMENTS)
                    row[col["Id"]] = str(5_000_000_000 + n)
                    row[col["Tags"]] = "vip" if customer % 50 == 0 else ""
                    row[col["Notes"]] = "Proszę dzwonić przed dostawą" if n % 97 == 0 else ""
                    row[col["Phone"]] = phone
                    row[col["Source"]] = "web"
                w.writerow(row)
                rows += 1
    return rows


# --- child processes ----------------------------------------------------------------------------------


def _child_setup(seed: int) -> dict:
    from zaplecze.cli import setup_django

    setup_django()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    from zaplecze.catalog.services import product_create
    from zaplecze.inventory.services import stock_adjust, warehouse_default

    rng = random.Random(seed + 1)
    wh = warehouse_default()
    for sku, name, price in product_prices(seed):
        product = product_create(name=name, variants=[{"sku": sku, "price": price}])
        stock_adjust(
            variant=product.variants.get(),
            warehouse=wh,
            delta=rng.randrange(100, 1500),
            kind="receipt",
            reason="bench",
        )
    return {"products": PRODUCTS}


def _child_import(csv_path: str, profile: bool) -> dict:
    import resource

    from zaplecze.cli import setup_django

    setup_django()
    from zaplecze.orders.importing import import_orders

    t0, c0 = time.perf_counter(), time.process_time()
    if profile:
        import cProfile
        import pstats

        prof = cProfile.Profile()
        report = prof.runcall(import_orders, path=csv_path, channel="shop", source="bench")
        pstats.Stats(prof, stream=sys.stderr).sort_stats(
            os.environ.get("BENCH_SORT", "cumulative")
        ).print_stats(45)
    else:
        report = import_orders(path=csv_path, channel="shop", source="bench")
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "seconds": seconds,
        "cpu_seconds": cpu,
        "peak_rss_mb": rss_kb / 1024,
        "created": report.created,
        "failed": report.failed,
        "orders": report.orders,
        "rows": report.rows,
        "attention": report.attention,
        "errors": report.errors[:5],
    }


def _child_baseline(csv_path: str, db_path: str) -> dict:
    import sqlite3

    t0 = time.perf_counter()
    con = sqlite3.connect(db_path)
    with open(csv_path, newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        cols = ", ".join(f"c{i} TEXT" for i in range(len(header)))
        con.execute(f"CREATE TABLE raw_rows ({cols})")
        marks = ", ".join("?" * len(header))
        batch: list[list[str]] = []
        rows = 0
        for row in reader:
            batch.append(row)
            if len(batch) >= 5000:
                con.executemany(f"INSERT INTO raw_rows VALUES ({marks})", batch)  # noqa: S608 - fixed columns
                rows += len(batch)
                batch.clear()
        if batch:
            con.executemany(f"INSERT INTO raw_rows VALUES ({marks})", batch)  # noqa: S608
            rows += len(batch)
    con.commit()
    con.close()
    return {"seconds": time.perf_counter() - t0, "rows": rows}


def _run_child(args: list[str], env: dict[str, str]) -> dict:
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.stderr:
        sys.stderr.write(proc.stderr)
    if proc.returncode != 0:
        raise RuntimeError(f"bench child {args[0]} failed with exit code {proc.returncode}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description="Order CSV import benchmark (SQLite)")
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the temp directory")
    parser.add_argument("--profile", action="store_true", help="cProfile the import (stderr)")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        kind, *rest = args.child
        if kind == "setup":
            out = _child_setup(int(rest[0]))
        elif kind == "import":
            out = _child_import(rest[0], rest[1] == "1")
        else:
            out = _child_baseline(rest[0], rest[1])
        print(json.dumps(out))
        return out

    tmp = Path(tempfile.mkdtemp(prefix="zaplecze-bench-import-"))
    try:
        csv_path = tmp / "orders_export.csv"
        t0 = time.perf_counter()
        rows = generate_csv(csv_path, args.orders, args.seed)
        gen_s = time.perf_counter() - t0
        size_mb = csv_path.stat().st_size / 1e6
        print(f"generated {args.orders:,} orders / {rows:,} rows ({size_mb:.1f} MB) in {gen_s:.1f} s")
        env = {k: v for k, v in os.environ.items() if not k.startswith("ZAPLECZE_")}
        env.update(
            {
                "ZAPLECZE_DATA_DIR": str(tmp / "data"),
                "DJANGO_SETTINGS_MODULE": "zaplecze.settings",
                "ZAPLECZE_LOG_LEVEL": "WARNING",
            }
        )
        _run_child(["setup", str(args.seed)], env)
        imp = _run_child(["import", str(csv_path), "1" if args.profile else "0"], env)
        base = _run_child(["baseline", str(csv_path), str(tmp / "baseline.sqlite3")], env)
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    orders_per_s = imp["created"] / imp["seconds"] if imp["seconds"] else 0.0
    baseline_rows_per_s = base["rows"] / base["seconds"] if base["seconds"] else 0.0
    ratio = imp["seconds"] / base["seconds"] if base["seconds"] else float("inf")
    figures = {
        "orders": args.orders,
        "rows": rows,
        "csv_mb": round(size_mb, 1),
        "import_seconds": round(imp["seconds"], 2),
        "orders_per_s": round(orders_per_s),
        "import_cpu_seconds": round(imp["cpu_seconds"], 2),
        "orders_per_cpu_s": round(imp["created"] / imp["cpu_seconds"]) if imp["cpu_seconds"] else 0,
        "peak_rss_mb": round(imp["peak_rss_mb"], 1),
        "created": imp["created"],
        "failed": imp["failed"],
        "needs_attention": imp["attention"],
        "baseline_seconds": round(base["seconds"], 2),
        "baseline_rows_per_s": round(baseline_rows_per_s),
        "ratio_import_vs_baseline": round(ratio, 1),
    }
    print(
        f"import: {imp['created']:,} orders created ({imp['failed']} failed, {imp['attention']:,} need attention) "
        f"in {imp['seconds']:.1f} s = {orders_per_s:,.0f} orders/s; peak RSS {imp['peak_rss_mb']:.0f} MB "
        "(target: >= 1,000 orders/s, < 500 MB)"
    )
    print(
        f"import CPU time {imp['cpu_seconds']:.1f} s = {figures['orders_per_cpu_s']:,} orders per CPU-second "
        "(wall time above this means waiting: other processes or disk)"
    )
    print(
        f"baseline csv.reader + sqlite3 executemany: {base['rows']:,} rows in {base['seconds']:.2f} s "
        f"= {baseline_rows_per_s:,.0f} rows/s"
    )
    print(f"ratio: the import takes {ratio:.1f}x the time of the raw load")
    if imp["errors"]:
        print(f"first errors: {imp['errors']}")
    return figures


if __name__ == "__main__":
    main()
