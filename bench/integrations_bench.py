"""Benchmark: integrations (issue #9 figures) on SQLite, in a child process with a fresh data dir.

    python bench/integrations_bench.py [--orders 50000] [--webhooks 2000] [--replays 200] [--threads 4]

1. initial import: `--orders` orders on the fake WooCommerce API (tests/integrations/fake_woo.py, a
   threaded http.server on loopback in the same process, serving the docs' order shape, 100 per page
   with X-WP-TotalPages) imported by `services.connection_sync` (the real connector, HTTP client, sync
   engine and `ingest_orders_batch`): orders/s, pages, and orders stored = orders served;
2. webhooks: the real WSGI app served on loopback (wsgiref, one thread per request) receiving
   `--webhooks` signed `order.created` deliveries of new orders plus `--replays` repeats of already-sent
   delivery ids, from `--threads` client threads: deliveries/s answered (signature check, dedupe, store,
   enqueue), p50/p99, every answer 2xx; then the stored deliveries are processed as the worker does
   (`delivery_process` one by one): deliveries/s processed, and deliveries sent = orders stored.
Jobs queued by the intake (automation events, e.g. shipping's ship-by) go to the worker's queue and are
not run here: the figures are the intake's, as in production where the worker runs them later.
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

QUICK_ARGS = ["--orders", "2000", "--webhooks", "200", "--replays", "20"]
REPO = Path(__file__).resolve().parents[1]

CHILD = r"""
import base64, datetime as dt, hashlib, hmac, json, os, statistics, sys, threading, time, http.client
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)

from zaplecze.integrations import services
from zaplecze.integrations.models import WebhookDelivery
from zaplecze.orders.models import Order
from tests.integrations.fake_woo import KEY, SECRET, FakeWoo, woo_order

args = json.loads(sys.argv[1])
out = {}
fake = FakeWoo([woo_order(i) for i in range(1, args["orders"] + 1)]).start()
conn = services.connection_create(
    channel_code="shop", platform="woocommerce", base_url=fake.url,
    credentials={"consumer_key": KEY, "consumer_secret": SECRET, "webhook_secret": "bench-secret"}, actor=None,
)
started = time.perf_counter()
run = services.connection_sync(connection_id=conn.pk)
seconds = time.perf_counter() - started
stored = Order.objects.count()
out["import"] = {
    "orders_served": args["orders"], "orders_stored": stored, "pages": run.pages, "outcome": run.outcome,
    "seconds": round(seconds, 1), "orders_per_s": round(stored / seconds, 1),
}
print(f"initial import: {stored} orders in {seconds:.1f} s = {stored / seconds:.0f} orders/s "
      f"({run.pages} pages, outcome {run.outcome})", flush=True)
fake.stop()

class Quiet(WSGIRequestHandler):
    def log_message(self, *a):
        pass

class Threading(ThreadingMixIn, WSGIServer):
    daemon_threads = True

from django.core.wsgi import get_wsgi_application
server = make_server("127.0.0.1", 0, get_wsgi_application(), server_class=Threading, handler_class=Quiet)
threading.Thread(target=server.serve_forever, daemon=True).start()
port = server.server_address[1]
path = f"/hooks/woocommerce/{conn.webhook_token}/"

def signed(n, delivery):
    body = json.dumps(woo_order(n)).encode()
    sig = base64.b64encode(hmac.new(b"bench-secret", body, hashlib.sha256).digest()).decode()
    return body, {"Content-Type": "application/json", "X-WC-Webhook-Signature": sig,
                  "X-WC-Webhook-Delivery-ID": delivery, "X-WC-Webhook-Topic": "order.created"}

base = args["orders"] + 1
jobs = [signed(base + i, f"d-{i}") for i in range(args["webhooks"])]
jobs += [jobs[i] for i in range(min(args["replays"], len(jobs)))]
latencies, statuses, lock = [], [], threading.Lock()
queue = list(enumerate(jobs))

def client():
    while True:
        with lock:
            if not queue:
                return
            _, (body, headers) = queue.pop(0)
        t0 = time.perf_counter()
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        c.request("POST", path, body=body, headers=headers)
        status = c.getresponse().status
        c.close()
        with lock:
            latencies.append(time.perf_counter() - t0)
            statuses.append(status)

before = Order.objects.count()
started = time.perf_counter()
threads = [threading.Thread(target=client) for _ in range(args["threads"])]
[t.start() for t in threads]
[t.join() for t in threads]
seconds = time.perf_counter() - started
server.shutdown()
latencies.sort()
from zaplecze.integrations.services import delivery_process
pending = list(WebhookDelivery.objects.filter(state="accepted").order_by("pk").values_list("pk", flat=True))
t0 = time.perf_counter()
for pk in pending:
    delivery_process(delivery_id=pk)
processing = time.perf_counter() - t0
new_orders = Order.objects.count() - before
ok = sum(200 <= s < 300 for s in statuses)
out["webhooks"] = {
    "deliveries_sent": len(jobs), "unique_deliveries": args["webhooks"], "answered_2xx": ok,
    "deliveries_stored": WebhookDelivery.objects.count(), "orders_stored": new_orders,
    "deliveries_per_s": round(len(jobs) / seconds, 1),
    "p50_ms": round(latencies[len(latencies) // 2] * 1000, 1),
    "p99_ms": round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000, 1),
    "threads": args["threads"],
    "processed_per_s": round(len(pending) / processing, 1) if pending else None,
}
w = out["webhooks"]
print(f"webhooks: {w['deliveries_sent']} deliveries ({w['unique_deliveries']} unique + replays) in {seconds:.1f} s "
      f"= {w['deliveries_per_s']}/s, p50 {w['p50_ms']} ms, p99 {w['p99_ms']} ms; 2xx {ok}/{len(jobs)}; "
      f"stored {w['deliveries_stored']} deliveries; processed {len(pending)} at {w['processed_per_s']}/s "
      f"-> {new_orders} orders", flush=True)
print("JSON " + json.dumps(out))
"""


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=50_000)
    parser.add_argument("--webhooks", type=int, default=2000)
    parser.add_argument("--replays", type=int, default=200)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args(argv)
    data_dir = Path(tempfile.mkdtemp(prefix="zaplecze-bench-integrations-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZAPLECZE_")}
    env.update(
        ZAPLECZE_DATA_DIR=str(data_dir),
        ZAPLECZE_ALLOWED_HOSTS="127.0.0.1,localhost",
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
            raise RuntimeError(f"integrations bench child failed ({proc.returncode})")
        return json.loads(next(ln for ln in proc.stdout.splitlines() if ln.startswith("JSON "))[5:])
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1:]), indent=2))
