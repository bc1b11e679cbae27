"""Benchmark: applying carrier tracking updates to many shipments (SQLite by default, or PostgreSQL).

    python bench/shipping_bench.py [--shipments 10000] [--single 1000] [--pg]

In a child process with a fresh database (a temp ZAPLECZE_DATA_DIR; with --pg or
ZAPLECZE_DATABASE_URL=postgresql://... a scratch database `<name>_shipping_bench` created and dropped):
1. setup (not timed): migrate, one product, N + S paid orders through the batch intake, one InPost shipment
   per order (label ready, tracking number);
2. timed, "apply": `shipping.services.shipments_apply_tracking` (what `zaplecze shipments sync` and the
   periodic poll use for the carrier's answers) for N shipments, each with a three-event history
   (collected_from_sender, out_for_delivery, delivered) -- each moves the shipment to delivered and its order
   to shipped and delivered (stock issued, order events, ledger and audit rows written);
3. timed, "no news": the same histories again (all duplicates: nothing changes);
4. timed, "one by one": `shipment_apply_tracking` called once per shipment (as a webhook or a single
   "ask the carrier" does) for the other S shipments.
Prints shipments/s per phase and each phase's peak RSS (VmHWM, reset before each phase; the whole process,
Django included).

`main(argv)` returns the figures as a dict (for bench/run.py).
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

QUICK_ARGS = ["--shipments", "500", "--single", "100"]
PG_DEFAULT = "postgresql://postgres@127.0.0.1:5432/test"


def _rss_reset() -> None:
    """Reset the peak RSS (VmHWM) of this process, so the next reading is one phase's peak (Linux)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def _rss_peak_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _scratch_pg(url: str, suffix: str) -> tuple[str, str]:
    """Create a scratch database beside the one in `url`; returns (scratch url, admin url)."""
    from urllib.parse import urlsplit, urlunsplit

    import psycopg

    parts = urlsplit(url)
    name = (parts.path.lstrip("/") or "postgres") + suffix
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit(parts._replace(path="/" + name)), url


def _drop_pg(scratch: str, admin: str) -> None:
    from urllib.parse import urlsplit

    import psycopg

    name = urlsplit(scratch).path.lstrip("/")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _child(n: int, single: int) -> dict:
    from zaplecze.cli import setup_django

    setup_django()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    from django.utils import timezone

    from zaplecze.catalog.services import product_create
    from zaplecze.inventory.services import stock_adjust, warehouse_default
    from zaplecze.orders.models import Order
    from zaplecze.orders.schemas import OrderIn
    from zaplecze.orders.services import ingest_orders_batch
    from zaplecze.shipping.carriers import TrackingInfo, TrackingUpdate
    from zaplecze.shipping.carriers.inpost import InPostConnector
    from zaplecze.shipping.models import Carrier, Shipment, ShipmentItem, ShipmentStatus, Submission
    from zaplecze.shipping.services import shipment_apply_tracking, shipments_apply_tracking

    t0 = time.perf_counter()
    product = product_create(name="Kubek", variants=[{"sku": "BENCH-1", "price": "19.99"}])
    stock_adjust(
        variant=product.variants.get(),
        warehouse=warehouse_default(),
        delta=10 * (n + single) + 10,
        kind="receipt",
        reason="bench",
    )
    placed = timezone.now() - dt.timedelta(days=3)
    total = n + single
    for start in range(0, total, 1000):
        items = [
            OrderIn.model_validate(
                {
                    "channel": "shop",
                    "external_id": f"B{i}",
                    "number": f"#B{i}",
                    "placed_at": placed.isoformat(),
                    "paid_at": placed.isoformat(),
                    "payment_method": "card",
                    "payment_status": "paid",
                    "delivery_method": "inpost_locker",
                    "pickup_point": "KRA010",
                    "email": f"c{i}@example.com",
                    "lines": [{"sku": "BENCH-1", "quantity": 1, "unit_price_gross": "19.99"}],
                }
            )
            for i in range(start, min(total, start + 1000))
        ]
        ingest_orders_batch(items, source="bench")
    inpost = Carrier.objects.get(code="inpost")
    now = timezone.now()
    orders = list(Order.objects.values_list("pk", "number"))
    Shipment.objects.bulk_create(
        [
            Shipment(
                order_id=pk,
                carrier=inpost,
                service="inpost_locker_standard",
                status=ShipmentStatus.LABEL_READY,
                raw_status="confirmed",
                reference=f"{number.lstrip('#')}-S",
                submission=Submission.DONE,
                tracking_number=f"6000000000000000{pk:08d}",
                external_id=str(pk),
                target_point="KRA010",
                created_at=now,
                updated_at=now,
                status_at=now,
            )
            for pk, number in orders
        ],
        batch_size=2000,
    )
    lines = dict(Order.objects.values_list("pk", "lines__pk"))
    ShipmentItem.objects.bulk_create(
        [
            ShipmentItem(shipment_id=sid, order_line_id=lines[oid], quantity=1)
            for sid, oid in Shipment.objects.values_list("pk", "order_id")
        ],
        batch_size=2000,
    )
    setup_s = time.perf_counter() - t0

    connector = InPostConnector(base_url="http://127.0.0.1:9")  # mapping only: no request is made
    ids = list(Shipment.objects.order_by("pk").values_list("pk", "tracking_number"))
    base = now + dt.timedelta(hours=1)

    def history(k: int) -> TrackingInfo:
        t = base + dt.timedelta(seconds=k)
        return TrackingInfo(
            "",
            "delivered",
            [
                TrackingUpdate("collected_from_sender", t, "WAW"),
                TrackingUpdate("out_for_delivery", t + dt.timedelta(hours=14), "KRA"),
                TrackingUpdate("delivered", t + dt.timedelta(hours=20), "KRA"),
            ],
        )

    batch_ids, single_ids = ids[:n], ids[n:]
    histories = {sid: history(k) for k, (sid, _number) in enumerate(ids)}

    _rss_reset()
    t0, c0 = time.perf_counter(), time.process_time()
    moved = shipments_apply_tracking(
        updates=[(sid, histories[sid]) for sid, _ in batch_ids], connector=connector
    )
    apply_s, apply_cpu = time.perf_counter() - t0, time.process_time() - c0
    apply_rss = _rss_peak_mb()
    changed = sum(moved.values())

    _rss_reset()
    t0 = time.perf_counter()
    again = shipments_apply_tracking(
        updates=[(sid, histories[sid]) for sid, _ in batch_ids], connector=connector
    )
    noop_s = time.perf_counter() - t0
    noop_rss = _rss_peak_mb()

    _rss_reset()
    t0, c0 = time.perf_counter(), time.process_time()
    single_changed = 0
    for sid, _number in single_ids:
        single_changed += shipment_apply_tracking(shipment_id=sid, info=histories[sid], connector=connector)
    single_s, single_cpu = time.perf_counter() - t0, time.process_time() - c0
    single_rss = _rss_peak_mb()

    from django.db import connection

    from zaplecze.inventory.models import StockMovement
    from zaplecze.orders.models import OrderEvent

    delivered = Order.objects.filter(stage="delivered").count()
    return {
        "database": connection.vendor,
        "shipments": len(batch_ids),
        "setup_seconds": setup_s,
        "apply_seconds": apply_s,
        "apply_cpu_seconds": apply_cpu,
        "apply_peak_rss_mb": apply_rss,
        "changed": changed,
        "orders_delivered": delivered,
        "status_events": OrderEvent.objects.filter(kind="status").count(),
        "sale_movements": StockMovement.objects.filter(kind="sale").count(),
        "noop_seconds": noop_s,
        "noop_changed": sum(again.values()),
        "noop_peak_rss_mb": noop_rss,
        "single_shipments": len(single_ids),
        "single_seconds": single_s,
        "single_cpu_seconds": single_cpu,
        "single_changed": single_changed,
        "single_peak_rss_mb": single_rss,
        "single_per_second": len(single_ids) / single_s if single_s else None,
        "per_second": len(batch_ids) / apply_s if apply_s else None,
        "noop_per_second": len(batch_ids) / noop_s if noop_s else None,
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description="Tracking updates benchmark")
    parser.add_argument("--shipments", type=int, default=10_000, help="shipments applied in batches")
    parser.add_argument("--single", type=int, default=1_000, help="shipments applied one call each")
    parser.add_argument(
        "--pg",
        action="store_true",
        help=f"PostgreSQL: $ZAPLECZE_DATABASE_URL if it is one, else {PG_DEFAULT} (a scratch database beside it)",
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        out = _child(args.shipments, args.single)
        print(json.dumps(out))
        return out
    pg_url = os.environ.get("ZAPLECZE_DATABASE_URL", "")
    if args.pg and not pg_url.startswith("postgres"):
        pg_url = PG_DEFAULT
    tmp = Path(tempfile.mkdtemp(prefix="zaplecze-bench-shipping-"))
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
            scratch, admin = _scratch_pg(pg_url, "_shipping_bench")
            env["ZAPLECZE_DATABASE_URL"] = scratch
        proc = subprocess.run(
            [
                sys.executable,
                str(Path(__file__).resolve()),
                "--child",
                "--shipments",
                str(args.shipments),
                "--single",
                str(args.single),
            ],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
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
        f"tracking updates on {out['database']}: {out['shipments']:,} shipments (3 events each) applied in "
        f"{out['apply_seconds']:.1f} s ({out['per_second']:,.0f}/s, CPU {out['apply_cpu_seconds']:.1f} s, "
        f"peak RSS {out['apply_peak_rss_mb']:.0f} MB); {out['orders_delivered']:,} orders delivered, "
        f"{out['status_events']:,} status events, {out['sale_movements']:,} sale movements (setup "
        f"{out['setup_seconds']:.1f} s)"
    )
    print(
        f"  a poll with no news: {out['noop_seconds']:.1f} s ({out['noop_per_second']:,.0f}/s, peak RSS "
        f"{out['noop_peak_rss_mb']:.0f} MB, {out['noop_changed']} changed)"
    )
    if out["single_shipments"]:
        print(
            f"  one call per shipment (webhook-like): {out['single_shipments']:,} in {out['single_seconds']:.1f} s "
            f"({out['single_per_second']:,.0f}/s, CPU {out['single_cpu_seconds']:.1f} s, peak RSS "
            f"{out['single_peak_rss_mb']:.0f} MB)"
        )
    print(f"  (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
    return out


if __name__ == "__main__":
    main()
