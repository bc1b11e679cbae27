"""Reports API (mounted at /api/v1/reports). Thin: the same data and files as the report page and the CLI.

Routes:
  GET    /sales?from=&to=&channel=&currency=      the sales report as JSON (the numbers the PDF shows)
  GET    /operations?channel=                     the operations report as JSON (as of now)
  GET    /file?kind=&from=&to=&channel=&format=   the report as a file (pdf, xlsx, csv, html, json); kept
  GET    /runs                                    kept report files
  GET    /schedules                               report schedules
  POST   /schedules                               create a schedule
  DELETE /schedules/{schedule_id}                 delete a schedule
  GET    /insights?state=&kind=                   insights with their evidence (state: open = new + accepted)
  GET    /insights/{insight_id}                   one insight
  POST   /insights/{insight_id}/state             accept, dismiss, mark done or reopen (with a note)
  POST   /insights/refresh                        run the insight rules now
"""

import datetime as dt
from typing import Literal

from django.http import HttpResponse
from ninja import Query, Router, Schema, Status
from pydantic import Field

from zaplecze.api.permissions import allow
from zaplecze.api.schemas import NO_BODY, In, errors, text
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
    currency: str = Field(
        "", pattern=r"^([A-Za-z]{3})?$", description="ISO currency; empty = the channel's (PLN for all)"
    )


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
    return _json(
        services.report_data(ReportKind.SALES, period, channel=query.channel, currency=query.currency)
    )


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
        kind=query.kind,
        period=period,
        fmt=query.format,
        channel=query.channel,
        currency=query.currency,
        actor=request.auth,
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
    (median and 90th percentile hours, overall and by channel, warehouse, delivery method, carrier, weekday and hour
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
    from .sales import channel_currency

    currency = (query.currency or channel_currency(query.channel)).upper()
    return _json(customers_report(Period(query.date_from, query.date_to), currency=currency))


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


class InsightOut(Schema):
    id: int
    kind: str
    subject_type: str
    subject_id: str
    subject_label: str
    title: str
    period_from: dt.date
    period_to: dt.date
    evidence: dict
    statistic: str
    p_value: float | None
    confidence: float
    expected_effect: float | None
    effect_unit: str
    action_text: str
    action_url: str
    state: str
    state_changed_at: dt.datetime | None
    state_changed_by: str | None
    note: str
    done_at: dt.datetime | None
    measured_effect: dict | None
    first_seen: dt.date
    last_seen: dt.date

    @staticmethod
    def resolve_state_changed_by(obj) -> str | None:
        return obj.state_changed_by.username if obj.state_changed_by_id else None


class InsightQuery(In):
    state: Literal["open", "new", "accepted", "dismissed", "done", "all"] = "open"
    kind: text(24) = ""


class InsightStateIn(In):
    state: Literal["new", "accepted", "dismissed", "done"]
    note: text(500) = ""


class RefreshOut(Schema):
    created: list[int]
    updated: list[int]
    failed: dict[str, str]


@router.get("/insights", response={200: list[InsightOut], **errors(422)}, summary="Insights")
@allow("reports.view")
def insights_list(request, query: Query[InsightQuery]):
    """Findings of the insight rules, grouped by kind and most confident first, each with its evidence
    (numbers, period, statistic, p-value), expected effect, suggested action and link, state, and after done
    the measured effect."""
    from .insights_selectors import insights_list as select

    return list(select(state=query.state, kind=query.kind))


@router.post(
    "/insights/refresh",
    response={200: RefreshOut, **errors()},
    summary="Run the insight rules",
    openapi_extra=NO_BODY,
)
@allow("reports.manage")
def insights_refresh(request):
    from .insights_services import insights_refresh as run

    result = run(local_today())
    return {
        "created": [i.pk for i in result["created"]],
        "updated": [i.pk for i in result["updated"]],
        "failed": result["failed"],
    }


@router.get("/insights/{insight_id}", response={200: InsightOut, **errors(404)}, summary="One insight")
@allow("reports.view")
def insight_get(request, insight_id: int):
    from .insights_selectors import access_insight

    return access_insight(insight_id)


@router.post(
    "/insights/{insight_id}/state",
    response={200: InsightOut, **errors(400, 404, 409, 422)},
    summary="Change state",
)
@allow("reports.manage")
def insight_state(request, insight_id: int, payload: InsightStateIn):
    """new -> accepted, dismissed or done; accepted -> done or dismissed; dismissed -> new (reopen)."""
    from .insights_selectors import access_insight
    from .insights_services import insight_transition

    insight_transition(insight_id=insight_id, state=payload.state, actor=request.auth, note=payload.note)
    return access_insight(insight_id)
