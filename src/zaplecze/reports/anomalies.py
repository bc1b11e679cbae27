"""Anomaly alerts: a daily check of orders and gross revenue against the same weekday in the weeks before.

Method (explainable, robust to one odd week): the baseline is the values of the same weekday in the previous
8 weeks (a weekly season: Mondays are compared with Mondays). Expected = their median; the spread is the
median absolute deviation (MAD) scaled to a standard deviation (x 1.4826), with a floor of 10 % of the
median and of 1 unit so a flat history does not make every wiggle "significant". The robust z-score is
(value - median) / spread; a day is an anomaly when |z| >= 3.5 and at least 4 of the 8 baseline weeks had
sales. The alert keeps the evidence (value, expected, the range median ± 3.5 spreads, the days compared).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np
from django.db import transaction
from django.utils.translation import gettext as _

from zaplecze.core import extensions

from .models import Anomaly
from .sales import Period, by_day

WEEKS = 8
THRESHOLD = 3.5
MIN_ACTIVE_WEEKS = 4


def _baseline_days(day: dt.date) -> list[dt.date]:
    return [day - dt.timedelta(weeks=w) for w in range(1, WEEKS + 1)]


def evaluate(values: dict[dt.date, float], day: dt.date) -> dict | None:
    """The verdict for `day` from a series of daily values, or None when there is too little history."""
    days = _baseline_days(day)
    base = np.array([values.get(d, 0.0) for d in days], dtype=float)
    if int((base > 0).sum()) < MIN_ACTIVE_WEEKS:
        return None
    median = float(np.median(base))
    mad = float(np.median(np.abs(base - median))) * 1.4826
    spread = max(mad, 0.1 * median, 1.0)
    value = float(values.get(day, 0.0))
    z = (value - median) / spread
    return {
        "value": value,
        "expected": median,
        "low": max(0.0, median - THRESHOLD * spread),
        "high": median + THRESHOLD * spread,
        "score": round(z, 2),
        "anomaly": abs(z) >= THRESHOLD,
        "baseline_days": [d.isoformat() for d in days],
    }


def check_day(day: dt.date, *, channel: str = "", notify: bool = True) -> list[Anomaly]:
    """Check orders and gross revenue of `day`; record anomalies (once per metric and day) and tell staff."""
    series = by_day(Period(day - dt.timedelta(weeks=WEEKS), day), channel=channel)
    found = []
    for metric in (Anomaly.Metric.ORDERS, Anomaly.Metric.REVENUE):
        values = {r["day"]: float(r[metric]) for r in series}
        verdict = evaluate(values, day)
        if verdict is None or not verdict["anomaly"]:
            continue
        with transaction.atomic():
            anomaly, created = Anomaly.objects.get_or_create(
                metric=metric,
                day=day,
                channel=channel,
                defaults={k: Decimal(str(round(verdict[k], 2))) for k in ("value", "expected", "low", "high")}
                | {"score": verdict["score"], "baseline_days": verdict["baseline_days"]},
            )
        if created:
            found.append(anomaly)
    if found and notify:
        _notify(day, found)
    return found


def describe(a: Anomaly) -> str:
    """The evidence in one sentence."""
    label = Anomaly.Metric(a.metric).label
    if a.direction == "up":
        text = _(
            "%(metric)s on %(day)s: %(value)s, well above the %(expected)s expected (usual range up to %(high)s)"
        )
    else:
        text = _(
            "%(metric)s on %(day)s: %(value)s, well below the %(expected)s expected (usual range from %(low)s)"
        )
    return text % {
        "metric": label,
        "day": a.day.isoformat(),
        "value": a.value.normalize(),
        "expected": a.expected.normalize(),
        "high": a.high.normalize(),
        "low": a.low.normalize(),
    }


def _notify(day: dt.date, anomalies: list[Anomaly]) -> None:
    send = extensions.get("staff.notify", "email")
    if send is None:
        return
    send(
        key=f"anomaly:{day.isoformat()}:{','.join(str(a.pk) for a in anomalies)}",
        kind="anomaly_alert",
        roles=("admin", "organiser"),
        subject=lambda: _("Unusual sales on %(day)s") % {"day": day.isoformat()},
        body=lambda: (
            "\n".join(describe(a) for a in anomalies)
            + "\n\n"
            + _("Compared with the same weekday in the previous 8 weeks. Details: Reports › Alerts.")
        ),
    )
