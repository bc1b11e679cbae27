"""Background jobs of core (run by `zaplecze worker`): the worker's heartbeat, read by `/readyz`; and the
task hooks that count task outcomes for `/metrics` and tag the worker's log lines with the task."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import HUEY, periodic_task

from . import heartbeat, opsmetrics

opsmetrics.install_task_hooks()


@periodic_task(crontab(minute="*"))
def worker_heartbeat_periodic() -> None:
    """Every minute: the worker is alive and takes periodic jobs from the queue (no database use)."""
    heartbeat.beat()


@HUEY.on_startup()
def _worker_started() -> None:
    heartbeat.beat()
