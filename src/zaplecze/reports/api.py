"""Reports API (mounted at /api/v1/reports). Thin: the same data and files as the report page and the CLI.

Routes:
  GET    /sales?from=&to=&channel=                the sales report as JSON (the numbers the PDF shows)
  GET    /operations?channel=                     the operations report as JSON (as of now)
  GET    /file?kind=&from=&to=&channel=&format=   the report as a file (pdf, xlsx, csv, html, json); kept
  GET    /runs                                    kept report files
  GET    /schedules                               report schedules
  POST   /schedules                               create a schedule
  DELETE /schedules/{schedule_id}                 delete a schedule
"""

import datetime as dt
from typing import Literal

from django.http import HttpResponse
from ninja import Query, Router, Schema, Status
from pydantic import Field

from zaplecze.api.permissions import allow
from zaplecze.api.schemas import In, errors, text
from zaplecze.core.businesstime import local_today
from zaplecze.core.errors import NotFound
from zaplecze.reports.sales import Period

from . import render, selectors, services
from .models import ReportFormat, ReportKind, ReportSchedule

router = Router()


class PeriodQuery(In):
    date_from: dt.date = Field(alias="from", description="First day (local), YYYY-MM-DD")
    date_to: dt.date = Field(alias="to", description="Last day (local), included")
    channel: text(40) = Field("", description="A channel code; empty = all channels")


class FileQuery(PeriodQuery):
    kind: Literal[tuple(ReportKind.values)] = ReportKind.SALES  # type: ignore[valid-type]
    format: Literal[tuple(ReportFormat.values)] = ReportFormat.PDF  # type: ignore[valid-type]


class ChannelQuery(In):
    channel: text(40) = ""


def _json(data: dict) -> HttpResponse:
    return HttpResponse(render.to_json(data), content_type="application/json")


@router.get("/sales", response={200: dict, **errors(400, 422)}, summary="Sales report (JSON)")
@allow("reports.view")
def sales(request, query: Query[PeriodQuery]):
    """Orders, gross and net revenue, AOV, units, margin, customers; by day, channel, payment, delivery and
    customer type; top products; the previous period and the same period last year. Money as numbers in
    `currency`; orders in other currencies are listed in `other_currencies`, never summed."""
    period = Period(query.date_from, query.date_to)
    return _json(services.report_data(ReportKind.SALES, period, channel=query.channel))


@router.get("/operations", response={200: dict, **errors(422)}, summary="Operations report (JSON)")
@allow("reports.view")
def operations(request, query: Query[ChannelQuery]):
    """Backlog by stage, late orders, returns and complaints due, stock at risk — as of now."""
    today = local_today()
    return _json(services.report_data(ReportKind.OPERATIONS, Period(today, today), channel=query.channel))


@router.get("/file", response={200: bytes, **errors(400, 422)}, summary="A report as a file")
@allow("reports.view")
def report_file(request, query: Query[FileQuery]):
    """Builds the report, keeps it (see /runs) and returns it."""
    period = Period(query.date_from, query.date_to)
    run, content = services.report_build(
        kind=query.kind, period=period, fmt=query.format, channel=query.channel, actor=request.auth
    )
    response = HttpResponse(content, content_type=render.CONTENT_TYPES[query.format])
    response["Content-Disposition"] = f'attachment; filename="{run.path.rsplit("/", 1)[-1]}"'
    return response


class RunOut(Schema):
    id: int
    kind: str
    format: str
    period_from: dt.date
    period_to: dt.date
    channel: str
    state: str
    size_bytes: int
    schedule_id: int | None
    sent_to: str
    created_at: dt.datetime
    error: str


@router.get("/runs", response={200: list[RunOut], **errors()}, summary="Kept report files")
@allow("reports.view")
def runs(request):
    return list(selectors.runs(limit=200))


class ScheduleOut(Schema):
    id: int
    name: str
    kind: str
    frequency: str
    weekday: int
    day_of_month: int
    hour: int
    format: str
    recipients: list[str]
    channel: str
    language: str
    active: bool
    last_period_end: dt.date | None

    @staticmethod
    def resolve_recipients(obj) -> list[str]:
        return [a for a in obj.recipients.splitlines() if a]


class ScheduleIn(In):
    name: text(120, 1)
    kind: Literal[tuple(ReportKind.values)] = ReportKind.SALES  # type: ignore[valid-type]
    frequency: Literal[tuple(ReportSchedule.Frequency.values)]  # type: ignore[valid-type]
    weekday: int = Field(0, ge=0, le=6, description="0 = Monday (weekly schedules)")
    day_of_month: int = Field(1, ge=1, le=28, description="Monthly schedules")
    hour: int = Field(7, ge=0, le=23, description="Local hour")
    format: Literal[tuple(v for v in ReportFormat.values if v != "json")] = ReportFormat.PDF  # type: ignore[valid-type]
    recipients: list[text(254, 3)] = Field(min_length=1, max_length=50)
    channel: text(40) = ""
    language: Literal["pl", "en"] = "pl"
    active: bool = True


@router.get("/schedules", response={200: list[ScheduleOut], **errors()}, summary="Report schedules")
@allow("reports.manage")
def schedules(request):
    return list(selectors.schedules())


@router.post("/schedules", response={201: ScheduleOut, **errors(400, 422)}, summary="Create a schedule")
@allow("reports.manage")
def schedule_create(request, payload: ScheduleIn):
    values = payload.model_dump()
    values["recipients"] = "\n".join(values["recipients"])
    return Status(201, services.schedule_save(values=values, actor=request.auth))


@router.delete("/schedules/{schedule_id}", response={204: None, **errors(404)}, summary="Delete a schedule")
@allow("reports.manage")
def schedule_delete(request, schedule_id: int):
    schedule = selectors.access_schedule(schedule_id)
    if schedule is None:
        raise NotFound(f"No schedule {schedule_id}")
    services.schedule_delete(schedule=schedule, actor=request.auth)
    return Status(204, None)


@router.get("/process", response={200: dict, **errors(400, 422)}, summary="Process mining of order handling")
@allow("reports.view")
def process(request, query: Query[PeriodQuery]):
    """For the orders placed in the period: lead times between placed, paid, packed, shipped and delivered
    (median and 90th percentile hours, overall and by channel, warehouse, delivery method, weekday and hour
    of payment), the bottleneck, ship-by compliance, the paths orders took, the process map and a histogram."""
    from .process import process_report

    return _json(process_report(Period(query.date_from, query.date_to), channel=query.channel))


@router.get(
    "/customers", response={200: dict, **errors(400, 422)}, summary="Cohorts, RFM, lifetime value, ABC"
)
@allow("reports.view")
def customers(request, query: Query[PeriodQuery]):
    """Monthly cohorts of customers first seen in the period with their retention, RFM segments and
    historical lifetime value as of the period's last day, and the ABC classes of the products sold in it."""
    from .customers import customers_report

    return _json(customers_report(Period(query.date_from, query.date_to)))


class AnomalyOut(Schema):
    id: int
    metric: str
    day: dt.date
    channel: str
    value: float
    expected: float
    low: float
    high: float
    score: float
    state: str
    text: str

    @staticmethod
    def resolve_text(obj) -> str:
        from .anomalies import describe

        return describe(obj)


@router.get("/anomalies", response={200: list[AnomalyOut], **errors()}, summary="Sales anomaly alerts")
@allow("reports.view")
def anomalies(request):
    """Days whose orders or gross revenue left the range expected from the same weekday in the 8 weeks
    before, newest first, with the evidence."""
    from .models import Anomaly

    return list(Anomaly.objects.order_by("-day", "metric")[:500])
