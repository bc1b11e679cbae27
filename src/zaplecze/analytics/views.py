"""The traffic dashboard (one page, every panel filterable by clicking a value), CSV export, sites."""

from __future__ import annotations

import csv

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from zaplecze.core.access import require
from zaplecze.core.errors import DomainError

from . import charts, metrics, selectors, services
from .forms import PRESETS, RangeForm, SiteForm
from .models import Site

CARD_LABELS = {
    "visitors": gettext_lazy("Unique visitors"),
    "visits": gettext_lazy("Visits"),
    "pageviews": gettext_lazy("Pageviews"),
    "views_per_visit": gettext_lazy("Views per visit"),
    "bounce_rate": gettext_lazy("Bounce rate"),
    "visit_duration": gettext_lazy("Visit duration"),
    "orders": gettext_lazy("Orders"),
    "conversion_rate": gettext_lazy("Conversion rate"),
    "revenue": gettext_lazy("Revenue (net)"),
}
PANEL_LABELS = {
    "source": gettext_lazy("Sources"),
    "referrer": gettext_lazy("Referrers"),
    "utm_campaign": gettext_lazy("UTM campaigns"),
    "page": gettext_lazy("Top pages"),
    "entry_page": gettext_lazy("Entry pages"),
    "exit_page": gettext_lazy("Exit pages"),
    "device": gettext_lazy("Devices"),
    "browser": gettext_lazy("Browsers"),
    "os": gettext_lazy("Operating systems"),
}
FUNNEL_LABELS = {
    "product_view": gettext_lazy("Product view"),
    "add_to_cart": gettext_lazy("Add to cart"),
    "begin_checkout": gettext_lazy("Checkout"),
    "purchase": gettext_lazy("Purchase"),
}
SOURCE_LABELS = {
    "search": gettext_lazy("Search"),
    "social": gettext_lazy("Social"),
    "direct": gettext_lazy("Direct"),
    "email": gettext_lazy("E-mail"),
    "paid": gettext_lazy("Paid"),
    "marketplace": gettext_lazy("Marketplace"),
    "other": gettext_lazy("Other"),
}
EXPORTS = (*selectors.BREAKDOWNS, "timeseries", "funnel", "revenue_by_source", "not_found", "drops")


def _params(request):
    """(site domain, form, filters) from the query string."""
    form = RangeForm(request.GET or None)
    if not form.is_bound:
        form = RangeForm({"period": "30d"})
    site = request.GET.get("site") or ""
    sites = list(selectors.sites_list().filter(is_active=True))
    if not site and sites:
        site = sites[0].domain
    filters = {k: request.GET[k] for k in metrics.DIMENSIONS if request.GET.get(k)}
    return site, sites, form, filters


@require("analytics.view")
def index(request):
    site, sites, form, filters = _params(request)
    context = {
        "site": site,
        "sites": sites,
        "form": form,
        "filters": filters,
        "presets": PRESETS,
        "panel_labels": PANEL_LABELS,
        "source_labels": SOURCE_LABELS,
        "snippet": f'<script defer src="{settings.BASE_URL}/z.js" data-site="{site or "shop.example"}"></script>',
    }
    if not form.is_valid() or not site:
        return render(request, "analytics/index.html", context, status=400 if form.errors else 200)
    start, end = form.cleaned_data["date_from"], form.cleaned_data["date_to"]
    data = selectors.dashboard(site=site, date_from=start, date_to=end, filters=filters)
    cards = []
    for c in data["cards"]:
        if c["key"] in CARD_LABELS:
            cards.append({**c, "label": CARD_LABELS[c["key"]]})
    panels = []
    for dim in (
        "source",
        "referrer",
        "page",
        "entry_page",
        "exit_page",
        "utm_campaign",
        "device",
        "browser",
        "os",
    ):
        rows = [
            {**r, "url": _with(request, **{dim: r["value"]}), "label": _label(dim, r["value"])}
            for r in data["breakdowns"][dim]
        ]
        panels.append(
            {"key": dim, "label": PANEL_LABELS[dim], "rows": rows, "csv": _export_url(request, dim)}
        )
    revenue = [
        {**r, "url": _with(request, source=r["value"]), "label": _label("source", r["value"])}
        for r in data["revenue_by_source"]
    ]
    chips = [
        {
            "key": k,
            "label": PANEL_LABELS.get(k, k),
            "value": _label(k, v),
            "remove": _with(request, **{k: None}),
        }
        for k, v in filters.items()
    ]
    context.update(
        {
            "data": data,
            "cards": cards,
            "chips": chips,
            "revenue": revenue,
            "csv": {
                t: _export_url(request, t)
                for t in ("timeseries", "funnel", "revenue_by_source", "not_found", "drops")
            },
            "panels": panels,
            "date_from": start,
            "date_to": end,
            "funnel": [{**s, "label": FUNNEL_LABELS[s["step"]]} for s in data["funnel"]],
            "realtime": metrics.realtime(site=site),
            "timeseries_spec": charts.timeseries_chart(data["timeseries"], start=start, end=end),
            "funnel_spec": charts.funnel_chart(data["funnel"], {k: str(v) for k, v in FUNNEL_LABELS.items()}),
        }
    )
    return render(request, "analytics/index.html", context)


def _with(request, **changes) -> str:
    params = request.GET.copy()
    for key, value in changes.items():
        if value in (None, ""):
            params.pop(key, None)
        else:
            params[key] = value
    return "?" + params.urlencode()


def _export_url(request, table: str) -> str:
    params = request.GET.copy()
    params["table"] = table
    return reverse("analytics:export") + "?" + params.urlencode()


def _label(dim: str, value) -> str:
    if dim == "source":
        return str(SOURCE_LABELS.get(value, value))
    return str(value)


@require("analytics.view")
def realtime(request):
    site = request.GET.get("site", "")
    return render(
        request, "analytics/_realtime.html", {"realtime": metrics.realtime(site=site) if site else None}
    )


@require("analytics.view")
def export_csv(request):
    """Any table of the dashboard as CSV, with the page's period and filters (`?table=source&...`)."""
    table = request.GET.get("table", "")
    if table not in EXPORTS:
        raise Http404
    site, _sites, form, filters = _params(request)
    if not form.is_valid() or not site:
        return HttpResponse(_("Choose a site and a valid period."), status=400, content_type="text/plain")
    start, end = form.cleaned_data["date_from"], form.cleaned_data["date_to"]
    data = selectors.dashboard(site=site, date_from=start, date_to=end, filters=filters, limit=1000)
    if table in selectors.BREAKDOWNS:
        header, rows = ["value", "visitors", "visits", "pageviews"], data["breakdowns"][table]
    elif table == "timeseries":
        header, rows = ["day", "visitors", "visits", "pageviews"], data["timeseries"]
    elif table == "funnel":
        header, rows = ["step", "visits", "from_previous", "drop_off"], data["funnel"]
    elif table == "revenue_by_source":
        header = ["value", "visits", "orders", "conversion_rate", "revenue", "cancelled_or_refunded"]
        rows = data["revenue_by_source"]
    elif table == "not_found":
        header, rows = ["path", "hits"], data["not_found"]
    else:
        header, rows = ["step", "reason", "count"], data["drops"]
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="traffic-{table}-{start}-{end}.csv"'
    writer = csv.writer(response)
    writer.writerow(header)
    for row in rows:
        writer.writerow([_csv_cell(row.get(k)) for k in header])
    return response


def _csv_cell(value):
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text  # no formulas in spreadsheets


@require("analytics.manage")
def sites(request):
    form = SiteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            site = services.site_create(actor=request.user, **form.cleaned_data)
        except DomainError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            messages.success(request, _("Site %(domain)s added.") % {"domain": site.domain})
            return redirect("analytics:sites")
    return render(
        request,
        "analytics/sites.html",
        {
            "form": form,
            "sites": selectors.sites_list(),
            "base_url": settings.BASE_URL,
            "retention_days": settings.ANALYTICS_RETENTION_DAYS,
        },
        status=400 if form.errors else 200,
    )


@require("analytics.manage")
@require_POST
def site_toggle(request, site_id: int):
    site = Site.objects.filter(pk=site_id).first()
    if site is None:
        raise Http404
    services.site_update(
        site_id=site.pk,
        name=site.name,
        allowed_origins=site.allowed_origins,
        is_active=not site.is_active,
        actor=request.user,
    )
    return redirect(reverse("analytics:sites"))
