"""Worker tasks of the audit area (exported through catalog/tasks.py).

* nightly at 02:30 Europe/Warsaw: audit the whole catalog (Huey's crontab is in UTC, so the task is
  scheduled at 00:30 and 01:30 UTC and runs only at the one that is 02:30 in Warsaw: CEST or CET);
* `audit_products_task(ids)`: the re-audit queued by `audit.audit_soon` after a write;
* `audit_full_job(job_id)`: a full run started from the screen or the API, reported as a core.Job.
"""

from __future__ import annotations

import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task, lock_task

__all__ = ["audit_full_job", "audit_nightly", "audit_products_task"]

log = logging.getLogger("zaplecze.catalog.audit")
NIGHTLY_LOCAL_HOUR = 2


@db_periodic_task(crontab(hour="0,1", minute="30"))
def audit_nightly() -> None:
    from django.utils import timezone

    from zaplecze.core.businesstime import tz

    if timezone.now().astimezone(tz()).hour != NIGHTLY_LOCAL_HOUR:
        return
    with lock_task("catalog-audit-full"):
        from .audit import audit_run

        log.info("nightly catalog audit: %s", audit_run().as_dict())


@db_task()
def audit_products_task(product_ids: list[int]) -> None:
    from .audit import audit_run

    audit_run(product_ids=product_ids)


@db_task()
def audit_full_job(job_id: int) -> None:
    from zaplecze.core.services import job_finish, job_progress, job_start

    from .audit import audit_run, catalog_summary

    job_start(job_id=job_id)
    try:
        with lock_task("catalog-audit-full"):
            report = audit_run(
                progress=lambda done, total: job_progress(job_id=job_id, done=done, total=total)
            )
    except Exception as exc:  # the job page shows the failure
        log.exception("catalog audit failed")
        job_finish(job_id=job_id, error=f"{type(exc).__name__}: {exc}")
        return
    summary = catalog_summary()
    job_finish(job_id=job_id, result={**report.as_dict(), "score": summary["score"]})
