"""Sales metrics: one definition each, used by the reports, the API and the CLI.

Definitions (issue #7):
- an order counts in the period of its `placed_at` (local days in the shop's time zone, Europe/Warsaw by
  default) unless its stage is cancelled;
- `revenue_gross` is the sum of those orders' gross totals (shipping included);
- `refunds` are refunds recorded (created) in the period, except failed ones; `revenue_net` =
  `revenue_gross` - `refunds`;
- `aov` = `revenue_gross` / `orders`; `units` = the quantities of those orders' lines;
- margin = lines' net value - cost (the variant's cost price x quantity) over the lines whose cost is known;
  `margin_complete` says whether every line had a cost (a missing cost is never counted as zero);
- only orders in the report currency are summed; orders in other currencies are counted apart, per
  currency (`other_currencies`), never added to the totals.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, DecimalField, ExpressionWrapper, F, Min, QuerySet, Sum
from django.db.models.functions import TruncDate

from zaplecze.core.businesstime import tz
from zaplecze.core.errors import DomainError
from zaplecze.orders.models import Channel, Order, OrderLine, Stage
from zaplecze.service.models import REFUND_HOLDING_STATES, Refund, Return, ReturnState

CENT = Decimal("0.01")
MAX_DAYS = 3700  # about ten years: a longer range is almost certainly a typo


@dataclass(frozen=True)
class Period:
    """Local calendar days `start`..`end`, both included."""

    start: dt.date
    end: dt.date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise DomainError(
                f"The period ends ({self.end:%Y-%m-%d}) before it starts ({self.start:%Y-%m-%d})", field="to"
            )
        if (self.end - self.start).days > MAX_DAYS:
            raise DomainError("The period is longer than ten years", field="to")

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def bounds(self) -> tuple[dt.datetime, dt.datetime]:
        """[start, end) as aware datetimes at local midnights."""
        zone = tz()
        start = dt.datetime.combine(self.start, dt.time.min, tzinfo=zone)
        end = dt.datetime.combine(self.end + dt.timedelta(days=1), dt.time.min, tzinfo=zone)
        return start, end

    def previous(self) -> Period:
        """The same number of days just before."""
        return Period(self.start - dt.timedelta(days=self.days), self.start - dt.timedelta(days=1))

    def last_year(self) -> Period:
        """The same calendar days a year earlier (29 February becomes the 28th)."""

        def back(d: dt.date) -> dt.date:
            try:
                return d.replace(year=d.year - 1)
            except ValueError:
                return d.replace(year=d.year - 1, day=28)

        return Period(back(self.start), back(self.end))

    def each_day(self) -> list[dt.date]:
        return [self.start + dt.timedelta(days=i) for i in range(self.days)]


def counted_orders(period: Period, *, currency: str | None = "PLN", channel: str = "") -> QuerySet[Order]:
    """The orders a sales figure counts: placed in the period, not cancelled (in `currency` when given)."""
    start, end = period.bounds()
    qs = Order.objects.filter(placed_at__gte=start, placed_at__lt=end).exclude(stage=Stage.CANCELLED)
    if currency:
        qs = qs.filter(currency=currency)
    if channel:
        qs = qs.filter(channel__code=channel)
    return qs


def refunds_in(period: Period, *, currency: str = "PLN", channel: str = "") -> Decimal:
    start, end = period.bounds()
    qs = Refund.objects.filter(
        created_at__gte=start, created_at__lt=end, currency=currency, state__in=list(REFUND_HOLDING_STATES)
    )
    if channel:
        qs = qs.filter(order__channel__code=channel)
    return qs.aggregate(s=Sum("amount"))["s"] or Decimal(0)


def _money(value) -> Decimal:
    return (Decimal(value or 0)).quantize(CENT)


def _ratio(part, whole) -> float | None:
    return round(float(part) / float(whole), 4) if whole else None


def _change(now, before) -> float | None:
    """Relative change (0.25 = +25 %); None when there is nothing to compare with."""
    if before in (None, 0) or now is None:
        return None
    return round((float(now) - float(before)) / float(before), 4)


def totals(period: Period, *, currency: str = "PLN", channel: str = "") -> dict:
    """The headline figures of a period."""
    orders = counted_orders(period, currency=currency, channel=channel)
    agg = orders.aggregate(n=Count("id"), gross=Sum("total_gross"), net=Sum("total_net"))
    n = agg["n"] or 0
    gross = _money(agg["gross"])
    refunds = _money(refunds_in(period, currency=currency, channel=channel))
    units = OrderLine.objects.filter(order__in=orders).aggregate(u=Sum("quantity"))["u"] or 0
    returned = (
        Return.objects.filter(order__in=orders)
        .exclude(state=ReturnState.REJECTED)
        .values("order_id")
        .distinct()
        .count()
    )
    return {
        "orders": n,
        "revenue_gross": gross,
        "refunds": refunds,
        "revenue_net": gross - refunds,
        "aov": (gross / n).quantize(CENT) if n else None,
        "units": units,
        "returned_orders": returned,
        # Orders of the period with a return (not rejected) so far, of the period's orders: a recent period's
        # rate still grows while its 14-day withdrawal windows are open.
        "return_rate": round(returned / n, 4) if n else None,
    }


def margin(period: Period, *, currency: str = "PLN", channel: str = "") -> dict:
    """Margin on the lines whose variant has a cost price; says how much of the net value that covers."""
    lines = OrderLine.objects.filter(order__in=counted_orders(period, currency=currency, channel=channel))
    cost = ExpressionWrapper(
        F("variant__cost_price") * F("quantity"), output_field=DecimalField(max_digits=20, decimal_places=2)
    )
    known = lines.filter(variant__cost_price__isnull=False).aggregate(net=Sum("total_net"), cost=Sum(cost))
    all_net = lines.aggregate(net=Sum("total_net"))["net"] or Decimal(0)
    known_net = known["net"] or Decimal(0)
    value = _money(known_net - (known["cost"] or 0)) if known["net"] is not None else None
    return {
        "margin": value,
        "margin_percent": _ratio(value, known_net) if value is not None else None,
        "margin_complete": lines.filter(variant__cost_price__isnull=True).count() == 0,
        "margin_coverage": _ratio(known_net, all_net),
    }


def _grouped(orders: QuerySet[Order], field: str, label: str | None = None) -> list[dict]:
    values = [field] + ([label] if label else [])
    rows = orders.values(*values).annotate(orders=Count("id"), revenue_gross=Sum("total_gross"))
    total = sum((r["revenue_gross"] or 0) for r in rows)
    out = [
        {
            "key": r[field] or "",
            "name": (r[label] if label else r[field]) or "",
            "orders": r["orders"],
            "revenue_gross": _money(r["revenue_gross"]),
            "share": _ratio(r["revenue_gross"] or 0, total),
        }
        for r in rows
    ]
    return sorted(out, key=lambda r: (-r["revenue_gross"], r["key"]))


def by_day(period: Period, *, currency: str = "PLN", channel: str = "") -> list[dict]:
    orders = counted_orders(period, currency=currency, channel=channel)
    rows = {
        r["day"]: r
        for r in orders.annotate(day=TruncDate("placed_at", tzinfo=tz()))
        .values("day")
        .annotate(orders=Count("id"), revenue_gross=Sum("total_gross"))
    }
    units = dict(
        OrderLine.objects.filter(order__in=orders)
        .annotate(day=TruncDate("order__placed_at", tzinfo=tz()))
        .values("day")
        .annotate(u=Sum("quantity"))
        .values_list("day", "u")
    )
    return [
        {
            "day": day,
            "orders": rows[day]["orders"] if day in rows else 0,
            "revenue_gross": _money(rows[day]["revenue_gross"]) if day in rows else Decimal("0.00"),
            "units": units.get(day, 0),
        }
        for day in period.each_day()
    ]


def by_calendar(days: list[dict], unit: str) -> list[dict]:
    """The by-day rows summed per ISO week (Monday to Sunday) or per calendar month; `from`/`to` are the
    part of the week or month inside the period (the first and last ones may be partial)."""
    out: dict[dt.date, dict] = {}
    for d in days:
        day = d["day"]
        key = day - dt.timedelta(days=day.weekday()) if unit == "week" else day.replace(day=1)
        row = out.setdefault(
            key,
            {"key": key, "from": day, "to": day, "orders": 0, "revenue_gross": Decimal("0.00"), "units": 0},
        )
        row["to"] = day
        row["orders"] += d["orders"]
        row["revenue_gross"] += d["revenue_gross"]
        row["units"] += d["units"]
    return [out[k] for k in sorted(out)]


def top_products(period: Period, *, currency: str = "PLN", channel: str = "", limit: int = 20) -> list[dict]:
    lines = OrderLine.objects.filter(order__in=counted_orders(period, currency=currency, channel=channel))
    rows = (
        lines.values("sku")
        .annotate(name=Min("name"), units=Sum("quantity"), revenue_gross=Sum("total_gross"))
        .order_by("-revenue_gross", "sku")[:limit]
    )
    return [{**r, "revenue_gross": _money(r["revenue_gross"])} for r in rows]


def by_product_group(period: Period, field: str, *, currency: str = "PLN", channel: str = "") -> list[dict]:
    """Lines grouped by a product attribute (category or brand): gross revenue, units and margin, with the
    margin marked incomplete for a group where a line has no cost price. Lines of unknown SKUs group as ""."""
    lines = OrderLine.objects.filter(order__in=counted_orders(period, currency=currency, channel=channel))
    cost = ExpressionWrapper(
        F("variant__cost_price") * F("quantity"), output_field=DecimalField(max_digits=20, decimal_places=2)
    )
    rows = lines.values(field).annotate(
        revenue_gross=Sum("total_gross"), net=Sum("total_net"), units=Sum("quantity"), lines=Count("id")
    )
    known = {
        r[field]: r
        for r in lines.filter(variant__cost_price__isnull=False)
        .values(field)
        .annotate(net=Sum("total_net"), cost=Sum(cost), lines=Count("id"))
    }
    total = sum((r["revenue_gross"] or 0) for r in rows)
    out = []
    for r in rows:
        k = known.get(r[field])
        margin = _money(k["net"] - (k["cost"] or 0)) if k else None
        out.append(
            {
                "key": r[field] or "",
                "name": r[field] or "",
                "revenue_gross": _money(r["revenue_gross"]),
                "units": r["units"] or 0,
                "share": _ratio(r["revenue_gross"] or 0, total),
                "margin": margin,
                "margin_complete": bool(k) and k["lines"] == r["lines"],
            }
        )
    return sorted(out, key=lambda r: (-r["revenue_gross"], r["key"]))


def customers(period: Period, *, currency: str = "PLN", channel: str = "") -> dict:
    """New vs returning customers: new = their first counted order (ever, any channel) is in the period.

    A customer is the order's customer record, or its e-mail address when there is none; orders without
    either are counted as guests and not classified."""
    start, _end = period.bounds()
    orders = counted_orders(period, currency=currency, channel=channel)
    ids = set(orders.exclude(customer_id=None).values_list("customer_id", flat=True))
    emails = set(orders.filter(customer_id=None).exclude(email="").values_list("email", flat=True))
    earlier_ids = set(
        Order.objects.exclude(stage=Stage.CANCELLED)
        .filter(placed_at__lt=start, customer_id__in=ids)
        .values_list("customer_id", flat=True)
    )
    earlier_emails = set(
        Order.objects.exclude(stage=Stage.CANCELLED)
        .filter(placed_at__lt=start, customer_id=None, email__in=emails)
        .values_list("email", flat=True)
    )
    known = len(ids) + len(emails)
    returning = len(earlier_ids) + len(earlier_emails)
    guests = orders.filter(customer_id=None, email="").count()
    return {
        "customers": known,
        "new_customers": known - returning,
        "returning_customers": returning,
        "guest_orders": guests,
        "returning_share": _ratio(returning, known),
    }


def by_region(period: Period, *, currency: str = "PLN", channel: str = "") -> list[dict]:
    """Orders and gross revenue by the voivodeship of the shipping postcode (reports.regions): `abroad` for
    addresses outside Poland, `unknown` without a valid postcode. Prefixes crossing a border are approximate."""
    from .regions import region_name, region_of

    orders = counted_orders(period, currency=currency, channel=channel)
    sums: dict[str, list] = {}
    for country, postcode, n, gross in (
        orders.values_list("shipping_country", "shipping_postcode")
        .annotate(n=Count("id"), gross=Sum("total_gross"))
        .order_by()
    ):
        key = region_of(country, postcode)
        row = sums.setdefault(key, [0, Decimal(0)])
        row[0] += n
        row[1] += gross or 0
    total = sum((v[1] for v in sums.values()), Decimal(0))
    out = [
        {
            "key": key,
            "name": region_name(key),
            "orders": n,
            "revenue_gross": _money(gross),
            "share": _ratio(gross, total),
        }
        for key, (n, gross) in sums.items()
    ]
    return sorted(out, key=lambda r: (-r["revenue_gross"], r["key"]))


COMMON_CURRENCIES = ("PLN", "EUR", "USD", "GBP", "CZK")


def currencies() -> list[str]:
    """The report's currency choices: the common ones and the currency of each channel's latest order (one
    indexed look-up per channel, not a scan of every order), PLN first."""
    found = set(COMMON_CURRENCIES)
    for channel_id in Channel.objects.order_by().values_list("id", flat=True):
        latest = (
            Order.objects.filter(channel_id=channel_id)
            .order_by("-placed_at", "-id")
            .values_list("currency")[:1]
        )
        found.update(c for (c,) in latest)
    return ["PLN", *sorted(found - {"PLN"})]


def channel_currency(channel: str) -> str:
    """The currency of the channel's latest order (PLN when it has none, or for all channels): the report's
    default currency when a channel is chosen and no currency is given. One indexed look-up."""
    if not channel:
        return "PLN"
    latest = (
        Order.objects.filter(channel__code=channel).order_by("-placed_at", "-id").values_list("currency")[:1]
    )
    return next((c for (c,) in latest), "PLN")


def other_currencies(period: Period, *, currency: str = "PLN", channel: str = "") -> dict[str, dict]:
    """Orders in currencies other than the report's: counted per currency, never summed with it."""
    qs = counted_orders(period, currency=None, channel=channel).exclude(currency=currency)
    return {
        r["currency"]: {"orders": r["n"], "revenue_gross": _money(r["s"])}
        for r in qs.values("currency").annotate(n=Count("id"), s=Sum("total_gross")).order_by("currency")
    }


COMPARED = ("orders", "revenue_gross", "revenue_net", "aov", "units", "return_rate")


def sales_report(period: Period, *, currency: str = "PLN", channel: str = "", top: int = 20) -> dict:
    """Everything the sales report shows, as plain data (Decimals for money, dates for days)."""
    current = totals(period, currency=currency, channel=channel)
    prev = totals(period.previous(), currency=currency, channel=channel)
    last_year = totals(period.last_year(), currency=currency, channel=channel)
    orders = counted_orders(period, currency=currency, channel=channel)
    days = by_day(period, currency=currency, channel=channel)
    return {
        "currency": currency,
        "from": period.start,
        "to": period.end,
        "channel": channel,
        **current,
        **margin(period, currency=currency, channel=channel),
        **customers(period, currency=currency, channel=channel),
        "previous_period": {"from": period.previous().start, "to": period.previous().end, **prev},
        "same_period_last_year": {
            "from": period.last_year().start,
            "to": period.last_year().end,
            **last_year,
        },
        "change_vs_previous": {k: _change(current[k], prev[k]) for k in COMPARED},
        "change_vs_last_year": {k: _change(current[k], last_year[k]) for k in COMPARED},
        "by_day": days,
        "by_week": by_calendar(days, "week"),
        "by_month": by_calendar(days, "month"),
        "by_channel": _grouped(orders, "channel__code", "channel__name"),
        "by_payment_method": _grouped(orders, "payment_method"),
        "by_delivery_method": _grouped(orders, "delivery_method"),
        "by_customer_type": _grouped(orders, "customer_type"),
        "by_region": by_region(period, currency=currency, channel=channel),
        "by_category": by_product_group(
            period, "variant__product__category__name", currency=currency, channel=channel
        ),
        "by_brand": by_product_group(period, "variant__product__brand", currency=currency, channel=channel),
        "top_products": top_products(period, currency=currency, channel=channel, limit=top),
        "other_currencies": other_currencies(period, currency=currency, channel=channel),
    }
