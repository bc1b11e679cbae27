"""Reads of insights: the filtered list, one insight, and the evidence laid out for people."""

from __future__ import annotations

from django.db.models import F, QuerySet
from django.utils.translation import gettext_lazy as _

from zaplecze.core.errors import NotFound
from zaplecze.orders.models import Stage

from . import insights
from .models import INSIGHT_TRANSITIONS, Insight

OPEN_FILTER = "open"  # new and accepted
STATE_FILTERS = (OPEN_FILTER, *Insight.State.values, "all")

EVIDENCE_LABELS = {
    "view_visits": _("Visits that viewed it"),
    "views": _("Product views"),
    "orders": _("Orders"),
    "rate": _("Rate"),
    "shop_rate": _("Shop rate"),
    "available": _("Available"),
    "on_order": _("On order"),
    "position": _("Available + on order"),
    "daily_rate": _("Sold per day"),
    "lead_time_calendar_days": _("Lead time (days)"),
    "lead_time_demand": _("Demand over the lead time"),
    "days_of_cover": _("Days of cover"),
    "stockout_probability": _("Stock-out probability"),
    "units_short": _("Units short"),
    "returned_units": _("Returned units"),
    "sold_units": _("Sold units"),
    "returns": _("Returns"),
    "baseline_rate": _("Baseline rate"),
    "expected_returns": _("Expected returns"),
    "delivered": _("Delivered"),
    "late": _("Late"),
    "visits": _("Visits"),
    "expected_orders": _("Expected orders"),
    "checkouts": _("Checkouts"),
    "abandoned": _("Abandoned"),
    "stock_value": _("Stock value"),
    "days_of_stock": _("Days of stock"),
    "open_orders": _("Open orders"),
    "stalled_orders": _("Stalled orders"),
    "p90_hours": _("Usual time (90th percentile, h)"),
    "value_gross": _("Value (gross)"),
    "effect_formula": _("Expected effect"),
}
HIDDEN = {"measure", "weekday_rates"}
MOVE_LABELS = {
    Insight.State.NEW: _("Reopen"),
    Insight.State.ACCEPTED: _("Accept"),
    Insight.State.DISMISSED: _("Dismiss"),
    Insight.State.DONE: _("Mark done"),
}


def insights_list(*, state: str = OPEN_FILTER, kind: str = "", limit: int = 500) -> QuerySet[Insight]:
    qs = Insight.objects.select_related("state_changed_by")
    if state == OPEN_FILTER:
        qs = qs.filter(state__in=[Insight.State.NEW, Insight.State.ACCEPTED])
    elif state in Insight.State.values:
        qs = qs.filter(state=state)
    if kind:
        qs = qs.filter(kind=kind)
    return qs.order_by("kind", "-confidence", F("expected_effect").desc(nulls_last=True), "-id")[:limit]


def access_insight(insight_id: int) -> Insight:
    insight = Insight.objects.select_related("state_changed_by").filter(pk=insight_id).first()
    if insight is None:
        raise NotFound(f"No insight {insight_id}")
    return insight


def evidence_rows(insight: Insight) -> list[tuple[str, str]]:
    """(label, value) of the evidence, the known figures first in a fixed order."""
    ev = insight.evidence or {}
    keys = [k for k in EVIDENCE_LABELS if k in ev] + sorted(
        k for k in ev if k not in EVIDENCE_LABELS and k not in HIDDEN
    )
    return [
        (str(EVIDENCE_LABELS.get(k, k.replace("_", " "))), insights.shown(k, ev[k]))
        for k in keys
        if k not in HIDDEN
    ]


def _label(insight: Insight) -> str:
    """The subject's name in the request's language where it has one (stages)."""
    if insight.subject_type == "stage":
        return str(dict(Stage.choices).get(insight.subject_id, insight.subject_label))
    return insight.subject_label


def card(insight: Insight) -> dict:
    """What an insight card shows, in the request's language."""
    return {
        "i": insight,
        "headline": insights.headline(insight.kind, insight.subject_type, _label(insight), insight.evidence),
        "action": insights.action_text(insight.kind, insight.subject_type),
        "evidence": evidence_rows(insight),
        "measured": insight.measured_effect,
        "moves": [
            (m, MOVE_LABELS[m]) for m in Insight.State.values if m in INSIGHT_TRANSITIONS[insight.state]
        ],
    }


def grouped(items) -> list[dict]:
    """Cards grouped by kind, in the order of the kinds."""
    groups: dict[str, list[dict]] = {}
    for insight in items:
        groups.setdefault(insight.kind, []).append(card(insight))
    labels = dict(Insight.Kind.choices)
    return [{"kind": k, "label": labels[k], "cards": groups[k]} for k in Insight.Kind.values if k in groups]
