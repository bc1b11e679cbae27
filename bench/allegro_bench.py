"""Benchmark: the Allegro connector (issue #9 figure "initial import ... from the fake Allegro server") on
SQLite, in a child process with a fresh data dir.

    python bench/allegro_bench.py [--orders 50000] [--changes 1000]

1. initial import: `--orders` checkout forms on the fake Allegro API (tests/integrations/fake_allegro.py, a
   threaded http.server on loopback in the same process, serving the docs' checkout-form shape, 100 per
   page, offset + limit <= 10 000 as Allegro enforces, so the window moves on every 10 000 forms) imported
   by `services.connection_sync` (the real connector with its bearer token, HTTP client, sync engine and
   `ingest_orders_batch`): orders/s, pages, and orders stored = orders served;
2. journal import: `--changes` of those orders change on Allegro (a fulfilment status change each, one
   order event each); the next import follows `/order/events` from the cursor and fetches each changed
   checkout form (one GET per order, as on Allegro): orders/s, and every change taken in.
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
from pathlib import Path

QUICK_ARGS = ["--orders", "2000", "--changes", "200"]
REPO = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, sys, time

import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)

from zaplecze.integrations import crypto, services
from zaplecze.integrations.models import Connection
from zaplecze.orders.models import Order
from tests.integrations.fake_allegro import CLIENT_ID, CLIENT_SECRET, FakeAllegro, allegro_form

args = json.loads(sys.argv[1])
out = {}
fake = FakeAllegro([allegro_form(i) for i in range(1, args["orders"] + 1)]).start()
conn = services.connection_create(
    channel_code="allegro", platform="allegro", base_url=fake.url,
    credentials={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}, actor=None,
)
Connection.objects.filter(pk=conn.pk).update(credentials_encrypted=crypto.encrypt(fake.credentials()))
started = time.perf_counter()
run = services.connection_sync(connection_id=conn.pk)
seconds = time.perf_counter() - started
stored = Order.objects.filter(channel__code="allegro").count()
windows = sum(1 for q in fake.calls("/order/checkout-forms") if q.get("offset") == "0")
out["import"] = {
    "orders_served": args["orders"], "orders_stored": stored, "pages": run.pages, "windows": windows,
    "outcome": run.outcome, "seconds": round(seconds, 1), "orders_per_s": round(stored / seconds, 1),
}
print(f"initial import: {stored} orders in {seconds:.1f} s = {stored / seconds:.0f} orders/s "
      f"({run.pages} pages, {windows} offset windows, outcome {run.outcome})", flush=True)

step = max(1, args["orders"] // max(1, args["changes"]))
changed = fake.forms[::step][: args["changes"]]
for form in changed:
    fake.change(form, fulfillment="PROCESSING")
started = time.perf_counter()
run = services.connection_sync(connection_id=conn.pk)
seconds = time.perf_counter() - started
moved = Order.objects.filter(channel__code="allegro", stage="in_fulfilment").count()
out["journal"] = {
    "events": len(changed), "orders_updated": run.updated, "in_fulfilment": moved, "pages": run.pages,
    "outcome": run.outcome, "seconds": round(seconds, 1), "orders_per_s": round(run.updated / seconds, 1),
}
print(f"journal import: {run.updated} changed orders in {seconds:.1f} s = {run.updated / seconds:.0f} orders/s "
      f"({run.pages} event pages, outcome {run.outcome}; {moved} now in fulfilment)", flush=True)
fake.stop()
print("JSON " + json.dumps(out))
"""


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=50_000)
    parser.add_argument("--changes", type=int, default=1000)
    args = parser.parse_args(argv)
    data_dir = Path(tempfile.mkdtemp(prefix="zaplecze-bench-allegro-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZAPLECZE_")}
    env.update(
        ZAPLECZE_DATA_DIR=str(data_dir),
        DJANGO_SETTINGS_MODULE="zaplecze.settings",
        PYTHONPATH=f"{REPO / 'src'}{os.pathsep}{REPO}",
    )
    try:
        proc = subprocess.run(
            [sys.executable, "-c", CHILD, json.dumps(vars(args))],
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
            raise RuntimeError(f"allegro bench child failed ({proc.returncode})")
        return json.loads(next(ln for ln in proc.stdout.splitlines() if ln.startswith("JSON "))[5:])
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1:]), indent=2))
