"""Background jobs of integrations (run by `zaplecze worker`). Thin: call services.

* on demand: process one stored webhook delivery; one sync run of a connection;
* every 10 minutes: an import of every enabled connection from its cursor (this is what catches webhooks
  that never arrived), and at minute 5 of every hour a reconciliation that re-reads the last two hours
  regardless of the cursor (orders a page shift may have skipped);
* every minute: the stock and prices waiting for each enabled connection are pushed in batches
  (`integrations.push`; a connection with nothing due costs one query);
* every 15 minutes: the health check that alerts when an enabled connection has not synced for
  `STALE_AFTER` (once per connection per day), or when its errors jump (`connections_error_jump_alert`)."""

from __future__ import annotations

import datetime as dt
import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

log = logging.getLogger("zaplecze.integrations")

STALE_AFTER = dt.timedelta(minutes=60)

__all__ = [
    "connection_push_task",
    "connection_sync_task",
    "delivery_process_task",
    "health_check_periodic",
    "import_periodic",
    "order_push_status_task",
    "order_push_tracking_task",
    "push_periodic",
    "reconcile_periodic",
]


@db_task(retries=3, retry_delay=30)
def delivery_process_task(delivery_id: int) -> None:
    from .services import delivery_process

    delivery_process(delivery_id=delivery_id)


@db_task(retries=3, retry_delay=60)
def order_push_status_task(order_id: int) -> None:
    from .services import order_push_status

    order_push_status(order_id=order_id)


@db_task(retries=3, retry_delay=60)
def order_push_tracking_task(order_id: int) -> None:
    from .services import order_push_tracking_latest

    order_push_tracking_latest(order_id=order_id)


@db_task()
def connection_sync_task(connection_id: int, kind: str = "import", since: str | None = None) -> None:
    from .services import connection_sync

    connection_sync(
        connection_id=connection_id, kind=kind, since=dt.datetime.fromisoformat(since) if since else None
    )


def _enabled_ids() -> list[int]:
    from .connectors import CONNECTORS
    from .models import Connection

    return list(
        Connection.objects.filter(enabled=True, platform__in=list(CONNECTORS)).values_list("pk", flat=True)
    )


@db_periodic_task(crontab(minute="*/10"))
def import_periodic() -> None:
    from .services import connection_sync

    for pk in _enabled_ids():
        run = connection_sync(connection_id=pk, kind="import", scheduled=True)
        log.info("import of connection %s: %s", pk, run.outcome)


@db_periodic_task(crontab(minute="5"))
def reconcile_periodic() -> None:
    from .services import connection_sync

    for pk in _enabled_ids():
        connection_sync(connection_id=pk, kind="reconcile", scheduled=True)


@db_periodic_task(crontab(minute="*/15"))
def health_check_periodic() -> None:
    from .services import connections_error_jump_alert, connections_stale_alert

    connections_stale_alert(stale_after=STALE_AFTER)
    connections_error_jump_alert()


@db_task()
def connection_push_task(connection_id: int, all_skus: bool = False) -> None:
    from .services import connection_push

    connection_push(connection_id=connection_id, all_skus=all_skus)


@db_periodic_task(crontab(minute="*"))
def push_periodic() -> None:
    from .models import ConnectionStatus, PendingPush
    from .push import due_count
    from .services import connection_push

    waiting = set(
        PendingPush.objects.filter(connection__enabled=True)
        .exclude(connection__status=ConnectionStatus.AUTH_FAILED)
        .values_list("connection_id", flat=True)
        .distinct()
    )
    for pk in sorted(waiting & set(_enabled_ids())):
        if due_count(pk):
            run = connection_push(connection_id=pk, scheduled=True)
            log.info("push to connection %s: %s (%s sent)", pk, run.outcome, run.updated)
