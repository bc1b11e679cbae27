"""A local fake of InPost ShipX for the tests: a real HTTP server on 127.0.0.1 (random port) that answers with
the request/response shapes of the ShipX samples in ./samples (copied from shared/samples/inpost, constructed
from the ShipX documentation). It can be told to misbehave: time out, answer 500, send a malformed body or a
label that is not a PDF, and to take a few polls before a shipment is confirmed (ShipX is asynchronous).

Endpoints: POST/GET /v1/organizations/{org}/shipments, GET/DELETE /v1/shipments/{id},
GET /v1/shipments/{id}/label, GET /v1/tracking/{number}."""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

SAMPLES = Path(__file__).parent / "samples"
TOKEN = "test-shipx-token"
ORG = "1234"


def sample(name: str) -> Any:
    return json.loads((SAMPLES / name).read_text(encoding="utf-8"))


def make_pdf(text: str = "LABEL", pages: int = 1) -> bytes:
    """A small valid PDF (one Helvetica text line per page) with a correct cross-reference table."""
    objects: list[bytes] = []
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(pages))
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {pages} >>".encode())
    font_num = 3 + 2 * pages
    for i in range(pages):
        content = f"BT /F1 24 Tf 20 100 Td ({text} {i + 1}) Tj ET".encode()
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 298 421] /Contents {4 + 2 * i} 0 R "
            f"/Resources << /Font << /F1 {font_num} 0 R >> >> >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream")
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for num, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % num + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


class FakeShipX:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.shipments: dict[int, dict] = {}
        self.tracking: dict[str, list[tuple[str, str]]] = {}  # number -> [(status, iso time)] oldest first
        self.requests: list[tuple[str, str, Any]] = []
        self.next_id = 4257799
        self.next_tracking = 602677439331630337653846
        self.faults: list[tuple[str, str, float]] = []  # (route key, mode, seconds) applied once, in order
        self.confirm_after_gets = 1  # GETs of a shipment before it turns "confirmed"
        self.label_pdf = make_pdf("INPOST")
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeShipX:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # --- control ------------------------------------------------------------------------------------

    def fail(self, route: str, mode: str, seconds: float = 1.0) -> None:
        """Make the next request of `route` (create, search, get, label, tracking, cancel) misbehave:
        timeout (answer after `seconds`, the work done first), 500, malformed, not_pdf."""
        self.faults.append((route, mode, seconds))

    def created(self) -> list[dict]:
        return [s for s in self.shipments.values()]

    def calls(self, route: str) -> int:
        return sum(1 for r, _p, _b in self.requests if r == route)

    def set_tracking(self, number: str, history: list[tuple[str, str]]) -> None:
        self.tracking[number] = list(history)

    def confirm(self, shipment_id: int) -> dict:
        with self.lock:
            return self._confirm(self.shipments[shipment_id])

    def _confirm(self, s: dict) -> dict:
        if s["status"] in ("created", "offers_prepared"):
            s["status"] = "confirmed"
            number = str(self.next_tracking)
            self.next_tracking += 1
            s["tracking_number"] = number
            for p in s["parcels"]:
                p["tracking_number"] = number
            s["selected_offer"]["status"] = "bought"
            self.tracking.setdefault(number, [("confirmed", s["updated_at"])])
        return s

    # --- the server ---------------------------------------------------------------------------------

    def _take_fault(self, route: str) -> tuple[str, float] | None:
        with self.lock:
            for i, (r, mode, seconds) in enumerate(self.faults):
                if r == route:
                    del self.faults[i]
                    return mode, seconds
        return None

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def handle(self):
                try:
                    super().handle()
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def _send(
                self,
                status: int,
                body: Any = None,
                *,
                raw: bytes | None = None,
                ctype: str = "application/json",
            ) -> None:
                data = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", ctype)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def _error(self, status: int, error: str, message: str, details: Any = None) -> None:
                self._send(
                    status, {"status": status, "error": error, "message": message, "details": details or {}}
                )

            def _dispatch(self, method: str) -> None:
                parsed = urllib.parse.urlsplit(self.path)
                path, query = parsed.path, urllib.parse.parse_qs(parsed.query)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = None
                if raw:
                    try:
                        body = json.loads(raw)
                    except ValueError:
                        return self._error(400, "invalid_json", "Body is not JSON")
                route, args = fake._route(method, path)
                fake.requests.append((route, self.path, body))
                if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                    return self._error(401, "token_invalid", "Token is missing or invalid")
                fault = fake._take_fault(route)
                mode = fault[0] if fault else ""
                if mode == "500":
                    return self._error(500, "internal_server_error", "Something went wrong")
                if mode == "malformed":
                    return self._send(
                        200, raw=b'{"id": 1, "status": "created", "tracking_n', ctype="application/json"
                    )
                status, answer, extra = fake._answer(route, args, query, body, mode)
                if mode == "timeout":
                    time.sleep(fault[1])  # the work is done; the answer comes too late
                if isinstance(answer, bytes):
                    return self._send(status, raw=answer, ctype=extra or "application/pdf")
                return self._send(status, answer)

            def do_GET(self):
                self._dispatch("GET")

            def do_POST(self):
                self._dispatch("POST")

            def do_DELETE(self):
                self._dispatch("DELETE")

        return Handler

    def _route(self, method: str, path: str) -> tuple[str, dict]:
        m = re.fullmatch(r"/v1/organizations/([^/]+)/shipments", path)
        if m:
            return ("create" if method == "POST" else "search"), {"org": m.group(1)}
        m = re.fullmatch(r"/v1/shipments/(\d+)/label", path)
        if m:
            return "label", {"id": int(m.group(1))}
        m = re.fullmatch(r"/v1/shipments/(\d+)", path)
        if m:
            return ("cancel" if method == "DELETE" else "get"), {"id": int(m.group(1))}
        m = re.fullmatch(r"/v1/tracking/([^/]+)", path)
        if m:
            return "tracking", {"number": m.group(1)}
        return "unknown", {}

    def _answer(self, route: str, args: dict, query: dict, body: Any, mode: str) -> tuple[int, Any, str]:
        with self.lock:
            if route in ("create", "search") and args["org"] != ORG:
                return 403, {"status": 403, "error": "access_forbidden", "message": "Wrong organization"}, ""
            if route == "create":
                return self._create(body)
            if route == "search":
                ref = (query.get("reference") or [""])[0]
                # like ShipX's list filter, a loose match; the client must pick the exact reference
                items = [s for s in self.shipments.values() if ref and ref in (s.get("reference") or "")]
                return 200, {"href": "", "count": len(items), "page": 1, "per_page": 25, "items": items}, ""
            if route in ("get", "label", "cancel"):
                s = self.shipments.get(args["id"])
                if s is None:
                    return 404, {"status": 404, "error": "resource_not_found", "message": "Not found"}, ""
                if route == "get":
                    s["_gets"] = s.get("_gets", 0) + 1
                    if s["_gets"] >= self.confirm_after_gets:
                        self._confirm(s)
                    return 200, _public(s), ""
                if route == "label":
                    if s["status"] not in ("confirmed",) and not s.get("tracking_number"):
                        return (
                            400,
                            {
                                "status": 400,
                                "error": "invalid_action",
                                "message": "Label is available for confirmed shipments",
                            },
                            "",
                        )
                    if mode == "not_pdf":
                        return 200, b"<html><body>Service temporarily unavailable</body></html>", "text/html"
                    return 200, self.label_pdf, "application/pdf"
                if s["status"] not in ("created", "offers_prepared"):
                    return (
                        400,
                        {
                            "status": 400,
                            "error": "invalid_action",
                            "message": "Shipment cannot be cancelled in its status",
                        },
                        "",
                    )
                s["status"] = "canceled"
                return 204, None, ""
            if route == "tracking":
                history = self.tracking.get(args["number"])
                if history is None:
                    return 404, {"status": 404, "error": "resource_not_found", "message": "Not found"}, ""
                t = sample("tracking.json")
                t["tracking_number"] = args["number"]
                t["status"] = history[-1][0]
                t["tracking_details"] = [
                    {"status": st, "origin_status": None, "agency": None, "datetime": at}
                    for st, at in reversed(history)
                ]
                return 200, t, ""
            return 404, {"status": 404, "error": "resource_not_found", "message": "Unknown endpoint"}, ""

    def _create(self, body: Any) -> tuple[int, Any, str]:
        details: dict[str, Any] = {}
        if not isinstance(body, dict):
            return (
                400,
                {"status": 400, "error": "validation_failed", "message": "Body required", "details": {}},
                "",
            )
        service = body.get("service")
        if service not in ("inpost_locker_standard", "inpost_courier_standard"):
            details["service"] = ["invalid"]
        receiver = body.get("receiver") or {}
        if not (receiver.get("email") or receiver.get("phone")):
            details["receiver"] = [{"phone": ["required"]}]
        parcels = body.get("parcels")
        if not isinstance(parcels, list) or not parcels:
            details["parcels"] = ["required"]
        if service == "inpost_locker_standard":
            point = (body.get("custom_attributes") or {}).get("target_point")
            if not point:
                details["custom_attributes"] = [{"target_point": ["required"]}]
            elif point == "XXX000":
                details["custom_attributes"] = [{"target_point": ["does_not_exist"]}]
            for p in parcels or []:
                if p.get("template") not in ("small", "medium", "large"):
                    details["parcels"] = [{"template": ["invalid"]}]
        elif service == "inpost_courier_standard":
            if not (receiver.get("address") or {}).get("post_code"):
                details["receiver"] = [{"address": ["required"]}]
            for p in parcels or []:
                if "dimensions" not in p or "weight" not in p:
                    details["parcels"] = [{"dimensions": ["required"], "weight": ["required"]}]
        if details:
            return (
                400,
                {
                    "status": 400,
                    "error": "validation_failed",
                    "message": "There are some validation errors.",
                    "details": details,
                },
                "",
            )
        s = sample("shipment.json")
        sid = self.next_id
        self.next_id += 1
        now = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")
        s.update(
            {
                "href": f"{self.url}/v1/shipments/{sid}",
                "id": sid,
                "status": "created",
                "tracking_number": None,
                "service": service,
                "reference": body.get("reference"),
                "created_at": now,
                "updated_at": now,
                "receiver": {
                    **s["receiver"],
                    **{k: v for k, v in receiver.items() if k != "address"},
                    "address": receiver.get("address"),
                },
                "custom_attributes": {**s["custom_attributes"], **(body.get("custom_attributes") or {})},
                "cod": body.get("cod") or {"amount": None, "currency": None},
                "insurance": body.get("insurance") or {"amount": None, "currency": None},
                "additional_services": body.get("additional_services") or [],
                "comments": body.get("comments"),
            }
        )
        s["selected_offer"]["status"] = "selected"
        template = copy.deepcopy(s["parcels"][0])
        s["parcels"] = []
        for i, p in enumerate(parcels):
            parcel = copy.deepcopy(template)
            parcel.update(
                {"id": 4351113 + sid * 10 + i, "tracking_number": None, "template": p.get("template")}
            )
            if "dimensions" in p:
                parcel["dimensions"] = {k: float(v) if k != "unit" else v for k, v in p["dimensions"].items()}
            if "weight" in p:
                parcel["weight"] = {"amount": float(p["weight"]["amount"]), "unit": p["weight"]["unit"]}
            s["parcels"].append(parcel)
        s["_body"] = body
        self.shipments[sid] = s
        return 201, _public(s), ""


def _public(s: dict) -> dict:
    return {k: copy.deepcopy(v) for k, v in s.items() if not k.startswith("_")}
