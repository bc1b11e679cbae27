"""Shared fixtures. Services needed by some tests (PostgreSQL, Redis, Chromium) are probed once; a test
that needs a missing one is skipped, and `.ci/run` (CI=true) turns any such skip into a failure."""

from __future__ import annotations

import datetime as dt
import os
from decimal import Decimal

import pytest

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
PG_URL = os.environ.get("ZAPLECZE_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("ZAPLECZE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
CHROMIUM = os.environ.get("ZAPLECZE_CHROMIUM", "/usr/bin/chromium")
DOVECOT = os.environ.get("ZAPLECZE_DOVECOT", "/usr/sbin/dovecot")


def pytest_configure(config):
    from zaplecze.core.i18n import ensure_compiled

    ensure_compiled()


def _reachable(service: str) -> bool:
    import socket

    if service == "chromium":
        return os.path.exists(CHROMIUM)
    if service == "dovecot":
        return os.path.exists(DOVECOT)
    host, port = {"postgres": ("127.0.0.1", 5432), "redis": ("127.0.0.1", 6379)}[service]
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def need(service: str) -> None:
    """Skip when an outside service is missing locally; in CI a missing service is a failure."""
    if not _reachable(service):
        if IN_CI:
            pytest.fail(f"{service} is required in CI but is not reachable")
        pytest.skip(f"unavailable: {service}")


def is_postgres() -> bool:
    from django.db import connection

    return connection.vendor == "postgresql"


def pytest_collection_modifyitems(config, items):
    """Tests marked `postgres` need the default database to be PostgreSQL. In a SQLite run they are
    deselected (not skipped): `make test` runs them in its PostgreSQL pass (tests/pg_pass.py)."""
    from django.conf import settings

    if settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):
        return
    keep, drop = [], []
    for item in items:
        (drop if item.get_closest_marker("postgres") else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def pytest_sessionfinish(session, exitstatus):
    """In CI a skipped test is a failure: every test must really run there."""
    if not IN_CI:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = len(reporter.stats.get("skipped", [])) if reporter else 0
    if skipped and session.exitstatus == 0:
        reporter.write_line(f"CI: {skipped} test(s) were skipped; in CI every test must run.", red=True)
        session.exitstatus = 1


# Rows written by data migrations that tests rely on (statuses, channels, the default warehouse, carriers).
DEFAULT_DATA = [
    ("zaplecze.orders.migrations.0002_defaults", "forwards"),
    ("zaplecze.inventory.migrations.0002_default_warehouse", "forwards"),
    ("zaplecze.shipping.migrations.0002_carriers", "seed"),
]


@pytest.fixture(autouse=True)
def _default_data_after_flush(request):
    """A transactional test (live server, real threads) ends by flushing every table, the data migrations'
    rows included; put them back (idempotently) before each transactional test, whatever ran before it."""
    marker = request.node.get_closest_marker("django_db")
    transactional = bool(marker and (marker.kwargs.get("transaction") or (marker.args and marker.args[0])))
    if not transactional and not {"transactional_db", "live_server"} & set(request.fixturenames):
        return
    import importlib

    from django.apps import apps

    request.getfixturevalue("transactional_db")
    for module, function in DEFAULT_DATA:
        getattr(importlib.import_module(module), function)(apps, None)


@pytest.fixture(autouse=True)
def _english_and_settings(settings):
    settings.LANGUAGE_CODE = "en"
    settings.AXES_ENABLED = True
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    from django.utils import translation

    translation.activate("en")
    yield
    translation.deactivate()


@pytest.fixture
def make_user(db):
    from zaplecze.core.services import user_create

    def _make(role="admin", username=None, password="Correct-Horse-9"):
        username = username or f"{role}-user"
        user, _ = user_create(username=username, password=password, role=role, validate=False)
        return user

    return _make


@pytest.fixture
def admin_user(make_user):
    return make_user("admin", "admin")


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture
def product_factory(db):
    from zaplecze.catalog.services import product_create
    from zaplecze.inventory.services import stock_adjust, warehouse_default

    counter = {"n": 0}

    def _make(sku=None, price="49.99", stock=10, ean="", vat_rate="23", name=None):
        counter["n"] += 1
        sku = sku or f"SKU-{counter['n']:04d}"
        product = product_create(
            name=name or f"Product {sku}",
            variants=[{"sku": sku, "price": price, "ean": ean, "vat_rate": vat_rate}],
        )
        variant = product.variants.get()
        if stock:
            stock_adjust(
                variant=variant,
                warehouse=warehouse_default(),
                delta=stock,
                kind="receipt",
                reason="test stock",
            )
        return variant

    return _make


def order_data(**overrides):
    """A valid OrderIn payload (dict) for tests."""
    data = {
        "channel": "shop",
        "external_id": "1001",
        "number": "#1001",
        "placed_at": dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.UTC).isoformat(),
        "currency": "PLN",
        "customer_name": "Anna Kowalska",
        "email": "anna@example.com",
        "phone": "+48 600 100 200",
        "payment_method": "card",
        "payment_status": "paid",
        "delivery_method": "inpost_locker",
        "pickup_point": "KRA01M",
        "shipping_cost": "12.99",
        "shipping_address": {
            "name": "Anna Kowalska",
            "street": "ul. Długa 5",
            "postcode": "30-001",
            "city": "Kraków",
            "country": "PL",
        },
        "lines": [
            {"sku": "SKU-0001", "name": "Kubek", "quantity": 2, "unit_price_gross": "49.99", "vat_rate": "23"}
        ],
    }
    data.update(overrides)
    return data


@pytest.fixture
def ingest(db):
    from zaplecze.orders.schemas import OrderIn
    from zaplecze.orders.services import ingest_order

    def _ingest(actor=None, **overrides):
        return ingest_order(OrderIn.model_validate(order_data(**overrides)), actor=actor, source="test")

    return _ingest


D = Decimal
