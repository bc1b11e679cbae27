"""A fake Allegro REST API and authorization server on one loopback port, serving the real payload shapes
from /work/shared/samples/allegro/ (checkout-form.json as the template of every checkout form).

Supports:
* OAuth: `POST /auth/oauth/device` (Basic auth with the client id and secret; answers like
  oauth-device.json) and `POST /auth/oauth/token` with the device-code grant (pending until `grant()`,
  `deny()` or `expire()`; `slow_down` scripted by `slow_down_next`) and the refresh-token grant (a new
  access and refresh token each time, like oauth-token.json; refused with `invalid_grant` when
  `refuse_refresh`). `expire_access()` makes the current access token answer 401 as an expired one does.
* API (bearer token and `Accept: application/vnd.allegro.public.v1+json`, else 401 / 406):
  `GET /order/checkout-forms` (offset/limit <= 100, offset + limit <= 10 000, sort updatedAt or
  -updatedAt, updatedAt.gte / .lte), `GET /order/checkout-forms/{id}`, `GET /order/event-stats`,
  `GET /order/events?from=&limit=`, `PUT /order/checkout-forms/{id}/fulfillment?checkoutForm.revision=`
  (409 on a stale revision), `POST /order/checkout-forms/{id}/shipments`, `GET /sale/offers`
  (offset/limit, external.id), `PATCH /sale/product-offers/{id}`.
* `script(path_part, status, body, headers)` queues forced answers (5xx, 429 with Retry-After, malformed
  bodies) for the next matching requests, as FakeWoo does.
"""

from __future__ import annotations

import base64
import bisect
import copy
import datetime as dt
import json
import threading
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

SAMPLES = Path("/work/shared/samples/allegro")
TEMPLATE = json.loads((SAMPLES / "checkout-form.json").read_text())
EVENT_TEMPLATE = json.loads((SAMPLES / "order-events.json").read_text())["events"][0]
DEVICE = json.loads((SAMPLES / "oauth-device.json").read_text())
TOKEN = json.loads((SAMPLES / "oauth-token.json").read_text())
SHIPMENT = json.loads((SAMPLES / "shipment-add-response.json").read_text())
CLIENT_ID, CLIENT_SECRET = "a1b2c3d4e5f60718293a4b5c6d7e8f90", "client-secret-0123456789abcdefghijklmnop"
MEDIA = "application/vnd.allegro.public.v1+json"
BASE_TIME = dt.datetime(2026, 11, 20, 8, 0, 0, tzinfo=dt.UTC)


def iso(value: dt.datetime) -> str:
    value = value.astimezone(dt.UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def form_id(n: int) -> str:
    return str(uuid.UUID(int=n, version=4))


def allegro_form(
    n: int,
    *,
    status: str = "READY_FOR_PROCESSING",
    fulfillment: str = "NEW",
    updated: dt.datetime | None = None,
    sku: str = "AH-129834",
    **extra,
) -> dict:
    """Checkout form n, shaped like the docs' example: bought at BASE_TIME + n minutes, updated 6 s later."""
    form = copy.deepcopy(TEMPLATE)
    bought = BASE_TIME + dt.timedelta(minutes=n)
    updated = updated or bought + dt.timedelta(seconds=6)
    form.update(id=form_id(n), status=status, updatedAt=iso(updated), revision=f"{n:08x}")
    form["fulfillment"]["status"] = fulfillment
    form["buyer"] = dict(form["buyer"], email=f"buyer{n}@example.com", id=str(23123123 + n))
    item = form["lineItems"][0]
    item.update(id=str(uuid.UUID(int=10**9 + n, version=4)), boughtAt=iso(bought))
    item["offer"] = dict(item["offer"], external={"id": sku})
    form.update(extra)
    return form


def _parse(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


class FakeAllegro:
    def __init__(self, forms: list[dict] | None = None):
        self.forms: list[dict] = list(forms or [])
        self.events: list[dict] = []
        self.offers: list[dict] = []
        self.next_event = 1532603898317497
        self.requests: list[tuple[str, str, dict]] = []  # (method, path, query)
        self.bodies: list[tuple[str, str, object]] = []  # (method, path, body) of writes
        self.headers_seen: list[dict] = []
        self.scripted: list[tuple[str, int, bytes, dict]] = []
        self.lock = threading.Lock()
        self.client_id, self.client_secret = CLIENT_ID, CLIENT_SECRET
        self.device_state = "pending"  # pending | granted | denied | expired
        self.device_codes: set[str] = set()
        self.slow_down_next = 0
        self.access_tokens: set[str] = set()
        self.refresh_tokens: set[str] = set()
        self.refuse_refresh = False
        self.issued = 0
        self.version = 0  # bumped whenever a form's updatedAt changes here (the list sort is cached)
        self._sorted: list = []
        self._sorted_key: tuple | None = None
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> FakeAllegro:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def script(
        self, path_part: str, status: int, body: bytes | str = b"", headers: dict | None = None
    ) -> None:
        if isinstance(body, str):
            body = body.encode()
        with self.lock:
            self.scripted.append((path_part, status, body, headers or {}))

    def calls(self, path_part: str = "", method: str = "GET") -> list[dict]:
        return [q for m, p, q in self.requests if m == method and path_part in p]

    # --- test controls -----------------------------------------------------------------------------------

    def issue_tokens(self) -> dict:
        """A token answer like oauth-token.json with fresh, distinct tokens (registered as valid)."""
        self.issued += 1
        answer = dict(TOKEN)
        answer["access_token"] = f"{TOKEN['access_token']}.{self.issued}"
        answer["refresh_token"] = f"{TOKEN['refresh_token']}.{self.issued}"
        self.access_tokens.add(answer["access_token"])
        self.refresh_tokens.add(answer["refresh_token"])
        return answer

    def credentials(self) -> dict[str, str]:
        """Stored credentials of an authorized connection (as if the device flow had gone through)."""
        answer = self.issue_tokens()
        expires = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=answer["expires_in"])
        return {
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "access_token": answer["access_token"],
            "refresh_token": answer["refresh_token"],
            "expires_at": expires.isoformat(timespec="seconds"),
        }

    def expire_access(self) -> None:
        self.access_tokens.clear()

    def grant(self) -> None:
        self.device_state = "granted"

    def deny(self) -> None:
        self.device_state = "denied"

    def expire(self) -> None:
        self.device_state = "expired"

    def event(self, form: dict, kind: str = "READY_FOR_PROCESSING", *, at: dt.datetime | None = None) -> dict:
        """Append an order event for this form to the journal (shape of order-events.json)."""
        event = copy.deepcopy(EVENT_TEMPLATE)
        event["id"] = str(self.next_event)
        self.next_event += 1
        event["type"] = kind
        event["occurredAt"] = iso(at) if at else form["updatedAt"]
        event["order"]["checkoutForm"] = {"id": form["id"], "revision": form["revision"]}
        event["order"]["buyer"] = {k: form["buyer"][k] for k in ("id", "email", "login", "guest")}
        self.events.append(event)
        return event

    def change(self, form: dict, *, kind: str = "FULFILLMENT_STATUS_CHANGED", minutes: int = 30, **fields):
        """The form changes on Allegro (a newer updatedAt and revision) and the journal says so."""
        updated = _parse(form["updatedAt"]) + dt.timedelta(minutes=minutes)
        fulfillment = fields.pop("fulfillment", None)
        form.update(fields, updatedAt=iso(updated), revision=f"{int(form['revision'], 16) + 1:08x}")
        self.version += 1
        if fulfillment:
            form["fulfillment"]["status"] = fulfillment
        return self.event(form, kind)

    # --- the API -------------------------------------------------------------------------------------------

    def _basic_ok(self, headers) -> bool:
        expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        return headers.get("Authorization") == f"Basic {expected}"

    def oauth(self, path: str, headers, form: dict) -> tuple[int, object, dict]:
        if not self._basic_ok(headers):
            return 401, {"error": "invalid_client", "error_description": "Bad client credentials"}, {}
        if path == "/auth/oauth/device":
            if form.get("client_id") != self.client_id:
                return 400, {"error": "invalid_request"}, {}
            answer = dict(DEVICE)
            answer["device_code"] = f"{DEVICE['device_code']}-{len(self.device_codes) + 1}"
            self.device_codes.add(answer["device_code"])
            self.device_state = "pending"
            return 200, answer, {}
        grant = form.get("grant_type")
        if grant == "urn:ietf:params:oauth:grant-type:device_code":
            if form.get("device_code") not in self.device_codes:
                return 400, {"error": "invalid_grant", "error_description": "Invalid device code"}, {}
            if self.slow_down_next:
                self.slow_down_next -= 1
                return 400, {"error": "slow_down"}, {}
            if self.device_state == "pending":
                return 400, {"error": "authorization_pending"}, {}
            if self.device_state == "denied":
                return 400, {"error": "access_denied"}, {}
            if self.device_state == "expired":
                return 400, {"error": "expired_token"}, {}
            self.device_codes.discard(form["device_code"])
            return 200, self.issue_tokens(), {}
        if grant == "refresh_token":
            token = form.get("refresh_token")
            if self.refuse_refresh or token not in self.refresh_tokens:
                return 400, {"error": "invalid_grant", "error_description": "Invalid refresh token"}, {}
            self.refresh_tokens.discard(token)  # refresh tokens rotate
            return 200, self.issue_tokens(), {}
        return 400, {"error": "unsupported_grant_type"}, {}

    def _by_updated(self) -> list[tuple[dt.datetime, str, dict]]:
        """The forms sorted by (updatedAt, id), cached until the list or a form's updatedAt changes."""
        key = (id(self.forms), len(self.forms), tuple(f["updatedAt"] for f in self.forms[-50:]), self.version)
        if self._sorted_key != key:
            self._sorted = sorted(
                ((_parse(f["updatedAt"]), f["id"], f) for f in self.forms), key=lambda t: t[:2]
            )
            self._sorted_key = key
        return self._sorted

    def _list(self, q: dict) -> tuple[int, object]:
        limit, offset = int(q.get("limit", 100)), int(q.get("offset", 0))
        if limit > 100 or offset + limit > 10_000:
            return 422, {"errors": [{"code": "VALIDATION_ERROR", "message": "offset + limit <= 10000"}]}
        rows = self._by_updated()
        if q.get("updatedAt.gte"):
            since = _parse(q["updatedAt.gte"])
            rows = rows[bisect.bisect_left(rows, since, key=lambda t: t[0]) :]
        if q.get("updatedAt.lte"):
            until = _parse(q["updatedAt.lte"])
            rows = [r for r in rows if r[0] <= until]
        items = [r[2] for r in rows]
        sort = q.get("sort", "-lineItems.boughtAt")
        if sort == "-updatedAt":
            items.reverse()
        elif sort.lstrip("-") != "updatedAt":
            items = sorted(items, key=lambda f: f["lineItems"][0]["boughtAt"], reverse=True)
        page = items[offset : offset + limit]
        return 200, {"checkoutForms": page, "count": len(page), "totalCount": len(items)}

    def _events(self, q: dict) -> tuple[int, object]:
        limit = int(q.get("limit", 100))
        if not 1 <= limit <= 1000:
            return 422, {"errors": [{"code": "VALIDATION_ERROR", "message": "limit 1..1000"}]}
        start = 0
        if q.get("from"):
            ids = [e["id"] for e in self.events]
            if q["from"] not in ids:
                return 400, {"errors": [{"code": "INVALID_EVENT_ID", "message": "Unknown event id"}]}
            start = ids.index(q["from"]) + 1
        return 200, {"events": self.events[start : start + limit]}

    def handle(self, method: str, path: str, q: dict, body) -> tuple[int, object, dict]:
        parts = path.strip("/").split("/")
        if path == "/order/checkout-forms" and method == "GET":
            return (*self._list(q), {})
        if path == "/order/event-stats" and method == "GET":
            latest = self.events[-1] if self.events else None
            stats = {
                "latestEvent": {"id": latest["id"], "occurredAt": latest["occurredAt"]} if latest else None
            }
            return 200, stats, {}
        if path == "/order/events" and method == "GET":
            return (*self._events(q), {})
        if parts[:2] == ["order", "checkout-forms"] and len(parts) >= 3:
            form = next((f for f in self.forms if f["id"] == parts[2]), None)
            if form is None:
                return 404, {"errors": [{"code": "NOT_FOUND", "message": "Checkout form not found"}]}, {}
            if len(parts) == 3 and method == "GET":
                return 200, form, {}
            if parts[3:] == ["fulfillment"] and method == "PUT":
                if q.get("checkoutForm.revision") != form["revision"]:
                    return 409, {"errors": [{"code": "CONFLICT", "message": "Revision mismatch"}]}, {}
                form["fulfillment"] = dict(form["fulfillment"], **body)
                form["updatedAt"] = iso(_parse(form["updatedAt"]) + dt.timedelta(minutes=1))
                self.version += 1
                self.event(form, "FULFILLMENT_STATUS_CHANGED")
                return 204, None, {}
            if parts[3:] == ["shipments"] and method == "POST":
                answer = dict(
                    SHIPMENT, **{k: body[k] for k in ("carrierId", "waybill", "lineItems") if k in body}
                )
                answer["carrierName"] = body.get("carrierName", "")
                return 201, answer, {}
        if path == "/sale/offers" and method == "GET":
            items = [
                o
                for o in self.offers
                if not q.get("external.id") or (o.get("external") or {}).get("id") == q["external.id"]
            ]
            offset, limit = int(q.get("offset", 0)), int(q.get("limit", 100))
            page = items[offset : offset + limit]
            return 200, {"offers": page, "count": len(page), "totalCount": len(items)}, {}
        if parts[:2] == ["sale", "product-offers"] and len(parts) == 3 and method == "PATCH":
            offer = next((o for o in self.offers if o["id"] == parts[2]), None)
            if offer is None:
                return 404, {"errors": [{"code": "NOT_FOUND", "message": "Offer not found"}]}, {}
            if "stock" in body:
                offer["stock"] = dict(offer.get("stock") or {}, **body["stock"])
            if "sellingMode" in body:
                offer["sellingMode"] = dict(offer.get("sellingMode") or {}, **body["sellingMode"])
            return 200, offer, {}
        return 404, {"errors": [{"code": "NOT_FOUND", "message": "No such resource"}]}, {}

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            wbufsize = 1 << 16  # headers and body in one write (no Nagle / delayed-ACK stall per answer)

            def log_message(self, *args):  # quiet
                pass

            def _serve(self, method: str):
                split = urllib.parse.urlsplit(self.path)
                q = dict(urllib.parse.parse_qsl(split.query))
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                with fake.lock:
                    fake.requests.append((method, split.path, q))
                    fake.headers_seen.append(dict(self.headers))
                    forced = next((s for s in fake.scripted if s[0] in split.path), None)
                    if forced:
                        fake.scripted.remove(forced)
                if forced:
                    return self._send(forced[1], forced[2], forced[3])
                if split.path.startswith("/auth/oauth/"):
                    form = dict(urllib.parse.parse_qsl(raw.decode()))
                    with fake.lock:
                        status, payload, headers = fake.oauth(split.path, self.headers, form)
                    return self._send(status, json.dumps(payload).encode(), headers, "application/json")
                token = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
                if token not in fake.access_tokens:
                    error = {
                        "error": "invalid_token",
                        "error_description": f"Access token expired: {token[:8]}…",
                    }
                    return self._send(401, json.dumps(error).encode(), {}, "application/json")
                if self.headers.get("Accept") != MEDIA:
                    error = {"errors": [{"code": "NOT_ACCEPTABLE", "message": f"Use Accept: {MEDIA}"}]}
                    return self._send(406, json.dumps(error).encode(), {})
                if raw and self.headers.get("Content-Type") != MEDIA:
                    error = {"errors": [{"code": "UNSUPPORTED_MEDIA_TYPE", "message": MEDIA}]}
                    return self._send(415, json.dumps(error).encode(), {})
                data = json.loads(raw) if raw else None
                if method in ("PUT", "POST", "PATCH"):
                    with fake.lock:
                        fake.bodies.append((method, split.path, data))
                with fake.lock:
                    status, payload, headers = fake.handle(method, split.path, q, data)
                body = b"" if payload is None else json.dumps(payload).encode()
                return self._send(status, body, headers)

            def _send(self, status: int, body: bytes, headers: dict, content_type: str = MEDIA):
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                if body:
                    self.wfile.write(body)

            def do_GET(self):
                self._serve("GET")

            def do_PUT(self):
                self._serve("PUT")

            def do_POST(self):
                self._serve("POST")

            def do_PATCH(self):
                self._serve("PATCH")

        return Handler
