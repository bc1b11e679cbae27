"""A fake Shopify Admin REST API (2024-10) on loopback, serving the real order shape from
/work/shared/samples/shopify/orders-list-2024-10.json (its one order as the template of every order).

Supports: `X-Shopify-Access-Token` (else 401 with Shopify's error body), `GET orders.json` with
status=any, updated_at_min, order=updated_at asc, limit and cursor pagination by `Link: <…page_info=…>;
rel="next"` (a page_info request may carry only limit), `orders/count.json`,
`orders/{id}/fulfillment_orders.json`, `POST fulfillments.json`, `POST orders/{id}/cancel.json`, and
the forced answers of `FakeWoo.script`.
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
