"""Customer and product analyses over the orders: cohort retention, RFM segments, lifetime value, ABC.

The same order definition as the sales figures (reports.sales): placed, not cancelled, in the report
currency. A customer is the order's customer record, or its e-mail address when it has none; orders with
neither are left out (they cannot be followed over time).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal

import numpy as np
from django.db.models import Sum
from django.utils.translation import gettext_lazy as _

from zaplecze.core.businesstime import tz
from zaplecze.orders.models import Order, OrderLine, Stage

from .sales import CENT, Period, counted_orders


def _customer_orders(until: dt.date, *, currency: str = "PLN") -> list[tuple[str, dt.date, Decimal]]:
    """(customer key, local day, gross total) of every counted order placed up to `until` (included)."""
    end = dt.datetime.combine(until + dt.timedelta(days=1), dt.time.min, tzinfo=tz())
    rows = (
        Order.objects.exclude(stage=Stage.CANCELLED)
        .filter(currency=currency, placed_at__lt=end)
        .values_list("customer_id", "email", "placed_at", "total_gross")
        .order_by("placed_at", "id")
    )
    zone = tz()
    out = []
    for customer_id, email, placed, gross in rows.iterator(chunk_size=10000):
        key = f"c{customer_id}" if customer_id else (f"e{email.strip().lower()}" if email else "")
        if key:
            out.append((key, placed.astimezone(zone).date(), gross))
    return out


def _month(d: dt.date) -> dt.date:
    return d.replace(day=1)


def _months_between(a: dt.date, b: dt.date) -> int:
    return (b.year - a.year) * 12 + b.month - a.month


def cohorts(period: Period, *, currency: str = "PLN", horizon: int = 12) -> list[dict]:
    """Monthly cohorts of customers whose first order falls in the period: how many of them ordered again in
    each following month (month 0 = the month of the first order, always 100 %)."""
    orders = _customer_orders(period.end, currency=currency)
    first: dict[str, dt.date] = {}
    months: dict[str, set[int]] = defaultdict(set)
    for key, day, _gross in orders:
        first.setdefault(key, day)
    for key, day, _gross in orders:
        months[key].add(_months_between(_month(first[key]), _month(day)))
    size: dict[dt.date, int] = defaultdict(int)
    active: dict[dt.date, list[int]] = defaultdict(lambda: [0] * (horizon + 1))
    for key, day in first.items():
        if not period.start <= day <= period.end:
            continue
        cohort = _month(day)
        size[cohort] += 1
        for m in months[key]:
            if m <= horizon:
                active[cohort][m] += 1
    last_month = _month(period.end)
    out = []
    for cohort in sorted(size):
        observable = _months_between(cohort, last_month)
        out.append(
            {
                "cohort": cohort,
                "customers": size[cohort],
                "retention": [
                    round(active[cohort][m] / size[cohort], 4) if m <= observable else None
                    for m in range(horizon + 1)
                ],
            }
        )
    return out


# RFM: each customer scored 1-5 on recency (days since the last order, fewer is better), frequency (orders)
# and monetary value (gross), by quintiles of the customers in the analysis; segments from (R, F) as usual.
SEGMENTS = [
    ("champions", _("Champions"), lambda r, f: r >= 4 and f >= 4),
    ("loyal", _("Loyal"), lambda r, f: r >= 3 and f >= 4),
    ("new", _("New"), lambda r, f: r >= 4 and f <= 1),
    ("promising", _("Promising"), lambda r, f: r >= 4),
    ("need_attention", _("Need attention"), lambda r, f: r == 3),
    ("at_risk", _("At risk"), lambda r, f: r <= 2 and f >= 3),
    ("hibernating", _("Hibernating"), lambda r, f: True),
]


def _quintile_scores(values: np.ndarray, *, higher_is_better: bool) -> np.ndarray:
    """1-5 by rank (ties share the lower rank), so equal values always get equal scores."""
    if values.size == 0:
        return values.astype(int)
    order = values if higher_is_better else -values
    ranks = np.searchsorted(np.sort(order), order, side="left")
    return 1 + (ranks * 5 // values.size).astype(int)


def rfm(as_of: dt.date, *, currency: str = "PLN", window_days: int = 365) -> dict:
    """RFM segments of the customers who ordered in the `window_days` up to `as_of`."""
    start = as_of - dt.timedelta(days=window_days - 1)
    last: dict[str, dt.date] = {}
    freq: dict[str, int] = defaultdict(int)
    money: dict[str, Decimal] = defaultdict(Decimal)
    for key, day, gross in _customer_orders(as_of, currency=currency):
        if day < start:
            continue
        last[key] = day
        freq[key] += 1
        money[key] += gross
    keys = sorted(last)
    if not keys:
        return {"as_of": as_of, "customers": 0, "segments": []}
    recency = np.array([(as_of - last[k]).days for k in keys], dtype=float)
    r = _quintile_scores(recency, higher_is_better=False)
    f = _quintile_scores(np.array([freq[k] for k in keys], dtype=float), higher_is_better=True)
    m = _quintile_scores(np.array([float(money[k]) for k in keys], dtype=float), higher_is_better=True)
    groups: dict[str, list[int]] = defaultdict(list)
    for i in range(len(keys)):
        code = next(c for c, _label, rule in SEGMENTS if rule(int(r[i]), int(f[i])))
        groups[code].append(i)
    segments = []
    for code, label, _rule in SEGMENTS:
        idx = groups.get(code, [])
        if not idx:
            continue
        segments.append(
            {
                "segment": code,
                "name": str(label),
                "customers": len(idx),
                "share": round(len(idx) / len(keys), 4),
                "avg_recency_days": round(float(recency[idx].mean()), 1),
                "avg_orders": round(float(np.mean([freq[keys[i]] for i in idx])), 2),
                "revenue_gross": sum((money[keys[i]] for i in idx), Decimal(0)).quantize(CENT),
                "avg_monetary_score": round(float(m[idx].mean()), 2),
            }
        )
    return {"as_of": as_of, "window_days": window_days, "customers": len(keys), "segments": segments}


def lifetime_value(as_of: dt.date, *, currency: str = "PLN") -> dict:
    """Historical lifetime value: gross revenue per customer over all their orders up to `as_of`, with the
    average number of orders and the repeat rate (customers with two or more orders)."""
    revenue: dict[str, Decimal] = defaultdict(Decimal)
    count: dict[str, int] = defaultdict(int)
    for key, _day, gross in _customer_orders(as_of, currency=currency):
        revenue[key] += gross
        count[key] += 1
    if not revenue:
        return {"customers": 0, "avg_clv": None, "median_clv": None, "avg_orders": None, "repeat_rate": None}
    values = np.array([float(v) for v in revenue.values()])
    return {
        "customers": len(revenue),
        "avg_clv": Decimal(str(float(values.mean()))).quantize(CENT),
        "median_clv": Decimal(str(float(np.median(values)))).quantize(CENT),
        "avg_orders": round(sum(count.values()) / len(count), 2),
        "repeat_rate": round(sum(1 for n in count.values() if n >= 2) / len(count), 4),
    }


def abc(period: Period, *, currency: str = "PLN", a_share: float = 0.8, b_share: float = 0.95) -> dict:
    """ABC analysis of products (SKUs) by gross revenue in the period: A = the products making the first 80 %
    of revenue, B = the next 15 %, C = the rest."""
    rows = list(
        OrderLine.objects.filter(order__in=counted_orders(period, currency=currency))
        .values("sku")
        .annotate(revenue=Sum("total_gross"), units=Sum("quantity"))
        .order_by("-revenue", "sku")
    )
    total = sum((r["revenue"] or 0) for r in rows) or Decimal(0)
    running = Decimal(0)
    classes: dict[str, dict] = {c: {"class": c, "products": 0, "revenue_gross": Decimal(0)} for c in "ABC"}
    items = []
    for r in rows:
        share_before = float(running / total) if total else 1.0
        cls = "A" if share_before < a_share else ("B" if share_before < b_share else "C")
        running += r["revenue"] or 0
        classes[cls]["products"] += 1
        classes[cls]["revenue_gross"] += r["revenue"] or 0
        items.append(
            {"sku": r["sku"], "class": cls, "revenue_gross": (r["revenue"] or Decimal(0)).quantize(CENT)}
        )
    for c in classes.values():
        c["revenue_gross"] = c["revenue_gross"].quantize(CENT)
        c["share"] = round(float(c["revenue_gross"] / total), 4) if total else None
    return {"classes": list(classes.values()), "products": items}


def customers_report(period: Period, *, currency: str = "PLN") -> dict:
    """Everything the customers page shows: cohorts of the period, RFM and lifetime value as of its last day,
    and the ABC classes of the products sold in it."""
    return {
        "from": period.start,
        "to": period.end,
        "currency": currency,
        "cohorts": cohorts(period, currency=currency),
        "rfm": rfm(period.end, currency=currency),
        "lifetime_value": lifetime_value(period.end, currency=currency),
        "abc": abc(period, currency=currency),
    }
