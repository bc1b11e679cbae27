from __future__ import annotations

from django.db import connection
from django.http import JsonResponse
from django.shortcuts import render

from zaplecze.core import selectors as core_selectors
from zaplecze.core.access import public, require
from zaplecze.inventory import selectors as stock_selectors
from zaplecze.orders import selectors as order_selectors

from . import charts


@require("dashboard.view")
def dashboard(request):
    figures = order_selectors.dashboard_figures()
    return render(request, "web/dashboard.html", {
        "f": figures,
        "chart_spec": charts.daily_revenue_chart(figures["daily"]),
    })


@require("stock.view")
def stock(request):
    q = request.GET.get("q", "").strip()[:64]
    levels = stock_selectors.stock_levels(q=q, low_only=request.GET.get("low") == "1")[:300]
    return render(request, "web/stock.html", {"levels": levels, "q": q})


@require("jobs.view")
def jobs(request):
    return render(request, "web/jobs.html", {"jobs": core_selectors.jobs_for(request.user)})


@require("jobs.view")
def job_detail(request, job_id: int):
    from django.http import Http404

    from zaplecze.core.errors import NotFound

    try:
        job = core_selectors.access_job(request.user, job_id)
    except NotFound:
        raise Http404
    template = "web/_job_progress.html" if request.htmx else "web/job.html"
    return render(request, template, {"job": job})


@public
def healthz(request):
    with connection.cursor() as cur:
        cur.execute("SELECT 1")
    return JsonResponse({"status": "ok"})
