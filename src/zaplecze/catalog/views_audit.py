"""Screens of the catalog quality audit: the to-fix list (with CSV export), the rule settings, "run now".

Thin doors: writes go through `audit.rule_update` and the worker job, reads through `audit` selectors.
"""

from __future__ import annotations

import csv
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.db import transaction
from django.http import StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from zaplecze.core.access import require
from zaplecze.core.errors import DomainError
from zaplecze.core.permissions import user_has
from zaplecze.core.services import job_create

from . import audit
from .audit_rules import RULES, SEVERITIES
from .models import AuditRuleConfig, Category, Product

PAGE_SIZE = 100
SEVERITY_COLOURS = {"error": "#b42318", "warning": "#b54708", "info": "#475467"}


def _filter(request) -> tuple[audit.FindingFilter, dict[str, str]]:
    g = request.GET
    raw = {k: (g.get(k) or "").strip()[:120] for k in ("rule", "severity", "category", "brand", "status")}
    f = audit.FindingFilter(
        rule=raw["rule"] if raw["rule"] in audit.RULES_BY_CODE else "",
        severity=raw["severity"] if raw["severity"] in SEVERITIES else "",
        category_id=int(raw["category"]) if raw["category"].isdigit() else None,
        brand=raw["brand"],
        status=raw["status"] if raw["status"] in Product.Status.values else "",
    )
    return f, raw


def _rows(qs):
    labels = {r.code: r for r in RULES}
    for f in qs:
        rule = labels.get(f.rule)
        yield {
            "finding": f,
            "label": str(rule.label) if rule else f.rule,
            "message": audit.finding_message(f.rule, f.details),
            "explanation": str(rule.explanation) if rule else "",
            "fix_url": audit.fix_url(f.product_id),
            "colour": SEVERITY_COLOURS.get(f.severity, "#6b7280"),
        }


@require("catalog.view")
def audit_list(request):
    f, raw = _filter(request)
    qs = audit.findings(f)
    if request.GET.get("format") == "csv":
        return _csv(qs)
    after = request.GET.get("after", "")
    if after.isdigit():
        qs = qs.filter(id__gt=int(after))
    page = list(qs[: PAGE_SIZE + 1])
    has_next = len(page) > PAGE_SIZE
    page = page[:PAGE_SIZE]
    query = urlencode({k: v for k, v in raw.items() if v})
    summary = audit.catalog_summary()
    for r in summary["rules"]:
        r["colour"] = SEVERITY_COLOURS.get(r["severity"], "#6b7280")
        r["severity_label"] = AuditRuleConfig.Severity(r["severity"]).label
    return render(
        request,
        "catalog/audit_list.html",
        {
            "summary": summary,
            "rows": list(_rows(page)),
            "next_after": page[-1].pk if has_next and page else None,
            "first_page": not after,
            "query": query,
            "raw": raw,
            "rules": audit.audit_rule_choices(),
            "severities": AuditRuleConfig.Severity.choices,
            "statuses": Product.Status.choices,
            "categories": Category.objects.order_by("name").values_list("id", "name")[:500],
            "brands": Product.objects.exclude(brand="")
            .order_by("brand")
            .values_list("brand", flat=True)
            .distinct()[:500],
            "severity_colours": SEVERITY_COLOURS,
            "can_run": user_has(request.user, "catalog.edit"),
            "can_settings": user_has(request.user, "settings.catalog"),
        },
    )


class _Echo:
    def write(self, value):
        return value


def _csv(qs):
    writer = csv.writer(_Echo())

    def rows():
        yield "\ufeff"
        yield writer.writerow(
            [
                _("Product id"),
                _("Product"),
                "SKU",
                _("Rule"),
                _("Severity"),
                _("Problem"),
                _("Fix at"),
                _("Found"),
            ]
        )
        last = 0
        while True:
            chunk = list(qs.filter(id__gt=last)[:2000])
            if not chunk:
                return
            for row in _rows(chunk):
                f = row["finding"]
                yield writer.writerow(
                    [
                        f.product_id,
                        _safe(f.product.name),
                        _safe(f.variant.sku if f.variant_id else ""),
                        f.rule,
                        f.severity,
                        _safe(row["message"]),
                        row["fix_url"],
                        f.found_at.isoformat(),
                    ]
                )
            last = chunk[-1].pk

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="catalog-audit.csv"'
    return response


def _safe(value: str) -> str:
    """No spreadsheet formulas from product data (CSV injection)."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


@require("catalog.edit")
@require_POST
def audit_run_now(request):
    from .tasks_audit import audit_full_job

    job = job_create(kind="catalog.audit", title=_("Catalog audit"), owner=request.user)
    transaction.on_commit(lambda: audit_full_job(job.pk))
    return redirect("web:job", job_id=job.pk)


# --- rule settings ---------------------------------------------------------------------------------------


def _field_name(code: str, name: str) -> str:
    return f"{code}__{name}"


class RulesForm(forms.Form):
    """All rules on one page: per rule enabled, severity and its params (fields named `<code>__<name>`)."""

    def __init__(self, *args, settings: dict[str, audit.RuleSettings], **kwargs):
        super().__init__(*args, **kwargs)
        self.settings = settings
        for rule in RULES:
            s = settings[rule.code]
            self.fields[_field_name(rule.code, "enabled")] = forms.BooleanField(
                label=gettext_lazy("Enabled"), required=False, initial=s.enabled
            )
            self.fields[_field_name(rule.code, "severity")] = forms.ChoiceField(
                label=gettext_lazy("Severity"), choices=AuditRuleConfig.Severity.choices, initial=s.severity
            )
            for p in rule.params:
                value = s.params[p.name]
                initial = ", ".join(value) if p.kind == "phrases" else value
                self.fields[_field_name(rule.code, p.name)] = forms.CharField(
                    label=p.label,
                    required=p.kind != "phrases",
                    initial=initial,
                    help_text=p.help,
                    max_length=5000,
                )

    def clean(self):
        data = super().clean()
        for rule in RULES:
            for p in rule.params:
                name = _field_name(rule.code, p.name)
                if name not in data:
                    continue
                try:
                    data[name] = p.clean(data[name])
                except ValueError as exc:
                    self.add_error(name, str(exc))
        return data

    def rule_rows(self):
        for rule in RULES:
            yield {
                "rule": rule,
                "enabled": self[_field_name(rule.code, "enabled")],
                "severity": self[_field_name(rule.code, "severity")],
                "params": [self[_field_name(rule.code, p.name)] for p in rule.params],
            }


@require("settings.catalog")
def audit_rules(request):
    settings = audit.rule_settings()
    form = RulesForm(request.POST or None, settings=settings)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            with transaction.atomic():
                for rule in RULES:
                    audit.rule_update(
                        code=rule.code,
                        enabled=data[_field_name(rule.code, "enabled")],
                        severity=data[_field_name(rule.code, "severity")],
                        params={p.name: data[_field_name(rule.code, p.name)] for p in rule.params},
                        actor=request.user,
                    )
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, _("Audit rules saved. They apply from the next audit run."))
            return redirect("catalog:audit_rules")
    return render(
        request,
        "catalog/audit_rules.html",
        {"form": form, "rows": list(form.rule_rows()), "can_run": user_has(request.user, "catalog.edit")},
        status=400 if form.errors else 200,
    )
