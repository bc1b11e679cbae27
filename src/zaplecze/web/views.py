from __future__ import annotations

import datetime as dt
from decimal import Decimal
from urllib.parse import urlencode

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from zaplecze.core import selectors as core_selectors
from zaplecze.core.access import require
from zaplecze.core.errors import DomainError, NotFound
from zaplecze.core.permissions import user_has
from zaplecze.inventory import selectors as stock_selectors
from zaplecze.inventory.models import Warehouse
from zaplecze.orders import selectors as order_selectors
from zaplecze.orders.models import OPEN_STAGES, Stage

from . import charts

# The dashboard's sales figures leave out cancelled orders; its links filter the queue the same way.
SALES_STAGES = ",".join(s for s in Stage.values if s != Stage.CANCELLED)
WAITING_STAGES = f"{Stage.READY},{Stage.IN_FULFILMENT}"

STOCK_PAGE_SIZE = 50


def _queue_url(**params) -> str:
    return reverse("orders:queue") + "?" + urlencode({k: v for k, v in params.items() if v not in (None, "")})


def _open_work_by_channel(now: dt.datetime) -> dict[str, dict]:
    """Per channel: orders waiting to ship and open orders past their ship-by time (one query)."""
    rows = (
        order_selectors.orders_filtered(order_selectors.OrderFilter(stage=list(OPEN_STAGES)))
        .values("channel__code", "channel__name")
        .annotate(
            waiting=Count("id", filter=Q(stage__in=[Stage.READY, Stage.IN_FULFILMENT])),
            late=Count("id", filter=Q(ship_by__lt=now)),
        )
    )
    return {r["channel__code"]: r for r in rows}


@require("dashboard.view")
@require_safe
def home(request):
    """The home page is Today: what needs someone now (the dashboard of figures is one click away)."""
    return redirect(reverse("today:index"))


@require("dashboard.view")
@require_safe
def dashboard(request):
    now = timezone.now()
    figures = order_selectors.dashboard_figures(now=now)
    today: dt.date = figures["today"]
    for p in figures["periods"]:
        p.date_from = today - dt.timedelta(days=p.days - 1)
        p.url = _queue_url(stage=SALES_STAGES, date_from=p.date_from.isoformat(), date_to=today.isoformat())
    start30 = (today - dt.timedelta(days=29)).isoformat()
    open_work = _open_work_by_channel(now)
    total30 = sum((c["revenue"] or Decimal(0) for c in figures["by_channel"]), Decimal(0))
    channels = []
    seen = set()
    for c in figures["by_channel"]:
        code = c["channel__code"]
        seen.add(code)
        work = open_work.get(code, {})
        channels.append(
            {
                "code": code,
                "name": c["channel__name"],
                "orders": c["orders"],
                "revenue": c["revenue"] or Decimal(0),
                "share": float((c["revenue"] or 0) / total30) if total30 else None,
                "aov": (c["revenue"] / c["orders"]).quantize(Decimal("0.01"))
                if c["orders"] and c["revenue"]
                else None,
                "waiting": work.get("waiting", 0),
                "late": work.get("late", 0),
            }
        )
    for code, work in open_work.items():
        if code not in seen and (work["waiting"] or work["late"]):
            channels.append(
                {
                    "code": code,
                    "name": work["channel__name"],
                    "orders": 0,
                    "revenue": Decimal(0),
                    "share": None,
                    "aov": None,
                    "waiting": work["waiting"],
                    "late": work["late"],
                }
            )
    for c in channels:
        c["url"] = _queue_url(
            channel=c["code"], stage=SALES_STAGES, date_from=start30, date_to=today.isoformat()
        )
        c["waiting_url"] = _queue_url(channel=c["code"], stage=WAITING_STAGES)
        c["late_url"] = _queue_url(channel=c["code"], late="1")
    return render(
        request,
        "web/dashboard.html",
        {
            "f": figures,
            "channels": channels,
            "total30": total30,
            "links": {
                "waiting": _queue_url(stage=WAITING_STAGES, sort="ship_by"),
                "late": _queue_url(late="1", sort="ship_by"),
                "attention": _queue_url(needs_attention="1", stage=SALES_STAGES),
            },
            "chart_spec": charts.daily_revenue_chart(
                figures["daily"], start=today - dt.timedelta(days=29), end=today
            ),
        },
    )


@require("stock.view")
@require_safe
def stock(request):
    q = request.GET.get("q", "").strip()[:64]
    warehouse = request.GET.get("warehouse", "").strip()[:20]
    low = request.GET.get("low") == "1"
    bin_code = request.GET.get("bin", "").strip()[:40]
    levels = stock_selectors.stock_levels(q=q, warehouse=warehouse, low_only=low, location=bin_code)
    page = Paginator(levels, STOCK_PAGE_SIZE).get_page(request.GET.get("page"))
    params = request.GET.copy()
    params.pop("page", None)
    warehouses = list(Warehouse.objects.order_by("priority", "code"))
    current = next((w for w in warehouses if w.code == warehouse), None)
    return render(
        request,
        "web/stock.html",
        {
            "page": page,
            "levels": page.object_list,
            "q": q,
            "low": low,
            "warehouse": warehouse,
            "bin": bin_code,
            "bins": stock_selectors.active_locations(current.pk)
            if current
            else stock_selectors.active_locations(None),
            "warehouses": warehouses,
            "base_query": params.urlencode(),
            "tab": "levels",
        },
    )


def _stock_level_or_404(level_id: int):
    level = stock_selectors.access_stock_level(level_id)
    if level is None:
        raise Http404
    return level


def _render_stock_level(request, level, *, form_error: str = "", status: int = 200):
    from zaplecze.inventory.models import StockMovement

    return render(
        request,
        "web/stock_level.html",
        {
            "level": level,
            "movements": stock_selectors.level_movements(level),
            "reservations": stock_selectors.level_reservations(level),
            "audit": core_selectors.audit_for("inventory.stocklevel", level.pk)
            if user_has(request.user, "audit.view")
            else None,
            "kinds": [
                (k, label)
                for k, label in StockMovement.Kind.choices
                if k in {"receipt", "adjustment", "return"}
            ],
            "form_error": form_error,
            "form": request.POST if request.method == "POST" else {},
            "bins": stock_selectors.active_locations(level.warehouse_id),
        },
        status=status,
    )


@require("stock.view")
@require_safe
def stock_level(request, level_id: int):
    """One stock level: figures, the ledger of its movements, open reservations and its audit log."""
    return _render_stock_level(request, _stock_level_or_404(level_id))


@require("stock.adjust")
@require_POST
def stock_adjust(request, level_id: int):
    from zaplecze.inventory import services as stock_services

    level = _stock_level_or_404(level_id)
    reason = request.POST.get("reason", "").strip()
    try:
        delta = int(request.POST.get("delta", ""))
    except ValueError:
        return _render_stock_level(
            request, level, form_error=_("Quantity: enter a whole number, e.g. 5 or -2."), status=400
        )
    if not reason:
        return _render_stock_level(
            request, level, form_error=_("Give a reason for the adjustment."), status=400
        )
    try:
        stock_services.stock_adjust(
            variant=level.variant,
            warehouse=level.warehouse,
            delta=delta,
            kind=request.POST.get("kind", "adjustment"),
            reason=reason,
            reference=request.POST.get("reference", "").strip()[:100],
            actor=request.user,
        )
    except DomainError as exc:
        return _render_stock_level(request, level, form_error=str(exc.message), status=409)
    messages.success(request, _("Stock adjusted."))
    return redirect("web:stock_level", level_id=level.pk)


@require("jobs.view")
@require_safe
def jobs(request):
    return render(request, "web/jobs.html", {"jobs": core_selectors.jobs_for(request.user)})


@require("jobs.view")
@require_safe
def job_detail(request, job_id: int):
    try:
        job = core_selectors.access_job(request.user, job_id)
    except NotFound:
        raise Http404
    template = "web/_job_progress.html" if request.htmx else "web/job.html"
    return render(request, template, {"job": job})
