"""Writes of the core module: users, API tokens, audit entries and background-job progress."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.db import transaction
from django.utils import timezone

from .errors import DomainError, NotFound
from .models import ApiToken, AuditEntry, Job, User
from .permissions import Role


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if hasattr(value, "pk"):
        return str(value)
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    return value


def actor_label(actor: User | None, fallback: str = "system") -> str:
    return actor.username if actor is not None else fallback


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    """{field: [before, after]} for the fields whose value changed."""
    out: dict[str, list[Any]] = {}
    for key in sorted(set(before) | set(after)):
        b, a = _jsonable(before.get(key)), _jsonable(after.get(key))
        if b != a:
            out[key] = [b, a]
    return out


def audit_record(
    *,
    obj_type: str,
    obj_id: Any,
    action: str,
    actor: User | None,
    changes: dict | None = None,
    reason: str = "",
    label: str | None = None,
    at: dt.datetime | None = None,
) -> AuditEntry:
    return AuditEntry.objects.create(
        at=at or timezone.now(),
        actor=actor,
        actor_label=label or actor_label(actor),
        object_type=obj_type,
        object_id=str(obj_id),
        action=action,
        changes=changes or {},
        reason=reason[:500],
    )


def audit_record_many(entries: Iterable[AuditEntry]) -> None:
    AuditEntry.objects.bulk_create(list(entries), batch_size=1000)


def user_create(
    *,
    username: str,
    password: str | None = None,
    role: str = Role.READONLY,
    email: str = "",
    language: str = "",
    actor: User | None = None,
    validate: bool = True,
) -> tuple[User, str]:
    """Create a user. Returns (user, password); a strong password is generated when none is given."""
    if role not in Role.values:
        raise DomainError(f"Unknown role {role!r}; choose one of {', '.join(Role.values)}", field="role")
    if User.objects.filter(username=username).exists():
        raise DomainError(f"User {username!r} already exists", code="exists", field="username")
    generated = password is None
    password = password or secrets.token_urlsafe(12)
    if validate and not generated:
        validate_password(password)
    with transaction.atomic():
        user = User(
            username=username,
            email=email,
            role=role,
            language=language,
            is_staff=role == Role.ADMIN,
            is_superuser=role == Role.ADMIN,
        )
        user.set_password(password)
        user.save()
        audit_record(
            obj_type="core.user",
            obj_id=user.pk,
            action="created",
            actor=actor,
            changes={"role": [None, role]},
        )
    return user, password


def user_set_role(*, user: User, role: str, actor: User | None) -> User:
    if role not in Role.values:
        raise DomainError(f"Unknown role {role!r}", field="role")
    with transaction.atomic():
        before = user.role
        user.role = role
        user.is_staff = user.is_superuser = role == Role.ADMIN
        user.save(update_fields=["role", "is_staff", "is_superuser"])
        audit_record(
            obj_type="core.user",
            obj_id=user.pk,
            action="role_changed",
            actor=actor,
            changes={"role": [before, role]},
        )
    return user


def user_set_language(*, user: User, language: str) -> User:
    from django.conf import settings

    if language not in dict(settings.LANGUAGES):
        raise DomainError(f"Unknown language {language!r}", field="language")
    user.language = language
    user.save(update_fields=["language"])
    return user


def token_create(*, user: User, name: str = "", actor: User | None = None) -> str:
    """Create an API token for `user` and return it; only its hash is kept."""
    raw = ApiToken.generate()
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user, name=name[:100], prefix=raw[:12], digest=ApiToken.hash(raw)
        )
        audit_record(
            obj_type="core.apitoken",
            obj_id=token.pk,
            action="created",
            actor=actor or user,
            changes={"user": [None, user.username]},
        )
    return raw


def token_revoke(*, token_id: int, actor: User) -> None:
    token = ApiToken.objects.filter(pk=token_id, user=actor, revoked_at__isnull=True).first()
    if token is None:
        raise NotFound("No such token")
    token.revoked_at = timezone.now()
    token.save(update_fields=["revoked_at"])
    audit_record(obj_type="core.apitoken", obj_id=token.pk, action="revoked", actor=actor)


def token_authenticate(raw: str) -> User | None:
    if not raw or len(raw) > 200:
        return None
    token = (
        ApiToken.objects.select_related("user")
        .filter(digest=ApiToken.hash(raw), revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    if token is None:
        return None
    now = timezone.now()
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user


# --- background jobs ------------------------------------------------------------------------------


def job_create(
    *, kind: str, title: str, owner: User | None, params: dict | None = None, total: int | None = None
) -> Job:
    return Job.objects.create(
        kind=kind, title=title[:200], owner=owner, params=params or {}, progress_total=total
    )


def job_start(*, job_id: int, total: int | None = None) -> None:
    Job.objects.filter(pk=job_id).update(
        state=Job.State.RUNNING, started_at=timezone.now(), progress_total=total
    )


def job_progress(*, job_id: int, done: int, total: int | None = None) -> None:
    fields: dict[str, Any] = {"progress_done": done}
    if total is not None:
        fields["progress_total"] = total
    Job.objects.filter(pk=job_id).update(**fields)


def job_finish(*, job_id: int, result: dict | None = None, error: str = "") -> None:
    Job.objects.filter(pk=job_id).update(
        state=Job.State.FAILED if error else Job.State.DONE,
        finished_at=timezone.now(),
        result=result or {},
        error=error[:5000],
    )
