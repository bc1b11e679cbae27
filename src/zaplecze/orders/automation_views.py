"""Settings -> Automation: the rule list (switch on/off, order), the rule editor, the dry run and the rule log.

Thin doors: writes through `automation_services`, reads through `automation_selectors`."""

from __future__ import annotations

import csv

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from zaplecze.core import selectors as core_selectors
from zaplecze.core.access import require
from zaplecze.core.errors import DomainError, NotFound
from zaplecze.core.formatting import format_datetime
from zaplecze.core.permissions import user_has

from . import automation, automation_forms, automation_selectors, automation_services
from .models import AutomationRun, AutomationTrigger

PERM = "settings.automation"
LOG_PAGE_SIZE = 50
LOG_EXPORT_LIMIT = 50_000


def _rule(request, rule_id: int):
    try:
        return automation_selectors.access_rule(request.user, rule_id)
    except NotFound as exc:
        raise Http404(str(exc)) from exc


@require(PERM)
@require_safe
def rule_list(request):
    rules = automation_selectors.rules_with_counts()
    for r in rules:
        r.summary = automation.rule_summary(r)
    return render(request, "orders/automation_list.html", {"rules": rules})


def _editor(request, rule, *, error=None, http_status=200, definition=None):
    definition = definition or automation_forms.definition_of(rule)
    context = automation_forms.editor_context(definition, getattr(error, "field", "") or "")
    context.update(
        {
            "rule": rule,
            "error": error.message if error is not None else "",
            "audit": core_selectors.audit_for(automation_services.AUDIT_TYPE, rule.pk)
            if rule is not None and user_has(request.user, "audit.view")
            else None,
        }
    )
    template = "orders/automation_form.html"
    return render(request, template, context, status=http_status)


def _save(request, rule):
    definition = automation_forms.definition_from_post(request.POST)
    refresh = request.GET.get("refresh") == "1" or (request.POST.get("op") or "") != ""
    if refresh:  # a row added/removed or a type changed: show the form again, nothing saved
        return _editor(request, rule, definition=definition)
    fields = {
        "name": definition["name"],
        "trigger": definition["trigger"],
        "trigger_params": definition["trigger_params"],
        "conditions": [c for c in definition["conditions"] if c.get("type")],
        "actions": [a for a in definition["actions"] if a.get("type")],
        "stop_processing": definition["stop_processing"],
        "enabled": definition["enabled"],
        "actor": request.user,
    }
    try:
        if rule is None:
            rule = automation_services.rule_create(**fields)
        else:
            version = definition["version"]
            rule = automation_services.rule_update(
                rule_id=rule.pk,
                expected_version=int(version) if version.isdigit() else None,
                **fields,
            )
    except DomainError as exc:
        return _editor(request, rule, error=exc, http_status=400, definition=definition)
    messages.success(request, _("Rule “%(name)s” saved.") % {"name": rule.name})
    return redirect("orders:automation")


@require(PERM)
def rule_new(request):
    if request.method == "POST":
        return _save(request, None)
    return _editor(request, None)


@require(PERM)
def rule_edit(request, rule_id: int):
    rule = _rule(request, rule_id)
    if request.method == "POST":
        return _save(request, rule)
    return _editor(request, rule)


@require(PERM)
@require_POST
def rule_toggle(request, rule_id: int):
    rule = _rule(request, rule_id)
    enabled = request.POST.get("enabled") in ("1", "on", "true")
    rule = automation_services.rule_set_enabled(rule_id=rule.pk, enabled=enabled, actor=request.user)
    messages.success(
        request,
        (_("Rule “%(name)s” switched on.") if rule.enabled else _("Rule “%(name)s” switched off."))
        % {"name": rule.name},
    )
    return redirect("orders:automation")


@require(PERM)
@require_POST
def rule_move(request, rule_id: int):
    rule = _rule(request, rule_id)
    try:
        automation_services.rule_move(
            rule_id=rule.pk, direction=request.POST.get("direction") or "", actor=request.user
        )
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect(reverse("orders:automation") + f"#rule-{rule.pk}")


@require(PERM)
@require_POST
def rule_delete(request, rule_id: int):
    rule = _rule(request, rule_id)
    automation_services.rule_delete(rule_id=rule.pk, actor=request.user)
    messages.success(request, _("Rule “%(name)s” deleted; its log stays.") % {"name": rule.name})
    return redirect("orders:automation")


@require(PERM)
def rule_dry_run(request, rule_id: int):
    """GET: what the rule is and a button; POST: the dry run (which open orders match now)."""
    rule = _rule(request, rule_id)
    result = None
    if request.method == "POST":
        result = automation.dry_run(rule_id=rule.pk, actor=request.user)
    return render(
        request,
        "orders/automation_dry_run.html",
        {"rule": rule, "summary": automation.rule_summary(rule), "result": result},
    )


@require(PERM)
@require_safe
def run_log(request):
    f = automation_selectors.RunFilter.from_params(request.GET)
    if request.GET.get("format") == "csv":
        return _log_csv(f)
    page = automation_selectors.run_page(f, cursor=request.GET.get("cursor"), limit=LOG_PAGE_SIZE)
    params = f.as_params()
    context = {
        "f": f,
        "page": page,
        "rules": automation_selectors.rules(),
        "results": AutomationRun.Result.choices,
        "triggers": AutomationTrigger.choices,
        "filter_query": urlencode(params),
        "first_page": not request.GET.get("cursor"),
    }
    if request.headers.get("HX-Request") and request.headers.get("HX-Target") == "log-results":
        return render(request, "orders/_automation_log_results.html", context)
    return render(request, "orders/automation_log.html", context)


def _cell(value) -> str:
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text  # no formulas in spreadsheets


def _log_csv(f) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="automation-log.csv"'
    response.write("\ufeff")
    writer = csv.writer(response)
    writer.writerow(["at", "rule", "order", "trigger", "result", "matched", "actions", "error", "dry_run"])
    qs = automation_selectors.runs_filtered(f).select_related("order").order_by("-at", "-id")
    for run in qs[:LOG_EXPORT_LIMIT].iterator(chunk_size=1000):
        actions = "; ".join(
            str(a.get("message") or a.get("error") or "") for a in run.actions_done if isinstance(a, dict)
        )
        writer.writerow(
            _cell(v)
            for v in [
                format_datetime(run.at),
                run.rule_name,
                run.order.number if run.order else "",
                run.trigger,
                run.result,
                "1" if run.matched else "0",
                actions,
                run.error,
                "1" if run.dry_run else "0",
            ]
        )
    return response
