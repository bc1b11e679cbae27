"""Prices API (mounted at /api/v1/catalog/prices). Thin: writes go through catalog.prices and
catalog.reprice; reads through catalog.omnibus.

Routes:
  GET  /variants/{price_variant_id}/history     the price history (every channel) and current prices
  GET  /variants/{price_variant_id}/reference   effective price and Omnibus reference (?channel=&at=)
  POST /set                                      record one price (now or scheduled)
  POST /reprice                                  bulk price change by rule: the preview
  GET  /reprice/{reprice_id}                     a bulk price change with its rows
  POST /reprice/{reprice_id}/apply               apply a preview
  POST /reprice/{reprice_id}/undo                undo an applied change (new entries restore the prices)

There is no PUT, PATCH or DELETE: the price history is append-only.
"""

import datetime as dt
from decimal import Decimal
from typing import Literal

from django.utils import timezone
from ninja import Path, Query, Router, Schema, Status
from pydantic import Field

from zaplecze.api.permissions import allow
from zaplecze.api.schemas import Id, In, errors, text
from zaplecze.core.errors import DomainError, NotFound

from . import omnibus, reprice
from .models import PriceChange, Variant
from .prices import price_set

router = Router()


# --- schemas ------------------------------------------------------------------------------------------


class PriceChangeOut(Schema):
    id: int
    channel: str = Field(description='"" = the base price')
    price: Decimal
    currency: str
    kind: str = Field(description="regular | promo")
    effective_from: dt.datetime
    recorded_at: dt.datetime
    source: str
    actor: str | None
    bulk_change_id: int | None

    @staticmethod
    def resolve_actor(obj: PriceChange) -> str | None:
        return obj.actor.username if obj.actor_id else None


class ReferenceOut(Schema):
    price: Decimal = Field(description="The lowest price of the window (the Omnibus reference price)")
    window_from: dt.datetime
    window_to: dt.datetime = Field(description="When the reduction started")
    basis: Literal["30_days", "since_sales_start", "before_first_reduction"]
    reduced_price: Decimal
    discount_percent: int | None = Field(
        description="Whole percent off the reference, rounded down; null: not below it (show no badge)"
    )
    discount_label: str = Field(description='e.g. "-20 %"; empty with no discount')


class EffectiveOut(Schema):
    variant_id: int
    channel: str
    at: dt.datetime
    currency: str
    price: Decimal = Field(description="What the customer pays at `at`")
    regular_price: Decimal
    sale_price: Decimal | None = Field(description="Set while a promotional price is in effect")
    sale_from: dt.datetime | None
    sale_to: dt.datetime | None = Field(description="Scheduled end (the next entry), if any")
    from_history: bool
    reference: ReferenceOut | None = Field(description="Set when the price is a reduction")


class HistoryOut(Schema):
    variant_id: int
    sku: str
    name: str
    currency: str
    current: list[EffectiveOut] = Field(description="The price in effect now on the base and each channel")
    entries: list[PriceChangeOut]


class PriceSetIn(In):
    variant_id: Id | None = Field(None, description="The variant, or give `sku`")
    sku: text(64) = ""
    price: Decimal = Field(max_digits=20, decimal_places=2, description="Gross")
    channel: text(40) = Field("", description='A channel code; "" = the base price')
    kind: Literal["regular", "promo"] = "regular"
    effective_from: dt.datetime | None = Field(
        None, description="Default now; a future moment schedules the price (the past is refused)"
    )
    expected_price: Decimal | None = Field(
        None, max_digits=20, decimal_places=2, description="The price you read; 409 if it changed meanwhile"
    )


class RepriceIn(In):
    variant_ids: list[Id] = Field(default_factory=list, max_length=50_000)
    category_id: Id | None = Field(None, description="This category and the ones below it")
    brand: text(120) = ""
    status: Literal["", "draft", "active", "archived"] = ""
    sku_prefix: text(64) = ""
    channel: text(40) = Field("", description='Reprice this channel\'s offers; "" = base prices')
    percent: Decimal | None = Field(None, max_digits=8, decimal_places=2, description="e.g. -10")
    amount: Decimal | None = Field(None, max_digits=12, decimal_places=2, description="e.g. -5.00")
    round_99: bool = Field(False, description="Round to the highest .99 price not above the result")
    min_margin: Decimal | None = Field(
        None, max_digits=6, decimal_places=2, description="Refuse cuts below this margin (% of net price)"
    )


class RepriceActionIn(In):
    """Nothing is needed; the body may be {}."""


class RepriceRowOut(Schema):
    variant_id: int
    sku: str
    name: str
    channel: str
    old: Decimal
    new: Decimal
    margin_old: Decimal | None
    margin_new: Decimal | None
    refused: str | None = Field(description="Why the row is not changed (a code), or null")
    flags: list[str]


class BulkOut(Schema):
    id: int
    kind: str
    state: str
    title: str
    params: dict
    summary: dict
    created_at: dt.datetime
    applied_at: dt.datetime | None
    undone_at: dt.datetime | None
    rows: list[RepriceRowOut]


# --- helpers ------------------------------------------------------------------------------------------


def _variant(variant_id: int | None = None, sku: str = "") -> Variant:
    if variant_id:
        variant = Variant.objects.filter(pk=variant_id).first()
    elif sku:
        variant = Variant.objects.filter(sku=sku).first()
    else:
        raise DomainError("Give variant_id or sku", field="variant_id")
    if variant is None:
        raise NotFound("There is no such variant", field="variant_id" if variant_id else "sku")
    return variant


def effective_out(variant_id: int, channel: str, at: dt.datetime, eff: omnibus.EffectivePrice) -> dict:
    ref = eff.reference
    return {
        "variant_id": variant_id,
        "channel": channel,
        "at": at,
        "currency": eff.currency,
        "price": eff.price,
        "regular_price": eff.regular_price,
        "sale_price": eff.sale_price,
        "sale_from": eff.sale_from,
        "sale_to": eff.sale_to,
        "from_history": eff.from_history,
        "reference": None if ref is None else {**ref.__dict__, "discount_label": ref.discount_label},
    }


# --- routes -------------------------------------------------------------------------------------------


@router.get(
    "/variants/{int:price_variant_id}/history",
    response={200: HistoryOut, **errors(404, 422)},
    summary="Price history of a variant",
)
@allow("catalog.view")
def history(request, price_variant_id: Path[Id]):
    variant = _variant(price_variant_id)
    data = omnibus.price_history(variant)
    return {
        "variant_id": variant.pk,
        "sku": variant.sku,
        "name": variant.name,
        "currency": variant.currency,
        "current": [effective_out(variant.pk, c, data.now, e) for c, e in data.current.items()],
        "entries": data.entries,
    }


class ReferenceQuery(In):
    channel: text(40) = ""
    at: dt.datetime | None = Field(None, description="Default now")


@router.get(
    "/variants/{int:price_variant_id}/reference",
    response={200: EffectiveOut, **errors(404, 422)},
    summary="Effective price and Omnibus reference price",
)
@allow("catalog.view")
def reference(request, price_variant_id: Path[Id], query: Query[ReferenceQuery]):
    variant = _variant(price_variant_id)
    at = query.at or timezone.now()
    if timezone.is_naive(at):
        raise DomainError("`at` needs a time zone (e.g. 2026-11-20T12:00:00+01:00)", field="at")
    eff = omnibus.effective_prices([variant.pk], query.channel, at)[variant.pk]
    return effective_out(variant.pk, query.channel, at, eff)


@router.post("/set", response={201: PriceChangeOut, **errors(400, 404, 409, 422)}, summary="Set one price")
@allow("catalog.edit")
def set_price(request, payload: PriceSetIn):
    variant = _variant(payload.variant_id, payload.sku)
    change = price_set(
        variant,
        price=payload.price,
        channel=payload.channel,
        kind=payload.kind,
        effective_from=payload.effective_from,
        expected_price=payload.expected_price,
        source="api",
        actor=request.auth,
    )
    return Status(201, change)


@router.post(
    "/reprice", response={201: BulkOut, **errors(400, 422)}, summary="Bulk price change by rule: preview"
)
@allow("catalog.edit")
def reprice_preview(request, payload: RepriceIn):
    data = payload.model_dump()
    flt = reprice.parse_filter(data)
    bulk = reprice.reprice_preview(
        flt=flt,
        percent=data["percent"],
        amount=data["amount"],
        round_99=data["round_99"],
        min_margin=data["min_margin"],
        actor=request.auth,
    )
    return Status(201, bulk)


@router.get(
    "/reprice/{int:reprice_id}", response={200: BulkOut, **errors(404, 422)}, summary="A bulk price change"
)
@allow("catalog.view")
def reprice_get(request, reprice_id: Path[Id]):
    return reprice.access_reprice(reprice_id)


@router.post(
    "/reprice/{int:reprice_id}/apply",
    response={200: BulkOut, **errors(400, 404, 409, 422)},
    summary="Apply a bulk price change",
)
@allow("catalog.edit")
def reprice_apply(request, reprice_id: Path[Id], payload: RepriceActionIn):
    return reprice.reprice_apply(reprice.access_reprice(reprice_id), request.auth)


@router.post(
    "/reprice/{int:reprice_id}/undo",
    response={200: BulkOut, **errors(400, 404, 409, 422)},
    summary="Undo a bulk price change",
)
@allow("catalog.edit")
def reprice_undo(request, reprice_id: Path[Id], payload: RepriceActionIn):
    return reprice.reprice_undo(reprice.access_reprice(reprice_id), request.auth)
