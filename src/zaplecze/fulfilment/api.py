"""Fulfilment API (mounted at /api/v1/fulfilment). Thin: every write goes through fulfilment.services.

Routes:
  GET    /picklists                          pick lists, newest first (filter by status)
  POST   /picklists                          make a pick list from order ids / numbers, or all ready orders
  GET    /picklists/{id}                     one pick list with its sheet (groups by warehouse and bin)
  GET    /picklists/{id}/pdf                 the printable pick list (application/pdf)
  POST   /picklists/{id}/status              mark done / reopen
  GET    /packing/{order_id}                 the packing state of an order (scanned / needed per line)
  POST   /packing/{order_id}/scan            one scanned EAN or SKU
  POST   /packing/{order_id}/undo            take back the last counted scan
"""

import datetime as dt

from django.http import HttpResponse
from ninja import Path, Query, Router, Schema, Status
from pydantic import Field

from zaplecze.api.permissions import allow
from zaplecze.api.schemas import Id, In, errors, text
from zaplecze.core.errors import DomainError, NotFound
from zaplecze.orders.models import Order

from . import pdf, selectors, services
from .models import PickList, PickListStatus

router = Router()


# --- output -------------------------------------------------------------------------------------------


class NeedOut(Schema):
    order_id: int
    number: str
    quantity: int


class RowOut(Schema):
    key: str = Field(description="Row key for ticking it off: <warehouse id>:<location id>:<sku> (0 = none)")
    sku: str
    ean: str
    name: str
    quantity: int
    picked: bool
    orders: list[NeedOut]


class GroupOut(Schema):
    warehouse: str | None = Field(description="Warehouse code; null: no stock reserved for these lines")
    warehouse_name: str
    location: str | None = Field(description="Bin code; null: no location assigned")
    location_name: str
    quantity: int
    rows: list[RowOut]


class SheetOrderOut(Schema):
    id: int
    number: str
    channel: str
    delivery_method: str
    status: str
    stage: str
    lines: int
    units: int


class TotalOut(Schema):
    sku: str
    name: str
    quantity: int


class PickListSummaryOut(Schema):
    id: int
    number: str
    status: PickListStatus
    created_at: dt.datetime
    created_by: str | None
    done_at: dt.datetime | None
    note: str


class PickListOut(PickListSummaryOut):
    orders: list[SheetOrderOut]
    groups: list[GroupOut]
    totals: list[TotalOut]
    units: int
    unreserved_lines: int


class PackLineOut(Schema):
    line_id: int
    sku: str
    ean: str
    name: str
    needed: int
    scanned: int


class ScanOut(Schema):
    id: int
    at: dt.datetime
    code: str
    outcome: str
    line_id: int | None
    undone: bool


class PackStateOut(Schema):
    order_id: int
    order_number: str
    order_status: str
    packing_status: str
    complete: bool
    units_needed: int
    units_scanned: int
    lines: list[PackLineOut]
    scans: list[ScanOut] = Field(description="The latest scans, newest first (refused ones too)")


class ScanResultOut(Schema):
    outcome: str = Field(description="counted | unknown | not_in_order | surplus | undone")
    counted: bool
    message: str
    packed_now: bool = Field(description="This scan completed the order (it is now packed)")
    state: PackStateOut


# --- input --------------------------------------------------------------------------------------------


class UndoIn(In):
    scan_id: int | None = Field(
        None,
        description="Undo only if this is still the last counted scan (409 otherwise); default: the last",
    )


class PickListIn(In):
    order_ids: list[Id] = Field(default_factory=list, max_length=services.MAX_ORDERS)
    orders: list[text(60, 1)] = Field(
        default_factory=list, max_length=services.MAX_ORDERS, description="Order numbers (or ids)"
    )
    ready: bool = Field(False, description="All orders ready to fulfil (with the filters below)")
    channel: text(40) = ""
    delivery_method: text(20) = ""
    carrier: text(30) = ""
    include_listed: bool = Field(False, description="With ready: also orders already on an open pick list")
    move_to_picking: bool = Field(False, description="Move orders that are ready to fulfil to “picking”")
    note: text(200) = ""


class PickListStatusIn(In):
    status: PickListStatus


class ScanIn(In):
    code: text(64, 1) = Field(description="The EAN or SKU as the scanner typed it")
    picklist_id: Id | None = None


class ListQuery(In):
    status: PickListStatus | None = None
    limit: int = Field(50, ge=1, le=500)


def _summary(pick_list: PickList) -> dict:
    return {
        "id": pick_list.pk,
        "number": pick_list.number,
        "status": pick_list.status,
        "created_at": pick_list.created_at,
        "created_by": pick_list.created_by.username if pick_list.created_by_id else None,
        "done_at": pick_list.done_at,
        "note": pick_list.note,
    }


def _picklist_out(pick_list: PickList) -> dict:
    return {**_summary(pick_list), **selectors.picklist_sheet(pick_list).as_dict()}


def _order(order_id: int) -> Order:
    order = Order.objects.filter(pk=order_id).first()
    if order is None:
        raise NotFound("Order not found")
    return order


def _scan_out(result: services.ScanResult) -> dict:
    return {
        "outcome": result.outcome,
        "counted": result.outcome == "counted",
        "message": result.message,
        "packed_now": result.packed_now,
        "state": result.state.as_dict(),
    }


# --- operations ---------------------------------------------------------------------------------------


@router.get("/picklists", response={200: list[PickListSummaryOut], **errors(422)}, summary="List pick lists")
@allow("fulfilment.pick")
def list_picklists(request, filters: Query[ListQuery]):
    return [_summary(p) for p in selectors.picklists(status=filters.status or "", limit=filters.limit)]


@router.post("/picklists", response={201: PickListOut, **errors(400, 404, 422)}, summary="Make a pick list")
@allow("fulfilment.pick")
def create_picklist(request, payload: PickListIn):
    """Orders by id (`order_ids`), by number (`orders`), or every order ready to fulfil (`ready`, at most
    1000, oldest ship-by first) filtered by channel, delivery method and carrier."""
    ids = list(payload.order_ids)
    if payload.orders:
        found, missing = selectors.resolve_orders(payload.orders)
        if missing:
            raise NotFound(f"Unknown orders: {', '.join(missing[:20])}", field="orders", missing=missing)
        ids += found
    if payload.ready:
        f = selectors.ReadyFilter(
            channel=payload.channel,
            delivery_method=payload.delivery_method,
            carrier=payload.carrier,
            include_listed=payload.include_listed,
        )
        ids += list(selectors.orders_ready(f).values_list("pk", flat=True)[: services.MAX_ORDERS])
        if not ids:
            raise DomainError("No orders are ready to fulfil with these filters", field="ready")
    pick_list = services.picklist_create(
        order_ids=ids, actor=request.auth, move_to_picking=payload.move_to_picking, note=payload.note
    )
    return Status(201, _picklist_out(pick_list))


@router.get(
    "/picklists/{int:picklist_id}", response={200: PickListOut, **errors(404, 422)}, summary="One pick list"
)
@allow("fulfilment.pick")
def get_picklist(request, picklist_id: Path[Id]):
    return _picklist_out(selectors.access_picklist(request.auth, picklist_id))


@router.get(
    "/picklists/{int:picklist_id}/pdf",
    response={200: None, **errors(404, 422)},
    summary="The pick list (PDF)",
)
@allow("fulfilment.pick")
def get_picklist_pdf(request, picklist_id: Path[Id]):
    pick_list = selectors.access_picklist(request.auth, picklist_id)
    response = HttpResponse(pdf.picklist_pdf(pick_list), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{pick_list.number}.pdf"'
    return response


@router.post(
    "/picklists/{int:picklist_id}/status",
    response={200: PickListSummaryOut, **errors(400, 404, 409, 422)},
    summary="Mark a pick list done, or reopen it",
)
@allow("fulfilment.pick")
def set_picklist_status(request, picklist_id: Path[Id], payload: PickListStatusIn):
    selectors.access_picklist(request.auth, picklist_id)
    services.picklist_transition(pick_list_id=picklist_id, status=payload.status, actor=request.auth)
    return _summary(selectors.access_picklist(request.auth, picklist_id))


@router.get(
    "/packing/{int:order_id}",
    response={200: PackStateOut, **errors(404, 422)},
    summary="Packing state of an order",
)
@allow("fulfilment.pick")
def get_packing(request, order_id: Path[Id]):
    return selectors.pack_state(_order(order_id)).as_dict()


@router.post(
    "/packing/{int:order_id}/scan",
    response={200: ScanResultOut, **errors(400, 404, 409, 422)},
    summary="Scan one unit (EAN or SKU)",
)
@allow("fulfilment.pick")
def scan(request, order_id: Path[Id], payload: ScanIn):
    """200 for every scan: `counted` says whether the unit was counted. An unknown code, an item not in the
    order or a surplus unit is refused (`counted: false`) with a message. The scan that completes the order
    moves it to "packed" (`packed_now: true`). 400 when the order is not ready to fulfil or in fulfilment."""
    order = _order(order_id)
    result = services.packing_scan(
        order_id=order.pk, code=payload.code, actor=request.auth, pick_list_id=payload.picklist_id
    )
    return _scan_out(result)


@router.post(
    "/packing/{int:order_id}/undo",
    response={200: ScanResultOut, **errors(400, 404, 409, 422)},
    summary="Undo the last counted scan",
)
@allow("fulfilment.pick")
def undo(request, order_id: Path[Id], payload: UndoIn):
    order = _order(order_id)
    return _scan_out(
        services.packing_undo(order_id=order.pk, actor=request.auth, expected_scan_id=payload.scan_id)
    )
