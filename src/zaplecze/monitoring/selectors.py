"""Reads of storefront monitoring: the checks with their uptime, one check's results and chart series,
incidents.

Uptime % over a window = successful results / all results in the window × 100 (None when the check has no
result in it). It is result-based, like most uptime monitors: every check counts, including single
failures that did not open an incident. Windows end now: 24 hours, 7 days, 30 days (raw results are kept
35 days, see models)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Avg, Case, Count, IntegerField, Q, QuerySet, Value, When
from django.db.models.functions import Trunc
from django.utils import timezone
from django.utils.translation import gettext as _

from zaplecze.core.errors import NotFound

from .models import CheckResult, Incident, IncidentState, StorefrontCheck

WINDOWS: dict[str, dt.timedelta] = {
    "24h": dt.timedelta(hours=24),
    "7d": dt.timedelta(days=7),
    "30d": dt.timedelta(days=30),
}


def percent(ok: int, total: int) -> Decimal | None:
    if not total:
        return None
    return (Decimal(ok) * 100 / Decimal(total)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


@dataclass
class CheckRow:
    check: StorefrontCheck
    uptime: dict[str, Decimal | None]
    open_incidents: int


def check_get(check_id: int) -> StorefrontCheck:
    check = StorefrontCheck.objects.filter(pk=check_id).first()
    if check is None:
        raise NotFound(_("No such check"), field="check_id")
    return check


def uptimes(check_ids: list[int] | None = None, *, now: dt.datetime | None = None) -> dict[int, dict]:
    """{check id: {"24h": %, "7d": %, "30d": %}} in one query (conditional counts over 30 days)."""
    now = now or timezone.now()
    qs = CheckResult.objects.filter(at__gt=now - WINDOWS["30d"], at__lte=now)
    if check_ids is not None:
        qs = qs.filter(check_ref_id__in=check_ids)
    aggregates = {}
    for key, span in WINDOWS.items():
        since = now - span
        aggregates[f"n_{key}"] = Count("id", filter=Q(at__gt=since))
        aggregates[f"ok_{key}"] = Count("id", filter=Q(at__gt=since, ok=True))
    rows = qs.values("check_ref_id").annotate(**aggregates).order_by()
    out: dict[int, dict] = {}
    for row in rows:
        out[row["check_ref_id"]] = {key: percent(row[f"ok_{key}"], row[f"n_{key}"]) for key in WINDOWS}
    return out


def checks_overview(*, now: dt.datetime | None = None, state: str = "") -> list[CheckRow]:
    """Every check with its uptime per window and its open incidents: three queries whatever the count."""
    checks = list(StorefrontCheck.objects.order_by("name", "pk"))
    if state:
        checks = [c for c in checks if c.state == state]
    ups = uptimes([c.pk for c in checks], now=now) if checks else {}
    open_counts = dict(
        Incident.objects.filter(state=IncidentState.OPEN, check_ref_id__in=[c.pk for c in checks])
        .values("check_ref_id")
        .annotate(n=Count("id"))
        .order_by()
        .values_list("check_ref_id", "n")
    )
    empty = dict.fromkeys(WINDOWS)
    return [CheckRow(c, ups.get(c.pk, empty), open_counts.get(c.pk, 0)) for c in checks]


def uptime(check_id: int, *, since: dt.datetime, until: dt.datetime | None = None) -> Decimal | None:
    until = until or timezone.now()
    agg = CheckResult.objects.filter(check_ref_id=check_id, at__gt=since, at__lte=until).aggregate(
        n=Count("id"), ok=Count("id", filter=Q(ok=True))
    )
    return percent(agg["ok"], agg["n"])


def results(
    check_id: int, *, since: dt.datetime | None = None, failed_only: bool = False
) -> QuerySet[CheckResult]:
    qs = CheckResult.objects.filter(check_ref_id=check_id)
    if since is not None:
        qs = qs.filter(at__gt=since)
    if failed_only:
        qs = qs.filter(ok=False)
    return qs.order_by("-at", "-id")


def incidents(*, state: str = "", check_id: int | None = None, kind: str = "") -> QuerySet[Incident]:
    """Open incidents first, then the newest."""
    qs = Incident.objects.select_related("check_ref", "ticket")
    if state:
        qs = qs.filter(state=state)
    if check_id:
        qs = qs.filter(check_ref_id=check_id)
    if kind:
        qs = qs.filter(kind=kind)
    open_first = Case(
        When(state=IncidentState.OPEN, then=Value(0)), default=Value(1), output_field=IntegerField()
    )
    return qs.annotate(open_first=open_first).order_by("open_first", "-opened_at", "-id")


def incident_get(incident_id: int) -> Incident:
    incident = Incident.objects.select_related("check_ref", "ticket").filter(pk=incident_id).first()
    if incident is None:
        raise NotFound(_("No such incident"), field="incident_id")
    return incident


def response_series(check_id: int, *, window: str, now: dt.datetime | None = None) -> list[dict]:
    """Points for the response-time chart: every result over 24 hours; hourly averages over 7 and 30 days
    (so the page never carries thousands of points)."""
    now = now or timezone.now()
    since = now - WINDOWS[window]
    qs = CheckResult.objects.filter(check_ref_id=check_id, at__gt=since, at__lte=now)
    if window == "24h":
        return [
            {"at": r.at, "ms": r.response_ms, "ok": r.ok}
            for r in qs.order_by("at").only("at", "response_ms", "ok")
        ]
    rows = (
        qs.annotate(bucket=Trunc("at", "hour", tzinfo=dt.UTC))
        .values("bucket")
        .annotate(ms=Avg("response_ms"), n=Count("id"), good=Count("id", filter=Q(ok=True)))
        .order_by("bucket")
    )
    return [
        {"at": r["bucket"], "ms": round(r["ms"]) if r["ms"] is not None else None, "ok": r["good"] == r["n"]}
        for r in rows
    ]


def uptime_series(check_id: int, *, window: str, now: dt.datetime | None = None) -> list[dict]:
    """Uptime % per hour (24 hours) or per day (7 and 30 days; days in the shop's time zone)."""
    now = now or timezone.now()
    since = now - WINDOWS[window]
    unit = "hour" if window == "24h" else "day"
    rows = (
        CheckResult.objects.filter(check_ref_id=check_id, at__gt=since, at__lte=now)
        .annotate(bucket=Trunc("at", unit, tzinfo=timezone.get_current_timezone()))
        .values("bucket")
        .annotate(n=Count("id"), good=Count("id", filter=Q(ok=True)))
        .order_by("bucket")
    )
    return [{"at": r["bucket"], "uptime": percent(r["good"], r["n"]), "checks": r["n"]} for r in rows]
