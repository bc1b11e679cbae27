"""Background jobs of monitoring (run by `zaplecze worker`). Thin: call services.

* every minute: run the storefront checks that are due (each by its own interval), concurrently in a
  bounded thread pool, each bounded by its timeout;
* every night (02:40 UTC): roll the finished days' results up into daily rows and delete raw results
  older than 35 days (see monitoring/models.py)."""

from __future__ import annotations

import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

log = logging.getLogger("zaplecze.monitoring")


@db_periodic_task(crontab(minute="*"))
def storefront_checks_periodic() -> None:
    from .services import checks_run_due

    results = checks_run_due()
    failed = [r for r in results if not r.ok]
    if results:
        log.info("storefront checks: %s run, %s failed", len(results), len(failed))


@db_periodic_task(crontab(hour="2", minute="40"))
def storefront_results_roll_up() -> None:
    from .services import results_roll_up

    log.info("storefront results roll-up: %s", results_roll_up())
