"""A fake PrestaShop Webservice (`/api`) on loopback, serving the real payload shapes from
/work/shared/samples/prestashop/: orders-display-full.json (its one order is the template of every order,
served as JSON or as XML shaped like orders-display-full.xml), order-states-default.json (the default
states, with their ids), order-histories-display-full.xml.

Supports: the key as HTTP Basic user (else 401 with the Webservice's error body, code 18/20/26),
`output_format=JSON` (default XML), `display=full|[a,b]`, `filter[field]=[a|b]` (or), `[a,b]` (interval),
`[x]` (literal, case-insensitive), date filters only with `date=1`, `sort=[f_ASC,g_DESC]`,
`limit=offset,count`, one record by id (404 with an empty body when missing), `POST order_histories`
(XML; changes the order's state and date_upd), `PUT order_carriers/{id}` and `stock_availables/{id}`
(XML). `denied` lists resources the key may not use (401, code 26). `script(path_part, status, body,
headers)` queues forced answers (429 + Retry-After, 5xx, malformed bodies) for the next matching request.
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
from xml.etree import ElementTree

SAMPLES = Path("/work/shared/samples/prestashop")
TEMPLATE = json.loads((SAMPLES / "orders-display-full.json").read_text())["orders"][0]
DEFAULT_STATES = json.loads((SAMPLES / "order-states-default.json").read_text())["order_states"]
KEY = "ZAPLECZETESTKEY0123456789ABCDEFG"  # 32 characters, as PrestaShop generates them
BASE_TIME = dt.datetime(2026, 11, 20, 9, 0, 0)  # shop time (Europe/Warsaw, UTC+1 in November)
VERSION = "8.1.7"
# install_key of the default states -> the configuration key holding its id (install-dev configuration.xml)
STATE_CONFIG = {
    "Awaiting_cheque_payment": "PS_OS_CHEQUE",
    "Payment_accepted": "PS_OS_PAYMENT",
    "Preparation_in_progress": "PS_OS_PREPARATION",
    "Shipped": "PS_OS_SHIPPING",
    "Delivered": "PS_OS_DELIVERED",
    "Canceled": "PS_OS_CANCELED",
    "Refund": "PS_OS_REFUND",
    "Payment_error": "PS_OS_ERROR",
    "On_backorder_paid": "PS_OS_OUTOFSTOCK_PAID",
    "Awaiting_bank_wire_payment": "PS_OS_BANKWIRE",
    "Payment_remotely_accepted": "PS_OS_WS_PAYMENT",
    "On_backorder_unpaid": "PS_OS_OUTOFSTOCK_UNPAID",
    "Awaiting_cod_validation": "PS_OS_COD_VALIDATION",
}
RECORD = {  # resource -> the name of one record in XML
    "orders": "order",
    "order_states": "order_state",
    "order_histories": "order_history",
    "order_carriers": "order_carrier",
    "customers": "customer",
    "addresses": "address",
    "countries": "country",
    "carriers": "carrier",
    "currencies": "currency",
    "configurations": "configuration",
    "stock_availables": "stock_available",
    "products": "product",
    "combinations": "combination",
}


def _lang(value: str) -> list[dict]:
    return [{"id": "1", "value": value}]


def presta_order(
    n: int,
    *,
    state: int | str = 2,
    updated: dt.datetime | None = None,
    reference: str | None = None,
    **extra,
) -> dict:
    """Order n shaped like the sample: id n, created at BASE_TIME + n minutes (shop time)."""
    order = copy.deepcopy(TEMPLATE)
    created = BASE_TIME + dt.timedelta(minutes=n)
    updated = updated or created + dt.timedelta(seconds=6)
    order.update(
        id=n,
        current_state=str(state),
        date_add=created.strftime("%Y-%m-%d %H:%M:%S"),
        date_upd=updated.strftime("%Y-%m-%d %H:%M:%S"),
        reference=reference or f"REF{n:06d}",
        id_customer="6",
        id_address_delivery="12",
        id_address_invoice="12",
        id_currency="1",
        id_carrier="14",
    )
    order["associations"]["order_rows"][0]["id"] = str(1000 + n)
    order.update(extra)
    return order


def _states() -> list[dict]:
    """order-states-default.json in the Webservice's shape (flags as "0"/"1", multi-language name)."""
    rows = []
    for s in DEFAULT_STATES:
        rows.append(
            {
                "id": s["id"],
                "unremovable": "1",
                "delivery": str(s["delivery"]),
                "hidden": "0",
                "send_email": "0",
                "module_name": s["module_name"],
                "invoice": str(s["invoice"]),
                "color": "#34209E",
                "logable": str(s["logable"]),
                "shipped": str(s["shipped"]),
                "paid": str(s["paid"]),
                "pdf_delivery": "0",
                "pdf_invoice": "0",
                "deleted": "0",
                "name": _lang(s["name"]),
                "template": _lang(""),
            }
        )
    return rows


def _histories() -> list[dict]:
    root = ElementTree.fromstring((SAMPLES / "order-histories-display-full.xml").read_bytes())  # noqa: S314
    return [{c.tag: (c.text or "").strip() for c in h} for h in root.find("order_histories")]


class FakePresta:
    def __init__(self, orders: list[dict] | None = None):
        self.key = KEY
        self.denied: set[str] = set()
        self.force_xml = False  # answer XML whatever output_format asks (as some shops do)
        self.tables: dict[str, list[dict]] = {
            "orders": list(orders or []),
            "order_states": _states(),
            "order_histories": _histories(),
            "order_carriers": [],
            "customers": [
                {
                    "id": 6,
                    "firstname": "Anna",
                    "lastname": "Kowalska",
                    "email": "anna@example.com",
                    "company": "",
                }
            ],
            "addresses": [
                {
                    "id": 12,
                    "id_customer": "6",
                    "id_country": "14",
                    "id_state": "0",
                    "alias": "Home",
                    "company": "",
                    "lastname": "Kowalska",
                    "firstname": "Anna",
                    "vat_number": "",
                    "address1": "ul. Długa 5",
                    "address2": "m. 3",
                    "postcode": "00-950",
                    "city": "Warszawa",
                    "phone": "221234567",
                    "phone_mobile": "600100200",
                }
            ],
            "countries": [{"id": 14, "iso_code": "PL", "name": _lang("Poland")}],
            "carriers": [{"id": 14, "id_reference": "3", "name": "InPost Paczkomaty 24/7", "deleted": "0"}],
            "currencies": [{"id": 1, "iso_code": "PLN", "name": "złoty"}],
            "configurations": [
                {"id": 1, "name": "PS_TIMEZONE", "value": "Europe/Warsaw"},
                {"id": 2, "name": "PS_LANG_DEFAULT", "value": "1"},
                *(
                    {"id": 100 + s["id"], "name": STATE_CONFIG[s["install_key"]], "value": str(s["id"])}
                    for s in DEFAULT_STATES
                ),
            ],
            "stock_availables": [],
            "products": [],
            "combinations": [],
        }
        self.requests: list[tuple[str, str, dict]] = []  # (method, path, query)
        self.bodies: list[tuple[str, str, bytes]] = []  # (method, path, XML body) of writes
        self.scripted: list[tuple[str, int, bytes, dict]] = []
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def orders(self) -> list[dict]:
        return self.tables["orders"]

    @orders.setter
    def orders(self, value: list[dict]) -> None:
        self.tables["orders"] = list(value)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> FakePresta:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def script(
        self, path_part: str, status: int, body: bytes | str = b"", headers: dict | None = None
    ) -> None:
        """The next request whose path (and query) contains `path_part` gets this answer instead."""
        if isinstance(body, str):
            body = body.encode()
        with self.lock:
            self.scripted.append((path_part, status, body, headers or {}))

    def calls(self, path_part: str = "", method: str = "GET") -> list[dict]:
        return [q for m, p, q in self.requests if m == method and path_part in p]

    # --- the Webservice ----------------------------------------------------------------------------------

    @staticmethod
    def error(code: int, message: str, fmt: str) -> bytes:
        if fmt == "JSON":
            return json.dumps({"errors": [{"code": code, "message": message}]}).encode()
        return (
            '<?xml version="1.0" encoding="UTF-8"?>\n<prestashop xmlns:xlink="http://www.w3.org/1999/xlink">\n'
            f"<errors>\n<error>\n<code><![CDATA[{code}]]></code>\n<message><![CDATA[{message}]]></message>\n"
            "</error>\n</errors>\n</prestashop>\n"
        ).encode()

    def _auth(self, headers) -> str:
        """ "" when the key is accepted, else the error."""
        value = headers.get("Authorization") or ""
        if not value.startswith("Basic "):
            return "17:Authentication key is empty"
        user, _sep, _password = base64.b64decode(value[6:]).decode().partition(":")
        if len(user) != 32:
            return "18:Invalid authentication key format"
        if user != self.key:
            return "20:Authentification key is not active"
        return ""

    @staticmethod
    def _matches(row: dict, field: str, spec: str) -> bool:
        value = row.get(field)
        value = value[0]["value"] if isinstance(value, list) and value else value
        text = "" if value is None else str(value)
        inner = spec[1:-1] if spec.startswith("[") and spec.endswith("]") else spec
        if "|" in inner:
            return text.lower() in {v.lower() for v in inner.split("|")}
        if "," in inner:
            low, high = inner.split(",", 1)
            if low.isdigit() and high.isdigit() and text.isdigit():
                return int(low) <= int(text) <= int(high)
            return low <= text <= high
        return text.lower() == inner.lower()

    def _select(self, resource: str, q: dict) -> list[dict]:
        rows = list(self.tables[resource])
        for key, spec in q.items():
            if key.startswith("filter[") and key.endswith("]"):
                field = key[7:-1]
                if field.startswith("date_") and q.get("date") != "1":
                    raise ValueError(f"filter on {field} needs date=1")
                rows = [r for r in rows if self._matches(r, field, spec)]
        sort = q.get("sort", "").strip("[]")
        if "date_" in sort and q.get("date") != "1":
            raise ValueError("sorting by a date needs date=1")  # "Unable to filter by this field"
        for part in reversed([p for p in sort.split(",") if p]):
            field, _sep, direction = part.rpartition("_")

            def key(r, f=field):
                v = str(r.get(f, ""))
                return (0, int(v), "") if v.isdigit() else (1, 0, v)

            rows.sort(key=key, reverse=direction == "DESC")
        if "limit" in q:
            parts = q["limit"].split(",")
            offset, count = (int(parts[0]), int(parts[1])) if len(parts) == 2 else (0, int(parts[0]))
            rows = rows[offset : offset + count]
        display = q.get("display", "")
        if display == "full":
            return [copy.deepcopy(r) for r in rows]
        fields = display.strip("[]").split(",") if display else ["id"]
        return [{f: copy.deepcopy(r.get(f, "")) for f in fields} for r in rows]

    def handle(self, method: str, path: str, q: dict, body: bytes) -> tuple[int, object, dict]:
        """(status, data in the JSON shape or raw bytes, headers)."""
        parts = path.strip("/").split("/")
        if parts[0] != "api" or len(parts) < 2 or parts[1] not in self.tables:
            return 400, ("27:Resource does not exist",), {}
        resource = parts[1]
        if resource in self.denied:
            return 401, (f'26:Resource of type "{resource}" is not allowed with this authentication key',), {}
        record = RECORD[resource]
        if method == "GET" and len(parts) == 2:
            try:
                rows = self._select(resource, q)
            except ValueError as exc:
                return 400, (f"28:{exc}",), {}
            return 200, {resource: rows}, {}
        if method == "GET" and len(parts) == 3:
            row = next((r for r in self.tables[resource] if str(r["id"]) == parts[2]), None)
            return (200, {record: copy.deepcopy(row)}, {}) if row else (404, b"", {})
        if method == "POST" and resource == "order_histories":
            fields = self._parse(body, record)
            order = next((o for o in self.orders if str(o["id"]) == fields["id_order"]), None)
            if order is None:
                return 400, ("87:id_order is invalid",), {}
            new = {
                "id": max((int(h["id"]) for h in self.tables["order_histories"]), default=0) + 1,
                "id_employee": "0",
                "id_order_state": fields["id_order_state"],
                "id_order": fields["id_order"],
                "date_add": order["date_upd"],
            }
            self.tables["order_histories"].append(new)
            order["current_state"] = fields["id_order_state"]
            order["date_upd"] = (
                dt.datetime.fromisoformat(order["date_upd"]) + dt.timedelta(minutes=1)
            ).strftime("%Y-%m-%d %H:%M:%S")
            return 201, {record: new}, {}
        if method == "PUT" and len(parts) == 3 and resource in ("order_carriers", "stock_availables"):
            row = next((r for r in self.tables[resource] if str(r["id"]) == parts[2]), None)
            if row is None:
                return 404, b"", {}
            fields = self._parse(body, record)
            if fields.get("id") != parts[2] or set(fields) != {k for k in row}:
                return 400, ("90:the whole record, with its id, is expected",), {}
            row.update({k: v for k, v in fields.items() if k != "id"})
            return 200, {record: copy.deepcopy(row)}, {}
        return 405, ("25:Method not allowed",), {}

    @staticmethod
    def _parse(body: bytes, record: str) -> dict:
        root = ElementTree.fromstring(body)  # noqa: S314 - test fake, our own bodies
        node = root.find(record)
        return {c.tag: (c.text or "").strip() for c in node}

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
                fmt = "JSON" if q.get("output_format") == "JSON" and not fake.force_xml else "XML"
                with fake.lock:
                    fake.requests.append((method, split.path, q))
                    target = urllib.parse.unquote(self.path)
                    forced = next((s for s in fake.scripted if s[0] in target), None)
                    if forced:
                        fake.scripted.remove(forced)
                if forced:
                    return self._send(forced[1], forced[2], forced[3], fmt)
                problem = fake._auth(self.headers)
                if problem:
                    code, message = problem.split(":", 1)
                    return self._send(401, fake.error(int(code), message, fmt), {}, fmt)
                if method in ("PUT", "POST"):
                    with fake.lock:
                        fake.bodies.append((method, split.path, raw))
                with fake.lock:
                    status, payload, headers = fake.handle(method, split.path, q, raw)
                if isinstance(payload, tuple):
                    code, message = payload[0].split(":", 1)
                    body = fake.error(int(code), message, fmt)
                elif isinstance(payload, bytes):
                    body = payload
                elif fmt == "JSON":
                    empty = isinstance(payload, dict) and list(payload.values()) == [[]]
                    body = b"[]" if empty else json.dumps(payload).encode()  # PrestaShop's empty list
                else:
                    body = to_xml(payload, fake.url).encode()
                return self._send(status, body, headers, fmt)

            def _send(self, status: int, body: bytes, headers: dict, fmt: str):
                self.send_response(status)
                kind = "application/json" if fmt == "JSON" else "text/xml"
                self.send_header("Content-Type", f"{kind};charset=utf-8")
                self.send_header("PSWS-Version", VERSION)
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


# --- XML output, shaped like orders-display-full.xml ---------------------------------------------------------

LINKS = {  # fields the Webservice links to another resource (xlink:href)
    "id_address_delivery": "addresses",
    "id_address_invoice": "addresses",
    "id_cart": "carts",
    "id_currency": "currencies",
    "id_lang": "languages",
    "id_customer": "customers",
    "id_carrier": "carriers",
    "current_state": "order_states",
    "product_id": "products",
    "id_order_state": "order_states",
    "id_order": "orders",
}


def _cdata(value) -> str:
    return f"<![CDATA[{value}]]>" if str(value) != "" else ""


def _field(name: str, value, base: str, depth: int) -> str:
    pad = "    " * depth
    if isinstance(value, list) and all(isinstance(v, dict) and set(v) == {"id", "value"} for v in value):
        inner = "".join(
            f'<language id="{v["id"]}" xlink:href="{base}/api/languages/{v["id"]}">{_cdata(v["value"])}</language>'
            for v in value
        )
        return f"{pad}<{name}>{inner}</{name}>\n"
    if isinstance(value, dict):  # associations
        out = f"{pad}<{name}>\n"
        for assoc, rows in value.items():
            one = assoc[:-1]
            out += f'{pad}    <{assoc} nodeType="{one}" virtualEntity="true">\n'
            for row in rows:
                out += f"{pad}        <{one}>\n"
                out += "".join(_field(k, v, base, depth + 3) for k, v in row.items())
                out += f"{pad}        </{one}>\n"
            out += f"{pad}    </{assoc}>\n"
        return out + f"{pad}</{name}>\n"
    link = LINKS.get(name)
    attrs = f' xlink:href="{base}/api/{link}/{value}"' if link and str(value) not in ("", "0") else ""
    return f"{pad}<{name}{attrs}>{_cdata(value)}</{name}>\n"


def to_xml(data, base: str) -> str:
    out = '<?xml version="1.0" encoding="UTF-8"?>\n<prestashop xmlns:xlink="http://www.w3.org/1999/xlink">\n'
    for name, value in data.items():
        if isinstance(value, list):
            record = RECORD[name]
            out += f"    <{name}>\n"
            for row in value:
                out += f"        <{record}>\n" + "".join(_field(k, v, base, 3) for k, v in row.items())
                out += f"        </{record}>\n"
            out += f"    </{name}>\n"
        else:
            out += (
                f"    <{name}>\n"
                + "".join(_field(k, v, base, 2) for k, v in value.items())
                + f"    </{name}>\n"
            )
    return out + "</prestashop>\n"
