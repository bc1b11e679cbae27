"""A fake Shopify Admin REST API (2024-10) on loopback, serving the real order shape from
/work/shared/samples/shopify/orders-list-2024-10.json (its one order as the template of every order).

Supports: `X-Shopify-Access-Token` (else 401 with Shopify's error body), `GET orders.json` with
status=any, updated_at_min, order=updated_at asc, limit and cursor pagination by `Link: <…page_info=…>;
rel="next"` (a page_info request may carry only limit), `orders/count.json`,
`orders/{id}/fulfillment_orders.json`, `POST fulfillments.json`, `POST orders/{id}/cancel.json`, and
the forced answers of `FakeWoo.script`.

Stock and prices (shapes of Shopify/shopify-api-ruby test/rest/2024_10/{variant,product,shop,
inventory_level}_test.rb, commit 9d2ca3e4 / 46511a3e, MIT): `GET products.json` (fields, limit, Link
pagination with page_info), `GET shop.json` (primary_location_id), `PUT variants/{id}.json` (price,
compare_at_price), `POST inventory_levels/set.json` (inventory_item_id, location_id, available; 422 when
the item is not tracked), and the `X-Shopify-Shop-Api-Call-Limit` header on every answer.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import json
from pathlib import Path

from .fake_woo import FakeWoo

SAMPLES = Path("/work/shared/samples/shopify")
TEMPLATE = json.loads((SAMPLES / "orders-list-2024-10.json").read_text())["orders"][0]
TOKEN = "shpat_test_0123456789abcdef"
BASE_TIME = dt.datetime(2026, 11, 20, 8, 0, 0, tzinfo=dt.UTC)
API = "/admin/api/2024-10/"


# One variant as GET variants/808950810.json answers it (2024-10); every fake variant is a copy.
VARIANT = {
    "id": 808950810,
    "product_id": 632910392,
    "title": "Pink",
    "price": "199.00",
    "sku": "IPOD2008PINK",
    "position": 1,
    "inventory_policy": "continue",
    "compare_at_price": None,
    "fulfillment_service": "manual",
    "inventory_management": "shopify",
    "option1": "Pink",
    "option2": None,
    "option3": None,
    "created_at": "2024-10-02T08:59:11-05:00",
    "updated_at": "2024-10-02T08:59:11-05:00",
    "taxable": True,
    "barcode": "1234_pink",
    "grams": 567,
    "image_id": 562641783,
    "weight": 1.25,
    "weight_unit": "lb",
    "inventory_item_id": 808950810,
    "inventory_quantity": 10,
    "old_inventory_quantity": 10,
    "presentment_prices": [{"price": {"amount": "199.00", "currency_code": "USD"}, "compare_at_price": None}],
    "tax_code": "DA040000",
    "requires_shipping": True,
    "admin_graphql_api_id": "gid://shopify/ProductVariant/808950810",
}
PRIMARY_LOCATION = 655441491


def shopify_product(n: int, skus: list[str], *, price: str = "199.00", tracked: bool = True) -> dict:
    """Product 632910000+n with one variant per SKU (variant and inventory item ids 800000000+n*100+i)."""
    pid = 632910000 + n
    variants = []
    for i, sku in enumerate(skus, start=1):
        vid = 800000000 + n * 100 + i
        v = copy.deepcopy(VARIANT)
        v.update(
            id=vid,
            product_id=pid,
            title=sku,
            sku=sku,
            position=i,
            price=price,
            option1=sku,
            inventory_item_id=vid,
            inventory_quantity=0,
            old_inventory_quantity=0,
            inventory_management="shopify" if tracked else None,
            admin_graphql_api_id=f"gid://shopify/ProductVariant/{vid}",
        )
        variants.append(v)
    return {
        "id": pid,
        "title": f"Product {n}",
        "status": "active",
        "admin_graphql_api_id": f"gid://shopify/Product/{pid}",
        "variants": variants,
    }


def shopify_order(
    n: int,
    *,
    financial: str = "paid",
    fulfillment: str | None = None,
    updated: dt.datetime | None = None,
    **extra,
) -> dict:
    order = copy.deepcopy(TEMPLATE)
    created = BASE_TIME + dt.timedelta(minutes=n)
    updated = updated or created + dt.timedelta(seconds=6)
    order.update(
        id=5000 + n,
        name=f"#{5000 + n}",
        order_number=5000 + n,
        created_at=created.isoformat(),
        updated_at=updated.isoformat(),
        financial_status=financial,
        fulfillment_status=fulfillment,
        currency="PLN",
        email=f"buyer{n}@example.com",
    )
    order.update(extra)
    return order


class FakeShopify(FakeWoo):
    UNAUTHORIZED = {"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"}

    def __init__(self, orders=None):
        super().__init__(orders)
        self.token = TOKEN
        self.fulfillment_orders: dict[str, list[dict]] = {}
        self.products: list[dict] = []
        self.levels: dict[tuple[int, int], int] = {}  # (inventory item, location) -> available
        self.primary_location = PRIMARY_LOCATION
        self.call_limit = "1/40"

    def variant(self, sku: str) -> dict | None:
        return next((v for p in self.products for v in p["variants"] if v["sku"] == sku), None)

    def _products_page(self, q: dict) -> tuple[list[dict], dict]:
        if "page_info" in q:
            if set(q) - {"page_info", "limit"}:
                raise ValueError("page_info requests take only limit")
            state = json.loads(base64.urlsafe_b64decode(q["page_info"]))
            q = {**state, "limit": q.get("limit", state["limit"])}
        offset, size = int(q.get("offset", 0)), min(int(q.get("limit", 50)), 250)
        page = self.products[offset : offset + size]
        if q.get("fields"):
            wanted = set(q["fields"].split(","))
            page = [{k: v for k, v in p.items() if k in wanted} for p in page]
        headers = {}
        if offset + size < len(self.products):
            state = {k: q[k] for k in ("fields", "limit") if k in q} | {"offset": offset + size}
            token = base64.urlsafe_b64encode(json.dumps(state).encode()).decode()
            headers["Link"] = f'<{self.url}{API}products.json?limit={size}&page_info={token}>; rel="next"'
        return copy.deepcopy(page), headers

    def _stock_and_prices(self, method, rest, q, body):
        if rest == "products.json" and method == "GET":
            try:
                page, headers = self._products_page(q)
            except ValueError as exc:
                return 400, {"errors": {"page_info": [str(exc)]}}, {}
            return 200, {"products": page}, headers
        if rest == "shop.json" and method == "GET":
            return (
                200,
                {
                    "shop": {
                        "id": 548380009,
                        "name": "Test Store",
                        "currency": "PLN",
                        "primary_location_id": self.primary_location,
                    }
                },
                {},
            )
        if rest == "inventory_levels/set.json" and method == "POST":
            item, location = body.get("inventory_item_id"), body.get("location_id")
            variant = next(
                (v for p in self.products for v in p["variants"] if v["inventory_item_id"] == item), None
            )
            if variant is None:
                return 404, {"errors": "Not Found"}, {}
            if variant["inventory_management"] != "shopify":
                return 422, {"errors": ["Inventory item does not have inventory tracking enabled"]}, {}
            self.levels[(item, location)] = int(body["available"])
            if location == self.primary_location:
                variant["inventory_quantity"] = int(body["available"])
            level = {
                "inventory_item_id": item,
                "location_id": location,
                "available": int(body["available"]),
                "updated_at": "2024-10-02T08:57:24-05:00",
                "admin_graphql_api_id": f"gid://shopify/InventoryLevel/{location}?inventory_item_id={item}",
            }
            return 200, {"inventory_level": level}, {}
        parts = rest.removesuffix(".json").split("/")
        if len(parts) == 2 and parts[0] == "variants" and method == "PUT":
            variant = next(
                (v for p in self.products for v in p["variants"] if str(v["id"]) == parts[1]), None
            )
            if variant is None:
                return 404, {"errors": "Not Found"}, {}
            changes = {k: body["variant"][k] for k in ("price", "compare_at_price") if k in body["variant"]}
            variant.update(changes)
            return 200, {"variant": copy.deepcopy(variant)}, {}
        return None

    def authorized(self, headers) -> bool:
        return headers.get("X-Shopify-Access-Token") == self.token

    def _page(self, q: dict) -> tuple[list[dict], dict]:
        if "page_info" in q:
            if set(q) - {"page_info", "limit"}:
                raise ValueError("page_info requests take only limit")
            state = json.loads(base64.urlsafe_b64decode(q["page_info"]))
            q = {**state, "limit": q.get("limit", state["limit"])}
        items = self.orders
        if q.get("updated_at_min"):
            limit = dt.datetime.fromisoformat(q["updated_at_min"])
            items = [o for o in items if dt.datetime.fromisoformat(o["updated_at"]) >= limit]
        items = sorted(items, key=lambda o: (dt.datetime.fromisoformat(o["updated_at"]), o["id"]))
        offset, size = int(q.get("offset", 0)), int(q.get("limit", 50))
        page = items[offset : offset + size]
        headers = {}
        if offset + size < len(items):
            state = {k: q[k] for k in ("updated_at_min", "limit") if k in q} | {"offset": offset + size}
            token = base64.urlsafe_b64encode(json.dumps(state).encode()).decode()
            headers["Link"] = f'<{self.url}{API}orders.json?limit={size}&page_info={token}>; rel="next"'
        return page, headers

    def handle(self, method, path, q, body):
        if not path.startswith(API):
            return 404, {"errors": "Not Found"}, {}
        rest = path[len(API) :]
        answer = self._stock_and_prices(method, rest, q, body)
        if answer is not None:
            return answer[0], answer[1], {"X-Shopify-Shop-Api-Call-Limit": self.call_limit, **answer[2]}
        if rest == "orders.json" and method == "GET":
            try:
                page, headers = self._page(q)
            except ValueError as exc:
                return 400, {"errors": {"page_info": [str(exc)]}}, {}
            return 200, {"orders": page}, headers
        if rest == "orders/count.json":
            return 200, {"count": len(self.orders)}, {}
        parts = rest.removesuffix(".json").split("/")
        if len(parts) == 3 and parts[0] == "orders" and parts[2] == "fulfillment_orders":
            return 200, {"fulfillment_orders": self.fulfillment_orders.get(parts[1], [])}, {}
        if len(parts) == 3 and parts[0] == "orders" and parts[2] == "cancel" and method == "POST":
            return 200, {"order": {"id": int(parts[1])}}, {}
        if rest == "fulfillments.json" and method == "POST":
            return 201, {"fulfillment": {"id": 1069019884, "status": "success", **body["fulfillment"]}}, {}
        return 404, {"errors": "Not Found"}, {}
