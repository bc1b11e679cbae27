"""Promotions API (mounted at /api/v1/promotions). Thin: validation and orchestration; writes go through
promotions.services.

Routes:
  GET    /campaigns                               list (status, q)
  POST   /campaigns                               create a draft (with targets)
  GET    /campaigns/{campaign_id}                 one campaign with its targets
  PATCH  /campaigns/{campaign_id}                 change (version; override_reason for a running one)
  POST   /campaigns/{campaign_id}/check           run the pre-launch check (summary + rows, stored)
  GET    /campaigns/{campaign_id}/check           the latest stored check (summary + rows with findings)
  POST   /campaigns/{campaign_id}/launch          check and schedule (override_reason to accept errors)
  POST   /campaigns/{campaign_id}/cancel          cancel, or end a running campaign now
  GET    /campaigns/{campaign_id}/results         results against the baseline (JSON)
  GET    /campaigns/{campaign_id}/rules           the campaign as a rule for a shop (free shipping, X+Y, codes)
  GET    /campaigns/{campaign_id}/codes           codes (limit, offset)
  POST   /campaigns/{campaign_id}/codes           add one code
  POST   /campaigns/{campaign_id}/codes/generate  generate codes in bulk
  POST   /codes/redeem                            use a code for an order (limits enforced)
  GET    /calendar                                campaigns and clashes of a month or a week
"""

import datetime as dt
from decimal import Decimal
from typing import Literal

from ninja import Query, Router, Schema, Status
from pydantic import Field

from zaplecze.api.permissions import allow
from zaplecze.api.schemas import NO_BODY, Id, In, errors, text
from zaplecze.core.businesstime import local_today

from . import check as checks
from . import results as results_mod
from . import selectors, services
from .models import Campaign

router = Router()


class TargetIn(In):
    kind: Literal["product", "category", "brand"]
    product_id: Id | None = None
    category_id: Id | None = None
    brand: text(120) = ""


class TargetOut(Schema):
    kind: str
    product_id: int | None
    category_id: int | None
    brand: str


class CampaignIn(In):
    name: text(200, 1)
    goal: text(5000) = ""
    kind: Literal["price", "free_shipping", "buy_x_get_y", "codes"] = "price"
    value_type: Literal["percent", "amount"] = "percent"
    value: Decimal = Field(Decimal("0"), description="Percent (0-100) or an amount off the gross price")
    threshold: Decimal | None = Field(None, description="Free shipping from this order value (gross)")
    buy_quantity: int | None = Field(None, ge=1, le=1000)
    get_quantity: int | None = Field(None, ge=1, le=1000)
    start: dt.datetime = Field(description="With a UTC offset; without one, Europe/Warsaw")
    end: dt.datetime
    channels: list[text(40, 1)] = Field(
        default_factory=list, max_length=50, description="[] = the base price"
    )
    budget: Decimal | None = None
    min_margin_percent: Decimal = Decimal("0")
    utm_campaign: text(100) = ""
    targets: list[TargetIn] = Field(default_factory=list, max_length=1000)


class CampaignPatch(In):
    version: int = Field(description="The version read (optimistic lock): a stale one is a 409")
    override_reason: text(500) = ""
    name: text(200, 1) | None = None
    goal: text(5000) | None = None
    value_type: Literal["percent", "amount"] | None = None
    value: Decimal | None = None
    threshold: Decimal | None = None
    buy_quantity: int | None = Field(None, ge=1, le=1000)
    get_quantity: int | None = Field(None, ge=1, le=1000)
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    channels: list[text(40, 1)] | None = Field(None, max_length=50)
    budget: Decimal | None = None
    min_margin_percent: Decimal | None = None
    utm_campaign: text(100) | None = None
    targets: list[TargetIn] | None = Field(None, max_length=1000)


class CampaignOut(Schema):
    id: int
    name: str
    goal: str
    kind: str
    value_type: str
    value: Decimal
    threshold: Decimal | None
    buy_quantity: int | None
    get_quantity: int | None
    start: dt.datetime
    end: dt.datetime
    channels: list[str]
    budget: Decimal | None
    currency: str
    min_margin_percent: Decimal
    utm_campaign: str
    status: str
    version: int
    override_reason: str
    launched_at: dt.datetime | None
    started_at: dt.datetime | None
    ended_at: dt.datetime | None
    targets: list[TargetOut]

    @staticmethod
    def resolve_targets(obj: Campaign):
        return list(obj.targets.all())


class CheckOut(Schema):
    campaign_id: int
    campaign_version: int
    checked_at: dt.datetime
    summary: dict
    rows: list[dict] = Field(description="Every row (POST) or the rows with findings (GET, stored)")


class LaunchIn(In):
    override_reason: text(500) = ""


class CancelIn(In):
    reason: text(500) = ""


class CodeIn(In):
    code: text(40, 3)
    max_uses: int | None = Field(None, ge=1, le=10_000_000, description="1 = single use; null = no limit")


class GenerateIn(In):
    count: int = Field(ge=1, le=100_000)
    prefix: text(12) = ""
    length: int = Field(8, ge=6, le=20)
    max_uses: int | None = Field(1, ge=1, le=10_000_000)


class CodeOut(Schema):
    code: str
    max_uses: int | None
    uses: int


class RedeemIn(In):
    code: text(40, 3)
    order_ref: text(150, 1) = Field(description="The order using it, e.g. its number")


class CalendarEntryOut(Schema):
    id: int
    name: str
    status: str
    start: dt.datetime
    end: dt.datetime


class ClashOut(Schema):
    a: int
    b: int
    products: int
    margin: bool


class CalendarOut(Schema):
    mode: str
    start: dt.date
    end: dt.date
    campaigns: list[CalendarEntryOut]
    clashes: list[ClashOut]


def _payload(payload) -> dict:
    return payload.model_dump(exclude_unset=True, exclude={"targets", "version", "override_reason"})


def _targets(payload) -> list[dict] | None:
    if payload.targets is None:
        return None
    return [t.model_dump() for t in payload.targets]


@router.get("/campaigns", response={200: list[CampaignOut], **errors(422)}, summary="List campaigns")
@allow("promotions.view")
def list_campaigns(
    request,
    status: str = "",
    q: str = "",
    limit: int = Query(100, ge=1, le=500),
    offset: int = Query(0, ge=0),
):
    return list(
        selectors.campaigns(status=status, q=q[:100]).prefetch_related("targets")[offset : offset + limit]
    )


@router.post(
    "/campaigns", response={201: CampaignOut, **errors(400, 404, 422)}, summary="Create a campaign (draft)"
)
@allow("promotions.manage")
def create_campaign(request, payload: CampaignIn):
    data = payload.model_dump(exclude={"targets"})
    return Status(201, services.campaign_create(data=data, targets=_targets(payload), actor=request.auth))


@router.get(
    "/campaigns/{int:campaign_id}", response={200: CampaignOut, **errors(404, 422)}, summary="One campaign"
)
@allow("promotions.view")
def get_campaign(request, campaign_id: Id):
    return selectors.access_campaign(campaign_id)


@router.patch(
    "/campaigns/{int:campaign_id}",
    response={200: CampaignOut, **errors(400, 404, 409, 422)},
    summary="Change a campaign (a running one is re-checked and its prices follow)",
)
@allow("promotions.manage")
def patch_campaign(request, campaign_id: Id, payload: CampaignPatch):
    return services.campaign_update(
        campaign_id=campaign_id,
        data=_payload(payload),
        targets=_targets(payload),
        expected_version=payload.version,
        override_reason=payload.override_reason,
        actor=request.auth,
    )


@router.post(
    "/campaigns/{int:campaign_id}/check",
    response={200: CheckOut, **errors(404, 422)},
    summary="Run the pre-launch check",
    openapi_extra=NO_BODY,
)
@allow("promotions.manage")
def run_check(request, campaign_id: Id):
    _stored, result = services.campaign_check_run(campaign_id=campaign_id, actor=request.auth)
    return result.as_dict()


@router.get(
    "/campaigns/{int:campaign_id}/check",
    response={200: CheckOut, **errors(404, 422)},
    summary="The latest check",
)
@allow("promotions.view")
def latest_check(request, campaign_id: Id):
    campaign = selectors.access_campaign(campaign_id)
    stored = selectors.latest_check(campaign)
    if stored is None:
        result = checks.campaign_check(campaign)
        return {**result.as_dict(), "rows": [r.as_dict() for r in result.rows if r.findings]}
    return {
        "campaign_id": campaign.pk,
        "campaign_version": stored.campaign_version,
        "checked_at": stored.checked_at,
        "summary": stored.summary,
        "rows": stored.rows,
    }


@router.post(
    "/campaigns/{int:campaign_id}/launch",
    response={200: CampaignOut, **errors(400, 404, 409, 422)},
    summary="Check and launch (errors block unless override_reason)",
)
@allow("promotions.manage")
def launch(request, campaign_id: Id, payload: LaunchIn):
    return services.campaign_launch(
        campaign_id=campaign_id, override_reason=payload.override_reason, actor=request.auth
    )


@router.post(
    "/campaigns/{int:campaign_id}/cancel",
    response={200: CampaignOut, **errors(400, 404, 409, 422)},
    summary="Cancel, or end a running campaign now",
)
@allow("promotions.manage")
def cancel(request, campaign_id: Id, payload: CancelIn):
    return services.campaign_cancel(campaign_id=campaign_id, reason=payload.reason, actor=request.auth)


@router.get(
    "/campaigns/{int:campaign_id}/results", response={200: dict, **errors(404, 422)}, summary="Results"
)
@allow("promotions.view")
def campaign_results(request, campaign_id: Id):
    return results_mod.campaign_results(selectors.access_campaign(campaign_id))


@router.get(
    "/campaigns/{int:campaign_id}/rules", response={200: dict, **errors(404, 422)}, summary="As a rule"
)
@allow("promotions.view")
def campaign_rules(request, campaign_id: Id):
    return services.rules_export(selectors.access_campaign(campaign_id))


@router.get(
    "/campaigns/{int:campaign_id}/codes", response={200: list[CodeOut], **errors(404, 422)}, summary="Codes"
)
@allow("promotions.view")
def list_codes(
    request, campaign_id: Id, limit: int = Query(1000, ge=1, le=10_000), offset: int = Query(0, ge=0)
):
    return list(selectors.codes(selectors.access_campaign(campaign_id))[offset : offset + limit])


@router.post(
    "/campaigns/{int:campaign_id}/codes",
    response={201: CodeOut, **errors(400, 404, 409, 422)},
    summary="Add a code",
)
@allow("promotions.manage")
def add_code(request, campaign_id: Id, payload: CodeIn):
    code = services.code_add(
        campaign_id=campaign_id, code=payload.code, max_uses=payload.max_uses, actor=request.auth
    )
    return Status(201, code)


class GeneratedOut(Schema):
    generated: int


@router.post(
    "/campaigns/{int:campaign_id}/codes/generate",
    response={201: GeneratedOut, **errors(400, 404, 409, 422)},
    summary="Generate codes in bulk",
)
@allow("promotions.manage")
def generate_codes(request, campaign_id: Id, payload: GenerateIn):
    n = services.codes_generate(campaign_id=campaign_id, actor=request.auth, **payload.model_dump())
    return Status(201, {"generated": n})


@router.post(
    "/codes/redeem", response={200: CodeOut, **errors(400, 404, 409, 422)}, summary="Use a code for an order"
)
@allow("promotions.manage")
def redeem(request, payload: RedeemIn):
    return services.code_redeem(code=payload.code, order_ref=payload.order_ref)


@router.get(
    "/calendar",
    response={200: CalendarOut, **errors(422)},
    summary="Campaigns and clashes of a month or week",
)
@allow("promotions.view")
def calendar(request, view: Literal["month", "week"] = "month", date: dt.date | None = None):
    cal = selectors.calendar(mode=view, day=date or local_today())
    return {
        "mode": cal.mode,
        "start": cal.start,
        "end": cal.end,
        "campaigns": [
            {"id": c.pk, "name": c.name, "status": c.status, "start": c.start, "end": c.end}
            for c in cal.campaigns
        ],
        "clashes": [{"a": a.pk, "b": b.pk, "products": n, "margin": m} for a, b, n, m in cal.clashes],
    }
