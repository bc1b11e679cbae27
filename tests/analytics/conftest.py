from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ACCESS_LOG = REPO.parent / "shared" / "datasets" / "access-logs" / "elastic_apache_logs.log"
CHROME_UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"
IPHONE_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 16_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/16.0 Mobile/15E148 Safari/604.1"
)


@pytest.fixture(autouse=True)
def analytics_root(settings, tmp_path):
    """Each test gets its own event store; the pipeline's caches start empty."""
    from zaplecze.analytics import pipeline, spool, warehouse

    settings.DATA_DIR = tmp_path
    pipeline.sites_forget()
    pipeline.salts_forget()
    spool.close()
    warehouse.crash_point = None
    yield tmp_path / "analytics"
    spool.close()
    warehouse.crash_point = None
    pipeline.sites_forget()


@pytest.fixture
def site(db):
    from zaplecze.analytics.services import site_create

    return site_create(
        domain="shop.example", name="Shop", allowed_origins="https://www.shop.example", actor=None
    )


@pytest.fixture
def access_log():
    if not ACCESS_LOG.exists():
        pytest.skip("the shared datasets are not next to the repository")
    return ACCESS_LOG
