"""Anomaly alerts: a daily check of orders and gross revenue against the same weekday in the weeks before.

Method (explainable, robust to one odd week): the baseline is the values of the same weekday in the previous
8 weeks (a weekly season: Mondays are compared with Mondays). Expected = their median; the spread is the
median absolute deviation (MAD) scaled to a standard deviation (x 1.4826), with a floor of 10 % of the
median and of 1 unit so a flat history does not make every wiggle "significant". The robust z-score is
(value - median) / spread; a day is an anomaly when |z| >= 3.5 and at least 4 of the 8 baseline weeks had
sales. The alert keeps the evidence (value, expected, the range median ± 3.5 spreads, the days compared).

Traffic (issue #7 point 7): visitors and visits of the shop front (the first active analytics site) are
checked the same way, from the same analytics metric the traffic dashboard shows (analytics.metrics.summary
for one day). The conversion rate (real orders / visits, in %) is a rate, so its spread also has a floor of
the binomial sampling error of the day, 100 × sqrt(p (1 − p) / visits) with p the baseline median: a dip on
a quiet day that sampling alone explains is not an alert. The day needs at least MIN_VISITS visits for a
conversion verdict.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from decimal import Decimal

import numpy as np
from django.db import transaction
from django.utils.translation import gettext as _

from zaplecze.core import extensions

from .models import Anomaly
from .sales import Period, by_day

log = logging.getLogger("zaplecze.reports")
WEEKS = 8
THRESHOLD = 3.5
MIN_ACTIVE_WEEKS = 4
MIN_VISITS = 30
SALES_METRICS = (Anomaly.Metric.ORDERS, Anomaly.Metric.REVENUE)
TRAFFIC_METRICS = (Anomaly.Metric.VISITORS, Anomaly.Metric.VISITS)


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


def evaluate_rate(rates: dict[dt.date, float], visits: dict[dt.date, int], day: dt.date) -> dict | None:
    """The verdict for a rate in % (conversion) on `day`: the same weekday baseline, with the binomial
    sampling error of the day as a further floor of the spread. None: too little history or traffic."""
    days = _baseline_days(day)
    base = np.array(
        [rates[d] for d in days if rates.get(d) is not None and visits.get(d, 0) > 0], dtype=float
    )
    n = visits.get(day, 0)
    if base.size < MIN_ACTIVE_WEEKS or n < MIN_VISITS or rates.get(day) is None:
        return None
    median = float(np.median(base))
    mad = float(np.median(np.abs(base - median))) * 1.4826
    p = min(max(median / 100, 0.0), 1.0)
    sampling = 100 * math.sqrt(p * (1 - p) / n)
    spread = max(mad, 0.1 * median, sampling)
    if spread <= 0:
        return None
    value = float(rates[day])
    z = (value - median) / spread
    return {
        "value": value,
        "expected": median,
        "low": max(0.0, median - THRESHOLD * spread),
        "high": min(100.0, median + THRESHOLD * spread),
        "score": round(z, 2),
        "anomaly": abs(z) >= THRESHOLD,
        "baseline_days": [d.isoformat() for d in days],
        "sampling_error": round(sampling, 4),
    }


def traffic_verdicts(day: dt.date, *, site: str | None = None) -> dict[str, dict | None]:
    """Visitors, visits and conversion of `day` against the same weekday before (from analytics)."""
    from .insights_traffic import daily, site_domain

    site = site or site_domain()
    if not site:
        return {}
    series = daily(site, [day, *_baseline_days(day)])
    out: dict[str, dict | None] = {}
    for metric in TRAFFIC_METRICS:
        out[metric] = evaluate({d: float(v[metric]) for d, v in series.items()}, day)
    rates = {d: v["conversion_rate"] * 100 for d, v in series.items() if v["conversion_rate"] is not None}
    out[Anomaly.Metric.CONVERSION] = evaluate_rate(rates, {d: v["visits"] for d, v in series.items()}, day)
    return out


def check_day(day: dt.date, *, channel: str = "", notify: bool = True, traffic: bool = True) -> list[Anomaly]:
    """Check orders and gross revenue of `day` (and, for the whole shop, its traffic and conversion);
    record anomalies (once per metric and day) and tell staff."""
    series = by_day(Period(day - dt.timedelta(weeks=WEEKS), day), channel=channel)
    verdicts: dict[str, dict | None] = {}
    for metric in SALES_METRICS:
        verdicts[metric] = evaluate({r["day"]: float(r[metric]) for r in series}, day)
    if traffic and not channel:
        try:
            verdicts.update(traffic_verdicts(day))
        except Exception:  # the analytics store unreadable: the sales check still runs
            log.exception("traffic anomaly check failed for %s", day)
    found = []
    for metric, verdict in verdicts.items():
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
    unit = " %" if a.metric == Anomaly.Metric.CONVERSION else ""
    return text % {
        "metric": label,
        "day": a.day.isoformat(),
        **{k: f"{getattr(a, k).normalize():f}{unit}" for k in ("value", "expected", "high", "low")},
    }


def _subject(day: dt.date, anomalies: list[Anomaly]) -> str:
    sales = any(a.metric in SALES_METRICS for a in anomalies)
    traffic = any(a.metric not in SALES_METRICS for a in anomalies)
    if sales and traffic:
        return _("Unusual sales and traffic on %(day)s") % {"day": day.isoformat()}
    if traffic:
        return _("Unusual traffic on %(day)s") % {"day": day.isoformat()}
    return _("Unusual sales on %(day)s") % {"day": day.isoformat()}


def _notify(day: dt.date, anomalies: list[Anomaly]) -> None:
    send = extensions.get("staff.notify", "email")
    if send is None:
        return
    send(
        key=f"anomaly:{day.isoformat()}:{','.join(str(a.pk) for a in anomalies)}",
        kind="anomaly_alert",
        roles=("admin", "organiser"),
        subject=lambda: _subject(day, anomalies),
        body=lambda: (
            "\n".join(describe(a) for a in anomalies)
            + "\n\n"
            + _("Compared with the same weekday in the previous 8 weeks. Details: Reports › Alerts.")
        ),
    )
