"""Shared by the security and API tests: one user per role with tokens and jobs, one order; helpers."""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.db import connection
from django.test import Client

from zaplecze.core.permissions import Role


@dataclass
class World:
    """One user per role with an API token, a spare token and a job each, and one order."""

    users: dict[str, Any] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    spare_token_ids: dict[str, int] = field(default_factory=dict)
    job_ids: dict[str, int] = field(default_factory=dict)
    order: Any = None
    level_id: int | None = None
    # Path parameter values contributed by tests/security/worlds/<module>.py (see `world` below).
    extra: dict[str, Any] = field(default_factory=dict)
    clients: dict[str | None, Client] = field(default_factory=dict)

    def values(self, role: str | None) -> dict[str, Any]:
        """Path parameter values that resolve to real objects for this role."""
        out: dict[str, Any] = {
            "order_id": self.order.pk,
            "channel": "shop",
            "external_id": self.order.external_id,
            "level_id": self.level_id,
            **self.extra,
        }
        if role is not None:
            out.update(job_id=self.job_ids[role], token_id=self.spare_token_ids[role])
        else:
            out.update(job_id=self.job_ids[Role.ADMIN], token_id=self.spare_token_ids[Role.ADMIN])
        return out

    def api_client(self, role: str | None) -> Client:
        """A client sending the role's token (None: no token); one per role, since a new one is slow."""
        if role not in self.clients:
            headers = {"HTTP_AUTHORIZATION": f"Bearer {self.tokens[role]}"} if role is not None else {}
            self.clients[role] = Client(**headers)
        return self.clients[role]


@pytest.fixture
def world(make_user, product_factory, ingest):
    from zaplecze.core.models import ApiToken
    from zaplecze.core.services import job_create, token_create

    w = World()
    for role in Role.values:
        user = make_user(role)
        w.users[role] = user
        w.tokens[role] = token_create(user=user, name="main")
        token_create(user=user, name="spare")
        w.spare_token_ids[role] = ApiToken.objects.get(user=user, name="spare").pk
        w.job_ids[role] = job_create(kind="import", title=f"import by {role}", owner=user).pk
    variant = product_factory(sku="SKU-0001", stock=10)
    w.order = ingest().order
    w.level_id = variant.stock_levels.get().pk
    # Each module's URL parameters: tests/security/worlds/<module>.py has `build(world) -> dict` that creates
    # one object per parameter (e.g. a purchase order for `po_id`) and returns {"po_id": pk, ...}.
    for info in sorted(pkgutil.iter_modules([str(Path(__file__).parent / "worlds")]), key=lambda m: m.name):
        module = importlib.import_module(f"tests.security.worlds.{info.name}")
        w.extra.update(module.build(w))
    return w


def db_state() -> dict[str, Any]:
    """Everything a denied request must not change: row counts of every table, plus the mutable columns of
    orders, stock levels, users and tokens. Sessions and login-attempt logs are left out (logging in a test
    client writes them)."""
    from zaplecze.core.models import ApiToken, User
    from zaplecze.inventory.models import StockLevel
    from zaplecze.orders.models import Order

    models = [
        m for m in apps.get_models(include_auto_created=True) if m._meta.app_label not in {"sessions", "axes"}
    ]
    # Every table's row count in one query (one round trip instead of one per table); the names are our tables'.
    tables = [connection.ops.quote_name(m._meta.db_table) for m in models]
    sql = "SELECT " + ", ".join(f"(SELECT COUNT(*) FROM {t})" for t in tables)  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql)
        counts = cursor.fetchone()
    state: dict[str, Any] = {m._meta.label: n for m, n in zip(models, counts, strict=True)}
    state["orders"] = list(
        Order.objects.order_by("pk").values_list("pk", "version", "status_id", "updated_at")
    )
    state["stock"] = list(StockLevel.objects.order_by("pk").values_list("pk", "on_hand", "reserved"))
    state["users"] = list(
        User.objects.order_by("pk").values_list("pk", "password", "role", "language", "is_active")
    )
    state["tokens"] = list(ApiToken.objects.order_by("pk").values_list("pk", "revoked_at"))
    return state


def example_bodies(world: World) -> dict[str, dict]:
    """A valid body for each API operation that takes one, keyed by "METHOD route"."""
    from tests.conftest import order_data

    full = order_data(external_id="2001", number="#2001")
    body = {k: v for k, v in order_data(external_id="2002").items() if k not in ("channel", "external_id")}
    return {
        "POST api/v1/orders": full,
        "PUT api/v1/orders/<channel>/<external_id>": body,
        "POST api/v1/orders/tags": {"order_ids": [world.order.pk], "add": ["vip"]},
        "POST api/v1/today/<int:exception_id>/snooze": {"until": "2030-01-01T08:00:00+01:00"},
        "POST api/v1/today/<int:exception_id>/resolve": {"note": "handled"},
        "POST api/v1/today/<int:exception_id>/assign": {"user_id": None},
        "PATCH api/v1/orders/<int:order_id>": {"version": world.order.version, "customer_name": "Jan Nowak"},
        "POST api/v1/orders/<int:order_id>/status": {"status": "picking", "reason": "test"},
        "POST api/v1/orders/<int:order_id>/notes": {"text": "Call the customer"},
        "POST api/v1/products": {
            "name": "Kubek",
            "variants": [{"sku": "NEW-1", "ean": "5901234123457", "price": "19.99", "vat_rate": "23"}],
        },
        "POST api/v1/stock/adjustments": {
            "sku": "SKU-0001",
            "quantity": 3,
            "kind": "receipt",
            "reason": "delivery",
        },
        "POST api/v1/fulfilment/picklists": {"order_ids": [world.order.pk]},
        "POST api/v1/purchasing/suppliers": {"name": "New supplier", "nip": "5260250274"},
        "POST api/v1/reports/schedules": {
            "name": "Daily",
            "frequency": "daily",
            "recipients": ["a@example.com"],
        },
        "POST api/v1/monitoring/checks": {"name": "Cart", "url": "http://127.0.0.1:9/cart", "enabled": False},
        "PATCH api/v1/monitoring/checks/<check_id>": {"interval_minutes": 10},
        "POST api/v1/monitoring/incidents/<incident_id>/close": {"note": "walk"},
        "POST api/v1/purchasing/purchase-orders": {
            "supplier_id": world.extra.get("supplier_id", 1),
            "lines": [{"sku": "SKU-0001", "quantity": 2}],
        },
        "POST api/v1/purchasing/purchase-orders/<int:po_id>/receive": {
            "lines": [{"code": "SKU-0001", "quantity": 1}]
        },
        "POST api/v1/purchasing/reorder/purchase-orders": {"param_ids": [world.extra.get("param_id", 1)]},
        "POST api/v1/automation/rules": {
            "name": "Tag big orders",
            "trigger": "order_created",
            "conditions": [{"type": "total_at_least", "amount": "1000"}],
            "actions": [{"type": "add_tag", "tag": "big"}],
        },
        "PUT api/v1/automation/rules/<int:rule_id>": {
            "name": "Tag big orders",
            "trigger": "order_created",
            "actions": [{"type": "add_tag", "tag": "big"}],
        },
        "POST api/v1/automation/rules/<int:rule_id>/enable": {"enabled": True},
        "POST api/v1/automation/rules/<int:rule_id>/move": {"direction": "up"},
        "POST api/v1/automation/rules/<int:rule_id>/dry-run": {"record": False},
        "POST api/v1/fulfilment/picklists/<int:picklist_id>/status": {"status": "done"},
        "POST api/v1/fulfilment/packing/<int:order_id>/scan": {"code": "SKU-0001"},
        "POST api/v1/analytics/sites": {"domain": "new-shop.example", "name": "New"},
        "POST api/v1/promotions/campaigns": {
            "name": "New campaign",
            "kind": "codes",
            "value": "5",
            "start": "2030-01-01T00:00:00+01:00",
            "end": "2030-01-08T00:00:00+01:00",
        },
        "PATCH api/v1/promotions/campaigns/<int:campaign_id>": {"version": 1, "name": "Renamed"},
        "POST api/v1/promotions/campaigns/<int:campaign_id>/codes": {"code": "NEW-CODE-1", "max_uses": 1},
        "POST api/v1/promotions/campaigns/<int:campaign_id>/codes/generate": {"count": 3},
        "POST api/v1/promotions/codes/redeem": {"code": "SECURITY-1", "order_ref": "#sec"},
        "POST api/v1/reports/insights/<int:insight_id>/state": {"state": "accepted", "note": "test"},
    }


def call(client: Client, method: str, url: str, body: Any = None):
    if method in ("GET", "DELETE", "HEAD", "OPTIONS"):
        return getattr(client, method.lower())(url)
    return getattr(client, method.lower())(
        url, data=body if body is not None else {}, content_type="application/json"
    )
