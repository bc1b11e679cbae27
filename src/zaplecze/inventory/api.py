"""Stock API: levels per variant per warehouse, and adjustments through the stock ledger (mounted at /api/v1/stock)."""

import datetime as dt
from typing import Literal

from django.utils.translation import gettext as _
from ninja import Query, Router, Schema, Status
from pydantic import Field, model_validator

from zaplecze.api.permissions import allow
from zaplecze.api.schemas import In, errors, text
from zaplecze.catalog.selectors import variants_by_codes
from zaplecze.core.errors import Conflict, DomainError

from . import selectors, services
from .models import StockMovement

router = Router()


class StockLevelOut(Schema):
    sku: str
    name: str
    variant_id: int
    warehouse: str = Field(description="Warehouse code")
    on_hand: int
    reserved: int
    available: int

    @staticmethod
    def resolve_sku(obj) -> str:
        return obj.variant.sku

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
    qs = selectors.stock_levels(sku=query.sku, q=query.q, warehouse=query.warehouse, low_only=query.low)
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
