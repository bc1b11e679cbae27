"""Background jobs of reports (run by `zaplecze worker`): every hour, send the scheduled reports that are
due (each schedule names its local hour; a period is never sent twice); every morning, check yesterday's
orders and revenue for anomalies."""

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


@db_periodic_task(crontab(hour="5", minute="20"))
def anomaly_check_daily() -> None:
    """06:20/07:20 in Warsaw: check yesterday's orders and revenue against the same weekday before."""
    import datetime as dt

    from zaplecze.core.businesstime import local_today

    from .anomalies import check_day

    for a in check_day(local_today() - dt.timedelta(days=1)):
        log.warning("sales anomaly: %s", a)
