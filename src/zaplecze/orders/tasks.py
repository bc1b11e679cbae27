"""Background jobs of the orders module (run by `zaplecze worker`)."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task


@db_task(retries=2, retry_delay=10, context=True)
def import_orders_task(job_id: int, task=None) -> None:
    """Import an uploaded order file for a core.Job (progress and the per-row report go to the job).
    An unexpected failure is retried (the import is an upsert, so re-running it is safe); the job is
    marked failed on the last attempt."""
    from .importing import import_job_run

    import_job_run(job_id=job_id, final_attempt=task is None or not task.retries)


@db_task(retries=1, retry_delay=10, context=True)
def export_orders_task(job_id: int, task=None) -> None:
    """Write an order export file for a core.Job (progress and the download go to the job)."""
    from .exporting import export_job_run

    export_job_run(job_id=job_id, final_attempt=task is None or not task.retries)


@db_task()
def automation_event_task(
    event: str, order_ids: list[int], data: dict, depth: int = 0, fired: list | None = None
) -> None:
    """Run the automation rules (and paid hooks) for an order event, queued after the change committed.
    Not retried as a whole: each rule's failure is written to the rule log and the order's history."""
    from .automation import event_process

    event_process(event=event, order_ids=order_ids, data=data, depth=depth, fired=fired or [])


@db_periodic_task(crontab(minute="*/10"))
def automation_due_periodic() -> None:
    """Every 10 minutes: "in status X for N hours" rules, once per order per entry into the status."""
    from .automation import due_run

    due_run()
