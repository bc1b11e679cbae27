"""Catalog API (mounted at /api/v1/products): variants (what order lines refer to), products in full and
their changes, variants, offers per channel, images, manufacturers and categories."""

import datetime as dt
from decimal import Decimal
from typing import Any, Literal

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _
from ninja import File, Form, Query, Router, Schema, Status, UploadedFile
from pydantic import Field

from zaplecze.api.permissions import allow
from zaplecze.api.schemas import Id, In, errors, text
from zaplecze.core.errors import Conflict, DomainError, NotFound

from . import images, selectors, services
from .models import Category, Manufacturer, Product, ProductImage, Variant, VatRate

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


# --- product detail and changes -------------------------------------------------------------------------


class OfferOut(Schema):
    id: int
    channel: str
    price: Decimal | None = Field(description="Channel price; null = the variant's price")
    active: bool
    external_id: str
    url: str
    updated_at: dt.datetime


class VariantDetailOut(Schema):
    id: int
    sku: str
    ean: str
    name: str
    price: Decimal = Field(description="Gross price")
    currency: str
    vat_rate: str
    cost_price: Decimal | None = Field(description="Net cost price")
    weight_kg: Decimal | None
    length_cm: Decimal | None
    width_cm: Decimal | None
    height_cm: Decimal | None
    mpn: str
    active: bool
    attributes: dict[str, str]
    offers: list[OfferOut]

    @staticmethod
    def resolve_offers(obj) -> list:
        return list(obj.offers.all())


class ImageOut(Schema):
    id: int
    variant_id: int | None
    url: str = Field(description="Where the image is: the source URL, or this API's file URL for uploads")
    uploaded: bool
    width: int | None
    height: int | None
    size_bytes: int | None
    content_type: str
    alt: str
    position: int
    error: str = Field(description="Why the image could not be read; empty when fine")
    checked_at: dt.datetime | None

    @staticmethod
    def resolve_url(obj) -> str:
        if obj.source_url:
            return obj.source_url
        from django.urls import reverse

        return reverse("catalog:image_file", args=[obj.pk])

    @staticmethod
    def resolve_uploaded(obj) -> bool:
        return bool(obj.file)


class FindingOut(Schema):
    rule: str
    severity: str
    variant_id: int | None
    details: dict[str, Any]


class ManufacturerOut(Schema):
    id: int
    name: str
    street: str
    postcode: str
    city: str
    country: str
    email: str
    website: str
    eu_rp_name: str
    eu_rp_address: str
    eu_rp_email: str
    gpsr_missing: list[str] = Field(description="GPSR data still missing (empty = complete)")

    @staticmethod
    def resolve_gpsr_missing(obj) -> list[str]:
        return [str(g) for g in services.manufacturer_gpsr_gaps(obj)]


class CategoryOut(Schema):
    id: int
    name: str
    slug: str
    parent_id: int | None


class ProductDetailOut(Schema):
    id: int
    name: str
    status: str
    brand: str
    category: CategoryOut | None
    manufacturer: ManufacturerOut | None
    description_html: str = Field(description="Sanitised HTML")
    safety_info: str
    perishable: bool
    quality_score: int | None
    audited_at: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime
    variants: list[VariantDetailOut]
    images: list[ImageOut]
    findings: list[FindingOut]
    removed_html: list[str] = Field(
        [], description="After a PATCH: what was removed from the description as unsafe"
    )

    @staticmethod
    def resolve_variants(obj) -> list:
        return list(obj.variants.all())

    @staticmethod
    def resolve_images(obj) -> list:
        return list(obj.images.all())

    @staticmethod
    def resolve_findings(obj) -> list:
        return list(obj.audit_findings.all())

    @staticmethod
    def resolve_removed_html(obj) -> list[str]:
        return getattr(obj, "removed_html", [])


def _detail(product_id: int) -> Product:
    try:
        return selectors.product_detail(product_id)
    except NotFound:
        raise NotFound(_("Product not found"))


Money = Field(None, ge=0, max_digits=12, decimal_places=2)


class ProductPatchIn(In):
    name: text(300, 1) | None = None
    status: Literal[tuple(Product.Status.values)] | None = None  # type: ignore[valid-type]
    brand: text(120) | None = None
    category_id: Id | None = Field(None, description="A category id; null for none")
    manufacturer_id: Id | None = Field(None, description="A manufacturer id; null for none")
    description_html: str | None = Field(None, max_length=100_000, description="Sanitised when stored")
    safety_info: str | None = Field(None, max_length=5000)
    perishable: bool | None = None


@router.get(
    "/{int:product_id}", response={200: ProductDetailOut, **errors(404, 422)}, summary="A product in full"
)
@allow("catalog.view")
def get_product(request, product_id: Id):
    """Variants with their offers per channel, images with pixel sizes, audit findings, manufacturer."""
    return _detail(product_id)


@router.patch(
    "/{int:product_id}",
    response={200: ProductDetailOut, **errors(400, 404, 422)},
    summary="Change a product's fields",
)
@allow("catalog.edit")
def patch_product(request, product_id: Id, payload: ProductPatchIn):
    """Only the fields sent are changed. The description is sanitised (scripts, event handlers,
    javascript: links and frames removed); `removed_html` says what was removed."""
    data = payload.model_dump(exclude_unset=True)
    if "category_id" in data:
        data["category"] = data.pop("category_id") or None
    if "manufacturer_id" in data:
        data["manufacturer"] = data.pop("manufacturer_id") or None
    for key in ("name", "status", "brand", "description_html", "safety_info", "perishable"):
        if key in data and data[key] is None:
            raise DomainError(_("This field cannot be null."), field=key)
    result = services.product_update(product_id=product_id, data=data, actor=request.auth)
    product = _detail(product_id)
    product.removed_html = result.removed_html
    return product


Attributes = dict[text(60, 1), text(200)]


class VariantCreateIn(In):
    sku: text(64, 1)
    ean: text(14) = Field("", description="EAN-8/EAN-13/GTIN-14; the check digit is verified")
    name: text(300) = Field("", description="Defaults to the product name")
    price: Decimal = Field(ge=0, max_digits=12, decimal_places=2, description="Gross price")
    vat_rate: Literal[tuple(VatRate.values)] = VatRate.R23  # type: ignore[valid-type]
    cost_price: Decimal | None = Money
    weight_kg: Decimal | None = Field(None, ge=0, max_digits=9, decimal_places=3)
    length_cm: Decimal | None = Field(None, ge=0, max_digits=7, decimal_places=1)
    width_cm: Decimal | None = Field(None, ge=0, max_digits=7, decimal_places=1)
    height_cm: Decimal | None = Field(None, ge=0, max_digits=7, decimal_places=1)
    mpn: text(70) = ""
    active: bool = True
    attributes: Attributes = Field(default_factory=dict, max_length=30, description='{"size": "M"}')


class VariantPatchIn(In):
    sku: text(64, 1) | None = None
    ean: text(14) | None = None
    name: text(300) | None = None
    price: Decimal | None = Field(
        None, ge=0, max_digits=12, decimal_places=2, description="Recorded in the price history"
    )
    vat_rate: Literal[tuple(VatRate.values)] | None = None  # type: ignore[valid-type]
    cost_price: Decimal | None = Money
    weight_kg: Decimal | None = Field(None, ge=0, max_digits=9, decimal_places=3)
    length_cm: Decimal | None = Field(None, ge=0, max_digits=7, decimal_places=1)
    width_cm: Decimal | None = Field(None, ge=0, max_digits=7, decimal_places=1)
    height_cm: Decimal | None = Field(None, ge=0, max_digits=7, decimal_places=1)
    mpn: text(70) | None = None
    active: bool | None = None
    attributes: Attributes | None = Field(None, max_length=30)


def _variant(variant_id: int) -> Variant:
    variant = Variant.objects.prefetch_related("offers").filter(pk=variant_id).first()
    if variant is None:
        raise NotFound(_("Variant not found"))
    return variant


@router.post(
    "/{int:product_id}/variants",
    response={201: VariantDetailOut, **errors(400, 404, 409, 422)},
    summary="Add a variant to a product",
)
@allow("catalog.edit")
def add_variant(request, product_id: Id, payload: VariantCreateIn):
    variant = services.variant_create(
        product_id=product_id, data=payload.model_dump(), actor=request.auth, source="api"
    )
    return Status(201, _variant(variant.pk))


@router.patch(
    "/variants/{int:variant_id}",
    response={200: VariantDetailOut, **errors(400, 404, 409, 422)},
    summary="Change a variant",
)
@allow("catalog.edit")
def patch_variant(request, variant_id: Id, payload: VariantPatchIn):
    """Only the fields sent are changed; a new price goes into the price history."""
    data = payload.model_dump(exclude_unset=True)
    for key in ("sku", "price", "vat_rate", "active"):
        if key in data and data[key] is None:
            raise DomainError(_("This field cannot be null."), field=key)
    for key in ("ean", "name", "mpn"):
        if key in data and data[key] is None:
            data[key] = ""
    if "attributes" in data and data["attributes"] is None:
        data["attributes"] = {}
    services.variant_update(variant_id=variant_id, data=data, actor=request.auth, source="api")
    return _variant(variant_id)


class OfferIn(In):
    price: Decimal | None = Field(
        None, ge=0, max_digits=12, decimal_places=2, description="Channel price; null = the variant's price"
    )
    active: bool = True
    external_id: text(100) = ""
    url: text(1000) = Field("", description="The listing's http(s) URL")


@router.put(
    "/variants/{int:variant_id}/offers/{channel}",
    response={200: OfferOut, **errors(400, 404, 422)},
    summary="Create or replace a variant's offer on a channel",
)
@allow("catalog.edit")
def put_offer(request, variant_id: Id, channel: text(40, 1), payload: OfferIn):
    """A channel price is recorded in the price history of that channel; `active: false` deactivates."""
    return services.offer_save(
        variant_id=variant_id, channel=channel, data=payload.model_dump(), actor=request.auth, source="api"
    )


# --- images ---------------------------------------------------------------------------------------------


class ImageFormIn(In):
    alt: text(300) = ""
    variant_id: Id | None = None


class ImageUrlIn(In):
    url: text(1000, 1) = Field(
        description="http(s) URL of the image; its pixel size is read in the background"
    )
    alt: text(300) = ""
    variant_id: Id | None = None


@router.post(
    "/{int:product_id}/images",
    response={201: ImageOut, **errors(400, 404, 413, 422)},
    summary="Upload an image (multipart)",
)
@allow("catalog.edit")
def upload_image(request, product_id: Id, file: File[UploadedFile], form: Form[ImageFormIn]):
    """Multipart field `file` (JPEG, PNG, GIF or WebP, at most 10 MB and 50 megapixels), optional `alt`.
    What is not an image, is damaged or too large is refused with 400 and nothing is stored."""
    if file.size and file.size > images.MAX_BYTES:
        raise DomainError(
            _("The file is larger than %(max)s.") % {"max": "10 MB"}, field="file", code="too_large"
        )
    image = images.image_upload(
        product_id=product_id,
        file=file,
        filename=file.name or "",
        alt=form.alt,
        variant_id=form.variant_id,
        actor=request.auth,
    )
    return Status(201, image)


@router.post(
    "/{int:product_id}/images/url",
    response={201: ImageOut, **errors(400, 404, 422)},
    summary="Add an image by URL",
)
@allow("catalog.edit")
def add_image_url(request, product_id: Id, payload: ImageUrlIn):
    image = images.image_add_url(
        product_id=product_id,
        url=payload.url,
        alt=payload.alt,
        variant_id=payload.variant_id,
        actor=request.auth,
    )
    return Status(201, image)


@router.delete("/images/{int:image_id}", response={204: None, **errors(404, 422)}, summary="Remove an image")
@allow("catalog.edit")
def delete_image(request, image_id: Id):
    if not ProductImage.objects.filter(pk=image_id).exists():
        raise NotFound(_("Image not found"))
    images.image_delete(image_id=image_id, actor=request.auth)
    return Status(204, None)


# --- manufacturers and categories -----------------------------------------------------------------------


class ManufacturerIn(In):
    name: text(200, 1)
    street: text(200) = ""
    postcode: text(20) = ""
    city: text(100) = ""
    country: text(2) = Field("PL", description="ISO 3166-1 alpha-2")
    email: text(254) = ""
    website: text(200) = ""
    eu_rp_name: text(200) = Field("", description="EU responsible person (needed outside the EU/EEA)")
    eu_rp_address: text(1000) = ""
    eu_rp_email: text(254) = ""


class ManufacturerSavedOut(ManufacturerOut):
    warnings: list[str] = Field(description="GPSR data missing; saved anyway")


@router.get("/manufacturers", response={200: list[ManufacturerOut], **errors(422)}, summary="Manufacturers")
@allow("catalog.view")
def list_manufacturers(request, q: text(100) = ""):
    return list(selectors.manufacturers(q)[:1000])


@router.post(
    "/manufacturers",
    response={201: ManufacturerSavedOut, **errors(400, 422)},
    summary="Create a manufacturer (GPSR data)",
)
@allow("catalog.edit")
def create_manufacturer(request, payload: ManufacturerIn):
    """A malformed e-mail or country code is refused; missing GPSR data is saved and listed in `warnings`."""
    saved = services.manufacturer_save(data=payload.model_dump(), actor=request.auth)
    m: Manufacturer = saved.manufacturer
    m.warnings = [str(w) for w in saved.warnings]
    return Status(201, m)


class CategoryIn(In):
    name: text(200, 1)
    parent_id: Id | None = None


@router.get("/categories", response={200: list[CategoryOut], **errors(422)}, summary="Categories (the tree)")
@allow("catalog.view")
def list_categories(request):
    """Every category with its parent id, in tree order."""
    return selectors.category_tree()


@router.post("/categories", response={201: CategoryOut, **errors(400, 404, 422)}, summary="Create a category")
@allow("catalog.edit")
def create_category(request, payload: CategoryIn):
    if payload.parent_id and not Category.objects.filter(pk=payload.parent_id).exists():
        raise NotFound(_("Category not found"))
    return Status(
        201, services.category_create(name=payload.name, parent_id=payload.parent_id, actor=request.auth)
    )
