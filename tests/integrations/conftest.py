from __future__ import annotations

import pytest

from .fake_woo import KEY, SECRET, FakeWoo

WEBHOOK_SECRET = "test_wc_webhook_secret"


@pytest.fixture
def fake_woo():
    server = FakeWoo().start()
    yield server
    server.stop()


@pytest.fixture
def waits(monkeypatch):
    """Backoff and Retry-After waits, recorded instead of slept."""
    recorded: list[float] = []
    monkeypatch.setattr("zaplecze.integrations.connectors.base._sleep", recorded.append)
    return recorded


@pytest.fixture
def woo_connection(db, fake_woo, waits):
    from zaplecze.integrations.services import connection_create

    return connection_create(
        channel_code="shop",
        platform="woocommerce",
        base_url=fake_woo.url,
        credentials={"consumer_key": KEY, "consumer_secret": SECRET, "webhook_secret": WEBHOOK_SECRET},
        actor=None,
    )
