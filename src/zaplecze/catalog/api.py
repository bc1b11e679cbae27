"""Catalog API: product variants (what order lines refer to) and product creation (mounted at /api/v1/products)."""

from decimal import Decimal
from typing import Literal

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema, Status
from pydantic import Field

from zaplecze.api.permissions import allow
from zaplecze.api.schemas import In, errors, text
from zaplecze.core.errors import Conflict

from . import selectors, services
from .models import VatRate

router = Router()


class VariantOut(Schema):
    id: int
    product_id: int
    product_name: str
    sku: str
    ean: str
    name: str
    price: Decimal = Field(description="Gross price")
    currency: str
    vat_rate: str
    weight_kg: Decimal | None
    active: bool
    category: str | None
    brand: str

    @staticmethod
    def resolve_product_name(obj) -> str:
        return obj.product.name

    @staticmethod
    def resolve_category(obj) -> str | None:
        return obj.product.category.name if obj.product.category_id else None

    @staticmethod
    def resolve_brand(obj) -> str:
        return obj.product.brand


class VariantPageOut(Schema):
    items: list[VariantOut]
    next_cursor: str | None = Field(description="Pass as ?after= for the next page; null on the last page")


class ProductOut(Schema):
    id: int
    name: str
    brand: str
    category: str | None
    variants: list[VariantOut]

    @staticmethod
    def resolve_category(obj) -> str | None:
        return obj.category.name if obj.category_id else None

    @staticmethod
    def resolve_variants(obj) -> list:
        return list(obj.variants.select_related("product", "product__category").order_by("sku"))


class ProductQuery(In):
    q: text(100) = Field("", description="SKU prefix, exact EAN or part of the name")
    after: text(64) = Field("", description="The next_cursor of the previous page")
    limit: int = Field(50, ge=1, le=500)


class VariantIn(In):
    sku: text(64, 1)
    ean: text(14) = Field("", description="EAN-8/EAN-13/GTIN-14; the check digit is verified")
    name: text(300) = Field("", description="Defaults to the product name")
    price: Decimal = Field(ge=0, max_digits=12, decimal_places=2, description="Gross price")
    vat_rate: Literal[tuple(VatRate.values)] = VatRate.R23  # type: ignore[valid-type]
    weight_kg: Decimal | None = Field(None, ge=0, max_digits=9, decimal_places=3)


class ProductIn(In):
    name: text(300, 1)
    brand: text(120) = ""
    category: text(150) = Field("", description="Category name (created when new)")
    variants: list[VariantIn] = Field(min_length=1, max_length=100)


@router.get("", response={200: VariantPageOut, **errors(422)}, summary="List product variants")
@allow("catalog.view")
def list_products(request, query: Query[ProductQuery]):
    """Variants ordered by SKU with keyset pagination: follow `next_cursor` (as `?after=`) until it is null."""
    items = selectors.variant_page(q=query.q, after=query.after, limit=query.limit + 1)
    next_cursor = None
    if len(items) > query.limit:
        items = items[: query.limit]
        next_cursor = items[-1].sku
    return {"items": items, "next_cursor": next_cursor}


@router.post(
    "", response={201: ProductOut, **errors(400, 409, 422)}, summary="Create a product with its variants"
)
@allow("catalog.edit")
def create_product(request, payload: ProductIn):
    """A SKU that exists already, or an EAN with a wrong check digit, is refused naming the variant."""
    variants = [v.model_dump() for v in payload.variants]
    try:
        with transaction.atomic():  # a refused product leaves no new category behind
            category = services.category_get_or_create(name=payload.category) if payload.category else None
            product = services.product_create(
                name=payload.name,
                brand=payload.brand,
                category=category,
                variants=variants,
                actor=request.auth,
            )
    except IntegrityError:  # the same SKU created concurrently
        raise Conflict(_("A variant with one of these SKUs was created at the same time"), code="exists")
    return Status(201, product)
