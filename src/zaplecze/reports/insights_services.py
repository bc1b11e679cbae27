"""Writes of insights: the daily refresh (run every rule, update or add), state changes, effect measurement.

- `insights_refresh(day)` runs every rule for the figures up to the day before `day`. A finding whose
  fingerprint (kind, subject) has an open insight (new or accepted) updates it — evidence, numbers, last
  seen — instead of adding another; a finding dismissed or done in the last SNOOZE_DAYS days is not raised
  again; otherwise it becomes a new insight. An open insight whose rule no longer fires stays as it is (its
  `last_seen` tells how old it is): someone decides on it.
- `insight_transition(insight_id, state, actor, note)`: new -> accepted/dismissed/done, accepted ->
  done/dismissed, dismissed -> new (reopen); the row is locked, the audit log gets the move.
- `insights_measure_due(day)`: for each done insight whose after-period (as many days as its evidence
  period, from the day it was marked done) has ended, the rule's metric is measured again over that period
  and stored beside the value before (`measured_effect`).
"""

from __future__ import annotations

import datetime as dt
import logging

from django.db import IntegrityError, transaction
from django.utils import timezone

from zaplecze.core.businesstime import tz
from zaplecze.core.errors import Conflict, DomainError, IllegalTransition, NotFound
from zaplecze.core.services import audit_record

from . import insights
from .models import INSIGHT_TRANSITIONS, Insight
from .sales import Period

log = logging.getLogger("zaplecze.reports")
SNOOZE_DAYS = 30
OPEN = (Insight.State.NEW, Insight.State.ACCEPTED)


def _values(c: insights.Candidate, day: dt.date) -> dict:
    return {
        "kind": c.kind,
        "subject_type": c.subject_type,
        "subject_id": c.subject_id[:200],
        "subject_label": c.subject_label[:300],
        "fingerprint": c.fingerprint,
        "title": c.title[:300],
        "period_from": c.period.start,
        "period_to": c.period.end,
        "evidence": c.evidence,
        "statistic": c.statistic,
        "p_value": c.p_value,
        "confidence": round(float(c.confidence), 6),
        "expected_effect": c.expected_effect,
        "effect_unit": c.effect_unit,
        "action_text": c.action_text[:500],
        "action_url": c.action_url[:500],
        "last_seen": day,
    }


def insight_upsert(candidate: insights.Candidate, *, day: dt.date) -> tuple[Insight | None, bool]:
    """(insight, created); (None, False) when the finding was dismissed or done recently."""
    fp = candidate.fingerprint
    values = _values(candidate, day)
    with transaction.atomic():
        current = Insight.objects.select_for_update().filter(fingerprint=fp, state__in=OPEN).first()
        if current is not None:
            values["updated_at"] = timezone.now()
            for k, v in values.items():
                setattr(current, k, v)
            current.save(update_fields=list(values))
            return current, False
        since = timezone.now() - dt.timedelta(days=SNOOZE_DAYS)
        if Insight.objects.filter(
            fingerprint=fp,
            state__in=[Insight.State.DISMISSED, Insight.State.DONE],
            state_changed_at__gte=since,
        ).exists():
            return None, False
        try:
            with transaction.atomic():
                return Insight.objects.create(**values, first_seen=day), True
        except IntegrityError:  # another run created it a moment ago
            return Insight.objects.get(fingerprint=fp, state__in=OPEN), False


def insights_refresh(day: dt.date, *, now: dt.datetime | None = None, kinds: list[str] | None = None) -> dict:
    """Run the rules; returns {"created": [...], "updated": [...], "failed": {kind: error}}."""
    ctx = insights.context(day, now=now)
    created, updated, failed = [], [], {}
    for kind, rule in insights.RULES.items():
        if kinds and kind not in kinds:
            continue
        try:
            candidates = rule(ctx)
        except Exception as exc:  # one broken rule (e.g. no analytics data dir) must not stop the others
            log.exception("insight rule %s failed", kind)
            failed[kind] = str(exc)[:300]
            continue
        for c in candidates:
            insight, was_created = insight_upsert(c, day=day)
            if insight is None:
                continue
            (created if was_created else updated).append(insight)
    return {"created": created, "updated": updated, "failed": failed}


def insight_transition(*, insight_id: int, state: str, actor, note: str = "") -> Insight:
    if state not in Insight.State.values:
        raise DomainError(f"Unknown state {state!r}: one of {', '.join(Insight.State.values)}", field="state")
    with transaction.atomic():
        insight = Insight.objects.select_for_update().filter(pk=insight_id).first()
        if insight is None:
            raise NotFound(f"No insight {insight_id}")
        if state not in INSIGHT_TRANSITIONS[insight.state]:
            raise IllegalTransition(f"An insight cannot go from {insight.state} to {state}", field="state")
        if (
            state == Insight.State.NEW
            and Insight.objects.filter(fingerprint=insight.fingerprint, state__in=OPEN).exists()
        ):
            raise Conflict("The same finding is already open")
        before = insight.state
        now = timezone.now()
        insight.state, insight.state_changed_at, insight.note = state, now, note[:500]
        insight.state_changed_by = actor if getattr(actor, "pk", None) else None
        fields = ["state", "state_changed_at", "state_changed_by", "note", "updated_at"]
        insight.updated_at = now
        if state == Insight.State.DONE:
            insight.done_at = now
            fields.append("done_at")
        insight.save(update_fields=fields)
        audit_record(
            obj_type="reports.insight",
            obj_id=insight.pk,
            action=f"insight_{state}",
            actor=actor if getattr(actor, "pk", None) else None,
            changes={"state": [before, state]},
            reason=note,
        )
    return insight


def after_period(insight: Insight) -> Period | None:
    """The equal period after done: from the local day it was marked done, as many days as measured before."""
    if insight.done_at is None:
        return None
    days = int(insight.evidence.get("measure", {}).get("days") or insight_days(insight))
    start = insight.done_at.astimezone(tz()).date()
    return Period(start, start + dt.timedelta(days=days - 1))


def insight_days(insight: Insight) -> int:
    return (insight.period_to - insight.period_from).days + 1


def insight_measure(insight: Insight, *, ctx: insights.Context | None = None) -> dict | None:
    """Measure the insight's metric over its after-period and store it with the value before."""
    spec = insight.evidence.get("measure")
    period = after_period(insight)
    if not spec or period is None or spec.get("metric") not in insights.MEASURES:
        return None
    ctx = ctx or insights.context(period.end + dt.timedelta(days=1))
    got = insights.MEASURES[spec["metric"]](spec.get("subject", {}), period, ctx)
    before, after = spec.get("before"), got.get("value")
    change = None if before is None or after is None else round(after - before, 6)
    improved = None
    if change is not None:
        improved = change < 0 if spec.get("better") == "lower" else change > 0
    result = {
        "metric": spec["metric"],
        "before": before,
        "before_from": insight.period_from.isoformat(),
        "before_to": insight.period_to.isoformat(),
        "after": after,
        "after_from": period.start.isoformat(),
        "after_to": period.end.isoformat(),
        "change": change,
        "relative": round(change / before, 4) if change is not None and before else None,
        "better": spec.get("better"),
        "improved": improved,
        "details": {k: v for k, v in got.items() if k != "value"},
    }
    Insight.objects.filter(pk=insight.pk).update(
        measured_effect=result, measured_at=timezone.now(), updated_at=timezone.now()
    )
    insight.measured_effect = result
    return result


def insights_measure_due(day: dt.date) -> list[Insight]:
    """Done insights whose after-period ended before `day` and that have not been measured yet."""
    done = []
    for insight in Insight.objects.filter(state=Insight.State.DONE, measured_at__isnull=True).order_by("id"):
        period = after_period(insight)
        if period is None or period.end >= day:
            continue
        if insight_measure(insight, ctx=insights.context(period.end + dt.timedelta(days=1))) is not None:
            done.append(insight)
    return done
