"""Storefront check screens (/products/site-check/): start a check, the list of runs, a run's report
(counts, mismatches per product with expected vs found, filter by problem, CSV), a product's history.
Thin doors: writes through `sitecheck.site_check_start`, reads through the selectors in `sitecheck`."""

from __future__ import annotations

import csv

from django import forms
from django.core.paginator import Paginator
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from zaplecze.core.access import require
from zaplecze.core.errors import DomainError, NotFound
from zaplecze.core.permissions import user_has

from . import sitecheck
from .models import Offer, Product

PAGE_SIZE = 50


class SiteCheckForm(forms.Form):
    base_url = forms.CharField(
        label=gettext_lazy("Shop address"),
        max_length=500,
        required=False,
        help_text=gettext_lazy(
            "e.g. https://shop.example.pl/ (robots.txt and /sitemap.xml are read from here)"
        ),
    )
    sitemap_url = forms.CharField(
        label=gettext_lazy("Sitemap address"),
        max_length=500,
        required=False,
        help_text=gettext_lazy("Optional; sitemap index files and .xml.gz work too"),
    )
    urls = forms.CharField(
        label=gettext_lazy("Or these pages only"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy("One URL per line; when given, the sitemap is not read"),
    )
    channel = forms.CharField(
        label=gettext_lazy("Channel"),
        max_length=40,
        required=False,
        help_text=gettext_lazy("Channel code whose prices the shop shows; empty = base price"),
    )
    max_pages = forms.IntegerField(
        label=gettext_lazy("Page cap"), min_value=1, max_value=sitecheck.MAX_PAGES_LIMIT, initial=500
    )
    rate = forms.FloatField(
        label=gettext_lazy("Requests per second"),
        min_value=0.1,
        max_value=20,
        initial=2,
        help_text=gettext_lazy("Per host; keep it low on a live shop"),
    )
    nightly = forms.BooleanField(label=gettext_lazy("Repeat every night"), required=False)

    def clean(self):
        data = super().clean()
        if not data.get("base_url") and not (data.get("urls") or "").strip():
            self.add_error("base_url", _("Enter the shop address, or list the pages to check."))
        return data


def _params(form: SiteCheckForm) -> sitecheck.CheckParams:
    d = form.cleaned_data
    return sitecheck.CheckParams(
        base_url=d["base_url"],
        sitemap_url=d["sitemap_url"],
        urls=[line.strip() for line in (d["urls"] or "").splitlines() if line.strip()],
        channel=d["channel"],
        max_pages=d["max_pages"],
        rate=d["rate"],
        nightly=d["nightly"],
    )


def _index(request, form: SiteCheckForm, status: int = 200):
    page = Paginator(sitecheck.runs(), PAGE_SIZE).get_page(request.GET.get("page"))
    channels = sorted(set(Offer.objects.values_list("channel", flat=True).distinct()[:50]))
    return render(
        request,
        "catalog/sitecheck_index.html",
        {
            "page": page,
            "form": form,
            "channels": channels,
            "can_start": user_has(request.user, "catalog.edit"),
        },
        status=status,
    )


@require("catalog.view")
def index(request):
    latest = sitecheck.runs().first()
    initial = {}
    if latest is not None:
        p = sitecheck.run_params(latest)
        initial = {"base_url": p.base_url, "sitemap_url": p.sitemap_url, "channel": p.channel}
    return _index(request, SiteCheckForm(initial=initial))


@require("catalog.edit")
@require_POST
def start(request):
    form = SiteCheckForm(request.POST)
    if form.is_valid():
        try:
            run = sitecheck.site_check_start(params=_params(form), actor=request.user)
        except DomainError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            return redirect("catalog:sitecheck_run", sc_run_id=run.pk)
    return _index(request, form, status=400)


def _run(run_id: int):
    try:
        return sitecheck.access_run(run_id)
    except NotFound:
        raise Http404 from None


def _filters(request) -> dict:
    code = request.GET.get("code", "")
    return {
        "code": code if code in sitecheck.ALL_CODES else "",
        "all": request.GET.get("all") == "1",
        "q": (request.GET.get("q") or "").strip()[:100],
    }


@require("catalog.view")
def run_detail(request, sc_run_id: int):
    run = _run(sc_run_id)
    total = sitecheck.run_total(run)
    if request.htmx and request.GET.get("progress"):
        return render(request, "catalog/sitecheck_progress.html", {"run": run, "total": total})
    f = _filters(request)
    rows = sitecheck.run_results(run.pk, code=f["code"], problems_only=not f["all"], q=f["q"])
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    labels = sitecheck.code_labels()
    for row in page.object_list:
        row.state = sitecheck.row_state(row.problems)
        row.problems = sitecheck.for_display(row.problems)
    counts = sitecheck.run_code_counts(run.pk)
    rows_total = sitecheck.run_row_count(run.pk)
    params = {k: v for k, v in (("code", f["code"]), ("q", f["q"]), ("all", "1" if f["all"] else "")) if v}
    return render(
        request,
        "catalog/sitecheck_run.html",
        {
            "run": run,
            "total": total,
            "params": sitecheck_params_text(params),
            "check": sitecheck.run_params(run),
            "page": page,
            "f": f,
            "codes": [(c, labels[c], counts.get(c, 0)) for c in sitecheck.ALL_CODES],
            "unknown": max(0, rows_total - run.ok - run.mismatched - run.failed),
        },
    )


def sitecheck_params_text(params: dict) -> str:
    from urllib.parse import urlencode

    return urlencode(params)


@require("catalog.view")
def run_csv(request, sc_run_id: int):
    run = _run(sc_run_id)
    f = _filters(request)

    class Echo:
        def write(self, value):
            return value

    writer = csv.writer(Echo())
    rows = sitecheck.export_rows(run.pk, code=f["code"], problems_only=not f["all"], q=f["q"])
    response = StreamingHttpResponse(
        (writer.writerow(r) for r in rows), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="site-check-{run.pk}.csv"'
    return response


@require("catalog.view")
def product_history(request, sc_product_id: int):
    product = Product.objects.filter(pk=sc_product_id).first()
    if product is None:
        raise Http404
    checks = sitecheck.product_checks(product.pk, runs_back=20)
    labels = sitecheck.code_labels()
    for row in checks["latest"]:
        row.problems = sitecheck.for_display(row.problems)
    for entry in checks["trend"]:
        entry["labels"] = sorted(labels.get(c, c) for c in entry["codes"])
    return render(request, "catalog/sitecheck_product.html", {"product": product, "checks": checks})
