"""Catalog quality audit: rule settings, the engine that writes findings and scores, and its reads.

* `audit_run(product_ids=None)` audits every product (the nightly run) or the given ones plus every product
  sharing an EAN or SKU with them (so duplicate findings stay right on both sides). Products are loaded in
  batches with their variants, images, manufacturer and last prices in a fixed number of queries per batch;
  each product's findings are replaced, its `quality_score` and `audited_at` set.
* `audit_soon(product_ids)` is what other writes call: the ids are collected per thread and queued as one
  worker job when the transaction commits.
* Score of a product: 100 minus a penalty per failing rule by its severity (error 25, warning 10, info 2;
  a rule counts once however many variants fail it), never below 0. Archived products are not audited
  (no findings, no score). The catalog score is the mean score of the audited, not archived products.

Rules are in catalog/audit_rules.py.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import Avg, Count, F, Max, Q, Window
from django.db.models.functions import RowNumber
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from zaplecze.core.errors import DomainError, NotFound

from . import stock as catalog_stock
from .audit_rules import (
    RULES,
    RULES_BY_CODE,
    SEVERITIES,
    SEVERITY_WEIGHTS,
    AuditContext,
    ManufacturerData,
    ProductData,
    Rule,
    VariantData,
    html_to_text,
    sku_key,
)
from .models import AuditFinding, AuditRuleConfig, Manufacturer, PriceChange, Product, ProductImage, Variant

log = logging.getLogger("zaplecze.catalog.audit")

BATCH_SIZE = 500


# --- rule settings ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RuleSettings:
    rule: Rule
    enabled: bool
    severity: str
    params: dict[str, Any]

    @property
    def code(self) -> str:
        return self.rule.code


def rule_settings() -> dict[str, RuleSettings]:
    """Every rule's effective settings (rows are created with the defaults the first time they are needed)."""
    rows = {c.code: c for c in AuditRuleConfig.objects.all()}
    missing = [r for r in RULES if r.code not in rows]
    if missing:
        AuditRuleConfig.objects.bulk_create(
            [AuditRuleConfig(code=r.code, severity=r.severity, params=r.defaults()) for r in missing],
            ignore_conflicts=True,
        )
        rows = {c.code: c for c in AuditRuleConfig.objects.all()}
    out = {}
    for rule in RULES:
        row = rows[rule.code]
        params = rule.defaults()
        for p in rule.params:
            if p.name in (row.params or {}):
                try:
                    params[p.name] = p.clean(row.params[p.name])
                except ValueError:
                    log.warning("audit rule %s: ignoring bad stored param %s", rule.code, p.name)
        severity = row.severity if row.severity in SEVERITIES else rule.severity
        out[rule.code] = RuleSettings(rule, row.enabled, severity, params)
    return out


def rule_update(
    *,
    code: str,
    enabled: bool | None = None,
    severity: str | None = None,
    params: dict | None = None,
    actor=None,
) -> RuleSettings:
    """Change a rule's settings; bad values raise DomainError naming the param. Takes effect at the next run."""
    from zaplecze.core.services import audit_record

    rule = RULES_BY_CODE.get(code)
    if rule is None:
        raise NotFound(f"Unknown audit rule {code!r}", field="code")
    current = rule_settings()[code]
    changes: dict[str, list] = {}
    new_params = dict(current.params)
    if params is not None:
        known = {p.name: p for p in rule.params}
        unknown = sorted(set(params) - set(known))
        if unknown:
            raise DomainError(
                f"Rule {code} has no parameter {', '.join(unknown)} (it has: {', '.join(known) or 'none'})",
                field=f"params.{unknown[0]}",
            )
        for name, value in params.items():
            try:
                new_params[name] = known[name].clean(value)
            except ValueError as exc:
                raise DomainError(f"{known[name].label}: {exc}", field=f"params.{name}") from None
    if severity is not None and severity not in SEVERITIES:
        raise DomainError(f"Severity must be one of {', '.join(SEVERITIES)}", field="severity")
    with transaction.atomic():
        row = AuditRuleConfig.objects.select_for_update().get(code=code)
        fields = {"enabled": enabled, "severity": severity}
        for name, value in fields.items():
            if value is not None and getattr(row, name) != value:
                changes[name] = [getattr(row, name), value]
                setattr(row, name, value)
        if new_params != row.params:
            changes["params"] = [row.params, new_params]
            row.params = new_params
        if changes:
            row.updated_at = timezone.now()
            row.save(update_fields=["enabled", "severity", "params", "updated_at"])
            audit_record(
                obj_type="catalog.auditruleconfig",
                obj_id=row.pk,
                action="updated",
                actor=actor,
                changes=changes,
            )
    return rule_settings()[code]


# --- the engine ------------------------------------------------------------------------------------------


@dataclass
class AuditReport:
    products: int = 0
    findings: int = 0
    by_rule: Counter = field(default_factory=Counter)
    seconds: float = 0.0
    full: bool = True

    def as_dict(self) -> dict[str, Any]:
        return {
            "products": self.products,
            "findings": self.findings,
            "by_rule": dict(sorted(self.by_rule.items())),
            "seconds": round(self.seconds, 3),
            "full": self.full,
        }


class _SkuIndex:
    """Normalised SKU -> [(variant id, sku)] over the whole catalog, keys shared by 2+ variants only."""

    def __init__(self) -> None:
        groups: dict[str, list[tuple[int, str]]] = defaultdict(list)
        for vid, sku in Variant.objects.values_list("id", "sku").iterator(chunk_size=5000):
            groups[sku_key(sku)].append((vid, sku))
        self.shared = {k: v for k, v in groups.items() if len(v) > 1}


def _load_batch(ids: list[int], manufacturers: dict[int, ManufacturerData | None]) -> list[ProductData]:
    products: dict[int, ProductData] = {}
    rows = Product.objects.filter(pk__in=ids).values_list(
        "id", "name", "status", "brand", "category_id", "description_html", "safety_info", "manufacturer_id"
    )
    man_ids: dict[int, int] = {}
    for pid, name, status, brand, cat, desc, safety, man in rows:
        products[pid] = ProductData(pid, name, status, brand, cat, html_to_text(desc), safety, None)
        if man is not None:
            man_ids[pid] = man
    wanted = set(man_ids.values()) - set(manufacturers)
    if wanted:
        for m in Manufacturer.objects.filter(pk__in=wanted):
            manufacturers[m.pk] = ManufacturerData(
                m.pk,
                m.name,
                m.street,
                m.postcode,
                m.city,
                m.country,
                m.email,
                m.eu_rp_name,
                m.eu_rp_address,
                m.eu_rp_email,
            )
    for pid, man in man_ids.items():
        products[pid].manufacturer = manufacturers.get(man)
    variants = Variant.objects.filter(product_id__in=ids).values_list(
        "product_id", "id", "sku", "ean", "name", "price", "vat_rate", "cost_price", "active"
    )
    for pid, *v in variants.order_by("product_id", "sku", "id"):
        products[pid].variants.append(VariantData(*v))
    images = ProductImage.objects.filter(product_id__in=ids).values_list(
        "product_id", "width", "height", "error"
    )
    for pid, w, h, err in images.order_by("product_id", "position", "id"):
        products[pid].images.append((w, h, err))
    return [products[pid] for pid in sorted(products)]


def _last_prices(variant_ids: list[int], now: dt.datetime) -> dict[int, dict[str, list]]:
    """The two latest prices in effect per variant and channel (one query, a window function)."""
    qs = (
        PriceChange.objects.filter(variant_id__in=variant_ids, effective_from__lte=now)
        .annotate(
            rn=Window(
                RowNumber(),
                partition_by=[F("variant_id"), F("channel")],
                order_by=[F("effective_from").desc(), F("id").desc()],
            )
        )
        .filter(rn__lte=2)
        .values_list("variant_id", "channel", "price", "effective_from", "rn")
    )
    out: dict[int, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for vid, channel, price, at, _rn in sorted(qs, key=lambda r: (r[0], r[1], r[4])):
        out[vid][channel].append((price, at))
    return out


def _ean_users(eans: set[str]) -> dict[str, list[tuple[int, str]]]:
    groups: dict[str, list[tuple[int, str]]] = defaultdict(list)
    eans = {e for e in eans if e}
    if not eans:
        return {}
    for vid, sku, ean in Variant.objects.filter(ean__in=eans).values_list("id", "sku", "ean"):
        groups[ean].append((vid, sku))
    return {k: v for k, v in groups.items() if len(v) > 1}


def _expand(product_ids: set[int], skus: _SkuIndex) -> set[int]:
    """The given products plus those sharing an EAN or SKU with them, now or at their last audit."""
    eans = set(
        Variant.objects.filter(product_id__in=product_ids).exclude(ean="").values_list("ean", flat=True)
    )
    keys = {
        sku_key(s) for s in Variant.objects.filter(product_id__in=product_ids).values_list("sku", flat=True)
    }
    for rule, details in AuditFinding.objects.filter(
        product_id__in=product_ids, rule__in=("ean_duplicate", "sku_duplicate")
    ).values_list("rule", "details"):
        if rule == "ean_duplicate" and details.get("ean"):
            eans.add(details["ean"])
        elif rule == "sku_duplicate" and details.get("key"):
            keys.add(details["key"])
    variant_ids = {vid for k in keys for vid, _sku in skus.shared.get(k, [])}
    q = Q(ean__in=eans) if eans else Q(pk__in=[])
    if variant_ids:
        q |= Q(pk__in=variant_ids)
    others = set(Variant.objects.filter(q).values_list("product_id", flat=True))
    return set(product_ids) | others


def audit_run(
    *,
    product_ids: Iterable[int] | None = None,
    batch_size: int = BATCH_SIZE,
    progress: Callable[[int, int], None] | None = None,
    now: dt.datetime | None = None,
) -> AuditReport:
    """Audit every product (product_ids None) or the given ones (and those sharing an EAN/SKU with them)."""
    started = time.perf_counter()
    now = now or timezone.now()
    settings = [s for s in rule_settings().values() if s.enabled]
    skus = _SkuIndex()
    report = AuditReport(full=product_ids is None)
    if product_ids is None:
        total = Product.objects.count()
        id_source: Iterable[list[int]] = _keyset_batches(batch_size)
    else:
        ids = sorted(_expand({int(i) for i in product_ids}, skus)) if product_ids else []
        total = len(ids)
        id_source = (ids[i : i + batch_size] for i in range(0, len(ids), batch_size))
    manufacturers: dict[int, ManufacturerData | None] = {}
    done = 0
    for batch in id_source:
        products = _load_batch(batch, manufacturers)
        variant_ids = [v.id for p in products for v in p.variants]
        ctx = AuditContext(
            now=now,
            ean_users=_ean_users({v.ean.strip() for p in products for v in p.variants}),
            sku_users=skus.shared,
            last_prices=_last_prices(variant_ids, now) if variant_ids else {},
            stock=catalog_stock.available(variant_ids) if variant_ids else {},
        )
        _audit_batch(products, settings, ctx, now, report)
        done += len(batch)
        if progress:
            progress(done, total)
    report.seconds = time.perf_counter() - started
    return report


def _keyset_batches(size: int) -> Iterable[list[int]]:
    last = 0
    while True:
        ids = list(Product.objects.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:size])
        if not ids:
            return
        yield ids
        last = ids[-1]


def _audit_batch(
    products: list[ProductData], settings: list[RuleSettings], ctx: AuditContext, now: dt.datetime, report
) -> None:
    findings: list[AuditFinding] = []
    scores: dict[int | None, list[int]] = defaultdict(list)
    for p in products:
        if p.status == Product.Status.ARCHIVED:
            scores[None].append(p.id)
            continue
        penalty = 0
        for s in settings:
            hits = list(s.rule.check(p, ctx, s.params))
            if not hits:
                continue
            penalty += SEVERITY_WEIGHTS[s.severity]
            report.by_rule[s.code] += len(hits)
            findings.extend(
                AuditFinding(
                    product_id=p.id,
                    variant_id=h.variant_id,
                    rule=s.code,
                    severity=s.severity,
                    details=h.details,
                    found_at=now,
                )
                for h in hits
            )
        scores[max(0, 100 - penalty)].append(p.id)
    ids = [p.id for p in products]
    with transaction.atomic():
        AuditFinding.objects.filter(product_id__in=ids).delete()
        AuditFinding.objects.bulk_create(findings, batch_size=1000)
        for score, pids in scores.items():
            Product.objects.filter(pk__in=pids).update(quality_score=score, audited_at=now)
    report.products += len(products)
    report.findings += len(findings)


# --- after writes: audit_soon ----------------------------------------------------------------------------

_pending = threading.local()


def audit_soon(product_ids: Iterable[int]) -> None:
    """Re-audit these products in the worker after the current transaction commits.

    Ids from every call in the same transaction (same thread) are queued as one job; a rolled-back
    transaction's ids are simply audited with the next commit (auditing too much is harmless).
    """
    ids = {int(i) for i in product_ids if i is not None}
    if not ids:
        return
    pending: set[int] = getattr(_pending, "ids", None) or set()
    pending |= ids
    _pending.ids = pending
    transaction.on_commit(_flush)


def _flush() -> None:
    ids = getattr(_pending, "ids", None)
    if not ids:
        return
    _pending.ids = set()
    from .tasks_audit import audit_products_task

    audit_products_task(sorted(ids))


# --- reads -----------------------------------------------------------------------------------------------


def audit_rule_choices() -> list[tuple[str, str]]:
    """[(code, label)] of every rule, for filters (e.g. the product list's "quality issue")."""
    return [(r.code, str(r.label)) for r in RULES]


def fix_url(product_id: int) -> str:
    """Where a product's findings are fixed: the product page."""
    try:
        return reverse("catalog:product", args=[product_id])
    except NoReverseMatch:
        return f"/products/{product_id}/"


def finding_message(rule: str, details: dict) -> str:
    r = RULES_BY_CODE.get(rule)
    if r is None:
        return rule
    try:
        return r.message(details or {})
    except (KeyError, TypeError, ValueError):
        return str(r.label)


@dataclass
class FindingFilter:
    rule: str = ""
    severity: str = ""
    category_id: int | None = None
    brand: str = ""
    status: str = ""
    product_id: int | None = None


def findings(f: FindingFilter | None = None):
    """Findings matching the filter, ordered by id (keyset paging with `id__gt`)."""
    f = f or FindingFilter()
    qs = AuditFinding.objects.select_related("product", "variant").order_by("id")
    if f.rule:
        qs = qs.filter(rule=f.rule)
    if f.severity:
        qs = qs.filter(severity=f.severity)
    if f.category_id:
        qs = qs.filter(product__category_id=f.category_id)
    if f.brand:
        qs = qs.filter(product__brand=f.brand)
    if f.status:
        qs = qs.filter(product__status=f.status)
    if f.product_id:
        qs = qs.filter(product_id=f.product_id)
    return qs


def catalog_summary() -> dict[str, Any]:
    """The catalog score and the counts per rule and severity (findings and products)."""
    audited = Product.objects.exclude(status=Product.Status.ARCHIVED).filter(quality_score__isnull=False)
    agg = audited.aggregate(score=Avg("quality_score"), n=Count("id"), last=Max("audited_at"))
    by_rule = {
        r["rule"]: {"findings": r["n"], "products": r["products"]}
        for r in AuditFinding.objects.values("rule").annotate(
            n=Count("id"), products=Count("product_id", distinct=True)
        )
    }
    by_severity = {s: 0 for s in SEVERITIES}
    for r in AuditFinding.objects.values("severity").annotate(n=Count("id")):
        by_severity[r["severity"]] = r["n"]
    settings = rule_settings()
    rules = [
        {
            "code": r.code,
            "label": str(r.label),
            "severity": settings[r.code].severity,
            "enabled": settings[r.code].enabled,
            "findings": by_rule.get(r.code, {}).get("findings", 0),
            "products": by_rule.get(r.code, {}).get("products", 0),
        }
        for r in RULES
    ]
    return {
        "score": round(float(agg["score"]), 1) if agg["score"] is not None else None,
        "products": agg["n"],
        "products_with_findings": AuditFinding.objects.values("product_id").distinct().count(),
        "findings": sum(by_severity.values()),
        "by_severity": by_severity,
        "rules": rules,
        "audited_at": agg["last"],
        "not_audited": Product.objects.exclude(status=Product.Status.ARCHIVED)
        .filter(quality_score__isnull=True)
        .count(),
    }


def product_findings(product_id: int) -> list[dict[str, Any]]:
    """A product's findings with message, explanation and fix link, worst first."""
    order = {s: i for i, s in enumerate(SEVERITIES)}
    rows = AuditFinding.objects.filter(product_id=product_id).select_related("variant")
    out = [
        {
            "rule": f.rule,
            "label": str(RULES_BY_CODE[f.rule].label) if f.rule in RULES_BY_CODE else f.rule,
            "severity": f.severity,
            "message": finding_message(f.rule, f.details),
            "explanation": str(RULES_BY_CODE[f.rule].explanation) if f.rule in RULES_BY_CODE else "",
            "variant_sku": f.variant.sku if f.variant_id else None,
            "fix_url": fix_url(product_id),
        }
        for f in rows
    ]
    return sorted(out, key=lambda r: (order.get(r["severity"], 9), r["rule"]))
