"""Feeds API (mounted at /api/v1/catalog/feeds). Thin: writes go through catalog.feeds.

Routes:
  GET    ""                              list the feeds (with public URL when allowed to edit the catalog)
  POST   ""                              create a feed
  GET    /{feed_id}                      one feed
  PATCH  /{feed_id}                      change a feed
  POST   /{feed_id}/rebuild              build now (a job; with "wait": true built in the request)
  POST   /{feed_id}/token                a new secret token (the old URL stops working)
  GET    /{feed_id}/exclusions           variants left out at the last build, and why (keyset by SKU)
"""

import datetime as dt
from decimal import Decimal
from typing import Literal

from django.db import transaction
from ninja import Path, Query, Router, Schema, Status
from pydantic import Field

from zaplecze.api.permissions import allow
from zaplecze.api.schemas import Id, In, errors, text
from zaplecze.core.permissions import user_has

from . import feeds
from .models import Feed

router = Router()

KINDS = tuple(Feed.Kind.values)


class FeedOut(Schema):
    id: int
    name: str
    kind: str
    channel: str = Field(description='Channel code whose prices and offers the feed uses ("" = base prices)')
    link_template: str
    shipping_price: Decimal | None
    active: bool
    built_at: dt.datetime | None
    items: int
    excluded: int
    size_bytes: int
    build_seconds: float | None
    error: str
    url: str | None = Field(
        description="The public address with the secret token (null without catalog.edit)"
    )


class FeedIn(In):
    name: text(120, 1)
    kind: Literal[KINDS]  # type: ignore[valid-type]
    channel: text(40) = ""
    link_template: text(500) = Field(
        "", description="e.g. https://shop.example/p/{sku}; {sku} {ean} {product_id} {variant_id}"
    )
    shipping_price: Decimal | None = Field(None, ge=0, max_digits=8, decimal_places=2)
    active: bool = True


class FeedPatch(In):
    name: text(120, 1) | None = None
    kind: Literal[KINDS] | None = None  # type: ignore[valid-type]
    channel: text(40) | None = None
    link_template: text(500) | None = None
    shipping_price: Decimal | None = Field(None, ge=0, max_digits=8, decimal_places=2)
    active: bool | None = None


class RebuildIn(In):
    wait: bool = Field(
        False, description="Build within the request and answer with the result (small catalogs)"
    )


class TokenIn(In):
    confirm: bool = Field(True, description="Must be true: the old public address stops working")


class BuildOut(Schema):
    job_id: int | None = None
    feed: FeedOut | None = None
    by_reason: dict[str, int] = {}


class ExclusionOut(Schema):
    variant_id: int
    sku: str
    product_id: int
    name: str
    reasons: list[str]
    labels: list[str]


class ExclusionPageOut(Schema):
    items: list[ExclusionOut]
    next_cursor: str | None = Field(description="Pass as ?after= for the next page; null on the last page")
    counts: dict[str, int] = Field(description="Excluded variants per reason code (the whole feed)")


class ExclusionQuery(In):
    reason: text(40) = Field("", description="Only this reason code")
    after: text(64) = Field("", description="The next_cursor of the previous page")
    limit: int = Field(100, ge=1, le=1000)


def _out(request, feed: Feed) -> dict:
    data = {f: getattr(feed, f) for f in FeedOut.model_fields if f != "url"}
    data["url"] = feeds.feed_public_url(feed) if user_has(request.auth, "catalog.edit") else None
    return data


@router.get("", response={200: list[FeedOut], **errors()}, summary="List feeds")
@allow("catalog.view")
def list_feeds(request):
    return [_out(request, f) for f in feeds.feeds_list()]


@router.post("", response={201: FeedOut, **errors(400, 422)}, summary="Create a feed")
@allow("settings.catalog")
def create_feed(request, payload: FeedIn):
    return Status(201, _out(request, feeds.feed_create(data=payload.model_dump(), actor=request.auth)))


@router.get("/{int:feed_id}", response={200: FeedOut, **errors(404, 422)}, summary="One feed")
@allow("catalog.view")
def get_feed(request, feed_id: Path[Id]):
    return _out(request, feeds.access_feed(feed_id))


@router.patch("/{int:feed_id}", response={200: FeedOut, **errors(400, 404, 422)}, summary="Change a feed")
@allow("settings.catalog")
def patch_feed(request, feed_id: Path[Id], payload: FeedPatch):
    feeds.access_feed(feed_id)
    data = payload.model_dump(exclude_unset=True)
    return _out(request, feeds.feed_update(feed_id=feed_id, data=data, actor=request.auth))


@router.post(
    "/{int:feed_id}/rebuild",
    response={200: BuildOut, 202: BuildOut, **errors(400, 404, 422)},
    summary="Build a feed now",
)
@allow("catalog.edit")
def rebuild_feed(request, feed_id: Path[Id], payload: RebuildIn):
    """Without `wait`: a background job (see /jobs/{job_id}). With `wait`: built in the request; the answer has
    the feed's new counts and the excluded variants per reason."""
    feed = feeds.access_feed(feed_id)
    if payload.wait:
        stats = feeds.feed_build(feed_id=feed.pk)
        return Status(
            200, {"feed": _out(request, feeds.access_feed(feed.pk)), "by_reason": dict(stats.by_reason)}
        )
    from zaplecze.core.services import job_create

    from .tasks_feeds import feed_build_job

    job = job_create(
        kind="catalog.feed", title=f"Build feed {feed.name}", owner=request.auth, params={"feed_id": feed.pk}
    )
    transaction.on_commit(lambda: feed_build_job(job.pk, feed.pk))
    return Status(202, {"job_id": job.pk})


@router.post(
    "/{int:feed_id}/token", response={200: FeedOut, **errors(400, 404, 422)}, summary="New secret token"
)
@allow("settings.catalog")
def regenerate_token(request, feed_id: Path[Id], payload: TokenIn):
    from zaplecze.core.errors import DomainError

    if not payload.confirm:
        raise DomainError("Set confirm to true to replace the token", field="confirm")
    return _out(request, feeds.feed_token_regenerate(feed_id=feed_id, actor=request.auth))


@router.get(
    "/{int:feed_id}/exclusions",
    response={200: ExclusionPageOut, **errors(400, 404, 422)},
    summary="Variants left out of a feed, and why",
)
@allow("catalog.view")
def list_exclusions(request, feed_id: Path[Id], query: Query[ExclusionQuery]):
    from zaplecze.core.errors import DomainError

    feed = feeds.access_feed(feed_id)
    if query.reason and query.reason not in feeds.REASONS:
        raise DomainError(
            f"Unknown reason {query.reason!r}; one of: {', '.join(feeds.REASONS)}", field="reason"
        )
    rows = feeds.exclusions_page(feed.pk, reason=query.reason, after=query.after, limit=query.limit + 1)
    next_cursor = None
    if len(rows) > query.limit:
        rows = rows[: query.limit]
        next_cursor = rows[-1].variant.sku
    items = [
        {
            "variant_id": r.variant_id,
            "sku": r.variant.sku,
            "product_id": r.variant.product_id,
            "name": r.variant.name,
            "reasons": r.reasons,
            "labels": [feeds.reason_label(c) for c in r.reasons],
        }
        for r in rows
    ]
    return {"items": items, "next_cursor": next_cursor, "counts": feeds.exclusion_counts(feed.pk)}
