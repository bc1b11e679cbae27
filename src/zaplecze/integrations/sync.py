"""The sync engine: import runs with a per-connection lock, one transaction per page (orders, errors and the
cursor together, so a crash resumes at the last committed page), the reconciliation poll, and the intake
of mapped orders shared with webhook processing.

Orders go in only through `orders.services.ingest_orders_batch` (= `ingest_order` per order), which
deduplicates by (channel, external id) and refuses a version older than the one stored (the platform's
modified time is passed as `updated_at` and kept as `Order.source_updated_at`). `ExternalOrder` keeps the
platform's last status and modified time per external id: an older version is skipped before intake, and
when the platform status did not change the order's status here is left alone (staff may have moved the
order on, e.g. to "in fulfilment", while WooCommerce still says "processing").
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import secrets
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from zaplecze.core import extensions
from zaplecze.core.errors import DomainError
from zaplecze.orders.models import Order
from zaplecze.orders.services import IngestResult, ingest_orders_batch, order_flag_attention

from .connectors.base import AuthFailed, ConnectorError, MappedOrder
from .models import Connection, ConnectionStatus, ExternalOrder, SyncError, SyncRun

log = logging.getLogger("zaplecze.integrations")

LOCK_TTL = dt.timedelta(minutes=15)
RECONCILE_WINDOW = dt.timedelta(hours=2)
SOURCE = "integration"


# --- lock -------------------------------------------------------------------------------------------------


def lock_acquire(connection_id: int) -> str | None:
    """Take the connection's run lock (a conditional UPDATE, correct on SQLite and PostgreSQL); None: held."""
    token = secrets.token_hex(8)
    now = timezone.now()
    taken = (
        Connection.objects.filter(pk=connection_id)
        .filter(Q(lock_until__isnull=True) | Q(lock_until__lt=now))
        .update(lock_token=token, lock_until=now + LOCK_TTL)
    )
    return token if taken else None


def lock_extend(connection_id: int, token: str) -> None:
    Connection.objects.filter(pk=connection_id, lock_token=token).update(lock_until=timezone.now() + LOCK_TTL)


def lock_release(connection_id: int, token: str) -> None:
    Connection.objects.filter(pk=connection_id, lock_token=token).update(lock_token="", lock_until=None)


# --- intake of mapped orders ------------------------------------------------------------------------------


@dataclass
class Tally:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: int = 0
    error_messages: list[str] = field(default_factory=list)


def ingest_mapped(
    connection: Connection, items: list[MappedOrder], *, run: SyncRun | None = None, keep_errors: bool = True
) -> Tally:
    """Take mapped platform orders in (call inside the caller's transaction). Refusals become SyncErrors
    with their payload when `keep_errors`; the tally counts what happened."""
    tally = Tally()
    now = timezone.now()
    ids = list({m.external_id for m in items})
    known = {
        e.external_id: e for e in ExternalOrder.objects.filter(connection=connection, external_id__in=ids)
    }
    orders = {
        o["external_id"]: o
        for o in Order.objects.filter(channel_id=connection.channel_id, external_id__in=ids).values(
            "pk", "external_id", "stage", "status__code"
        )
    }
    todo: list[MappedOrder] = []
    for m in items:
        seen = known.get(m.external_id)
        if m.order is None:  # not an order yet (e.g. a checkout draft)
            tally.unchanged += 1
            continue
        if seen and seen.modified_at and m.modified_at and m.modified_at < seen.modified_at:
            tally.unchanged += 1  # an older version than the one already taken in
            continue
        current = orders.get(m.external_id)
        data = m.order
        if current is not None and (
            m.stage is None or (seen is not None and seen.platform_status == m.platform_status)
        ):
            # The platform status did not change (or is unknown): leave the order's status as it is here.
            data = data.model_copy(update={"status": current["status__code"], "stage": None})
        elif m.stage == "cancelled" and current is not None and current["stage"] == "cancelled":
            data = data.model_copy(update={"status": current["status__code"], "stage": None})
        todo.append(m if data is m.order else _with(m, data))
    results = ingest_orders_batch([m.order for m in todo], source=SOURCE) if todo else []
    upserts: dict[str, ExternalOrder] = {}
    for m, result in zip(todo, results, strict=True):
        if isinstance(result, DomainError):
            tally.errors += 1
            message = f"{m.external_id}: {result.message}" + (f" ({result.field})" if result.field else "")
            tally.error_messages.append(message)
            if keep_errors:
                _error_keep(connection, run, m.external_id, message, _payload_of(m))
            continue
        assert isinstance(result, IngestResult)
        outcome = result.outcome
        if outcome == "created":
            tally.created += 1
        elif outcome == "updated":
            tally.updated += 1
        else:
            tally.unchanged += 1
        if outcome == "stale":
            continue
        if m.attention:
            _flag(result.order.pk, m)
        prev = known.get(m.external_id)
        upserts[m.external_id] = ExternalOrder(
            connection=connection,
            external_id=m.external_id,
            order_id=result.order.pk,
            platform_status=m.platform_status[:60],
            modified_at=m.modified_at,
            first_seen_at=prev.first_seen_at if prev else now,
            seen_at=now,
        )
    if upserts:
        ExternalOrder.objects.bulk_create(
            list(upserts.values()),
            update_conflicts=True,
            unique_fields=["connection", "external_id"],
            update_fields=["order_id", "platform_status", "modified_at", "seen_at"],
        )
    return tally


def _with(m: MappedOrder, data) -> MappedOrder:
    return MappedOrder(
        m.external_id, m.platform_status, m.modified_at, data, m.stage, m.payment_status, m.attention, m.raw
    )


def _payload_of(m: MappedOrder) -> str:
    if m.raw is not None:
        return json.dumps(m.raw, ensure_ascii=False)
    return m.order.model_dump_json() if m.order is not None else ""


def _flag(order_id: int, m: MappedOrder) -> None:
    """Mark the order as needing attention for what the mapping could not decide (kept until resolved)."""
    order_flag_attention(
        order_id=order_id,
        reasons=[{"code": n.code, "message": n.message} for n in m.attention],
        source=SOURCE,
    )


def _error_keep(
    connection: Connection, run: SyncRun | None, external_id: str, message: str, payload: str
) -> SyncError:
    """One open error per (connection, external id): a repeat counts an attempt instead of a new row."""
    if external_id:
        existing = (
            SyncError.objects.filter(
                connection=connection, external_id=external_id, state=SyncError.State.OPEN
            )
            .order_by("-at")
            .first()
        )
        if existing is not None:
            SyncError.objects.filter(pk=existing.pk).update(
                attempts=F("attempts") + 1, message=message, payload=payload, at=timezone.now(), run=run
            )
            return existing
    return SyncError.objects.create(
        connection=connection, run=run, external_id=external_id, message=message, payload=payload
    )


# --- runs -------------------------------------------------------------------------------------------------


def run_import(
    connection: Connection,
    connector,
    *,
    kind: str = SyncRun.Kind.IMPORT,
    since: dt.datetime | None = None,
    max_pages: int | None = None,
) -> SyncRun:
    """One import (from the cursor) or reconciliation (from `since`, the cursor left alone) of a connection.
    Holds the connection's lock; another run already going -> a SKIPPED run is logged and returned."""
    token = lock_acquire(connection.pk)
    if token is None:
        return SyncRun.objects.create(
            connection=connection,
            kind=kind,
            outcome=SyncRun.Outcome.SKIPPED,
            finished_at=timezone.now(),
            cursor_before=connection.cursor,
        )
    try:
        connection.refresh_from_db()
        moves_cursor = kind == SyncRun.Kind.IMPORT
        if moves_cursor and since is None and not connection.cursor and connection.first_import_since:
            since = connection.first_import_since
        run = SyncRun.objects.create(connection=connection, kind=kind, cursor_before=connection.cursor)
        try:
            for page in connector.orders_since(connection.cursor if moves_cursor else "", since=since):
                with transaction.atomic():
                    tally = ingest_mapped(connection, page.items, run=run)
                    for err in page.errors:
                        _error_keep(connection, run, err.external_id, err.message, err.payload)
                    SyncRun.objects.filter(pk=run.pk).update(
                        pages=F("pages") + 1,
                        fetched=F("fetched") + len(page.items) + len(page.errors),
                        created=F("created") + tally.created,
                        updated=F("updated") + tally.updated,
                        unchanged=F("unchanged") + tally.unchanged,
                        errors=F("errors") + tally.errors + len(page.errors),
                        cursor_after=page.cursor if moves_cursor else "",
                    )
                    if moves_cursor:
                        Connection.objects.filter(pk=connection.pk).update(cursor=page.cursor)
                lock_extend(connection.pk, token)
                if max_pages is not None and page.page >= max_pages:
                    break
        except AuthFailed as exc:
            _finish(run, SyncRun.Outcome.FAILED, str(exc))
            connection_auth_failed(connection, str(exc))
            return run
        except ConnectorError as exc:
            _finish(run, SyncRun.Outcome.FAILED, str(exc))
            connection_failing(connection, str(exc))
            return run
        except Exception as exc:  # a bug or the database: the run log says so, the worker logs the trace
            log.exception("sync of %s failed", connection.pk)
            _finish(run, SyncRun.Outcome.FAILED, f"{type(exc).__name__}: {exc}")
            connection_failing(connection, f"{type(exc).__name__}: {exc}")
            return run
        run.refresh_from_db()
        _finish(run, SyncRun.Outcome.PARTIAL if run.errors else SyncRun.Outcome.OK, "")
        connection_ok(connection, needs_attention=bool(run.errors))
        return run
    finally:
        lock_release(connection.pk, token)


def _finish(run: SyncRun, outcome: str, error: str) -> None:
    run.outcome = outcome
    run.error = error[:5000]
    run.finished_at = timezone.now()
    run.save(update_fields=["outcome", "error", "finished_at"])


# --- connection health -------------------------------------------------------------------------------------


def connection_ok(connection: Connection, *, needs_attention: bool = False) -> None:
    """The platform answered: a successful sync. With records it could not take in (kept as errors), the
    connection shows "needs attention" until a run goes through clean."""
    status = ConnectionStatus.NEEDS_ATTENTION if needs_attention else ConnectionStatus.OK
    Connection.objects.filter(pk=connection.pk).update(
        status=status, last_success_at=timezone.now(), updated_at=timezone.now()
    )


def connection_failing(connection: Connection, message: str) -> None:
    now = timezone.now()
    Connection.objects.filter(pk=connection.pk).exclude(status=ConnectionStatus.AUTH_FAILED).update(
        status=ConnectionStatus.FAILING, updated_at=now
    )
    Connection.objects.filter(pk=connection.pk).update(last_error=message[:2000], last_error_at=now)


def connection_auth_failed(connection: Connection, message: str) -> None:
    """Mark the connection and alert admins and organisers once (not on every failed run)."""
    now = timezone.now()
    with transaction.atomic():
        changed = (
            Connection.objects.filter(pk=connection.pk)
            .exclude(status=ConnectionStatus.AUTH_FAILED)
            .update(status=ConnectionStatus.AUTH_FAILED, updated_at=now)
        )
        Connection.objects.filter(pk=connection.pk).update(last_error=message[:2000], last_error_at=now)
        if changed:
            alert(
                key=f"integrations:auth:{connection.pk}:{now:%Y%m%d%H%M}",
                subject=lambda: _alert_subject(connection, "auth"),
                body=lambda: _alert_body(connection, message),
            )


def alert(*, key: str, subject, body) -> int:
    notify = extensions.get("staff.notify", "email")
    if notify is None:
        log.warning("integrations alert (no staff.notify registered): %s", key)
        return 0
    return notify(
        key=key, kind="integrations_alert", roles=["admin", "organiser"], subject=subject, body=body
    )


def _alert_subject(connection: Connection, what: str) -> str:
    from django.utils.translation import gettext as _

    if what == "auth":
        return _("%(channel)s: the platform refused the credentials") % {"channel": connection.channel.name}
    return _("%(channel)s: orders have not synced for a while") % {"channel": connection.channel.name}


def _alert_body(connection: Connection, message: str) -> str:
    from django.utils.translation import gettext as _

    return _(
        "Channel %(channel)s (%(platform)s, %(url)s): %(message)s\n\n"
        "Open Settings → Integrations to check the connection."
    ) % {
        "channel": connection.channel.name,
        "platform": connection.get_platform_display(),
        "url": connection.base_url,
        "message": message,
    }
