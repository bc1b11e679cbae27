"""The Insights tab (/reports/insights/): findings grouped by kind, with state filters and the state buttons.
Thin: reads from insights_selectors, writes through insights_services."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from zaplecze.core.access import require
from zaplecze.core.businesstime import local_today
from zaplecze.core.errors import DomainError

from . import insights_selectors as selectors
from . import insights_services as services
from .models import Insight


def _filters(params) -> tuple[str, str]:
    state = params.get("state") or selectors.OPEN_FILTER
    kind = params.get("kind") or ""
    return (
        state if state in selectors.STATE_FILTERS else selectors.OPEN_FILTER,
        kind if kind in Insight.Kind.values else "",
    )


def _back(params, state_key: str = "state") -> str:
    state, kind = _filters({"state": params.get(state_key), "kind": params.get("kind")})
    query = {k: v for k, v in (("state", state), ("kind", kind)) if v and v != selectors.OPEN_FILTER}
    return reverse("reports:insights") + ("?" + urlencode(query) if query else "")


@require("reports.view")
def index(request):
    state, kind = _filters(request.GET)
    items = list(selectors.insights_list(state=state, kind=kind))
    return render(
        request,
        "reports/insights.html",
        {
            "groups": selectors.grouped(items),
            "count": len(items),
            "state": state,
            "kind": kind,
            "states": [
                (selectors.OPEN_FILTER, _("Open")),
                *Insight.State.choices,
                ("all", _("All")),
            ],
            "kinds": Insight.Kind.choices,
        },
    )


@require("reports.manage")
@require_POST
def state(request, insight_id: int):
    try:
        services.insight_transition(
            insight_id=insight_id,
            state=request.POST.get("state", ""),
            actor=request.user,
            note=(request.POST.get("note") or "").strip(),
        )
    except DomainError as exc:
        if exc.status == 404:
            from django.http import Http404

            raise Http404 from exc
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Insight updated."))
    return redirect(_back(request.POST, "state_filter"))


@require("reports.manage")
@require_POST
def refresh(request):
    result = services.insights_refresh(local_today())
    messages.success(
        request,
        _("Insights refreshed: %(new)s new, %(updated)s updated.")
        % {"new": len(result["created"]), "updated": len(result["updated"])},
    )
    if result["failed"]:
        messages.warning(request, _("Some rules failed: %s") % ", ".join(result["failed"]))
    return redirect(_back(request.POST))
