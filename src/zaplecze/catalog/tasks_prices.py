"""Worker tasks of the prices area (exported through catalog/tasks.py).

* every 5 minutes: copy prices scheduled for a moment that has come (e.g. a promotion starting at 00:00)
  to Variant.price / Offer.price. The selectors read the history, so feeds and the product page are right
  even if the worker is down; this keeps the stored copies in step. Idempotent.
"""

from __future__ import annotations

import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

log = logging.getLogger("zaplecze.catalog")

__all__ = ["prices_apply_due_periodic"]


@db_periodic_task(crontab(minute="*/5"))
def prices_apply_due_periodic() -> None:
    from .prices import prices_apply_due

    changed = prices_apply_due()
    if changed:
        log.info("scheduled prices applied: %s variants or offers changed", changed)
