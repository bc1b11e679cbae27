"""Benchmark: applying carrier tracking updates to many shipments on SQLite.

    python bench/shipping_bench.py [--shipments 10000]

In a child process with a fresh SQLite database (temp ZAPLECZE_DATA_DIR):
1. setup (not timed): migrate, one product, N paid orders through the batch intake, one InPost shipment per
   order (label ready, tracking number);
2. timed: `shipping.services.shipment_apply_tracking` for every shipment with a three-event history
   (collected_from_sender, out_for_delivery, delivered) -- each moves the shipment to delivered and its order
   to shipped and delivered (stock issued, order events and audit rows written);
3. timed: the same histories again (all duplicates: nothing changes), the cost of a poll with no news.
Prints shipments/s and the child's peak RSS (ru_maxrss: the whole process, Django included).

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


def _child(n: int) -> dict:
    import resource

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
    from zaplecze.shipping.services import shipment_apply_tracking

    t0 = time.perf_counter()
    product = product_create(name="Kubek", variants=[{"sku": "BENCH-1", "price": "19.99"}])
    stock_adjust(
        variant=product.variants.get(),
        warehouse=warehouse_default(),
        delta=10 * n + 10,
        kind="receipt",
        reason="bench",
    )
    placed = timezone.now() - dt.timedelta(days=3)
    for start in range(0, n, 1000):
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
            for i in range(start, min(n, start + 1000))
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

    t0, c0 = time.perf_counter(), time.process_time()
    changed = 0
    for k, (sid, _number) in enumerate(ids):
        changed += shipment_apply_tracking(shipment_id=sid, info=history(k), connector=connector)
    apply_s, apply_cpu = time.perf_counter() - t0, time.process_time() - c0
    t0 = time.perf_counter()
    again = 0
    for k, (sid, _number) in enumerate(ids):
        again += shipment_apply_tracking(shipment_id=sid, info=history(k), connector=connector)
    noop_s = time.perf_counter() - t0
    delivered = Order.objects.filter(stage="delivered").count()
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "shipments": len(ids),
        "setup_seconds": setup_s,
        "apply_seconds": apply_s,
        "apply_cpu_seconds": apply_cpu,
        "changed": changed,
        "orders_delivered": delivered,
        "noop_seconds": noop_s,
        "noop_changed": again,
        "peak_rss_mb": rss_kb / 1024,
        "per_second": len(ids) / apply_s if apply_s else None,
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description="Tracking updates benchmark (SQLite)")
    parser.add_argument("--shipments", type=int, default=10_000)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        out = _child(args.shipments)
        print(json.dumps(out))
        return out
    tmp = Path(tempfile.mkdtemp(prefix="zaplecze-bench-shipping-"))
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
        proc = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--child", "--shipments", str(args.shipments)],
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
    print(
        f"tracking updates: {out['shipments']:,} shipments (3 events each) applied in {out['apply_seconds']:.1f} s "
        f"({out['per_second']:,.0f}/s, CPU {out['apply_cpu_seconds']:.1f} s); {out['orders_delivered']:,} orders "
        f"delivered; a poll with no news: {out['noop_seconds']:.1f} s; peak RSS {out['peak_rss_mb']:.0f} MB "
        f"(setup {out['setup_seconds']:.1f} s)"
    )
    return out


if __name__ == "__main__":
    main()
