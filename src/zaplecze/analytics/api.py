"""Analytics API (mounted at /api/v1/analytics). Thin: metrics and services do the work.

Routes:
  GET  /analytics/sites              tracked sites (with the snippet for the shop's theme)
  POST /analytics/sites              track a new site
  GET  /analytics/dashboard          every dashboard panel for a period, previous period alongside
  GET  /analytics/realtime           visitors and pageviews in the last 30 minutes
  GET  /analytics/log-summary        imported server logs, GoAccess-comparable counts
  POST /analytics/flush              move the collector's spool into Parquet now
"""

import datetime as dt
from typing import Any

from django.conf import settings
from ninja import Query, Router, Schema, Status
from pydantic import Field

from zaplecze.api.permissions import allow
from zaplecze.api.schemas import In, errors, text
from zaplecze.core.errors import DomainError

from . import metrics, selectors, services

router = Router()


class SiteOut(Schema):
    id: int
    domain: str
    name: str
    allowed_origins: list[str]
    is_active: bool
    snippet: str


class SiteIn(In):
    domain: text(200, 1)
    name: text(200) = ""
    allowed_origins: list[text(200)] = Field(default_factory=list, max_length=20)


class RangeQuery(Schema):
    site: str = Field(..., max_length=200)
    date_from: dt.date
    date_to: dt.date
    source: str | None = Field(None, max_length=200)
    referrer: str | None = Field(None, max_length=200)
    utm_source: str | None = Field(None, max_length=200)
    utm_medium: str | None = Field(None, max_length=200)
    utm_campaign: str | None = Field(None, max_length=200)
    device: str | None = Field(None, max_length=50)
    browser: str | None = Field(None, max_length=100)
    os: str | None = Field(None, max_length=100)
    page: str | None = Field(None, max_length=1000)
    entry_page: str | None = Field(None, max_length=1000)
    exit_page: str | None = Field(None, max_length=1000)


class LogQuery(Schema):
    site: str | None = Field(None, max_length=200)
    date_from: dt.date | None = None
    date_to: dt.date | None = None


def _site_out(site) -> dict:
    return {
        "id": site.pk,
        "domain": site.domain,
        "name": site.name,
        "allowed_origins": [o for o in site.allowed_origins.splitlines() if o],
        "is_active": site.is_active,
        "snippet": f'<script defer src="{settings.BASE_URL}/z.js" data-site="{site.domain}"></script>',
    }


@router.get("/sites", response={200: list[SiteOut], **errors()}, summary="Tracked sites")
@allow("analytics.view")
def sites_list(request):
    return [_site_out(s) for s in selectors.sites_list()]


@router.post("/sites", response={201: SiteOut, **errors(400, 422)}, summary="Track a new site")
@allow("analytics.manage")
def site_create(request, payload: SiteIn):
    site = services.site_create(
        domain=payload.domain,
        name=payload.name,
        allowed_origins="\n".join(payload.allowed_origins),
        actor=request.auth,
    )
    return Status(201, _site_out(site))


@router.get("/dashboard", response={200: dict[str, Any], **errors(400, 422)}, summary="Dashboard metrics")
@allow("analytics.view")
def dashboard(request, q: Query[RangeQuery]):
    """Cards (visitors, visits, pageviews, views per visit, bounce rate, visit duration, orders, conversion
    rate, net revenue) with the previous period, daily series, breakdowns, funnel, revenue per source, 404s
    and drops. Filters (source, referrer, utm_*, device, browser, os, page, entry_page, exit_page) narrow
    every panel."""
    filters = {k: v for k, v in q.dict().items() if k in metrics.DIMENSIONS and v}
    try:
        return selectors.dashboard(site=q.site, date_from=q.date_from, date_to=q.date_to, filters=filters)
    except metrics.QueryError as exc:
        raise DomainError(str(exc), field="date_to" if "date" in str(exc) else "filters")


@router.get("/realtime", response={200: dict[str, Any], **errors(422)}, summary="The last 30 minutes")
@allow("analytics.view")
def realtime(request, site: str = Query(..., max_length=200)):
    return metrics.realtime(site=site)


@router.get("/log-summary", response={200: dict[str, Any], **errors(400, 422)}, summary="Server-log summary")
@allow("analytics.view")
def log_summary(request, q: Query[LogQuery]):
    if q.date_from and q.date_to and q.date_to < q.date_from:
        raise DomainError("date_to: must not be before date_from", field="date_to")
    return metrics.log_summary(site=q.site, date_from=q.date_from, date_to=q.date_to)


class FlushIn(In):
    maintain: bool = Field(
        False, description="Also compact small files, apply retention and export orders (the nightly pass)"
    )


@router.post("/flush", response={200: dict[str, Any], **errors()}, summary="Flush the spool now")
@allow("analytics.manage")
def flush(request, payload: FlushIn):
    result = dict(services.spool_flush())
    if payload.maintain:
        result.update(services.warehouse_maintain())
    return result
