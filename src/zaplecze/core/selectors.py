from __future__ import annotations

from django.db.models import QuerySet

from .errors import NotFound
from .models import ApiToken, AuditEntry, Job, User


def audit_for(obj_type: str, obj_id, limit: int = 200) -> QuerySet[AuditEntry]:
    return AuditEntry.objects.filter(object_type=obj_type, object_id=str(obj_id)).select_related("actor")[
        :limit
    ]


def jobs_for(user: User, limit: int = 50) -> QuerySet[Job]:
    return Job.objects.filter(owner=user)[:limit]


def access_job(actor: User, job_id: int) -> Job:
    """A job is visible to its owner and to administrators."""
    job = Job.objects.filter(pk=job_id).first()
    if job is None or (job.owner_id != actor.pk and actor.role != "admin"):
        raise NotFound("No such job")
    return job


def tokens_for(user: User) -> QuerySet[ApiToken]:
    """The user's own active API tokens (never anyone else's)."""
    return ApiToken.objects.filter(user=user, revoked_at__isnull=True).order_by("-created_at", "-id")
