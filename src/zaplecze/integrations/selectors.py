"""Reads of the integrations app: the health overview per connection, run log, errors, deliveries."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone

from zaplecze.core.errors import NotFound

from .models import Connection, ExternalOrder, SyncError, SyncRun, WebhookDelivery


@dataclass
class ConnectionHealth:
    connection: Connection
    lag_minutes: int | None  # since the last successful sync
    imported_today: int
    open_errors: int
    deliveries_accepted: int  # stored (any state after)
    deliveries_failed: int
    deliveries_duplicate: int  # replays of a delivery id already stored
    deliveries_rejected: int  # bad signature: counted only


def _start_of_today() -> dt.datetime:
    local = timezone.localtime()
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def connections_health(*, now: dt.datetime | None = None) -> list[ConnectionHealth]:
    """One row per connection; a fixed number of queries whatever the number of connections."""
    now = now or timezone.now()
    connections = list(Connection.objects.select_related("channel").order_by("channel__name"))
    ids = [c.pk for c in connections]
    today = dict(
        ExternalOrder.objects.filter(connection_id__in=ids, first_seen_at__gte=_start_of_today())
        .values_list("connection_id")
        .annotate(n=Count("id"))
    )
    errors = dict(
        SyncError.objects.filter(connection_id__in=ids, state=SyncError.State.OPEN)
        .values_list("connection_id")
        .annotate(n=Count("id"))
    )
    deliveries = {
        row["connection_id"]: row
        for row in WebhookDelivery.objects.filter(connection_id__in=ids)
        .values("connection_id")
        .annotate(
            n=Count("id"),
            failed=Count("id", filter=Q(state=WebhookDelivery.State.FAILED)),
            replays=Sum("replays"),
        )
    }
    rows = []
    for c in connections:
        d = deliveries.get(c.pk, {})
        rows.append(
            ConnectionHealth(
                connection=c,
                lag_minutes=int((now - c.last_success_at).total_seconds() // 60)
                if c.last_success_at
                else None,
                imported_today=today.get(c.pk, 0),
                open_errors=errors.get(c.pk, 0),
                deliveries_accepted=d.get("n", 0),
                deliveries_failed=d.get("failed", 0),
                deliveries_duplicate=d.get("replays") or 0,
                deliveries_rejected=c.rejected_deliveries,
            )
        )
    return rows


def connection_health(connection_id: int) -> ConnectionHealth:
    for row in connections_health():
        if row.connection.pk == connection_id:
            return row
    raise NotFound("Connection not found")


def connection_get(connection_id: int) -> Connection:
    connection = Connection.objects.select_related("channel").filter(pk=connection_id).first()
    if connection is None:
        raise NotFound("Connection not found")
    return connection


def connection_by_channel(code: str) -> Connection | None:
    return Connection.objects.select_related("channel").filter(channel__code=code).first()


def runs(connection_id: int) -> QuerySet[SyncRun]:
    return SyncRun.objects.filter(connection_id=connection_id).order_by("-started_at", "-id")


def sync_errors(connection_id: int, *, state: str | None = SyncError.State.OPEN) -> QuerySet[SyncError]:
    qs = SyncError.objects.filter(connection_id=connection_id)
    return qs.filter(state=state) if state else qs


def deliveries(connection_id: int) -> QuerySet[WebhookDelivery]:
    return WebhookDelivery.objects.filter(connection_id=connection_id).defer("body")


def allegro_authorization(connection: Connection):
    """Where an Allegro connection's device-flow authorization stands (user code while pending, token
    expiry once authorized); None for other platforms. Decrypts the credentials; returns no secret."""
    from . import crypto
    from .connectors.allegro import authorization_state

    if connection.platform != "allegro":
        return None
    return authorization_state(crypto.decrypt(connection.credentials_encrypted))
