"""Results of a campaign against a baseline, with the uplift and its confidence interval.

Definitions (docs/promotions.md):

* **Campaign products**: the variants the campaign wrote prices for (its items), or, for campaigns that do
  not change prices, the variants its targets cover (codes with no targets: every product).
* **Window**: from the start to the end (or now, while running). **Baseline periods**: K = 4 earlier periods
  of the same length, each shifted back by whole weeks (so each has the same mix of weekdays), not
  overlapping the window or each other.
* **Seasonal adjustment**: each baseline period's figure is scaled by (sales of the *other* products in the
  window) / (sales of the other products in that period): the rest of the shop carries the season and the
  trend; the campaign's own products are compared against it.
* **Expected** = mean of the K adjusted baseline figures; **uplift** = actual - expected; its 95 %
  interval is a t prediction interval over the K adjusted figures: uplift +- t(0.975, K-1) * s * sqrt(1 + 1/K)
  (s = their sample standard deviation). Few periods make a wide interval, honestly.
* **Sales** = gross value of the campaign products' lines; **units**; **orders** = orders with at least one
  such line; **margin** = net value - cost price x units (current cost price; lines without a cost price are
  left out of the margin); cancelled and returned orders are left out.
* **New customers**: customers whose first order ever was placed in the window and holds a campaign product.
* **Cannibalisation**: the same comparison for *related* products (same categories, not in the campaign):
  a negative uplift there is sales the campaign probably took from them.
* **Discount cost**: (regular price - price paid) x units over the campaign lines (price campaigns), plus
  the order discounts of orders that redeemed the campaign's codes.
* **Traffic**: visits and conversion of visits with utm_campaign = the campaign's UTM (analytics).
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
from decimal import Decimal

from django.db.models import (
    Case,
    Count,
    DecimalField,
    ExpressionWrapper,
    F,
    IntegerField,
    Min,
    Q,
    Sum,
    Value,
    When,
)
from django.db.models.functions import TruncDate
from django.utils import timezone

from zaplecze.core.businesstime import tz
from zaplecze.orders.models import Order, OrderLine, Stage

from . import selectors
from .models import Campaign, CampaignItem, CodeRedemption

K = 4
T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262}
EXCLUDED_STAGES = (Stage.CANCELLED, Stage.RETURNED)
METRICS = ("sales", "units", "orders", "margin")


def windows(campaign: Campaign, now: dt.datetime | None = None) -> tuple[tuple, list[tuple]]:
    """(window, [baseline periods]) as (start, end) pairs."""
    now = now or timezone.now()
    end = min(campaign.end, now) if campaign.end > now else campaign.end
    start = campaign.start
    if end <= start:
        end = start + dt.timedelta(seconds=1)
    length = end - start
    weeks = max(1, math.ceil(length / dt.timedelta(days=7)))
    shift = dt.timedelta(days=7 * weeks)
    return (start, end), [(start - k * shift, end - k * shift) for k in range(1, K + 1)]


def _product_filter(campaign: Campaign) -> Q:
    if campaign.items.exists():
        return Q(variant_id__in=CampaignItem.objects.filter(campaign=campaign).values("variant_id"))
    q = selectors.targets_query(list(campaign.targets.all()))
    if q is None:
        return Q(variant_id__isnull=False)
    from zaplecze.catalog.models import Variant

    return Q(variant_id__in=Variant.objects.filter(q).values("pk"))


def _by_period(lines, periods: list[tuple]) -> dict[int, dict]:
    """{period index: {sales, units, orders, margin}} in one grouped query."""
    cond = Q()
    whens = []
    for k, (a, b) in enumerate(periods):
        cond |= Q(order__placed_at__gte=a, order__placed_at__lt=b)
        whens.append(When(order__placed_at__gte=a, order__placed_at__lt=b, then=Value(k)))
    money = DecimalField(max_digits=20, decimal_places=2)
    rows = (
        lines.filter(cond)
        .exclude(order__stage__in=EXCLUDED_STAGES)
        .annotate(period=Case(*whens, default=Value(-1), output_field=IntegerField()))
        .values("period")
        .annotate(
            sales=Sum("total_gross"),
            units=Sum("quantity"),
            orders=Count("order_id", distinct=True),
            net_costed=Sum("total_net", filter=Q(variant__cost_price__isnull=False)),
            cost=Sum(ExpressionWrapper(F("quantity") * F("variant__cost_price"), output_field=money)),
        )
        .order_by()
    )
    out = {
        k: {"sales": Decimal(0), "units": 0, "orders": 0, "margin": Decimal(0)} for k in range(len(periods))
    }
    for r in rows:
        if r["period"] < 0:
            continue
        out[r["period"]] = {
            "sales": Decimal(r["sales"] or 0),
            "units": int(r["units"] or 0),
            "orders": int(r["orders"] or 0),
            "margin": Decimal(r["net_costed"] or 0) - Decimal(r["cost"] or 0),
        }
    return out


def _interval(actual: float, adjusted: list[float]) -> dict:
    expected = statistics.fmean(adjusted) if adjusted else 0.0
    sd = statistics.stdev(adjusted) if len(adjusted) > 1 else 0.0
    t = T975.get(len(adjusted) - 1, 1.96)
    half = t * sd * math.sqrt(1 + 1 / len(adjusted)) if adjusted else 0.0
    uplift = actual - expected
    return {
        "actual": round(actual, 2),
        "expected": round(expected, 2),
        "uplift": round(uplift, 2),
        "uplift_percent": round(uplift * 100 / expected, 1) if expected else None,
        "ci_low": round(uplift - half, 2),
        "ci_high": round(uplift + half, 2),
        "significant": bool(adjusted) and (uplift - half > 0 or uplift + half < 0),
        "baseline": [round(x, 2) for x in adjusted],
    }


def _compare(mine: dict[int, dict], factors: list[float], metric: str) -> dict:
    actual = float(mine[0][metric])
    adjusted = [float(mine[k][metric]) * factors[k - 1] for k in range(1, len(factors) + 1)]
    return _interval(actual, adjusted)


def campaign_results(campaign: Campaign, *, now: dt.datetime | None = None, traffic: bool = True) -> dict:
    now = now or timezone.now()
    window, baselines = windows(campaign, now)
    periods = [window, *baselines]
    in_campaign = _product_filter(campaign)
    lines = OrderLine.objects.all()
    mine = _by_period(lines.filter(in_campaign), periods)
    control = _by_period(lines.exclude(in_campaign).filter(variant_id__isnull=False), periods)
    # seasonal factors: the rest of the shop in the window vs in each baseline period
    factors = []
    for k in range(1, len(periods)):
        base = control[k]["sales"]
        factors.append(float(control[0]["sales"] / base) if base else 1.0)
    comparison = {m: _compare(mine, factors, m) for m in METRICS}

    # related products: same categories as the campaign's, not in the campaign
    from zaplecze.catalog.models import Variant

    cats = Variant.objects.filter(in_campaign_q(campaign)).values("product__category_id")
    related_q = Q(variant__product__category_id__in=cats) & ~in_campaign
    related = _by_period(lines.filter(related_q), periods)
    cannibal = _compare(related, factors, "sales")

    # new customers: first order ever in the window, holding a campaign product
    buyers = (
        Order.objects.filter(
            placed_at__gte=window[0],
            placed_at__lt=window[1],
            customer_id__isnull=False,
            pk__in=lines.filter(in_campaign).values("order_id"),
        )
        .exclude(stage__in=EXCLUDED_STAGES)
        .values("customer_id")
    )
    new_customers = (
        Order.objects.filter(customer_id__in=buyers)
        .values("customer_id")
        .annotate(first=Min("placed_at"))
        .filter(first__gte=window[0])
        .count()
    )

    # discount cost
    discount = Decimal(0)
    regular = dict(campaign.items.values_list("variant_id", "regular_price"))
    if regular:
        per_variant = (
            lines.filter(in_campaign, order__placed_at__gte=window[0], order__placed_at__lt=window[1])
            .exclude(order__stage__in=EXCLUDED_STAGES)
            .values("variant_id")
            .annotate(units=Sum("quantity"), paid=Sum("total_gross"))
            .order_by()
        )
        for r in per_variant:
            reg = regular.get(r["variant_id"])
            if reg is not None:
                discount += max(Decimal(0), reg * r["units"] - Decimal(r["paid"] or 0))
    refs = set(CodeRedemption.objects.filter(code__campaign=campaign).values_list("order_ref", flat=True))
    # Orders from the channels carry the codes used at the shop's checkout (`Order.discount_codes`): an order
    # of the campaign's window naming one of its codes is a redemption too (each order counted once).
    campaign_codes = set(campaign.codes.values_list("code", flat=True))
    if campaign_codes:
        coded = (
            Order.objects.filter(placed_at__gte=window[0], placed_at__lt=window[1])
            .exclude(stage__in=EXCLUDED_STAGES)
            .exclude(discount_codes=[])
            .values_list("number", "discount_codes")
        )
        refs |= {
            number for number, used in coded.iterator(chunk_size=5000) if campaign_codes & set(used or [])
        }
    redemptions = len(refs)
    code_discount = Decimal(0)
    if refs:
        code_discount = Order.objects.filter(number__in=sorted(refs)[:20000]).aggregate(s=Sum("discount"))[
            "s"
        ] or Decimal(0)
    discount += code_discount
    codes = campaign.codes.aggregate(n=Count("id"), used=Count("id", filter=Q(uses__gt=0)), uses=Sum("uses"))

    out = {
        "campaign_id": campaign.pk,
        "window": [window[0].isoformat(), window[1].isoformat()],
        "baseline_periods": [[a.isoformat(), b.isoformat()] for a, b in baselines],
        "seasonal_factors": [round(f, 4) for f in factors],
        "actual": {m: (str(v) if isinstance(v, Decimal) else v) for m, v in mine[0].items()},
        "comparison": comparison,
        "new_customers": new_customers,
        "cannibalisation": cannibal,
        "discount_cost": str(discount.quantize(Decimal("0.01"))),
        "budget": None if campaign.budget is None else str(campaign.budget),
        "budget_used_percent": (
            round(float(discount * 100 / campaign.budget), 1) if campaign.budget else None
        ),
        "codes": {"count": codes["n"] or 0, "used": codes["used"] or 0, "redemptions": redemptions},
        "daily": daily(campaign, window, baselines, in_campaign),
        "traffic": campaign_traffic(campaign, window) if traffic else None,
    }
    return out


def in_campaign_q(campaign: Campaign) -> Q:
    """The campaign's variants as a Q on Variant (for the related-products query)."""
    if campaign.items.exists():
        return Q(pk__in=CampaignItem.objects.filter(campaign=campaign).values("variant_id"))
    q = selectors.targets_query(list(campaign.targets.all()))
    return Q(pk__isnull=False) if q is None else q


def daily(campaign: Campaign, window: tuple, baselines: list[tuple], in_campaign: Q) -> list[dict]:
    """Sales per day of the window (shop time) and the baseline's mean for the same day offset."""
    zone = tz()
    cond = Q(order__placed_at__gte=window[0], order__placed_at__lt=window[1])
    for a, b in baselines:
        cond |= Q(order__placed_at__gte=a, order__placed_at__lt=b)
    rows = (
        OrderLine.objects.filter(in_campaign)
        .filter(cond)
        .exclude(order__stage__in=EXCLUDED_STAGES)
        .annotate(day=TruncDate("order__placed_at", tzinfo=zone))
        .values("day")
        .annotate(sales=Sum("total_gross"))
        .order_by("day")
    )
    by_day = {r["day"]: float(r["sales"] or 0) for r in rows}
    first = window[0].astimezone(zone).date()
    last = (window[1] - dt.timedelta(microseconds=1)).astimezone(zone).date()
    out = []
    d = first
    while d <= last and len(out) < 400:
        offset = d - first
        base = [by_day.get(a.astimezone(zone).date() + offset, 0.0) for a, _b in baselines]
        out.append(
            {
                "day": d.isoformat(),
                "sales": by_day.get(d, 0.0),
                "baseline": statistics.fmean(base) if base else 0.0,
            }
        )
        d += dt.timedelta(days=1)
    return out


def campaign_traffic(campaign: Campaign, window: tuple) -> dict | None:
    """Visits, orders and conversion of visits tagged utm_campaign (analytics); None without a UTM or data."""
    if not campaign.utm_campaign:
        return None
    try:
        from zaplecze.analytics.metrics import Query, Workspace, summary
        from zaplecze.analytics.selectors import site_default

        site = site_default()
        if site is None:
            return None
        zone = tz()
        q = Query(
            site.domain,
            window[0].astimezone(zone).date(),
            (window[1] - dt.timedelta(microseconds=1)).astimezone(zone).date(),
            {"utm_campaign": campaign.utm_campaign},
        )
        with Workspace(q, previous=False) as ws:
            cards = {c.key: c.value for c in summary(ws)}
    except Exception as exc:  # noqa: BLE001 - traffic is optional: no warehouse yet, engine missing
        return {"error": str(exc)[:200]}
    return {
        "utm_campaign": campaign.utm_campaign,
        "visits": cards.get("visits"),
        "visitors": cards.get("visitors"),
        "orders": cards.get("orders"),
        "conversion_rate": cards.get("conversion_rate"),
        "revenue": None if cards.get("revenue") is None else str(cards.get("revenue")),
    }


def results_csv(data: dict) -> str:
    import csv
    import io

    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["metric", "actual", "expected", "uplift", "uplift_percent", "ci_low", "ci_high"])
    for m, c in data["comparison"].items():
        w.writerow(
            [m, c["actual"], c["expected"], c["uplift"], c["uplift_percent"], c["ci_low"], c["ci_high"]]
        )
    c = data["cannibalisation"]
    w.writerow(
        [
            "related_products_sales",
            c["actual"],
            c["expected"],
            c["uplift"],
            c["uplift_percent"],
            c["ci_low"],
            c["ci_high"],
        ]
    )
    w.writerow(["new_customers", data["new_customers"], "", "", "", "", ""])
    w.writerow(["discount_cost", data["discount_cost"], "", "", "", "", ""])
    w.writerow(["code_redemptions", data["codes"]["redemptions"], "", "", "", "", ""])
    if data.get("traffic") and "visits" in data["traffic"]:
        w.writerow(["utm_visits", data["traffic"]["visits"], "", "", "", "", ""])
        w.writerow(["utm_conversion_rate", data["traffic"]["conversion_rate"], "", "", "", "", ""])
    w.writerow([])
    w.writerow(["day", "sales", "baseline"])
    for r in data["daily"]:
        w.writerow([r["day"], f"{r['sales']:.2f}", f"{r['baseline']:.2f}"])
    return buf.getvalue()
