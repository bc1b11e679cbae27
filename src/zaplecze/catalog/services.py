"""Writes of the catalog: products, variants, offers per channel, manufacturers (GPSR) and the category tree.

Every write records an audit entry, keeps ``Product.updated_at`` current and asks for a re-audit of the
products it touched (``catalog.audit.audit_soon``). Prices are never written here: they go through
``catalog.prices.price_set`` so the price history (Omnibus) stays complete.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from html.parser import HTMLParser
from typing import Any

import nh3
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator, URLValidator
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _
from stdnum import ean as stdnum_ean

from zaplecze.core import extensions
from zaplecze.core.errors import DomainError, NotFound
from zaplecze.core.services import audit_record, diff

from .models import Category, Manufacturer, Offer, PriceChange, Product, Variant, VatRate

# --- small validators --------------------------------------------------------------------------------


def validate_ean(value: str, field: str = "ean") -> str:
    value = (value or "").strip()
    if not value:
        return ""
    try:
        return stdnum_ean.validate(value)
    except Exception:  # stdnum raises several ValidationError subclasses
        raise DomainError(f"{value!r} is not a valid EAN/GTIN (wrong length or check digit)", field=field)


def _text(value: Any, *, field: str, max_length: int, required: bool = False) -> str:
    value = "" if value is None else str(value).strip()
    if required and not value:
        raise DomainError(_("This field is required."), field=field, code="required")
    if len(value) > max_length:
        raise DomainError(
            _("At most %(n)s characters (got %(got)s).") % {"n": max_length, "got": len(value)}, field=field
        )
    if not _storable(value):
        raise DomainError(_("The text contains characters that cannot be stored."), field=field)
    return value


def _storable(value: str) -> bool:
    """No NUL and no lone surrogates (which neither the database nor the sanitiser can take)."""
    if "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _decimal(
    value: Any, *, field: str, places: int = 2, minimum: Decimal | None = Decimal(0), required: bool = False
) -> Decimal | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise DomainError(_("This field is required."), field=field, code="required")
        return None
    try:
        number = Decimal(str(value).replace(",", ".").strip())
    except (InvalidOperation, ValueError):
        raise DomainError(_("Not a number: %(value)s") % {"value": str(value)[:40]}, field=field)
    if not number.is_finite():
        raise DomainError(_("Not a number: %(value)s") % {"value": str(value)[:40]}, field=field)
    if minimum is not None and number < minimum:
        raise DomainError(_("Must be at least %(min)s.") % {"min": minimum}, field=field)
    if abs(number) >= Decimal(10) ** 12:
        raise DomainError(_("The number is too large."), field=field)
    return number.quantize(Decimal(1).scaleb(-places))


def _email(value: Any, *, field: str) -> str:
    value = _text(value, field=field, max_length=254)
    if value:
        try:
            EmailValidator()(value)
        except ValidationError:
            raise DomainError(_("%(value)s is not a valid e-mail address.") % {"value": value}, field=field)
    return value


def _url(value: Any, *, field: str, max_length: int = 1000) -> str:
    value = _text(value, field=field, max_length=max_length)
    if value:
        try:
            URLValidator(schemes=["http", "https"])(value)
        except ValidationError:
            raise DomainError(
                _("%(value)s is not a valid http(s) address.") % {"value": value[:100]}, field=field
            )
    return value


def _audit_soon(ids) -> None:
    from . import audit  # imported late: the audit module reads the catalog through services too

    audit.audit_soon(list(ids))


def _price_set(variant: Variant, **kwargs) -> PriceChange:
    from . import prices

    return prices.price_set(variant, **kwargs)


def _touch(product_ids) -> None:
    """Keep updated_at current and queue a re-audit of these products (after commit)."""
    ids = sorted({int(i) for i in product_ids if i})
    if not ids:
        return
    Product.objects.filter(pk__in=ids).update(updated_at=timezone.now())
    _audit_soon(ids)


# --- HTML descriptions --------------------------------------------------------------------------------

ALLOWED_TAGS = frozenset(
    {
        "p", "br", "hr", "b", "strong", "i", "em", "u", "s", "small", "sub", "sup", "mark", "span", "div",
        "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "dl", "dt", "dd", "blockquote", "pre", "code",
        "table", "thead", "tbody", "tfoot", "tr", "th", "td", "caption", "a", "img", "figure", "figcaption",
    }
)  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "width", "height", "title"},
    "th": {"colspan", "rowspan", "scope"},
    "td": {"colspan", "rowspan"},
    "ol": {"start"},
}
URL_SCHEMES = frozenset({"http", "https", "mailto", "tel"})
# Removed together with their content (a script's text is not description text).
DROPPED_WITH_CONTENT = frozenset({"script", "style", "iframe", "object", "embed", "noscript", "template"})
URL_ATTRIBUTES = {"href", "src"}


class _Inventory(HTMLParser):
    """Collects what the sanitiser will remove, to tell the person what happened."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.removed: list[str] = []

    def _note(self, what: str) -> None:
        if what not in self.removed:
            self.removed.append(what)

    def handle_starttag(self, tag, attrs):
        if tag not in ALLOWED_TAGS:
            self._note(f"<{tag}>")
            return
        allowed = ALLOWED_ATTRIBUTES.get(tag, set())
        for name, value in attrs:
            if name.startswith("on"):
                self._note(_("event handler %(name)s=") % {"name": name})
            elif name not in allowed:
                self._note(_("attribute %(name)s") % {"name": name})
            elif name in URL_ATTRIBUTES and value:
                scheme = re.match(r"\s*([a-zA-Z][a-zA-Z0-9+.-]*):", re.sub(r"[\x00-\x20]", "", value))
                if scheme and scheme.group(1).lower() not in URL_SCHEMES:
                    self._note(_("%(scheme)s: link") % {"scheme": scheme.group(1).lower()})

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)

    def handle_comment(self, data):
        self._note(_("HTML comment"))


@dataclass
class Sanitised:
    html: str
    removed: list[str] = field(default_factory=list)


def sanitize_html(html: str) -> Sanitised:
    """Clean a product description: scripts, event handlers, javascript: links, iframes, styles removed;
    formatting, lists, tables, images and links kept (links get rel="noopener noreferrer")."""
    html = (html or "").replace("\x00", "").encode("utf-8", "replace").decode("utf-8")
    if not html.strip():
        return Sanitised("")
    inventory = _Inventory()
    try:
        inventory.feed(html)
        inventory.close()
    except Exception:  # noqa: S110 - the inventory is advice only; nh3 does the cleaning
        pass
    clean = nh3.clean(
        html,
        tags=set(ALLOWED_TAGS),
        clean_content_tags=set(DROPPED_WITH_CONTENT),
        attributes={k: set(v) for k, v in ALLOWED_ATTRIBUTES.items()},
        url_schemes=set(URL_SCHEMES),
        link_rel="noopener noreferrer",
        strip_comments=True,
    ).strip()
    return Sanitised(clean, inventory.removed)


# --- products -----------------------------------------------------------------------------------------


def category_get_or_create(*, name: str, parent: Category | None = None) -> Category:
    slug = slugify(f"{parent.slug}-{name}" if parent else name)[:200] or "category"
    cat, _created = Category.objects.get_or_create(slug=slug, defaults={"name": name, "parent": parent})
    return cat


def _record_initial_price(variant: Variant, *, source: str, actor) -> None:
    _price_set(variant, price=variant.price, source=source, actor=actor)


def product_create(
    *,
    name: str,
    variants: list[dict],
    category: Category | None = None,
    brand: str = "",
    actor=None,
    status: str = Product.Status.ACTIVE,
    manufacturer: Manufacturer | None = None,
    description_html: str = "",
    source: str = "initial",
) -> Product:
    """Create a product with its variants: each {sku, name?, ean?, price, vat_rate?, weight_kg?, cost_price?,
    attributes?, mpn?}. Each variant's price starts its price history."""
    if not variants:
        raise DomainError("A product needs at least one variant", field="variants")
    if status not in Product.Status.values:
        raise DomainError(_("Unknown status %(s)s") % {"s": status}, field="status")
    name = _text(name, field="name", max_length=300, required=True)
    with transaction.atomic():
        product = Product.objects.create(
            name=name,
            category=category,
            brand=_text(brand, field="brand", max_length=120),
            status=status,
            manufacturer=manufacturer,
            description_html=sanitize_html(description_html).html,
        )
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
                price=_decimal(v.get("price"), field=f"variants[{i}].price", required=True),
                vat_rate=rate,
                weight_kg=v.get("weight_kg"),
                cost_price=v.get("cost_price"),
                attributes=validate_attributes(v.get("attributes") or {}, field=f"variants[{i}].attributes"),
                mpn=_text(v.get("mpn"), field=f"variants[{i}].mpn", max_length=70),
            )
            _record_initial_price(variant, source=source, actor=actor)
            audit_record(
                obj_type="catalog.variant",
                obj_id=variant.pk,
                action="created",
                actor=actor,
                changes={"sku": [None, sku], "price": [None, str(variant.price)]},
            )
        _audit_soon([product.pk])
    return product


PRODUCT_FIELDS = (
    "name",
    "category",
    "brand",
    "status",
    "description_html",
    "manufacturer",
    "safety_info",
    "perishable",
)


@dataclass
class ProductUpdate:
    product: Product
    changes: dict[str, list[Any]]
    removed_html: list[str] = field(default_factory=list)

    @property
    def html_cleaned(self) -> bool:
        return bool(self.removed_html)


def _category(value: Any, field: str = "category") -> Category | None:
    if value in (None, "", 0):
        return None
    if isinstance(value, Category):
        return value
    try:
        return Category.objects.get(pk=int(value))
    except (Category.DoesNotExist, TypeError, ValueError):
        raise DomainError(_("No such category: %(v)s") % {"v": value}, field=field)


def _manufacturer(value: Any, field: str = "manufacturer") -> Manufacturer | None:
    if value in (None, "", 0):
        return None
    if isinstance(value, Manufacturer):
        return value
    try:
        return Manufacturer.objects.get(pk=int(value))
    except (Manufacturer.DoesNotExist, TypeError, ValueError):
        raise DomainError(_("No such manufacturer: %(v)s") % {"v": value}, field=field)


def product_update(*, product_id: int, data: dict[str, Any], actor) -> ProductUpdate:
    """Change the given product fields (keys of `data` from PRODUCT_FIELDS; others are refused).

    `category` and `manufacturer` take an id (or None). The description is sanitised; what was removed is
    listed in the result's `removed_html`.
    """
    unknown = set(data) - set(PRODUCT_FIELDS)
    if unknown:
        raise DomainError(_("Unknown field %(f)s") % {"f": sorted(unknown)[0]}, field=sorted(unknown)[0])
    removed: list[str] = []
    with transaction.atomic():
        product = Product.objects.select_for_update().filter(pk=product_id).first()
        if product is None:
            raise NotFound(_("Product not found"))
        before = {
            f: getattr(product, f if f not in ("category", "manufacturer") else f + "_id") for f in data
        }
        for key, value in data.items():
            if key == "name":
                product.name = _text(value, field="name", max_length=300, required=True)
            elif key == "brand":
                product.brand = _text(value, field="brand", max_length=120)
            elif key == "status":
                if value not in Product.Status.values:
                    raise DomainError(_("Unknown status %(s)s") % {"s": value}, field="status")
                product.status = value
            elif key == "description_html":
                result = sanitize_html(_text(value, field="description_html", max_length=100_000))
                product.description_html = result.html
                removed = result.removed
            elif key == "safety_info":
                product.safety_info = _text(value, field="safety_info", max_length=5000)
            elif key == "perishable":
                product.perishable = bool(value)
            elif key == "category":
                product.category = _category(value)
            elif key == "manufacturer":
                product.manufacturer = _manufacturer(value)
        after = {f: getattr(product, f if f not in ("category", "manufacturer") else f + "_id") for f in data}
        changes = diff(before, after)
        if changes:
            product.updated_at = timezone.now()
            product.save(update_fields=[*data.keys(), "updated_at"])
            if "description_html" in changes:  # the text itself is too long for the log
                changes["description_html"] = [len(before["description_html"]), len(product.description_html)]
            audit_record(
                obj_type="catalog.product",
                obj_id=product.pk,
                action="updated",
                actor=actor,
                changes=changes,
                reason=(_("removed from the description: %(what)s") % {"what": ", ".join(removed)})
                if removed
                else "",
            )
            _audit_soon([product.pk])
    return ProductUpdate(product=product, changes=changes, removed_html=removed)


def products_bulk_update(
    *, product_ids: list[int], actor, status: str | None = None, category: Any = None, set_category=False
) -> int:
    """Set the status and/or the category of many products at once; returns how many changed."""
    if status is None and not set_category:
        raise DomainError(_("Choose what to change."), field="action")
    if status is not None and status not in Product.Status.values:
        raise DomainError(_("Unknown status %(s)s") % {"s": status}, field="status")
    ids = sorted({int(i) for i in product_ids})
    if not ids:
        raise DomainError(_("Select at least one product."), field="ids")
    if len(ids) > 10_000:
        raise DomainError(_("At most 10,000 products at once."), field="ids")
    cat = _category(category) if set_category else None
    values: dict[str, Any] = {}
    if status is not None:
        values["status"] = status
    if set_category:
        values["category"] = cat
    with transaction.atomic():
        rows = list(
            Product.objects.select_for_update().filter(pk__in=ids).values("pk", "status", "category_id")
        )
        changed = []
        for row in rows:
            before = {"status": row["status"], "category": row["category_id"]}
            after = {
                "status": values.get("status", row["status"]),
                "category": cat.pk
                if set_category and cat
                else (None if set_category else row["category_id"]),
            }
            delta = diff(before, after)
            if delta:
                changed.append(row["pk"])
                audit_record(
                    obj_type="catalog.product",
                    obj_id=row["pk"],
                    action="bulk_updated",
                    actor=actor,
                    changes=delta,
                )
        if changed:
            Product.objects.filter(pk__in=changed).update(**values, updated_at=timezone.now())
            _audit_soon(changed)
    return len(changed)


# --- variants -----------------------------------------------------------------------------------------

MAX_ATTRIBUTES = 30
MAX_ATTRIBUTE_NAME = 60
MAX_ATTRIBUTE_VALUE = 200


def validate_attributes(value: Any, *, field: str = "attributes") -> dict[str, str]:
    """Attributes are {name: value}, both strings (size, colour, ...); at most 30, names up to 60 characters,
    values up to 200."""
    if value in (None, ""):
        return {}
    if not isinstance(value, dict):
        raise DomainError(_("Attributes must be a mapping of names to values."), field=field)
    if len(value) > MAX_ATTRIBUTES:
        raise DomainError(_("At most %(n)s attributes.") % {"n": MAX_ATTRIBUTES}, field=field)
    out: dict[str, str] = {}
    for name, val in value.items():
        if not isinstance(name, str) or not isinstance(val, str):
            raise DomainError(
                _("Attribute %(name)s: names and values must be text.") % {"name": str(name)[:60]},
                field=field,
            )
        name, val = name.strip(), val.strip()
        if not name:
            raise DomainError(_("An attribute has no name."), field=field)
        if len(name) > MAX_ATTRIBUTE_NAME:
            raise DomainError(
                _("Attribute name %(name)s is longer than %(n)s characters.")
                % {"name": name[:30], "n": MAX_ATTRIBUTE_NAME},
                field=field,
            )
        if len(val) > MAX_ATTRIBUTE_VALUE:
            raise DomainError(
                _("Attribute %(name)s: the value is longer than %(n)s characters.")
                % {"name": name, "n": MAX_ATTRIBUTE_VALUE},
                field=field,
            )
        if not _storable(name + val):
            raise DomainError(_("The text contains characters that cannot be stored."), field=field)
        if name.casefold() in {k.casefold() for k in out}:
            raise DomainError(_("Attribute %(name)s appears twice.") % {"name": name}, field=field)
        out[name] = val
    return out


VARIANT_FIELDS = (
    "sku",
    "ean",
    "name",
    "price",
    "vat_rate",
    "cost_price",
    "weight_kg",
    "active",
    "attributes",
    "mpn",
    "length_cm",
    "width_cm",
    "height_cm",
)


def _variant_values(data: dict[str, Any], *, variant: Variant | None) -> dict[str, Any]:
    """Validated model values for the keys given (price included, applied separately through price_set)."""
    unknown = set(data) - set(VARIANT_FIELDS)
    if unknown:
        raise DomainError(_("Unknown field %(f)s") % {"f": sorted(unknown)[0]}, field=sorted(unknown)[0])
    out: dict[str, Any] = {}
    for key, value in data.items():
        if key == "sku":
            sku = _text(value, field="sku", max_length=64, required=True)
            if re.search(r"\s", sku):
                raise DomainError(_("A SKU cannot contain spaces."), field="sku")
            taken = Variant.objects.filter(sku=sku)
            if variant is not None:
                taken = taken.exclude(pk=variant.pk)
            if taken.exists():
                raise DomainError(_("SKU %(sku)s already exists.") % {"sku": sku}, field="sku", code="exists")
            out["sku"] = sku
        elif key == "ean":
            out["ean"] = validate_ean(_text(value, field="ean", max_length=14), field="ean")
        elif key == "name":
            out["name"] = _text(value, field="name", max_length=300)
        elif key == "price":
            out["price"] = _decimal(value, field="price", required=True)
        elif key == "vat_rate":
            if str(value) not in VatRate.values:
                raise DomainError(
                    _("VAT rate %(r)s is not one of %(all)s")
                    % {"r": value, "all": ", ".join(VatRate.values)},
                    field="vat_rate",
                )
            out["vat_rate"] = str(value)
        elif key == "cost_price":
            out["cost_price"] = _decimal(value, field="cost_price")
        elif key == "weight_kg":
            out["weight_kg"] = _decimal(value, field="weight_kg", places=3)
        elif key in ("length_cm", "width_cm", "height_cm"):
            out[key] = _decimal(value, field=key, places=1)
        elif key == "active":
            out["active"] = bool(value)
        elif key == "attributes":
            out["attributes"] = validate_attributes(value)
        elif key == "mpn":
            out["mpn"] = _text(value, field="mpn", max_length=70)
    return out


def variant_create(*, product_id: int, data: dict[str, Any], actor, source: str = "manual") -> Variant:
    if "sku" not in data or "price" not in data:
        raise DomainError(_("SKU and price are required."), field="sku" if "sku" not in data else "price")
    product = Product.objects.filter(pk=product_id).first()
    if product is None:
        raise NotFound(_("Product not found"))
    values = _variant_values(data, variant=None)
    values.setdefault("name", "")
    values["name"] = values["name"] or product.name
    try:
        with transaction.atomic():
            variant = Variant.objects.create(product=product, **values)
            _record_initial_price(variant, source=source, actor=actor)
            audit_record(
                obj_type="catalog.variant",
                obj_id=variant.pk,
                action="created",
                actor=actor,
                changes=diff({}, {k: v for k, v in values.items() if v not in (None, "", {})}),
            )
            _touch([product.pk])
    except IntegrityError:  # the same SKU created concurrently
        raise DomainError(
            _("SKU %(sku)s already exists.") % {"sku": values["sku"]}, field="sku", code="exists"
        )
    return variant


def variant_update(*, variant_id: int, data: dict[str, Any], actor, source: str = "manual") -> Variant:
    """Change a variant's fields; a new price is recorded in the price history (price_set)."""
    try:
        with transaction.atomic():
            variant = Variant.objects.select_for_update().filter(pk=variant_id).first()
            if variant is None:
                raise NotFound(_("Variant not found"))
            values = _variant_values(data, variant=variant)
            new_price = values.pop("price", None)
            before = {k: getattr(variant, k) for k in values}
            for key, value in values.items():
                setattr(variant, key, value)
            changes = diff(before, values)
            if changes:
                variant.save(update_fields=list(values))
            if new_price is not None and new_price != variant.price:
                changes["price"] = [str(variant.price), str(new_price)]
                _price_set(variant, price=new_price, source=source, actor=actor)
            if changes:
                audit_record(
                    obj_type="catalog.variant",
                    obj_id=variant.pk,
                    action="updated",
                    actor=actor,
                    changes=changes,
                )
                _touch([variant.product_id])
    except IntegrityError:
        raise DomainError(
            _("SKU %(sku)s already exists.") % {"sku": data.get("sku")}, field="sku", code="exists"
        )
    return variant


def variant_remove(*, variant_id: int, actor) -> str:
    """Delete a variant nothing refers to (no orders, stock, price changes beyond its first price), or
    archive it (inactive) when something does. The last variant of a product is archived, never deleted.
    Returns "deleted" or "archived"."""
    with transaction.atomic():
        variant = Variant.objects.select_for_update().filter(pk=variant_id).first()
        if variant is None:
            raise NotFound(_("Variant not found"))
        product_id = variant.product_id
        siblings = Variant.objects.filter(product_id=product_id).exclude(pk=variant.pk).exists()
        history = PriceChange.objects.filter(variant=variant).count()
        outcome = "archived"
        if siblings and history <= 1:
            try:
                with transaction.atomic():
                    sku = variant.sku
                    variant.delete()
                outcome = "deleted"
            except (ProtectedError, IntegrityError):
                outcome = "archived"
        if outcome == "archived":
            if variant.active:
                Variant.objects.filter(pk=variant.pk).update(active=False)
            audit_record(
                obj_type="catalog.variant",
                obj_id=variant_id,
                action="archived",
                actor=actor,
                changes={"active": [variant.active, False]},
            )
        else:
            audit_record(
                obj_type="catalog.variant",
                obj_id=variant_id,
                action="deleted",
                actor=actor,
                changes={"sku": [sku, None]},
            )
        _touch([product_id])
    return outcome


# --- offers per channel -------------------------------------------------------------------------------

CHANNEL_POINT = "catalog.channels"


def channel_choices() -> list[tuple[str, str]]:
    """Sales channels as (code, name), from providers registered at "catalog.channels" (orders registers
    one); empty when nothing is registered."""
    seen: dict[str, str] = {}
    for provider in extensions.registered(CHANNEL_POINT).values():
        for code, name in provider():
            seen.setdefault(code, name)
    return list(seen.items())


def _channel_code(value: Any) -> str:
    code = _text(value, field="channel", max_length=40, required=True)
    known = channel_choices()
    if known:
        if code not in dict(known):
            raise DomainError(_("Unknown channel %(c)s") % {"c": code}, field="channel")
    elif not re.fullmatch(r"[-a-zA-Z0-9_]+", code):
        raise DomainError(_("A channel code is letters, digits, - and _."), field="channel")
    return code


OFFER_FIELDS = ("price", "active", "external_id", "url")


def offer_save(
    *, variant_id: int, channel: str, data: dict[str, Any], actor, source: str = "manual"
) -> Offer:
    """Create or update the offer of a variant on a channel. `price` None (or empty) means "the variant's
    price"; a channel price is recorded in the price history through price_set(channel=code)."""
    unknown = set(data) - set(OFFER_FIELDS)
    if unknown:
        raise DomainError(_("Unknown field %(f)s") % {"f": sorted(unknown)[0]}, field=sorted(unknown)[0])
    code = _channel_code(channel)
    values: dict[str, Any] = {}
    if "active" in data:
        values["active"] = bool(data["active"])
    if "external_id" in data:
        values["external_id"] = _text(data["external_id"], field="external_id", max_length=100)
    if "url" in data:
        values["url"] = _url(data["url"], field="url")
    price = _decimal(data.get("price"), field="price") if "price" in data else None
    with transaction.atomic():
        variant = Variant.objects.select_for_update().filter(pk=variant_id).first()
        if variant is None:
            raise NotFound(_("Variant not found"))
        offer = Offer.objects.filter(variant=variant, channel=code).first()
        created = offer is None
        if created:
            offer = Offer.objects.create(variant=variant, channel=code, **values)
            before: dict[str, Any] = {}
        else:
            before = {k: getattr(offer, k) for k in values}
            for k, v in values.items():
                setattr(offer, k, v)
            if values:
                offer.updated_at = timezone.now()
                offer.save(update_fields=[*values, "updated_at"])
        changes = diff(before, values)
        if "price" in data:
            if price is None:
                if offer.price is not None:
                    # Back to the variant's own price: the channel stops having a price of its own. The
                    # history records it ("base" entry), so the feeds and the Omnibus price follow the base.
                    changes["price"] = [str(offer.price), None]
                    if PriceChange.objects.filter(variant=variant, channel=code).exists():
                        _price_set(
                            variant, price=variant.price, channel=code, kind=PriceChange.Kind.BASE,
                            source=source, actor=actor,
                        )  # fmt: skip
                    Offer.objects.filter(pk=offer.pk).update(price=None, updated_at=timezone.now())
                    offer.price = None
            elif price != offer.price:
                changes["price"] = [None if offer.price is None else str(offer.price), str(price)]
                _price_set(variant, price=price, channel=code, source=source, actor=actor)
                offer.price = price
        if changes or created:
            audit_record(
                obj_type="catalog.offer",
                obj_id=offer.pk,
                action="created" if created else "updated",
                actor=actor,
                changes={"channel": [None, code], **changes} if created else changes,
                label=None,
            )
            _touch([variant.product_id])
    return offer


# --- manufacturers (GPSR) -----------------------------------------------------------------------------

EU_EEA = frozenset(
    "AT BE BG HR CY CZ DK EE FI FR DE GR IE IT LV LT LU MT NL PL PT RO SK SI ES SE IS LI NO".split()
)
MANUFACTURER_FIELDS = (
    "name",
    "street",
    "postcode",
    "city",
    "country",
    "email",
    "website",
    "eu_rp_name",
    "eu_rp_address",
    "eu_rp_email",
)


def country_codes() -> dict[str, str]:
    """ISO 3166-1 alpha-2 code -> English name (from Babel's CLDR data)."""
    from babel import Locale

    return {k: v for k, v in Locale("en").territories.items() if len(k) == 2 and k.isalpha()}


def manufacturer_gpsr_gaps(m: Manufacturer) -> list[str]:
    """What a listing of this manufacturer's products still lacks under GPSR (empty = complete)."""
    gaps = []
    if not (m.street and m.postcode and m.city and m.country):
        gaps.append(_("postal address"))
    if not (m.email or m.website):
        gaps.append(_("e-mail or website"))
    if m.country and m.country not in EU_EEA:
        if not m.eu_rp_name:
            gaps.append(_("EU responsible person"))
        if not m.eu_rp_address:
            gaps.append(_("EU responsible person's address"))
        if not m.eu_rp_email:
            gaps.append(_("EU responsible person's e-mail"))
    return gaps


@dataclass
class ManufacturerSaved:
    manufacturer: Manufacturer
    created: bool
    warnings: list[str]


def _manufacturer_values(data: dict[str, Any], *, current: Manufacturer | None) -> dict[str, Any]:
    unknown = set(data) - set(MANUFACTURER_FIELDS)
    if unknown:
        raise DomainError(_("Unknown field %(f)s") % {"f": sorted(unknown)[0]}, field=sorted(unknown)[0])
    out: dict[str, Any] = {}
    limits = {
        "name": 200,
        "street": 200,
        "postcode": 20,
        "city": 100,
        "eu_rp_name": 200,
        "eu_rp_address": 1000,
    }
    for key, value in data.items():
        if key in ("email", "eu_rp_email"):
            out[key] = _email(value, field=key)
        elif key == "website":
            out[key] = _url(value, field=key, max_length=200)
        elif key == "country":
            code = _text(value, field="country", max_length=2).upper()
            if code and code not in country_codes():
                raise DomainError(
                    _("%(c)s is not an ISO 3166 country code (e.g. PL, DE, CN).") % {"c": value},
                    field="country",
                )
            out[key] = code
        else:
            out[key] = _text(value, field=key, max_length=limits[key], required=key == "name")
    if "name" in out:
        clash = Manufacturer.objects.filter(name__iexact=out["name"])
        if current is not None:
            clash = clash.exclude(pk=current.pk)
        if clash.exists():
            raise DomainError(
                _("A manufacturer named %(n)s exists already.") % {"n": out["name"]},
                field="name",
                code="exists",
            )
    return out


def manufacturer_save(
    *, data: dict[str, Any], actor, manufacturer_id: int | None = None
) -> ManufacturerSaved:
    """Create (no id) or update a manufacturer. Malformed data (e-mail, country code) is refused; missing
    GPSR data (address, contact, the EU responsible person of a non-EU manufacturer) is saved with
    warnings, since it is often completed later — the quality audit flags the products until it is."""
    with transaction.atomic():
        current = None
        if manufacturer_id is not None:
            current = Manufacturer.objects.select_for_update().filter(pk=manufacturer_id).first()
            if current is None:
                raise NotFound(_("Manufacturer not found"))
        values = _manufacturer_values(data, current=current)
        if current is None:
            if "name" not in values:
                raise DomainError(_("This field is required."), field="name", code="required")
            m = Manufacturer.objects.create(**values)
            changes = diff({}, values)
        else:
            m = current
            before = {k: getattr(m, k) for k in values}
            for k, v in values.items():
                setattr(m, k, v)
            changes = diff(before, values)
            if changes:
                m.save(update_fields=list(values))
        if changes:
            audit_record(
                obj_type="catalog.manufacturer",
                obj_id=m.pk,
                action="created" if current is None else "updated",
                actor=actor,
                changes=changes,
            )
            if current is not None:
                _touch(Product.objects.filter(manufacturer=m).values_list("pk", flat=True))
    return ManufacturerSaved(m, current is None, manufacturer_gpsr_gaps(m))


def manufacturer_delete(*, manufacturer_id: int, actor) -> None:
    """Delete a manufacturer no product refers to."""
    with transaction.atomic():
        m = Manufacturer.objects.select_for_update().filter(pk=manufacturer_id).first()
        if m is None:
            raise NotFound(_("Manufacturer not found"))
        used = Product.objects.filter(manufacturer=m).count()
        if used:
            raise DomainError(
                _("%(n)s products refer to this manufacturer; change them first.") % {"n": used},
                field="manufacturer",
                code="in_use",
            )
        audit_record(
            obj_type="catalog.manufacturer",
            obj_id=m.pk,
            action="deleted",
            actor=actor,
            changes={"name": [m.name, None]},
        )
        m.delete()


# --- category tree ------------------------------------------------------------------------------------


def _unique_slug(base: str, *, exclude: int | None = None) -> str:
    base = (slugify(base)[:190] or "category").strip("-") or "category"
    slug, n = base, 1
    qs = Category.objects.all() if exclude is None else Category.objects.exclude(pk=exclude)
    while qs.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


def _category_name(name: Any, *, parent: Category | None, exclude: int | None = None) -> str:
    name = _text(name, field="name", max_length=200, required=True)
    siblings = Category.objects.filter(parent=parent, name__iexact=name)
    if exclude is not None:
        siblings = siblings.exclude(pk=exclude)
    if siblings.exists():
        raise DomainError(
            _("%(n)s already exists at this place of the tree.") % {"n": name}, field="name", code="exists"
        )
    return name


def category_create(*, name: str, parent_id: int | None = None, actor) -> Category:
    with transaction.atomic():
        parent = _category(parent_id, field="parent")
        name = _category_name(name, parent=parent)
        cat = Category.objects.create(
            name=name, parent=parent, slug=_unique_slug(f"{parent.slug}-{name}" if parent else name)
        )
        audit_record(
            obj_type="catalog.category",
            obj_id=cat.pk,
            action="created",
            actor=actor,
            changes={"name": [None, name], "parent": [None, parent.pk if parent else None]},
        )
    return cat


def category_rename(*, category_id: int, name: str, actor) -> Category:
    """Rename a category (its slug stays, so links keep working)."""
    with transaction.atomic():
        cat = Category.objects.select_for_update().filter(pk=category_id).first()
        if cat is None:
            raise NotFound(_("Category not found"))
        new = _category_name(name, parent=cat.parent, exclude=cat.pk)
        if new != cat.name:
            audit_record(
                obj_type="catalog.category",
                obj_id=cat.pk,
                action="renamed",
                actor=actor,
                changes={"name": [cat.name, new]},
            )
            cat.name = new
            cat.save(update_fields=["name"])
            _touch(Product.objects.filter(category=cat).values_list("pk", flat=True))
    return cat


def category_descendant_ids(category_id: int) -> set[int]:
    """The category and every category below it."""
    children: dict[int | None, list[int]] = {}
    for pk, parent in Category.objects.values_list("pk", "parent_id"):
        children.setdefault(parent, []).append(pk)
    out, stack = set(), [category_id]
    while stack:
        pk = stack.pop()
        if pk in out:
            continue
        out.add(pk)
        stack.extend(children.get(pk, []))
    return out


def category_move(*, category_id: int, parent_id: int | None, actor) -> Category:
    """Move a category under another one (None = to the top); moving it under itself or one of its own
    descendants is refused."""
    with transaction.atomic():
        cat = Category.objects.select_for_update().filter(pk=category_id).first()
        if cat is None:
            raise NotFound(_("Category not found"))
        parent = _category(parent_id, field="parent")
        if parent is not None and parent.pk in category_descendant_ids(cat.pk):
            raise DomainError(
                _("%(c)s cannot be moved under %(p)s: that is inside it.")
                % {"c": cat.name, "p": parent.name},
                field="parent",
                code="cycle",
            )
        if (parent.pk if parent else None) != cat.parent_id:
            _category_name(cat.name, parent=parent, exclude=cat.pk)
            audit_record(
                obj_type="catalog.category",
                obj_id=cat.pk,
                action="moved",
                actor=actor,
                changes={"parent": [cat.parent_id, parent.pk if parent else None]},
            )
            cat.parent = parent
            cat.save(update_fields=["parent"])
    return cat


def category_delete(*, category_id: int, actor) -> None:
    """Delete a category with no products and no subcategories."""
    with transaction.atomic():
        cat = Category.objects.select_for_update().filter(pk=category_id).first()
        if cat is None:
            raise NotFound(_("Category not found"))
        if Category.objects.filter(parent=cat).exists():
            raise DomainError(
                _("%(c)s has subcategories; move or delete them first.") % {"c": cat.name}, code="in_use"
            )
        n = Product.objects.filter(category=cat).count()
        if n:
            raise DomainError(
                _("%(n)s products are in %(c)s; move them first.") % {"n": n, "c": cat.name}, code="in_use"
            )
        audit_record(
            obj_type="catalog.category",
            obj_id=cat.pk,
            action="deleted",
            actor=actor,
            changes={"name": [cat.name, None]},
        )
        cat.delete()
