"""Storefront check API (mounted at /api/v1/catalog/site-checks).

POST /                   start a check (queued for the worker; 202 with the run)
GET  /                   the runs, newest first (keyset: ?before=<id>)
GET  /{sc_run_id}        one run with its results, paged (?page=, ?limit=, ?code=, ?problems_only=)
"""

import datetime as dt
from typing import Literal

from django.core.paginator import Paginator
from ninja import Path, Query, Router, Schema, Status
from pydantic import Field

from zaplecze.api.permissions import allow
from zaplecze.api.schemas import Id, In, errors, text

from . import sitecheck

router = Router()

Code = Literal[sitecheck.ALL_CODES]  # type: ignore[valid-type]


class SiteCheckIn(In):
    base_url: text(500) = Field("", description="The shop's address; may be empty when `urls` are given")
    sitemap_url: text(500) = Field(
        "", description="Default: the sitemaps robots.txt names, else /sitemap.xml"
    )
    urls: list[text(1000)] = Field(
        default_factory=list, max_length=sitecheck.MAX_URLS_LISTED, description="Pages to check instead"
    )
    channel: text(40) = Field("", description='Channel code whose prices the shop shows; "" = base price')
    max_pages: int = Field(500, ge=1, le=sitecheck.MAX_PAGES_LIMIT)
    rate: float = Field(2.0, ge=0, le=100, description="Requests per second per host; 0 = no limit")
    concurrency: int = Field(4, ge=1, le=32)
    nightly: bool = Field(False, description="Repeat this check every night")


class ProblemOut(Schema):
    code: str
    expected: str
    found: str


class RunOut(Schema):
    id: int
    state: str
    base_url: str
    sitemap_url: str
    channel: str
    pages_done: int
    pages_total: int | None
    ok: int
    mismatched: int
    failed: int
    error: str
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None


class ResultOut(Schema):
    url: str
    variant_id: int | None
    sku: str | None
    product: str | None
    http_status: int | None
    fetch_ms: int | None
    state: str = Field(description="ok, mismatched, failed (not checked) or unknown (not a catalog product)")
    problems: list[ProblemOut]


class RunDetailOut(RunOut):
    problem_counts: dict[str, int]
    results: list[ResultOut]
    page: int
    pages: int = Field(description="Pages of results")


class RunsQuery(In):
    before: Id | None = Field(None, description="The last id of the previous page")
    limit: int = Field(50, ge=1, le=200)


class ResultsQuery(In):
    page: int = Field(1, ge=1, le=1_000_000)
    limit: int = Field(100, ge=1, le=1000)
    code: Code | None = None  # type: ignore[valid-type]
    problems_only: bool = False


def _run_out(run, params: sitecheck.CheckParams | None = None, total: int | None = None) -> dict:
    params = params or sitecheck.run_params(run)
    return {
        "id": run.pk,
        "state": run.state,
        "base_url": run.base_url,
        "sitemap_url": params.sitemap_url,
        "channel": params.channel,
        "pages_done": run.pages,
        "pages_total": total if total is not None else sitecheck.run_total(run),
        "ok": run.ok,
        "mismatched": run.mismatched,
        "failed": run.failed,
        "error": run.error,
        "created_at": run.created_at,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
    }


@router.post("", response={202: RunOut, **errors(400, 422)}, summary="Start a storefront check")
@allow("catalog.edit")
def start(request, payload: SiteCheckIn):
    """The check runs in the worker; follow its progress with GET /{id} (pages_done / pages_total)."""
    params = sitecheck.CheckParams(**payload.model_dump())
    run = sitecheck.site_check_start(params=params, actor=request.auth)
    run.refresh_from_db()
    return Status(202, _run_out(run, params))


@router.get("", response={200: list[RunOut], **errors(422)}, summary="List storefront checks")
@allow("catalog.view")
def list_runs(request, query: Query[RunsQuery]):
    rows = sitecheck.runs()
    if query.before:
        rows = rows.filter(pk__lt=query.before)
    return [_run_out(r) for r in rows.order_by("-id")[: query.limit]]


@router.get(
    "/{int:sc_run_id}",
    response={200: RunDetailOut, **errors(404, 422)},
    summary="A storefront check's report",
)
@allow("catalog.view")
def get_run(request, sc_run_id: Path[Id], query: Query[ResultsQuery]):
    run = sitecheck.access_run(sc_run_id)
    rows = sitecheck.run_results(run.pk, code=query.code or "", problems_only=query.problems_only)
    paginator = Paginator(rows, query.limit)
    page = paginator.get_page(query.page)
    results = [
        {
            "url": r.url,
            "variant_id": r.variant_id,
            "sku": r.variant.sku if r.variant else None,
            "product": r.variant.product.name if r.variant else None,
            "http_status": r.http_status,
            "fetch_ms": r.fetch_ms,
            "state": sitecheck.row_state(r.problems),
            "problems": r.problems,
        }
        for r in page.object_list
    ]
    return {
        **_run_out(run),
        "problem_counts": sitecheck.run_code_counts(run.pk),
        "results": results,
        "page": page.number,
        "pages": paginator.num_pages,
    }
