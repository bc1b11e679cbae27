"""Purchasing API (mounted at /api/v1/purchasing). Thin: validation and orchestration; writes go through
purchasing.services.

Routes:
  GET    /suppliers                               list (q, active)
  POST   /suppliers                               create
  GET    /suppliers/{supplier_id}                 one supplier
  PATCH  /suppliers/{supplier_id}                 change fields
  GET    /suppliers/{supplier_id}/items           what the supplier sells us
  POST   /suppliers/{supplier_id}/items           add or update an item (by SKU or EAN)
  DELETE /supplier-items/{item_id}                remove an item
  GET    /parameters                              reorder parameters with days of cover
  GET    /parameters/{param_id}                   one, with the computation in words
  POST   /parameters/{param_id}                   manual numbers, or back to computed
  POST   /forecast                                recompute all forecasts now (a job)
  GET    /reorder                                 the "to reorder" list with each computation
  POST   /reorder/purchase-orders                 draft POs (one per supplier) from chosen suggestions
  GET    /purchase-orders                         list (status, supplier, q, overdue)
  GET    /purchase-orders/overdue                 open POs past their expected date
  POST   /purchase-orders                         create a draft by hand
  GET    /purchase-orders/{po_id}                 one PO with lines, totals, receipts
  PATCH  /purchase-orders/{po_id}                 edit a draft
  POST   /purchase-orders/{po_id}/send            mark sent and (by default) e-mail the PDF to the supplier
  POST   /purchase-orders/{po_id}/cancel          cancel (before any goods arrive)
  POST   /purchase-orders/{po_id}/receive         receive a delivery (lines, scans, discrepancies)
  GET    /purchase-orders/{po_id}/pdf             the PDF
  GET    /purchase-orders/{po_id}/csv             the lines as CSV
"""

import datetime as dt
from decimal import Decimal
from typing import Literal

from django.db import transaction
from django.http import HttpResponse
from ninja import Path, Query, Router, Schema, Status
from pydantic import Field

from zaplecze.api.permissions import allow
from zaplecze.api.schemas import Id, In, errors, text
from zaplecze.core.errors import DomainError

from . import documents, selectors, services
from .explain import steps_text
from .models import POStatus, PurchaseOrder, ReorderParameter, Supplier, SupplierItem

router = Router()


# --- schemas ------------------------------------------------------------------------------------------


class SupplierOut(Schema):
    id: int
    name: str
    nip: str
    email: str
    phone: str
    address: str
    currency: str
    language: str
    lead_time_days: int = Field(description="Working days (Polish business days)")
    notes: str
    active: bool


class SupplierIn(In):
    name: text(200, 1)
    nip: text(20) = Field("", description="Polish NIP; checked (check digit); stored as 10 digits")
    email: text(254) = ""
    phone: text(40) = ""
    address: text(1000) = ""
    currency: text(3) = "PLN"
    language: Literal["pl", "en"] = "pl"
    lead_time_days: int = Field(5, ge=0, le=365, description="Working days")
    notes: text(5000) = ""
    active: bool = True


class SupplierPatch(In):
    name: text(200, 1) | None = None
    nip: text(20) | None = None
    email: text(254) | None = None
    phone: text(40) | None = None
    address: text(1000) | None = None
    currency: text(3) | None = None
    language: Literal["pl", "en"] | None = None
    lead_time_days: int | None = Field(None, ge=0, le=365)
    notes: text(5000) | None = None
    active: bool | None = None


class SupplierItemOut(Schema):
    id: int
    supplier_id: int
    variant_id: int
    sku: str
    supplier_sku: str
    unit_cost: Decimal
    lead_time_days: int | None = Field(description="Override; null: the supplier's lead time")
    min_order_qty: int
    pack_size: int
    preferred: bool

    @staticmethod
    def resolve_sku(obj: SupplierItem) -> str:
        return obj.variant.sku


class SupplierItemIn(In):
    sku: text(64, 1) = Field(description="Our SKU or EAN")
    supplier_sku: text(64) = ""
    unit_cost: Decimal = Field(ge=0, le=100_000_000, max_digits=14, decimal_places=2, description="Net")
    lead_time_days: int | None = Field(None, ge=0, le=365)
    min_order_qty: int = Field(1, ge=1, le=1_000_000)
    pack_size: int = Field(1, ge=1, le=100_000)
    preferred: bool = False


class ParameterOut(Schema):
    id: int
    sku: str
    variant_id: int
    warehouse: str | None = Field(description="Warehouse code; null: all warehouses together")
    mode: str
    reorder_point: int
    safety_stock: int
    method: str = Field(description="none | mean | ses | holt_winters")
    daily_rate: Decimal
    sigma: Decimal
    lead_time_days: int
    cover_days: int
    lead_time_demand: Decimal
    computed_reorder_point: int
    computed_safety_stock: int
    computed_at: dt.datetime | None
    available: int
    on_order: int
    days_of_cover: float | None


class ParameterDetailOut(ParameterOut):
    explanation: list[str]
    steps: list[dict]


def _param_out(row: selectors.ParamRow, detail: bool = False) -> dict:
    p: ReorderParameter = row.param
    out = {
        "id": p.pk,
        "sku": p.variant.sku,
        "variant_id": p.variant_id,
        "warehouse": p.warehouse.code if p.warehouse else None,
        "mode": p.mode,
        "reorder_point": p.reorder_point,
        "safety_stock": p.safety_stock,
        "method": p.method,
        "daily_rate": p.daily_rate,
        "sigma": p.sigma,
        "lead_time_days": p.lead_time_days,
        "cover_days": p.cover_days,
        "lead_time_demand": p.lead_time_demand,
        "computed_reorder_point": p.computed_reorder_point,
        "computed_safety_stock": p.computed_safety_stock,
        "computed_at": p.computed_at,
        "available": row.available,
        "on_order": row.on_order,
        "days_of_cover": row.days_of_cover,
    }
    if detail:
        out["explanation"] = steps_text(p.explanation)
        out["steps"] = p.explanation
    return out


class ParameterIn(In):
    mode: Literal["auto", "manual"]
    reorder_point: int | None = Field(None, ge=0, le=1_000_000)
    safety_stock: int | None = Field(None, ge=0, le=1_000_000)


class ParameterQuery(In):
    q: text(100) = ""
    method: Literal["", "none", "mean", "ses", "holt_winters"] = ""
    at_risk: bool = False
    limit: int = Field(200, ge=1, le=1000)


class SuggestionOut(Schema):
    param_id: int
    sku: str
    name: str
    warehouse: str | None
    supplier_id: int | None
    supplier: str | None
    available: int
    on_order: int
    reorder_point: int
    daily_rate: Decimal
    quantity: int
    unit_cost: Decimal | None
    in_draft_pos: list[str]
    explanation: list[str]


class ReorderQuery(In):
    supplier_id: Id | None = None
    q: text(100) = ""


class FromSuggestionsIn(In):
    param_ids: list[Id] = Field(min_length=1, max_length=1000)
    quantities: dict[str, int] = Field(
        default_factory=dict, description="param_id -> quantity overriding the suggestion"
    )


class JobOut(Schema):
    job_id: int


class LineOut(Schema):
    id: int
    variant_id: int
    sku: str
    ean: str
    supplier_sku: str
    name: str
    quantity: int
    unit_cost: Decimal
    vat_rate: str
    received_qty: int
    net: Decimal
    vat: Decimal
    gross: Decimal


class DiscrepancyOut(Schema):
    kind: str
    sku: str | None
    code: str
    quantity: int
    note: str

    @staticmethod
    def resolve_sku(obj) -> str | None:
        return obj.po_line.sku if obj.po_line_id else None


class ReceiptOut(Schema):
    id: int
    number: str
    at: dt.datetime
    note: str
    closed_po: bool
    lines: list[dict]
    discrepancies: list[DiscrepancyOut]

    @staticmethod
    def resolve_lines(obj) -> list[dict]:
        return [{"sku": rl.po_line.sku, "quantity": rl.quantity} for rl in obj.lines.all()]

    @staticmethod
    def resolve_discrepancies(obj):
        return list(obj.discrepancies.all())


class POOut(Schema):
    id: int
    number: str
    supplier_id: int
    supplier: str
    warehouse: str
    status: POStatus
    currency: str
    language: str
    expected_date: dt.date | None
    notes: str
    created_at: dt.datetime
    sent_at: dt.datetime | None
    received_at: dt.datetime | None
    overdue: bool
    email_state: str | None = Field(
        description="State of the last e-mail to the supplier: pending, sent, failed"
    )
    version: int

    @staticmethod
    def resolve_supplier(obj: PurchaseOrder) -> str:
        return obj.supplier.name

    @staticmethod
    def resolve_warehouse(obj: PurchaseOrder) -> str:
        return obj.warehouse.code

    @staticmethod
    def resolve_overdue(obj: PurchaseOrder) -> bool:
        from zaplecze.core.businesstime import local_today

        return bool(obj.is_open and obj.expected_date and obj.expected_date < local_today())

    @staticmethod
    def resolve_email_state(obj: PurchaseOrder) -> str | None:
        return obj.email.state if obj.email_id else None


class PODetailOut(POOut):
    lines: list[LineOut]
    total_net: Decimal
    total_vat: Decimal
    total_gross: Decimal
    receipts: list[ReceiptOut]

    @staticmethod
    def resolve_lines(obj):
        return obj.lines_out

    @staticmethod
    def resolve_total_net(obj) -> Decimal:
        return obj.totals.net

    @staticmethod
    def resolve_total_vat(obj) -> Decimal:
        return obj.totals.vat

    @staticmethod
    def resolve_total_gross(obj) -> Decimal:
        return obj.totals.gross

    @staticmethod
    def resolve_receipts(obj):
        return obj.receipts_out


class LineIn(In):
    sku: text(64, 1) = Field(description="Our SKU or EAN")
    quantity: int = Field(ge=1, le=1_000_000)
    unit_cost: Decimal | None = Field(
        None,
        ge=0,
        le=100_000_000,
        max_digits=14,
        decimal_places=2,
        description="Net; default: the supplier's price",
    )


class POIn(In):
    supplier_id: Id
    warehouse_id: Id | None = None
    expected_date: dt.date | None = Field(
        None, description="Default: today + the supplier's lead time (working days)"
    )
    notes: text(2000) = ""
    lines: list[LineIn] = Field(min_length=1, max_length=500)


class POPatch(In):
    version: int | None = Field(None, description="The version you read; 409 if someone changed it meanwhile")
    warehouse_id: Id | None = None
    expected_date: dt.date | None = None
    notes: text(2000) | None = None
    lines: list[LineIn] | None = Field(None, min_length=1, max_length=500)


class POQuery(In):
    status: Literal["", "open", "draft", "sent", "partially_received", "received", "cancelled"] = ""
    supplier_id: Id | None = None
    q: text(100) = ""
    overdue: bool = False
    limit: int = Field(100, ge=1, le=500)
    offset: int = Field(0, ge=0, le=1_000_000)


class SendIn(In):
    email: bool = Field(
        True,
        description="E-mail the PDF to the supplier (sent after commit, retried); false: only mark as sent",
    )
    to: text(254) = Field("", description="Default: the supplier's e-mail")
    message: text(5000) = ""


class CancelIn(In):
    reason: text(300) = ""


class ReceiveLineIn(In):
    line_id: Id | None = Field(None, description="PO line id, or give `code`")
    code: text(64) = Field("", description="EAN, SKU or supplier SKU of a line on the PO")
    quantity: int = Field(0, ge=0, le=1_000_000, description="Good units into stock")
    damaged: int = Field(0, ge=0, le=1_000_000, description="Arrived damaged: recorded, not put into stock")
    note: text(300) = ""


class WrongItemIn(In):
    code: text(64, 1)
    quantity: int = Field(1, ge=1, le=1_000_000)
    note: text(300) = ""


class ReceiveIn(In):
    lines: list[ReceiveLineIn] = Field(default_factory=list, max_length=1000)
    scans: list[text(64, 1)] = Field(
        default_factory=list, max_length=10_000, description="Scanned codes: one unit each"
    )
    wrong_items: list[WrongItemIn] = Field(default_factory=list, max_length=100)
    accept_over: bool = Field(
        False, description="Accept more than outstanding as an over-delivery (needs over_note)"
    )
    over_note: text(300) = ""
    close: bool = Field(
        False, description="No more deliveries: record what is missing as short and finish the PO"
    )
    note: text(500) = ""


class ReceiveOut(Schema):
    receipt: ReceiptOut
    purchase_order: PODetailOut

    @staticmethod
    def resolve_purchase_order(obj):
        return obj


def _supplier(supplier_id: int) -> Supplier:
    return selectors.access_supplier(supplier_id)


def _po_detail(po_id: int) -> PurchaseOrder:
    """The PO with its lines, totals and receipts attached for PODetailOut."""
    po = selectors.access_purchase_order(po_id)
    po.lines_out = selectors.po_lines(po)
    po.totals = selectors.po_totals(po.lines_out)
    po.receipts_out = list(po.receipts.prefetch_related("lines__po_line", "discrepancies__po_line"))
    return po


# --- suppliers ----------------------------------------------------------------------------------------


@router.get("/suppliers", response={200: list[SupplierOut], **errors(422)}, summary="List suppliers")
@allow("purchasing.view")
def list_suppliers(request, q: str = "", active: bool | None = None):
    return list(selectors.suppliers(q=q[:100], active=active)[:1000])


@router.post("/suppliers", response={201: SupplierOut, **errors(400, 422)}, summary="Create a supplier")
@allow("purchasing.manage")
def create_supplier(request, payload: SupplierIn):
    return Status(201, services.supplier_create(data=payload.model_dump(), actor=request.auth))


@router.get(
    "/suppliers/{int:supplier_id}", response={200: SupplierOut, **errors(404, 422)}, summary="One supplier"
)
@allow("purchasing.view")
def get_supplier(request, supplier_id: Path[Id]):
    return _supplier(supplier_id)


@router.patch(
    "/suppliers/{int:supplier_id}",
    response={200: SupplierOut, **errors(400, 404, 422)},
    summary="Change a supplier",
)
@allow("purchasing.manage")
def patch_supplier(request, supplier_id: Path[Id], payload: SupplierPatch):
    _supplier(supplier_id)
    data = payload.model_dump(exclude_none=True)
    return services.supplier_update(supplier_id=supplier_id, data=data, actor=request.auth)


@router.get(
    "/suppliers/{int:supplier_id}/items",
    response={200: list[SupplierItemOut], **errors(404, 422)},
    summary="A supplier's items",
)
@allow("purchasing.view")
def list_items(request, supplier_id: Path[Id]):
    _supplier(supplier_id)
    return list(selectors.supplier_items(supplier_id))


@router.post(
    "/suppliers/{int:supplier_id}/items",
    response={200: SupplierItemOut, **errors(400, 404, 422)},
    summary="Add or update a supplier item",
)
@allow("purchasing.manage")
def save_item(request, supplier_id: Path[Id], payload: SupplierItemIn):
    _supplier(supplier_id)
    item = services.supplier_item_save(supplier_id=supplier_id, actor=request.auth, **payload.model_dump())
    return selectors.access_supplier_item(item.pk)


@router.delete(
    "/supplier-items/{int:item_id}",
    response={204: None, **errors(404, 422)},
    summary="Remove a supplier item",
)
@allow("purchasing.manage")
def delete_item(request, item_id: Path[Id]):
    services.supplier_item_delete(item_id=item_id, actor=request.auth)
    return Status(204, None)


# --- reorder parameters, forecast, suggestions --------------------------------------------------------


@router.get("/parameters", response={200: list[ParameterOut], **errors(422)}, summary="Reorder parameters")
@allow("purchasing.view")
def list_parameters(request, filters: Query[ParameterQuery]):
    rows = selectors.parameters(
        q=filters.q, method=filters.method, at_risk=filters.at_risk, limit=filters.limit
    )
    return [_param_out(r) for r in rows]


@router.get(
    "/parameters/{int:param_id}",
    response={200: ParameterDetailOut, **errors(404, 422)},
    summary="One variant's reorder parameters, explained",
)
@allow("purchasing.view")
def get_parameter(request, param_id: Path[Id]):
    return _param_out(selectors.access_parameter(param_id), detail=True)


@router.post(
    "/parameters/{int:param_id}",
    response={200: ParameterDetailOut, **errors(400, 404, 422)},
    summary="Set manual numbers or go back to computed",
)
@allow("purchasing.manage")
def set_parameter(request, param_id: Path[Id], payload: ParameterIn):
    p = selectors.access_parameter(param_id).param
    services.reorder_parameter_set(
        variant_id=p.variant_id,
        warehouse_id=p.warehouse_id,
        mode=payload.mode,
        reorder_point=payload.reorder_point,
        safety_stock=payload.safety_stock,
        actor=request.auth,
    )
    return _param_out(selectors.access_parameter(param_id), detail=True)


class ForecastIn(In):
    skus: list[text(64)] | None = Field(
        None, max_length=10000, description="Only these variants (default: every variant)"
    )


@router.post(
    "/forecast", response={202: JobOut, **errors()}, summary="Recompute every forecast and reorder point now"
)
@allow("purchasing.manage")
def recompute(request, payload: ForecastIn):
    """A background job (see /jobs/{job_id}); its result counts the variants per forecasting method."""
    from zaplecze.catalog.models import Variant
    from zaplecze.core.services import job_create

    from .tasks import reorder_compute_job

    params = {}
    if payload.skus:
        found = dict(Variant.objects.filter(sku__in=payload.skus).values_list("sku", "pk"))
        unknown = [sku for sku in payload.skus if sku not in found]
        if unknown:
            raise DomainError(f"Unknown SKU: {', '.join(unknown[:10])}", field="skus", code="unknown_sku")
        params = {"variant_ids": sorted(set(found.values()))}
    job = job_create(
        kind="purchasing.forecast", title="Recompute reorder points", owner=request.auth, params=params
    )
    transaction.on_commit(lambda: reorder_compute_job(job.pk))
    return Status(202, {"job_id": job.pk})


def _suggestion_out(r: selectors.SuggestionRow) -> dict:
    return {
        "param_id": r.param.pk,
        "sku": r.variant.sku,
        "name": r.variant.name,
        "warehouse": r.param.warehouse.code if r.param.warehouse else None,
        "supplier_id": r.item.supplier_id if r.item else None,
        "supplier": r.item.supplier.name if r.item else None,
        "available": r.available,
        "on_order": r.on_order,
        "reorder_point": r.param.reorder_point,
        "daily_rate": r.param.daily_rate,
        "quantity": r.quantity,
        "unit_cost": r.item.unit_cost if r.item else None,
        "in_draft_pos": [n for _pk, n in r.drafts],
        "explanation": steps_text(r.steps),
    }


@router.get(
    "/reorder", response={200: list[SuggestionOut], **errors(422)}, summary="What to reorder, per supplier"
)
@allow("purchasing.view")
def reorder(request, filters: Query[ReorderQuery]):
    rows = selectors.reorder_suggestions(supplier_id=filters.supplier_id, q=filters.q)
    return [_suggestion_out(r) for r in rows]


@router.post(
    "/reorder/purchase-orders",
    response={201: list[POOut], **errors(400, 422)},
    summary="Draft POs from suggestions",
)
@allow("purchasing.manage")
def from_suggestions(request, payload: FromSuggestionsIn):
    quantities = {}
    for key, qty in payload.quantities.items():
        if not key.isdigit() or qty < 1:
            raise DomainError(
                "quantities: keys are parameter ids, values whole numbers above 0", field="quantities"
            )
        quantities[int(key)] = qty
    pos = services.po_create_from_suggestions(
        param_ids=payload.param_ids, quantities=quantities, actor=request.auth
    )
    return Status(201, [selectors.access_purchase_order(po.pk) for po in pos])


# --- purchase orders ----------------------------------------------------------------------------------


@router.get("/purchase-orders", response={200: list[POOut], **errors(422)}, summary="List purchase orders")
@allow("purchasing.view")
def list_pos(request, filters: Query[POQuery]):
    f = selectors.POFilter(
        q=filters.q, status=filters.status, supplier=filters.supplier_id, overdue=filters.overdue
    )
    qs = selectors.purchase_orders(f).select_related("email")
    return list(qs[filters.offset : filters.offset + filters.limit])


@router.get(
    "/purchase-orders/overdue", response={200: list[POOut], **errors()}, summary="Overdue purchase orders"
)
@allow("purchasing.view")
def overdue(request):
    return list(selectors.overdue_purchase_orders().select_related("email")[:1000])


@router.post(
    "/purchase-orders",
    response={201: PODetailOut, **errors(400, 422)},
    summary="Create a draft purchase order",
)
@allow("purchasing.manage")
def create_po(request, payload: POIn):
    po = services.po_create(
        supplier_id=payload.supplier_id,
        warehouse_id=payload.warehouse_id,
        expected_date=payload.expected_date,
        notes=payload.notes,
        lines=[ln.model_dump() for ln in payload.lines],
        actor=request.auth,
    )
    return Status(201, _po_detail(po.pk))


@router.get(
    "/purchase-orders/{int:po_id}",
    response={200: PODetailOut, **errors(404, 422)},
    summary="One purchase order",
)
@allow("purchasing.view")
def get_po(request, po_id: Path[Id]):
    return _po_detail(po_id)


@router.patch(
    "/purchase-orders/{int:po_id}",
    response={200: PODetailOut, **errors(400, 404, 409, 422)},
    summary="Edit a draft",
)
@allow("purchasing.manage")
def patch_po(request, po_id: Path[Id], payload: POPatch):
    selectors.access_purchase_order(po_id)
    services.po_update(
        po_id=po_id,
        version=payload.version,
        warehouse_id=payload.warehouse_id,
        expected_date=payload.expected_date,
        notes=payload.notes,
        lines=[ln.model_dump() for ln in payload.lines] if payload.lines is not None else None,
        actor=request.auth,
    )
    return _po_detail(po_id)


@router.post(
    "/purchase-orders/{int:po_id}/send",
    response={200: PODetailOut, **errors(400, 404, 409, 422)},
    summary="Send to the supplier",
)
@allow("purchasing.manage")
def send_po(request, po_id: Path[Id], payload: SendIn):
    """Draft -> sent. With `email` (default) the PDF is e-mailed to the supplier after commit through the outbox,
    retried with back-off when the mail server fails; `email_state` shows how it went. A sent PO can be e-mailed again."""
    selectors.access_purchase_order(po_id)
    services.po_send(
        po_id=po_id, actor=request.auth, email=payload.email, to=payload.to, message=payload.message
    )
    return _po_detail(po_id)


@router.post(
    "/purchase-orders/{int:po_id}/cancel",
    response={200: PODetailOut, **errors(400, 404, 409, 422)},
    summary="Cancel",
)
@allow("purchasing.manage")
def cancel_po(request, po_id: Path[Id], payload: CancelIn):
    selectors.access_purchase_order(po_id)
    services.po_cancel(po_id=po_id, actor=request.auth, reason=payload.reason)
    return _po_detail(po_id)


@router.post(
    "/purchase-orders/{int:po_id}/receive",
    response={201: ReceiveOut, **errors(400, 404, 409, 422)},
    summary="Receive a delivery",
)
@allow("purchasing.receive")
def receive_po(request, po_id: Path[Id], payload: ReceiveIn):
    """Good units go into stock (a `receipt` movement referencing the PO number). Receiving more than outstanding
    is refused (400, code `over_receipt`) unless `accept_over` with an `over_note`; an unknown EAN/SKU is 400 with
    code `unknown_code` (or `not_on_po` when the product exists but is not on this PO)."""
    selectors.access_purchase_order(po_id)
    receipt = services.po_receive(
        po_id=po_id,
        lines=[services.ReceiveLine(**ln.model_dump()) for ln in payload.lines],
        scans=payload.scans,
        wrong_items=[services.WrongItem(**w.model_dump()) for w in payload.wrong_items],
        accept_over=payload.accept_over,
        over_note=payload.over_note,
        close=payload.close,
        note=payload.note,
        actor=request.auth,
    )
    po = _po_detail(po_id)
    po.receipt = next(r for r in po.receipts_out if r.pk == receipt.pk)
    return Status(201, po)


@router.get("/purchase-orders/{int:po_id}/pdf", response={200: None, **errors(404, 422)}, summary="The PDF")
@allow("purchasing.view")
def po_pdf(request, po_id: Path[Id]):
    po = selectors.access_purchase_order(po_id)
    response = HttpResponse(documents.po_pdf(po), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{documents.pdf_filename(po)}"'
    return response


@router.get(
    "/purchase-orders/{int:po_id}/csv", response={200: None, **errors(404, 422)}, summary="The lines as CSV"
)
@allow("purchasing.view")
def po_csv(request, po_id: Path[Id]):
    po = selectors.access_purchase_order(po_id)
    response = HttpResponse(documents.po_csv(po), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{documents.csv_filename(po)}"'
    return response
