"""The caller's own things: who am I, my API tokens, my background jobs. Nobody sees another user's tokens;
jobs are visible to their owner and to administrators (core.selectors.access_job)."""

import datetime as dt
from typing import Any

from ninja import Path, Router, Schema, Status

from zaplecze.core import selectors, services
from zaplecze.core.permissions import PERMISSIONS, user_has

from .permissions import allow
from .schemas import Id, errors

router = Router()


class MeOut(Schema):
    id: int
    username: str
    role: str
    language: str
    permissions: list[str]

    @staticmethod
    def resolve_permissions(obj) -> list[str]:
        return sorted(p for p in PERMISSIONS if user_has(obj, p))


class TokenOut(Schema):
    id: int
    name: str
    prefix: str
    created_at: dt.datetime
    last_used_at: dt.datetime | None


class JobOut(Schema):
    id: int
    kind: str
    state: str
    title: str
    progress_done: int
    progress_total: int | None
    percent: int | None
    result: dict[str, Any]
    error: str
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None


@router.get("/me", response={200: MeOut, **errors()}, summary="The user the token belongs to")
@allow("dashboard.view")
def me(request):
    return request.auth


@router.get("/tokens", response={200: list[TokenOut], **errors()}, summary="My active API tokens")
@allow("dashboard.view")
def list_tokens(request):
    return list(selectors.tokens_for(request.auth))


@router.delete(
    "/tokens/{int:token_id}", response={204: None, **errors(404, 422)}, summary="Revoke one of my tokens"
)
@allow("dashboard.view")
def revoke_token(request, token_id: Path[Id]):
    """Another user's token answers 404, as if it did not exist."""
    services.token_revoke(token_id=token_id, actor=request.auth)
    return Status(204, None)


@router.get("/jobs", response={200: list[JobOut], **errors()}, summary="My background jobs (imports...)")
@allow("jobs.view")
def list_jobs(request):
    return list(selectors.jobs_for(request.auth))


@router.get("/jobs/{int:job_id}", response={200: JobOut, **errors(404, 422)}, summary="One of my jobs")
@allow("jobs.view")
def get_job(request, job_id: Path[Id]):
    """Another user's job answers 404 (administrators see every job)."""
    return selectors.access_job(request.auth, job_id)
