"""Storefront monitoring API (mounted at /api/v1/monitoring). Thin: the same services as the Shop health page
and the `zaplecze monitor` command.

Routes:
  GET    /checks                                  checks with state and uptime (24h, 7d, 30d)
  POST   /checks                                  create a check
  GET    /checks/{id}                             one check
  PATCH  /checks/{id}                             change some fields of a check
  DELETE /checks/{id}                             delete a check with its results and incidents
  POST   /checks/{id}/run                         run the check now; returns the result
  GET    /checks/{id}/results?since=&failed=&limit=   the check's results, newest first
  GET    /incidents?state=&check=&kind=           incidents, open first
  POST   /incidents/{id}/ticket                   open an IT ticket for the incident
  POST   /incidents/{id}/close                    close an incident by hand
"""

import datetime as dt
from decimal import Decimal
from typing import Literal

from ninja import Query, Router, Schema, Status
from pydantic import Field

from zaplecze.api.permissions import allow
from zaplecze.api.schemas import NO_BODY, Id, In, errors, text

from . import selectors, services
from .models import CheckKind, CheckResult, Incident, IncidentKind, IncidentState, StorefrontCheck

router = Router()


class CheckOut(Schema):
    id: int
    name: str
    url: str
    kind: str
    expected_text: str
    expected_status: int
    interval_minutes: int
    timeout_seconds: int
    confirm_failures: int
    tls_warning_days: int
    verify_tls: bool
    enabled: bool
    state: str = Field(description="pending, up, failing, down, warning or paused")
    last_checked_at: dt.datetime | None
    last_response_ms: int | None
    last_error: str
    tls_days_left: int | None
    consecutive_failures: int
    next_run_at: dt.datetime | None
    uptime: dict[str, Decimal | None] = Field(
        default_factory=dict, description="Uptime % over 24h, 7d and 30d (successful / all results)"
    )


def _out(check: StorefrontCheck, uptime: dict | None = None) -> CheckOut:
    data = {f: getattr(check, f) for f in CheckOut.model_fields if f not in ("id", "uptime")}
    return CheckOut(id=check.pk, uptime=uptime or dict.fromkeys(selectors.WINDOWS), **data)


class CheckIn(In):
    """Ranges are checked by the service (400 with the field): interval 1–1440 min, timeout 1–30 s,
    expected status 100–599, failures before an incident 1–10, TLS warning 0–365 days."""

    name: text(200)
    url: text(600)
    kind: Literal[tuple(CheckKind.values)] = CheckKind.OTHER  # type: ignore[valid-type]
    expected_text: text(300) = ""
    expected_status: int = 200
    interval_minutes: int = 5
    timeout_seconds: int = 10
    confirm_failures: int = 2
    tls_warning_days: int = 14
    verify_tls: bool = True
    enabled: bool = True


class CheckPatch(In):
    name: text(200) | None = None
    url: text(600) | None = None
    kind: Literal[tuple(CheckKind.values)] | None = None  # type: ignore[valid-type]
    expected_text: text(300) | None = None
    expected_status: int | None = None
    interval_minutes: int | None = None
    timeout_seconds: int | None = None
    confirm_failures: int | None = None
    tls_warning_days: int | None = None
    verify_tls: bool | None = None
    enabled: bool | None = None


class ResultOut(Schema):
    id: int
    check_id: int = Field(validation_alias="check_ref_id")
    at: dt.datetime
    ok: bool
    status_code: int | None
    response_ms: int | None
    error: str
    tls_days: int | None


class IncidentOut(Schema):
    id: int
    check_id: int = Field(validation_alias="check_ref_id")
    check_name: str
    kind: str
    state: str
    opened_at: dt.datetime
    closed_at: dt.datetime | None
    cause: str
    close_note: str
    failures: int
    first_failing_result_id: int | None
    last_failing_result_id: int | None
    notified_open_at: dt.datetime | None
    notified_close_at: dt.datetime | None
    ticket_id: int | None

    @staticmethod
    def resolve_check_name(obj: Incident) -> str:
        return obj.check_ref.name


class ResultsQuery(In):
    since: dt.datetime | None = Field(None, description="Only results after this time (ISO 8601)")
    failed: bool = Field(False, description="Only failed results")
    limit: int = Field(200, ge=1, le=5000)


class IncidentsQuery(In):
    state: Literal[tuple(IncidentState.values)] | None = None  # type: ignore[valid-type]
    kind: Literal[tuple(IncidentKind.values)] | None = None  # type: ignore[valid-type]
    check: Id | None = Field(None, description="A check id")
    limit: int = Field(200, ge=1, le=1000)


class CloseIn(In):
    note: text(300) = ""


@router.get("/checks", response={200: list[CheckOut], **errors()}, summary="Storefront checks")
@allow("monitoring.view")
def checks(request):
    return [_out(row.check, row.uptime) for row in selectors.checks_overview()]


@router.post("/checks", response={201: CheckOut, **errors(400, 422)}, summary="Create a check")
@allow("monitoring.manage")
def check_create(request, payload: CheckIn):
    return Status(201, _out(services.check_create(values=payload.model_dump(), actor=request.auth)))


@router.get("/checks/{check_id}", response={200: CheckOut, **errors(404, 422)}, summary="One check")
@allow("monitoring.view")
def check_detail(request, check_id: Id):
    check = selectors.check_get(check_id)
    return _out(check, selectors.uptimes([check.pk]).get(check.pk))


@router.patch(
    "/checks/{check_id}", response={200: CheckOut, **errors(400, 404, 422)}, summary="Change a check"
)
@allow("monitoring.manage")
def check_update(request, check_id: Id, payload: CheckPatch):
    values = payload.model_dump(exclude_unset=True)
    check = services.check_update(check_id=check_id, values=values, actor=request.auth)
    return _out(check, selectors.uptimes([check.pk]).get(check.pk))


@router.delete("/checks/{check_id}", response={204: None, **errors(404, 422)}, summary="Delete a check")
@allow("monitoring.manage")
def check_delete(request, check_id: Id):
    services.check_delete(check_id=check_id, actor=request.auth)
    return Status(204, None)


@router.post(
    "/checks/{check_id}/run",
    response={200: ResultOut, **errors(404, 422)},
    summary="Run a check now",
    openapi_extra=NO_BODY,
)
@allow("monitoring.manage")
def check_run(request, check_id: Id):
    """Probes the page now (bounded by the check's timeout) and records the result like a scheduled run:
    it counts towards incidents and uptime."""
    return services.check_run(check_id=check_id, actor=request.auth)


@router.get(
    "/checks/{check_id}/results", response={200: list[ResultOut], **errors(404, 422)}, summary="Results"
)
@allow("monitoring.view")
def check_results(request, check_id: Id, query: Query[ResultsQuery]):
    selectors.check_get(check_id)
    qs: list[CheckResult] = list(
        selectors.results(check_id, since=query.since, failed_only=query.failed)[: query.limit]
    )
    return qs


@router.get("/incidents", response={200: list[IncidentOut], **errors(422)}, summary="Incidents")
@allow("monitoring.view")
def incidents(request, query: Query[IncidentsQuery]):
    return list(
        selectors.incidents(state=query.state or "", check_id=query.check, kind=query.kind or "")[
            : query.limit
        ]
    )


@router.post(
    "/incidents/{incident_id}/ticket",
    response={200: IncidentOut, **errors(404, 409, 422)},
    summary="Open an IT ticket",
    openapi_extra=NO_BODY,
)
@allow("monitoring.manage")
def incident_ticket(request, incident_id: Id):
    """Opens a ticket in the IT queue of customer service (tagged "monitoring") and links it. 409 when the
    incident already has one (`details.ticket_id`)."""
    services.incident_open_ticket(incident_id=incident_id, actor=request.auth)
    return selectors.incident_get(incident_id)


@router.post(
    "/incidents/{incident_id}/close",
    response={200: IncidentOut, **errors(404, 409, 422)},
    summary="Close an incident",
)
@allow("monitoring.manage")
def incident_close(request, incident_id: Id, payload: CloseIn):
    services.incident_close(incident_id=incident_id, actor=request.auth, note=payload.note)
    return selectors.incident_get(incident_id)
