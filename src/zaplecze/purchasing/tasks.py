"""Background jobs of purchasing (run by `zaplecze worker`). Thin: call services.

* every night at 02:30 UTC (Huey's schedules are in UTC): forecast every variant, recompute reorder points;
* every morning at 07:00 UTC (08:00/09:00 in Warsaw): raise the overdue alert for POs past their expected
  delivery date (docs/purchasing.md says what "alerted" means)."""

from __future__ import annotations

import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

log = logging.getLogger("zaplecze.purchasing")


@db_periodic_task(crontab(hour="2", minute="30"))
def reorder_compute_nightly() -> None:
    from .services import reorder_compute

    report = reorder_compute()
    log.info("reorder parameters recomputed: %s", report.as_dict())


@db_task()
def reorder_compute_job(job_id: int) -> None:
    """The on-demand recomputation started from the screen (a core.Job with progress)."""
    from zaplecze.core.models import Job
    from zaplecze.core.services import job_finish, job_progress, job_start

    from .services import reorder_compute

    job_start(job_id=job_id)
    variant_ids = (Job.objects.filter(pk=job_id).values_list("params", flat=True).first() or {}).get(
        "variant_ids"
    )
    try:
        report = reorder_compute(
            variant_ids=variant_ids,
            progress=lambda done, total: (
                job_progress(job_id=job_id, done=done, total=total)
                if done % 25 == 0 or done == total
                else None
            ),
        )
    except Exception as exc:  # the job page shows the failure
        log.exception("reorder computation failed")
        job_finish(job_id=job_id, error=f"{type(exc).__name__}: {exc}")
        return
    job_finish(job_id=job_id, result=report.as_dict())


@db_periodic_task(crontab(hour="7", minute="0"))
def overdue_alert_daily() -> None:
    from .services import po_overdue_alert

    alerted = po_overdue_alert()
    if alerted:
        log.info("overdue purchase orders alerted: %s", ", ".join(po.number for po in alerted))
