"""WooCommerce REST API v3 (`/wp-json/wc/v3`).

* Auth: the REST API key pair (consumer key `ck_…`, consumer secret `cs_…`) sent as HTTP Basic auth, which
  WooCommerce accepts over HTTPS. Plain http is refused except on loopback (tests), because WooCommerce
  wants OAuth 1.0a there and we never put secrets into URLs.
* Import: `GET /orders?modified_after=…&dates_are_gmt=true&orderby=date&order=asc&page=N&per_page=100`,
  pages counted by the `X-WP-TotalPages` header. Ordered by creation, the set of orders "modified after
  T" only grows while we walk it, so a page shift can repeat an order (harmless, idempotent) but not skip
  one; the cursor keeps the page reached, so a crashed import resumes there.
* Webhooks: `X-WC-Webhook-Signature` = base64(HMAC-SHA256(webhook secret, raw body)),
  `X-WC-Webhook-Delivery-ID` for deduplication, `X-WC-Webhook-Topic` (order.created / order.updated).
  The form-encoded ping WooCommerce sends when a webhook is saved (`webhook_id=N`, unsigned) is answered
  200 and stores nothing.
* Status back: `PUT /orders/{id}` {"status"}. Tracking: core WooCommerce has no tracking field, so the
  number goes into a customer note (`POST /orders/{id}/notes`, customer_note=true: WooCommerce e-mails it
  to the customer). Stock and prices: the product (or variation) is found by SKU (`GET /products?sku=`),
  then `PUT /products/{id}` or `/products/{parent}/variations/{id}` with stock_quantity / regular_price,
  sale_price.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import html
import json
import urllib.parse
from collections.abc import Iterator
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from pydantic import ValidationError

from zaplecze.orders.models import DeliveryMethod, PaymentMethod, PaymentStatus, Stage
from zaplecze.orders.schemas import OrderIn

from .base import (
    Connector,
    ConnectorError,
    HttpClient,
    MappedOrder,
    Needs,
    Offer,
    OrderPage,
    PayloadError,
    RecordError,
    SignatureError,
    WebhookEvent,
)

API = "wp-json/wc/v3"
PER_PAGE = 100
PAGE_READS = 2  # an unreadable page is read this many times before it is recorded as an error
# Re-read this much before the cursor: WooCommerce times have 1 s precision and an order modified in the
# same second as the last one seen could be missed; re-reading is cheap (unchanged orders are skipped).
OVERLAP = dt.timedelta(seconds=60)

# Platform status -> our stage. None: not an order yet (skipped). Missing: unknown -> "needs attention".
STATUS_MAP: dict[str, str | None] = {
    "pending": Stage.AWAITING_PAYMENT,  # pending payment
    "on-hold": Stage.AWAITING_PAYMENT,  # awaiting payment confirmation (e.g. bank transfer)
    "failed": Stage.AWAITING_PAYMENT,  # payment failed or declined; the customer may pay again
    "processing": Stage.READY,  # paid, to be fulfilled
    "completed": Stage.COMPLETED,
    "cancelled": Stage.CANCELLED,
    "refunded": Stage.CANCELLED,  # RETURNED once the order had shipped (see map_status)
    "trash": Stage.CANCELLED,
    "checkout-draft": None,  # block checkout's draft, not placed yet
}
# Our stage -> the WooCommerce status we set (stages not listed are not pushed).
PUSH_MAP = {
    Stage.AWAITING_PAYMENT: "on-hold",
    Stage.READY: "processing",
    Stage.IN_FULFILMENT: "processing",
    Stage.SHIPPED: "completed",
    Stage.DELIVERED: "completed",
    Stage.COMPLETED: "completed",
    Stage.CANCELLED: "cancelled",
}
PAYMENT_MAP = {
    "bacs": PaymentMethod.TRANSFER,
    "cod": PaymentMethod.COD,
    "cheque": PaymentMethod.OTHER,
    "paypal": PaymentMethod.PAYPAL,
    "ppcp-gateway": PaymentMethod.PAYPAL,
    "stripe": PaymentMethod.CARD,
    "woocommerce_payments": PaymentMethod.CARD,
    "payustandard": PaymentMethod.ONLINE,
    "payu": PaymentMethod.ONLINE,
    "przelewy24": PaymentMethod.ONLINE,
    "blik": PaymentMethod.BLIK,
}
DELIVERY_MAP = {
    "local_pickup": DeliveryMethod.PICKUP,
    "pickup_location": DeliveryMethod.PICKUP,
    "easypack_parcel_machines": DeliveryMethod.INPOST_LOCKER,
    "inpost_paczkomaty": DeliveryMethod.INPOST_LOCKER,
    "easypack_courier": DeliveryMethod.INPOST_COURIER,
}
SHIPPED_STAGES = {Stage.SHIPPED, Stage.DELIVERED, Stage.COMPLETED, Stage.RETURNED}
CENT = Decimal("0.01")


def map_status(status: str, current_stage: str | None = None) -> str | None:
    """Our stage for a WooCommerce status; raises KeyError for an unknown one."""
    stage = STATUS_MAP[status]
    if status == "refunded" and current_stage in SHIPPED_STAGES:
        return Stage.RETURNED
    return stage


def _gmt(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    parsed = dt.datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _dec(value, default: str = "0") -> Decimal:
    try:
        return Decimal(str(value if value not in (None, "") else default))
    except InvalidOperation:
        raise ValueError(f"{value!r} is not a number") from None


def _vat_rate(net: Decimal, tax: Decimal) -> str:
    if net <= 0 or tax <= 0:
        return "0" if net > 0 and tax == 0 else "23"
    pct = tax / net * 100
    return min(("23", "8", "5", "0"), key=lambda r: abs(Decimal(r) - pct))


def _address(a: dict) -> dict:
    street = " ".join(x for x in (a.get("address_1", ""), a.get("address_2", "")) if x).strip()
    return {
        "name": f"{a.get('first_name', '')} {a.get('last_name', '')}".strip()[:200],
        "company": (a.get("company") or "")[:300],
        "street": street[:300],
        "postcode": (a.get("postcode") or "")[:12],
        "city": (a.get("city") or "")[:300],
        "country": (a.get("country") or "PL")[:2],
        "phone": (a.get("phone") or "")[:40],
    }


def _gmt_param(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).replace(tzinfo=None).isoformat(timespec="seconds")


def parse_cursor(cursor: str) -> tuple[dt.datetime | None, int, dt.datetime | None]:
    """ "<after>" when idle, "<after>#<next page>#<newest modified seen>" in the middle of a run."""
    if not cursor:
        return None, 1, None
    parts = cursor.split("#")
    after = _gmt(parts[0]) if parts[0] else None
    page = int(parts[1]) if len(parts) > 1 and parts[1] else 1
    newest = _gmt(parts[2]) if len(parts) > 2 and parts[2] else None
    return after, page, newest


def _fmt(value: dt.datetime | None) -> str:
    return value.astimezone(dt.UTC).isoformat(timespec="seconds") if value else ""


class WooCommerce(Connector):
    platform = "woocommerce"
    credential_fields = (
        ("consumer_key", "Consumer key"),
        ("consumer_secret", "Consumer secret"),
        ("webhook_secret", "Webhook secret"),
    )
    supports_stock = True
    supports_prices = True

    def make_http(self) -> HttpClient:
        split = urllib.parse.urlsplit(self.base_url)
        if split.scheme != "https" and split.hostname not in ("127.0.0.1", "localhost", "::1"):
            raise ConnectorError(
                "The shop address must start with https:// (WooCommerce keys travel with it)"
            )
        token = base64.b64encode(
            f"{self.credentials.get('consumer_key', '')}:{self.credentials.get('consumer_secret', '')}".encode()
        ).decode()
        return HttpClient(f"{self.base_url}/{API}", headers={"Authorization": f"Basic {token}"})

    # --- reading --------------------------------------------------------------------------------------

    def test(self) -> str:
        response = self.http.get("orders", per_page=1)
        response.json()
        total = response.header("x-wp-total", "?")
        return f"WooCommerce: {total} orders"

    def orders_since(self, cursor: str, *, since: dt.datetime | None = None) -> Iterator[OrderPage]:
        after, page, newest = parse_cursor(cursor)
        if since is not None:
            after, page, newest = since, 1, None
        elif after is not None and page == 1:
            after = after - OVERLAP
        while True:
            params = {
                "page": page,
                "per_page": PER_PAGE,
                "orderby": "date",
                "order": "asc",
                "dates_are_gmt": "true",
            }
            if after is not None:
                params["modified_after"] = _gmt_param(after)
            data, errors = None, []
            for attempt in range(PAGE_READS):
                response = self.http.get("orders", **params)
                try:
                    data = response.json()
                except PayloadError as exc:
                    # Unreadable page: read it again; still broken -> keep its body as an error, move on
                    # (the reconciliation poll reads the window again later).
                    if attempt + 1 == PAGE_READS:
                        errors = [RecordError("", f"page {page}: {exc}", exc.body)]
                    continue
                if not isinstance(data, list):
                    if attempt + 1 == PAGE_READS:
                        errors = [RecordError("", f"page {page}: expected a list of orders", response.text())]
                    data = None
                    continue
                break
            total_pages = _int(response.header("x-wp-totalpages"))
            total = _int(response.header("x-wp-total"))
            items = []
            for raw in data or []:
                try:
                    mapped = self.map_order(raw)
                except (ValueError, KeyError, TypeError, AttributeError, ValidationError) as exc:
                    ext = str(raw.get("id", "")) if isinstance(raw, dict) else ""
                    errors.append(RecordError(ext, _describe(exc), json.dumps(raw, ensure_ascii=False)))
                    continue
                items.append(mapped)
                if mapped.modified_at and (newest is None or mapped.modified_at > newest):
                    newest = mapped.modified_at
            last = total_pages is None or page >= total_pages or not (data or errors)
            if last:
                next_cursor = _fmt(newest or after)
            else:
                next_cursor = f"{_fmt(after)}#{page + 1}#{_fmt(newest)}"
            yield OrderPage(items, errors, next_cursor, page, total_pages, total)
            if last:
                return
            page += 1

    def map_order(self, payload: dict, *, current_stage: str | None = None) -> MappedOrder:
        if not isinstance(payload, dict) or "id" not in payload:
            raise ValueError("not an order object (no id)")
        ext = str(payload["id"])
        status = str(payload.get("status") or "")
        modified = _gmt(payload.get("date_modified_gmt"))
        attention: list[Needs] = []
        try:
            stage = map_status(status, current_stage)
        except KeyError:
            stage = None
            attention.append(
                Needs("unknown_channel_status", f"WooCommerce status {status!r} is not known to Zaplecze")
            )
        if status == "checkout-draft":
            return MappedOrder(ext, status, modified, None, raw=payload)
        billing, shipping = payload.get("billing") or {}, payload.get("shipping") or {}
        lines = []
        for item in payload.get("line_items") or []:
            qty = int(item.get("quantity") or 0)
            if qty <= 0:
                continue
            net, tax = _dec(item.get("total")), _dec(item.get("total_tax"))
            sku = (
                item.get("sku") or ""
            ).strip() or f"WC-{item.get('variation_id') or item.get('product_id')}"
            lines.append(
                {
                    "sku": sku[:64],
                    "name": html.unescape(item.get("name") or "")[:300],
                    "quantity": qty,
                    "unit_price_gross": ((net + tax) / qty).quantize(CENT, ROUND_HALF_UP),
                    "vat_rate": _vat_rate(net, tax),
                    "external_id": str(item.get("id", ""))[:100],
                }
            )
        method = (payload.get("payment_method") or "").lower()
        shipping_lines = payload.get("shipping_lines") or []
        delivery = DELIVERY_MAP.get((shipping_lines[0].get("method_id") or "") if shipping_lines else "")
        paid_at = _gmt(payload.get("date_paid_gmt"))
        payment_status = PaymentStatus.REFUNDED if status == "refunded" else None
        data = OrderIn(
            channel=self.channel,
            external_id=ext,
            number=str(payload.get("number") or ext),
            stage=stage or None,
            placed_at=_gmt(payload.get("date_created_gmt")) or modified or dt.datetime.now(dt.UTC),
            updated_at=modified,
            currency=payload.get("currency") or "PLN",
            customer_name=f"{billing.get('first_name', '')} {billing.get('last_name', '')}".strip()[:200],
            email=(billing.get("email") or "")[:254],
            phone=(billing.get("phone") or "")[:40],
            company=(billing.get("company") or "")[:200],
            billing_address=_address(billing) if billing else None,
            shipping_address=_address(shipping) if shipping and shipping.get("address_1") else None,
            payment_method=PAYMENT_MAP.get(method, PaymentMethod.OTHER),
            payment_status=payment_status,
            paid_at=paid_at,
            delivery_method=delivery or DeliveryMethod.OTHER,
            shipping_cost=_dec(payload.get("shipping_total")) + _dec(payload.get("shipping_tax")),
            discount=_dec(payload.get("discount_total")) + _dec(payload.get("discount_tax")),
            discount_codes=[
                str(c.get("code"))[:60]
                for c in payload.get("coupon_lines") or []
                if isinstance(c, dict) and c.get("code")
            ][:20],
            total_gross=_dec(payload.get("total")),
            notes=(payload.get("customer_note") or "")[:5000],
            lines=lines,
        )
        return MappedOrder(ext, status, modified, data, stage, payment_status, attention, raw=payload)

    def offers(self) -> Iterator[Offer]:
        page = 1
        while True:
            response = self.http.get("products", page=page, per_page=PER_PAGE)
            for p in response.json() or []:
                yield _offer(p)
                if p.get("type") == "variable":
                    for v in self.http.get(f"products/{p['id']}/variations", per_page=PER_PAGE).json() or []:
                        yield _offer(v, parent=str(p["id"]))
            pages = _int(response.header("x-wp-totalpages")) or 1
            if page >= pages:
                return
            page += 1

    # --- webhooks ---------------------------------------------------------------------------------------

    def verify_webhook(self, *, headers: dict[str, str], body: bytes) -> WebhookEvent:
        given = headers.get("x-wc-webhook-signature", "")
        if not given:
            if body.startswith(b"webhook_id=") and len(body) < 40:
                return WebhookEvent(delivery_id="", topic="ping", ping=True)
            raise SignatureError("no X-WC-Webhook-Signature header")
        secret = self.credentials.get("webhook_secret", "")
        if not secret:
            raise SignatureError("no webhook secret is configured for this connection")
        expected = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
        if not hmac.compare_digest(expected.encode(), given.strip().encode()):
            raise SignatureError("X-WC-Webhook-Signature does not match the body")
        delivery = headers.get("x-wc-webhook-delivery-id", "").strip()[:100]
        if not delivery:
            delivery = "sha256:" + hashlib.sha256(body).hexdigest()[:64]
        return WebhookEvent(delivery_id=delivery, topic=headers.get("x-wc-webhook-topic", "")[:60])

    def webhook_orders(self, *, topic: str, body: bytes) -> list[dict]:
        if topic not in ("order.created", "order.updated", "order.restored"):
            return []
        try:
            payload = json.loads(body)
        except ValueError as exc:
            raise PayloadError(f"The webhook body is not JSON ({exc})", body=body.decode("utf-8", "replace"))
        return [payload]

    # --- writing back -------------------------------------------------------------------------------------

    def push_status(self, *, external_id: str, stage: str) -> str:
        status = PUSH_MAP.get(stage, "")
        if status:
            self.http.request("PUT", f"orders/{external_id}", json_body={"status": status}).json()
        return status

    def push_tracking(self, *, external_id: str, carrier: str, tracking_number: str, url: str = "") -> None:
        note = f"Shipped with {carrier}: {tracking_number}" + (f" {url}" if url else "")
        self.http.request(
            "POST", f"orders/{external_id}/notes", json_body={"note": note, "customer_note": True}
        ).json()

    def _product_path(self, sku: str) -> str | None:
        found = self.http.get("products", sku=sku).json()
        if not isinstance(found, list) or not found:
            return None
        p = found[0]
        parent = p.get("parent_id") or 0
        return f"products/{parent}/variations/{p['id']}" if parent else f"products/{p['id']}"

    def push_stock(self, *, sku: str, quantity: int) -> bool:
        path = self._product_path(sku)
        if path is None:
            return False
        body = {"manage_stock": True, "stock_quantity": max(0, int(quantity))}
        self.http.request("PUT", path, json_body=body).json()
        return True

    def push_price(self, *, sku: str, regular: str, sale: str | None = None) -> bool:
        path = self._product_path(sku)
        if path is None:
            return False
        body = {"regular_price": str(regular), "sale_price": str(sale) if sale else ""}
        self.http.request("PUT", path, json_body=body).json()
        return True

    def push_items(self, items: list[dict]) -> dict[str, bool | ConnectorError]:
        """Stock ("quantity") and price ("regular", "sale") of each SKU in one PUT (after one lookup by SKU),
        rather than a lookup and a PUT for each. {sku: True sent | False unknown SKU | its ConnectorError}.
        AuthFailed raises (every other SKU would fail the same way)."""
        from .base import AuthFailed

        out: dict[str, bool | ConnectorError] = {}
        for item in items:
            sku = item["sku"]
            try:
                path = self._product_path(sku)
                if path is None:
                    out[sku] = False
                    continue
                body: dict = {}
                if "quantity" in item:
                    body.update(manage_stock=True, stock_quantity=max(0, int(item["quantity"])))
                if "regular" in item:
                    sale = item.get("sale")
                    body.update(regular_price=str(item["regular"]), sale_price=str(sale) if sale else "")
                self.http.request("PUT", path, json_body=body).json()
                out[sku] = True
            except AuthFailed:
                raise
            except ConnectorError as exc:
                out[sku] = exc
        return out


def _offer(p: dict, parent: str = "") -> Offer:
    stock = p.get("stock_quantity")
    return Offer(
        external_id=str(p.get("id", "")),
        sku=p.get("sku") or "",
        name=html.unescape(p.get("name") or ""),
        price=str(p.get("price") or p.get("regular_price") or ""),
        stock=int(stock) if isinstance(stock, int | float) else None,
        parent_id=parent,
    )


def _int(value: str) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _describe(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        parts = []
        for err in exc.errors()[:5]:
            loc = ".".join(str(x) for x in err.get("loc", ()))
            parts.append(f"{loc}: {err.get('msg')}" if loc else str(err.get("msg")))
        return "; ".join(parts)
    return f"{type(exc).__name__}: {exc}"
