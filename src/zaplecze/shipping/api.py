"""Shipments API (thin: validation and orchestration; every write goes through shipping.services).

Routes (mounted at /api/v1/shipments):
  GET    /shipments                        list with filters, keyset cursor
  POST   /shipments                        create a shipment for an order (sent to the carrier by the worker)
  POST   /shipments/bulk                   shipments + one merged label PDF for many orders (a job)
  GET    /shipments/late                   open orders past their ship-by time
  GET    /shipments/at-risk                open orders due within ZAPLECZE_SHIP_AT_RISK_HOURS
  GET    /shipments/performance            carrier performance over a date range
  GET    /shipments/{id}                   one shipment with parcels and tracking events
  GET    /shipments/{id}/label             the label (application/pdf)
  POST   /shipments/{id}/status            change the status by hand (manual carriers)
  POST   /shipments/{id}/tracking-number   type in the tracking number (manual carriers)
  POST   /shipments/{id}/cancel            cancel (at the carrier too)
  POST   /shipments/{id}/retry             send a failed shipment to the carrier again
  POST   /shipments/{id}/sync              ask the carrier now (submission, tracking)
"""

import datetime as dt
from decimal import Decimal
from typing import Literal

from django.http import FileResponse
from ninja import Path, Query, Router, Schema, Status
from pydantic import Field

from zaplecze.api.permissions import allow
from zaplecze.api.schemas import Id, In, errors, text
from zaplecze.core.errors import DomainError, NotFound

from . import selectors, services
from .carriers import ParcelSpec
from .models import Shipment, ShipmentStatus, Submission

router = Router()


# --- output -------------------------------------------------------------------------------------------


class ParcelOut(Schema):
    template: str
    length_mm: int | None
    width_mm: int | None
    height_mm: int | None
    weight_kg: Decimal | None
    tracking_number: str


class EventOut(Schema):
    at: dt.datetime
    status: str = Field(description="Lifecycle status; empty when the carrier's status is not mapped")
    raw_status: str = Field(description="The carrier's own status")
    location: str
    message: str
    source: str


class ShipmentOut(Schema):
    id: int
    order_id: int
    order_number: str
    carrier: str
    service: str
    status: ShipmentStatus
    raw_status: str
    submission: Submission = Field(description="Where the conversation with the carrier stands")
    last_error: str
    attempts: int
    next_attempt_at: dt.datetime | None
    reference: str = Field(description="Our idempotency key, sent to the carrier as its reference")
    external_id: str
    tracking_number: str
    tracking_url: str
    target_point: str
    currency: str
    cod_amount: Decimal | None
    insurance_amount: Decimal | None
    has_label: bool
    created_at: dt.datetime
    handed_over_at: dt.datetime | None
    delivered_at: dt.datetime | None

    @staticmethod
    def resolve_order_number(obj: Shipment) -> str:
        return obj.order.number

    @staticmethod
    def resolve_carrier(obj: Shipment) -> str:
        return obj.carrier.code

    @staticmethod
    def resolve_tracking_url(obj: Shipment) -> str:
        return obj.tracking_link

    @staticmethod
    def resolve_has_label(obj: Shipment) -> bool:
        return bool(obj.label)


class ShipmentDetailOut(ShipmentOut):
    parcels: list[ParcelOut]
    events: list[EventOut]

    @staticmethod
    def resolve_parcels(obj: Shipment):
        return list(obj.parcels.all())

    @staticmethod
    def resolve_events(obj: Shipment):
        return list(obj.events.all())


class ShipmentPageOut(Schema):
    items: list[ShipmentOut]
    next_cursor: str | None


class JobOut(Schema):
    job_id: int


class DueOrderOut(Schema):
    id: int
    number: str
    channel: str
    stage: str
    ship_by: dt.datetime | None

    @staticmethod
    def resolve_channel(obj) -> str:
        return obj.channel.code


class PerformanceOut(Schema):
    carrier: str
    carrier_name: str
    service: str
    shipments: int
    delivered: int
    median_hours: float | None = Field(description="Median transit time, hand-over to delivery")
    p90_hours: float | None
    on_time_rate: float | None = Field(description="Delivered within the carrier's expected working days")
    exception_rate: float | None


# --- input --------------------------------------------------------------------------------------------


class ParcelIn(In):
    template: Literal["small", "medium", "large", ""] = Field(
        "", description="Locker size: small A, medium B, large C"
    )
    length_mm: int | None = Field(None, ge=1, le=10_000)
    width_mm: int | None = Field(None, ge=1, le=10_000)
    height_mm: int | None = Field(None, ge=1, le=10_000)
    weight_kg: Decimal | None = Field(None, gt=0, le=1000, max_digits=8, decimal_places=3)

    def spec(self) -> ParcelSpec:
        return ParcelSpec(
            template=self.template,
            length_mm=self.length_mm,
            width_mm=self.width_mm,
            height_mm=self.height_mm,
            weight_kg=self.weight_kg,
        )


class ShipmentIn(In):
    order_id: Id
    carrier: text(30) = Field(
        "", description="Carrier code; empty: the one serving the order's delivery method"
    )
    service: text(60) = ""
    target_point: text(40) | None = Field(
        None, description="Parcel locker; default: the order's pickup point"
    )
    parcels: list[ParcelIn] | None = Field(
        None, max_length=20, description="Default: one parcel (locker size A)"
    )
    cod_amount: Decimal | None = Field(None, ge=0, le=1_000_000, max_digits=12, decimal_places=2)
    insurance_amount: Decimal | None = Field(None, ge=0, le=1_000_000, max_digits=12, decimal_places=2)
    tracking_number: text(60) = Field("", description="Manual carriers: the number from the carrier's system")
    comments: text(200) = ""


class BulkIn(In):
    order_ids: list[Id] = Field(min_length=1, max_length=1000)
    carrier: text(30) = ""
    parcel: ParcelIn | None = None


class StatusIn(In):
    status: ShipmentStatus
    at: dt.datetime | None = None
    note: text(500) = ""


class TrackingNumberIn(In):
    tracking_number: text(60, 1)


class NoteIn(In):
    note: text(500) = ""


class ListQuery(In):
    carrier: text(30) = ""
    status: ShipmentStatus | None = None
    submission: Submission | None = None
    problems: bool = False
    q: text(100) = Field("", description="Tracking number, reference, order number or carrier id")
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    cursor: text(200) | None = None
    limit: int = Field(50, ge=1, le=500)


class PerformanceQuery(In):
    date_from: dt.date
    date_to: dt.date


def _detail(request, shipment_id: int) -> Shipment:
    return selectors.access_shipment(request.auth, shipment_id)


# --- operations ---------------------------------------------------------------------------------------


@router.get("", response={200: ShipmentPageOut, **errors(422)}, summary="List shipments")
@allow("shipping.view")
def list_shipments(request, filters: Query[ListQuery]):
    f = selectors.ShipmentFilter(
        carrier=filters.carrier,
        status=filters.status or "",
        submission=filters.submission or "",
        q=filters.q,
        date_from=filters.date_from,
        date_to=filters.date_to,
        problems=filters.problems,
    )
    page = selectors.shipment_page(f, cursor=filters.cursor, limit=filters.limit)
    return {"items": page.items, "next_cursor": page.next_cursor}


@router.post("", response={201: ShipmentDetailOut, **errors(400, 404, 422)}, summary="Create a shipment")
@allow("shipping.manage")
def create_shipment(request, payload: ShipmentIn):
    """The shipment and its idempotency reference are stored first; the worker then sends it to the carrier
    and downloads the label (with retries). Poll the shipment: `submission` becomes `done`."""
    shipment = services.shipment_create(
        order_id=payload.order_id,
        carrier_code=payload.carrier or None,
        service=payload.service,
        parcels=[p.spec() for p in payload.parcels] if payload.parcels else None,
        target_point=payload.target_point,
        cod_amount=payload.cod_amount,
        insurance_amount=payload.insurance_amount,
        tracking_number=payload.tracking_number,
        comments=payload.comments,
        actor=request.auth,
    )
    return Status(201, _detail(request, shipment.pk))


@router.post(
    "/bulk", response={202: JobOut, **errors(400, 422)}, summary="Shipments and labels for many orders"
)
@allow("shipping.manage")
def bulk_create(request, payload: BulkIn):
    """A background job (see `/jobs/{job_id}`): per-order errors in its result, the merged PDF at
    `labels_file` (download it from the shipments screen)."""
    parcel = payload.parcel.model_dump(mode="json") if payload.parcel else None
    job_id = services.bulk_labels_job_create(
        order_ids=payload.order_ids, actor=request.auth, carrier_code=payload.carrier, parcel=parcel
    )
    return Status(202, {"job_id": job_id})


@router.get("/late", response={200: list[DueOrderOut], **errors()}, summary="Orders past their ship-by time")
@allow("shipping.view")
def late_orders(request):
    return list(selectors.orders_late()[:500])


@router.get("/at-risk", response={200: list[DueOrderOut], **errors()}, summary="Orders due soon")
@allow("shipping.view")
def at_risk_orders(request):
    return list(selectors.orders_at_risk()[:500])


@router.get(
    "/performance", response={200: list[PerformanceOut], **errors(400, 422)}, summary="Carrier performance"
)
@allow("shipping.view")
def performance(request, filters: Query[PerformanceQuery]):
    if filters.date_to < filters.date_from or (filters.date_to - filters.date_from).days > 731:
        raise DomainError("date_to must be on or after date_from, at most two years apart", field="date_to")
    return [p.as_dict() for p in selectors.carrier_performance(filters.date_from, filters.date_to)]


@router.get(
    "/{int:shipment_id}", response={200: ShipmentDetailOut, **errors(404, 422)}, summary="One shipment"
)
@allow("shipping.view")
def get_shipment(request, shipment_id: Path[Id]):
    return _detail(request, shipment_id)


@router.get("/{int:shipment_id}/label", response={200: None, **errors(404, 422)}, summary="The label (PDF)")
@allow("shipping.view")
def get_label(request, shipment_id: Path[Id]):
    shipment = _detail(request, shipment_id)
    if not shipment.label:
        raise NotFound("This shipment has no label (yet)")
    return FileResponse(
        shipment.label.open("rb"), content_type="application/pdf", filename=f"{shipment.reference}.pdf"
    )


@router.post(
    "/{int:shipment_id}/status",
    response={200: ShipmentDetailOut, **errors(400, 404, 409, 422)},
    summary="Change a shipment's status by hand",
)
@allow("shipping.manage")
def change_status(request, shipment_id: Path[Id], payload: StatusIn):
    """For carriers without tracking (DPD, DHL, ...). 409 when the lifecycle does not allow the move."""
    if payload.at is not None and payload.at.tzinfo is None:
        raise DomainError("at must include a UTC offset", field="at")
    _detail(request, shipment_id)
    services.shipment_transition(
        shipment_id=shipment_id, status=payload.status, at=payload.at, note=payload.note, actor=request.auth
    )
    return _detail(request, shipment_id)


@router.post(
    "/{int:shipment_id}/tracking-number",
    response={200: ShipmentDetailOut, **errors(400, 404, 422)},
    summary="Type in a tracking number",
)
@allow("shipping.manage")
def set_tracking_number(request, shipment_id: Path[Id], payload: TrackingNumberIn):
    _detail(request, shipment_id)
    services.shipment_set_tracking_number(
        shipment_id=shipment_id, tracking_number=payload.tracking_number, actor=request.auth
    )
    return _detail(request, shipment_id)


@router.post(
    "/{int:shipment_id}/cancel",
    response={200: ShipmentDetailOut, **errors(400, 404, 409, 422, 502)},
    summary="Cancel a shipment",
)
@allow("shipping.manage")
def cancel(request, shipment_id: Path[Id], payload: NoteIn):
    """Only before it leaves (created, label ready). InPost refuses once the shipment is bought (the
    carrier's answer is passed on)."""
    _detail(request, shipment_id)
    services.shipment_cancel(shipment_id=shipment_id, actor=request.auth, reason=payload.note)
    return _detail(request, shipment_id)


@router.post(
    "/{int:shipment_id}/retry",
    response={200: ShipmentDetailOut, **errors(400, 404, 422)},
    summary="Send a failed shipment to the carrier again",
)
@allow("shipping.manage")
def retry(request, shipment_id: Path[Id], payload: NoteIn):
    _detail(request, shipment_id)
    services.shipment_retry(shipment_id=shipment_id, actor=request.auth)
    return _detail(request, shipment_id)


@router.post(
    "/{int:shipment_id}/sync",
    response={200: ShipmentDetailOut, **errors(400, 404, 409, 422, 502)},
    summary="Ask the carrier now",
)
@allow("shipping.manage")
def sync(request, shipment_id: Path[Id], payload: NoteIn):
    """Finishes a pending submission (label) and polls tracking. Carrier errors are answered with 502 (or
    400 when the carrier refused the data) and kept on the shipment."""
    _detail(request, shipment_id)
    services.shipment_sync(shipment_id=shipment_id)
    return _detail(request, shipment_id)
