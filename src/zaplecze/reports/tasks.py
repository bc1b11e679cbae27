"""Background jobs of reports (run by `zaplecze worker`): every hour, send the scheduled reports that are
due (each schedule names its local hour; a period is never sent twice)."""

from __future__ import annotations

import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

log = logging.getLogger("zaplecze.reports")


@db_periodic_task(crontab(minute="5"))
def report_schedules_hourly() -> None:
    from .services import schedules_run_due

    for run in schedules_run_due():
        log.info("scheduled report sent: %s to %s", run, run.sent_to.replace("\n", ", "))
