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


@db_periodic_task(crontab(minute="*/2"))
def order_traces_refresh() -> None:
    """Fold new order events into the process-mining traces (a first build goes 200,000 events a run)."""
    from .traces import traces_refresh

    n = traces_refresh(limit_events=200_000)
    if n:
        log.info("order traces refreshed: %s orders", n)


@db_periodic_task(crontab(hour="5", minute="40"))
def insights_daily() -> None:
    """After the anomaly check: run the insight rules for the figures up to yesterday, then measure the effect
    of the insights marked done whose after-period has ended."""
    from zaplecze.core.businesstime import local_today

    from .insights_services import insights_measure_due, insights_refresh

    today = local_today()
    result = insights_refresh(today)
    log.info("insights: %d new, %d updated", len(result["created"]), len(result["updated"]))
    for kind, error in result["failed"].items():
        log.warning("insight rule %s failed: %s", kind, error)
    for insight in insights_measure_due(today):
        log.info("insight effect measured: %s", insight)
