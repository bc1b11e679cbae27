"""Traffic figures the insights and the anomaly check read, from the analytics metrics (analytics.metrics).

- `site_domain()`: the shop front the checks look at (the first active analytics site; none: no traffic
  rules and no traffic anomalies).
- `daily(site, days)`: per local day, the summary (visitors, visits, real orders, conversion rate), the
  funnel (visits reaching product view, add to cart, checkout, purchase) and visits/orders per source type —
  each computed by the same named metric the traffic dashboard uses, for a one-day range. Days are
  independent (a visit belongs to the day it starts), so a longer period is the sum of its days.
- `product_views(site, period)`: product_view events per SKU (the collector's `sku` field) and the visits
  that viewed it.
"""

from __future__ import annotations

import datetime as dt

from zaplecze.analytics import metrics, warehouse
from zaplecze.analytics.selectors import site_default

from .sales import Period


def site_domain() -> str | None:
    site = site_default()
    return site.domain if site else None


def _day(site: str, day: dt.date) -> dict:
    with metrics.Workspace(metrics.Query(site, day, day), previous=False) as ws:
        cards = {c.key: c.value for c in metrics.summary(ws)}
        steps = {s["step"]: s["visits"] for s in metrics.funnel(ws)}
        sources = {
            r["value"]: {"visits": r["visits"], "orders": r["orders"], "revenue": r["revenue"]}
            for r in metrics.revenue_by_source(ws)
            if r["value"]
        }
    return {
        "visitors": cards["visitors"],
        "visits": cards["visits"],
        "orders": cards["orders"],
        "conversion_rate": cards["conversion_rate"],
        "funnel": steps,
        "sources": sources,
    }


def daily(site: str, days: list[dt.date], *, cache: dict | None = None) -> dict[dt.date, dict]:
    """The figures of each day (computed once per day when a `cache` dict is passed in)."""
    warehouse.orders_export(min_interval=60)  # the purchases are joined with the exported orders
    cache = {} if cache is None else cache
    out = {}
    for day in days:
        key = (site, day)
        if key not in cache:
            cache[key] = _day(site, day)
        out[day] = cache[key]
    return out


def product_views(site: str, period: Period) -> dict[str, dict]:
    """{sku: {"views": product_view events, "visits": visits (visitor and day) that viewed it}}."""
    q = metrics.Query(site, period.start, period.end)
    t0, t1 = q.bounds()
    source = warehouse.events_source(t0.date(), t1.date())
    con = warehouse.connect()
    try:
        rows = con.execute(
            f"""SELECT sku, count(DISTINCT event_id), count(DISTINCT (visitor, CAST(ts AS DATE)))
                FROM {source} WHERE site = ? AND event = 'product_view' AND NOT is_bot
                AND coalesce(sku, '') <> '' AND ts >= ? AND ts < ? GROUP BY 1""",  # noqa: S608
            [site, t0, t1],
        ).fetchall()
    finally:
        con.close()
    return {r[0]: {"views": int(r[1]), "visits": int(r[2])} for r in rows}
