from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

WARSAW = dt.timezone(dt.timedelta(hours=1))


def at(y, m, d, h=12) -> dt.datetime:
    """Noon (by default) in Warsaw winter time, as an aware datetime."""
    return dt.datetime(y, m, d, h, 0, tzinfo=WARSAW)


@pytest.fixture
def informed_channel(db):
    """The shop channel's checkout informs customers of the right of withdrawal (normal 14-day period)."""
    from zaplecze.service.services import withdrawal_notice_record

    return withdrawal_notice_record(
        channel_code="shop", informed_at=at(2020, 1, 1), how="checkout terms", actor=None
    )


@pytest.fixture
def delivered_order(ingest, product_factory, informed_channel):
    """An order shipped and delivered through the order services; `delivered_at` defaults to 2 days ago."""
    from zaplecze.orders.models import Order
    from zaplecze.orders.services import order_transition

    counter = {"n": 0}

    def _make(delivered_at=None, lines=None, customer_type="consumer", stock=20, **overrides):
        counter["n"] += 1
        n = counter["n"]
        lines = lines or [
            {"sku": f"A-{n}", "name": "Kubek", "quantity": 2, "unit_price_gross": "49.99", "vat_rate": "23"},
            {"sku": f"B-{n}", "name": "Talerz", "quantity": 1, "unit_price_gross": "30.00", "vat_rate": "23"},
        ]
        for line in lines:
            product_factory(sku=line["sku"], price=line["unit_price_gross"], stock=stock)
        extra = {"nip": "5260250995", "company": "Firma sp. z o.o."} if customer_type == "business" else {}
        when = delivered_at or (timezone.now() - dt.timedelta(days=2))
        placed = when - dt.timedelta(days=3)
        order = ingest(
            external_id=f"S{n}",
            number=f"#S{n}",
            lines=lines,
            customer_type=customer_type,
            placed_at=placed.isoformat(),
            **extra,
            **overrides,
        ).order
        order_transition(order_id=order.pk, status_code="shipped", actor=None)
        order_transition(order_id=order.pk, status_code="delivered", actor=None)
        Order.objects.filter(pk=order.pk).update(delivered_at=when)
        order.refresh_from_db()
        return order

    return _make


@pytest.fixture
def staff(make_user):
    return make_user("service", "ola")


@pytest.fixture(autouse=True)
def huey_immediate():
    """Queued tasks run at once, in memory (never into the data dir's queue file)."""
    from huey.contrib.djhuey import HUEY

    before = HUEY.immediate
    HUEY.immediate = True
    HUEY.flush()
    yield HUEY
    HUEY.flush()
    HUEY.immediate = before


@pytest.fixture(autouse=True)
def _fresh_cache():
    """The public page's look-up throttle lives in the cache: every test starts with none."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def dovecot(settings):
    """A real Dovecot IMAP server on a loopback port (temp dir, one user); Zaplecze's IMAP settings point at
    it. Skipped locally when Dovecot is not installed, a failure in CI (tests.conftest.need)."""
    from tests.conftest import need

    from .mailservers import Dovecot

    need("dovecot")
    server = Dovecot().start()
    for name, value in server.settings().items():
        setattr(settings, name, value)
    settings.IMAP_MARK_SEEN = True
    settings.IMAP_MOVE_TO = ""
    yield server
    server.cleanup()


@pytest.fixture
def smtp_server(settings):
    """aiosmtpd on a loopback port capturing every message; Django's SMTP backend sends to it."""
    from .mailservers import SmtpCapture

    server = SmtpCapture().start()
    for name, value in server.settings().items():
        setattr(settings, name, value)
    settings.SHOP_NAME = "Sklep Testowy"
    settings.SHOP_EMAIL = settings.DEFAULT_FROM_EMAIL = "sklep@example.com"
    yield server
    server.stop()
