"""Writes of the catalog (the part orders need now: products and variants with valid EANs)."""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction
from django.utils.text import slugify
from stdnum import ean as stdnum_ean

from zaplecze.core.errors import DomainError
from zaplecze.core.services import audit_record

from .models import Category, Product, Variant, VatRate


def validate_ean(value: str, field: str = "ean") -> str:
    value = (value or "").strip()
    if not value:
        return ""
    try:
        return stdnum_ean.validate(value)
    except Exception:  # stdnum raises several ValidationError subclasses
        raise DomainError(f"{value!r} is not a valid EAN/GTIN (wrong length or check digit)", field=field)


def category_get_or_create(*, name: str, parent: Category | None = None) -> Category:
    slug = slugify(f"{parent.slug}-{name}" if parent else name)[:200] or "category"
    cat, _ = Category.objects.get_or_create(slug=slug, defaults={"name": name, "parent": parent})
    return cat


def product_create(
    *, name: str, variants: list[dict], category: Category | None = None, brand: str = "", actor=None
) -> Product:
    """Create a product with its variants: each {sku, name?, ean?, price, vat_rate?, weight_kg?, cost_price?}."""
    if not variants:
        raise DomainError("A product needs at least one variant", field="variants")
    with transaction.atomic():
        product = Product.objects.create(name=name, category=category, brand=brand)
        for i, v in enumerate(variants):
            sku = (v.get("sku") or "").strip()
            if not sku:
                raise DomainError("SKU is required", field=f"variants[{i}].sku")
            if Variant.objects.filter(sku=sku).exists():
                raise DomainError(f"SKU {sku!r} already exists", field=f"variants[{i}].sku", code="exists")
            rate = str(v.get("vat_rate", VatRate.R23))
            if rate not in VatRate.values:
                raise DomainError(
                    f"VAT rate {rate!r} is not one of {', '.join(VatRate.values)}",
                    field=f"variants[{i}].vat_rate",
                )
            variant = Variant.objects.create(
                product=product,
                sku=sku,
                ean=validate_ean(v.get("ean", ""), field=f"variants[{i}].ean"),
                name=v.get("name") or name,
                price=Decimal(str(v["price"])),
                vat_rate=rate,
                weight_kg=v.get("weight_kg"),
                cost_price=v.get("cost_price"),
            )
            audit_record(
                obj_type="catalog.variant",
                obj_id=variant.pk,
                action="created",
                actor=actor,
                changes={"sku": [None, sku], "price": [None, str(variant.price)]},
            )
    return product
