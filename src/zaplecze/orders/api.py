"""Orders API (thin: validation and orchestration only; every write goes through orders.services).

Routes (mounted at /api/v1/orders):
  GET    /orders                              the queue: the UI's filters, sort, keyset cursor
  POST   /orders                              create-or-update from a full OrderIn (channel + external_id in the body)
  PUT    /orders/{channel}/{external_id}      create-or-update; the body is OrderIn without channel/external_id
  POST   /orders/tags                         add/remove tags on many orders
  GET    /orders/{id}                         one order with lines, addresses, payment, tags, history
  PATCH  /orders/{id}                         staff edit of editable fields with the order's version
  POST   /orders/{id}/status                  status change (409 on an illegal move or a stale version)
  POST   /orders/{id}/notes                   add a note to the history
"""

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any, Literal

import pydantic
from django.utils.translation import gettext as _
from ninja import Path, Query, Router, Schema, Status
from ninja.errors import ValidationError
from pydantic import Field, create_model, field_validator

from zaplecze.api.permissions import allow
from zaplecze.api.schemas import Id, In, errors, text

from . import selectors, services
from .models import DeliveryMethod, Order, PaymentMethod, PaymentStatus
from .schemas import AddressIn, OrderIn

router = Router()

# The order's version as last read (optimistic lock); bounded by its column.
Version = Annotated[int, Field(ge=1, le=2**31 - 1)]


# --- output -------------------------------------------------------------------------------------------


class LineOut(Schema):
    id: int
    position: int
    sku: str
    ean: str
    name: str
    quantity: int
    unit_price_gross: Decimal
    vat_rate: str
    total_net: Decimal
    total_gross: Decimal
    variant_id: int | None
    external_id: str


class EventOut(Schema):
    id: int
    at: dt.datetime
    kind: str
    actor: str = Field(description="Who did it: a user name or the source (api, csv, ...)")
    from_status: str
    to_status: str
    from_stage: str
    to_stage: str
    message: str
    data: dict[str, Any]

    @staticmethod
    def resolve_actor(obj) -> str:
        return obj.actor_label


class OrderSummaryOut(Schema):
    id: int
    number: str
    channel: str
    external_id: str
    status: str = Field(description="Status code")
    status_name: str
    stage: str
    placed_at: dt.datetime
    ship_by: dt.datetime | None
    customer_name: str
    email: str
    currency: str
    total_gross: Decimal
    payment_method: str
    payment_status: str
    delivery_method: str
    needs_attention: bool
    tags: list[str]
    version: int

    @staticmethod
    def resolve_channel(obj) -> str:
        return obj.channel.code

    @staticmethod
    def resolve_status(obj) -> str:
        return obj.status.code

    @staticmethod
    def resolve_status_name(obj) -> str:
        return obj.status.name

    @staticmethod
    def resolve_tags(obj) -> list[str]:
        return sorted(t.name for t in obj.tags.all())


class OrderOut(OrderSummaryOut):
    customer_type: str
    phone: str
    company: str
    nip: str
    billing_address: dict[str, Any]
    shipping_address: dict[str, Any]
    paid_at: dt.datetime | None
    pickup_point: str
    total_net: Decimal
    total_vat: Decimal
    shipping_cost: Decimal
    discount: Decimal
    notes: str
    internal_notes: str
    attention_reasons: list[dict[str, Any]]
    created_at: dt.datetime
    updated_at: dt.datetime
    shipped_at: dt.datetime | None
    delivered_at: dt.datetime | None
    lines: list[LineOut]
    events: list[EventOut] = Field(description="The order's history, oldest first")

    @staticmethod
    def resolve_lines(obj) -> list:
        return list(obj.lines.all())

    @staticmethod
    def resolve_events(obj) -> list:
        return list(selectors.order_events(obj))


class OrderPageOut(Schema):
    items: list[OrderSummaryOut]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page; null on the last page")


class UpsertOut(Schema):
    outcome: Literal["created", "updated", "unchanged", "stale"]
    attention: list[dict[str, Any]] = Field(
        description="Why the order needs attention (unknown SKU, stock short...)"
    )
    order: OrderOut


class TagsOut(Schema):
    changed: int = Field(description="How many orders changed")


# --- input --------------------------------------------------------------------------------------------

ListParam = list[text(100)]


class OrderListQuery(In):
    status: ListParam = Field(
        default_factory=list, max_length=50, description="Status code(s); repeat or comma-separate"
    )
    stage: ListParam = Field(default_factory=list, max_length=20)
    channel: ListParam = Field(default_factory=list, max_length=50)
    payment_status: ListParam = Field(default_factory=list, max_length=20)
    payment_method: ListParam = Field(default_factory=list, max_length=20)
    delivery_method: ListParam = Field(default_factory=list, max_length=20)
    tag: ListParam = Field(default_factory=list, max_length=20, description="Orders carrying every given tag")
    date_from: dt.date | None = Field(None, description="Placed on or after this day (Europe/Warsaw)")
    date_to: dt.date | None = Field(None, description="Placed on or before this day (Europe/Warsaw)")
    needs_attention: bool | None = None
    late: bool | None = Field(None, description="Open orders past their ship-by time")
    q: text(200) = Field("", description="Text search: number, external id, customer, e-mail, phone, SKU")
    sort: Literal[tuple(selectors.SORTS)] = "-placed_at"  # type: ignore[valid-type]
    cursor: text(500) | None = None
    limit: int = Field(50, ge=1, le=500)


# OrderIn without the two fields that the URL of PUT /orders/{channel}/{external_id} gives.
OrderBodyIn = create_model(
    "OrderBodyIn",
    __base__=In,
    **{
        name: (f.annotation, f)
        for name, f in OrderIn.model_fields.items()
        if name not in ("channel", "external_id")
    },
)


def _aware(v):
    if v is not None and v.tzinfo is None:
        raise ValueError(_("date and time must include a UTC offset, e.g. 2026-05-01T10:00:00+02:00"))
    return v


class StatusIn(In):
    status: text(40, 1) = Field(description="Target status code")
    version: Version | None = Field(None, description="Refuse with 409 if the order changed since")
    reason: text(500) = ""


class OrderPatchIn(In):
    """Editable fields only; any other field is refused (422 naming it)."""

    version: Version = Field(description="The version you read; 409 if the order changed since")
    reason: text(500) = ""
    customer_name: text(200) = None  # type: ignore[assignment]
    email: text(254) = None  # type: ignore[assignment]
    phone: text(40) = None  # type: ignore[assignment]
    company: text(200) = None  # type: ignore[assignment]
    nip: text(20) = None  # type: ignore[assignment]
    billing_address: AddressIn | None = None
    shipping_address: AddressIn | None = None
    payment_method: PaymentMethod = None  # type: ignore[assignment]
    payment_status: PaymentStatus = None  # type: ignore[assignment]
    paid_at: dt.datetime | None = None
    delivery_method: DeliveryMethod = None  # type: ignore[assignment]
    pickup_point: text(40) = None  # type: ignore[assignment]
    notes: text(5000) = None  # type: ignore[assignment]
    internal_notes: text(5000) = None  # type: ignore[assignment]
    ship_by: dt.datetime | None = None

    _aware_times = field_validator("paid_at", "ship_by")(_aware)

    @field_validator("email")
    @classmethod
    def _email(cls, v):
        if v and ("@" not in v or v.startswith("@") or v.endswith("@") or " " in v):
            raise ValueError(_("%(value)s is not an e-mail address") % {"value": v})
        return v.lower() if v else v

    @field_validator(
        "customer_name",
        "email",
        "phone",
        "company",
        "nip",
        "payment_method",
        "payment_status",
        "delivery_method",
        "pickup_point",
        "notes",
        "internal_notes",
        mode="before",
    )
    @classmethod
    def _not_null(cls, v):
        if v is None:
            raise ValueError(_("must not be null"))
        return v


class NoteIn(In):
    text: text(5000, 1)


class TagsIn(In):
    order_ids: list[Id] = Field(min_length=1, max_length=500)
    add: list[text(50, 1)] = Field(default_factory=list, max_length=20)
    remove: list[text(50, 1)] = Field(default_factory=list, max_length=20)


# --- helpers ------------------------------------------------------------------------------------------


def _full(request, order_id: int) -> Order:
    return selectors.access_order(request.auth, order_id)


def _upsert(request, data: OrderIn):
    result = services.ingest_order(data, actor=request.auth, source="api")
    out = {"outcome": result.outcome, "attention": result.attention, "order": _full(request, result.order.pk)}
    return Status(201 if result.outcome == "created" else 200, out)


# --- operations ---------------------------------------------------------------------------------------


@router.get("", response={200: OrderPageOut, **errors(400, 422)}, summary="List orders (the queue)")
@allow("orders.view")
def list_orders(request, filters: Query[OrderListQuery]):
    """The same filters as the order queue in the UI. List parameters may repeat (`?stage=new&stage=ready`)
    or be comma-separated (`?stage=new,ready`). Keyset pagination: follow `next_cursor` until it is null."""
    f = selectors.OrderFilter.from_params(request.GET)
    page = selectors.order_queue(f, sort=filters.sort, cursor=filters.cursor, limit=filters.limit)
    return {"items": page.items, "next_cursor": page.next_cursor}


@router.post(
    "",
    response={200: UpsertOut, 201: UpsertOut, **errors(400, 409, 422)},
    summary="Create or update an order (channel + external_id in the body)",
)
@allow("orders.create")
def upsert_order(request, payload: OrderIn):
    """Upsert by (channel, external_id): 201 when created, 200 when updated, unchanged or stale (an older
    `updated_at` than the stored version never overwrites it)."""
    return _upsert(request, payload)


@router.post(
    "/tags", response={200: TagsOut, **errors(400, 422)}, summary="Add or remove tags on many orders"
)
@allow("orders.bulk")
def change_tags(request, payload: TagsIn):
    """Ids of orders that do not exist are skipped."""
    changed = services.order_tags_change(
        order_ids=payload.order_ids, add=payload.add, remove=payload.remove, actor=request.auth
    )
    return {"changed": changed}


@router.get("/{int:order_id}", response={200: OrderOut, **errors(404, 422)}, summary="One order")
@allow("orders.view")
def get_order(request, order_id: Path[Id]):
    return _full(request, order_id)


@router.patch(
    "/{int:order_id}",
    response={200: OrderOut, **errors(400, 404, 409, 422)},
    summary="Edit an order (optimistic lock)",
)
@allow("orders.edit")
def edit_order(request, order_id: Path[Id], payload: OrderPatchIn):
    """Send the `version` you read; if someone changed the order since, the answer is 409 and nothing is
    saved. Only the fields of this schema can change; any other field is refused with 422."""
    changes = payload.model_dump(exclude_unset=True, exclude={"version", "reason"}, mode="json")
    for name in ("billing_address", "shipping_address"):
        if name in changes and changes[name] is None:
            changes[name] = {}
    for name in ("paid_at", "ship_by"):
        if changes.get(name) is not None:
            changes[name] = getattr(payload, name)
    services.order_edit(
        order_id=order_id,
        expected_version=payload.version,
        changes=changes,
        actor=request.auth,
        reason=payload.reason,
    )
    return _full(request, order_id)


@router.post(
    "/{int:order_id}/status",
    response={200: OrderOut, **errors(400, 404, 409, 422)},
    summary="Change an order's status",
)
@allow("orders.change_status")
def change_status(request, order_id: Path[Id], payload: StatusIn):
    """409 when the move between lifecycle stages is not allowed, or when `version` is given and stale."""
    services.order_transition(
        order_id=order_id,
        status_code=payload.status,
        actor=request.auth,
        expected_version=payload.version,
        reason=payload.reason,
        source="api",
    )
    return _full(request, order_id)


@router.post(
    "/{int:order_id}/notes",
    response={201: EventOut, **errors(400, 404, 422)},
    summary="Add a note to an order's history",
)
@allow("orders.edit")
def add_note(request, order_id: Path[Id], payload: NoteIn):
    event = services.order_add_note(order_id=order_id, text=payload.text, actor=request.auth)
    return Status(201, event)


@router.put(
    "/{channel}/{external_id}",
    response={200: UpsertOut, 201: UpsertOut, **errors(400, 409, 422)},
    summary="Create or update an order by channel and external id",
)
@allow("orders.create")
def put_order(request, channel: Path[text(40, 1)], external_id: Path[text(100, 1)], payload: OrderBodyIn):
    """The body is the OrderIn schema without `channel` and `external_id` (they come from the URL). An
    external id that contains `/` cannot be put in a URL: use `POST /orders` for those."""
    try:
        data = OrderIn.model_validate(
            {**payload.model_dump(), "channel": channel, "external_id": external_id}
        )
    except pydantic.ValidationError as exc:  # cross-field rules (NIP of a business, e-mail, offsets)
        raise ValidationError([{**e, "loc": ("body", "payload", *e["loc"])} for e in exc.errors()])
    return _upsert(request, data)
