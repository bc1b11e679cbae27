"""Reads of order automation: the rules, one rule, and the rule log with filters (keyset pages)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.utils.translation import gettext as _

from zaplecze.core.businesstime import tz
from zaplecze.core.errors import NotFound
from zaplecze.core.permissions import user_has

from .models import AutomationRule, AutomationRun, AutomationTrigger


def rules() -> QuerySet[AutomationRule]:
    return AutomationRule.objects.order_by("position", "id")


def rules_with_counts() -> list[AutomationRule]:
    """Every rule with how often it acted (`done_count`) and failed (`failed_count`)."""
    return list(
        rules().annotate(
            done_count=Count("runs", filter=Q(runs__result=AutomationRun.Result.DONE)),
            failed_count=Count("runs", filter=Q(runs__result=AutomationRun.Result.FAILED)),
        )
    )


def access_rule(actor, rule_id: int, permission: str = "settings.automation") -> AutomationRule:
    rule = AutomationRule.objects.filter(pk=rule_id).first()
    if rule is None or not user_has(actor, permission):
        raise NotFound(_("No such automation rule"))
    return rule


def rule_by_ref(ref: str) -> AutomationRule | None:
    """A rule by id or exact name (for the CLI)."""
    ref = (ref or "").strip()
    if ref.isdigit():
        return AutomationRule.objects.filter(pk=int(ref)).first()
    return AutomationRule.objects.filter(name=ref).order_by("id").first()


@dataclass
class RunFilter:
    rule_id: int | None = None
    result: str = ""
    trigger: str = ""
    order: str = ""  # order number (with or without #) or id
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    include_no_match: bool = True

    @classmethod
    def from_params(cls, params) -> RunFilter:
        def day(name: str) -> dt.date | None:
            value = (params.get(name) or "").strip()
            try:
                return dt.date.fromisoformat(value) if value else None
            except ValueError:
                return None

        rule = (params.get("rule") or "").strip()
        result = params.get("result") or ""
        trigger = params.get("trigger") or ""
        return cls(
            rule_id=int(rule) if rule.isdigit() and len(rule) < 16 else None,
            result=result if result in AutomationRun.Result.values else "",
            trigger=trigger if trigger in AutomationTrigger.values else "",
            order=(params.get("order") or "").strip()[:60],
            date_from=day("date_from"),
            date_to=day("date_to"),
            include_no_match=(params.get("matched_only") or "") not in ("1", "true", "on"),
        )

    def as_params(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.rule_id:
            out["rule"] = self.rule_id
        for key in ("result", "trigger", "order"):
            if getattr(self, key):
                out[key] = getattr(self, key)
        if self.date_from:
            out["date_from"] = self.date_from.isoformat()
        if self.date_to:
            out["date_to"] = self.date_to.isoformat()
        if not self.include_no_match:
            out["matched_only"] = "1"
        return out


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), tzinfo=tz())


def runs_filtered(f: RunFilter) -> QuerySet[AutomationRun]:
    qs = AutomationRun.objects.all()
    if f.rule_id:
        qs = qs.filter(rule_id=f.rule_id)
    if f.result:
        qs = qs.filter(result=f.result)
    elif not f.include_no_match:
        qs = qs.exclude(result=AutomationRun.Result.NO_MATCH)
    if f.trigger:
        qs = qs.filter(trigger=f.trigger)
    if f.order:
        number = f.order.lstrip("#")
        cond = Q(order__number__iexact=f.order) | Q(order__number__iexact=f"#{number}")
        if number.isdigit() and len(number) < 16:
            cond |= Q(order_id=int(number))
        qs = qs.filter(cond)
    if f.date_from:
        qs = qs.filter(at__gte=_midnight(f.date_from))
    if f.date_to:
        qs = qs.filter(at__lt=_midnight(f.date_to + dt.timedelta(days=1)))
    return qs


@dataclass
class RunPage:
    items: list[AutomationRun]
    next_cursor: str | None


def run_page(f: RunFilter, *, cursor: str | None = None, limit: int = 50) -> RunPage:
    """Newest first, keyset-paginated on (at, id)."""
    qs = runs_filtered(f)
    if cursor:
        try:
            ts, _sep, pk = cursor.partition("_")
            at = dt.datetime.fromisoformat(ts)
            qs = qs.filter(Q(at__lt=at) | Q(at=at, id__lt=int(pk)))
        except ValueError:
            pass
    rows = list(qs.select_related("order", "rule", "actor").order_by("-at", "-id")[: limit + 1])
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = f"{last.at.isoformat()}_{last.pk}"
    return RunPage(rows, next_cursor)
