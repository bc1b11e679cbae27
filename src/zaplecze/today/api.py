"""Today API (mounted at /api/v1/today): the same exceptions as the page. Thin.

Routes:
  GET  /?owner=all|mine|role&area=&kind=&show=open|snoozed|resolved   exceptions, most urgent first
  GET  /history?days=30                                               opened/resolved per day, time to resolve
  POST /{id}/snooze      {"until": "2026-11-28T08:00:00+01:00"}
  POST /{id}/resolve     {"note": "called the customer"}
  POST /{id}/assign      {"user_id": 3} (null: back to the role)
  POST /{id}/act/{code}  a quick action of the exception's kind
"""

import datetime as dt
from typing import Literal

from django.utils.translation import gettext as _
from ninja import Query, Router, Schema
from pydantic import Field

from zaplecze.api.permissions import allow
from zaplecze.api.schemas import NO_BODY, In, errors, text
from zaplecze.core import today as registry
from zaplecze.core.errors import NotFound, PermissionDenied
from zaplecze.core.permissions import user_has

from . import selectors, services
from .models import OpsException
from .templatetags.today import exc_label, exc_why

router = Router()


class ListQuery(Schema):
    owner: Literal["all", "mine", "role"] = "all"
    area: str = Field("", max_length=30)
    kind: str = Field("", max_length=60)
    show: Literal["open", "snoozed", "resolved"] = "open"
    limit: int = Field(500, ge=1, le=5000)


class ExceptionOut(Schema):
    id: int
    kind: str
    area: str
    severity: str
    subject_type: str
    subject_id: int
    label: str
    why: str
    url: str
    due_at: dt.datetime | None
    owner_role: str
    owner_id: int | None
    state: str
    snoozed_until: dt.datetime | None
    opened_at: dt.datetime
    resolved_at: dt.datetime | None
    note: str


def out(e: OpsException) -> dict:
    return {
        "id": e.pk, "kind": e.kind, "area": e.area, "severity": e.severity, "subject_type": e.subject_type,
        "subject_id": e.subject_id, "label": exc_label(e), "why": exc_why(e), "url": e.url, "due_at": e.due_at,
        "owner_role": e.owner_role, "owner_id": e.owner_id, "state": e.state, "snoozed_until": e.snoozed_until,
        "opened_at": e.opened_at, "resolved_at": e.resolved_at, "note": e.note,
    }  # fmt: skip


def _visible(request, exception_id: int) -> OpsException:
    row = OpsException.objects.filter(pk=exception_id).first()
    if row is None:
        raise NotFound(_("No such exception"))
    kind = registry.kinds().get(row.kind)
    if kind is None or not user_has(request.auth, kind.permission):
        raise PermissionDenied(_("You may not see this exception"))
    return row


@router.get("/", response={200: list[ExceptionOut], **errors(422)}, summary="Exceptions needing someone")
@allow("dashboard.view")
def list_exceptions(request, q: Query[ListQuery]):
    f = selectors.TodayFilter(owner=q.owner, area=q.area, kind=q.kind, show=q.show)
    return [out(e) for e in selectors.exceptions_list(request.auth, f, limit=q.limit)]


@router.get("/history", response={200: dict, **errors(422)}, summary="Exceptions opened and resolved per day")
@allow("dashboard.view")
def history(request, days: int = Query(30, ge=7, le=365)):
    return selectors.history(days=days)


class SnoozeIn(In):
    until: dt.datetime


class ResolveIn(In):
    note: text(500, 1)


class AssignIn(In):
    user_id: int | None = None


@router.post(
    "/{int:exception_id}/snooze", response={200: ExceptionOut, **errors(400, 404, 422)}, summary="Snooze"
)
@allow("dashboard.view")
def snooze(request, exception_id: int, body: SnoozeIn):
    row = _visible(request, exception_id)
    return out(services.exception_snooze(exception_id=row.pk, until=body.until, actor=request.auth))


@router.post(
    "/{int:exception_id}/resolve",
    response={200: ExceptionOut, **errors(400, 404, 422)},
    summary="Resolve by hand",
)
@allow("dashboard.view")
def resolve(request, exception_id: int, body: ResolveIn):
    row = _visible(request, exception_id)
    return out(services.exception_resolve(exception_id=row.pk, note=body.note, actor=request.auth))


@router.post(
    "/{int:exception_id}/assign", response={200: ExceptionOut, **errors(400, 404, 422)}, summary="Assign"
)
@allow("dashboard.view")
def assign(request, exception_id: int, body: AssignIn):
    row = _visible(request, exception_id)
    return out(services.exception_assign(exception_id=row.pk, user_id=body.user_id, actor=request.auth))


@router.post(
    "/{int:exception_id}/act/{action}",
    response={200: dict, **errors(400, 404, 422)},
    summary="Run a quick action",
    openapi_extra=NO_BODY,
)
@allow("dashboard.view")
def act(request, exception_id: int, action: str):
    row = _visible(request, exception_id)
    message = services.exception_act(exception_id=row.pk, action=action[:40], actor=request.auth)
    return {"message": message}
