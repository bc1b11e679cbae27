"""Reads of reports: kept runs and schedules."""

from __future__ import annotations

from django.db.models import QuerySet

from .models import ReportRun, ReportSchedule


def runs(*, limit: int = 50) -> QuerySet[ReportRun]:
    return ReportRun.objects.select_related("schedule", "created_by").order_by("-created_at", "-id")[:limit]


def access_run(run_id: int) -> ReportRun | None:
    return ReportRun.objects.filter(pk=run_id).first()


def schedules() -> QuerySet[ReportSchedule]:
    return ReportSchedule.objects.order_by("name", "id")


def access_schedule(schedule_id: int) -> ReportSchedule | None:
    return ReportSchedule.objects.filter(pk=schedule_id).first()
