"""Worker tasks of the storefront check (exported through catalog/tasks.py).

* `site_check_job(run_id)`: run a queued check (started from the screen, the API or the nightly schedule);
* every night at 03:15 UTC: start again each check whose latest run asked to be repeated nightly."""

from __future__ import annotations

import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

log = logging.getLogger("zaplecze.catalog")

__all__ = ["site_check_job", "site_check_nightly"]


@db_task()
def site_check_job(run_id: int) -> None:
    from .sitecheck import site_check_execute

    run = site_check_execute(run_id=run_id)
    log.info("storefront check %s: %s", run_id, run.state)


@db_periodic_task(crontab(hour="3", minute="15"))
def site_check_nightly() -> None:
    from .sitecheck import repeat_nightly

    started = repeat_nightly()
    if started:
        log.info("nightly storefront checks queued: %s", ", ".join(str(r.pk) for r in started))
