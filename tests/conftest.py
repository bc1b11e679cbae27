"""Shared fixtures. Services needed by some tests (PostgreSQL, Redis, Chromium) are probed once; a test
that needs a missing one is skipped, and `.ci/run` (CI=true) turns any such skip into a failure."""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from decimal import Decimal

import pytest

os.environ.setdefault("ZAPLECZE_DATA_DIR", tempfile.mkdtemp(prefix="zaplecze-test-"))
os.environ.setdefault("ZAPLECZE_QUEUE_IMMEDIATE", "1")


def pytest_configure(config):
    from zaplecze.core.i18n import ensure_compiled

    ensure_compiled()


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
        product = product_create(name=name or f"Product {sku}", variants=[
            {"sku": sku, "price": price, "ean": ean, "vat_rate": vat_rate}])
        variant = product.variants.get()
        if stock:
            stock_adjust(variant=variant, warehouse=warehouse_default(), delta=stock, kind="receipt",
                         reason="test stock")
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
        "shipping_address": {"name": "Anna Kowalska", "street": "ul. Długa 5", "postcode": "30-001",
                             "city": "Kraków", "country": "PL"},
        "lines": [{"sku": "SKU-0001", "name": "Kubek", "quantity": 2, "unit_price_gross": "49.99", "vat_rate": "23"}],
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
