"""Writes of reports: build a report into a kept file (a ReportRun), schedules, and running due schedules."""

from __future__ import annotations

import calendar
import datetime as dt
import re
import time
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import override

from zaplecze.core.businesstime import tz
from zaplecze.core.errors import DomainError
from zaplecze.core.services import audit_record
from zaplecze.reports.sales import Period, channel_currency, sales_report
from zaplecze.service.services import outbox_enqueue

from . import render
from .models import ReportFormat, ReportKind, ReportRun, ReportSchedule
from .operations import operations_report

REPORTS_DIR = "reports"


def report_data(kind: str, period: Period, *, channel: str = "", currency: str = "") -> dict:
    """`currency` empty: the currency of the channel's latest order (PLN for all channels)."""
    if kind == ReportKind.SALES:
        return sales_report(period, channel=channel, currency=(currency or channel_currency(channel)).upper())
    if kind == ReportKind.OPERATIONS:
        return operations_report(channel=channel)
    raise DomainError(f"Unknown report {kind!r}: choose sales or operations", field="kind")


def report_render(kind: str, period: Period, fmt: str, *, channel: str = "", currency: str = "") -> bytes:
    if fmt not in ReportFormat.values:
        raise DomainError(
            f"Unknown format {fmt!r}: choose one of {', '.join(ReportFormat.values)}", field="format"
        )
    return render.render(kind, report_data(kind, period, channel=channel, currency=currency), fmt)


def _store(run: ReportRun, content: bytes) -> None:
    rel = (
        Path(REPORTS_DIR)
        / f"{run.created_at:%Y/%m}"
        / (f"{run.pk}-{run.kind}-{run.period_from:%Y%m%d}-{run.period_to:%Y%m%d}.{run.format}")
    )
    path = Path(settings.DATA_DIR) / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".part")
    tmp.write_bytes(content)
    tmp.replace(path)  # a reader never sees half a file
    run.path, run.size_bytes = str(rel), len(content)


def report_build(
    *, kind: str, period: Period, fmt: str, channel: str = "", currency: str = "", actor=None, schedule=None
) -> tuple[ReportRun, bytes]:
    """Build a report and keep it as a ReportRun (downloadable later); returns the run and the file."""
    started = time.perf_counter()
    content = report_render(kind, period, fmt, channel=channel, currency=currency)
    run = ReportRun.objects.create(
        kind=kind,
        format=fmt,
        period_from=period.start,
        period_to=period.end,
        channel=channel,
        schedule=schedule,
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    _store(run, content)
    run.build_seconds = round(time.perf_counter() - started, 3)
    run.save(update_fields=["path", "size_bytes", "build_seconds"])
    return run, content


def run_file(run: ReportRun) -> Path | None:
    if not run.path:
        return None
    path = (Path(settings.DATA_DIR) / run.path).resolve()
    base = (Path(settings.DATA_DIR) / REPORTS_DIR).resolve()
    if base not in path.parents or not path.exists():
        return None
    return path


# --- schedules --------------------------------------------------------------------------------------------


def parse_recipients(text: str) -> list[str]:
    items = [a.strip() for a in re.split(r"[,;\s]+", text or "") if a.strip()]
    if not items:
        raise DomainError(_("Give at least one e-mail address"), field="recipients")
    for a in items:
        try:
            validate_email(a)
        except ValidationError:
            raise DomainError(_("%(address)s is not an e-mail address") % {"address": a}, field="recipients")
    if len(items) > 50:
        raise DomainError(_("At most 50 recipients"), field="recipients")
    return items


def _validate_schedule(values: dict) -> dict:
    if values.get("kind") not in ReportKind.values:
        raise DomainError(_("Choose a report"), field="kind")
    if values.get("frequency") not in ReportSchedule.Frequency.values:
        raise DomainError(_("Choose daily, weekly or monthly"), field="frequency")
    if values.get("format") not in ReportFormat.values:
        raise DomainError(_("Choose a format"), field="format")
    if not 0 <= int(values.get("weekday", 0)) <= 6:
        raise DomainError(_("The weekday is 0 (Monday) to 6 (Sunday)"), field="weekday")
    if not 1 <= int(values.get("day_of_month", 1)) <= 28:
        raise DomainError(_("The day of the month is 1 to 28 (every month has it)"), field="day_of_month")
    if not 0 <= int(values.get("hour", 7)) <= 23:
        raise DomainError(_("The hour is 0 to 23"), field="hour")
    if not (values.get("name") or "").strip():
        raise DomainError(_("Give the schedule a name"), field="name")
    values["recipients"] = "\n".join(parse_recipients(values.get("recipients", "")))
    return values


SCHEDULE_FIELDS = (
    "name", "kind", "frequency", "weekday", "day_of_month", "hour", "format", "recipients", "channel", "language",
    "active",
)  # fmt: skip


def schedule_save(*, values: dict, schedule: ReportSchedule | None = None, actor=None) -> ReportSchedule:
    values = _validate_schedule({k: values[k] for k in SCHEDULE_FIELDS if k in values})
    with transaction.atomic():
        if schedule is None:
            schedule = ReportSchedule.objects.create(
                **values, created_by=actor if getattr(actor, "pk", None) else None
            )
            action = "created"
        else:
            for k, v in values.items():
                setattr(schedule, k, v)
            schedule.save()
            action = "updated"
        audit_record(obj_type="reports.schedule", obj_id=schedule.pk, action=action, actor=actor, changes={})
    return schedule


def schedule_delete(*, schedule: ReportSchedule, actor=None) -> None:
    with transaction.atomic():
        audit_record(
            obj_type="reports.schedule", obj_id=schedule.pk, action="deleted", actor=actor, changes={}
        )
        schedule.delete()


def schedule_period(schedule: ReportSchedule, today: dt.date) -> Period | None:
    """The period a schedule reports on if it is due `today` (local date), else None.

    Daily: yesterday. Weekly (on its weekday): the seven days before. Monthly (on its day): the month before."""
    if schedule.frequency == ReportSchedule.Frequency.DAILY:
        day = today - dt.timedelta(days=1)
        return Period(day, day)
    if schedule.frequency == ReportSchedule.Frequency.WEEKLY:
        if today.weekday() != schedule.weekday:
            return None
        return Period(today - dt.timedelta(days=7), today - dt.timedelta(days=1))
    if today.day != schedule.day_of_month:
        return None
    last = today.replace(day=1) - dt.timedelta(days=1)
    return Period(last.replace(day=1), last.replace(day=calendar.monthrange(last.year, last.month)[1]))


def schedule_run(schedule: ReportSchedule, *, period: Period, actor=None) -> ReportRun:
    """Build the report and e-mail it to the schedule's recipients (through the outbox, after commit)."""
    with override(schedule.language or "pl"), transaction.atomic():
        run, content = report_build(
            kind=schedule.kind,
            period=period,
            fmt=schedule.format,
            channel=schedule.channel,
            schedule=schedule,
        )
        subject = f"{schedule.name}: {ReportKind(schedule.kind).label} {period.start} – {period.end}"
        body = _(
            "The report %(name)s for %(start)s – %(end)s is attached.\n\nZaplecze sends it by the schedule "
            "set up in Reports › Schedules."
        ) % {"name": schedule.name, "start": period.start, "end": period.end}
        recipients = parse_recipients(schedule.recipients)
        filename = Path(run.path).name
        for address in recipients:
            outbox_enqueue(
                key=f"report:{schedule.pk}:{period.start}:{period.end}:{address}",
                kind="report",
                to=address,
                language=schedule.language or "pl",
                context={},
                subject=subject,
                body=body,
                attachments=[(filename, render.CONTENT_TYPES[schedule.format].split(";")[0], content)],
            )
        run.sent_to = "\n".join(recipients)
        run.save(update_fields=["sent_to"])
        ReportSchedule.objects.filter(pk=schedule.pk).update(last_period_end=period.end)
    return run


def schedules_run_due(*, now: dt.datetime | None = None) -> list[ReportRun]:
    """Run every active schedule that is due at this local hour and has not sent this period yet."""
    now = (now or timezone.now()).astimezone(tz())
    runs = []
    for schedule in ReportSchedule.objects.filter(active=True, hour__lte=now.hour).order_by("pk"):
        period = schedule_period(schedule, now.date())
        if period is None or (schedule.last_period_end and schedule.last_period_end >= period.end):
            continue
        try:
            runs.append(schedule_run(schedule, period=period))
        except Exception as exc:  # one broken schedule must not stop the others; the failure is kept
            ReportRun.objects.create(
                kind=schedule.kind,
                format=schedule.format,
                period_from=period.start,
                period_to=period.end,
                channel=schedule.channel,
                schedule=schedule,
                state=ReportRun.State.FAILED,
                error=f"{type(exc).__name__}: {exc}"[:2000],
            )
    return runs
