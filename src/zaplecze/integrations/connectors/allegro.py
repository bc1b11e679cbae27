"""Allegro REST API (https://developer.allegro.pl), media type `application/vnd.allegro.public.v1+json`.

* Auth: OAuth 2 device flow. The connection stores the app's client id and secret; `device_start()`
  (`POST {auth}/auth/oauth/device`) gives a user code and a verification address that the organiser opens
  while logged in to Allegro; `device_poll()` (`POST {auth}/auth/oauth/token`, grant type
  `urn:ietf:params:oauth:grant-type:device_code`) answers pending / slow down / denied / expired until the
  access is granted. The access token (12 h), refresh token and expiry are stored with the credentials.
  Before expiry, or once on a 401, the token is renewed (grant type `refresh_token`) and the new tokens are
  handed to `credentials_changed` (stored encrypted at once). A refused renewal raises AuthFailed.
  Client credentials travel as HTTP Basic auth and the form body, never in URLs.
* Hosts: the connection's address is the API host (`https://api.allegro.pl`, sandbox
  `https://api.allegro.pl.allegrosandbox.pl`); the authorization host is the same without `api.`
  (`https://allegro.pl`). Any other address (a loopback test server) serves both.
* Import: the first import (and a reconciliation) pages `GET /order/checkout-forms?sort=updatedAt&
  updatedAt.gte=T&offset=N&limit=100`; Allegro allows offset + limit <= 10 000, so after 10 000 forms the
  window moves to the newest updatedAt read and the offset starts again. Before it starts, the newest
  order event id is read (`GET /order/event-stats`); later imports follow the order event journal from it
  (`GET /order/events?from=<id>&limit=100`) and fetch each changed checkout form
  (`GET /order/checkout-forms/{id}`). Orders changed during the first import are therefore read again from
  the journal. Cursor: `<window>#<next offset>#<event id>` during the first import,
  `<event time>#ev#<event id>` afterwards (the time part is what a kept page error re-reads from).
* Status: `status` BOUGHT / FILLED_IN are not orders yet (skipped); READY_FOR_PROCESSING takes its stage
  from `fulfillment.status`; CANCELLED is cancelled; anything unknown -> stage None + "needs attention".
* Back: status by `PUT /order/checkout-forms/{id}/fulfillment?checkoutForm.revision=R`, tracking by
  `POST /order/checkout-forms/{id}/shipments` (carrierId, waybill, the form's line items), stock and
  price by `PATCH /sale/product-offers/{offerId}` for every offer whose external id (signature) is the SKU.
* Webhooks: Allegro has none for orders; a delivery to the webhook address is refused.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from pydantic import ValidationError
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
from .woocommerce import _describe

MEDIA = "application/vnd.allegro.public.v1+json"
PER_PAGE = 100  # checkout forms per page (Allegro's maximum)
OFFSET_LIMIT = 10_000  # offset + limit may not exceed this
EVENTS_PER_PAGE = 100
OFFERS_PER_PAGE = 1000
PAGE_READS = 2  # an unreadable answer is read this many times before it is recorded as an error
REFRESH_MARGIN = dt.timedelta(minutes=5)
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
DEFAULT_URL = "https://api.allegro.pl"

# Checkout form status -> our stage. None: not an order yet (skipped).
STATUS_MAP: dict[str, str | None] = {
    "BOUGHT": None,
    "FILLED_IN": None,
    "READY_FOR_PROCESSING": "by fulfilment",
    "CANCELLED": Stage.CANCELLED,
}
# Seller's fulfilment status of a READY_FOR_PROCESSING form -> our stage. None: known, but kept as it is
# here and shown as "needs attention" (the seller suspended the order on Allegro).
FULFILMENT_MAP: dict[str, str | None] = {
    "NEW": Stage.READY,
    "PROCESSING": Stage.IN_FULFILMENT,
    "READY_FOR_SHIPMENT": Stage.IN_FULFILMENT,
    "READY_FOR_PICKUP": Stage.SHIPPED,
    "SENT": Stage.SHIPPED,
    "PICKED_UP": Stage.DELIVERED,
    "CANCELLED": Stage.CANCELLED,
    "RETURNED": Stage.RETURNED,
    "SUSPENDED": None,
}
# Our stage -> the fulfilment status we set, and the shipment summary that goes with it.
PUSH_MAP = {
    Stage.IN_FULFILMENT: ("PROCESSING", "NONE"),
    Stage.SHIPPED: ("SENT", "ALL"),
    Stage.DELIVERED: ("PICKED_UP", "ALL"),
    Stage.CANCELLED: ("CANCELLED", "NONE"),
}
# Event types that never concern an order yet: the form is not fetched for them.
NOT_YET = {"BOUGHT", "FILLED_IN"}
CARRIERS = [  # (words in our carrier name, Allegro carrierId)
    (("inpost", "paczkomat"), "INPOST"),
    (("dpd",), "DPD"),
    (("dhl",), "DHL"),
    (("ups",), "UPS"),
    (("gls",), "GLS"),
    (("fedex",), "FEDEX"),
    (("poczta", "pocztex"), "POCZTA_POLSKA"),
    (("allegro",), "ALLEGRO"),
]
DELIVERY = [  # (words in the delivery method's name, our delivery method)
    (("paczkomat", "locker", "one box", "one punkt"), DeliveryMethod.INPOST_LOCKER),
    (("kurier inpost", "inpost kurier", "inpost courier"), DeliveryMethod.INPOST_COURIER),
    (("dpd",), DeliveryMethod.DPD),
    (("dhl",), DeliveryMethod.DHL),
    (("gls",), DeliveryMethod.GLS),
    (("poczta", "pocztex"), DeliveryMethod.POCZTA),
    (("orlen",), DeliveryMethod.ORLEN),
    (("odbiór osobisty", "odbior osobisty", "personal pickup"), DeliveryMethod.PICKUP),
]


# --- small helpers --------------------------------------------------------------------------------------


def _time(value) -> dt.datetime | None:
    if not value:
        return None
    parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _iso(value: dt.datetime) -> str:
    """Allegro's form: 2026-11-20T08:00:00.123Z."""
    value = value.astimezone(dt.UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def _money(value) -> Decimal:
    amount = value.get("amount") if isinstance(value, dict) else value
    if amount in (None, ""):
        return Decimal("0")
    try:
        return Decimal(str(amount))
    except InvalidOperation:
        raise ValueError(f"{amount!r} is not an amount") from None


def _vat(tax: dict | None) -> str:
    if not tax or tax.get("rate") in (None, ""):
        return "23"
    try:
        rate = Decimal(str(tax["rate"]))
    except InvalidOperation:
        raise ValueError(f"VAT rate {tax['rate']!r} is not a number") from None
    return str(int(rate)) if rate == rate.to_integral_value() else str(rate)


def map_status(status: str, fulfilment: str | None) -> str | None:
    """Our stage; raises KeyError for an unknown status or fulfilment status. None: no stage decided."""
    base = STATUS_MAP[status]
    if base != "by fulfilment":
        return base
    return FULFILMENT_MAP[fulfilment or "NEW"]


def platform_status(form: dict) -> str:
    fulfilment = (form.get("fulfillment") or {}).get("status") or "NEW"
    return f"{form.get('status') or '-'}/{fulfilment}"


def auth_base(api_url: str) -> str:
    """The authorization host for an API host: api.allegro.pl -> allegro.pl (sandbox alike); other hosts
    (a test server) serve both."""
    split = urllib.parse.urlsplit(api_url)
    host = split.hostname or ""
    if host.startswith("api.") and "allegro" in host:
        netloc = split.netloc.replace(host, host[4:], 1)
        return urllib.parse.urlunsplit((split.scheme, netloc, "", "", "")).rstrip("/")
    return api_url.rstrip("/")


def parse_cursor(cursor: str) -> tuple[str, dt.datetime | None, int, str]:
    """-> (phase, time, offset, event id). Phases: "first" (paging checkout forms), "events"."""
    if not cursor:
        return "first", None, 0, ""
    parts = (cursor.split("#") + ["", "", ""])[:3]
    when = _time(parts[0]) if parts[0] else None
    if parts[1] == "ev":
        return "events", when, 0, parts[2]
    return "first", when, int(parts[1] or 0), parts[2]


@dataclass
class DevicePoll:
    state: str  # granted | pending | slow_down | denied | expired
    values: dict[str, str] | None = None  # the credentials with the tokens, when granted
    message: str = ""


# --- HTTP with the bearer token -------------------------------------------------------------------------


class AllegroHttp(HttpClient):
    """The shared client plus Allegro's media type, the bearer token, renewal before expiry and once on a
    401 (a second 401 is AuthFailed)."""

    def __init__(self, base_url: str, *, connector: Allegro, **kwargs):
        super().__init__(base_url, auth=self._prepare, **kwargs)
        self.connector = connector

    def _prepare(self, req: urllib.request.Request) -> None:
        req.add_header("Accept", MEDIA)
        if req.data is not None:
            req.add_header("Content-Type", MEDIA)
        req.add_header("Authorization", f"Bearer {self.connector.credentials.get('access_token', '')}")

    def request(self, method: str, path: str, **kwargs) -> Response:
        self.connector.token_ensure()
        try:
            return super().request(method, path, **kwargs)
        except AuthFailed as exc:
            if exc.status != 401:
                raise
        self.connector.token_refresh()
        return super().request(method, path, **kwargs)


# --- the connector --------------------------------------------------------------------------------------


class Allegro(Connector):
    platform = "allegro"
    credential_fields = (("client_id", "Client ID"), ("client_secret", "Client secret"))
    supports_stock = True
    supports_prices = True

    def make_http(self) -> HttpClient:
        split = urllib.parse.urlsplit(self.base_url)
        if split.scheme != "https" and split.hostname not in ("127.0.0.1", "localhost", "::1"):
            raise ConnectorError("The Allegro API address must start with https:// (https://api.allegro.pl)")
        return AllegroHttp(self.base_url, connector=self)

    @staticmethod
    def now() -> dt.datetime:
        return dt.datetime.now(dt.UTC)

    # --- OAuth ----------------------------------------------------------------------------------------

    @property
    def auth_url(self) -> str:
        return auth_base(self.base_url)

    def _oauth(self, path: str, fields: dict[str, str]) -> dict:
        """POST a form to the authorization host with the client's Basic auth (secrets in the body and the
        header only). 4xx answers raise ConnectorError with the body (OAuth error codes live there)."""
        client_id = self.credentials.get("client_id", "")
        basic = base64.b64encode(f"{client_id}:{self.credentials.get('client_secret', '')}".encode()).decode()
        body = urllib.parse.urlencode(fields).encode()

        def prepare(req: urllib.request.Request) -> None:
            req.data = body
            req.add_header("Content-Type", "application/x-www-form-urlencoded")
            req.add_header("Authorization", f"Basic {basic}")

        data = HttpClient(self.auth_url, auth=prepare, retries=2).request("POST", path).json()
        if not isinstance(data, dict):
            raise PayloadError("The authorization server's answer is not an object")
        return data

    def _tokens(self, data: dict) -> dict[str, str]:
        if not data.get("access_token"):
            raise PayloadError("The authorization server sent no access token")
        values = ordered({k: v for k, v in self.credentials.items() if not k.startswith("device_")})
        values["access_token"] = str(data["access_token"])
        if data.get("refresh_token"):
            values["refresh_token"] = str(data["refresh_token"])
        expires_in = int(data.get("expires_in") or 43200)
        values["expires_at"] = (self.now() + dt.timedelta(seconds=expires_in)).isoformat(timespec="seconds")
        return values

    def device_start(self) -> dict:
        """Ask for a device code; returns Allegro's answer (device_code, user_code, verification_uri,
        verification_uri_complete, expires_in, interval)."""
        data = self._oauth("auth/oauth/device", {"client_id": self.credentials.get("client_id", "")})
        missing = [k for k in ("device_code", "user_code", "verification_uri") if not data.get(k)]
        if missing:
            raise PayloadError(f"The device authorization answer lacks {', '.join(missing)}")
        return data

    def device_poll(self, device_code: str) -> DevicePoll:
        try:
            data = self._oauth("auth/oauth/token", {"grant_type": DEVICE_GRANT, "device_code": device_code})
        except AuthFailed:
            raise
        except ConnectorError as exc:
            if exc.status not in (400, 428):
                raise
            code = _oauth_error(exc.body)
            if code == "authorization_pending":
                return DevicePoll("pending")
            if code == "slow_down":
                return DevicePoll("slow_down")
            if code == "access_denied":
                return DevicePoll("denied", message="The access was refused on Allegro")
            if code in ("expired_token", "invalid_grant"):
                return DevicePoll("expired", message="The code expired before it was confirmed")
            raise ConnectorError(f"Allegro authorization: {code or exc}", status=exc.status) from None
        return DevicePoll("granted", self._tokens(data))

    def token_ensure(self) -> None:
        if not self.credentials.get("access_token"):
            raise ConnectorError(
                "This Allegro connection is not authorized yet: open the connection and authorize it on Allegro"
            )
        expires = _time(self.credentials.get("expires_at"))
        if expires is not None and self.now() >= expires - REFRESH_MARGIN:
            self.token_refresh()

    def token_refresh(self) -> None:
        refresh = self.credentials.get("refresh_token", "")
        if not refresh:
            raise AuthFailed("Allegro: no refresh token stored; authorize the connection again", status=401)
        try:
            data = self._oauth("auth/oauth/token", {"grant_type": "refresh_token", "refresh_token": refresh})
        except ConnectorError as exc:
            if isinstance(exc, AuthFailed) or (exc.status is not None and 400 <= exc.status < 500):
                raise AuthFailed(
                    f"Allegro refused to renew the access ({_oauth_error(exc.body) or exc.status}); "
                    "authorize the connection again",
                    status=401,
                ) from None
            raise
        self.credentials_changed(self._tokens(data))

    # --- reading --------------------------------------------------------------------------------------

    def test(self) -> str:
        data = self.http.get("order/checkout-forms", limit=1).json()
        total = data.get("totalCount", "?") if isinstance(data, dict) else "?"
        return f"Allegro: {total} orders"

    def _read(self, path: str, params: dict | None, key: str) -> tuple[dict | None, str, str]:
        """GET a JSON object that must hold a list under `key`, read again once when unreadable.
        -> (data or None, problem, body)."""
        problem, body = "", ""
        for _attempt in range(PAGE_READS):
            response = self.http.request("GET", path, params=params)
            body = response.text()
            try:
                data = response.json()
            except PayloadError as exc:
                problem = str(exc)
                continue
            if isinstance(data, dict) and (not key or isinstance(data.get(key), list)):
                return data, "", body
            problem = f"expected an object with {key!r}" if key else "expected an object"
        return None, problem, body

    def orders_since(self, cursor: str, *, since: dt.datetime | None = None) -> Iterator[OrderPage]:
        phase, when, offset, event_id = parse_cursor(cursor)
        if since is not None:
            phase, when, offset, event_id = "first", since, 0, ""
        if phase == "events":
            yield from self._follow_events(when, event_id)
            return
        started = cursor == "" or since is not None
        if started:
            stats = self.http.get("order/event-stats").json()
            latest = (stats or {}).get("latestEvent") if isinstance(stats, dict) else None
            event_id = str((latest or {}).get("id") or "")
            event_time = _time((latest or {}).get("occurredAt")) or self.now()
        else:
            event_time = when or self.now()
        yield from self._first_import(when, offset, event_id, event_time if started else None)

    def _first_import(
        self, window: dt.datetime | None, offset: int, event_id: str, event_time: dt.datetime | None
    ) -> Iterator[OrderPage]:
        page, newest = 0, window
        while True:
            page += 1
            params: dict = {"sort": "updatedAt", "limit": PER_PAGE, "offset": offset}
            if window is not None:
                params["updatedAt.gte"] = _iso(window)
            data, problem, body = self._read("order/checkout-forms", params, "checkoutForms")
            items: list[MappedOrder] = []
            errors: list[RecordError] = []
            forms = data["checkoutForms"] if data else []
            if data is None:
                errors.append(RecordError("", f"checkout forms from offset {offset}: {problem}", body))
            for raw in forms:
                mapped = self._map_or_error(raw, errors)
                if mapped is not None:
                    items.append(mapped)
                    if mapped.modified_at and (newest is None or mapped.modified_at > newest):
                        newest = mapped.modified_at
            total = data.get("totalCount") if data else None
            seen = offset + (len(forms) if data else PER_PAGE)
            if data is not None:
                last = not forms or (isinstance(total, int) and seen >= total) or len(forms) < PER_PAGE
            else:
                last = isinstance(total, int) and seen >= total
            offset = seen
            if not last and offset + PER_PAGE > OFFSET_LIMIT:
                # Allegro reads no further than offset 10 000: start again from the newest updatedAt read.
                if newest is None or newest == window:
                    raise ConnectorError("More than 10 000 Allegro orders share one modification time")
                window, offset = newest, 0
            if last:
                # Done: from now on the event journal, from the event that was newest when this began.
                head = event_time or newest or window or self.now()
                cursor = f"{_iso(head)}#ev#{event_id}"
            else:
                cursor = f"{_iso(window) if window else ''}#{offset}#{event_id}"
            yield OrderPage(items, errors, cursor, page, total=total if isinstance(total, int) else None)
            if last:
                return

    def _follow_events(self, when: dt.datetime | None, last_id: str) -> Iterator[OrderPage]:
        page = 0
        while True:
            params: dict = {"limit": EVENTS_PER_PAGE}
            if last_id:
                params["from"] = last_id
            data, problem, body = self._read("order/events", params, "events")
            if data is None:
                # The journal cannot be skipped: the run fails and the next one reads from the same event.
                raise PayloadError(f"The order event journal could not be read: {problem}", body=body)
            events = [e for e in data["events"] if isinstance(e, dict) and e.get("id") is not None]
            fresh = [e for e in events if str(e["id"]) != last_id]
            if not fresh:
                return
            wanted: list[str] = []
            for event in fresh:
                form_id = ((event.get("order") or {}).get("checkoutForm") or {}).get("id")
                if form_id and event.get("type") not in NOT_YET and form_id not in wanted:
                    wanted.append(str(form_id))
            items: list[MappedOrder] = []
            errors: list[RecordError] = []
            for form_id in wanted:
                self._fetch_one(form_id, items, errors)
            tail = fresh[-1]
            last_id = str(tail["id"])
            when = _time(tail.get("occurredAt")) or when or self.now()
            page += 1
            yield OrderPage(items, errors, f"{_iso(when)}#ev#{last_id}", page)
            if len(data["events"]) < EVENTS_PER_PAGE:
                return

    def _fetch_one(self, form_id: str, items: list[MappedOrder], errors: list[RecordError]) -> None:
        path = f"order/checkout-forms/{urllib.parse.quote(form_id, safe='')}"
        try:
            data, problem, body = self._read(path, None, "")
        except ConnectorError as exc:
            if exc.status != 404:
                raise
            errors.append(RecordError("", f"checkout form {form_id}: not found on Allegro", exc.body))
            return
        if data is None:
            # No order to keep: the error's retry re-reads the window the cursor was at.
            errors.append(RecordError("", f"checkout form {form_id}: {problem}", body))
            return
        mapped = self._map_or_error(data, errors)
        if mapped is not None:
            items.append(mapped)

    def _map_or_error(self, raw, errors: list[RecordError]) -> MappedOrder | None:
        try:
            return self.map_order(raw)
        except (ValueError, KeyError, TypeError, AttributeError, ValidationError) as exc:
            ext = str(raw.get("id", "")) if isinstance(raw, dict) else ""
            errors.append(RecordError(ext, _describe(exc), json.dumps(raw, ensure_ascii=False)))
            return None

    def map_order(self, payload: dict, *, current_stage: str | None = None) -> MappedOrder:
        if not isinstance(payload, dict) or not payload.get("id"):
            raise ValueError("not a checkout form (no id)")
        ext = str(payload["id"])
        status = str(payload.get("status") or "")
        fulfilment = (payload.get("fulfillment") or {}).get("status")
        shown = platform_status(payload)
        modified = _time(payload.get("updatedAt"))
        attention: list[Needs] = []
        try:
            stage = map_status(status, fulfilment)
        except KeyError:
            stage = None
            attention.append(
                Needs("unknown_channel_status", f"Allegro status {shown!r} is not known to Zaplecze")
            )
        else:
            if status in STATUS_MAP and STATUS_MAP[status] is None:
                return MappedOrder(ext, shown, modified, None, raw=payload)
            if stage is None:
                attention.append(Needs("channel_on_hold", f"The order is suspended on Allegro ({shown})"))
        buyer = payload.get("buyer") or {}
        delivery = payload.get("delivery") or {}
        payment = payload.get("payment") or {}
        invoice = payload.get("invoice") or {}
        currency = (payload.get("summary") or {}).get("totalToPay", {}).get("currency") or "PLN"
        lines = []
        bought: list[dt.datetime] = []
        services = Decimal("0")
        for item in payload.get("lineItems") or []:
            qty = int(item.get("quantity") or 0)
            if qty <= 0:
                continue
            offer = item.get("offer") or {}
            sku = str((offer.get("external") or {}).get("id") or "").strip() or f"ALLEGRO-{offer.get('id')}"
            lines.append(
                {
                    "sku": sku[:64],
                    "name": str(offer.get("name") or "")[:300],
                    "quantity": qty,
                    "unit_price_gross": _money(item.get("price")),
                    "vat_rate": _vat(item.get("tax")),
                    "external_id": str(item.get("id") or "")[:100],
                }
            )
            for extra in item.get("selectedAdditionalServices") or []:
                services += _money(extra.get("price")) * int(extra.get("quantity") or 1)
            if item.get("boughtAt"):
                bought.append(_time(item["boughtAt"]))
        shipping = _money(delivery.get("cost")) + services
        total = _money((payload.get("summary") or {}).get("totalToPay"))
        lines_gross = sum((ln["unit_price_gross"] * ln["quantity"] for ln in lines), Decimal("0"))
        discount = max(Decimal("0"), lines_gross + shipping - total) if total else Decimal("0")
        name = f"{buyer.get('firstName') or ''} {buyer.get('lastName') or ''}".strip() or str(
            buyer.get("login") or ""
        )
        company, nip, customer_type = str(buyer.get("companyName") or ""), "", CustomerType.CONSUMER
        billing = _address(buyer.get("address"), name=name, company=company, phone=buyer.get("phoneNumber"))
        if invoice.get("required") and invoice.get("address"):
            ia = invoice["address"]
            firm = ia.get("company") or {}
            person = ia.get("naturalPerson") or {}
            person_name = f"{person.get('firstName') or ''} {person.get('lastName') or ''}".strip()
            company = str(firm.get("name") or company)
            billing = _address(ia, name=person_name or name, company=company, phone=buyer.get("phoneNumber"))
            tax_id = str(firm.get("taxId") or "")
            if tax_id and stdnum_nip.is_valid(stdnum_nip.compact(tax_id.upper().removeprefix("PL"))):
                nip, customer_type = tax_id, CustomerType.BUSINESS
            elif tax_id:
                attention.append(
                    Needs(
                        "invalid_nip", f"The buyer wants an invoice with tax id {tax_id!r}, not a valid NIP"
                    )
                )
        method_name = str((delivery.get("method") or {}).get("name") or "")
        pickup = delivery.get("pickupPoint") or {}
        pay_type = str(payment.get("type") or "")
        paid = _money(payment.get("paidAmount"))
        if pay_type == "CASH_ON_DELIVERY":
            method, pay_status = PaymentMethod.COD, PaymentStatus.COD
        else:
            method = PaymentMethod.MARKETPLACE if pay_type else PaymentMethod.OTHER
            if status == "CANCELLED":
                pay_status = None
            elif paid and total and paid < total:
                pay_status = PaymentStatus.PARTIALLY_PAID
            else:
                pay_status = PaymentStatus.PAID if paid or pay_type else None
        notes = str(payload.get("messageToSeller") or "")
        if pickup.get("id"):
            notes = (notes + "\n" if notes else "") + f"Pickup point: {pickup.get('name') or pickup['id']}"
        data = OrderIn(
            channel=self.channel,
            external_id=ext,
            number=ext[:60],
            stage=stage,
            placed_at=min(bought) if bought else modified or self.now(),
            updated_at=modified,
            currency=currency,
            customer_type=customer_type,
            customer_name=name[:200],
            email=str(buyer.get("email") or "")[:254],
            phone=str(buyer.get("phoneNumber") or "")[:40],
            company=company[:200],
            nip=nip,
            billing_address=billing,
            shipping_address=_address(delivery.get("address")),
            payment_method=method,
            payment_status=pay_status,
            paid_at=_time(payment.get("finishedAt")) if pay_status == PaymentStatus.PAID else None,
            delivery_method=_delivery(method_name, bool(pickup.get("id"))),
            pickup_point=str(pickup.get("id") or "")[:40],
            shipping_cost=shipping,
            discount=discount,
            total_gross=total or None,
            notes=notes[:5000],
            lines=lines,
        )
        return MappedOrder(ext, shown, modified, data, stage, pay_status, attention, raw=payload)

    def offers(self) -> Iterator[Offer]:
        offset = 0
        while True:
            data = self.http.get("sale/offers", offset=offset, limit=OFFERS_PER_PAGE).json() or {}
            offers = data.get("offers") or []
            for o in offers:
                yield _offer(o)
            offset += len(offers)
            if not offers or offset >= int(data.get("totalCount") or 0):
                return

    # --- webhooks ---------------------------------------------------------------------------------------

    def verify_webhook(self, *, headers: dict[str, str], body: bytes) -> WebhookEvent:
        raise SignatureError(
            "Allegro sends no order webhooks: its orders are read from the order event journal"
        )

    def webhook_orders(self, *, topic: str, body: bytes) -> list[dict]:
        return []

    # --- writing back -------------------------------------------------------------------------------------

    def _form(self, external_id: str) -> dict:
        form = self.http.get(f"order/checkout-forms/{urllib.parse.quote(external_id, safe='')}").json()
        if not isinstance(form, dict) or not form.get("id"):
            raise PayloadError(f"Allegro sent no checkout form for {external_id}")
        return form

    def push_status(self, *, external_id: str, stage: str) -> str:
        target = PUSH_MAP.get(stage)
        if target is None:
            return ""
        status, sent = target
        for attempt in (1, 2):
            form = self._form(external_id)
            if (form.get("fulfillment") or {}).get("status") == status:
                return f"{form.get('status')}/{status}"
            quoted = urllib.parse.quote(external_id, safe="")
            try:
                self.http.request(
                    "PUT",
                    f"order/checkout-forms/{quoted}/fulfillment",
                    params={"checkoutForm.revision": form.get("revision")},
                    json_body={"status": status, "shipmentSummary": {"lineItemsSent": sent}},
                )
            except ConnectorError as exc:
                if exc.status == 409 and attempt == 1:
                    continue  # the buyer changed the form meanwhile: read its new revision and try again
                raise
            return f"{form.get('status')}/{status}"
        return ""

    def push_tracking(self, *, external_id: str, carrier: str, tracking_number: str, url: str = "") -> None:
        form = self._form(external_id)
        carrier_id = carrier_code(carrier)
        body: dict = {
            "carrierId": carrier_id,
            "waybill": tracking_number,
            "lineItems": [{"id": li["id"]} for li in form.get("lineItems") or [] if li.get("id")],
        }
        if carrier_id == "OTHER":
            body["carrierName"] = (carrier or "Other")[:30]
        quoted = urllib.parse.quote(external_id, safe="")
        self.http.request("POST", f"order/checkout-forms/{quoted}/shipments", json_body=body).json()

    def _offers_by_sku(self, sku: str) -> list[dict]:
        data = self.http.get("sale/offers", **{"external.id": sku, "limit": OFFERS_PER_PAGE}).json() or {}
        return [o for o in data.get("offers") or [] if (o.get("external") or {}).get("id") == sku]

    def _patch_offers(
        self, sku: str, *, quantity: int | None = None, regular: str | None = None, sale: str | None = None
    ) -> bool:
        """One PATCH per offer with this SKU as its external id, stock and price together. Allegro has one
        selling price: the sale price when there is one, else the regular price (in the offer's currency)."""
        found = self._offers_by_sku(sku)
        for o in found:
            body: dict = {}
            if quantity is not None:
                body["stock"] = {"available": max(0, int(quantity))}
            if regular is not None:
                price = str(Decimal(str(sale or regular)).quantize(Decimal("0.01")))
                currency = ((o.get("sellingMode") or {}).get("price") or {}).get("currency") or "PLN"
                body["sellingMode"] = {"price": {"amount": price, "currency": currency}}
            self.http.request("PATCH", f"sale/product-offers/{o['id']}", json_body=body)
        return bool(found)

    def push_stock(self, *, sku: str, quantity: int) -> bool:
        return self._patch_offers(sku, quantity=quantity)

    def push_price(self, *, sku: str, regular: str, sale: str | None = None) -> bool:
        return self._patch_offers(sku, regular=regular, sale=sale)

    def push_items(self, items: list[dict]) -> dict[str, bool | ConnectorError]:
        """The push engine's batch: {sku, quantity?, regular?, sale?} each -> one lookup and one PATCH per
        offer. {sku: sent / not on Allegro / the error}; refused credentials stop the batch."""
        out: dict[str, bool | ConnectorError] = {}
        for item in items:
            try:
                out[item["sku"]] = self._patch_offers(
                    item["sku"],
                    quantity=item.get("quantity"),
                    regular=item.get("regular"),
                    sale=item.get("sale"),
                )
            except AuthFailed:
                raise
            except ConnectorError as exc:
                out[item["sku"]] = exc
        return out


def ordered(values: dict[str, str]) -> dict[str, str]:
    """The client id first: the screens' "•••• last 4" hint is taken from the first value."""
    return {k: values[k] for k in ("client_id", "client_secret") if k in values} | values


def carrier_code(carrier: str) -> str:
    name = (carrier or "").lower()
    for words, code in CARRIERS:
        if any(w in name for w in words):
            return code
    return "OTHER"


def _delivery(name: str, pickup_point: bool) -> str:
    lowered = name.lower()
    for words, method in DELIVERY:
        if any(w in lowered for w in words):
            return method
    if pickup_point and "inpost" in lowered:
        return DeliveryMethod.INPOST_LOCKER
    return DeliveryMethod.OTHER


def _address(a: dict | None, *, name: str = "", company: str = "", phone=None) -> dict | None:
    if not a:
        return None
    full = f"{a.get('firstName') or ''} {a.get('lastName') or ''}".strip() or name
    return {
        "name": full[:200],
        "company": str(a.get("companyName") or company or "")[:300],
        "street": str(a.get("street") or "")[:300],
        "postcode": str(a.get("zipCode") or a.get("postCode") or "")[:12],
        "city": str(a.get("city") or "")[:300],
        "country": str(a.get("countryCode") or "PL")[:2],
        "phone": str(a.get("phoneNumber") or phone or "")[:40],
    }


def _offer(o: dict) -> Offer:
    stock = (o.get("stock") or {}).get("available")
    return Offer(
        external_id=str(o.get("id", "")),
        sku=str((o.get("external") or {}).get("id") or ""),
        name=str(o.get("name") or ""),
        price=str(((o.get("sellingMode") or {}).get("price") or {}).get("amount") or ""),
        stock=int(stock) if isinstance(stock, int | float) else None,
    )


def _oauth_error(body: str) -> str:
    try:
        data = json.loads(body or "null")
    except ValueError:
        return ""
    return str(data.get("error") or "") if isinstance(data, dict) else ""


# --- the authorization state kept with the credentials ----------------------------------------------------


@dataclass
class Authorization:
    """Where an Allegro connection's authorization stands, from its stored credentials (no secrets)."""

    state: str  # none | pending | authorized (+ granted | denied | expired as outcomes of a check)
    user_code: str = ""
    verification_uri: str = ""
    verification_uri_complete: str = ""
    expires_at: dt.datetime | None = None  # of the user code while pending
    interval: int = 5
    token_expires_at: dt.datetime | None = None
    message: str = ""


def authorization_state(values: dict[str, str]) -> Authorization:
    token_expires = _time(values.get("expires_at"))
    if values.get("device_code"):
        return Authorization(
            "pending",
            user_code=values.get("device_user_code", ""),
            verification_uri=values.get("device_uri", ""),
            verification_uri_complete=values.get("device_uri_complete", ""),
            expires_at=_time(values.get("device_expires_at")),
            interval=int(values.get("device_interval") or 5),
            token_expires_at=token_expires,
        )
    if values.get("access_token"):
        return Authorization("authorized", token_expires_at=token_expires)
    return Authorization("none")
