"""PrestaShop Webservice (`/api`, PrestaShop 1.7 / 8 / 9).

* Auth: the webservice key (32 characters, Advanced Parameters → Webservice) as the HTTP Basic user with
  an empty password. Never `?ws_key=` (no secrets in URLs). A resource the key may not use answers 401
  ("Resource of type … is not allowed with this authentication key"): that message is kept in the error.
* Reads ask for `output_format=JSON`; an XML answer (the Webservice's default, what some shops and
  modules send whatever is asked) is read into the same shape, so both work.
* Import: `GET /api/orders?display=full&date=1&filter[date_upd]=[from,9999-12-31 23:59:59]
  &sort=[date_upd_ASC,id_ASC]&limit=0,100`. Paging is by key, not by offset: each next page starts after
  the last (date_upd, id) read — first the rest of that second (`filter[date_upd]=[T,T]&filter[id]=[id+1,
  …]`), then the seconds after it — so an order modified during the import moves to the end and is read
  again (harmless) instead of shifting the pages and making one be skipped. PrestaShop stores local shop
  time without an offset: the shop's `PS_TIMEZONE` is read from `configurations` (Europe/Warsaw when
  the key may not read it). The cursor is "<UTC time of the last order>#<its id>"; a new run starts
  `OVERLAP` before it (late writes of the same seconds).
* Each page's lookups are batched and cached for the run: `customers`, `addresses`, `countries`,
  `carriers`, `currencies` by `filter[id]=[1|2|…]`; `order_states` once. A lookup that cannot be read
  turns only the orders that need it into kept errors (with their payload); the page goes on.
* States: `current_state` through the shop's own `order_states`. The semantic states are known by id from
  the configuration (`PS_OS_PAYMENT`, `PS_OS_SHIPPING`, … as a default install sets them); other states
  (a shop's own, or when `configurations` may not be read) by their flags `paid` / `shipped` /
  `delivery` and their mail template or name (see `classify`). A state that fits nothing → the order is
  taken in with its status unchanged and "needs attention"; `current_state` 0 → not an order yet.
* Back: status by `POST /api/order_histories?sendemail=1` (the XML of
  samples/prestashop/order-history-post-request.xml); tracking by `PUT /api/order_carriers/{id}` with
  `tracking_number`; stock by `PUT /api/stock_availables/{id}` (product or combination found by
  `reference`). Prices are not pushed: PrestaShop keeps them net with a tax rule group, combinations as
  an impact on the product price and promotions as specific prices — no safe mapping from one gross price.
* An unreadable page (a PHP warning in the output, a truncated answer) is read again, then order by order
  so that only the broken order is kept as an error (with the raw answer) and the import goes on.
* Webhooks: PrestaShop core sends none; deliveries are refused. Orders come by polling (every 10 min) and
  the hourly reconciliation.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import re
import urllib.parse
import urllib.request
import zoneinfo
from collections.abc import Iterable, Iterator
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any
from xml.etree import ElementTree

from pydantic import ValidationError
from stdnum import ean as stdnum_ean
from stdnum.pl import nip as stdnum_nip

from zaplecze.orders.models import CustomerType, DeliveryMethod, PaymentMethod, PaymentStatus, Stage
from zaplecze.orders.schemas import OrderIn

from .base import (
    AuthFailed,
    Connector,
    ConnectorError,
    HttpClient,
    MappedOrder,
    Needs,
    Offer,
    OrderPage,
    PayloadError,
    RecordError,
    Response,
    SignatureError,
    WebhookEvent,
)
from .woocommerce import _describe, _vat_rate

log = logging.getLogger("zaplecze.integrations")

PER_PAGE = 100
PAGE_READS = 2  # an unreadable page is read this many times before its orders are read one by one
LOOKUP_BATCH = 100  # ids per `filter[id]=[1|2|…]` request
OVERLAP = dt.timedelta(seconds=60)
FAR = "9999-12-31 23:59:59"
MAX_ID = 2_147_483_647
NO_DATE = "0000-00-00 00:00:00"
DEFAULT_TZ = "Europe/Warsaw"
CENT = Decimal("0.01")
KEY_LENGTH = 32
# A reference with these cannot be put into a Webservice filter ([a|b] is "or", [a,b] an interval).
FILTER_UNSAFE = re.compile(r"[\[\]|,%]")

# The lookups an order needs: resource -> the order fields (or address fields) holding its ids.
LOOKUPS = {
    "customers": ("id_customer",),
    "addresses": ("id_address_delivery", "id_address_invoice"),
    "carriers": ("id_carrier",),
    "currencies": ("id_currency",),
}
# What the key must be allowed to read for the import (checked by `test`).
REQUIRED = ("orders", "order_states", "customers", "addresses", "countries", "carriers", "currencies")

# State kinds -> our stage. "refund" becomes RETURNED when the order had shipped before (order_histories).
KIND_STAGE = {
    "awaiting": Stage.AWAITING_PAYMENT,
    "error": Stage.AWAITING_PAYMENT,  # payment error: the customer may pay again
    "cod": Stage.READY,  # awaiting cash-on-delivery validation: to be shipped, paid on delivery
    "paid": Stage.READY,
    "preparation": Stage.IN_FULFILMENT,
    "shipped": Stage.SHIPPED,
    "delivered": Stage.DELIVERED,
    "cancelled": Stage.CANCELLED,
    "refund": Stage.CANCELLED,
}
# The configuration keys holding the ids of the semantic states (install-dev/data/xml/configuration.xml).
CONFIG_KIND = {
    "PS_OS_CHEQUE": "awaiting",
    "PS_OS_BANKWIRE": "awaiting",
    "PS_OS_OUTOFSTOCK_UNPAID": "awaiting",
    "PS_OS_ERROR": "error",
    "PS_OS_COD_VALIDATION": "cod",
    "PS_OS_PAYMENT": "paid",
    "PS_OS_WS_PAYMENT": "paid",
    "PS_OS_OUTOFSTOCK_PAID": "paid",
    "PS_OS_OUTOFSTOCK": "paid",
    "PS_OS_PREPARATION": "preparation",
    "PS_OS_SHIPPING": "shipped",
    "PS_OS_DELIVERED": "delivered",
    "PS_OS_CANCELED": "cancelled",
    "PS_OS_REFUND": "refund",
}
# Our stage -> the state we set (by its configuration key, else the lowest id of that kind).
PUSH_KIND = {
    Stage.READY: ("PS_OS_PAYMENT", "paid"),
    Stage.IN_FULFILMENT: ("PS_OS_PREPARATION", "preparation"),
    Stage.SHIPPED: ("PS_OS_SHIPPING", "shipped"),
    Stage.DELIVERED: ("PS_OS_DELIVERED", "delivered"),
    Stage.COMPLETED: ("PS_OS_DELIVERED", "delivered"),
    Stage.CANCELLED: ("PS_OS_CANCELED", "cancelled"),
    Stage.RETURNED: ("PS_OS_REFUND", "refund"),
}
# Words in a state's name (English and Polish default names) or mail template, lower case.
WORDS = {
    "cancelled": ("cancel", "anulow", "order_canceled"),
    "refund": ("refund", "zwrot"),
    "error": ("error", "błąd", "payment_error"),
    "cod": ("cash on delivery", "pobrani", "cashondelivery", "cod_"),
    "awaiting": ("await", "oczekiw", "not paid", "unpaid", "nieopłac", "cheque", "bankwire", "outofstock"),
    "delivered": ("delivered", "dostarczon", "doręczon"),
}
PAYMENT_MAP = {
    "ps_cashondelivery": PaymentMethod.COD,
    "cashondelivery": PaymentMethod.COD,
    "codfee": PaymentMethod.COD,
    "ps_wirepayment": PaymentMethod.TRANSFER,
    "bankwire": PaymentMethod.TRANSFER,
    "ps_checkout": PaymentMethod.PAYPAL,
    "paypal": PaymentMethod.PAYPAL,
    "stripe_official": PaymentMethod.CARD,
    "przelewy24": PaymentMethod.ONLINE,
    "payu": PaymentMethod.ONLINE,
    "tpay": PaymentMethod.ONLINE,
    "imoje": PaymentMethod.ONLINE,
    "paynow": PaymentMethod.ONLINE,
    "blik": PaymentMethod.BLIK,
}
# Carrier name (lower case) -> delivery method; the first match wins.
CARRIER_WORDS = (
    (("paczkomat", "inpost locker", "parcel locker", "inpost_locker"), DeliveryMethod.INPOST_LOCKER),
    (("inpost",), DeliveryMethod.INPOST_COURIER),
    (("dpd",), DeliveryMethod.DPD),
    (("dhl",), DeliveryMethod.DHL),
    (("gls",), DeliveryMethod.GLS),
    (("orlen",), DeliveryMethod.ORLEN),
    (("poczta", "pocztex"), DeliveryMethod.POCZTA),
    (
        ("odbiór osobisty", "odbior osobisty", "pick up", "pickup", "in store", "w sklepie"),
        DeliveryMethod.PICKUP,
    ),
)


# --- HTTP: the shared client, plus XML bodies for writes ---------------------------------------------------


class WebserviceHttp(HttpClient):
    """`HttpClient` with the key as the Basic user, able to send an XML body (`send_xml`): the Webservice
    takes XML for POST and PUT. The body is attached in the auth hook, so retries send it again."""

    def __init__(self, base_url: str, key: str, **kwargs):
        super().__init__(base_url, auth=self._authorise, **kwargs)
        self._token = base64.b64encode(f"{key}:".encode()).decode()
        self._xml: bytes | None = None

    def _authorise(self, req: urllib.request.Request) -> None:
        req.add_header("Authorization", f"Basic {self._token}")
        if self._xml is not None:
            req.data = self._xml
            req.add_header("Content-Type", "application/xml; charset=UTF-8")

    def send_xml(self, method: str, path: str, body: bytes, *, retry: bool = True, **params: Any) -> Response:
        """`retry=False` for a write that must not be repeated blindly (a POST whose answer was lost may
        have been done): one attempt; the caller's job retries later after checking the shop's state."""
        self._xml, retries = body, self.retries
        if not retry:
            self.retries = 0
        try:
            return self.request(method, path, params=params)
        finally:
            self._xml, self.retries = None, retries


# --- reading answers ---------------------------------------------------------------------------------------


def parse(response: Response) -> Any:
    """The answer as JSON-shaped data, whether the shop sent JSON or XML; PayloadError when neither."""
    head = response.body.lstrip()[:1]
    if head in (b"{", b"["):
        return response.json()
    if head == b"<":
        try:
            return xml_data(response.body)
        except ValueError as exc:
            raise PayloadError(
                f"The shop's answer is not readable XML ({exc})", status=response.status, body=response.text()
            ) from None
    raise PayloadError(
        "The shop's answer is neither JSON nor XML", status=response.status, body=response.text()
    )


def _plural(item: str) -> str:
    if item.endswith("y"):
        return item[:-1] + "ies"
    if item.endswith("ss"):
        return item + "es"
    return item + "s"


def _node(el: ElementTree.Element) -> Any:
    children = list(el)
    if el.get("nodeType") is not None:  # an association: a list of sub-records
        return [_node(c) for c in children]
    if not children:
        return (el.text or "").strip()
    if all(c.tag == "language" for c in children):
        return [{"id": c.get("id", ""), "value": (c.text or "").strip()} for c in children]
    return {c.tag: _node(c) for c in children}


def xml_data(body: bytes) -> dict:
    """`<prestashop><orders><order>…` -> {"orders": [{…}]}; `<prestashop><order>…` -> {"order": {…}}, the
    shape the JSON output has. Multi-language fields become [{"id", "value"}] as in JSON."""
    if b"<!DOCTYPE" in body[:4096].upper() or b"<!ENTITY" in body.upper():
        raise ValueError("a DOCTYPE or entities are refused")
    try:
        # DOCTYPE/entities are refused above, so no entity expansion: S314 does not apply
        root = ElementTree.fromstring(body)  # noqa: S314
    except ElementTree.ParseError as exc:
        raise ValueError(str(exc)) from None
    out: dict[str, Any] = {}
    for child in root:
        items = list(child)
        if not items or (items[0].tag != child.tag and child.tag == _plural(items[0].tag)):
            out[child.tag] = [_node(i) for i in items]
        else:
            out[child.tag] = _node(child)
    return out


def _rows(data: Any, resource: str) -> list[dict]:
    """The records of a list answer. PrestaShop answers an empty list as `[]` (JSON) or `<orders/>`."""
    if data in ([], {}, None):
        return []
    if isinstance(data, dict) and isinstance(data.get(resource), list):
        rows = data[resource]
        if all(isinstance(r, dict) for r in rows):
            return rows
    raise PayloadError(f"expected a list of {resource}", body=json.dumps(data, ensure_ascii=False)[:200_000])


def _text(value: Any, lang: str = "") -> str:
    """A plain or multi-language field as text (the shop's language first, else the first given)."""
    if isinstance(value, list):
        chosen = next((v for v in value if isinstance(v, dict) and str(v.get("id")) == lang), None)
        chosen = chosen or next((v for v in value if isinstance(v, dict) and v.get("value")), None)
        return str((chosen or {}).get("value") or "")
    if value is None or isinstance(value, dict):
        return ""
    return str(value)


def _id(value: Any) -> str:
    text = _text(value).strip()
    return "" if text in ("", "0") else text


def _flag(value: Any) -> bool:
    return _text(value).strip() in ("1", "true")


def _dec(value: Any) -> Decimal:
    text = _text(value).strip()
    try:
        return Decimal(text) if text else Decimal("0")
    except InvalidOperation:
        raise ValueError(f"{text!r} is not a number") from None


def _money(value: Any) -> Decimal:
    return _dec(value).quantize(CENT, ROUND_HALF_UP)


def _cdata(value: Any) -> str:
    return "<![CDATA[" + str(value).replace("]]>", "]]]]><![CDATA[>") + "]]>"


def xml_body(record: str, fields: dict[str, Any]) -> bytes:
    """A Webservice write body: `<prestashop><record><field><![CDATA[v]]></field>…` (plain fields only)."""
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<prestashop xmlns:xlink="http://www.w3.org/1999/xlink">',
    ]
    lines.append(f"  <{record}>")
    for name, value in fields.items():
        if isinstance(value, dict | list) or not re.fullmatch(r"[a-z_0-9]+", name):
            continue
        lines.append(f"    <{name}>{_cdata(value)}</{name}>")
    lines.append(f"  </{record}>")
    lines.append("</prestashop>")
    return ("\n".join(lines) + "\n").encode()


# --- states --------------------------------------------------------------------------------------------


def _has(text: str, kind: str) -> bool:
    return any(w in text for w in WORDS[kind])


def classify(state: dict, lang: str = "") -> str | None:
    """The kind of a shop's order state from its flags, mail template and name; None: cannot tell."""
    words = f"{_text(state.get('name'), lang)} {_text(state.get('template'), lang)}".lower()
    module = _text(state.get("module_name")).lower()
    if _has(words, "cancelled"):
        return "cancelled"
    if _has(words, "refund"):
        return "refund"
    if _flag(state.get("shipped")):
        return "delivered" if _has(words, "delivered") else "shipped"
    if _flag(state.get("paid")):
        return "preparation" if _flag(state.get("delivery")) else "paid"
    if _has(words, "error"):
        return "error"
    if _has(words, "cod") or "cashondelivery" in module:
        return "cod"
    if module or _has(words, "awaiting"):
        return "awaiting"
    return None


def _address_ids(order: dict) -> list[str]:
    return [_id(order.get(f)) for f in LOOKUPS["addresses"]]


def _shop_time(value: Any, tz: dt.tzinfo) -> dt.datetime | None:
    text = _text(value).strip()
    if not text or text.startswith("0000"):
        return None
    parsed = dt.datetime.fromisoformat(text)
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=tz)).astimezone(dt.UTC)


def parse_cursor(cursor: str) -> tuple[dt.datetime | None, int]:
    """ "<UTC time>#<id>" -> (time, id); empty -> (None, 0)."""
    if not cursor:
        return None, 0
    head, _sep, tail = cursor.partition("#")
    when = dt.datetime.fromisoformat(head) if head else None
    if when is not None and when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when, int(tail) if tail.isdigit() else 0


# --- the connector -------------------------------------------------------------------------------------


class PrestaShop(Connector):
    platform = "prestashop"
    # The form's "Access token" field carries the webservice key.
    credential_fields = (("access_token", "Webservice key"),)
    supports_stock = True
    supports_prices = False

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._cache: dict[str, dict[str, dict]] = {r: {} for r in (*LOOKUPS, "countries")}
        self._unreadable: dict[str, dict[str, str]] = {r: {} for r in (*LOOKUPS, "countries")}
        self._states: dict[str, dict] | None = None
        self._config: dict[str, str] | None = None
        self._shipped_before: dict[str, bool] = {}

    def make_http(self) -> HttpClient:
        split = urllib.parse.urlsplit(self.base_url)
        if split.scheme != "https" and split.hostname not in ("127.0.0.1", "localhost", "::1"):
            raise ConnectorError(
                "The shop address must start with https:// (the webservice key travels with it)"
            )
        key = self.credentials.get("access_token", "").strip()
        if len(key) != KEY_LENGTH:
            raise ConnectorError(
                "A PrestaShop webservice key has 32 characters (Advanced Parameters → Webservice)"
            )
        return WebserviceHttp(f"{self.base_url}/api", key)

    # --- low level --------------------------------------------------------------------------------------

    def _get(self, path: str, **params: Any) -> Any:
        params.setdefault("output_format", "JSON")
        try:
            response = self.http.get(path, **params)
        except AuthFailed as exc:
            raise AuthFailed(f"{exc}{_ps_message(exc.body)}", status=exc.status, body=exc.body) from None
        return parse(response)

    def _list(self, resource: str, **params: Any) -> list[dict]:
        return _rows(self._get(resource, **params), resource)

    def _send(self, method: str, path: str, body: bytes, **params: Any) -> Any:
        params.setdefault("output_format", "JSON")
        try:
            # PUT writes the whole record (repeatable); a POST adds one (not repeated blindly)
            response = self.http.send_xml(method, path, body, retry=method == "PUT", **params)
        except AuthFailed as exc:
            raise AuthFailed(f"{exc}{_ps_message(exc.body)}", status=exc.status, body=exc.body) from None
        except ConnectorError as exc:
            message = _ps_message(exc.body)
            if not message:
                raise
            raise ConnectorError(f"{exc}{message}", status=exc.status, body=exc.body) from None
        return parse(response)

    def config(self) -> dict[str, str]:
        """PS_TIMEZONE, PS_LANG_DEFAULT and the PS_OS_* state ids; {} when the key may not read them."""
        if self._config is None:
            names = ["PS_TIMEZONE", "PS_LANG_DEFAULT", *CONFIG_KIND]
            try:
                rows = self._list(
                    "configurations", display="[name,value]", **{"filter[name]": f"[{'|'.join(names)}]"}
                )
            except (AuthFailed, PayloadError) as exc:
                log.info(
                    "PrestaShop %s: configurations not readable (%s); using defaults", self.base_url, exc
                )
                rows = []
            config: dict[str, str] = {}
            for row in rows:
                name, value = _text(row.get("name")), _text(row.get("value"))
                if name and value and name not in config:
                    config[name] = value
            self._config = config
        return self._config

    @property
    def tz(self) -> dt.tzinfo:
        try:
            return zoneinfo.ZoneInfo(self.config().get("PS_TIMEZONE") or DEFAULT_TZ)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            return zoneinfo.ZoneInfo(DEFAULT_TZ)

    @property
    def lang(self) -> str:
        return self.config().get("PS_LANG_DEFAULT", "")

    def _shop_str(self, when: dt.datetime) -> str:
        return when.astimezone(self.tz).strftime("%Y-%m-%d %H:%M:%S")

    # --- states -------------------------------------------------------------------------------------------

    def states(self) -> dict[str, dict]:
        """The shop's order states by id, each with its `kind` (None: unknown) added."""
        if self._states is None:
            config = self.config()
            by_config = {config[k]: kind for k, kind in CONFIG_KIND.items() if config.get(k)}
            states = {}
            for row in self._list("order_states", display="full"):
                sid = _id(row.get("id"))
                if sid:
                    states[sid] = dict(row, kind=by_config.get(sid) or classify(row, self.lang))
            self._states = states
        return self._states

    def _state_name(self, state_id: str) -> str:
        state = self.states().get(state_id)
        return _text(state.get("name"), self.lang) if state else ""

    def _had_shipped(self, order_id: str) -> bool:
        """Whether a refunded order went through a shipped state before (order_histories)."""
        if order_id not in self._shipped_before:
            try:
                rows = self._list("order_histories", display="full", **{"filter[id_order]": f"[{order_id}]"})
            except ConnectorError:
                rows = []
            states = self.states()
            self._shipped_before[order_id] = any(
                states.get(_id(r.get("id_order_state")), {}).get("kind") in ("shipped", "delivered")
                for r in rows
            )
        return self._shipped_before[order_id]

    # --- lookups ------------------------------------------------------------------------------------------

    def _fetch(self, resource: str, ids: Iterable[str]) -> None:
        """Read these records into the run's cache, in batches; a batch that cannot be read marks its ids."""
        cache, unreadable = self._cache[resource], self._unreadable[resource]
        todo = sorted({i for i in ids if i.isdigit() and i not in cache and i not in unreadable}, key=int)
        for start in range(0, len(todo), LOOKUP_BATCH):
            batch = todo[start : start + LOOKUP_BATCH]
            try:
                rows = self._list(resource, display="full", **{"filter[id]": f"[{'|'.join(batch)}]"})
            except PayloadError as exc:
                for i in batch:
                    unreadable[i] = str(exc)
                continue
            for row in rows:
                cache[_id(row.get("id"))] = row
            for i in batch:
                cache.setdefault(i, {})  # not there (deleted): an empty record, not an error

    def prefetch(self, orders: list[dict]) -> None:
        """Every record these orders refer to, batched: one request per resource for a page."""
        self.states()
        for resource, fields in LOOKUPS.items():
            self._fetch(resource, (_id(o.get(f)) for o in orders for f in fields))
        countries = (_id(a.get("id_country")) for a in self._cache["addresses"].values() if a)
        self._fetch("countries", countries)

    def _lookup(self, resource: str, record_id: str) -> dict:
        if not record_id:
            return {}
        if record_id in self._unreadable[resource]:
            raise ValueError(
                f"{resource} {record_id} could not be read: {self._unreadable[resource][record_id]}"
            )
        return self._cache[resource].get(record_id) or {}

    # --- reading ----------------------------------------------------------------------------------------

    def test(self) -> str:
        """Reads one id of each resource the import needs; names the ones the key may not read."""
        missing, version = [], ""
        for resource in REQUIRED:
            try:
                response = self.http.get(resource, display="[id]", limit="1", output_format="JSON")
            except AuthFailed as exc:
                if resource == "orders":
                    raise AuthFailed(
                        f"{exc}{_ps_message(exc.body)}", status=exc.status, body=exc.body
                    ) from None
                missing.append(resource)
                continue
            parse(response)
            version = version or response.header("psws-version")
        if missing:
            raise AuthFailed(
                "The webservice key may not read: "
                + ", ".join(missing)
                + " (tick GET for them in Advanced Parameters → Webservice)",
                status=401,
            )
        return (
            f"PrestaShop {version or '?'}: the key reads orders and their customers, addresses and carriers"
        )

    def _page_rows(self, params: dict[str, Any]) -> tuple[list[dict], list[RecordError], list[dict]]:
        """One list request of orders -> (orders, errors, the page's (id, date_upd) in order). An unreadable
        answer is read again; still unreadable, the page's ids are listed alone and each order read by
        itself, so only the order that breaks the answer is kept as an error (with the body) and the
        import goes on past it. When even the ids cannot be read, the page is one error and the run stops
        there (the cursor stays; the next run reads it again)."""
        failure: PayloadError | None = None
        for _attempt in range(PAGE_READS):
            try:
                rows = self._list("orders", **params)
                return rows, [], rows
            except PayloadError as exc:
                failure = exc
        assert failure is not None
        try:
            heads = self._list("orders", **{**params, "display": "[id,date_upd]"})
        except PayloadError:
            return [], [RecordError("", f"orders page: {failure}", failure.body)], []
        rows, errors = [], []
        for head in heads:
            oid = _id(head.get("id"))
            try:
                data = self._get(f"orders/{oid}")
                order = data.get("order") if isinstance(data, dict) else None
                if not isinstance(order, dict):
                    raise PayloadError("expected an order", body=json.dumps(data, ensure_ascii=False))
            except PayloadError as exc:
                errors.append(RecordError(oid, f"order {oid}: {exc}", exc.body))
                continue
            except ConnectorError as exc:
                if exc.status == 404:  # deleted since the list was read
                    continue
                raise
            rows.append(order)
        return rows, errors, heads

    def orders_since(self, cursor: str, *, since: dt.datetime | None = None) -> Iterator[OrderPage]:
        after, last_id = parse_cursor(cursor)
        if since is not None:
            after, last_id = since, 0
        elif after is not None:
            after, last_id = after - OVERLAP, 0  # a new run reads a minute back (late writes)
        position = cursor if since is None else ""
        page, tie = 1, False
        base = {"display": "full", "date": "1", "sort": "[date_upd_ASC,id_ASC]", "limit": f"0,{PER_PAGE}"}
        while True:
            rows, errors, heads, from_tie = [], [], [], False
            if tie and after is not None:
                # the rest of the second the last page ended in: same date_upd, higher id
                local = self._shop_str(after)
                rows, errors, heads = self._page_rows(
                    {
                        **base,
                        "filter[date_upd]": f"[{local},{local}]",
                        "filter[id]": f"[{last_id + 1},{MAX_ID}]",
                    }
                )
                from_tie = bool(heads or errors)
            if not from_tie:
                params = dict(base)
                if after is not None:
                    start = after + dt.timedelta(seconds=1) if last_id else after
                    params["filter[date_upd]"] = f"[{self._shop_str(start)},{FAR}]"
                rows, errors, heads = self._page_rows(params)
            items = self._map_page(rows, errors)
            reached = (after, last_id)
            if heads:
                last = heads[-1]
                try:
                    after, last_id = (
                        _shop_time(last.get("date_upd"), self.tz) or after,
                        int(_id(last.get("id"))),
                    )
                except ValueError:  # a broken date or id (that order is kept as an error): stay put
                    pass
                if after is not None:
                    position = f"{after.astimezone(dt.UTC).isoformat(timespec='seconds')}#{last_id}"
            yield OrderPage(items, errors, position, page)
            if not heads or (after, last_id) == reached:
                # nothing more; or an unreadable page (kept as an error), or one whose last order has no
                # readable date: stop here, the next run reads it again
                return
            # A full page may end in the middle of a second: read the rest of that second, then go on.
            tie = len(heads) == PER_PAGE
            if not tie and not from_tie:
                return
            page += 1

    def _map_page(self, rows: list[dict], errors: list[RecordError]) -> list[MappedOrder]:
        items: list[MappedOrder] = []
        # Unreadable order states (or any request failing after retries) fail the run before this page is
        # committed: the cursor stays and the next run reads the page again. Unreadable lookups only mark
        # the orders needing them (see `_fetch`).
        self.prefetch(rows)
        for raw in rows:
            try:
                items.append(self.map_order(raw))
            except (ValueError, KeyError, TypeError, AttributeError, ValidationError) as exc:
                ext = _id(raw.get("id")) if isinstance(raw, dict) else ""
                errors.append(RecordError(ext, _describe(exc), json.dumps(raw, ensure_ascii=False)))
        return items

    def map_order(self, payload: dict, *, current_stage: str | None = None) -> MappedOrder:
        if not isinstance(payload, dict) or not _id(payload.get("id")):
            raise ValueError("not an order object (no id)")
        ext = _id(payload["id"])
        try:
            self.prefetch([payload])  # a no-op during an import (the page was prefetched); reads on a Retry
            tz, lang = self.tz, self.lang
        except ConnectorError as exc:
            raise ValueError(f"the shop could not be read: {exc}") from None
        state_id = _id(payload.get("current_state"))
        modified = _shop_time(payload.get("date_upd"), tz)
        if not state_id:  # PaymentModule::validateOrder has not set a state yet: not an order yet
            return MappedOrder(ext, "0", modified, None, raw=payload)
        state = self.states().get(state_id)
        kind = state.get("kind") if state else None
        attention: list[Needs] = []
        stage = KIND_STAGE.get(kind) if kind else None
        if stage is None:
            name = self._state_name(state_id)
            attention.append(
                Needs(
                    "unknown_channel_status",
                    f"PrestaShop order state {state_id}"
                    + (f" ({name!r})" if name else "")
                    + " is not known to Zaplecze",
                )
            )
        elif kind == "refund" and (
            current_stage in (Stage.SHIPPED, Stage.DELIVERED, Stage.COMPLETED) or self._had_shipped(ext)
        ):
            stage = Stage.RETURNED
        payment_status = None
        if kind == "refund":
            payment_status = PaymentStatus.REFUNDED
        elif state is not None and _flag(state.get("paid")):
            payment_status = PaymentStatus.PAID
        customer = self._lookup("customers", _id(payload.get("id_customer")))
        delivery_id, invoice_id = _address_ids(payload)
        shipping_address = self._address(self._lookup("addresses", delivery_id))
        invoice = self._lookup("addresses", invoice_id)
        billing_address = self._address(invoice)
        currency = self._lookup("currencies", _id(payload.get("id_currency")))
        iso = _text(currency.get("iso_code")).strip().upper()
        if not iso:
            raise ValueError(f"currency {_text(payload.get('id_currency'))!r} of the order is unknown")
        carrier = self._lookup("carriers", _id(payload.get("id_carrier")))
        lines = []
        rows = (payload.get("associations") or {}).get("order_rows") or []
        for row in rows if isinstance(rows, list) else []:
            qty = int(_dec(row.get("product_quantity")))
            if qty <= 0:
                continue
            gross, net = _dec(row.get("unit_price_tax_incl")), _dec(row.get("unit_price_tax_excl"))
            sku = _text(row.get("product_reference")).strip() or (
                f"PS-{_id(row.get('product_id'))}"
                + (f"-{_id(row.get('product_attribute_id'))}" if _id(row.get("product_attribute_id")) else "")
            )
            ean = _text(row.get("product_ean13")).strip()
            lines.append(
                {
                    "sku": sku[:64],
                    "ean": ean if ean and stdnum_ean.is_valid(ean) else "",
                    "name": _text(row.get("product_name"))[:300],
                    "quantity": qty,
                    "unit_price_gross": gross.quantize(CENT, ROUND_HALF_UP),
                    "vat_rate": _vat_rate(net * qty, (gross - net) * qty),
                    "external_id": _id(row.get("id"))[:100],
                }
            )
        nip = self._nip(invoice)
        name = f"{_text(customer.get('firstname'))} {_text(customer.get('lastname'))}".strip()
        data = OrderIn(
            channel=self.channel,
            external_id=ext,
            number=(_text(payload.get("reference")).strip() or ext)[:60],
            stage=stage,
            placed_at=_shop_time(payload.get("date_add"), tz) or modified or dt.datetime.now(dt.UTC),
            updated_at=modified,
            currency=iso,
            customer_type=CustomerType.BUSINESS if nip else CustomerType.CONSUMER,
            customer_name=(name or (billing_address or {}).get("name", ""))[:200],
            email=_text(customer.get("email")).strip()[:254],
            phone=((billing_address or shipping_address or {}).get("phone") or "")[:40],
            company=(_text(invoice.get("company")) or _text(customer.get("company")))[:200],
            nip=nip,
            billing_address=billing_address,
            shipping_address=shipping_address,
            payment_method=self._payment(payload),
            payment_status=payment_status,
            delivery_method=_delivery(_text(carrier.get("name"), lang)),
            shipping_cost=_money(payload.get("total_shipping_tax_incl"))
            + _money(payload.get("total_wrapping_tax_incl")),
            discount=_money(payload.get("total_discounts_tax_incl")),
            total_gross=_money(payload.get("total_paid_tax_incl")),
            notes=_text(payload.get("gift_message"))[:5000],
            lines=lines,
        )
        return MappedOrder(ext, state_id, modified, data, stage, payment_status, attention, raw=payload)

    def _address(self, a: dict) -> dict | None:
        if not a:
            return None
        country = self._lookup("countries", _id(a.get("id_country")))
        street = " ".join(
            x for x in (_text(a.get("address1")).strip(), _text(a.get("address2")).strip()) if x
        )
        return {
            "name": f"{_text(a.get('firstname'))} {_text(a.get('lastname'))}".strip()[:200],
            "company": _text(a.get("company"))[:300],
            "street": street[:300],
            "postcode": _text(a.get("postcode")).strip()[:12],
            "city": _text(a.get("city"))[:300],
            "country": (_text(country.get("iso_code")).strip() or "PL")[:2],
            "phone": (_text(a.get("phone_mobile")).strip() or _text(a.get("phone")).strip())[:40],
        }

    def _nip(self, invoice: dict) -> str:
        """A Polish NIP from the invoice address's VAT number, when it is one (others are left out)."""
        vat = _text(invoice.get("vat_number")).strip().upper() if invoice else ""
        if not vat:
            return ""
        country = _text(self._lookup("countries", _id(invoice.get("id_country"))).get("iso_code")).upper()
        compact = stdnum_nip.compact(vat.removeprefix("PL"))
        if country in ("", "PL") and stdnum_nip.is_valid(compact):
            return compact
        return ""

    @staticmethod
    def _payment(payload: dict) -> PaymentMethod:
        module = _text(payload.get("module")).strip().lower()
        label = _text(payload.get("payment")).lower()
        if "blik" in label:
            return PaymentMethod.BLIK
        method = PAYMENT_MAP.get(module)
        if method == PaymentMethod.PAYPAL and ("card" in label or "karta" in label):
            return PaymentMethod.CARD
        if method is None:
            if "cash on delivery" in label or "pobran" in label:
                return PaymentMethod.COD
            if "transfer" in label or "wire" in label or "przelew" in label:
                return PaymentMethod.TRANSFER
        return method or PaymentMethod.OTHER

    def offers(self) -> Iterator[Offer]:
        """Products, then their combinations (price = product price + impact; net, as the shop keeps it)."""
        stock: dict[tuple[str, str], int] = {}
        for row in self._paged("stock_availables", "[id_product,id_product_attribute,quantity]"):
            key = (_id(row.get("id_product")), _id(row.get("id_product_attribute")))
            stock.setdefault(key, int(_dec(row.get("quantity"))))
        products: dict[str, tuple[str, Decimal]] = {}
        for p in self._paged("products", "[id,reference,name,price]"):
            pid = _id(p.get("id"))
            name, price = _text(p.get("name"), self.lang), _money(p.get("price"))
            products[pid] = (name, price)
            yield Offer(pid, _text(p.get("reference")), name, str(price), stock.get((pid, "")), "")
        for c in self._paged("combinations", "[id,id_product,reference,price]"):
            cid, pid = _id(c.get("id")), _id(c.get("id_product"))
            name, price = products.get(pid, ("", Decimal("0")))
            reference = _text(c.get("reference"))
            yield Offer(
                cid,
                reference,
                f"{name} ({reference})" if reference else name,
                str((price + _money(c.get("price"))).quantize(CENT)),
                stock.get((pid, cid)),
                pid,
            )

    def _paged(self, resource: str, display: str) -> Iterator[dict]:
        offset = 0
        while True:
            rows = self._list(resource, display=display, sort="[id_ASC]", limit=f"{offset},{PER_PAGE}")
            yield from rows
            if len(rows) < PER_PAGE:
                return
            offset += PER_PAGE

    # --- webhooks ---------------------------------------------------------------------------------------

    def verify_webhook(self, *, headers: dict[str, str], body: bytes) -> WebhookEvent:
        raise SignatureError(
            "PrestaShop sends no order webhooks: its orders are read by polling (every 10 minutes) and the "
            "hourly reconciliation"
        )

    def webhook_orders(self, *, topic: str, body: bytes) -> list[dict]:
        return []

    # --- writing back -----------------------------------------------------------------------------------

    def state_for(self, stage: str) -> str:
        """The id of the shop's state we set for a stage ("" when the stage is not pushed)."""
        if stage not in PUSH_KIND:
            return ""
        key, kind = PUSH_KIND[stage]
        states = self.states()
        configured = self.config().get(key, "")
        if configured in states:
            return configured
        ids = [i for i, s in states.items() if s.get("kind") == kind and not _flag(s.get("deleted"))]
        return min(ids, key=lambda i: int(i) if i.isdigit() else MAX_ID) if ids else ""

    def push_status(self, *, external_id: str, stage: str) -> str:
        target = self.state_for(stage)
        if not target:
            return ""
        data = self._get(f"orders/{external_id}")
        order = data.get("order") if isinstance(data, dict) else None
        if not isinstance(order, dict):
            raise PayloadError(
                f"expected PrestaShop order {external_id}", body=json.dumps(data, ensure_ascii=False)
            )
        current = _id(order.get("current_state"))
        states = self.states()
        stage_of = {i: KIND_STAGE.get(s.get("kind") or "") for i, s in states.items()}
        if current and stage_of.get(current) and stage_of.get(current) == stage_of[target]:
            # already in a state of that stage (e.g. Delivered for completed, or a shop's own "paid" state,
            # or cash on delivery for ready): no second history row, no second e-mail
            return current
        body = xml_body("order_history", {"id_order_state": target, "id_order": external_id})
        self._send("POST", "order_histories", body, sendemail="1")
        return target

    def push_tracking(self, *, external_id: str, carrier: str, tracking_number: str, url: str = "") -> None:
        rows = self._list("order_carriers", display="full", **{"filter[id_order]": f"[{external_id}]"})
        if not rows:
            raise ConnectorError(
                f"PrestaShop order {external_id} has no carrier to put the tracking number on"
            )
        row = max(rows, key=lambda r: int(_id(r.get("id")) or 0))
        fields = {k: _text(v) for k, v in row.items() if not isinstance(v, dict | list)}
        fields["tracking_number"] = tracking_number
        self._send("PUT", f"order_carriers/{_id(row.get('id'))}", xml_body("order_carrier", fields))

    def _find_many(self, skus: list[str]) -> dict[str, tuple[str, str]]:
        """{reference: (product id, combination id or "")}, batched (`filter[reference]=[A|B|…]`);
        combinations first (a variant's SKU), then products. References a filter cannot carry are left out."""
        found: dict[str, tuple[str, str]] = {}
        todo = sorted({s for s in skus if s and not FILTER_UNSAFE.search(s)})
        for resource, display in (
            ("combinations", "[id,id_product,reference]"),
            ("products", "[id,reference]"),
        ):
            rest = [s for s in todo if s not in found]
            for start in range(0, len(rest), LOOKUP_BATCH):
                batch = rest[start : start + LOOKUP_BATCH]
                wanted = set(batch)
                for row in self._list(
                    resource, display=display, **{"filter[reference]": f"[{'|'.join(batch)}]"}
                ):
                    ref = _text(row.get("reference"))
                    if ref not in wanted or ref in found:
                        continue  # the filter ignores case; a reference matches exactly
                    if resource == "combinations":
                        found[ref] = (_id(row.get("id_product")), _id(row.get("id")))
                    else:
                        found[ref] = (_id(row.get("id")), "")
        return found

    def push_items(self, items: list[dict]) -> dict[str, bool | ConnectorError]:
        """Stock of many SKUs: the references and their stock rows are looked up in batches, then one PUT
        per SKU. {sku: True (set) | False (not in the shop) | the error}. Price parts are not sent."""
        stock = {i["sku"]: i["quantity"] for i in items if "quantity" in i}
        out: dict[str, bool | ConnectorError] = {i["sku"]: False for i in items}
        try:
            found = self._find_many(list(stock))
            rows: dict[tuple[str, str], dict] = {}
            products = sorted({p for p, _c in found.values() if p.isdigit()}, key=int)
            for start in range(0, len(products), LOOKUP_BATCH):
                batch = products[start : start + LOOKUP_BATCH]
                for row in self._list(
                    "stock_availables", display="full", **{"filter[id_product]": f"[{'|'.join(batch)}]"}
                ):
                    rows.setdefault((_id(row.get("id_product")), _id(row.get("id_product_attribute"))), row)
        except AuthFailed:
            raise
        except ConnectorError as exc:
            return {sku: exc for sku in out}
        for sku, quantity in stock.items():
            row = rows.get(found[sku]) if sku in found else None
            if row is None:
                continue
            fields = {k: _text(v) for k, v in row.items() if not isinstance(v, dict | list)}
            fields["quantity"] = str(max(0, int(quantity)))
            try:
                self._send(
                    "PUT", f"stock_availables/{_id(row.get('id'))}", xml_body("stock_available", fields)
                )
            except AuthFailed:
                raise
            except ConnectorError as exc:
                out[sku] = exc
                continue
            out[sku] = True
        return out

    def push_stock(self, *, sku: str, quantity: int) -> bool:
        result = self.push_items([{"sku": sku, "quantity": quantity}])[sku]
        if isinstance(result, ConnectorError):
            raise result
        return result

    def push_price(self, *, sku: str, regular: str, sale: str | None = None) -> bool:
        raise ConnectorError("Prices are not pushed to PrestaShop (net prices with tax rules; see the docs)")


def _delivery(carrier: str) -> DeliveryMethod:
    name = carrier.lower()
    for words, method in CARRIER_WORDS:
        if any(w in name for w in words):
            return method
    return DeliveryMethod.OTHER


def _ps_message(body: str) -> str:
    """The Webservice's own error message from a JSON or XML error body (": …"), or ""."""
    if not body:
        return ""
    try:
        data = json.loads(body)
        errors = data.get("errors") if isinstance(data, dict) else None
        messages = [str(e.get("message", "")) for e in errors or [] if isinstance(e, dict)]
    except ValueError:
        messages = re.findall(r"<message>\s*(?:<!\[CDATA\[)?(.*?)(?:\]\]>)?\s*</message>", body, re.S)
    text = "; ".join(" ".join(m.split()) for m in messages if m.strip())
    return f" ({text[:300]})" if text else ""
