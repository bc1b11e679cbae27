"""Stock API: levels per variant per warehouse, and adjustments through the stock ledger (mounted at /api/v1/stock)."""

import datetime as dt
from typing import Literal

from django.utils.translation import gettext as _
from ninja import File, Query, Router, Schema, Status, UploadedFile
from pydantic import Field, model_validator

from zaplecze.api.permissions import allow
from zaplecze.api.schemas import Id, In, errors, text
from zaplecze.catalog.selectors import variants_by_codes
from zaplecze.core.errors import Conflict, DomainError, NotFound

from . import selectors, services, sheets
from .models import StockMovement

router = Router()


class StockLevelOut(Schema):
    sku: str
    name: str
    variant_id: int
    warehouse: str = Field(description="Warehouse code")
    location: str | None = Field(None, description="Bin code the variant is picked from, if assigned")
    on_hand: int
    reserved: int
    available: int

    @staticmethod
    def resolve_sku(obj) -> str:
        return obj.variant.sku

    @staticmethod
    def resolve_location(obj) -> str | None:
        return obj.location.code if obj.location_id else None

    @staticmethod
    def resolve_name(obj) -> str:
        return obj.variant.name

    @staticmethod
    def resolve_warehouse(obj) -> str:
        return obj.warehouse.code


class StockPageOut(Schema):
    items: list[StockLevelOut]
    total: int
    next_offset: int | None = Field(description="Pass as ?offset= for the next page; null on the last page")


class StockQuery(In):
    sku: text(64) = Field("", description="Exact SKU")
    q: text(64) = Field("", description="SKU prefix or exact EAN")
    warehouse: text(20) = Field("", description="Warehouse code")
    low: bool = Field(False, description="Only levels with nothing available")
    bin: text(40) = Field("", description='Bin code, or "-" for levels without a bin')
    limit: int = Field(100, ge=1, le=500)
    offset: int = Field(0, ge=0, le=1_000_000)


class AdjustmentIn(In):
    sku: text(64, 1)
    warehouse: text(20) = Field("", description="Warehouse code; the default warehouse when empty")
    quantity: int = Field(ge=-1_000_000, le=1_000_000, description="Signed change of on-hand stock, not zero")
    kind: Literal["adjustment", "receipt", "return"] = "adjustment"
    reason: text(200, 1) = Field(description="Why: stocktake, damage, delivery number...")

    @model_validator(mode="after")
    def _sign(self):
        if self.quantity == 0:
            raise ValueError(_("quantity must not be zero"))
        if self.kind != "adjustment" and self.quantity < 0:
            raise ValueError(_("a %(kind)s adds stock: quantity must be positive") % {"kind": self.kind})
        return self


class MovementOut(Schema):
    id: int
    at: dt.datetime
    sku: str
    warehouse: str
    kind: str
    quantity: int
    on_hand_after: int | None
    reason: str

    @staticmethod
    def resolve_sku(obj) -> str:
        return obj.variant.sku

    @staticmethod
    def resolve_warehouse(obj) -> str:
        return obj.warehouse.code


@router.get("", response={200: StockPageOut, **errors(422)}, summary="Stock levels per variant per warehouse")
@allow("stock.view")
def list_stock(request, query: Query[StockQuery]):
    qs = selectors.stock_levels(
        sku=query.sku, q=query.q, warehouse=query.warehouse, low_only=query.low, location=query.bin
    )
    total = qs.count()
    items = list(qs[query.offset : query.offset + query.limit])
    next_offset = query.offset + query.limit if query.offset + query.limit < total else None
    return {"items": items, "total": total, "next_offset": next_offset}


@router.post(
    "/adjustments",
    response={201: MovementOut, **errors(400, 409, 422)},
    summary="Adjust stock (written to the ledger)",
)
@allow("stock.adjust")
def adjust_stock(request, payload: AdjustmentIn):
    """Stock never goes negative, nor below what is reserved for orders: such a change is refused with 409."""
    variant = variants_by_codes({payload.sku}).get(payload.sku)
    if variant is None or variant.sku != payload.sku:
        raise DomainError(
            _("No product variant with SKU %(sku)s") % {"sku": payload.sku}, field="sku", code="unknown_sku"
        )
    if payload.warehouse:
        warehouse = selectors.warehouse_by_code(payload.warehouse)
        if warehouse is None:
            raise DomainError(
                _("No warehouse with code %(code)s") % {"code": payload.warehouse},
                field="warehouse",
                code="unknown_warehouse",
            )
    else:
        warehouse = services.warehouse_default()
    try:
        movement = services.stock_adjust(
            variant=variant,
            warehouse=warehouse,
            delta=payload.quantity,
            kind=StockMovement.Kind(payload.kind),
            reason=payload.reason,
            reference="api",
            actor=request.auth,
        )
    except DomainError as exc:
        if exc.code == "insufficient_stock":
            raise Conflict(exc.message, code=exc.code, field="quantity")
        raise
    return Status(201, movement)


# --- warehouses and bins ----------------------------------------------------------------------------------


def _warehouse(code: str):
    wh = selectors.warehouse_by_code(code.upper()) if code else services.warehouse_default()
    if wh is None:
        raise NotFound(_("No warehouse with code %(code)s") % {"code": code}, field="warehouse")
    return wh


def _variant(code: str, field: str = "sku"):
    variant = variants_by_codes({code}).get(code)
    if variant is None:
        raise DomainError(
            _("No product variant with SKU or EAN %(code)s") % {"code": code}, field=field, code="unknown_sku"
        )
    return variant


class WarehouseOut(Schema):
    id: int
    code: str
    name: str
    priority: int
    is_default: bool


class WarehouseIn(In):
    code: text(20, 1)
    name: text(120, 1)
    priority: int = Field(100, ge=0, le=32000)
    is_default: bool = False


@router.get("/warehouses", response={200: list[WarehouseOut], **errors()}, summary="Warehouses")
@allow("stock.view")
def list_warehouses(request):
    return selectors.warehouses()


@router.post("/warehouses", response={201: WarehouseOut, **errors(400, 422)}, summary="Create a warehouse")
@allow("stock.adjust")
def create_warehouse(request, payload: WarehouseIn):
    wh = services.warehouse_create(
        code=payload.code,
        name=payload.name,
        priority=payload.priority,
        is_default=payload.is_default,
        actor=request.auth,
    )
    return Status(201, wh)


class LocationOut(Schema):
    id: int
    warehouse: str
    code: str
    name: str
    sort_order: int
    active: bool

    @staticmethod
    def resolve_warehouse(obj) -> str:
        return obj.warehouse.code


class LocationQuery(In):
    warehouse: text(20) = Field("", description="Warehouse code; the default warehouse when empty")
    q: text(40) = Field("", description="Code prefix or name")
    active: bool | None = None


class LocationIn(In):
    warehouse: text(20) = Field("", description="Warehouse code; the default warehouse when empty")
    code: text(40, 1)
    name: text(120) = ""
    sort_order: int = Field(0, ge=0, le=1_000_000)


class LocationPatch(In):
    code: text(40, 1) | None = None
    name: text(120) | None = None
    sort_order: int | None = Field(None, ge=0, le=1_000_000)
    active: bool | None = None


class AssignIn(In):
    sku: text(64, 1) = Field(description="SKU or EAN")
    warehouse: text(20) = Field("", description="Warehouse code; the default warehouse when empty")
    location: text(40) | None = Field(description="Bin code; null or empty clears the bin")


@router.get(
    "/locations", response={200: list[LocationOut], **errors(404, 422)}, summary="Bins of a warehouse"
)
@allow("stock.view")
def list_locations(request, query: Query[LocationQuery]):
    wh = _warehouse(query.warehouse)
    return list(selectors.locations(warehouse=wh, q=query.q, active=query.active).select_related("warehouse"))


@router.post("/locations", response={201: LocationOut, **errors(400, 404, 422)}, summary="Create a bin")
@allow("stock.adjust")
def create_location(request, payload: LocationIn):
    loc = services.location_create(
        warehouse=_warehouse(payload.warehouse),
        code=payload.code,
        name=payload.name,
        sort_order=payload.sort_order,
        actor=request.auth,
    )
    return Status(201, loc)


@router.patch(
    "/locations/{int:location_id}",
    response={200: LocationOut, **errors(400, 404, 422)},
    summary="Change a bin",
)
@allow("stock.adjust")
def update_location(request, location_id: Id, payload: LocationPatch):
    """Rename, reorder, or switch a bin off (`active: false`) or on."""
    loc = selectors.access_location(location_id)
    if loc is None:
        raise NotFound(_("No such bin"))
    return services.location_update(
        location_id=loc.pk,
        code=payload.code if payload.code is not None else loc.code,
        name=payload.name if payload.name is not None else loc.name,
        sort_order=payload.sort_order if payload.sort_order is not None else loc.sort_order,
        active=payload.active if payload.active is not None else loc.active,
        actor=request.auth,
    )


@router.post(
    "/locations/assign",
    response={200: StockLevelOut, **errors(400, 404, 422)},
    summary="Assign a bin to a product",
)
@allow("stock.adjust")
def assign_location(request, payload: AssignIn):
    wh = _warehouse(payload.warehouse)
    variant = _variant(payload.sku)
    location = None
    if payload.location:
        location = selectors.location_by_code(wh, payload.location)
        if location is None:
            raise NotFound(
                _("No bin %(bin)s in warehouse %(warehouse)s")
                % {"bin": payload.location, "warehouse": wh.code},
                field="location",
            )
    level = services.stock_level_set_location(
        variant=variant, warehouse=wh, location=location, actor=request.auth
    )
    return selectors.access_stock_level(level.pk)


# --- the ledger -----------------------------------------------------------------------------------------


class LedgerQuery(In):
    kind: list[StockMovement.Kind] = Field(default_factory=list, description="Movement types (repeat to OR)")
    reason: text(100) = Field("", description="Reason contains (case-insensitive)")
    reference: text(100) = Field("", description="Reference begins with")
    user: text(150) = Field("", description="Login of the user, or `system` for movements without one")
    warehouse: text(20) = Field("", description="Warehouse code")
    sku: text(64) = Field("", description="SKU or EAN (exact)")
    date_from: dt.date | None = Field(None, description="From this day (Europe/Warsaw)")
    date_to: dt.date | None = Field(None, description="Until this day, inclusive")
    cursor: text(80) = Field("", description="next_cursor of the previous page")
    limit: int = Field(100, ge=1, le=1000)


class LedgerMovementOut(MovementOut):
    reference: str
    user: str | None

    @staticmethod
    def resolve_user(obj) -> str | None:
        return obj.actor.username if obj.actor_id else None


class LedgerPageOut(Schema):
    items: list[LedgerMovementOut]
    next_cursor: str | None = Field(
        description="Pass as ?cursor= for the next (older) page; null on the last"
    )


@router.get("/movements", response={200: LedgerPageOut, **errors(422)}, summary="The stock ledger, filtered")
@allow("stock.view")
def list_movements(request, query: Query[LedgerQuery]):
    """Newest first, keyset-paginated. The same filters as the ledger screen and its CSV export."""
    f = selectors.MovementFilter(
        kind=[str(k) for k in query.kind],
        reason=query.reason,
        reference=query.reference,
        user=query.user,
        warehouse=query.warehouse,
        sku=query.sku,
        date_from=query.date_from,
        date_to=query.date_to,
    )
    page = selectors.movement_page(f, cursor=query.cursor or None, limit=query.limit)
    return {"items": page.items, "next_cursor": page.next_cursor}


# --- stocktakes -----------------------------------------------------------------------------------------


class StocktakeLineOut(Schema):
    sku: str
    name: str
    location: str | None
    snapshot: int = Field(description="On hand when counting started")
    expected: int = Field(description="On hand when the count was recorded")
    counted: int | None
    difference: int | None
    posted_delta: int | None

    @staticmethod
    def resolve_sku(obj) -> str:
        return obj.variant.sku

    @staticmethod
    def resolve_name(obj) -> str:
        return obj.variant.name

    @staticmethod
    def resolve_location(obj) -> str | None:
        return obj.location.code if obj.location_id else None


class StocktakeOut(Schema):
    id: int
    number: str
    warehouse: str
    location: str | None
    category_id: int | None
    status: str
    note: str
    created_at: dt.datetime
    started_at: dt.datetime | None
    posted_at: dt.datetime | None
    lines: int = 0
    counted: int = 0
    differences: int = 0
    value_difference: str = Field("0", description="Net value of the differences at cost price (PLN)")


class StocktakeDetailOut(StocktakeOut):
    items: list[StocktakeLineOut] = Field(description="The lines (at most 5,000)")


class StocktakeIn(In):
    warehouse: text(20) = Field("", description="Warehouse code; the default warehouse when empty")
    location: text(40) = Field("", description="Count only this bin (code)")
    category_id: Id | None = Field(None, description="Count only this category (and its subcategories)")
    note: text(300) = ""
    start: bool = Field(True, description="Start counting at once (takes the expected quantities now)")


class StocktakeStatusIn(In):
    to: Literal["counting", "review", "cancelled"]


class CountIn(In):
    code: text(64, 1) = Field(description="SKU or EAN")
    quantity: int = Field(ge=-1_000_000, le=1_000_000)
    location: text(40) = Field("", description="Bin code where it was counted")


class CountsIn(In):
    mode: Literal["set", "add"] = Field("set", description="set replaces a line's count; add adds to it")
    counts: list[CountIn] = Field(min_length=1, max_length=10_000)


class PostIn(In):
    uncounted_as_zero: bool = Field(False, description="Set products that were not counted to 0")


class ImportReportOut(Schema):
    ok: bool
    applied: bool
    rows: int
    changed: int
    unchanged: int
    skipped: int
    reference: str
    errors: list[dict]
    changes: list[dict]


def _stocktake_out(st, *, lines: bool = False) -> dict:
    s = selectors.stocktake_summary(st)
    out = {
        "id": st.pk,
        "number": st.number,
        "warehouse": st.warehouse.code,
        "location": st.location.code if st.location_id else None,
        "category_id": st.category_id,
        "status": st.status,
        "note": st.note,
        "created_at": st.created_at,
        "started_at": st.started_at,
        "posted_at": st.posted_at,
        "lines": s.lines,
        "counted": s.counted,
        "differences": s.differences,
        "value_difference": str(s.value_net),
    }
    if lines:
        out["items"] = list(selectors.stocktake_lines(st)[:5000])
    return out


def _stocktake(stocktake_id: int):
    st = selectors.access_stocktake(stocktake_id)
    if st is None:
        raise NotFound(_("No such stocktake"))
    return st


@router.get("/stocktakes", response={200: list[StocktakeOut], **errors(422)}, summary="Stocktakes")
@allow("stock.view")
def list_stocktakes(request, status: str = "", warehouse: str = ""):
    return [
        _stocktake_out(st)
        for st in selectors.stocktakes(status=status[:10], warehouse=warehouse[:20], limit=100)
    ]


@router.post(
    "/stocktakes",
    response={201: StocktakeDetailOut, **errors(400, 404, 409, 422)},
    summary="Create a stocktake",
)
@allow("stock.count")
def create_stocktake(request, payload: StocktakeIn):
    wh = _warehouse(payload.warehouse)
    location = None
    if payload.location:
        location = selectors.location_by_code(wh, payload.location)
        if location is None:
            raise NotFound(
                _("No bin %(bin)s in warehouse %(warehouse)s")
                % {"bin": payload.location, "warehouse": wh.code},
                field="location",
            )
    category = None
    if payload.category_id:
        from zaplecze.catalog.models import Category

        category = Category.objects.filter(pk=payload.category_id).first()
        if category is None:
            raise NotFound(_("No such category"), field="category_id")
    st = services.stocktake_create(
        warehouse=wh, location=location, category=category, note=payload.note, actor=request.auth
    )
    if payload.start:
        services.stocktake_transition(stocktake_id=st.pk, to="counting", actor=request.auth)
    return Status(201, _stocktake_out(_stocktake(st.pk), lines=True))


@router.get(
    "/stocktakes/{int:stocktake_id}",
    response={200: StocktakeDetailOut, **errors(404)},
    summary="A stocktake with its lines",
)
@allow("stock.view")
def get_stocktake(request, stocktake_id: Id):
    return _stocktake_out(_stocktake(stocktake_id), lines=True)


@router.post(
    "/stocktakes/{int:stocktake_id}/status",
    response={200: StocktakeOut, **errors(400, 404, 409, 422)},
    summary="Start counting, send to review, reopen or cancel",
)
@allow("stock.count")
def stocktake_status(request, stocktake_id: Id, payload: StocktakeStatusIn):
    st = _stocktake(stocktake_id)
    services.stocktake_transition(stocktake_id=st.pk, to=payload.to, actor=request.auth)
    return _stocktake_out(_stocktake(st.pk))


@router.post(
    "/stocktakes/{int:stocktake_id}/counts",
    response={200: list[StocktakeLineOut], **errors(400, 404, 409, 422)},
    summary="Record counts (all or none)",
)
@allow("stock.count")
def stocktake_counts(request, stocktake_id: Id, payload: CountsIn):
    st = _stocktake(stocktake_id)
    lines = services.stocktake_count_many(
        stocktake_id=st.pk, counts=[c.dict() for c in payload.counts], mode=payload.mode, actor=request.auth
    )
    return lines


@router.post(
    "/stocktakes/{int:stocktake_id}/import",
    response={200: ImportReportOut, 422: ImportReportOut, **errors(400, 404, 413)},
    summary="Import a count sheet (CSV or XLSX)",
)
@allow("stock.count")
def stocktake_import(request, stocktake_id: Id, file: File[UploadedFile]):
    """Multipart upload, field `file`. Columns: sku or ean, quantity, optional location. With any row error
    nothing is recorded and the answer is 422 listing every error with its row and column."""
    st = _stocktake(stocktake_id)
    if file.size and file.size > sheets.MAX_FILE_BYTES:
        raise DomainError(_("The file is larger than 20 MB."), field="file", code="too_large")
    report = services.stocktake_import_file(
        stocktake_id=st.pk, data=file.read(), filename=file.name or "", actor=request.auth
    )
    return Status(200 if report.ok else 422, report.as_dict())


@router.post(
    "/stocktakes/{int:stocktake_id}/post",
    response={200: StocktakeOut, **errors(400, 404, 409, 422)},
    summary="Post the differences to the ledger",
)
@allow("stock.adjust")
def stocktake_post(request, stocktake_id: Id, payload: PostIn):
    """Each difference (counted - expected) becomes an adjustment with reason "stocktake <number>". A stocktake in
    review only; refused with 409 (nothing posted) when a line would take stock below what is reserved."""
    st = _stocktake(stocktake_id)
    try:
        services.stocktake_post(
            stocktake_id=st.pk, actor=request.auth, uncounted_as_zero=payload.uncounted_as_zero
        )
    except DomainError as exc:
        if exc.code == "insufficient_stock":
            raise Conflict(exc.message, code=exc.code)
        raise
    return _stocktake_out(_stocktake(st.pk))


# --- transfers ------------------------------------------------------------------------------------------


class TransferLineIn(In):
    sku: text(64, 1) = Field(description="SKU or EAN")
    quantity: int = Field(ge=1, le=1_000_000)


class TransferIn(In):
    source: text(20, 1) = Field(description="Warehouse code to take the goods from")
    destination: text(20, 1) = Field(description="Warehouse code to move them to")
    lines: list[TransferLineIn] = Field(min_length=1, max_length=5000)
    note: text(300) = ""
    action: Literal["draft", "send", "now"] = Field(
        "now", description="draft: only save; send: take out of the source (in transit); now: move at once"
    )


class TransferStatusIn(In):
    to: Literal["sent", "received", "cancelled"]
    reason: text(150) = ""


class TransferLineOut(Schema):
    sku: str
    quantity: int

    @staticmethod
    def resolve_sku(obj) -> str:
        return obj.variant.sku


class TransferOut(Schema):
    id: int
    number: str
    source: str
    destination: str
    status: str
    note: str
    created_at: dt.datetime
    sent_at: dt.datetime | None
    received_at: dt.datetime | None
    lines: list[TransferLineOut]

    @staticmethod
    def resolve_source(obj) -> str:
        return obj.source.code

    @staticmethod
    def resolve_destination(obj) -> str:
        return obj.destination.code

    @staticmethod
    def resolve_lines(obj) -> list:
        return list(obj.lines.select_related("variant").order_by("id"))


def _transfer(transfer_id: int):
    t = selectors.access_transfer(transfer_id)
    if t is None:
        raise NotFound(_("No such transfer"))
    return t


def _conflict(exc: DomainError):
    if exc.code == "insufficient_stock":
        raise Conflict(exc.message, code=exc.code, field=exc.field)
    raise exc


@router.get(
    "/transfers", response={200: list[TransferOut], **errors(422)}, summary="Transfers between warehouses"
)
@allow("stock.view")
def list_transfers(request, status: str = "", warehouse: str = ""):
    return list(selectors.transfers(status=status[:10], warehouse=warehouse[:20], limit=100))


@router.post(
    "/transfers", response={201: TransferOut, **errors(400, 404, 409, 422)}, summary="Create a transfer"
)
@allow("stock.adjust")
def create_transfer(request, payload: TransferIn):
    """With `action: now` (the default) the goods move at once: a transfer_out and a transfer_in movement per line,
    both with the transfer's number as reference. More than is available (on hand - reserved) is a 409 and nothing
    moves."""
    source, destination = _warehouse(payload.source), _warehouse(payload.destination)
    lines = [(_variant(ln.sku, field=f"lines[{i}].sku"), ln.quantity) for i, ln in enumerate(payload.lines)]
    try:
        t = services.transfer_create(
            source=source,
            destination=destination,
            lines=lines,
            note=payload.note,
            actor=request.auth,
            send=payload.action in ("send", "now"),
            receive=payload.action == "now",
        )
    except DomainError as exc:
        _conflict(exc)
    return Status(201, _transfer(t.pk))


@router.get("/transfers/{int:transfer_id}", response={200: TransferOut, **errors(404)}, summary="A transfer")
@allow("stock.view")
def get_transfer(request, transfer_id: Id):
    return _transfer(transfer_id)


@router.post(
    "/transfers/{int:transfer_id}/status",
    response={200: TransferOut, **errors(400, 404, 409, 422)},
    summary="Send, receive or cancel a transfer",
)
@allow("stock.adjust")
def transfer_status(request, transfer_id: Id, payload: TransferStatusIn):
    t = _transfer(transfer_id)
    try:
        if payload.to == "sent":
            services.transfer_send(transfer_id=t.pk, actor=request.auth)
        elif payload.to == "received":
            services.transfer_receive(transfer_id=t.pk, actor=request.auth)
        else:
            services.transfer_cancel(transfer_id=t.pk, actor=request.auth, reason=payload.reason)
    except DomainError as exc:
        _conflict(exc)
    return _transfer(t.pk)
