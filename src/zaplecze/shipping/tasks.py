"""Background jobs of the shipping module (run by `zaplecze worker`). Thin: take ids, call services.

Retries back off: 30 s, 60 s, 120 s, ... (huey's retry_delay doubled by retry_backoff), the same schedule
`services.retry_delay()` shows on the shipment page."""

from __future__ import annotations

import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from .services import RETRY_BASE_SECONDS

log = logging.getLogger("zaplecze.shipping")
SUBMIT_RETRIES = 8  # 30 s ... ~2 h in total


@db_task(retries=SUBMIT_RETRIES, retry_delay=RETRY_BASE_SECONDS, retry_backoff=2, context=True)
def shipment_submit_task(shipment_id: int, task=None) -> None:
    """Send a shipment to its carrier and download its label. A carrier error that a retry can fix (timeout,
    5xx, malformed answer, label not ready or not a PDF) is raised so the worker retries with backoff; the
    last failure, or one that retrying cannot fix, leaves the shipment for a person (error shown)."""
    from zaplecze.core.errors import Conflict

    from .carriers import CarrierError
    from .services import shipment_give_up, shipment_submit

    try:
        shipment_submit(shipment_id=shipment_id)
    except CarrierError as exc:
        if exc.retryable and task is not None and task.retries:
            raise
        shipment_give_up(shipment_id=shipment_id)
    except Conflict:
        if task is not None and task.retries:
            raise  # someone else is submitting it right now: look again later


@db_periodic_task(crontab(minute="*/15"))
def shipments_sync_periodic() -> None:
    """Every 15 minutes: poll carriers' tracking for every shipment still on its way, and retry due failed
    submissions (also those whose queued retry was lost)."""
    from .services import shipments_sync

    report = shipments_sync(limit=5000)
    if report.checked:
        log.info(
            "shipments sync: %s checked, %s changed, %s failed", report.checked, report.changed, report.failed
        )


@db_task()
def bulk_labels_task(job_id: int) -> None:
    """Shipments and one merged label PDF for many orders (a core.Job with progress and per-order errors).
    Not retried as a whole (the job shows its failure); running the same orders again is safe: orders that
    already have a shipment reuse it."""
    from .services import shipments_bulk_job_run

    shipments_bulk_job_run(job_id=job_id)


@db_periodic_task(crontab(minute="*/15"))
def ship_by_alerts_periodic() -> None:
    """Report orders that became late or at risk against their ship-by time (once per ship-by time)."""
    from .alerts import ship_by_alerts_send

    report = ship_by_alerts_send()
    if report.late or report.at_risk:
        log.info("ship-by alerts: %s late, %s at risk", len(report.late), len(report.at_risk))
