"""Screens of promotions: the campaign list, the form, a campaign's page (check table, launch, cancel, codes,
history), the calendar (month and week, clashes highlighted), results with charts, and exports. Thin doors:
writes go through `services`, reads through `selectors`, `check` and `results`."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from zaplecze.core.access import require
from zaplecze.core.businesstime import local_today
from zaplecze.core.errors import DomainError, NotFound
from zaplecze.core.permissions import user_has
from zaplecze.core.viewhelpers import form_error

from . import check as checks
from . import results as results_mod
from . import selectors, services
from .forms import CampaignForm, CodeForm, GenerateForm, initial_for
from .models import CampaignKind, CampaignStatus

PAGE_SIZE = 50
CHECK_PAGE = 100


def _form_error(form, exc) -> None:
    form_error(form, exc, aliases={"targets": "skus"})


def _campaign(campaign_id: int):
    try:
        return selectors.access_campaign(campaign_id)
    except NotFound:
        raise Http404


@require("promotions.view")
def index(request):
    status = request.GET.get("status", "")
    if status not in CampaignStatus.values:
        status = ""
    q = (request.GET.get("q") or "").strip()[:100]
    page = Paginator(selectors.campaigns(status=status, q=q), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "promotions/index.html",
        {
            "page": page,
            "status": status,
            "q": q,
            "statuses": CampaignStatus.choices,
            "can_manage": user_has(request.user, "promotions.manage"),
        },
    )


@require("promotions.manage")
def campaign_new(request):
    form = CampaignForm(request.POST or None, initial={"kind": CampaignKind.PRICE, "value_type": "percent"})
    if request.method == "POST" and form.is_valid():
        try:
            campaign = services.campaign_create(
                data=form.data_for_service(), targets=form.targets(), actor=request.user
            )
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, _("Campaign saved as a draft. Run the check before launching it."))
            return redirect("promotions:campaign", campaign_id=campaign.pk)
    return render(request, "promotions/form.html", {"form": form}, status=400 if form.errors else 200)


@require("promotions.manage")
def campaign_edit(request, campaign_id: int):
    campaign = _campaign(campaign_id)
    form = CampaignForm(request.POST or None, initial=initial_for(campaign))
    if request.method == "POST" and form.is_valid():
        try:
            services.campaign_update(
                campaign_id=campaign.pk,
                data=form.data_for_service(),
                targets=form.targets(),
                expected_version=form.cleaned_data.get("version"),
                override_reason=form.cleaned_data.get("override_reason") or "",
                actor=request.user,
            )
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, _("Campaign saved."))
            return redirect("promotions:campaign", campaign_id=campaign.pk)
    return render(
        request,
        "promotions/form.html",
        {"form": form, "campaign": campaign},
        status=400 if form.errors else 200,
    )


@require("promotions.view")
def campaign_detail(request, campaign_id: int):
    campaign = _campaign(campaign_id)
    latest = selectors.latest_check(campaign)
    rows = latest.rows if latest else []
    severity = request.GET.get("only", "")
    if severity == "errors":
        rows = [r for r in rows if r["errors"]]
    check_page = Paginator(rows, CHECK_PAGE).get_page(request.GET.get("page"))
    others = {c.pk: c for c in selectors.overlapping(campaign)}
    codes = selectors.codes(campaign)[:50] if campaign.kind == CampaignKind.CODES else []
    return render(
        request,
        "promotions/detail.html",
        {
            "campaign": campaign,
            "targets": list(campaign.targets.select_related("product", "category")),
            "check": latest,
            "check_current": latest is not None and latest.campaign_version == campaign.version,
            "check_page": check_page,
            "only": severity,
            "messages_by_code": checks.messages(),
            "others": others,
            "events": campaign.events.select_related("actor")[:50],
            "codes": codes,
            "code_count": campaign.codes.count(),
            "code_form": CodeForm(),
            "generate_form": GenerateForm(),
            "items": campaign.items.count(),
            "can_manage": user_has(request.user, "promotions.manage"),
        },
    )


@require("promotions.manage")
@require_POST
def campaign_check_run(request, campaign_id: int):
    campaign = _campaign(campaign_id)
    stored, _result = services.campaign_check_run(campaign_id=campaign.pk, actor=request.user)
    messages.info(
        request,
        _("Checked %(n)s rows: %(e)s with errors, %(w)s with warnings.")
        % {"n": stored.summary.get("rows", 0), "e": stored.errors, "w": stored.warnings},
    )
    return redirect("promotions:campaign", campaign_id=campaign.pk)


@require("promotions.manage")
@require_POST
def campaign_launch(request, campaign_id: int):
    campaign = _campaign(campaign_id)
    try:
        services.campaign_launch(
            campaign_id=campaign.pk,
            override_reason=(request.POST.get("override_reason") or "").strip(),
            actor=request.user,
        )
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        campaign.refresh_from_db()
        messages.success(
            request,
            _("Campaign running: the promotional prices are in effect.")
            if campaign.status == CampaignStatus.RUNNING
            else _("Campaign scheduled: the worker starts it on time."),
        )
    return redirect("promotions:campaign", campaign_id=campaign.pk)


@require("promotions.manage")
@require_POST
def campaign_cancel(request, campaign_id: int):
    campaign = _campaign(campaign_id)
    try:
        services.campaign_cancel(
            campaign_id=campaign.pk,
            reason=(request.POST.get("reason") or "").strip()[:500],
            actor=request.user,
        )
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Campaign cancelled."))
    return redirect("promotions:campaign", campaign_id=campaign.pk)


@require("promotions.manage")
@require_POST
def campaign_unschedule(request, campaign_id: int):
    campaign = _campaign(campaign_id)
    try:
        services.campaign_unschedule(campaign_id=campaign.pk, actor=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Campaign back to draft."))
    return redirect("promotions:campaign", campaign_id=campaign.pk)


@require("promotions.view")
def check_csv(request, campaign_id: int):
    """The full check table (computed now) as CSV."""
    campaign = _campaign(campaign_id)
    result = checks.campaign_check(campaign)
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(
        [
            "sku", "name", "channel", "regular_price", "new_price", "cost", "margin", "margin_percent",
            "reference_price", "reference_basis", "discount_label", "stock", "errors", "warnings", "clashes",
        ]
    )  # fmt: skip
    for r in result.rows:
        d = r.as_dict()
        w.writerow(
            [
                d["sku"], d["name"], d["channel"], d["regular_price"], d["new_price"], d["cost"] or "",
                d["margin"] or "", d["margin_percent"] or "", d["reference_price"] or "", d["reference_basis"],
                d["discount_label"], "" if d["stock"] is None else d["stock"], " ".join(d["errors"]),
                " ".join(d["warnings"]), " ".join(str(c) for c in d["clashes"]),
            ]
        )  # fmt: skip
    response = HttpResponse(buf.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="campaign-{campaign.pk}-check.csv"'
    return response


@require("promotions.view")
def rules_json(request, campaign_id: int):
    campaign = _campaign(campaign_id)
    response = JsonResponse(
        services.rules_export(campaign), json_dumps_params={"ensure_ascii": False, "indent": 1}
    )
    response["Content-Disposition"] = f'attachment; filename="campaign-{campaign.pk}-rules.json"'
    return response


# --- codes --------------------------------------------------------------------------------------------


@require("promotions.manage")
@require_POST
def code_add(request, campaign_id: int):
    campaign = _campaign(campaign_id)
    form = CodeForm(request.POST)
    if form.is_valid():
        try:
            services.code_add(
                campaign_id=campaign.pk,
                code=form.cleaned_data["code"],
                max_uses=form.cleaned_data.get("max_uses"),
                actor=request.user,
            )
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("Code added."))
    else:
        messages.error(request, _("Check the code and the number of uses."))
    return redirect("promotions:campaign", campaign_id=campaign.pk)


@require("promotions.manage")
@require_POST
def codes_generate(request, campaign_id: int):
    campaign = _campaign(campaign_id)
    form = GenerateForm(request.POST)
    if form.is_valid():
        try:
            n = services.codes_generate(campaign_id=campaign.pk, actor=request.user, **form.cleaned_data)
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("%(n)s codes generated.") % {"n": n})
    else:
        messages.error(request, _("Check the number of codes, the prefix and the length."))
    return redirect("promotions:campaign", campaign_id=campaign.pk)


@require("promotions.view")
def codes_csv(request, campaign_id: int):
    campaign = _campaign(campaign_id)
    response = HttpResponse(services.codes_csv(campaign), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="campaign-{campaign.pk}-codes.csv"'
    return response


# --- calendar -----------------------------------------------------------------------------------------


@require("promotions.view")
def calendar(request):
    mode = request.GET.get("view", "month")
    try:
        day = dt.date.fromisoformat(request.GET.get("date") or "")
    except ValueError:
        day = local_today()
    cal = selectors.calendar(mode=mode, day=day)
    return render(
        request,
        "promotions/calendar.html",
        {
            "cal": cal,
            "today": local_today(),
            "weekdays": [_("Mon"), _("Tue"), _("Wed"), _("Thu"), _("Fri"), _("Sat"), _("Sun")],
        },
    )


# --- results ------------------------------------------------------------------------------------------


def _results_chart(data: dict) -> dict:
    import altair as alt

    actual, baseline = _("Campaign"), _("Baseline (adjusted mean)")
    values = []
    for r in data["daily"]:
        values.append({"day": r["day"], "series": actual, "sales": r["sales"]})
        values.append({"day": r["day"], "series": baseline, "sales": r["baseline"]})
    chart = (
        alt.Chart(alt.Data(values=values))
        .mark_line(point=True)
        .encode(
            x=alt.X("day:T", title=None, axis=alt.Axis(format="%d.%m", labelAngle=0)),
            y=alt.Y("sales:Q", title=_("Sales (gross)")),
            color=alt.Color(
                "series:N",
                title=None,
                scale=alt.Scale(domain=[actual, baseline], range=["#2563eb", "#9ca3af"]),
            ),
            tooltip=["day:T", "series:N", alt.Tooltip("sales:Q", format=",.2f")],
        )
        .properties(width="container", height=220)
    )
    return chart.configure_view(stroke=None).configure_legend(orient="top").to_dict()


def _uplift_chart(data: dict) -> dict:
    import altair as alt

    labels = {"sales": _("Sales"), "units": _("Units"), "orders": _("Orders"), "margin": _("Margin")}
    values = [
        {
            "metric": labels[m],
            "uplift": c["uplift_percent"] or 0,
            "low": (c["ci_low"] * 100 / c["expected"]) if c["expected"] else 0,
            "high": (c["ci_high"] * 100 / c["expected"]) if c["expected"] else 0,
        }
        for m, c in data["comparison"].items()
    ]
    base = alt.Chart(alt.Data(values=values))
    bars = base.mark_bar(color="#2563eb").encode(
        y=alt.Y("metric:N", title=None, sort=None),
        x=alt.X("uplift:Q", title=_("Uplift (%) with 95 % interval")),
    )
    rule = base.mark_rule(color="#111827").encode(y=alt.Y("metric:N", sort=None), x="low:Q", x2="high:Q")
    return (bars + rule).properties(width="container", height=140).configure_view(stroke=None).to_dict()


@require("promotions.view")
def campaign_results(request, campaign_id: int):
    campaign = _campaign(campaign_id)
    data = results_mod.campaign_results(campaign)
    if request.GET.get("format") == "csv":
        response = HttpResponse(results_mod.results_csv(data), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="campaign-{campaign.pk}-results.csv"'
        return response
    if request.GET.get("format") == "json":
        return JsonResponse(data)
    labels = {"sales": _("Sales"), "units": _("Units"), "orders": _("Orders"), "margin": _("Margin")}
    return render(
        request,
        "promotions/results.html",
        {
            "campaign": campaign,
            "data": data,
            "rows": [(labels[m], c) for m, c in data["comparison"].items()],
            "daily_spec": _results_chart(data),
            "uplift_spec": _uplift_chart(data),
            "json": json.dumps,
        },
    )
