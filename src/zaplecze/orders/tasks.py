"""Background jobs of the orders module (run by `zaplecze worker`)."""

from __future__ import annotations

from huey.contrib.djhuey import db_task


@db_task(retries=2, retry_delay=10, context=True)
def import_orders_task(job_id: int, task=None) -> None:
    """Import an uploaded order file for a core.Job (progress and the per-row report go to the job).
    An unexpected failure is retried (the import is an upsert, so re-running it is safe); the job is
    marked failed on the last attempt."""
    from .importing import import_job_run

    import_job_run(job_id=job_id, final_attempt=task is None or not task.retries)
