"""Integrations API (mounted at /api/v1/integrations). Thin: validation and orchestration; writes go through
integrations.services. Credentials go in and are never returned (only "•••• last 4").

Routes:
  GET    /connections                               every connection with its health
  POST   /connections                               connect a channel
  GET    /connections/{connection_id}               one connection with its health
  PATCH  /connections/{connection_id}               address, on/off, new credentials
  POST   /connections/{connection_id}/test          one authenticated call to the platform
  POST   /connections/{connection_id}/sync          run an import now (or a re-read from `since`)
  POST   /connections/{connection_id}/push          push pending stock and prices now (`all`: every SKU)
  GET    /connections/{connection_id}/runs          the run log
  GET    /connections/{connection_id}/errors        kept errors with their payload
  POST   /errors/{error_id}/retry                   take a kept payload in again
  POST   /connections/{connection_id}/authorize     Allegro: start the device-code authorization
  POST   /connections/{connection_id}/authorize/check   Allegro: has the code been confirmed?
"""

import datetime as dt
from typing import Literal

from ninja import Path, Router, Schema, Status
from pydantic import Field

from zaplecze.api.permissions import allow
from zaplecze.api.schemas import Id, In, errors, text

from . import selectors, services
from .models import SyncRun

router = Router()
PERMISSION = "settings.integrations"
API_PUSH_BATCHES = 5  # x integrations.push.BATCH SKUs pushed inside one API request


class ConnectionOut(Schema):
    id: int
    channel: str
    platform: str
    base_url: str
    enabled: bool
    status: str
    credentials: str = Field(description='"•••• last 4" — the stored values are never returned')
    cursor: str
    last_success_at: dt.datetime | None
    lag_minutes: int | None
    last_error: str
    imported_today: int
    open_errors: int
    deliveries_accepted: int
    deliveries_rejected: int
    deliveries_duplicate: int
    deliveries_failed: int
    webhook_path: str


def _out(h: selectors.ConnectionHealth) -> dict:
    c = h.connection
    return {
        "id": c.pk,
        "channel": c.channel.code,
        "platform": c.platform,
        "base_url": c.base_url,
        "enabled": c.enabled,
        "status": c.status,
        "credentials": c.credentials_hint or "••••",
        "cursor": c.cursor,
        "last_success_at": c.last_success_at,
        "lag_minutes": h.lag_minutes,
        "last_error": c.last_error,
        "imported_today": h.imported_today,
        "open_errors": h.open_errors,
        "deliveries_accepted": h.deliveries_accepted,
        "deliveries_rejected": h.deliveries_rejected,
        "deliveries_duplicate": h.deliveries_duplicate,
        "deliveries_failed": h.deliveries_failed,
        "webhook_path": f"/hooks/{c.platform}/{c.webhook_token}/",
    }


class CredentialsIn(In):
    consumer_key: text(500) = ""
    consumer_secret: text(500) = ""
    webhook_secret: text(500) = ""
    access_token: text(500) = ""
    client_id: text(500) = ""
    client_secret: text(500) = ""


class ConnectionIn(In):
    channel: text(40, 1)
    platform: Literal["woocommerce", "shopify", "prestashop", "allegro"]
    base_url: text(300, 1)
    credentials: CredentialsIn
    first_import_since: dt.datetime | None = Field(None, description="Empty: every order")
    enabled: bool = True


class ConnectionPatch(In):
    base_url: text(300, 1) | None = None
    enabled: bool | None = None
    credentials: CredentialsIn | None = Field(None, description="Only the fields given are replaced")


class EmptyIn(In):
    pass


class SyncIn(In):
    since: dt.datetime | None = Field(
        None, description="Read again from here (a reconciliation); empty: import from the cursor"
    )


class PushIn(In):
    all: bool = Field(False, description="Queue every SKU first (a full resync of stock and prices)")


class TestOut(Schema):
    ok: bool
    message: str


class RunOut(Schema):
    id: int
    kind: str
    outcome: str
    started_at: dt.datetime
    finished_at: dt.datetime | None
    pages: int
    fetched: int
    created: int
    updated: int
    unchanged: int
    errors: int
    error: str
    cursor_before: str
    cursor_after: str


class ErrorOut(Schema):
    id: int
    connection_id: int
    at: dt.datetime
    external_id: str
    message: str
    payload: str
    state: str
    attempts: int


def _creds(c: CredentialsIn | None) -> dict[str, str]:
    return {k: v for k, v in (c.model_dump() if c else {}).items() if v}


@router.get(
    "/connections", response={200: list[ConnectionOut], **errors(422)}, summary="Connections with health"
)
@allow(PERMISSION)
def list_connections(request):
    return [_out(h) for h in selectors.connections_health()]


@router.post("/connections", response={201: ConnectionOut, **errors(400, 422)}, summary="Connect a channel")
@allow(PERMISSION)
def create_connection(request, payload: ConnectionIn):
    c = services.connection_create(
        channel_code=payload.channel,
        platform=payload.platform,
        base_url=payload.base_url,
        credentials=_creds(payload.credentials),
        first_import_since=payload.first_import_since,
        enabled=payload.enabled,
        actor=request.auth,
    )
    return Status(201, _out(selectors.connection_health(c.pk)))


@router.get(
    "/connections/{int:connection_id}",
    response={200: ConnectionOut, **errors(404, 422)},
    summary="One connection",
)
@allow(PERMISSION)
def get_connection(request, connection_id: Path[Id]):
    return _out(selectors.connection_health(connection_id))


@router.patch(
    "/connections/{int:connection_id}",
    response={200: ConnectionOut, **errors(400, 404, 422)},
    summary="Change a connection",
)
@allow(PERMISSION)
def patch_connection(request, connection_id: Path[Id], payload: ConnectionPatch):
    services.connection_update(
        connection_id=connection_id,
        base_url=payload.base_url,
        enabled=payload.enabled,
        credentials=_creds(payload.credentials),
        actor=request.auth,
    )
    return _out(selectors.connection_health(connection_id))


@router.post(
    "/connections/{int:connection_id}/test",
    response={200: TestOut, **errors(400, 404, 422)},
    summary="Test a connection",
)
@allow(PERMISSION)
def test_connection(request, connection_id: Path[Id], payload: EmptyIn):
    result = services.connection_test(connection_id=connection_id, actor=request.auth)
    return {"ok": result.ok, "message": result.message}


@router.post(
    "/connections/{int:connection_id}/sync",
    response={200: RunOut, **errors(400, 404, 409, 422)},
    summary="Sync now (runs in the request; returns the run)",
)
@allow(PERMISSION)
def sync_connection(request, connection_id: Path[Id], payload: SyncIn):
    kind = SyncRun.Kind.RECONCILE if payload.since else SyncRun.Kind.IMPORT
    return services.connection_sync(
        connection_id=connection_id, kind=kind, since=payload.since, actor=request.auth
    )


@router.post(
    "/connections/{int:connection_id}/push",
    response={200: RunOut, **errors(400, 404, 422)},
    summary="Push stock and prices now (up to 1,000 SKUs in the request, the rest by the worker)",
)
@allow(PERMISSION)
def push_connection(request, connection_id: Path[Id], payload: PushIn):
    return services.connection_push(
        connection_id=connection_id, all_skus=payload.all, actor=request.auth, max_batches=API_PUSH_BATCHES
    )


@router.get(
    "/connections/{int:connection_id}/runs",
    response={200: list[RunOut], **errors(404, 422)},
    summary="Run log (newest first, 200)",
)
@allow(PERMISSION)
def list_runs(request, connection_id: Path[Id]):
    selectors.connection_get(connection_id)
    return list(selectors.runs(connection_id)[:200])


@router.get(
    "/connections/{int:connection_id}/errors",
    response={200: list[ErrorOut], **errors(404, 422)},
    summary="Open errors with their payload",
)
@allow(PERMISSION)
def list_errors(request, connection_id: Path[Id]):
    selectors.connection_get(connection_id)
    return list(selectors.sync_errors(connection_id)[:200])


@router.post(
    "/errors/{int:error_id}/retry",
    response={200: ErrorOut, **errors(400, 404, 422)},
    summary="Retry a kept error",
)
@allow(PERMISSION)
def retry_error(request, error_id: Path[Id], payload: EmptyIn):
    return services.sync_error_retry(error_id=error_id, actor=request.auth)


# --- Allegro: authorization by device code --------------------------------------------------------------


class AuthorizationOut(Schema):
    state: str = Field(description="none | pending | authorized | granted | denied | expired")
    user_code: str = Field("", description="While pending: the code to confirm on Allegro")
    verification_uri: str = ""
    verification_uri_complete: str = Field("", description="The address with the code filled in")
    expires_at: dt.datetime | None = Field(None, description="While pending: when the code expires")
    interval: int = Field(5, description="Seconds to wait between checks")
    token_expires_at: dt.datetime | None = None
    message: str = ""


@router.post(
    "/connections/{int:connection_id}/authorize",
    response={200: AuthorizationOut, **errors(400, 404, 422)},
    summary="Allegro: start the authorization (device code)",
)
@allow(PERMISSION)
def authorize_connection(request, connection_id: Path[Id], payload: EmptyIn):
    return services.connection_authorize_start(connection_id=connection_id, actor=request.auth)


@router.post(
    "/connections/{int:connection_id}/authorize/check",
    response={200: AuthorizationOut, **errors(400, 404, 422)},
    summary="Allegro: check whether the code was confirmed",
)
@allow(PERMISSION)
def check_authorization(request, connection_id: Path[Id], payload: EmptyIn):
    return services.connection_authorize_check(connection_id=connection_id, actor=request.auth)
