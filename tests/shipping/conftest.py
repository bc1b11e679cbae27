from __future__ import annotations

import pytest

from .fakeshipx import ORG, TOKEN, FakeShipX


@pytest.fixture
def shipx(settings):
    """The fake ShipX server, with the InPost settings pointing at it (short timeout: 0.3 s)."""
    fake = FakeShipX().start()
    settings.INPOST_API_URL = fake.url
    settings.INPOST_TOKEN = TOKEN
    settings.INPOST_ORGANIZATION_ID = ORG
    settings.INPOST_TIMEOUT = 0.3
    yield fake
    fake.stop()


@pytest.fixture
def media(settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "media")},
        },
    }
    return tmp_path / "media"


@pytest.fixture
def order_factory(ingest, product_factory):
    """order_factory(**OrderIn overrides) -> a paid, ready order (stock reserved)."""
    state = {"n": 0, "product": None}

    def _make(**overrides):
        if state["product"] is None:
            state["product"] = product_factory(sku="SKU-0001", stock=1000)
        state["n"] += 1
        n = state["n"]
        overrides.setdefault("external_id", f"ship-{n}")
        overrides.setdefault("number", f"#{5000 + n}")
        return ingest(**overrides).order

    return _make


@pytest.fixture(autouse=True)
def huey_immediate():
    """Queued tasks run at once (in memory); retries are scheduled, not run, so tests see them."""
    from huey.contrib.djhuey import HUEY

    before = HUEY.immediate
    HUEY.immediate = True
    HUEY.flush()
    yield HUEY
    HUEY.flush()
    HUEY.immediate = before
