"""A fake WooCommerce REST API v3 on loopback, serving the real payload shapes from
/work/shared/samples/woocommerce/ (order.json as the template of every order).

Supports: Basic auth with one key pair (else 401 like WooCommerce's `woocommerce_rest_cannot_view`),
`GET /wp-json/wc/v3/orders` with modified_after (GMT), orderby=date&order=asc, page/per_page and the
X-WP-Total / X-WP-TotalPages headers, `PUT /orders/{id}`, `POST /orders/{id}/notes`, `GET /products?sku=`,
`PUT /products/{id}` and `/products/{parent}/variations/{id}`. `script(path_part, status, body, headers)`
queues forced answers (5xx, 429 with Retry-After, malformed bodies) for the next matching requests.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

SAMPLES = Path("/work/shared/samples/woocommerce")
TEMPLATE = json.loads((SAMPLES / "order.json").read_text())
KEY, SECRET = "ck_test_0123456789abcdef", "cs_test_fedcba9876543210"
BASE_TIME = dt.datetime(2026, 11, 20, 8, 0, 0)


def woo_order(
    n: int, *, status: str = "processing", modified: dt.datetime | None = None, sku: str = "Bar3", **extra
) -> dict:
    """Order n, shaped like the docs' example order: id 1000+n, created at BASE_TIME + n minutes."""
    order = copy.deepcopy(TEMPLATE)
    created = BASE_TIME + dt.timedelta(minutes=n)
    modified = modified or created + dt.timedelta(seconds=6)
    order.update(
        id=1000 + n,
        number=str(1000 + n),
        order_key=f"wc_order_{n:08d}",
        status=status,
        currency="PLN",
        date_created=created.isoformat(),
        date_created_gmt=created.isoformat(),
        date_modified=modified.isoformat(),
        date_modified_gmt=modified.isoformat(),
        date_paid_gmt=created.isoformat() if status in ("processing", "completed") else None,
    )
    order["billing"] = dict(order["billing"], email=f"customer{n}@example.com")
    order["line_items"][1]["sku"] = sku
    order.update(extra)
    return order


class FakeWoo:
    def __init__(self, orders: list[dict] | None = None):
        self.orders: list[dict] = list(orders or [])
        self.products: list[dict] = []
        self.requests: list[tuple[str, str, dict]] = []  # (method, path, query)
        self.bodies: list[tuple[str, str, dict]] = []  # (method, path, json body) of writes
        self.scripted: list[tuple[str, int, bytes, dict]] = []
        self.lock = threading.Lock()
        self.key, self.secret = KEY, SECRET
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> FakeWoo:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def script(
        self, path_part: str, status: int, body: bytes | str = b"", headers: dict | None = None
    ) -> None:
        """The next request whose path contains `path_part` gets this answer instead."""
        if isinstance(body, str):
            body = body.encode()
        with self.lock:
            self.scripted.append((path_part, status, body, headers or {}))

    def calls(self, path_part: str = "", method: str = "GET") -> list[dict]:
        return [q for m, p, q in self.requests if m == method and path_part in p]

    # --- the API ---------------------------------------------------------------------------------------

    UNAUTHORIZED = {
        "code": "woocommerce_rest_cannot_view",
        "message": "Sorry, you cannot list resources.",
        "data": {"status": 401},
    }

    def authorized(self, headers) -> bool:
        expected = base64.b64encode(f"{self.key}:{self.secret}".encode()).decode()
        return headers.get("Authorization") == f"Basic {expected}"

    def _list_orders(self, q: dict) -> tuple[list[dict], dict]:
        items = self.orders
        after = q.get("modified_after")
        if after:
            limit = dt.datetime.fromisoformat(after)
            items = [o for o in items if dt.datetime.fromisoformat(o["date_modified_gmt"]) > limit]
        items = [o for o in items if o["status"] != "trash"]
        items = sorted(items, key=lambda o: (o["date_created_gmt"], o["id"]))
        if q.get("order", "desc") == "desc":
            items.reverse()
        per_page = int(q.get("per_page", 10))
        page = int(q.get("page", 1))
        total = len(items)
        pages = (total + per_page - 1) // per_page
        return items[(page - 1) * per_page : page * per_page], {
            "X-WP-Total": str(total),
            "X-WP-TotalPages": str(pages),
        }

    def handle(self, method: str, path: str, q: dict, body: dict | None) -> tuple[int, object, dict]:
        api = "/wp-json/wc/v3/"
        if not path.startswith(api):
            return (
                404,
                {"code": "rest_no_route", "message": "No route was found", "data": {"status": 404}},
                {},
            )
        rest = path[len(api) :].strip("/").split("/")
        if rest == ["orders"] and method == "GET":
            items, headers = self._list_orders(q)
            return 200, items, headers
        if len(rest) == 2 and rest[0] == "orders":
            order = next((o for o in self.orders if str(o["id"]) == rest[1]), None)
            if order is None:
                return 404, {"code": "woocommerce_rest_shop_order_invalid_id", "message": "Invalid ID."}, {}
            if method == "PUT":
                order.update(body or {})
                order["date_modified_gmt"] = (
                    dt.datetime.fromisoformat(order["date_modified_gmt"]) + dt.timedelta(minutes=1)
                ).isoformat()
            return 200, order, {}
        if len(rest) == 3 and rest[0] == "orders" and rest[2] == "notes" and method == "POST":
            return 201, {"id": len(self.bodies) + 1, **(body or {})}, {}
        if rest == ["products"] and method == "GET":
            items = [p for p in self.products if not q.get("sku") or p.get("sku") == q["sku"]]
            return 200, items, {"X-WP-Total": str(len(items)), "X-WP-TotalPages": "1"}
        if rest[0] == "products" and method == "PUT":
            pid = rest[-1]
            product = next((p for p in self.products if str(p["id"]) == pid), None)
            if product is None:
                return 404, {"code": "woocommerce_rest_product_invalid_id", "message": "Invalid ID."}, {}
            product.update(body or {})
            return 200, product, {}
        return 404, {"code": "rest_no_route", "message": "No route was found", "data": {"status": 404}}, {}

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _serve(self, method: str):
                split = urllib.parse.urlsplit(self.path)
                q = dict(urllib.parse.parse_qsl(split.query))
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                with fake.lock:
                    fake.requests.append((method, split.path, q))
                    forced = next((s for s in fake.scripted if s[0] in split.path), None)
                    if forced:
                        fake.scripted.remove(forced)
                if forced:
                    return self._send(forced[1], forced[2], forced[3])
                if not fake.authorized(self.headers):
                    return self._send(401, json.dumps(fake.UNAUTHORIZED).encode(), {})
                data = json.loads(raw) if raw else None
                if method in ("PUT", "POST"):
                    with fake.lock:
                        fake.bodies.append((method, split.path, data))
                with fake.lock:
                    status, payload, headers = fake.handle(method, split.path, q, data)
                return self._send(status, json.dumps(payload).encode(), headers)

            def _send(self, status: int, body: bytes, headers: dict):
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=UTF-8")
                self.send_header("Content-Length", str(len(body)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                self._serve("GET")

            def do_PUT(self):
                self._serve("PUT")

            def do_POST(self):
                self._serve("POST")

        return Handler
