"""Background jobs of the analytics module (run by `zaplecze worker`). Thin: call services."""

from __future__ import annotations

import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, lock_task

log = logging.getLogger("zaplecze.analytics")


@db_periodic_task(crontab(minute="*"))
@lock_task("analytics-flush")
def analytics_flush_periodic() -> None:
    """Every minute: move the collector's spool into date-partitioned Parquet (idempotent; a flush that dies
    is simply repeated by the next one)."""
    from .services import spool_flush

    report = spool_flush()
    if report["read"]:
        log.info("analytics flush: %s", report)


@db_periodic_task(crontab(minute="17"))
@lock_task("analytics-maintain")
def analytics_maintain_periodic() -> None:
    """Hourly: compact small Parquet files, apply retention, forget old salts, export changed orders."""
    from .services import warehouse_maintain

    log.info("analytics maintenance: %s", warehouse_maintain())
