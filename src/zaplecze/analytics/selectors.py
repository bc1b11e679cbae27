"""Analytics reads: sites and the dashboard's panels (each panel is a named metric, see metrics.py)."""

from __future__ import annotations

import datetime as dt

from django.db.models import QuerySet

from . import metrics, warehouse
from .models import Site

BREAKDOWNS = (
    "source",
    "referrer",
    "utm_campaign",
    "page",
    "entry_page",
    "exit_page",
    "device",
    "browser",
    "os",
)


def sites_list() -> QuerySet[Site]:
    return Site.objects.order_by("domain")


def site_default() -> Site | None:
    return Site.objects.filter(is_active=True).order_by("domain").first()


def dashboard(
    *, site: str, date_from: dt.date, date_to: dt.date, filters: dict | None = None, limit: int = 10
) -> dict:
    """Every panel of the traffic dashboard for one period, with the previous period alongside."""
    # incremental (orders changed since the last export), at most once a minute
    warehouse.orders_export(min_interval=60)
    q = metrics.Query(site, date_from, date_to, dict(filters or {}))
    with metrics.Workspace(q) as ws:
        cards = metrics.summary(ws)
        data = {
            "site": site,
            "date_from": date_from.isoformat(),
            "date_to": date_to.isoformat(),
            "previous_from": q.previous().date_from.isoformat(),
            "previous_to": q.previous().date_to.isoformat(),
            "filters": q.filters,
            "cards": [
                {"key": c.key, "value": c.value, "previous": c.previous, "change": c.change} for c in cards
            ],
            "timeseries": metrics.timeseries(ws),
            "breakdowns": {dim: metrics.breakdown(ws, dim, limit=limit) for dim in BREAKDOWNS},
            "funnel": metrics.funnel(ws),
            "revenue_by_source": metrics.revenue_by_source(ws),
            "not_found": metrics.not_found(ws, limit=limit),
        }
    data["drops"] = metrics.drops_summary(site=site, date_from=date_from, date_to=date_to)
    return data
