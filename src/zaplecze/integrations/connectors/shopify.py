"""Shopify Admin REST API (version 2024-10).

* Auth: the app's Admin API access token in `X-Shopify-Access-Token`; the shop address is
  https://<shop>.myshopify.com.
* Import: `GET /admin/api/2024-10/orders.json?status=any&updated_at_min=T&order=updated_at asc&limit=250`,
  next pages by the `Link: <…page_info=…>; rel="next"` header (a page_info request carries only limit and
  page_info, as Shopify requires). Ordered by updated_at, so after each committed page the cursor is
  simply the newest updated_at seen; the next import starts 60 s before it.
* Status: the order's stage comes from `cancelled_at`, `financial_status` and `fulfillment_status`
  together (see `map_status`); an unknown financial or fulfillment status -> "needs attention".
* Webhooks: `X-Shopify-Hmac-Sha256` = base64(HMAC-SHA256(app client secret, raw body)),
  `X-Shopify-Webhook-Id` for deduplication, `X-Shopify-Topic` (orders/create, orders/updated, …); the
  body is the bare order.
* Back: tracking by creating a fulfillment for the order's open fulfillment orders
  (`GET /orders/{id}/fulfillment_orders.json`, `POST /fulfillments.json` with tracking_info); status
  "shipped" the same without tracking; "cancelled" by `POST /orders/{id}/cancel.json`.
* Stock and prices (`push_items`): REST has no filter by SKU, so the connector builds a SKU -> variants map
  (variant id, inventory item id) from `GET products.json?fields=id,variants&limit=250` pages (Link header),
  kept for `SKU_MAP_TTL` per shop in the worker process and rebuilt once when a variant id answers 404. This
  is ceil(variants / 250) calls every 10 minutes at most, the same REST client (429 Retry-After, 5xx backoff)
  as everything else, and exact SKU matches. (The GraphQL alternative, `productVariants(query: "sku:…")`,
  costs one query per batch but goes through the search index: tokenised, not exact, and eventually
  consistent; its throttling is reported inside 200 answers, which our client does not read.) Several
  variants with one SKU are all updated.
  Stock: `POST inventory_levels/set.json` {location_id, inventory_item_id, available} at the location in the
  credentials' optional `location_id`, else the shop's primary location (`GET shop.json`
  primary_location_id). Price: `PUT variants/{id}.json` {price, compare_at_price}; a promotion is price =
  the promotional price and compare_at_price = the regular one (null otherwise, which removes the
  strike-through). Calls are paced by `X-Shopify-Shop-Api-Call-Limit` (the REST leaky bucket, 40 calls).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import re
import threading
import time
import urllib.parse
from collections.abc import Iterator
from decimal import ROUND_HALF_UP, Decimal

from pydantic import ValidationError

from zaplecze.orders.models import DeliveryMethod, PaymentMethod, PaymentStatus, Stage
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
    SignatureError,
    WebhookEvent,
)
from .woocommerce import _describe, _vat_rate

API_VERSION = "2024-10"
PER_PAGE = 250
OVERLAP = dt.timedelta(seconds=60)
CENT = Decimal("0.01")

FINANCIAL = {
    "pending": Stage.AWAITING_PAYMENT,
    "partially_paid": Stage.AWAITING_PAYMENT,
    "authorized": Stage.READY,
    "paid": Stage.READY,
    "partially_refunded": Stage.READY,
    "refunded": Stage.CANCELLED,
    "voided": Stage.CANCELLED,
}
FULFILMENT = {"unfulfilled", "partial", "fulfilled", "restocked", "scheduled", "on_hold"}
PAYMENT_STATUS = {
    "paid": PaymentStatus.PAID,
    "authorized": PaymentStatus.PAID,
    "partially_paid": PaymentStatus.PARTIALLY_PAID,
    "refunded": PaymentStatus.REFUNDED,
    "partially_refunded": PaymentStatus.PARTIALLY_REFUNDED,
    "pending": PaymentStatus.UNPAID,
    "voided": PaymentStatus.UNPAID,
}
LINK_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')
SKU_MAP_TTL = 600.0  # seconds a shop's SKU -> variants map is reused by the push runs of one process
BUCKET_SLOW_DOWN = 0.8  # pause when the REST bucket is this full (X-Shopify-Shop-Api-Call-Limit "32/40")
_sku_maps: dict[str, tuple[float, dict[str, list[tuple[int, int]]]]] = {}
_sku_maps_lock = threading.Lock()


def map_status(financial: str, fulfilment: str | None, cancelled: bool) -> str:
    """Our stage; raises KeyError for an unknown financial or fulfillment status."""
    fulfilment = fulfilment or "unfulfilled"
    base = FINANCIAL[financial]
    if fulfilment not in FULFILMENT:
        raise KeyError(fulfilment)
    if cancelled or financial == "voided":
        return Stage.CANCELLED
    if financial == "refunded":
        return Stage.RETURNED if fulfilment in ("fulfilled", "partial") else Stage.CANCELLED
    if fulfilment == "fulfilled":
        return Stage.SHIPPED
    if fulfilment == "partial":
        return Stage.IN_FULFILMENT
    return base


def platform_status(order: dict) -> str:
    parts = [order.get("financial_status") or "-", order.get("fulfillment_status") or "unfulfilled"]
    if order.get("cancelled_at"):
        parts.append("cancelled")
    return "/".join(parts)


def _time(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _dec(value) -> Decimal:
    return Decimal(str(value)) if value not in (None, "") else Decimal("0")


def _address(a: dict | None) -> dict | None:
    if not a:
        return None
    name = a.get("name") or f"{a.get('first_name') or ''} {a.get('last_name') or ''}".strip()
    street = " ".join(x for x in (a.get("address1") or "", a.get("address2") or "") if x)
    return {
        "name": name[:200],
        "company": (a.get("company") or "")[:300],
        "street": street[:300],
        "postcode": (a.get("zip") or "")[:12],
        "city": (a.get("city") or "")[:300],
        "country": (a.get("country_code") or "PL")[:2],
        "phone": (a.get("phone") or "")[:40],
    }


class Shopify(Connector):
    platform = "shopify"
    credential_fields = (("access_token", "Access token"), ("webhook_secret", "Webhook secret"))
    supports_stock = True
    supports_prices = True

    def make_http(self) -> HttpClient:
        split = urllib.parse.urlsplit(self.base_url)
        if split.scheme != "https" and split.hostname not in ("127.0.0.1", "localhost", "::1"):
            raise ConnectorError("The shop address must start with https://")
        return HttpClient(
            f"{self.base_url}/admin/api/{API_VERSION}",
            headers={"X-Shopify-Access-Token": self.credentials.get("access_token", "")},
        )

    def test(self) -> str:
        count = self.http.get("orders/count.json", status="any").json()
        return f"Shopify: {count.get('count', '?') if isinstance(count, dict) else '?'} orders"

    def orders_since(self, cursor: str, *, since: dt.datetime | None = None) -> Iterator[OrderPage]:
        after = since if since is not None else (_time(cursor) - OVERLAP if cursor else None)
        params: dict = {"status": "any", "order": "updated_at asc", "limit": PER_PAGE}
        if after is not None:
            params["updated_at_min"] = after.astimezone(dt.UTC).isoformat(timespec="seconds")
        url, page, newest = "orders.json", 1, after
        while True:
            response = self.http.request("GET", url, params=params)
            errors: list[RecordError] = []
            try:
                data = response.json()
                orders = data["orders"] if isinstance(data, dict) else None
                if not isinstance(orders, list):
                    raise PayloadError('expected {"orders": [...]}', body=response.text())
            except (PayloadError, KeyError) as exc:
                orders = []
                errors.append(RecordError("", f"page {page}: {exc}", response.text()))
            items = []
            for raw in orders:
                try:
                    mapped = self.map_order(raw)
                except (ValueError, KeyError, TypeError, AttributeError, ValidationError) as exc:
                    ext = str(raw.get("id", "")) if isinstance(raw, dict) else ""
                    errors.append(RecordError(ext, _describe(exc), json.dumps(raw, ensure_ascii=False)))
                    continue
                items.append(mapped)
                if mapped.modified_at and (newest is None or mapped.modified_at > newest):
                    newest = mapped.modified_at
            match = LINK_NEXT.search(response.header("link"))
            cursor_now = newest.astimezone(dt.UTC).isoformat(timespec="seconds") if newest else ""
            yield OrderPage(items, errors, cursor_now, page)
            if not match:
                return
            url, params, page = match.group(1), None, page + 1

    def map_order(self, payload: dict, *, current_stage: str | None = None) -> MappedOrder:
        if not isinstance(payload, dict) or "id" not in payload:
            raise ValueError("not an order object (no id)")
        ext = str(payload["id"])
        status = platform_status(payload)
        modified = _time(payload.get("updated_at"))
        financial = payload.get("financial_status") or ""
        attention: list[Needs] = []
        try:
            stage = map_status(
                financial, payload.get("fulfillment_status"), bool(payload.get("cancelled_at"))
            )
        except KeyError:
            stage = None
            attention.append(
                Needs("unknown_channel_status", f"Shopify status {status!r} is not known to Zaplecze")
            )
        taxes_included = bool(payload.get("taxes_included"))
        lines = []
        for item in payload.get("line_items") or []:
            qty = int(item.get("quantity") or 0)
            if qty <= 0:
                continue
            price = _dec(item.get("price"))
            tax = sum((_dec(t.get("price")) for t in item.get("tax_lines") or []), Decimal("0"))
            net_total = price * qty if not taxes_included else price * qty - tax
            gross_unit = price if taxes_included else price + tax / qty
            sku = (
                item.get("sku") or ""
            ).strip() or f"SHOPIFY-{item.get('variant_id') or item.get('product_id')}"
            lines.append(
                {
                    "sku": sku[:64],
                    "name": (item.get("name") or item.get("title") or "")[:300],
                    "quantity": qty,
                    "unit_price_gross": gross_unit.quantize(CENT, ROUND_HALF_UP),
                    "vat_rate": _vat_rate(net_total, tax),
                    "external_id": str(item.get("id", ""))[:100],
                }
            )
        shipping = Decimal("0")
        for ship in payload.get("shipping_lines") or []:
            shipping += _dec(ship.get("price"))
            if not taxes_included:
                shipping += sum((_dec(t.get("price")) for t in ship.get("tax_lines") or []), Decimal("0"))
        gateways = [g.lower() for g in payload.get("payment_gateway_names") or []]
        method = PaymentMethod.OTHER
        if any("cash on delivery" in g or g == "cod" for g in gateways):
            method = PaymentMethod.COD
        elif any("paypal" in g for g in gateways):
            method = PaymentMethod.PAYPAL
        elif any(g in ("shopify_payments", "stripe") for g in gateways):
            method = PaymentMethod.CARD
        elif any("bank" in g for g in gateways):
            method = PaymentMethod.TRANSFER
        billing = _address(payload.get("billing_address"))
        customer = payload.get("customer") or {}
        data = OrderIn(
            channel=self.channel,
            external_id=ext,
            number=str(payload.get("name") or payload.get("order_number") or ext)[:60],
            stage=stage,
            placed_at=_time(payload.get("created_at")) or modified or dt.datetime.now(dt.UTC),
            updated_at=modified,
            currency=payload.get("currency") or "PLN",
            customer_name=(billing or {}).get("name")
            or f"{customer.get('first_name') or ''} {customer.get('last_name') or ''}".strip(),
            email=(payload.get("email") or payload.get("contact_email") or "")[:254],
            phone=(payload.get("phone") or "")[:40],
            company=((billing or {}).get("company") or "")[:200],
            billing_address=billing,
            shipping_address=_address(payload.get("shipping_address")),
            payment_method=method,
            payment_status=PAYMENT_STATUS.get(financial),
            delivery_method=DeliveryMethod.OTHER,
            shipping_cost=shipping,
            discount=_dec(payload.get("total_discounts")),
            discount_codes=[
                str(c.get("code"))[:60]
                for c in payload.get("discount_codes") or []
                if isinstance(c, dict) and c.get("code")
            ][:20],
            total_gross=_dec(payload.get("total_price")),
            notes=(payload.get("note") or "")[:5000],
            tags=[t.strip()[:50] for t in (payload.get("tags") or "").split(",") if t.strip()][:20],
            lines=lines,
        )
        return MappedOrder(ext, status, modified, data, stage, data.payment_status, attention, raw=payload)

    def offers(self) -> Iterator[Offer]:
        url, params = "products.json", {"limit": PER_PAGE}
        while True:
            response = self.http.request("GET", url, params=params)
            for p in (response.json() or {}).get("products", []):
                for v in p.get("variants") or []:
                    yield Offer(
                        external_id=str(v.get("id", "")),
                        sku=v.get("sku") or "",
                        name=f"{p.get('title', '')} - {v.get('title', '')}".strip(" -"),
                        price=str(v.get("price") or ""),
                        stock=v.get("inventory_quantity"),
                        parent_id=str(p.get("id", "")),
                    )
            match = LINK_NEXT.search(response.header("link"))
            if not match:
                return
            url, params = match.group(1), None

    # --- webhooks ---------------------------------------------------------------------------------------

    def verify_webhook(self, *, headers: dict[str, str], body: bytes) -> WebhookEvent:
        given = headers.get("x-shopify-hmac-sha256", "")
        secret = self.credentials.get("webhook_secret", "")
        if not given or not secret:
            raise SignatureError("no X-Shopify-Hmac-Sha256 header or no webhook secret configured")
        expected = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
        if not hmac.compare_digest(expected.encode(), given.strip().encode()):
            raise SignatureError("X-Shopify-Hmac-Sha256 does not match the body")
        delivery = headers.get("x-shopify-webhook-id", "").strip()[:100] or (
            "sha256:" + hashlib.sha256(body).hexdigest()[:64]
        )
        return WebhookEvent(delivery_id=delivery, topic=headers.get("x-shopify-topic", "")[:60])

    def webhook_orders(self, *, topic: str, body: bytes) -> list[dict]:
        if not topic.startswith("orders/") or topic == "orders/delete":
            return []
        try:
            return [json.loads(body)]
        except ValueError as exc:
            raise PayloadError(f"The webhook body is not JSON ({exc})", body=body.decode("utf-8", "replace"))

    # --- writing back -------------------------------------------------------------------------------------

    def _fulfil(self, external_id: str, tracking: dict | None) -> bool:
        orders = self.http.get(f"orders/{external_id}/fulfillment_orders.json").json() or {}
        open_ids = [
            fo["id"]
            for fo in orders.get("fulfillment_orders", [])
            if fo.get("status") in ("open", "in_progress", "scheduled")
        ]
        if not open_ids:
            return False
        body: dict = {
            "line_items_by_fulfillment_order": [{"fulfillment_order_id": i} for i in open_ids],
            "notify_customer": True,
        }
        if tracking:
            body["tracking_info"] = tracking
        self.http.request("POST", "fulfillments.json", json_body={"fulfillment": body}).json()
        return True

    def push_status(self, *, external_id: str, stage: str) -> str:
        if stage in (Stage.SHIPPED, Stage.DELIVERED, Stage.COMPLETED):
            return "fulfilled" if self._fulfil(external_id, None) else ""
        if stage == Stage.CANCELLED:
            self.http.request("POST", f"orders/{external_id}/cancel.json", json_body={}).json()
            return "cancelled"
        return ""

    def push_tracking(self, *, external_id: str, carrier: str, tracking_number: str, url: str = "") -> None:
        tracking = {"number": tracking_number, "company": carrier}
        if url:
            tracking["url"] = url
        if not self._fulfil(external_id, tracking):
            raise ConnectorError(f"Shopify order {external_id} has no open fulfillment order to ship")

    # --- stock and prices ---------------------------------------------------------------------------------

    def _cache_key(self) -> str:
        token = self.credentials.get("access_token", "")
        return f"{self.base_url}#{hashlib.sha256(token.encode()).hexdigest()[:16]}"

    def _pace(self, response) -> None:
        used, _sep, size = response.header("x-shopify-shop-api-call-limit").partition("/")
        try:
            full = int(size) and int(used) / int(size) >= BUCKET_SLOW_DOWN
        except ValueError:
            return
        if full:
            from . import base

            base._sleep(1.0)  # the bucket leaks 2 calls a second

    def variants_by_sku(self, *, refresh: bool = False) -> dict[str, list[tuple[int, int]]]:
        """{sku: [(variant id, inventory item id), ...]} of the whole shop (cached, see SKU_MAP_TTL)."""
        key = self._cache_key()
        with _sku_maps_lock:
            cached = _sku_maps.get(key)
        if cached and not refresh and time.monotonic() - cached[0] < SKU_MAP_TTL:
            return cached[1]
        found: dict[str, list[tuple[int, int]]] = {}
        url, params = "products.json", {"fields": "id,variants", "limit": PER_PAGE}
        while True:
            response = self.http.request("GET", url, params=params)
            data = response.json()
            if not isinstance(data, dict) or not isinstance(data.get("products"), list):
                raise PayloadError('expected {"products": [...]}', body=response.text())
            for p in data["products"]:
                for v in p.get("variants") or []:
                    sku = (v.get("sku") or "").strip()
                    if sku and v.get("id"):
                        found.setdefault(sku, []).append((int(v["id"]), int(v.get("inventory_item_id") or 0)))
            self._pace(response)
            match = LINK_NEXT.search(response.header("link"))
            if not match:
                break
            url, params = match.group(1), None
        with _sku_maps_lock:
            _sku_maps[key] = (time.monotonic(), found)
        return found

    def location_id(self) -> int:
        configured = (self.credentials.get("location_id") or "").strip()
        if configured:
            return int(configured)
        if getattr(self, "_location", None) is None:
            shop = self.http.get("shop.json").json() or {}
            location = (shop.get("shop") or {}).get("primary_location_id") if isinstance(shop, dict) else None
            if not location:
                raise ConnectorError("Shopify did not say which location is the shop's primary one")
            self._location = int(location)
        return self._location

    def _send(self, variant_id: int, item_id: int, item: dict) -> None:
        if "quantity" in item:
            body = {"location_id": self.location_id(), "inventory_item_id": item_id}
            body["available"] = max(0, int(item["quantity"]))
            self._pace(self.http.request("POST", "inventory_levels/set.json", json_body=body))
        if "regular" in item:
            sale = item.get("sale")
            variant = {
                "id": variant_id,
                "price": str(sale if sale else item["regular"]),
                "compare_at_price": str(item["regular"]) if sale else None,
            }
            self._pace(
                self.http.request("PUT", f"variants/{variant_id}.json", json_body={"variant": variant})
            )

    def push_items(self, items: list[dict]) -> dict[str, bool | ConnectorError]:
        """Send stock ("quantity") and/or price ("regular", "sale") per SKU. {sku: True sent | False no such
        SKU in the shop | the ConnectorError of that SKU}. AuthFailed and a failing SKU map raise."""
        out: dict[str, bool | ConnectorError] = {}
        skus = self.variants_by_sku()
        todo, retried = list(items), False
        while todo:
            stale = []
            for item in todo:
                variants = skus.get(item["sku"])
                if not variants:
                    out[item["sku"]] = False
                    continue
                try:
                    for variant_id, item_id in variants:
                        self._send(variant_id, item_id, item)
                    out[item["sku"]] = True
                except AuthFailed:
                    raise
                except ConnectorError as exc:
                    if exc.status == 404 and not retried:
                        stale.append(item)  # the variant went away since the map was built
                    out[item["sku"]] = False if exc.status == 404 and retried else exc
            if not stale:
                break
            skus, todo, retried = self.variants_by_sku(refresh=True), stale, True
        return out

    def push_stock(self, *, sku: str, quantity: int) -> bool:
        result = self.push_items([{"sku": sku, "quantity": quantity}])[sku]
        if isinstance(result, ConnectorError):
            raise result
        return result

    def push_price(self, *, sku: str, regular: str, sale: str | None = None) -> bool:
        result = self.push_items([{"sku": sku, "regular": regular, "sale": sale}])[sku]
        if isinstance(result, ConnectorError):
            raise result
        return result
