"""Insights: explainable rules that turn the shop's figures into recommended actions.

Each rule is a small function `detect(ctx) -> [Candidate]`. A candidate carries its evidence (the numbers and
the period), the statistic used and its p-value, a confidence, the expected effect (in PLN or units, with the
formula written into the evidence), a suggested action and a link to act. Each rule also has `measure`, the
same metric for one subject over any period: the value the evidence shows as "before" and, after an insight
is marked done, the value over an equal period after that (insights_services.insight_measure).

The rules (docs/insights.md has the definitions and thresholds):

- product_conversion — a product viewed by many visits but ordered far less often than products in general:
  exact binomial test of its orders among its viewing visits against the shop-wide rate (Bonferroni over the
  products tested);
- stockout — the stock position (available + on order) is likely to run out before a new delivery could
  arrive: P(demand over the supplier lead time > position) with Poisson demand at the forecast daily rate;
- return_rate — a product's returned units per unit sold, or the returns giving one reason per order, up
  against the 12 weeks before: Poisson test of the returns against those expected at the old rate;
- carrier_late — a carrier's share of late deliveries up against the 8 weeks before: two-proportion z-test;
- channel_conversion — a traffic source's conversion down against its weekday-seasonal baseline (each
  day's visits times the rate of the same weekday in the 4 weeks before): z-test of orders against expected;
- abandoned_checkout — the share of checkouts not ending in a purchase up against the 4 weeks before:
  two-proportion z-test;
- slow_stock — stock that will not sell within 180 days even at the upper 95 % bound of its sales rate,
  held for at least 90 days: a promotion candidate;
- stage_stall — more open orders in a stage beyond that stage's usual (90th percentile) time than the 10 %
  expected: binomial test.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from urllib.parse import urlencode

from django.db.models import Count, Min, Sum
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy
from scipy import stats

from zaplecze.catalog.models import Variant
from zaplecze.core.businesstime import tz
from zaplecze.inventory.models import StockLevel
from zaplecze.orders.models import OPEN_STAGES, Order, OrderLine, Stage
from zaplecze.purchasing import selectors as purchasing
from zaplecze.service.models import RETURN_COUNTING_STATES, Return, ReturnLine
from zaplecze.shipping.selectors import carrier_performance

from . import insights_traffic
from .models import Insight
from .sales import Period, counted_orders

K = Insight.Kind
CENT = Decimal("0.01")

ALPHA = 0.01  # significance level of every test (divided by the number of subjects tested)
WINDOW = 28  # days of the recent period of most rules
MIN_VIEW_VISITS = 100  # product_conversion: visits that viewed the product
RETURN_BASELINE_DAYS = 84
MIN_RETURNS = 3
CARRIER_BASELINE_DAYS = 56
MIN_DELIVERED = 20
MIN_LATE_INCREASE = 0.05  # five percentage points
TRAFFIC_DAYS = 7  # channel_conversion, abandoned_checkout: the last week ...
TRAFFIC_BASELINE_WEEKS = 4  # ... against the 4 weeks before
MIN_EXPECTED_ORDERS = 10
MIN_DROP = 0.25  # channel conversion at least 25 % below the baseline
MIN_CHECKOUTS = 30
MIN_ABANDON_INCREASE = 0.05
STOCKOUT_PROBABILITY = 0.5
SLOW_HORIZON_DAYS = 180
SLOW_HISTORY_DAYS = 90
SLOW_MIN_AGE_DAYS = 90
STALL_HISTORY_DAYS = 90
STALL_QUANTILE = 0.9
MIN_STAGE_SAMPLES = 20
MIN_STALLED = 3


@dataclass
class Context:
    """What every rule is computed for: the day of the run (figures end the day before)."""

    today: dt.date
    site: str | None = None
    traffic_cache: dict = field(default_factory=dict)
    now: dt.datetime | None = None

    @property
    def yesterday(self) -> dt.date:
        return self.today - dt.timedelta(days=1)

    def recent(self, days: int = WINDOW) -> Period:
        return Period(self.today - dt.timedelta(days=days), self.yesterday)

    def moment(self) -> dt.datetime:
        return self.now or dt.datetime.combine(self.today, dt.time.min, tzinfo=tz())


@dataclass
class Candidate:
    kind: str
    subject_type: str
    subject_id: str
    subject_label: str
    title: str
    period: Period
    evidence: dict
    statistic: str
    p_value: float | None
    confidence: float
    expected_effect: Decimal | None
    effect_unit: str
    action_text: str
    action_url: str

    def __post_init__(self) -> None:
        self.title = self.title or headline(self.kind, self.subject_type, self.subject_label, self.evidence)
        self.action_text = self.action_text or action_text(self.kind, self.subject_type)

    @property
    def fingerprint(self) -> str:
        return f"{self.kind}:{self.subject_type}:{self.subject_id}"[:255]


def _money(value) -> Decimal:
    return Decimal(str(value)).quantize(CENT, ROUND_HALF_UP)


def _r(x: float | None, n: int = 4) -> float | None:
    return None if x is None else round(float(x), n)


def _measure_spec(metric: str, before: float | None, better: str, days: int, subject: dict) -> dict:
    """What `insight_measure` re-measures after done: the rule's metric for the subject over `days` days."""
    return {"metric": metric, "before": _r(before), "better": better, "days": days, "subject": subject}


def _two_proportion(k1: int, n1: int, k2: int, n2: int) -> tuple[float, float]:
    """z and the one-sided p-value of "rate 1 is above rate 2" (pooled two-proportion z-test)."""
    pooled = (k1 + k2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return 0.0, 1.0
    z = (k1 / n1 - k2 / n2) / se
    return z, float(stats.norm.sf(z))


def _product_url(variant: Variant | None) -> str:
    if variant is None:
        return reverse("catalog:products")
    return reverse("catalog:product", args=[variant.product_id])


# --- many views, low conversion -------------------------------------------------------------------------


def _orders_by_sku(period: Period, skus) -> dict[str, dict]:
    rows = (
        OrderLine.objects.filter(order__in=counted_orders(period), sku__in=list(skus))
        .values("sku")
        .annotate(orders=Count("order_id", distinct=True), gross=Sum("total_gross"), lines=Count("id"))
    )
    return {r["sku"]: r for r in rows}


def _product_conversion(site: str, period: Period) -> dict[str, dict]:
    views = insights_traffic.product_views(site, period)
    orders = _orders_by_sku(period, views)
    out = {}
    for sku, v in views.items():
        o = orders.get(sku, {})
        n = o.get("orders", 0)
        out[sku] = {
            "visits": v["visits"],
            "views": v["views"],
            "orders": n,
            "rate": n / v["visits"] if v["visits"] else None,
            "line_value": (o["gross"] / o["lines"]) if o.get("lines") else None,
        }
    return out


def detect_product_conversion(ctx: Context) -> list[Candidate]:
    if not ctx.site:
        return []
    period = ctx.recent()
    data = _product_conversion(ctx.site, period)
    total_visits = sum(d["visits"] for d in data.values())
    total_orders = sum(d["orders"] for d in data.values())
    if not total_visits or not total_orders:
        return []
    p0 = total_orders / total_visits
    tested = {sku: d for sku, d in data.items() if d["visits"] >= MIN_VIEW_VISITS}
    if not tested:
        return []
    alpha = ALPHA / len(tested)
    variants = {v.sku: v for v in Variant.objects.filter(sku__in=list(tested))}
    out = []
    for sku, d in sorted(tested.items()):
        k, n = d["orders"], d["visits"]
        p = stats.binomtest(k, n, p0, alternative="less").pvalue
        if p >= alpha or k / n >= p0 / 2:
            continue
        variant = variants.get(sku)
        value = d["line_value"] or (variant.price if variant else None)
        missing = p0 * n - k
        effect = _money(missing * float(value)) if value is not None else None
        label = f"{sku} {variant.name}" if variant else sku
        out.append(
            Candidate(
                kind=K.PRODUCT_CONVERSION,
                subject_type="sku",
                subject_id=sku,
                subject_label=label,
                title="",
                period=period,
                evidence={
                    "view_visits": n,
                    "views": d["views"],
                    "orders": k,
                    "rate": _r(k / n),
                    "shop_rate": _r(p0),
                    "shop_view_visits": total_visits,
                    "shop_orders": total_orders,
                    "products_tested": len(tested),
                    "alpha": _r(alpha, 6),
                    "effect_formula": "(shop_rate × view_visits − orders) × average order line value",
                    "line_value": str(_money(value)) if value is not None else None,
                    "measure": _measure_spec(
                        "product_conversion", k / n, "higher", period.days, {"sku": sku}
                    ),
                },
                statistic="exact binomial test (one-sided, lower)",
                p_value=p,
                confidence=1 - p,
                expected_effect=effect,
                effect_unit="PLN",
                action_text="",
                action_url=_product_url(variant),
            )
        )
    return out


def measure_product_conversion(subject: dict, period: Period, ctx: Context) -> dict:
    if not ctx.site:
        return {"value": None}
    d = _product_conversion(ctx.site, period).get(subject["sku"])
    if not d:
        return {"value": None, "view_visits": 0, "orders": 0}
    return {"value": _r(d["rate"]), "view_visits": d["visits"], "orders": d["orders"]}


# --- stock-out within the lead time ---------------------------------------------------------------------


def _stockout(row) -> dict:
    p = row.param
    rate = float(p.daily_rate)
    cover = int(p.cover_days or 0)
    mu = rate * cover
    position = max(row.available, 0) + row.on_order
    prob = float(stats.poisson.sf(position, mu)) if mu > 0 else 0.0  # P(demand > position)
    return {"rate": rate, "cover": cover, "mu": mu, "position": position, "probability": prob}


def detect_stockout(ctx: Context) -> list[Candidate]:
    out = []
    period = Period(ctx.today, ctx.today)
    for row in purchasing.parameters(limit=100_000):
        p = row.param
        if not p.variant.active or float(p.daily_rate) <= 0 or not p.cover_days:
            continue
        s = _stockout(row)
        if s["probability"] < STOCKOUT_PROBABILITY:
            continue
        short = max(0.0, s["mu"] - s["position"])
        variant = p.variant
        wh = p.warehouse.code if p.warehouse_id else ""
        subject_id = f"{variant.sku}@{wh}" if wh else variant.sku
        days_left = s["position"] / s["rate"]
        out.append(
            Candidate(
                kind=K.STOCKOUT,
                subject_type="variant",
                subject_id=subject_id,
                subject_label=f"{variant.sku} {variant.name}" + (f" ({wh})" if wh else ""),
                title="",
                period=period,
                evidence={
                    "available": row.available,
                    "on_order": row.on_order,
                    "position": s["position"],
                    "daily_rate": _r(s["rate"], 3),
                    "lead_time_working_days": p.lead_time_days,
                    "lead_time_calendar_days": s["cover"],
                    "lead_time_demand": _r(s["mu"], 1),
                    "days_of_cover": _r(days_left, 1),
                    "reorder_point": p.reorder_point,
                    "stockout_probability": _r(s["probability"]),
                    "units_short": _r(short, 1),
                    "unit_price": str(variant.price),
                    "effect_formula": "max(0, daily rate × lead-time days − position) × price (gross)",
                    "measure": _measure_spec("stockout", s["probability"], "lower", 7, {"param_id": p.pk}),
                },
                statistic="Poisson demand over the lead time",
                p_value=None,
                confidence=s["probability"],
                expected_effect=_money(short * float(variant.price)),
                effect_unit="PLN",
                action_text="",
                action_url=reverse("purchasing:reorder") + "?" + urlencode({"q": variant.sku}),
            )
        )
    return out


def measure_stockout(subject: dict, period: Period, ctx: Context) -> dict:
    try:
        row = purchasing.access_parameter(subject["param_id"])
    except Exception:  # the parameters were deleted
        return {"value": None}
    s = _stockout(row)
    return {"value": _r(s["probability"]), "position": s["position"], "lead_time_demand": _r(s["mu"], 1)}


# --- rising returns -------------------------------------------------------------------------------------


def _returned_units(period: Period) -> dict[int, int]:
    start, end = period.bounds()
    rows = (
        ReturnLine.objects.filter(
            return_case__statement_received_at__gte=start,
            return_case__statement_received_at__lt=end,
            return_case__state__in=list(RETURN_COUNTING_STATES),
            order_line__variant_id__isnull=False,
        )
        .values("order_line__variant_id")
        .annotate(q=Sum("quantity"))
    )
    return {r["order_line__variant_id"]: int(r["q"]) for r in rows}


def _sold_units(period: Period) -> dict[int, dict]:
    rows = (
        OrderLine.objects.filter(order__in=counted_orders(period), variant_id__isnull=False)
        .values("variant_id")
        .annotate(q=Sum("quantity"), gross=Sum("total_gross"))
    )
    return {r["variant_id"]: {"units": int(r["q"]), "gross": r["gross"]} for r in rows}


def normalise_reason(text: str) -> str:
    return " ".join(text.lower().split())[:120]


def _reasons(period: Period) -> dict[str, int]:
    start, end = period.bounds()
    counts: dict[str, int] = defaultdict(int)
    for reason in Return.objects.filter(
        statement_received_at__gte=start,
        statement_received_at__lt=end,
        state__in=list(RETURN_COUNTING_STATES),
    ).values_list("reason", flat=True):
        key = normalise_reason(reason)
        if key:
            counts[key] += 1
    return counts


def _poisson_excess(observed: int, expected: float) -> float:
    """One-sided p-value of seeing `observed` or more when `expected` are expected."""
    return float(stats.poisson.sf(observed - 1, expected)) if expected > 0 else 0.0


def detect_return_rate(ctx: Context) -> list[Candidate]:
    recent = ctx.recent()
    base = Period(recent.start - dt.timedelta(days=RETURN_BASELINE_DAYS), recent.start - dt.timedelta(days=1))
    out: list[Candidate] = []
    # per product
    ret_r, ret_b = _returned_units(recent), _returned_units(base)
    sold_r, sold_b = _sold_units(recent), _sold_units(base)
    tested = [v for v, n in ret_r.items() if n >= MIN_RETURNS and sold_b.get(v, {}).get("units", 0) >= 20]
    # per reason (returns per order)
    reasons_r, reasons_b = _reasons(recent), _reasons(base)
    orders_r, orders_b = counted_orders(recent).count(), counted_orders(base).count()
    tested_reasons = [r for r, n in reasons_r.items() if n >= MIN_RETURNS] if orders_b and orders_r else []
    m = len(tested) + len(tested_reasons)
    if not m:
        return out
    alpha = ALPHA / m
    variants = Variant.objects.in_bulk(tested)
    for vid in tested:
        sold_now = sold_r.get(vid, {}).get("units", 0)
        if not sold_now:
            continue
        # a small prior (half a return) so a product that was never returned still has a rate
        base_rate = (ret_b.get(vid, 0) + 0.5) / (sold_b[vid]["units"] + 1)
        expected = base_rate * sold_now
        observed = ret_r[vid]
        p = _poisson_excess(observed, expected)
        if p >= alpha or observed < 1.5 * expected:
            continue
        variant = variants[vid]
        unit_value = sold_r[vid]["gross"] / sold_now
        out.append(
            Candidate(
                kind=K.RETURN_RATE,
                subject_type="variant",
                subject_id=variant.sku,
                subject_label=f"{variant.sku} {variant.name}",
                title="",
                period=recent,
                evidence={
                    "returned_units": observed,
                    "sold_units": sold_now,
                    "rate": _r(observed / sold_now),
                    "baseline_from": base.start.isoformat(),
                    "baseline_to": base.end.isoformat(),
                    "baseline_returned_units": ret_b.get(vid, 0),
                    "baseline_sold_units": sold_b[vid]["units"],
                    "baseline_rate": _r(base_rate),
                    "expected_returns": _r(expected, 2),
                    "alpha": _r(alpha, 6),
                    "unit_value": str(_money(unit_value)),
                    "effect_formula": "(returned − expected at the baseline rate) × average unit value (gross)",
                    "measure": _measure_spec(
                        "return_rate_product", observed / sold_now, "lower", recent.days, {"variant_id": vid}
                    ),
                },
                statistic="Poisson test of returns against the baseline rate",
                p_value=p,
                confidence=1 - p,
                expected_effect=_money((observed - expected) * float(unit_value)),
                effect_unit="PLN",
                action_text="",
                action_url=_product_url(variant),
            )
        )
    for reason in tested_reasons:
        base_rate = (reasons_b.get(reason, 0) + 0.5) / (orders_b + 1)
        expected = base_rate * orders_r
        observed = reasons_r[reason]
        p = _poisson_excess(observed, expected)
        if p >= alpha or observed < 1.5 * expected:
            continue
        out.append(
            Candidate(
                kind=K.RETURN_RATE,
                subject_type="reason",
                subject_id=reason,
                subject_label=reason,
                title="",
                period=recent,
                evidence={
                    "returns": observed,
                    "orders": orders_r,
                    "rate": _r(observed / orders_r),
                    "baseline_from": base.start.isoformat(),
                    "baseline_to": base.end.isoformat(),
                    "baseline_returns": reasons_b.get(reason, 0),
                    "baseline_orders": orders_b,
                    "baseline_rate": _r(base_rate),
                    "expected_returns": _r(expected, 2),
                    "alpha": _r(alpha, 6),
                    "effect_formula": "returns − expected at the baseline rate (returns per period)",
                    "measure": _measure_spec(
                        "return_rate_reason", observed / orders_r, "lower", recent.days, {"reason": reason}
                    ),
                },
                statistic="Poisson test of returns against the baseline rate",
                p_value=p,
                confidence=1 - p,
                expected_effect=_money(observed - expected),
                effect_unit="returns",
                action_text="",
                action_url=reverse("service:returns"),
            )
        )
    return out


def measure_return_rate_product(subject: dict, period: Period, ctx: Context) -> dict:
    vid = subject["variant_id"]
    sold = _sold_units(period).get(vid, {}).get("units", 0)
    returned = _returned_units(period).get(vid, 0)
    return {"value": _r(returned / sold) if sold else None, "returned_units": returned, "sold_units": sold}


def measure_return_rate_reason(subject: dict, period: Period, ctx: Context) -> dict:
    orders = counted_orders(period).count()
    n = _reasons(period).get(subject["reason"], 0)
    return {"value": _r(n / orders) if orders else None, "returns": n, "orders": orders}


# --- carriers late more often ---------------------------------------------------------------------------


def _carrier_rates(period: Period) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for perf in carrier_performance(period.start, period.end):
        row = out.setdefault(perf.carrier, {"name": perf.carrier_name, "delivered": 0, "on_time": 0})
        row["delivered"] += perf.delivered
        row["on_time"] += perf.on_time
    for row in out.values():
        row["late"] = row["delivered"] - row["on_time"]
        row["rate"] = row["late"] / row["delivered"] if row["delivered"] else None
    return out


def detect_carrier_late(ctx: Context) -> list[Candidate]:
    recent = ctx.recent()
    base = Period(
        recent.start - dt.timedelta(days=CARRIER_BASELINE_DAYS), recent.start - dt.timedelta(days=1)
    )
    now, before = _carrier_rates(recent), _carrier_rates(base)
    tested = [
        c
        for c, r in now.items()
        if r["delivered"] >= MIN_DELIVERED and before.get(c, {}).get("delivered", 0) >= MIN_DELIVERED
    ]
    if not tested:
        return []
    alpha = ALPHA / len(tested)
    out = []
    for code in sorted(tested):
        r, b = now[code], before[code]
        z, p = _two_proportion(r["late"], r["delivered"], b["late"], b["delivered"])
        if p >= alpha or r["rate"] - b["rate"] < MIN_LATE_INCREASE:
            continue
        extra = (r["rate"] - b["rate"]) * r["delivered"]
        out.append(
            Candidate(
                kind=K.CARRIER_LATE,
                subject_type="carrier",
                subject_id=code,
                subject_label=r["name"],
                title="",
                period=recent,
                evidence={
                    "delivered": r["delivered"],
                    "late": r["late"],
                    "rate": _r(r["rate"]),
                    "baseline_from": base.start.isoformat(),
                    "baseline_to": base.end.isoformat(),
                    "baseline_delivered": b["delivered"],
                    "baseline_late": b["late"],
                    "baseline_rate": _r(b["rate"]),
                    "z": _r(z, 2),
                    "alpha": _r(alpha, 6),
                    "effect_formula": "(late rate − baseline late rate) × deliveries in the period",
                    "measure": _measure_spec(
                        "carrier_late", r["rate"], "lower", recent.days, {"carrier": code}
                    ),
                },
                statistic="two-proportion z-test (one-sided)",
                p_value=p,
                confidence=1 - p,
                expected_effect=_money(extra),
                effect_unit="deliveries",
                action_text="",
                action_url=reverse("shipping:performance")
                + "?"
                + urlencode({"date_from": recent.start.isoformat(), "date_to": recent.end.isoformat()}),
            )
        )
    return out


def measure_carrier_late(subject: dict, period: Period, ctx: Context) -> dict:
    r = _carrier_rates(period).get(subject["carrier"])
    if not r:
        return {"value": None, "delivered": 0}
    return {"value": _r(r["rate"]), "delivered": r["delivered"], "late": r["late"]}


# --- traffic: channel conversion and abandoned checkouts ------------------------------------------------


def _days(period: Period) -> list[dt.date]:
    return period.each_day()


def channel_baseline(days: dict[dt.date, dict], recent: list[dt.date], source: str) -> dict:
    """Observed and expected orders of `source` over the `recent` days: each day's visits times the
    conversion rate of the same weekday in the baseline days (pooled), with the binomial variance."""
    by_weekday: dict[int, list[int]] = defaultdict(lambda: [0, 0])  # weekday -> [orders, visits]
    for day, data in days.items():
        if day in recent:
            continue
        s = data["sources"].get(source)
        if s:
            by_weekday[day.weekday()][0] += s["orders"]
            by_weekday[day.weekday()][1] += s["visits"]
    observed = visits = 0
    expected = variance = 0.0
    revenue = Decimal(0)
    for day in recent:
        s = days[day]["sources"].get(source, {"visits": 0, "orders": 0, "revenue": Decimal(0)})
        o, v = by_weekday[day.weekday()]
        rate = o / v if v else 0.0
        observed += s["orders"]
        visits += s["visits"]
        expected += s["visits"] * rate
        variance += s["visits"] * rate * (1 - rate)
    base_orders = sum(o for o, _ in by_weekday.values())
    base_visits = sum(v for _, v in by_weekday.values())
    for day, data in days.items():
        if day not in recent and source in data["sources"]:
            revenue += Decimal(data["sources"][source]["revenue"])
    return {
        "observed": observed,
        "visits": visits,
        "expected": expected,
        "variance": variance,
        "baseline_orders": base_orders,
        "baseline_visits": base_visits,
        "baseline_aov": (revenue / base_orders) if base_orders else None,
        "weekday_rates": {str(w): _r(o / v) if v else None for w, (o, v) in sorted(by_weekday.items())},
    }


def _traffic_days(ctx: Context) -> tuple[dict[dt.date, dict], list[dt.date]]:
    recent = ctx.recent(TRAFFIC_DAYS)
    start = recent.start - dt.timedelta(weeks=TRAFFIC_BASELINE_WEEKS)
    days = insights_traffic.daily(ctx.site, _days(Period(start, recent.end)), cache=ctx.traffic_cache)
    return days, _days(recent)


def detect_channel_conversion(ctx: Context) -> list[Candidate]:
    if not ctx.site:
        return []
    days, recent = _traffic_days(ctx)
    sources = sorted({s for d in days.values() for s in d["sources"]})
    checks = {}
    for source in sources:
        b = channel_baseline(days, recent, source)
        if b["expected"] >= MIN_EXPECTED_ORDERS and b["variance"] > 0:
            checks[source] = b
    if not checks:
        return []
    alpha = ALPHA / len(checks)
    period = Period(recent[0], recent[-1])
    out = []
    for source, b in checks.items():
        z = (b["observed"] - b["expected"]) / math.sqrt(b["variance"])
        p = float(stats.norm.cdf(z))
        if p >= alpha or b["observed"] > (1 - MIN_DROP) * b["expected"]:
            continue
        missing = b["expected"] - b["observed"]
        aov = b["baseline_aov"]
        rate = b["observed"] / b["visits"] if b["visits"] else None
        base_rate = b["baseline_orders"] / b["baseline_visits"] if b["baseline_visits"] else None
        out.append(
            Candidate(
                kind=K.CHANNEL_CONVERSION,
                subject_type="source",
                subject_id=source,
                subject_label=source,
                title="",
                period=period,
                evidence={
                    "visits": b["visits"],
                    "orders": b["observed"],
                    "rate": _r(rate),
                    "expected_orders": _r(b["expected"], 2),
                    "baseline_rate": _r(base_rate),
                    "baseline_weeks": TRAFFIC_BASELINE_WEEKS,
                    "baseline_visits": b["baseline_visits"],
                    "baseline_orders": b["baseline_orders"],
                    "weekday_rates": b["weekday_rates"],
                    "z": _r(z, 2),
                    "alpha": _r(alpha, 6),
                    "baseline_aov": str(_money(aov)) if aov is not None else None,
                    "effect_formula": (
                        "(Σ visits of each day × conversion of the same weekday before − orders) × baseline AOV"
                    ),
                    "measure": _measure_spec(
                        "channel_conversion", rate, "higher", period.days, {"source": source}
                    ),
                },
                statistic="z-test against the weekday-seasonal baseline",
                p_value=p,
                confidence=1 - p,
                expected_effect=_money(missing * float(aov)) if aov is not None else _money(missing),
                effect_unit="PLN" if aov is not None else "orders",
                action_text="",
                action_url=reverse("analytics:index")
                + "?"
                + urlencode(
                    {"site": ctx.site, "date_from": period.start, "date_to": period.end, "source": source}
                ),
            )
        )
    return out


def _sum_days(days: dict[dt.date, dict], which: list[dt.date], source: str | None = None) -> dict:
    total = {"visits": 0, "orders": 0, "checkouts": 0, "purchases": 0}
    for d in which:
        data = days[d]
        if source is None:
            total["visits"] += data["visits"]
            total["orders"] += data["orders"]
        else:
            s = data["sources"].get(source, {})
            total["visits"] += s.get("visits", 0)
            total["orders"] += s.get("orders", 0)
        total["checkouts"] += data["funnel"].get("begin_checkout", 0)
        total["purchases"] += data["funnel"].get("purchase", 0)
    return total


def measure_channel_conversion(subject: dict, period: Period, ctx: Context) -> dict:
    if not ctx.site:
        return {"value": None}
    days = insights_traffic.daily(ctx.site, _days(period), cache=ctx.traffic_cache)
    t = _sum_days(days, list(days), subject["source"])
    return {"value": _r(t["orders"] / t["visits"]) if t["visits"] else None, **t}


def detect_abandoned_checkout(ctx: Context) -> list[Candidate]:
    if not ctx.site:
        return []
    days, recent = _traffic_days(ctx)
    base_days = [d for d in days if d not in recent]
    now, before = _sum_days(days, recent), _sum_days(days, base_days)
    if now["checkouts"] < MIN_CHECKOUTS or before["checkouts"] < MIN_CHECKOUTS:
        return []
    a_now = now["checkouts"] - now["purchases"]
    a_before = before["checkouts"] - before["purchases"]
    r_now, r_before = a_now / now["checkouts"], a_before / before["checkouts"]
    z, p = _two_proportion(a_now, now["checkouts"], a_before, before["checkouts"])
    if p >= ALPHA or r_now - r_before < MIN_ABANDON_INCREASE:
        return []
    extra = (r_now - r_before) * now["checkouts"]
    aov = Decimal(0)
    period = Period(recent[0], recent[-1])
    base = Period(base_days[0], base_days[-1])
    totals = counted_orders(base).aggregate(n=Count("id"), gross=Sum("total_gross"))
    if totals["n"]:
        aov = totals["gross"] / totals["n"]
    return [
        Candidate(
            kind=K.ABANDONED_CHECKOUT,
            subject_type="shop",
            subject_id=ctx.site,
            subject_label=ctx.site,
            title="",
            period=period,
            evidence={
                "checkouts": now["checkouts"],
                "abandoned": a_now,
                "rate": _r(r_now),
                "baseline_from": base.start.isoformat(),
                "baseline_to": base.end.isoformat(),
                "baseline_checkouts": before["checkouts"],
                "baseline_abandoned": a_before,
                "baseline_rate": _r(r_before),
                "z": _r(z, 2),
                "aov": str(_money(aov)),
                "effect_formula": "(abandonment − baseline abandonment) × checkouts × AOV of the baseline",
                "measure": _measure_spec("abandoned_checkout", r_now, "lower", period.days, {}),
            },
            statistic="two-proportion z-test (one-sided)",
            p_value=p,
            confidence=1 - p,
            expected_effect=_money(extra * float(aov)),
            effect_unit="PLN",
            action_text="",
            action_url=reverse("analytics:index")
            + "?"
            + urlencode({"site": ctx.site, "date_from": period.start, "date_to": period.end}),
        )
    ]


def measure_abandoned_checkout(subject: dict, period: Period, ctx: Context) -> dict:
    if not ctx.site:
        return {"value": None}
    days = insights_traffic.daily(ctx.site, _days(period), cache=ctx.traffic_cache)
    t = _sum_days(days, list(days))
    if not t["checkouts"]:
        return {"value": None, "checkouts": 0}
    return {"value": _r(1 - t["purchases"] / t["checkouts"]), "checkouts": t["checkouts"]}


# --- slow-moving stock ----------------------------------------------------------------------------------


def _poisson_upper(k: int, conf: float = 0.95) -> float:
    """Upper one-sided confidence bound of a Poisson mean after seeing k (the chi-square bound)."""
    return float(stats.chi2.ppf(conf, 2 * (k + 1)) / 2)


def detect_slow_stock(ctx: Context) -> list[Candidate]:
    ids = set(
        StockLevel.objects.filter(on_hand__gt=0, variant__active=True).values_list("variant_id", flat=True)
    )
    if not ids:
        return []
    avail = purchasing.available(ids)
    sales = purchasing.daily_sales(variant_ids=ids, today=ctx.today, days=SLOW_HISTORY_DAYS)
    first = purchasing.first_movement_days(variant_ids=ids)
    variants = Variant.objects.in_bulk(list(ids))
    period = Period(ctx.today - dt.timedelta(days=SLOW_HISTORY_DAYS), ctx.yesterday)
    out = []
    for vid in sorted(ids):
        units = avail.get((vid, None), 0)
        if units <= 0:
            continue
        since = first.get((vid, None))
        if since is None or (ctx.today - since).days < SLOW_MIN_AGE_DAYS:
            continue
        sold = sum(sales.get((vid, None), {}).values())
        upper_rate = _poisson_upper(sold) / SLOW_HISTORY_DAYS
        if upper_rate * SLOW_HORIZON_DAYS >= units:
            continue
        rate = sold / SLOW_HISTORY_DAYS
        # the chance the stock is not sold within the horizon at the observed rate (Poisson)
        confidence = float(stats.poisson.cdf(units - 1, max(rate, 1e-9) * SLOW_HORIZON_DAYS))
        v = variants[vid]
        unit_cost = v.cost_price
        value = _money(units * (unit_cost if unit_cost is not None else v.price))
        cover = units / rate if rate else None
        out.append(
            Candidate(
                kind=K.SLOW_STOCK,
                subject_type="variant",
                subject_id=v.sku,
                subject_label=f"{v.sku} {v.name}",
                title="",
                period=period,
                evidence={
                    "available": units,
                    "sold_units": sold,
                    "history_days": SLOW_HISTORY_DAYS,
                    "daily_rate": _r(rate, 3),
                    "daily_rate_upper_95": _r(upper_rate, 3),
                    "days_of_stock": _r(cover, 0),
                    "horizon_days": SLOW_HORIZON_DAYS,
                    "in_stock_since": since.isoformat(),
                    "stock_value": str(value),
                    "valued_at": "cost price" if unit_cost is not None else "selling price (no cost price)",
                    "effect_formula": "available × cost price: the money held in this stock",
                    "measure": _measure_spec("slow_stock", rate, "higher", 28, {"variant_id": vid}),
                },
                statistic="Poisson upper bound of the sales rate",
                p_value=None,
                confidence=confidence,
                expected_effect=value,
                effect_unit="PLN",
                action_text="",
                action_url=_product_url(v),
            )
        )
    return out


def measure_slow_stock(subject: dict, period: Period, ctx: Context) -> dict:
    vid = subject["variant_id"]
    sales = purchasing.daily_sales(
        variant_ids=[vid], today=period.end + dt.timedelta(days=1), days=period.days
    )
    sold = sum(sales.get((vid, None), {}).values())
    return {"value": _r(sold / period.days, 3), "sold_units": sold}


# --- orders stalling at a stage -------------------------------------------------------------------------

STALL_STAGES = (Stage.NEW, Stage.AWAITING_PAYMENT, Stage.READY, Stage.IN_FULFILMENT)


def _stage_times(ctx: Context) -> tuple[dict[str, list[float]], dict[str, list[tuple[int, float]]]]:
    """Hours spent in each stage by the orders that left it, and the open orders' hours in their stage."""
    from .process import traces

    now = ctx.moment()
    done: dict[str, list[float]] = defaultdict(list)
    current: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for t in traces(Period(ctx.today - dt.timedelta(days=STALL_HISTORY_DAYS), ctx.yesterday)):
        for (stage, at), (_next, left) in zip(t.stages, t.stages[1:], strict=False):
            done[stage].append((left - at).total_seconds() / 3600)
        if t.stages and t.stages[-1][0] in OPEN_STAGES:
            stage, at = t.stages[-1]
            current[stage].append((t.order_id, (now - at).total_seconds() / 3600))
    return done, current


def detect_stage_stall(ctx: Context) -> list[Candidate]:
    import numpy as np

    done, current = _stage_times(ctx)
    labels = dict(Stage.choices)
    period = Period(ctx.today - dt.timedelta(days=STALL_HISTORY_DAYS), ctx.yesterday)
    out = []
    for stage in STALL_STAGES:
        history, now = done.get(stage, []), current.get(stage, [])
        if len(history) < MIN_STAGE_SAMPLES or not now:
            continue
        p90 = float(np.quantile(np.asarray(history), STALL_QUANTILE))
        stalled = [oid for oid, h in now if h > p90]
        k, n = len(stalled), len(now)
        if k < MIN_STALLED:
            continue
        p = stats.binomtest(k, n, 1 - STALL_QUANTILE, alternative="greater").pvalue
        if p >= ALPHA:
            continue
        value = Order.objects.filter(pk__in=stalled, currency="PLN").aggregate(s=Sum("total_gross"))["s"]
        oldest = Order.objects.filter(pk__in=stalled).aggregate(m=Min("placed_at"))["m"]
        name = str(labels.get(stage, stage))
        out.append(
            Candidate(
                kind=K.STAGE_STALL,
                subject_type="stage",
                subject_id=stage,
                subject_label=name,
                title="",
                period=period,
                evidence={
                    "open_orders": n,
                    "stalled_orders": k,
                    "p90_hours": _r(p90, 1),
                    "history_samples": len(history),
                    "expected_share": _r(1 - STALL_QUANTILE, 2),
                    "oldest_placed_at": oldest.isoformat() if oldest else None,
                    "value_gross": str(_money(value or 0)),
                    "effect_formula": "gross value of the stalled orders (PLN)",
                    "measure": _measure_spec("stage_stall", k, "lower", 7, {"stage": stage}),
                },
                statistic="binomial test against 10 % beyond the 90th percentile",
                p_value=p,
                confidence=1 - p,
                expected_effect=_money(value or 0),
                effect_unit="PLN",
                action_text="",
                action_url=reverse("orders:queue") + "?" + urlencode({"stage": stage}),
            )
        )
    return out


def measure_stage_stall(subject: dict, period: Period, ctx: Context) -> dict:
    import numpy as np

    done, current = _stage_times(ctx)
    history, now = done.get(subject["stage"], []), current.get(subject["stage"], [])
    if len(history) < MIN_STAGE_SAMPLES:
        return {"value": None}
    p90 = float(np.quantile(np.asarray(history), STALL_QUANTILE))
    return {"value": sum(1 for _oid, h in now if h > p90), "open_orders": len(now), "p90_hours": _r(p90, 1)}


# --- words: the headline and the suggested action, translated when shown ------------------------------

HEADLINES = {
    (K.PRODUCT_CONVERSION, "sku"): gettext_lazy(
        "%(label)s: %(view_visits)s visits viewed it, %(orders)s ordered (%(rate)s against %(shop_rate)s "
        "in the shop)"
    ),
    (K.STOCKOUT, "variant"): gettext_lazy(
        "%(label)s: %(position)s in stock and on order lasts about %(days_of_cover)s days; a delivery takes "
        "%(lead_time_calendar_days)s days"
    ),
    (K.RETURN_RATE, "variant"): gettext_lazy(
        "%(label)s: %(returned_units)s of %(sold_units)s units returned (%(rate)s), %(expected_returns)s "
        "expected at the earlier %(baseline_rate)s"
    ),
    (K.RETURN_RATE, "reason"): gettext_lazy(
        "Return reason “%(label)s”: %(returns)s returns, %(expected_returns)s expected at the rate of the "
        "12 weeks before"
    ),
    (K.CARRIER_LATE, "carrier"): gettext_lazy(
        "%(label)s: %(late)s of %(delivered)s deliveries late (%(rate)s), %(baseline_rate)s in the 8 weeks "
        "before"
    ),
    (K.CHANNEL_CONVERSION, "source"): gettext_lazy(
        "Traffic from “%(label)s”: %(orders)s orders from %(visits)s visits (%(rate)s), %(expected_orders)s "
        "expected from the same weekdays before"
    ),
    (K.ABANDONED_CHECKOUT, "shop"): gettext_lazy(
        "%(abandoned)s of %(checkouts)s checkouts abandoned (%(rate)s), %(baseline_rate)s in the 4 weeks "
        "before"
    ),
    (K.SLOW_STOCK, "variant"): gettext_lazy(
        "%(label)s: %(available)s in stock, %(sold_units)s sold in %(history_days)s days"
    ),
    (K.STAGE_STALL, "stage"): gettext_lazy(
        "%(stalled_orders)s of %(open_orders)s open orders in “%(label)s” for longer than the usual "
        "%(p90_hours)s h"
    ),
}

ACTIONS = {
    K.PRODUCT_CONVERSION: gettext_lazy(
        "Check the product page: price against competitors, photos, description, availability and delivery "
        "time; consider a promotion."
    ),
    K.STOCKOUT: gettext_lazy(
        "Order now from the supplier: the reorder list has the quantity and how it was computed."
    ),
    K.RETURN_RATE: gettext_lazy(
        "Read the return reasons and check the product: description, sizes, photos, quality of the batch, "
        "packaging."
    ),
    K.CARRIER_LATE: gettext_lazy(
        "Raise it with the carrier, check the hand-over times, and consider moving delivery methods or "
        "regions to another carrier."
    ),
    K.CHANNEL_CONVERSION: gettext_lazy(
        "Check what changed for this source: landing pages, ads or campaigns, tracking, prices and "
        "availability of the products it brings visitors to."
    ),
    K.ABANDONED_CHECKOUT: gettext_lazy(
        "Go through the checkout yourself: payment and delivery options, shipping costs, errors; check the "
        "storefront monitoring."
    ),
    K.SLOW_STOCK: gettext_lazy(
        "Promotion candidate: a discount, a bundle or a feed campaign to clear the stock; stop reordering it."
    ),
    K.STAGE_STALL: gettext_lazy(
        "Open the queue filtered to this stage and move or cancel the oldest orders."
    ),
}
REASON_ACTION = gettext_lazy(
    "Open the returns with this reason and look for a common product, batch or carrier."
)


SHARES = {"rate", "shop_rate", "baseline_rate", "stockout_probability", "expected_share"}


def shown(key: str, value):
    if value is None:
        return "—"
    if key in SHARES and isinstance(value, int | float):
        return f"{value * 100:.1f} %"
    if isinstance(value, float):
        return f"{value:.1f}" if value != int(value) else str(int(value))
    return str(value)


def headline(kind: str, subject_type: str, label: str, evidence: dict) -> str:
    template = HEADLINES.get((kind, subject_type))
    if template is None:
        return label
    values = {k: shown(k, v) for k, v in evidence.items() if not isinstance(v, dict | list)}
    values["label"] = label
    try:
        return str(template) % values
    except (KeyError, TypeError, ValueError):
        return label


def action_text(kind: str, subject_type: str) -> str:
    if kind == K.RETURN_RATE and subject_type == "reason":
        return str(REASON_ACTION)
    return str(ACTIONS.get(kind, ""))


# --- the registry -------------------------------------------------------------------------------------


RULES: dict[str, Callable[[Context], list[Candidate]]] = {
    K.PRODUCT_CONVERSION: detect_product_conversion,
    K.STOCKOUT: detect_stockout,
    K.RETURN_RATE: detect_return_rate,
    K.CARRIER_LATE: detect_carrier_late,
    K.CHANNEL_CONVERSION: detect_channel_conversion,
    K.ABANDONED_CHECKOUT: detect_abandoned_checkout,
    K.SLOW_STOCK: detect_slow_stock,
    K.STAGE_STALL: detect_stage_stall,
}

MEASURES: dict[str, Callable[[dict, Period, Context], dict]] = {
    "product_conversion": measure_product_conversion,
    "stockout": measure_stockout,
    "return_rate_product": measure_return_rate_product,
    "return_rate_reason": measure_return_rate_reason,
    "carrier_late": measure_carrier_late,
    "channel_conversion": measure_channel_conversion,
    "abandoned_checkout": measure_abandoned_checkout,
    "slow_stock": measure_slow_stock,
    "stage_stall": measure_stage_stall,
}


def context(day: dt.date, *, now: dt.datetime | None = None) -> Context:
    return Context(today=day, site=insights_traffic.site_domain(), now=now or timezone.now())
