"""Screens of storefront monitoring (Shop health): the checks with their state and uptime, a check's charts,
results and incidents, the incidents list, and the forms to add, change and delete checks. Thin doors:
writes go through `services`, reads through `selectors`."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from zaplecze.core.access import require
from zaplecze.core.errors import DomainError, NotFound
from zaplecze.core.permissions import user_has
from zaplecze.core.viewhelpers import form_error as _form_error
from zaplecze.core.viewhelpers import or_404 as _get

from . import charts, selectors, services
from .forms import CheckForm
from .models import CheckState, IncidentKind, IncidentState, StorefrontCheck

VIEW = "monitoring.view"
MANAGE = "monitoring.manage"


@require(VIEW)
def index(request):
    state = request.GET.get("state", "")
    if state not in CheckState.values:
        state = ""
    rows = selectors.checks_overview(state=state)
    every = rows if not state else selectors.checks_overview()
    counts = {s: sum(1 for r in every if r.check.state == s) for s in CheckState.values}
    open_incidents = selectors.incidents(state=IncidentState.OPEN).count()
    return render(
        request,
        "monitoring/index.html",
        {
            "rows": rows,
            "state": state,
            "states": CheckState.choices,
            "counts": counts,
            "total": len(every),
            "open_incidents": open_incidents,
            "can_manage": user_has(request.user, MANAGE),
        },
    )


@require(VIEW)
def check_detail(request, monitor_check_id: int):
    check = _get(selectors.check_get, monitor_check_id)
    window = request.GET.get("window", "24h")
    if window not in selectors.WINDOWS:
        window = "24h"
    now = timezone.now()
    failed_only = request.GET.get("failed") == "1"
    page = Paginator(selectors.results(check.pk, failed_only=failed_only), 50).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "monitoring/check_detail.html",
        {
            "check": check,
            "window": window,
            "windows": list(selectors.WINDOWS),
            "uptime": selectors.uptimes([check.pk], now=now).get(check.pk, dict.fromkeys(selectors.WINDOWS)),
            "response_chart": charts.response_time(
                selectors.response_series(check.pk, window=window, now=now), window=window
            ),
            "uptime_chart": charts.uptime_bars(
                selectors.uptime_series(check.pk, window=window, now=now), window=window
            ),
            "incidents": list(selectors.incidents(check_id=check.pk)[:20]),
            "page": page,
            "failed_only": failed_only,
            "can_manage": user_has(request.user, MANAGE),
        },
    )


@require(VIEW)
def incidents(request):
    state = request.GET.get("state", "")
    state = state if state in IncidentState.values else ""
    kind = request.GET.get("kind", "")
    kind = kind if kind in IncidentKind.values else ""
    check_id = request.GET.get("check", "")
    check_id = int(check_id) if check_id.isdigit() and len(check_id) < 12 else None
    page = Paginator(selectors.incidents(state=state, check_id=check_id, kind=kind), 50).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "monitoring/incidents.html",
        {
            "page": page,
            "state": state,
            "kind": kind,
            "check_id": check_id,
            "states": IncidentState.choices,
            "kinds": IncidentKind.choices,
            "checks": StorefrontCheck.objects.order_by("name").only("pk", "name"),
            "can_manage": user_has(request.user, MANAGE),
        },
    )


@require(MANAGE)
def check_new(request):
    form = CheckForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            check = services.check_create(values=form.values(), actor=request.user)
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, _("Check saved. It runs within a minute."))
            return redirect("monitoring:check", check.pk)
    return render(request, "monitoring/check_form.html", {"form": form, "check": None})


@require(MANAGE)
def check_edit(request, monitor_check_id: int):
    check = _get(selectors.check_get, monitor_check_id)
    initial = {f: getattr(check, f) for f in services.FIELDS}
    form = CheckForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.check_update(check_id=check.pk, values=form.values(), actor=request.user)
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, _("Check saved."))
            return redirect("monitoring:check", check.pk)
    return render(request, "monitoring/check_form.html", {"form": form, "check": check})


@require(MANAGE)
def check_delete(request, monitor_check_id: int):
    check = _get(selectors.check_get, monitor_check_id)
    if request.method == "POST":
        services.check_delete(check_id=check.pk, actor=request.user)
        messages.success(request, _("Check %(name)s deleted with its history.") % {"name": check.name})
        return redirect("monitoring:index")
    return render(
        request,
        "monitoring/check_delete.html",
        {"check": check, "results": check.results.count(), "incidents": check.incidents.count()},
    )


@require(MANAGE)
@require_POST
def check_run(request, monitor_check_id: int):
    try:
        result = services.check_run(check_id=monitor_check_id, actor=request.user)
    except NotFound:
        raise Http404 from None
    if result.ok:
        messages.success(
            request,
            _("Up: HTTP %(status)s in %(ms)s ms.") % {"status": result.status_code, "ms": result.response_ms},
        )
    else:
        messages.error(request, _("Failed: %(error)s") % {"error": result.error})
    return redirect("monitoring:check", monitor_check_id)


def _back(request, incident) -> str:
    target = request.POST.get("next", "")
    if target.startswith("/monitoring/") and "//" not in target:
        return target
    return reverse("monitoring:check", args=[incident.check_ref_id])


@require(MANAGE)
@require_POST
def incident_ticket(request, monitor_incident_id: int):
    incident = _get(selectors.incident_get, monitor_incident_id)
    try:
        incident = services.incident_open_ticket(incident_id=incident.pk, actor=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request, _("Ticket %(number)s opened in the IT queue.") % {"number": incident.ticket.number}
        )
    return redirect(_back(request, incident))


@require(MANAGE)
@require_POST
def incident_close(request, monitor_incident_id: int):
    incident = _get(selectors.incident_get, monitor_incident_id)
    try:
        services.incident_close(
            incident_id=incident.pk, actor=request.user, note=request.POST.get("note", "")
        )
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Incident closed."))
    return redirect(_back(request, incident))
