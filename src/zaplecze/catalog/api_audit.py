"""API of the catalog quality audit (mounted at /api/v1/catalog/audit). Thin: reads through catalog.audit,
writes through `audit.rule_update` and the worker job.

Routes:
  GET  ""                      the catalog score and counts per rule and severity
  GET  /findings               findings (filters: rule, severity, category_id, brand, status, product_id;
                               keyset paging: `after` = the last id of the previous page)
  GET  /rules                  every rule with its settings
  GET  /rules/{audit_rule}     one rule
  PUT  /rules/{audit_rule}     change enabled, severity, params (applies from the next run)
  POST /run                    queue a full audit (a job: see /api/v1/jobs/{job_id})
"""

import datetime as dt
from typing import Any, Literal

from django.db import transaction
from ninja import Path, Query, Router, Schema, Status
from pydantic import Field

from zaplecze.api.permissions import allow
from zaplecze.api.schemas import Id, In, errors, text

from . import audit

router = Router()

Severity = Literal["error", "warning", "info"]


class RuleCountOut(Schema):
    code: str
    label: str
    severity: Severity
    enabled: bool
    findings: int
    products: int


class SummaryOut(Schema):
    score: float | None = Field(
        description="Mean quality score (0-100) of the audited, not archived products"
    )
    products: int = Field(description="Audited products (not archived)")
    products_with_findings: int
    not_audited: int
    findings: int
    by_severity: dict[str, int]
    rules: list[RuleCountOut]
    audited_at: dt.datetime | None


class FindingOut(Schema):
    id: int
    product_id: int
    product: str
    variant_id: int | None
    sku: str | None
    rule: str
    severity: Severity
    message: str
    details: dict[str, Any]
    fix_url: str
    found_at: dt.datetime


class FindingPageOut(Schema):
    items: list[FindingOut]
    next_after: int | None = Field(description="Pass as `after` for the next page; null on the last page")


class FindingQuery(In):
    rule: text(50) = ""
    severity: Severity | Literal[""] = ""
    category_id: Id | None = None
    brand: text(120) = ""
    status: Literal["draft", "active", "archived", ""] = ""
    product_id: Id | None = None
    after: int = Field(0, ge=0, le=2**53)
    limit: int = Field(100, ge=1, le=1000)


class ParamOut(Schema):
    name: str
    label: str
    kind: str
    value: Any
    default: Any


class RuleOut(Schema):
    code: str
    label: str
    explanation: str
    enabled: bool
    severity: Severity
    default_severity: Severity
    params: list[ParamOut]


class RuleIn(In):
    enabled: bool | None = None
    severity: Severity | None = None
    params: dict[str, Any] | None = Field(None, description="Only the params to change, by name")


class RunIn(In):
    pass


class JobOut(Schema):
    job_id: int


def _rule_out(s: audit.RuleSettings) -> dict:
    r = s.rule
    return {
        "code": r.code,
        "label": str(r.label),
        "explanation": str(r.explanation),
        "enabled": s.enabled,
        "severity": s.severity,
        "default_severity": r.severity,
        "params": [
            {
                "name": p.name,
                "label": str(p.label),
                "kind": p.kind,
                "value": s.params[p.name],
                "default": p.default,
            }
            for p in r.params
        ],
    }


def _settings(code: str) -> audit.RuleSettings:
    from zaplecze.core.errors import NotFound

    settings = audit.rule_settings()
    if code not in settings:
        raise NotFound(f"Unknown audit rule {code!r}", field="audit_rule")
    return settings[code]


@router.get("", response={200: SummaryOut, **errors()}, summary="Catalog quality score and counts")
@allow("catalog.view")
def summary(request):
    return audit.catalog_summary()


@router.get(
    "/findings", response={200: FindingPageOut, **errors(422)}, summary="Audit findings (keyset paging)"
)
@allow("catalog.view")
def list_findings(request, q: Query[FindingQuery]):
    f = audit.FindingFilter(
        rule=q.rule,
        severity=q.severity,
        category_id=q.category_id,
        brand=q.brand,
        status=q.status,
        product_id=q.product_id,
    )
    rows = list(audit.findings(f).filter(id__gt=q.after)[: q.limit + 1])
    more = len(rows) > q.limit
    rows = rows[: q.limit]
    return {
        "items": [
            {
                "id": r.pk,
                "product_id": r.product_id,
                "product": r.product.name,
                "variant_id": r.variant_id,
                "sku": r.variant.sku if r.variant_id else None,
                "rule": r.rule,
                "severity": r.severity,
                "message": audit.finding_message(r.rule, r.details),
                "details": r.details or {},
                "fix_url": audit.fix_url(r.product_id),
                "found_at": r.found_at,
            }
            for r in rows
        ],
        "next_after": rows[-1].pk if more and rows else None,
    }


@router.get("/rules", response={200: list[RuleOut], **errors()}, summary="Every audit rule with its settings")
@allow("catalog.view")
def list_rules(request):
    return [_rule_out(s) for s in audit.rule_settings().values()]


@router.get("/rules/{audit_rule}", response={200: RuleOut, **errors(404, 422)}, summary="One audit rule")
@allow("catalog.view")
def get_rule(request, audit_rule: Path[text(50, 1)]):
    return _rule_out(_settings(audit_rule))


@router.put(
    "/rules/{audit_rule}", response={200: RuleOut, **errors(400, 404, 422)}, summary="Change an audit rule"
)
@allow("settings.catalog")
def put_rule(request, audit_rule: Path[text(50, 1)], payload: RuleIn):
    """Only the fields given change; a bad param value is a 400 naming `params.<name>`."""
    _settings(audit_rule)
    return _rule_out(
        audit.rule_update(
            code=audit_rule,
            enabled=payload.enabled,
            severity=payload.severity,
            params=payload.params,
            actor=request.auth,
        )
    )


@router.post("/run", response={202: JobOut, **errors()}, summary="Queue a full audit of the catalog")
@allow("catalog.edit")
def run(request, payload: RunIn):
    """A background job (see /api/v1/jobs/{job_id}); its result has the counts per rule and the score."""
    from zaplecze.core.services import job_create

    from .tasks_audit import audit_full_job

    job = job_create(kind="catalog.audit", title="Catalog audit", owner=request.auth)
    transaction.on_commit(lambda: audit_full_job(job.pk))
    return Status(202, {"job_id": job.pk})
