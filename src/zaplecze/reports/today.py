"""Exceptions of reports for the Today page (see `core/today.py`): an anomaly alert of the last week still
open (orders, revenue, traffic or conversion far outside the same weekdays before), and insights waiting
for a decision."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop

from zaplecze.core import today
from zaplecze.core.businesstime import local_date, tz

from .models import Anomaly, Insight

RECENT_DAYS = 7


def detect_anomalies(*, now: dt.datetime, ids: list[int] | None = None) -> Iterable[today.Found]:
    qs = Anomaly.objects.filter(
        state=Anomaly.State.OPEN, day__gte=local_date(now) - dt.timedelta(RECENT_DAYS)
    )
    if ids is not None:
        qs = qs.filter(pk__in=ids)
    for a in qs:
        yield today.Found(
            subject_id=a.pk,
            label=(
                gettext_noop("%(metric)s on %(day)s"),
                {"metric": a.get_metric_display(), "day": a.day.isoformat()},
            ),
            why=(
                gettext_noop("%(value)s against %(expected)s expected (usual range %(low)s–%(high)s)."),
                {"value": str(a.value), "expected": str(a.expected), "low": str(a.low), "high": str(a.high)},
            ),
            url=reverse("reports:alerts"),
            due_at=dt.datetime.combine(a.day + dt.timedelta(days=1), dt.time(12, 0), tzinfo=tz()),
            severity="high" if a.value < a.expected else "normal",
        )


today.register(
    today.Kind(
        code="reports.anomaly",
        area="reports",
        label=_("Unusual day"),
        subject_type="anomaly",
        detect=detect_anomalies,
        permission="reports.view",
        every_minutes=30,
    )
)


def detect_insights(*, now: dt.datetime, ids: list[int] | None = None) -> Iterable[today.Found]:
    qs = Insight.objects.filter(state=Insight.State.NEW)
    if ids is not None:
        qs = qs.filter(pk__in=ids)
    for i in qs.only(
        "pk", "title", "subject_label", "expected_effect", "effect_unit", "confidence", "created_at"
    ):
        effect = f"{i.expected_effect} {i.effect_unit}".strip() if i.expected_effect is not None else "—"
        yield today.Found(
            subject_id=i.pk,
            label=i.title[:200],
            why=(
                gettext_noop(
                    "Waiting for a decision; expected effect %(effect)s, confidence %(confidence)s %%."
                ),
                {"effect": effect, "confidence": round(100 * (i.confidence or 0))},
            ),
            url=reverse("reports:insights") + f"#insight-{i.pk}",
            due_at=i.created_at + dt.timedelta(days=3),
            severity="low",
        )


def _accept(*, subject_id: int, actor) -> str:
    from django.utils.translation import gettext

    from .insights_services import insight_transition

    insight_transition(
        insight_id=subject_id, state=Insight.State.ACCEPTED, actor=actor, note=gettext("Accepted on Today")
    )
    return gettext("Insight accepted: it stays on the Insights tab until it is done.")


today.register(
    today.Kind(
        code="reports.insight",
        area="reports",
        label=_("Insight waiting for a decision"),
        subject_type="insight",
        detect=detect_insights,
        severity="low",
        permission="reports.view",
        every_minutes=30,
        actions=(
            today.QuickAction(code="accept", label=_("Accept"), run=_accept, permission="reports.manage"),
        ),
    )
)
