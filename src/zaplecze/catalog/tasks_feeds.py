"""Worker tasks of the feeds area (exported through catalog/tasks.py; list them in __all__).

* every hour at :20 (UTC): rebuild every active feed, so Merchant Center and Ceneo fetch fresh prices and stock;
* on demand ("Build now" on the feeds page, POST /api/v1/catalog/feeds/{id}/rebuild): one feed, as a job.
"""

from __future__ import annotations

import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

__all__ = ["feed_build_job", "feeds_rebuild_hourly"]

log = logging.getLogger("zaplecze.catalog.feeds")


@db_periodic_task(crontab(minute="20"))
def feeds_rebuild_hourly() -> None:
    from .feeds import feeds_build_all

    results = feeds_build_all()
    if results:
        log.info("feeds rebuilt: %s", results)


@db_task()
def feed_build_job(job_id: int, feed_id: int) -> None:
    """One feed built now, with progress on the job page (variants looked at so far)."""
    from zaplecze.core.services import job_finish, job_progress, job_start

    from .feeds import feed_build

    job_start(job_id=job_id)
    try:
        stats = feed_build(feed_id=feed_id, progress=lambda done: job_progress(job_id=job_id, done=done))
    except Exception as exc:  # the job page and the feed page show the failure
        job_finish(job_id=job_id, error=f"{type(exc).__name__}: {exc}")
        return
    job_finish(job_id=job_id, result=stats.as_dict())
