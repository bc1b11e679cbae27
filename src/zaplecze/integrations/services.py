"""Writes of the integrations app: connections and their credentials, connection tests, sync runs, webhook
deliveries (receive fast, process in the worker), retries, pushes back to the platform."""

from __future__ import annotations

import datetime as dt
import json
import logging
import secrets
import urllib.parse
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from zaplecze.core.errors import DomainError, NotFound
from zaplecze.core.models import User
from zaplecze.core.services import audit_record
from zaplecze.orders.models import Channel, Order

from . import crypto, sync
from .connectors import connector_class
from .connectors.base import AuthFailed, Connector, ConnectorError, PayloadError, SignatureError
from .models import Connection, ConnectionStatus, ExternalOrder, Platform, SyncError, SyncRun, WebhookDelivery

log = logging.getLogger("zaplecze.integrations")
security_log = logging.getLogger("zaplecze.security")

MAX_WEBHOOK_BYTES = 2 * 1024 * 1024


# --- connections ----------------------------------------------------------------------------------------


def _check_url(url: str) -> str:
    url = (url or "").strip().rstrip("/")
    split = urllib.parse.urlsplit(url)
    if split.scheme not in ("http", "https") or not split.hostname:
        raise DomainError(_("Enter the shop address, e.g. https://shop.example.pl"), field="base_url")
    if split.scheme == "http" and split.hostname not in ("127.0.0.1", "localhost", "::1"):
        raise DomainError(
            _("The shop address must start with https:// (credentials travel with every request)"),
            field="base_url",
        )
    return url


def _credentials_check(platform: str, credentials: dict[str, str], *, partial: bool) -> dict[str, str]:
    cls = connector_class(platform)
    fields = [name for name, _label in cls.credential_fields] if cls else list(credentials)
    clean = {k: (credentials.get(k) or "").strip() for k in fields if (credentials.get(k) or "").strip()}
    if not partial and cls:
        for name, label in cls.credential_fields:
            if name not in clean and name != "webhook_secret":
                raise DomainError(_("%(field)s is required") % {"field": label}, field=name)
    for k, v in clean.items():
        if len(v) > 500:
            raise DomainError(_("%(field)s is too long") % {"field": k}, field=k)
    return clean


def _hint(values: dict[str, str]) -> str:
    main = next((v for k, v in values.items() if k != "webhook_secret"), "")
    return crypto.hint(main)


def connection_create(
    *,
    channel_code: str,
    platform: str,
    base_url: str,
    credentials: dict[str, str],
    first_import_since: dt.datetime | None = None,
    enabled: bool = True,
    actor: User | None,
) -> Connection:
    if platform not in Platform.values:
        raise DomainError(_("Unknown platform %(p)r") % {"p": platform}, field="platform")
    channel = Channel.objects.filter(code=channel_code).first()
    if channel is None:
        raise DomainError(_("Unknown channel %(c)r") % {"c": channel_code}, field="channel")
    url = _check_url(base_url)
    clean = _credentials_check(platform, credentials, partial=False)
    with transaction.atomic():
        if Connection.objects.select_for_update().filter(channel=channel).exists():
            raise DomainError(_("Channel %(c)s is already connected") % {"c": channel.code}, field="channel")
        connection = Connection.objects.create(
            channel=channel,
            platform=platform,
            base_url=url,
            credentials_encrypted=crypto.encrypt(clean),
            credentials_hint=_hint(clean),
            webhook_token=secrets.token_urlsafe(24),
            enabled=enabled,
            first_import_since=first_import_since,
        )
        audit_record(
            obj_type="integrations.connection",
            obj_id=connection.pk,
            action="created",
            actor=actor,
            changes={"channel": [None, channel.code], "platform": [None, platform], "base_url": [None, url]},
        )
    return connection


def connection_update(
    *,
    connection_id: int,
    actor: User | None,
    base_url: str | None = None,
    credentials: dict[str, str] | None = None,
    enabled: bool | None = None,
    first_import_since: dt.datetime | None = None,
) -> Connection:
    """Change the address, switch on/off, or replace credentials (only the fields given; empty keeps the
    stored value: the screens never show the stored secrets)."""
    with transaction.atomic():
        connection = Connection.objects.select_for_update().filter(pk=connection_id).first()
        if connection is None:
            raise NotFound(_("Connection not found"))
        changes: dict = {}
        if base_url is not None:
            url = _check_url(base_url)
            if url != connection.base_url:
                changes["base_url"] = [connection.base_url, url]
                connection.base_url = url
        if enabled is not None and enabled != connection.enabled:
            changes["enabled"] = [connection.enabled, enabled]
            connection.enabled = enabled
        if first_import_since is not None and first_import_since != connection.first_import_since:
            connection.first_import_since = first_import_since
            changes["first_import_since"] = ["", first_import_since.isoformat()]
        new = _credentials_check(connection.platform, credentials or {}, partial=True)
        if new:
            values = (
                crypto.decrypt(connection.credentials_encrypted) if connection.credentials_encrypted else {}
            )
            values.update(new)
            connection.credentials_encrypted = crypto.encrypt(values)
            connection.credentials_hint = _hint(values)
            changes["credentials"] = ["••••", "••••"]  # never the values
            if connection.status == ConnectionStatus.AUTH_FAILED:
                connection.status = ConnectionStatus.NEW
        connection.updated_at = timezone.now()
        connection.save()
        if changes:
            audit_record(
                obj_type="integrations.connection",
                obj_id=connection.pk,
                action="updated",
                actor=actor,
                changes=changes,
            )
    return connection


def connector_for(connection: Connection, *, http=None) -> Connector:
    cls = connector_class(connection.platform)
    if cls is None:
        raise DomainError(
            _("%(platform)s connections cannot sync yet") % {"platform": connection.get_platform_display()},
            code="no_connector",
        )
    try:
        return cls(
            base_url=connection.base_url,
            credentials=crypto.decrypt(connection.credentials_encrypted),
            channel=connection.channel.code,
            http=http,
            on_credentials=lambda values: connection_credentials_renewed(connection.pk, values),
        )
    except ConnectorError as exc:
        raise DomainError(str(exc), field="base_url") from None


def connection_credentials_renewed(connection_id: int, values: dict[str, str]) -> None:
    """A connector renewed its own credentials (OAuth refresh): store them encrypted at once, in their own
    transaction (a later rollback of the sync batch must not lose a refresh token the platform has already
    rotated). Not audited as a staff change; never logged."""
    with transaction.atomic():
        Connection.objects.filter(pk=connection_id).update(
            credentials_encrypted=crypto.encrypt(values),
            credentials_hint=_hint(values),
            updated_at=timezone.now(),
        )


@dataclass
class TestResult:
    ok: bool
    message: str


def connection_test(*, connection_id: int, actor: User | None, http=None) -> TestResult:
    connection = _get(connection_id)
    connector = connector_for(connection, http=http)
    run = SyncRun.objects.create(connection=connection, kind=SyncRun.Kind.TEST)
    try:
        message = connector.test()
    except AuthFailed as exc:
        sync._finish(run, SyncRun.Outcome.FAILED, str(exc))
        sync.connection_auth_failed(connection, str(exc))
        return TestResult(False, _("The platform refused the credentials: %(e)s") % {"e": exc})
    except ConnectorError as exc:
        sync._finish(run, SyncRun.Outcome.FAILED, str(exc))
        return TestResult(False, str(exc))
    sync._finish(run, SyncRun.Outcome.OK, "")
    Connection.objects.filter(
        pk=connection.pk, status__in=[ConnectionStatus.NEW, ConnectionStatus.AUTH_FAILED]
    ).update(status=ConnectionStatus.OK)
    return TestResult(True, message)


def _get(connection_id: int) -> Connection:
    connection = Connection.objects.select_related("channel").filter(pk=connection_id).first()
    if connection is None:
        raise NotFound(_("Connection not found"))
    return connection


def connection_sync(
    *,
    connection_id: int,
    actor: User | None = None,
    kind: str = SyncRun.Kind.IMPORT,
    since: dt.datetime | None = None,
    http=None,
    max_pages: int | None = None,
    scheduled: bool = False,
) -> SyncRun:
    """One run now. A scheduled run of a switched-off connection is skipped; asked for by hand, it runs."""
    connection = _get(connection_id)
    if not connection.enabled and scheduled:
        return SyncRun.objects.create(
            connection=connection, kind=kind, outcome=SyncRun.Outcome.SKIPPED, finished_at=timezone.now()
        )
    connector = connector_for(connection, http=http)
    if kind == SyncRun.Kind.RECONCILE and since is None:
        since = timezone.now() - sync.RECONCILE_WINDOW
    return sync.run_import(connection, connector, kind=kind, since=since, max_pages=max_pages)


# --- webhooks ---------------------------------------------------------------------------------------------


@dataclass
class WebhookOutcome:
    status: int
    outcome: str  # accepted | duplicate | ping | rejected | unknown
    delivery_id: int | None = None


def webhook_receive(*, platform: str, token: str, headers: dict[str, str], body: bytes) -> WebhookOutcome:
    """Verify the signature on the raw body first: a bad one is answered 401 and stores nothing but a
    counter on the connection (no delivery row, no body). Then store the delivery under its unique id
    (a replay finds it and only counts a replay) and queue its processing after commit."""
    connection = (
        Connection.objects.select_related("channel").filter(webhook_token=token, platform=platform).first()
        if token
        else None
    )
    if connection is None:
        return WebhookOutcome(404, "unknown")
    if len(body) > MAX_WEBHOOK_BYTES:
        return WebhookOutcome(413, "too_large")
    try:
        connector = connector_for(connection)
        event = connector.verify_webhook(headers=headers, body=body)
    except (SignatureError, DomainError) as exc:
        Connection.objects.filter(pk=connection.pk).update(
            rejected_deliveries=F("rejected_deliveries") + 1, last_rejected_at=timezone.now()
        )
        security_log.warning("webhook refused: connection %s: %s", connection.pk, exc)
        return WebhookOutcome(401, "rejected")
    if event.ping:
        return WebhookOutcome(200, "ping")
    try:
        with transaction.atomic():
            delivery = WebhookDelivery.objects.create(
                connection=connection, delivery_id=event.delivery_id, topic=event.topic, body=body
            )
            transaction.on_commit(lambda: _enqueue_delivery(delivery.pk))
    except IntegrityError:
        WebhookDelivery.objects.filter(connection=connection, delivery_id=event.delivery_id).update(
            replays=F("replays") + 1
        )
        existing = (
            WebhookDelivery.objects.filter(connection=connection, delivery_id=event.delivery_id)
            .values_list("pk", flat=True)
            .first()
        )
        return WebhookOutcome(200, "duplicate", existing)
    return WebhookOutcome(202, "accepted", delivery.pk)


def _enqueue_delivery(delivery_id: int) -> None:
    from .tasks import delivery_process_task

    delivery_process_task(delivery_id)


def delivery_process(*, delivery_id: int) -> WebhookDelivery | None:
    """Take a stored delivery in. The order intake and the delivery's "processed" mark are one transaction:
    a crash or a second worker run re-does nothing (processed deliveries are skipped under the row lock)."""
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update()
            .select_related("connection__channel")
            .filter(pk=delivery_id)
            .first()
        )
        if delivery is None or delivery.state in (
            WebhookDelivery.State.PROCESSED,
            WebhookDelivery.State.IGNORED,
        ):
            return delivery
        connection = delivery.connection
        now = timezone.now()
        try:
            connector = connector_for(connection)
            payloads = connector.webhook_orders(topic=delivery.topic, body=bytes(delivery.body))
            if not payloads:
                delivery.state, delivery.processed_at, delivery.error = WebhookDelivery.State.IGNORED, now, ""
                delivery.save(update_fields=["state", "processed_at", "error"])
                return delivery
            items = [connector.map_order(p) for p in payloads]
            with transaction.atomic():
                tally = sync.ingest_mapped(connection, items, keep_errors=False)
                if tally.errors:
                    raise DomainError("; ".join(tally.error_messages))
        except (DomainError, PayloadError, ValueError, KeyError, TypeError, AttributeError) as exc:
            message = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
            delivery.state, delivery.error, delivery.processed_at = WebhookDelivery.State.FAILED, message, now
            delivery.save(update_fields=["state", "error", "processed_at"])
            return delivery
        delivery.state, delivery.error, delivery.processed_at = WebhookDelivery.State.PROCESSED, "", now
        delivery.save(update_fields=["state", "error", "processed_at"])
    return delivery


def delivery_retry(*, delivery_id: int, actor: User | None) -> WebhookDelivery:
    delivery = WebhookDelivery.objects.filter(pk=delivery_id).first()
    if delivery is None:
        raise NotFound(_("Delivery not found"))
    if delivery.state != WebhookDelivery.State.FAILED:
        raise DomainError(_("Only a failed delivery can be retried"), code="not_failed")
    return delivery_process(delivery_id=delivery_id) or delivery


# --- errors -------------------------------------------------------------------------------------------------


def sync_error_retry(*, error_id: int, actor: User | None, http=None) -> SyncError:
    """Map and take in the kept payload again. An error without a single order (an unreadable page) runs a
    reconciliation of the window the page belonged to instead."""
    error = SyncError.objects.select_related("connection__channel", "run").filter(pk=error_id).first()
    if error is None:
        raise NotFound(_("Error not found"))
    if error.state != SyncError.State.OPEN:
        raise DomainError(_("This error is already resolved"), code="resolved")
    if error.external_id.startswith("sku:"):  # a stock or price push (integrations.push)
        _push_error_retry(error, http=http)
        error.refresh_from_db()
        return error
    connection = error.connection
    connector = connector_for(connection, http=http)
    if not error.external_id:
        # From where the failed run started (no cursor then: from the first import window, or everything).
        since = _cursor_time(error.run.cursor_before if error.run else "") or connection.first_import_since
        run = sync.run_import(connection, connector, kind=SyncRun.Kind.RECONCILE, since=since)
        ok = run.outcome == SyncRun.Outcome.OK
        message = run.error or (_("Reconciliation still had errors") if not ok else "")
    else:
        try:
            mapped = connector.map_order(json.loads(error.payload))
            with transaction.atomic():
                tally = sync.ingest_mapped(connection, [mapped], keep_errors=False)
            ok, message = not tally.errors, "; ".join(tally.error_messages)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            ok, message = False, f"{type(exc).__name__}: {exc}"
    now = timezone.now()
    if ok:
        SyncError.objects.filter(pk=error.pk).update(state=SyncError.State.RESOLVED, resolved_at=now)
    else:
        SyncError.objects.filter(pk=error.pk).update(
            attempts=F("attempts") + 1, message=message[:5000], at=now
        )
    error.refresh_from_db()
    return error


def _cursor_time(cursor: str) -> dt.datetime | None:
    head = (cursor or "").split("#")[0]
    if not head:
        return None
    try:
        value = dt.datetime.fromisoformat(head)
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


# --- pushing back -------------------------------------------------------------------------------------------


def order_push_status(*, order_id: int, actor: User | None = None, http=None) -> str:
    """Set the platform's status of an order from its stage here. Returns the status pushed ("" when the
    stage has no platform counterpart or it was pushed already)."""
    order = Order.objects.select_related("channel").filter(pk=order_id).first()
    if order is None:
        raise NotFound(_("Order not found"))
    connection = Connection.objects.select_related("channel").filter(channel=order.channel).first()
    if connection is None:
        raise DomainError(_("The order's channel has no connection"), code="no_connection")
    external = ExternalOrder.objects.filter(connection=connection, external_id=order.external_id).first()
    connector = connector_for(connection, http=http)
    try:
        pushed = connector.push_status(external_id=order.external_id, stage=order.stage)
    except AuthFailed as exc:
        sync.connection_auth_failed(connection, str(exc))
        raise DomainError(str(exc), code="auth_failed") from None
    except ConnectorError as exc:
        raise DomainError(str(exc), code="platform_error") from None
    if pushed and external is not None:
        # What we set is now the platform's status: the next import must not treat it as a change.
        ExternalOrder.objects.filter(pk=external.pk).update(pushed_status=pushed, platform_status=pushed)
    return pushed


def order_push_tracking(
    *, order_id: int, carrier: str, tracking_number: str, url: str = "", actor: User | None = None, http=None
) -> bool:
    """Send a tracking number once per order and number (a repeat is a no-op: nothing is sent twice)."""
    order = Order.objects.select_related("channel").filter(pk=order_id).first()
    if order is None:
        raise NotFound(_("Order not found"))
    connection = Connection.objects.select_related("channel").filter(channel=order.channel).first()
    if connection is None:
        raise DomainError(_("The order's channel has no connection"), code="no_connection")
    with transaction.atomic():
        external, _created = ExternalOrder.objects.get_or_create(
            connection=connection, external_id=order.external_id, defaults={"order_id": order.pk}
        )
        claimed = (
            ExternalOrder.objects.filter(pk=external.pk)
            .exclude(pushed_tracking=tracking_number)
            .update(pushed_tracking=tracking_number)
        )
    if not claimed:
        return False
    connector = connector_for(connection, http=http)
    try:
        connector.push_tracking(
            external_id=order.external_id, carrier=carrier, tracking_number=tracking_number, url=url
        )
    except ConnectorError as exc:
        ExternalOrder.objects.filter(pk=external.pk, pushed_tracking=tracking_number).update(
            pushed_tracking=""
        )
        if isinstance(exc, AuthFailed):
            sync.connection_auth_failed(connection, str(exc))
        raise DomainError(str(exc), code="platform_error") from None
    return True


def order_push_tracking_latest(*, order_id: int, http=None) -> bool:
    """Send the newest shipment's tracking number (from shipping, through "orders.shipments")."""
    from zaplecze.core import extensions

    shipments = []
    for provider in extensions.registered("orders.shipments").values():
        shipments.extend(provider([order_id]))
    tracked = [s for s in shipments if s.get("tracking_number")]
    if not tracked:
        return False
    newest = tracked[0]
    return order_push_tracking(
        order_id=order_id,
        carrier=newest.get("carrier", ""),
        tracking_number=newest["tracking_number"],
        url=newest.get("tracking_url") or "",
        http=http,
    )


def stock_push(*, connection_id: int, quantities: dict[str, int], http=None) -> dict[str, bool]:
    """Set stock on the platform for these SKUs; {sku: found and set}."""
    connection = _get(connection_id)
    connector = connector_for(connection, http=http)
    if not connector.supports_stock:
        raise DomainError(_("This platform does not take stock from us"), code="unsupported")
    return {sku: connector.push_stock(sku=sku, quantity=q) for sku, q in quantities.items()}


def price_push(
    *, connection_id: int, prices: dict[str, tuple[str, str | None]], http=None
) -> dict[str, bool]:
    """Set prices on the platform: {sku: (regular, sale or None)} -> {sku: found and set}."""
    connection = _get(connection_id)
    connector = connector_for(connection, http=http)
    if not connector.supports_prices:
        raise DomainError(_("This platform does not take prices from us"), code="unsupported")
    return {sku: connector.push_price(sku=sku, regular=r, sale=s) for sku, (r, s) in prices.items()}


def connection_push(
    *,
    connection_id: int,
    actor: User | None = None,
    all_skus: bool = False,
    scheduled: bool = False,
    max_batches: int | None = None,
    progress=None,
    http=None,
    now: dt.datetime | None = None,
) -> SyncRun:
    """Send the connection's pending stock and prices now (see `integrations.push`). `all_skus` first
    queues every SKU (those offered on the channel when it has offers) for stock and price: a full resync.
    `max_batches` bounds the run (the rest waits for the worker). A scheduled run of a switched-off
    connection is skipped; asked for by hand, it runs."""
    from . import push

    connection = _get(connection_id)
    if not connection.enabled and scheduled:
        return SyncRun.objects.create(
            connection=connection,
            kind=SyncRun.Kind.PUSH,
            outcome=SyncRun.Outcome.SKIPPED,
            finished_at=timezone.now(),
        )
    connector = connector_for(connection, http=http)
    if not (connector.supports_stock or connector.supports_prices):
        raise DomainError(_("This platform does not take stock or prices from us"), code="unsupported")
    if all_skus:
        queued = push.pending_add(None, whats=(push.STOCK, push.PRICE), connections=[connection])
        if actor is not None:
            audit_record(
                obj_type="integrations.connection",
                obj_id=connection.pk,
                action="push_all",
                actor=actor,
                changes={"queued": [None, queued]},
            )
    return push.push_drain(connection, connector, now=now, max_batches=max_batches, progress=progress)


def _push_error_retry(error: SyncError, *, http=None) -> None:
    """Queue the SKU of a kept push error again (stock and price) and push the connection's due rows."""
    from zaplecze.catalog.models import Variant

    from . import push

    sku = error.external_id.removeprefix("sku:")
    variant = Variant.objects.filter(sku=sku).first()
    if variant is None:
        SyncError.objects.filter(pk=error.pk).update(
            attempts=F("attempts") + 1,
            message=_("%(sku)s: no such SKU here any more") % {"sku": sku},
            at=timezone.now(),
        )
        return
    connection = error.connection
    push.pending_add([variant.pk], whats=(push.STOCK, push.PRICE), connections=[connection])
    push.push_drain(connection, connector_for(connection, http=http))


# --- health -------------------------------------------------------------------------------------------------


def connections_stale_alert(*, stale_after: dt.timedelta, now: dt.datetime | None = None) -> list[int]:
    """Alert (once a day per connection) about enabled connections whose last successful sync is older than
    `stale_after` (or that never synced and were created before that). Returns the connection ids alerted."""
    now = now or timezone.now()
    limit = now - stale_after
    alerted = []
    stale = (
        Connection.objects.select_related("channel").filter(enabled=True).exclude(last_success_at__gte=limit)
    )
    for connection in stale:
        if connection.last_success_at is None and connection.created_at >= limit:
            continue
        minutes = int((now - (connection.last_success_at or connection.created_at)).total_seconds() // 60)
        queued = sync.alert(
            key=f"integrations:stale:{connection.pk}:{now:%Y%m%d}",
            subject=lambda c=connection: sync._alert_subject(c, "stale"),
            body=lambda c=connection, m=minutes: sync._alert_body(
                c,
                _("no successful sync for %(minutes)s minutes. Last error: %(error)s")
                % {"minutes": m, "error": c.last_error or "—"},
            ),
        )
        alerted.append(connection.pk)
        log.info("connection %s stale for %s min (%s e-mails)", connection.pk, minutes, queued)
    return alerted


ERROR_JUMP_MIN = 10  # errors in the last hour before a jump can alert at all
ERROR_JUMP_FACTOR = 5  # ... and this many times the hourly average of the 24 hours before


def connections_error_jump_alert(*, now: dt.datetime | None = None) -> list[int]:
    """Alert (once per connection per hour) when the last hour's errors — kept sync errors and failed
    webhook deliveries — jump above both ERROR_JUMP_MIN and ERROR_JUMP_FACTOR × the previous day's hourly
    average. Returns the connection ids alerted."""
    from django.db.models import Count, Q

    now = now or timezone.now()
    hour, day = now - dt.timedelta(hours=1), now - dt.timedelta(hours=25)
    alerted = []
    rows = (
        Connection.objects.select_related("channel")
        .filter(enabled=True)
        .annotate(
            errors_hour=Count("sync_errors", filter=Q(sync_errors__at__gte=hour), distinct=True),
            errors_day=Count(
                "sync_errors", filter=Q(sync_errors__at__gte=day, sync_errors__at__lt=hour), distinct=True
            ),
        )
    )
    failed = {
        row["connection_id"]: row
        for row in WebhookDelivery.objects.filter(state=WebhookDelivery.State.FAILED, received_at__gte=day)
        .values("connection_id")
        .annotate(
            hour=Count("id", filter=Q(received_at__gte=hour)), day=Count("id", filter=Q(received_at__lt=hour))
        )
    }
    for c in rows:
        f = failed.get(c.pk, {})
        last_hour = c.errors_hour + f.get("hour", 0)
        average = (c.errors_day + f.get("day", 0)) / 24
        if last_hour < ERROR_JUMP_MIN or last_hour < ERROR_JUMP_FACTOR * average:
            continue
        sync.alert(
            key=f"integrations:errors:{c.pk}:{now:%Y%m%d%H}",
            subject=lambda c=c: _("%(channel)s: sync errors jumped") % {"channel": c.channel.name},
            body=lambda c=c, n=last_hour, a=average: sync._alert_body(
                c,
                _("%(n)s errors in the last hour (the day before: %(avg).1f an hour).") % {"n": n, "avg": a},
            ),
        )
        alerted.append(c.pk)
    return alerted


# --- Allegro: authorization by the OAuth device flow ----------------------------------------------------


def _allegro_connector(connection_id: int, http=None):
    connection = _get(connection_id)
    if connection.platform != Platform.ALLEGRO:
        raise DomainError(_("Only Allegro connections are authorized with a device code"), code="not_allegro")
    return connection, connector_for(connection, http=http)


def _allegro_failure(exc: ConnectorError) -> DomainError:
    if isinstance(exc, AuthFailed):
        return DomainError(
            _("Allegro refused the client ID and secret: check them in the connection's settings"),
            code="auth_failed",
        )
    return DomainError(_("Allegro could not be reached: %(e)s") % {"e": exc}, code="platform_error")


def connection_authorize_start(*, connection_id: int, actor: User | None, http=None):
    """Ask Allegro for a device code; the organiser opens the verification address, logs in to Allegro and
    confirms the code. The code and its device code are kept with the credentials (encrypted) until
    `connection_authorize_check` finds it confirmed, refused or expired."""
    from .connectors.allegro import authorization_state, ordered

    connection, connector = _allegro_connector(connection_id, http)
    try:
        answer = connector.device_start()
    except ConnectorError as exc:
        raise _allegro_failure(exc) from None
    expires = timezone.now() + dt.timedelta(seconds=int(answer.get("expires_in") or 3600))
    values = ordered({k: v for k, v in connector.credentials.items() if not k.startswith("device_")})
    values.update(
        device_code=str(answer["device_code"]),
        device_user_code=str(answer["user_code"]),
        device_uri=str(answer["verification_uri"]),
        device_uri_complete=str(answer.get("verification_uri_complete") or answer["verification_uri"]),
        device_expires_at=expires.isoformat(timespec="seconds"),
        device_interval=str(int(answer.get("interval") or 5)),
    )
    connection_credentials_renewed(connection.pk, values)
    audit_record(
        obj_type="integrations.connection",
        obj_id=connection.pk,
        action="authorization_started",
        actor=actor,
        changes={},
    )
    return authorization_state(values)


def connection_authorize_check(*, connection_id: int, actor: User | None, http=None):
    """Ask Allegro once whether the code was confirmed (never more often than the interval it set).
    Returns the state: pending, granted (tokens stored), denied or expired (the code is dropped)."""
    from .connectors.allegro import authorization_state, ordered

    connection, connector = _allegro_connector(connection_id, http)
    values = ordered(dict(connector.credentials))
    state = authorization_state(values)
    if state.state != "pending":
        raise DomainError(_("Start the authorization on Allegro first"), code="not_started")
    now = timezone.now()
    base = ordered({k: v for k, v in values.items() if not k.startswith("device_")})
    if state.expires_at is not None and now >= state.expires_at:
        connection_credentials_renewed(connection.pk, base)
        return _replace(authorization_state(base), state="expired")
    polled = values.get("device_polled_at")
    if polled and now < dt.datetime.fromisoformat(polled) + dt.timedelta(seconds=state.interval):
        return state
    try:
        result = connector.device_poll(values["device_code"])
    except ConnectorError as exc:
        raise _allegro_failure(exc) from None
    if result.state == "granted":
        connection_credentials_renewed(connection.pk, result.values)
        Connection.objects.filter(
            pk=connection.pk, status__in=[ConnectionStatus.AUTH_FAILED, ConnectionStatus.NEW]
        ).update(status=ConnectionStatus.NEW, last_error="")
        audit_record(
            obj_type="integrations.connection",
            obj_id=connection.pk,
            action="authorized",
            actor=actor,
            changes={"credentials": ["••••", "••••"]},
        )
        return _replace(authorization_state(result.values), state="granted")
    if result.state in ("pending", "slow_down"):
        values["device_polled_at"] = now.isoformat(timespec="seconds")
        if result.state == "slow_down":
            values["device_interval"] = str(state.interval + 5)
        connection_credentials_renewed(connection.pk, values)
        return authorization_state(values)
    connection_credentials_renewed(connection.pk, base)
    return _replace(authorization_state(base), state=result.state, message=result.message)


def _replace(obj, **changes):
    from dataclasses import replace

    return replace(obj, **changes)
