"""Report screens: the report page (sales or operations for a period, with downloads), kept runs, and
schedules. Thin doors: data from analytics.sales / reports.operations, writes through `services`."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from zaplecze.core.access import require
from zaplecze.core.businesstime import local_today
from zaplecze.core.errors import DomainError
from zaplecze.orders.models import Channel, Stage
from zaplecze.reports.sales import Period, channel_currency, currencies

from . import render as report_render
from . import selectors, services
from .forms import ReportForm, ScheduleForm
from .models import ReportFormat, ReportKind


def _channels() -> list[tuple[str, str]]:
    return list(Channel.objects.order_by("name").values_list("code", "name"))


def _presets(today: dt.date) -> list[tuple[str, dt.date, dt.date]]:
    first = today.replace(day=1)
    last_month_end = first - dt.timedelta(days=1)
    monday = today - dt.timedelta(days=today.weekday())
    return [
        (_("Yesterday"), today - dt.timedelta(days=1), today - dt.timedelta(days=1)),
        (_("Last 7 days"), today - dt.timedelta(days=7), today - dt.timedelta(days=1)),
        (_("Last week"), monday - dt.timedelta(days=7), monday - dt.timedelta(days=1)),
        (_("This month"), first, today),
        (_("Last month"), last_month_end.replace(day=1), last_month_end),
        (_("Last 30 days"), today - dt.timedelta(days=30), today - dt.timedelta(days=1)),
    ]


def _form(request) -> ReportForm:
    today = local_today()
    params = request.GET.copy()
    params.setdefault("kind", ReportKind.SALES)
    params.setdefault("date_from", (today - dt.timedelta(days=30)).isoformat())
    params.setdefault("date_to", (today - dt.timedelta(days=1)).isoformat())
    return ReportForm(params, channels=_channels(), currencies=currencies())


def _orders_url(period: Period, channel: str, **extra) -> str:
    params = {"date_from": period.start.isoformat(), "date_to": period.end.isoformat()}
    if channel:
        params["channel"] = channel
    params["stage"] = ",".join(s for s in Stage.values if s != Stage.CANCELLED)
    params.update(extra)
    return reverse("orders:queue") + "?" + urlencode(params)


def _drill_down(ctx: dict, period: Period, channel: str) -> None:
    """Links from the totals and from every row the order queue can filter (day, week, month, channel,
    payment and delivery method) to the orders behind them."""
    for row in ctx["summary"]:
        if row["key"] in ("orders", "revenue_gross", "aov", "units"):
            row["url"] = _orders_url(period, channel)
    data = ctx["data"]
    # A breakdown whose rows the order queue can filter by: (title, data key, queue parameter).
    by_key = [
        (_("By channel"), "by_channel", "channel"),
        (_("By payment method"), "by_payment_method", "payment_method"),
        (_("By delivery method"), "by_delivery_method", "delivery_method"),
    ]
    spans = {_("By week"): data.get("by_week", []), _("By month"): data.get("by_month", [])}
    for title, _head, rows in ctx["tables"]:
        for t, key, param in by_key:
            if title == t:
                for row, source in zip(rows, data[key], strict=True):
                    if source["key"]:
                        extra = {param: source["key"]}
                        url = (
                            _orders_url(period, source["key"])
                            if param == "channel"
                            else _orders_url(period, channel, **extra)
                        )
                        row[0] = {"text": row[0], "url": url}
        if title == _("By day"):
            for row in rows:
                if row[1]:
                    row[0] = {"text": row[0], "url": _orders_url(Period(row[0], row[0]), channel)}
        elif title in spans:
            for row, source in zip(rows, spans[title], strict=True):
                if source["orders"]:
                    row[0] = {
                        "text": row[0],
                        "url": _orders_url(Period(source["from"], source["to"]), channel),
                    }


@require("reports.view")
def index(request):
    form = _form(request)
    ctx: dict = {"form": form, "presets": _presets(local_today()), "formats": ReportFormat.choices}
    if form.is_valid():
        kind, channel = form.cleaned_data["kind"], form.cleaned_data["channel"]
        currency = form.cleaned_data["currency"]
        try:
            period = Period(form.cleaned_data["date_from"], form.cleaned_data["date_to"])
            data = services.report_data(kind, period, channel=channel, currency=currency)
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            ctx.update(report_render.context(kind, data))
            if kind == ReportKind.SALES:
                _drill_down(ctx, period, channel)
            ctx["query"] = urlencode(
                {
                    "kind": kind,
                    "date_from": period.start,
                    "date_to": period.end,
                    "channel": channel,
                    "currency": currency,
                }
            )
    ctx["runs"] = list(selectors.runs(limit=10))
    return render(request, "reports/index.html", ctx)


@require("reports.view")
def download(request):
    form = _form(request)
    fmt = request.GET.get("format", "")
    if fmt not in ReportFormat.values:
        return HttpResponse(
            _("Unknown format: choose one of %s") % ", ".join(ReportFormat.values), status=400
        )
    if not form.is_valid():
        errors = "; ".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items())
        return HttpResponse(errors, status=400, content_type="text/plain; charset=utf-8")
    period = Period(form.cleaned_data["date_from"], form.cleaned_data["date_to"])
    run, content = services.report_build(
        kind=form.cleaned_data["kind"],
        period=period,
        fmt=fmt,
        channel=form.cleaned_data["channel"],
        currency=form.cleaned_data["currency"],
        actor=request.user,
    )
    response = HttpResponse(content, content_type=report_render.CONTENT_TYPES[fmt])
    disposition = "inline" if fmt in ("html", "pdf") else "attachment"
    response["Content-Disposition"] = f'{disposition}; filename="{run.path.rsplit("/", 1)[-1]}"'
    return response


@require("reports.view")
def run_download(request, run_id: int):
    run = selectors.access_run(run_id)
    path = services.run_file(run) if run else None
    if path is None:
        raise Http404
    return FileResponse(
        path.open("rb"),
        as_attachment=True,
        filename=path.name,
        content_type=report_render.CONTENT_TYPES[run.format],
    )


@require("reports.view")
def runs(request):
    return render(request, "reports/runs.html", {"runs": selectors.runs(limit=200)})


@require("reports.manage")
def schedules(request):
    return render(request, "reports/schedules.html", {"schedules": selectors.schedules()})


def _schedule_form(request, schedule=None):
    form = ScheduleForm(request.POST or None, instance=schedule)
    form.fields["channel"].widget = forms.Select(choices=[("", _("All channels")), *_channels()])
    if request.method == "POST" and form.is_valid():
        try:
            services.schedule_save(values=form.cleaned_data, schedule=schedule, actor=request.user)
        except DomainError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            messages.success(request, _("Schedule saved."))
            return redirect("reports:schedules")
    return render(request, "reports/schedule_form.html", {"form": form, "schedule": schedule})


@require("reports.manage")
def schedule_create(request):
    return _schedule_form(request)


@require("reports.manage")
def schedule_edit(request, schedule_id: int):
    schedule = selectors.access_schedule(schedule_id)
    if schedule is None:
        raise Http404
    return _schedule_form(request, schedule)


@require("reports.manage")
@require_POST
def schedule_delete(request, schedule_id: int):
    schedule = selectors.access_schedule(schedule_id)
    if schedule is None:
        raise Http404
    services.schedule_delete(schedule=schedule, actor=request.user)
    messages.success(request, _("Schedule deleted."))
    return redirect("reports:schedules")


@require("reports.view")
def process(request):
    """Process mining of the orders placed in a period: lead times, bottleneck, variants, map."""
    from . import charts
    from .process import map_drawing, milestone_labels, process_report

    form = _form(request)
    ctx: dict = {"form": form, "presets": _presets(local_today()), "labels": milestone_labels()}
    if form.is_valid():
        channel = form.cleaned_data["channel"]
        try:
            period = Period(form.cleaned_data["date_from"], form.cleaned_data["date_to"])
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            data = process_report(period, channel=channel)
            stage_names = dict(Stage.choices)
            for v in data["variants"]:
                v["names"] = [str(stage_names.get(s, s)) for s in v["path"]]
            ctx.update(
                data=data,
                drawing=map_drawing(data["map"]),
                charts={
                    "histogram": charts.lead_time_histogram(data["histogram"]),
                    "steps": charts.step_times(data["steps"]),
                },
            )
    return render(request, "reports/process.html", ctx)


@require("reports.view")
def customers(request):
    """Cohort retention, RFM segments, lifetime value and the ABC classes of products."""
    from .customers import customers_report

    form = _form(request)
    ctx: dict = {"form": form, "presets": _presets(local_today())}
    if form.is_valid():
        try:
            period = Period(form.cleaned_data["date_from"], form.cleaned_data["date_to"])
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            currency = form.cleaned_data["currency"] or channel_currency(form.cleaned_data["channel"])
            data = customers_report(period, currency=currency)
            for row in data["cohorts"]:
                row["cells"] = [
                    {"value": v, "heat": None if v is None else min(100, round(v * 300))}
                    for v in row["retention"]
                ]
            ctx.update(data=data, months=range(13))
    return render(request, "reports/customers.html", ctx)


@require("reports.view")
def alerts(request):
    """Unusual days (orders, revenue) found by the daily check, with their evidence."""
    from .anomalies import describe
    from .models import Anomaly

    state = request.GET.get("state", Anomaly.State.OPEN)
    items = Anomaly.objects.all() if state == "all" else Anomaly.objects.filter(state=state)
    rows = [{"a": a, "text": describe(a)} for a in items.order_by("-day", "metric")[:200]]
    return render(request, "reports/alerts.html", {"rows": rows, "state": state})


@require("reports.manage")
@require_POST
def alert_dismiss(request, anomaly_id: int):
    from .models import Anomaly

    updated = Anomaly.objects.filter(pk=anomaly_id).update(
        state=Anomaly.State.DISMISSED, note=(request.POST.get("note") or "")[:300]
    )
    if not updated:
        raise Http404
    messages.success(request, _("Alert dismissed."))
    return redirect("reports:alerts")
