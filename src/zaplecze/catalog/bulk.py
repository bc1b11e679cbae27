"""Bulk changes of the catalog from a product file: preview, fix rows, apply, undo (and undo of repricings).

The flow (docs/catalog-import.md):

1. ``import_preview(file, name, actor)`` reads the file (``catalog.io``), validates every row and stores a
   ``BulkChange(kind=import, state=preview)`` whose ``rows`` say per row what would happen:
   ``{row, sku, product, action: create|update|unchanged|error, changes: {column: [old, new]},
   errors: [{column, message}], warnings: [...], values: {column: cell}}``. Nothing else is written.
2. ``import_fix_row(bulk, row_number, values, actor)`` changes cells of one row and validates the whole file
   again (duplicates and products shared between rows depend on the other rows).
3. ``import_apply(bulk, actor, skip_errors=False)`` validates again against the catalog as it is now, inside
   one transaction: when anything differs from the preview (someone changed the catalog meanwhile) nothing
   is written, the preview is refreshed and a Conflict says which rows changed. With errors left it refuses
   unless ``skip_errors`` (apply the valid rows, skip the others). Prices go through ``prices.price_set_many``.
   ``bulk.undo`` keeps the state before, entry by entry.
4. ``import_undo(bulk, actor)`` reverts the last applied bulk change only. ``bulk_undo`` dispatches
   repricings to ``catalog.reprice.reprice_undo``.

Rows: one per variant, keyed by SKU (create or update). The product of a row: the product of its SKU when
the SKU exists; for a new SKU, the product of the other rows with the same ``product_key`` (or, without a
``product_key``, the same product name); ``product_key`` may also be the SKU of any variant already in the
catalog, which adds the new variant to that variant's product. An empty cell leaves the value unchanged; a
single ``-`` clears an optional value.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import ProtectedError, RestrictedError
from django.utils import timezone
from django.utils.translation import gettext as _

from zaplecze.core.errors import Conflict, DomainError, IllegalTransition, NotFound
from zaplecze.core.models import AuditEntry
from zaplecze.core.services import actor_label, audit_record, audit_record_many

from . import io
from .models import BulkChange, Category, Manufacturer, Offer, Product, ProductImage, Variant, VatRate

CLEAR = "-"
PRODUCT_COLUMNS = (
    "product_name",
    "status",
    "category",
    "brand",
    "manufacturer",
    "description_html",
    "perishable",
    "safety_info",
    "image_urls",
)
VARIANT_COLUMNS = (
    "variant_name",
    "ean",
    "price",
    "vat_rate",
    "cost_price",
    "weight_kg",
    "length_cm",
    "width_cm",
    "height_cm",
    "mpn",
)
CLEARABLE = {
    "ean",
    "cost_price",
    "weight_kg",
    "length_cm",
    "width_cm",
    "height_cm",
    "mpn",
    "category",
    "brand",
    "manufacturer",
    "description_html",
    "safety_info",
    "image_urls",
}
DECIMAL_PLACES = {"price": 2, "cost_price": 2, "weight_kg": 3, "length_cm": 1, "width_cm": 1, "height_cm": 1}
TEXT_LIMITS = {
    "sku": 64,
    "product_key": 64,
    "product_name": 300,
    "variant_name": 300,
    "brand": 120,
    "manufacturer": 200,
    "mpn": 70,
    "safety_info": 5000,
    "description_html": 100_000,
}
MAX_IMAGES = 30
TRUE = {"1", "yes", "y", "true", "t", "tak", "x"}
FALSE = {"0", "no", "n", "false", "f", "nie"}
_NUMBER = re.compile(r"[+-]?\d+(?:\.\d+)?")
_SPACES = str.maketrans("", "", " \u00a0\u202f\u2009'")
_CURRENCY = re.compile(r"^(?:zł|zl|pln)|(?:zł|zl|pln)$", re.IGNORECASE)


# --- cell values -------------------------------------------------------------------------------------------


class CellError(ValueError):
    pass


def parse_number(raw: str) -> Decimal:
    """ "129,99", "129.99", "1 234,56", "1.234,56", "129,99 zł" -> Decimal."""
    s = _CURRENCY.sub("", raw.translate(_SPACES)).strip()
    if "," in s and "." in s:
        s = s.replace(".", "").replace(",", ".") if s.rfind(",") > s.rfind(".") else s.replace(",", "")
    elif "," in s:
        if s.count(",") > 1:
            raise CellError(_("%(value)s is not a number") % {"value": raw})
        s = s.replace(",", ".")
    if not _NUMBER.fullmatch(s):
        raise CellError(_("%(value)s is not a number") % {"value": raw})
    try:
        return Decimal(s)
    except InvalidOperation:  # pragma: no cover - the pattern admits valid numbers only
        raise CellError(_("%(value)s is not a number") % {"value": raw})


def _decimal_cell(column: str, raw: str) -> Decimal:
    value = parse_number(raw)
    places = DECIMAL_PLACES[column]
    if value < 0:
        raise CellError(_("must not be negative (%(value)s)") % {"value": raw})
    if value >= Decimal(10) ** (9 if places == 2 else 6):
        raise CellError(_("%(value)s is too large") % {"value": raw})
    quantum = Decimal(1).scaleb(-places)
    rounded = value.quantize(quantum, rounding=ROUND_HALF_UP)
    if rounded != value:
        raise CellError(_("%(value)s has more than %(n)s decimal places") % {"value": raw, "n": places})
    return rounded


def _vat(raw: str) -> str:
    value = raw.strip().lower().removesuffix("%").strip().replace(",", ".")
    if value in ("zw", "zw.", "exempt", "np"):
        return str(VatRate.ZW.value)
    try:
        number = Decimal(value)
    except InvalidOperation:
        number = None
    if number is not None and number.is_finite():
        if 0 < number < 1:
            number = number * 100
        if number == number.to_integral_value() and str(int(number)) in VatRate.values:
            return str(int(number))
    raise CellError(
        _("unknown VAT rate %(value)s; use one of %(all)s") % {"value": raw, "all": ", ".join(VatRate.values)}
    )


def _status(raw: str) -> str:
    value = raw.strip().lower()
    for code, label in Product.Status.choices:
        if value in (code, str(label).lower()):
            return code
    raise CellError(
        _("unknown status %(value)s; use one of %(all)s")
        % {"value": raw, "all": ", ".join(Product.Status.values)}
    )


def _bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in TRUE:
        return True
    if value in FALSE:
        return False
    raise CellError(_("%(value)s is not yes or no") % {"value": raw})


def _category_path(raw: str) -> tuple[str, ...]:
    parts = tuple(p.strip() for p in re.split(r"\s*(?:>|/)\s*", raw.strip()))
    if any(not p for p in parts):
        raise CellError(_("%(value)s has an empty level; write it as “Clothing > T-shirts”") % {"value": raw})
    if any(len(p) > 200 for p in parts):
        raise CellError(_("a category name is longer than 200 characters"))
    return parts


def _image_urls(raw: str) -> list[str]:
    from django.core.exceptions import ValidationError
    from django.core.validators import URLValidator

    urls = [u for u in re.split(r"[\s|]+", raw.strip()) if u]
    check = URLValidator(schemes=["http", "https"])
    for url in urls:
        if len(url) > 1000:
            raise CellError(_("an image URL is longer than 1000 characters"))
        try:
            check(url)
        except ValidationError:
            raise CellError(_("%(url)s is not an http(s) address") % {"url": url[:100]})
    if len(urls) > MAX_IMAGES:
        raise CellError(_("at most %(n)s images") % {"n": MAX_IMAGES})
    if len(set(urls)) != len(urls):
        raise CellError(_("the same image URL is given twice"))
    return urls


def _parse_cell(column: str, raw: str, warnings: list[str]) -> Any:
    """The value of one non-empty cell, or CellError. `-` clears (None, "" or an empty list)."""
    if raw == CLEAR and (column in CLEARABLE or column.startswith((io.ATTR_PREFIX, io.PRICE_PREFIX))):
        if column == "image_urls":
            return []
        if column == "category":
            return ()
        if column in DECIMAL_PLACES or column.startswith(io.PRICE_PREFIX):
            return None
        return ""
    if "\x00" in raw:
        raise CellError(_("the text contains characters that cannot be stored"))
    if column in DECIMAL_PLACES or column.startswith(io.PRICE_PREFIX):
        return _decimal_cell("price" if column.startswith(io.PRICE_PREFIX) else column, raw)
    if column == "vat_rate":
        return _vat(raw)
    if column == "status":
        return _status(raw)
    if column == "perishable":
        return _bool(raw)
    if column == "category":
        return _category_path(raw)
    if column == "image_urls":
        return _image_urls(raw)
    if column == "ean":
        from .services import validate_ean

        try:
            return validate_ean(raw.strip())
        except DomainError:
            raise CellError(
                _("%(value)s is not a valid EAN/GTIN (wrong length or check digit)") % {"value": raw}
            )
    if column == "description_html":
        from .services import sanitize_html

        if len(raw) > TEXT_LIMITS[column]:
            raise CellError(_("longer than %(n)s characters") % {"n": TEXT_LIMITS[column]})
        result = sanitize_html(raw)
        if result.removed:
            warnings.append(
                _("description_html: removed from the description: %(what)s")
                % {"what": ", ".join(result.removed)}
            )
        return result.html
    value = raw.strip()
    if column.startswith(io.ATTR_PREFIX):
        if len(value) > 200:
            raise CellError(_("longer than 200 characters"))
        return value
    limit = TEXT_LIMITS.get(column, 300)
    if len(value) > limit:
        raise CellError(_("longer than %(n)s characters") % {"n": limit})
    if column == "sku" and re.search(r"\s", value):
        raise CellError(_("a SKU cannot contain spaces"))
    return value


# --- the catalog as it is ------------------------------------------------------------------------------------


class _Catalog:
    """What validation needs from the database, loaded in a few queries."""

    def __init__(self, skus: Iterable[str], *, lock: bool = False):
        skus = sorted(set(skus))
        self.variants: dict[str, Variant] = {}
        for i in range(0, len(skus), 500):
            qs = Variant.objects.filter(sku__in=skus[i : i + 500]).select_related("product")
            if lock:
                qs = qs.select_for_update(of=("self",))
            for v in qs:
                self.variants[v.sku] = v
        product_ids = sorted({v.product_id for v in self.variants.values()})
        self.images: dict[int, list[str]] = {}
        for pid, url in (
            ProductImage.objects.filter(product_id__in=product_ids, variant__isnull=True)
            .exclude(source_url="")
            .filter(file="")
            .order_by("product_id", "position", "id")
            .values_list("product_id", "source_url")
        ):
            self.images.setdefault(pid, []).append(url)
        self.offers: dict[tuple[int, str], Decimal | None] = {
            (vid, ch): price
            for vid, ch, price in Offer.objects.filter(
                variant_id__in=[v.pk for v in self.variants.values()]
            ).values_list("variant_id", "channel", "price")
        }
        self.categories = {c.pk: (c.name, c.parent_id) for c in Category.objects.only("name", "parent_id")}
        self.manufacturers = {m.pk: m.name for m in Manufacturer.objects.only("name")}
        self.manufacturer_by_name = {name.casefold(): pk for pk, name in self.manufacturers.items()}
        self._paths: dict[int, tuple[str, ...]] = {}
        self._all_paths: set[tuple[str, ...]] | None = None

    def category_path(self, pk: int | None) -> tuple[str, ...]:
        if pk is None:
            return ()
        if pk not in self._paths:
            names, seen, cur = [], set(), pk
            while cur is not None and cur not in seen and cur in self.categories:
                seen.add(cur)
                name, parent = self.categories[cur]
                names.append(name)
                cur = parent
            self._paths[pk] = tuple(reversed(names))
        return self._paths[pk]

    def category_exists(self, path: tuple[str, ...]) -> bool:
        if self._all_paths is None:
            self._all_paths = {tuple(n.casefold() for n in self.category_path(pk)) for pk in self.categories}
        return tuple(p.casefold() for p in path) in self._all_paths

    def product_values(self, product: Product) -> dict[str, Any]:
        return {
            "product_name": product.name,
            "status": product.status,
            "category": self.category_path(product.category_id),
            "brand": product.brand,
            "manufacturer": self.manufacturers.get(product.manufacturer_id, "")
            if product.manufacturer_id
            else "",
            "description_html": product.description_html,
            "perishable": product.perishable,
            "safety_info": product.safety_info,
            "image_urls": self.images.get(product.pk, []),
        }

    def variant_values(self, variant: Variant) -> dict[str, Any]:
        out = {
            "variant_name": variant.name,
            "ean": variant.ean,
            "price": variant.price,
            "vat_rate": variant.vat_rate,
            "cost_price": variant.cost_price,
            "weight_kg": variant.weight_kg,
            "length_cm": variant.length_cm,
            "width_cm": variant.width_cm,
            "height_cm": variant.height_cm,
            "mpn": variant.mpn,
        }
        for name, value in (variant.attributes or {}).items():
            out[io.ATTR_PREFIX + name] = value
        return out

    def offer_price(self, variant: Variant, channel: str) -> tuple[bool, Decimal | None]:
        key = (variant.pk, channel)
        return key in self.offers, self.offers.get(key)


def _same(column: str, old: Any, new: Any) -> bool:
    if column == "category":
        return tuple(p.casefold() for p in old or ()) == tuple(p.casefold() for p in new or ())
    if column == "manufacturer":
        return (old or "").casefold() == (new or "").casefold()
    if isinstance(old, Decimal) or isinstance(new, Decimal):
        if old is None or new is None:
            return old is None and new is None
        return Decimal(old) == Decimal(new)
    if column.startswith(io.ATTR_PREFIX):
        return (old or "") == (new or "")
    return old == new


def show(column: str, value: Any) -> Any:
    """A value as the preview shows it (JSON)."""
    if value is None:
        return None
    if column == "category":
        return " > ".join(value)
    if column == "image_urls":
        return " | ".join(value)
    if isinstance(value, bool):
        return "yes" if value else "no"  # as written in files, not translated
    if isinstance(value, Decimal):
        places = DECIMAL_PLACES.get(column, 2)
        return format(value.quantize(Decimal(1).scaleb(-places)), "f")
    return value


# --- validation: the plan ------------------------------------------------------------------------------------


@dataclass
class _RowPlan:
    entry: dict  # the stored row (row, values, problem, formulas)
    sku: str = ""
    parsed: dict[str, Any] = field(default_factory=dict)
    errors: list[dict] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    variant: Variant | None = None
    target: tuple | None = None
    changes: dict[str, list] = field(default_factory=dict)

    @property
    def number(self) -> int:
        return self.entry["row"]

    def error(self, column: str, message: str) -> None:
        self.errors.append({"column": column, "message": message})

    @property
    def action(self) -> str:
        if self.errors:
            return "error"
        if self.variant is None:
            return "create"
        return "update" if self.changes else "unchanged"


@dataclass
class _Target:
    key: tuple
    product: Product | None  # None: a new product
    values: dict[str, Any] = field(default_factory=dict)  # product-level values from the rows
    source: dict[str, int] = field(default_factory=dict)  # column -> the row that gave the value
    rows: list[_RowPlan] = field(default_factory=list)


@dataclass
class _Plan:
    rows: list[_RowPlan]
    targets: dict[tuple, _Target]
    catalog: _Catalog
    new_categories: list[str]
    new_manufacturers: list[str]

    def as_rows(self) -> list[dict]:
        out = []
        for r in self.rows:
            product = ""
            if r.target is not None:
                t = self.targets[r.target]
                product = t.values.get("product_name") or (t.product.name if t.product else "")
            elif r.variant is not None:
                product = r.variant.product.name
            entry = {
                "row": r.number,
                "values": r.entry.get("values", {}),
                "sku": r.sku,
                "product": product,
                "action": r.action,
                "changes": r.changes,
                "errors": r.errors,
                "warnings": r.warnings,
            }
            for key in ("problem", "formulas"):
                if r.entry.get(key):
                    entry[key] = r.entry[key]
            out.append(entry)
        return out

    def summary(self) -> dict:
        counts = {"create": 0, "update": 0, "unchanged": 0, "error": 0}
        for r in self.rows:
            counts[r.action] += 1
        counts["rows"] = len(self.rows)
        counts["warnings"] = sum(1 for r in self.rows if r.warnings)
        counts["new_products"] = sum(
            1 for t in self.targets.values() if t.product is None and any(not r.errors for r in t.rows)
        )
        counts["new_categories"] = self.new_categories
        counts["new_manufacturers"] = self.new_manufacturers
        return counts


def _parse_rows(entries: list[dict]) -> list[_RowPlan]:
    plans = []
    for entry in entries:
        plan = _RowPlan(entry=entry)
        if entry.get("problem"):
            plan.error("", entry["problem"])
        for column, where in (entry.get("formulas") or {}).items():
            plan.error(
                column,
                _(
                    "cell %(cell)s holds a formula; formulas are not computed on import: replace it with its value"
                )
                % {"cell": where},
            )
        values = entry.get("values") or {}
        for column, raw in values.items():
            raw = raw if isinstance(raw, str) else str(raw)
            if not raw.strip():
                continue
            try:
                plan.parsed[column] = _parse_cell(column, raw, plan.warnings)
            except CellError as exc:
                plan.error(column, str(exc))
        plan.sku = str(values.get("sku") or "").strip()
        if not plan.sku:
            plan.error("sku", _("the SKU is empty; every row needs one"))
        plans.append(plan)
    return plans


def _plan(entries: list[dict], *, lock: bool = False) -> _Plan:
    rows = _parse_rows(entries)
    keys = [r.sku for r in rows if r.sku] + [str(r.parsed.get("product_key") or "") for r in rows]
    catalog = _Catalog([k for k in keys if k], lock=lock)
    channels = _known_channels()

    # duplicate SKUs: the first row wins, later ones are errors
    first_row: dict[str, int] = {}
    for r in rows:
        if not r.sku:
            continue
        if r.sku in first_row:
            r.error("sku", _("SKU %(sku)s is also in row %(row)s") % {"sku": r.sku, "row": first_row[r.sku]})
        else:
            first_row[r.sku] = r.number
            r.variant = catalog.variants.get(r.sku)

    # unknown channels in price:<code> columns
    for r in rows:
        for column in list(r.parsed):
            if column.startswith(io.PRICE_PREFIX) and channels is not None:
                code = column[len(io.PRICE_PREFIX) :]
                if code not in channels:
                    r.error(column, _("unknown sales channel %(code)s") % {"code": code})

    # which product each row belongs to
    groups: dict[str, set[int]] = {}
    group_of: dict[int, str] = {}
    for r in rows:
        key = str(r.parsed.get("product_key") or "")
        if key:
            label = "key:" + key
            anchor = catalog.variants.get(key)
            if anchor is not None:
                groups.setdefault(label, set()).add(anchor.product_id)
        elif r.parsed.get("product_name"):
            label = "name:" + r.parsed["product_name"].casefold()
        else:
            label = ""
        if label:
            group_of[id(r)] = label
            groups.setdefault(label, set())
            if r.variant is not None and not r.errors:
                if label.startswith("name:"):
                    groups[label].add(r.variant.product_id)
                elif not groups[label]:
                    groups[label].add(r.variant.product_id)
    products = {v.product_id: v.product for v in catalog.variants.values()}
    targets: dict[tuple, _Target] = {}
    for r in rows:
        label = group_of.get(id(r), "")
        if r.variant is not None:
            key_label = label if label.startswith("key:") else ""
            if key_label and groups[key_label] and r.variant.product_id not in groups[key_label]:
                r.error(
                    "product_key",
                    _(
                        "SKU %(sku)s belongs to another product than product_key %(key)s; moving variants "
                        "between products is not supported"
                    )
                    % {"sku": r.sku, "key": label[4:]},
                )
            target_key: tuple = ("product", r.variant.product_id)
        elif not label:
            if r.sku and not r.errors:
                r.error("product_name", _("a new SKU needs a product name (or a product_key)"))
            continue
        elif len(groups[label]) > 1:
            r.error(
                "product_key" if label.startswith("key:") else "product_name",
                _(
                    "more than one existing product matches; give a product_key with the SKU of one of its variants"
                ),
            )
            continue
        elif groups[label]:
            target_key = ("product", next(iter(groups[label])))
        else:
            target_key = ("new", label)
        r.target = target_key
        if target_key not in targets:
            product = products.get(target_key[1]) if target_key[0] == "product" else None
            if target_key[0] == "product" and product is None:
                product = Product.objects.get(pk=target_key[1])
                products[product.pk] = product
            targets[target_key] = _Target(key=target_key, product=product)
        targets[target_key].rows.append(r)

    # product-level values: valid rows only; a later row must not contradict an earlier one
    for target in targets.values():
        for r in target.rows:
            if r.errors:
                continue
            for column in PRODUCT_COLUMNS:
                if column not in r.parsed:
                    continue
                value = r.parsed[column]
                if column in target.values:
                    if not _same(column, target.values[column], value):
                        r.error(
                            column,
                            _("differs from row %(row)s of the same product (%(value)s)")
                            % {"row": target.source[column], "value": show(column, target.values[column])},
                        )
                    continue
                target.values[column] = value
                target.source[column] = r.number
        valid = [r for r in target.rows if not r.errors]
        if target.product is None and valid and not target.values.get("product_name"):
            for r in valid:
                r.error("product_name", _("the new product has no name"))

    # the differences against the catalog
    new_categories: dict[tuple, str] = {}
    new_manufacturers: dict[str, str] = {}
    for target in targets.values():
        current = catalog.product_values(target.product) if target.product is not None else {}
        changes_by_row: dict[int, dict] = {}
        for column, value in target.values.items():
            old = current.get(column)
            if target.product is not None and _same(column, old, value):
                continue
            if target.product is None and value in ("", None, (), []) and column != "perishable":
                continue
            changes_by_row.setdefault(target.source[column], {})[column] = [
                show(column, old),
                show(column, value),
            ]
            if column == "category" and value and not catalog.category_exists(value):
                new_categories.setdefault(tuple(p.casefold() for p in value), " > ".join(value))
            if column == "manufacturer" and value and value.casefold() not in catalog.manufacturer_by_name:
                new_manufacturers.setdefault(value.casefold(), value)
        for r in target.rows:
            if r.errors:
                continue
            r.changes.update(changes_by_row.get(r.number, {}))
            _variant_changes(r, catalog, target)

    for r in rows:
        if r.errors:
            r.changes = {}
    return _Plan(
        rows=rows,
        targets=targets,
        catalog=catalog,
        new_categories=sorted(new_categories.values()),
        new_manufacturers=sorted(new_manufacturers.values()),
    )


def _variant_changes(r: _RowPlan, catalog: _Catalog, target: _Target) -> None:
    if r.variant is None:
        if "price" not in r.parsed or r.parsed["price"] is None:
            r.error("price", _("a new SKU needs a price"))
            return
        current: dict[str, Any] = {}
    else:
        current = catalog.variant_values(r.variant)
    for column in VARIANT_COLUMNS:
        if column not in r.parsed:
            continue
        value = r.parsed[column]
        if column == "price" and value is None:
            r.error("price", _("the price cannot be cleared"))
            continue
        old = current.get(column)
        if r.variant is not None and _same(column, old, value):
            continue
        if r.variant is None and value in ("", None):
            continue
        r.changes[column] = [show(column, old), show(column, value)]
    attributes = dict(r.variant.attributes or {}) if r.variant is not None else {}
    for column, value in r.parsed.items():
        if not column.startswith(io.ATTR_PREFIX):
            continue
        name = column[len(io.ATTR_PREFIX) :]
        old = attributes.get(name)
        if (old or "") == value:
            continue
        if value:
            attributes[name] = value
        else:
            attributes.pop(name, None)
        r.changes[column] = [old, value or None]
    if any(c.startswith(io.ATTR_PREFIX) for c in r.changes):
        from .services import validate_attributes

        try:
            validate_attributes(attributes)
        except DomainError as exc:
            r.error(next(c for c in r.changes if c.startswith(io.ATTR_PREFIX)), exc.message)
    for column, value in r.parsed.items():
        if not column.startswith(io.PRICE_PREFIX):
            continue
        channel = column[len(io.PRICE_PREFIX) :]
        exists, old = catalog.offer_price(r.variant, channel) if r.variant is not None else (False, None)
        if exists and _same(column, old, value):
            continue
        if not exists and value is None:
            continue
        r.changes[column] = [show(column, old), show(column, value)]


def _known_channels() -> set[str] | None:
    from .services import channel_choices

    known = channel_choices()
    return {code for code, _name in known} if known else None


# --- preview and fixing -------------------------------------------------------------------------------------


def _read(file) -> bytes:
    if isinstance(file, bytes | bytearray):
        return bytes(file)
    size = getattr(file, "size", None)
    if size and size > io.MAX_FILE_BYTES:
        raise io.FileProblem(
            _("The file is larger than %(mb)s MB; split it into smaller files.")
            % {"mb": io.MAX_FILE_BYTES // 2**20},
            field="file",
        )
    if hasattr(file, "seek"):
        file.seek(0)
    data = file.read(io.MAX_FILE_BYTES + 1)
    return data


def _entries(table: io.Table) -> tuple[list[dict], list[str], list[str]]:
    columns: list[str | None] = [io.column_key(h) for h in table.header]
    unknown = [h.strip() for h, c in zip(table.header, columns, strict=True) if c is None and h.strip()]
    seen: set[str] = set()
    duplicates = []
    for i, c in enumerate(columns):
        if c is None:
            continue
        if c in seen:
            duplicates.append(table.header[i].strip())
            columns[i] = None
        seen.add(c)
    if "sku" not in seen:
        raise io.FileProblem(
            _("The file has no sku column (columns found: %(found)s). The first row must name the columns.")
            % {"found": ", ".join(h.strip() for h in table.header if h.strip())[:300] or _("none")},
            field="file",
        )
    if duplicates:
        raise io.FileProblem(
            _("These columns appear twice: %(cols)s") % {"cols": ", ".join(duplicates)}, field="file"
        )
    width = len(table.header)
    entries = []
    for row in table.rows:
        values: dict[str, str] = {}
        for i, column in enumerate(columns):
            if column is None:
                continue
            raw = row.cells[i] if i < len(row.cells) else ""
            values[column] = io.unescape(raw.strip() if column != "description_html" else raw)
        entry: dict[str, Any] = {"row": row.number, "values": values}
        problem = row.problem
        extra = row.cells[width:]
        if not problem and any(c.strip() for c in extra):
            problem = _(
                "the row has %(found)s values but the header has %(expected)s columns (a value containing the "
                "delimiter without quotes?)"
            ) % {"found": len(row.cells), "expected": width}
        if problem:
            entry["problem"] = problem
        formulas = {columns[i]: where for i, where in row.formulas.items() if i < width and columns[i]}
        if formulas:
            entry["formulas"] = formulas
        entries.append(entry)
    return entries, [c for c in columns if c], unknown


def import_preview(file, name: str, actor) -> BulkChange:
    """Read a product file (bytes or a file object) and store its preview. Raises FileProblem when the file
    cannot be read at all; row problems are in the preview, never an exception."""
    data = _read(file)
    table = io.read_table(data, name)
    entries, columns, unknown = _entries(table)
    if not entries:
        raise io.FileProblem(_("The file has a header but no rows."), field="file")
    plan = _plan(entries)
    bulk = BulkChange.objects.create(
        kind=BulkChange.Kind.IMPORT,
        state=BulkChange.State.PREVIEW,
        title=(name or "upload")[:300],
        params={
            "format": table.format,
            "encoding": table.encoding,
            "delimiter": table.delimiter,
            "columns": columns,
            "unknown_columns": unknown,
        },
        rows=plan.as_rows(),
        summary=plan.summary(),
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    return bulk


def import_fix_row(bulk: BulkChange, row_number: int, values: dict[str, str], actor) -> dict:
    """Change cells of one preview row and validate the file again. Returns the row's new preview entry."""
    with transaction.atomic():
        bulk = _lock(bulk.pk, kind=BulkChange.Kind.IMPORT)
        if bulk.state != BulkChange.State.PREVIEW:
            raise IllegalTransition(
                _("This import is %(state)s; only a preview can be changed.")
                % {"state": bulk.get_state_display()}
            )
        entry = next((r for r in bulk.rows if r["row"] == row_number), None)
        if entry is None:
            raise NotFound(_("Row %(row)s is not in this import.") % {"row": row_number})
        allowed = set(bulk.params.get("columns") or []) | {"sku"}
        for column, value in values.items():
            if column not in allowed:
                raise DomainError(_("The file has no column %(column)s.") % {"column": column}, field=column)
            if value is None:
                value = ""
            if not isinstance(value, str):
                value = str(value)
            if len(value) > 100_000:
                raise DomainError(_("The value is too long."), field=column)
            if "\x00" in value or any(0xD800 <= ord(c) <= 0xDFFF for c in value):
                raise DomainError(_("The text contains characters that cannot be stored."), field=column)
            entry["values"][column] = value
            (entry.get("formulas") or {}).pop(column, None)
        entry.pop("problem", None)
        if "formulas" in entry and not entry["formulas"]:
            entry.pop("formulas")
        plan = _plan(bulk.rows)
        bulk.rows = plan.as_rows()
        bulk.summary = plan.summary()
        bulk.save(update_fields=["rows", "summary"])
        audit_record(
            obj_type="catalog.bulkchange",
            obj_id=bulk.pk,
            action="row_fixed",
            actor=actor if getattr(actor, "pk", None) else None,
            changes={"row": [None, row_number], **{k: [None, v[:200]] for k, v in values.items()}},
        )
    return next(r for r in bulk.rows if r["row"] == row_number)


def import_discard(bulk: BulkChange, actor) -> BulkChange:
    with transaction.atomic():
        bulk = _lock(bulk.pk, kind=BulkChange.Kind.IMPORT)
        if bulk.state != BulkChange.State.PREVIEW:
            raise IllegalTransition(_("Only a preview can be discarded."))
        bulk.state = BulkChange.State.DISCARDED
        bulk.save(update_fields=["state"])
    return bulk


def _lock(pk: int, *, kind: str | None = None) -> BulkChange:
    bulk = BulkChange.objects.select_for_update().filter(pk=pk).first()
    if bulk is None or (kind and bulk.kind != kind):
        raise NotFound(_("No such import."))
    return bulk


# --- apply --------------------------------------------------------------------------------------------------


class _Stale(Exception):
    def __init__(self, plan: _Plan, rows: list[int]):
        self.plan = plan
        self.rows = rows


def _fingerprint(entry: dict) -> tuple:
    """What must not differ between the preview and the apply (messages may be in another language)."""
    columns = sorted(e["column"] for e in entry["errors"])
    return (entry["action"], json.dumps(entry["changes"], sort_keys=True, default=str), columns)


def import_apply(bulk: BulkChange, actor, *, skip_errors: bool = False) -> BulkChange:
    """Apply the preview in one transaction (see the module's docstring). Returns the applied BulkChange."""
    pk = bulk.pk
    try:
        with transaction.atomic():
            bulk = _lock(pk, kind=BulkChange.Kind.IMPORT)
            if bulk.state != BulkChange.State.PREVIEW:
                raise IllegalTransition(
                    _("This import is %(state)s already; it can be applied only once.")
                    % {"state": bulk.get_state_display()}
                )
            plan = _plan(bulk.rows, lock=True)
            fresh = plan.as_rows()
            stale = [
                new["row"]
                for old, new in zip(bulk.rows, fresh, strict=True)
                if _fingerprint(old) != _fingerprint(new)
            ]
            if stale:
                raise _Stale(plan, stale)
            errors = [r.number for r in plan.rows if r.errors]
            if errors and not skip_errors:
                raise DomainError(
                    _(
                        "%(n)s rows have errors (first: row %(row)s). Fix them in the preview, or apply the valid "
                        "rows only and skip these."
                    )
                    % {"n": len(errors), "row": errors[0]},
                    code="rows_have_errors",
                    rows=errors[:100],
                )
            if not any(r.action in ("create", "update") for r in plan.rows):
                raise DomainError(
                    _("Nothing to apply: no row creates or changes anything."), code="nothing_to_apply"
                )
            undo, touched, counts = _execute(plan, bulk, actor)
            now = timezone.now()
            bulk.state = BulkChange.State.APPLIED
            bulk.applied_at = now
            bulk.undo = undo
            bulk.rows = fresh
            bulk.summary = {**plan.summary(), "applied": counts, "skipped": len(errors)}
            bulk.params = {**bulk.params, "skip_errors": skip_errors, "product_ids": sorted(touched)}
            bulk.save(update_fields=["state", "applied_at", "undo", "rows", "summary", "params"])
            audit_record(
                obj_type="catalog.bulkchange",
                obj_id=bulk.pk,
                action="applied",
                actor=actor if getattr(actor, "pk", None) else None,
                changes={"created": [None, counts["created"]], "updated": [None, counts["updated"]]},
                reason=bulk.title,
            )
            _after_commit(touched)
    except _Stale as exc:
        _refresh(pk, exc.plan)
        raise Conflict(
            _(
                "The catalog changed since the preview (rows %(rows)s). Nothing was applied; the preview now "
                "shows the current state: check it and apply again."
            )
            % {"rows": ", ".join(str(n) for n in exc.rows[:20])},
            code="stale_preview",
            rows=exc.rows[:100],
        )
    except IntegrityError:
        stored = BulkChange.objects.get(pk=pk).rows
        plan = _plan(stored)
        _refresh(pk, plan)
        fresh = plan.as_rows()
        taken = [
            new["row"]
            for old, new in zip(stored, fresh, strict=True)
            if _fingerprint(old) != _fingerprint(new)
        ]
        raise Conflict(
            _(
                "Someone else created or changed the same products while this import was being applied. Nothing "
                "was applied; the preview now shows the current state: check it and apply again."
            ),
            code="stale_preview",
            rows=taken,
        )
    return bulk


def _refresh(pk: int, plan: _Plan) -> None:
    BulkChange.objects.filter(pk=pk, state=BulkChange.State.PREVIEW).update(
        rows=plan.as_rows(), summary=plan.summary()
    )


def _after_commit(product_ids: Iterable[int]) -> None:
    ids = sorted(set(product_ids))
    if not ids:
        return
    from .audit import audit_soon

    audit_soon(ids)


def _json(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    return value


PRODUCT_FIELDS = (
    "name",
    "status",
    "category_id",
    "brand",
    "manufacturer_id",
    "description_html",
    "perishable",
    "safety_info",
)
VARIANT_FIELDS = (
    "name",
    "ean",
    "vat_rate",
    "cost_price",
    "weight_kg",
    "length_cm",
    "width_cm",
    "height_cm",
    "mpn",
    "attributes",
)


class _Resolver:
    """Categories and manufacturers by name, created when new (recorded for undo)."""

    def __init__(self, catalog: _Catalog, actor, undo: list):
        self.catalog = catalog
        self.actor = actor
        self.undo = undo
        self._categories: dict[tuple, int] = {}

    def category(self, path: tuple[str, ...]) -> int | None:
        if not path:
            return None
        key = tuple(p.casefold() for p in path)
        if key in self._categories:
            return self._categories[key]
        parent: int | None = None
        for depth, name in enumerate(path, start=1):
            sub = key[:depth]
            if sub in self._categories:
                parent = self._categories[sub]
                continue
            found = Category.objects.filter(parent_id=parent, name__iexact=name).order_by("pk").first()
            if found is None:
                from .services import category_create

                found = category_create(name=name, parent_id=parent, actor=self.actor)
                self.undo.append({"t": "category_new", "id": found.pk})
            self._categories[sub] = parent = found.pk
        return parent

    def manufacturer(self, name: str) -> int | None:
        if not name:
            return None
        found = Manufacturer.objects.filter(name__iexact=name).first()
        if found is None:
            from .services import manufacturer_save

            found = manufacturer_save(data={"name": name}, actor=self.actor).manufacturer
            self.undo.append({"t": "manufacturer_new", "id": found.pk})
        return found.pk


def _product_fields(values: dict[str, Any], resolver: _Resolver) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for column, value in values.items():
        if column == "product_name":
            out["name"] = value
        elif column == "category":
            out["category_id"] = resolver.category(value)
        elif column == "manufacturer":
            out["manufacturer_id"] = resolver.manufacturer(value)
        elif column in ("status", "brand", "description_html", "perishable", "safety_info"):
            out[column] = value
    return out


def _execute(plan: _Plan, bulk: BulkChange, actor) -> tuple[list, set[int], dict]:
    from .prices import price_set_many

    who = actor if getattr(actor, "pk", None) else None
    undo: list[dict] = []
    prices: list[dict] = []  # recorded at the end, in one price_set_many (the history, then Variant.price)
    touched: set[int] = set()
    entries: list[AuditEntry] = []
    now = timezone.now()
    counts = {"created": 0, "updated": 0, "products_created": 0}
    resolver = _Resolver(plan.catalog, who, undo)
    reason = _("import #%(id)s %(title)s") % {"id": bulk.pk, "title": bulk.title}

    def audit(obj_type: str, obj_id: int, action: str, changes: dict) -> None:
        entries.append(
            AuditEntry(
                at=now,
                actor=who,
                actor_label=actor_label(who),
                object_type=obj_type,
                object_id=str(obj_id),
                action=action,
                changes=changes,
                reason=reason[:500],
            )
        )

    work = []
    for target in plan.targets.values():
        rows = [r for r in target.rows if not r.errors and r.action in ("create", "update")]
        if rows:
            product_changes = {c: v for r in rows for c, v in r.changes.items() if c in PRODUCT_COLUMNS}
            work.append((target, rows, product_changes))

    # new products, inserted together
    new_products = []
    for target, _rows, _changes in work:
        if target.product is None:
            fields = _product_fields(target.values, resolver)
            fields.setdefault("status", Product.Status.ACTIVE)
            new_products.append(Product(**fields, created_at=now, updated_at=now))
    Product.objects.bulk_create(new_products, batch_size=500)
    created = iter(new_products)

    pending: list[tuple[_RowPlan, Variant]] = []
    for target, rows, product_changes in work:
        if target.product is None:
            product = next(created)
            undo.append({"t": "product_new", "id": product.pk})
            counts["products_created"] += 1
            audit("catalog.product", product.pk, "created", product_changes)
        else:
            product = Product.objects.select_for_update().get(pk=target.product.pk)
            wanted = {c: target.values[c] for c in product_changes if c != "image_urls"}
            fields = _product_fields(wanted, resolver)
            if fields:
                undo.append(
                    {
                        "t": "product",
                        "id": product.pk,
                        "before": {f: getattr(product, f) for f in fields},
                        "after": dict(fields),
                    }
                )
                for f, v in fields.items():
                    setattr(product, f, v)
                product.updated_at = now
                product.save(update_fields=[*fields, "updated_at"])
                audit(
                    "catalog.product",
                    product.pk,
                    "updated",
                    {c: v for c, v in product_changes.items() if c != "image_urls"},
                )
        touched.add(product.pk)
        if "image_urls" in product_changes:
            _set_images(product, target.values["image_urls"], undo)
            if target.product is not None:
                audit(
                    "catalog.product",
                    product.pk,
                    "images_changed",
                    {"image_urls": product_changes["image_urls"]},
                )
        for r in rows:
            if r.variant is None:
                pending.append((r, _new_variant(r, product)))
                counts["created"] += 1
            else:
                _update_variant(r, undo, audit, prices)
                counts["updated"] += 1

    # new variants, inserted together (a SKU created meanwhile by someone else: IntegrityError, all rolled back)
    Variant.objects.bulk_create([v for _r, v in pending], batch_size=500)
    for r, variant in pending:
        undo.append({"t": "variant_new", "id": variant.pk, "sku": variant.sku})
        prices.append({"variant_id": variant.pk, "price": r.parsed["price"]})
        audit("catalog.variant", variant.pk, "created", _variant_changes_only(r))
        _offers(r, variant, undo, prices)
    if prices:
        price_set_many(prices, source="import", actor=who, bulk_change=bulk)
    audit_record_many(entries)
    return undo, touched, counts


def _variant_changes_only(r: _RowPlan) -> dict:
    return {c: v for c, v in r.changes.items() if c not in PRODUCT_COLUMNS}


def _variant_fields(r: _RowPlan) -> tuple[dict[str, Any], dict[str, str]]:
    changes = _variant_changes_only(r)
    fields: dict[str, Any] = {}
    for column in VARIANT_COLUMNS:
        if column in r.parsed and column in changes and column != "price":
            fields["name" if column == "variant_name" else column] = r.parsed[column]
    attr_changes = {c[len(io.ATTR_PREFIX) :]: r.parsed[c] for c in changes if c.startswith(io.ATTR_PREFIX)}
    return fields, attr_changes


def _new_variant(r: _RowPlan, product: Product) -> Variant:
    fields, attr_changes = _variant_fields(r)
    return Variant(
        product=product,
        sku=r.sku,
        price=r.parsed["price"],
        name=fields.pop("name", None) or product.name,
        attributes={k: v for k, v in attr_changes.items() if v},
        **fields,
    )


def _update_variant(r: _RowPlan, undo: list, audit, prices: list[dict]) -> None:
    variant = r.variant  # read with select_for_update in this transaction by _plan(lock=True)
    assert variant is not None
    changes = _variant_changes_only(r)
    fields, attr_changes = _variant_fields(r)
    if attr_changes:
        attributes = dict(variant.attributes or {})
        for k, v in attr_changes.items():
            if v:
                attributes[k] = v
            else:
                attributes.pop(k, None)
        fields["attributes"] = attributes
    entry: dict[str, Any] = {
        "t": "variant",
        "id": variant.pk,
        "before": {f: _json(getattr(variant, f)) for f in fields},
    }
    entry["after"] = {f: _json(v) for f, v in fields.items()}
    if "price" in changes:
        entry["price"] = str(variant.price)
        entry["new_price"] = str(r.parsed["price"])
    undo.append(entry)
    if fields:
        for f, v in fields.items():
            setattr(variant, f, v)
        variant.save(update_fields=list(fields))
    if "price" in changes:
        prices.append({"variant_id": variant.pk, "price": r.parsed["price"]})
    if changes:
        audit("catalog.variant", variant.pk, "updated", changes)
    _offers(r, variant, undo, prices)


def _offers(r: _RowPlan, variant: Variant, undo: list, prices: list[dict]) -> None:
    for column in r.changes:
        if not column.startswith(io.PRICE_PREFIX):
            continue
        channel, price = column[len(io.PRICE_PREFIX) :], r.parsed[column]
        offer = Offer.objects.select_for_update().filter(variant_id=variant.pk, channel=channel).first()
        if offer is None:
            offer = Offer.objects.create(variant=variant, channel=channel, price=None)
            undo.append({"t": "offer_new", "id": offer.pk})
        else:
            undo.append({"t": "offer", "id": offer.pk, "price": _json(offer.price)})
        if price is None:
            Offer.objects.filter(pk=offer.pk).update(price=None, updated_at=timezone.now())
        else:
            prices.append({"variant_id": variant.pk, "price": price, "channel": channel})


def _set_images(product: Product, urls: list[str], undo: list) -> None:
    current = list(
        ProductImage.objects.filter(product=product, variant__isnull=True, file="").exclude(source_url="")
    )
    by_url = {img.source_url: img for img in current}
    created = []
    for img in current:
        if img.source_url not in urls:
            undo.append(
                {
                    "t": "image_deleted",
                    "data": {
                        "product_id": product.pk,
                        "source_url": img.source_url,
                        "alt": img.alt,
                        "position": img.position,
                        "width": img.width,
                        "height": img.height,
                        "size_bytes": img.size_bytes,
                        "content_type": img.content_type,
                        "error": img.error,
                    },
                }
            )
            img.delete()
    for position, url in enumerate(urls):
        img = by_url.get(url)
        if img is None:
            img = ProductImage.objects.create(product=product, source_url=url, position=position)
            undo.append({"t": "image_new", "id": img.pk})
            created.append(img.pk)
        elif img.position != position:
            undo.append({"t": "image_position", "id": img.pk, "position": img.position})
            ProductImage.objects.filter(pk=img.pk).update(position=position)
    if created:
        _queue_image_checks(created)


def _queue_image_checks(image_ids: list[int]) -> None:
    """Ask the images module to read the new URLs' pixel sizes in the worker (after commit)."""
    from .images import queue_url_check

    queue_url_check(image_ids)


# --- undo ---------------------------------------------------------------------------------------------------


def last_applied() -> BulkChange | None:
    return (
        BulkChange.objects.filter(state=BulkChange.State.APPLIED)
        .defer("rows", "undo")
        .order_by("-applied_at", "-id")
        .first()
    )


def check_last(bulk: BulkChange) -> None:
    """Refuse unless `bulk` is the last applied bulk change."""
    if bulk.state != BulkChange.State.APPLIED:
        raise IllegalTransition(
            _("%(what)s #%(id)s is %(state)s; only an applied change can be undone.")
            % {"what": bulk.get_kind_display(), "id": bulk.pk, "state": bulk.get_state_display()}
        )
    last = last_applied()
    if last is not None and last.pk != bulk.pk:
        raise IllegalTransition(
            _("Only the last bulk change can be undone: that is %(what)s #%(id)s (%(title)s). Undo it first.")
            % {"what": last.get_kind_display(), "id": last.pk, "title": last.title},
            code="not_last",
            last_id=last.pk,
        )


def bulk_undo(bulk: BulkChange, actor) -> BulkChange:
    """Undo the last applied bulk change, whatever its kind (an import or a repricing)."""
    if bulk.kind == BulkChange.Kind.REPRICE:
        check_last(bulk)
        from . import reprice

        result = reprice.reprice_undo(bulk, actor=actor)
        return result if isinstance(result, BulkChange) else BulkChange.objects.get(pk=bulk.pk)
    return import_undo(bulk, actor)


def _delete_or_keep(model, ids: list[int]) -> list[int]:
    """Delete these rows (all at once when nothing refers to any of them, else one by one); the ids of
    those something refers to (PROTECT / RESTRICT) are returned, not deleted."""
    if not ids:
        return []
    try:
        with transaction.atomic():
            model.objects.filter(pk__in=ids).delete()
        return []
    except (ProtectedError, RestrictedError, IntegrityError):
        pass
    kept = []
    for pk in ids:
        try:
            with transaction.atomic():
                model.objects.filter(pk=pk).delete()
        except (ProtectedError, RestrictedError, IntegrityError):
            kept.append(pk)
    return kept


DECIMAL_FIELDS = {"cost_price", "weight_kg", "length_cm", "width_cm", "height_cm"}


def _refuse_if_changed_since(by_kind: dict[str, list[dict]]) -> None:
    """Undo would overwrite edits made after the import: refuse (Conflict) and name what changed."""
    changed: list[str] = []
    variant_entries = [e for e in by_kind.get("variant", []) if "after" in e]
    variants = Variant.objects.in_bulk([e["id"] for e in variant_entries])
    for e in variant_entries:
        v = variants.get(e["id"])
        if v is None:
            continue
        fields_differ = any(_json(getattr(v, f)) != after for f, after in e["after"].items())
        price_differs = "new_price" in e and v.price != Decimal(e["new_price"])
        if fields_differ or price_differs:
            changed.append(v.sku)
    product_entries = [e for e in by_kind.get("product", []) if "after" in e]
    products = Product.objects.in_bulk([e["id"] for e in product_entries])
    for e in product_entries:
        p = products.get(e["id"])
        if p is not None and any(getattr(p, f) != after for f, after in e["after"].items()):
            changed.append(p.name)
    if changed:
        raise Conflict(
            _(
                "Changed by hand since this import, so undo would overwrite those edits; nothing was undone. "
                "Changed: %(what)s"
            )
            % {"what": ", ".join(changed[:20]) + (" …" if len(changed) > 20 else "")},
            code="changed_since",
            changed=changed[:100],
        )


def import_undo(bulk: BulkChange, actor) -> BulkChange:
    """Revert an applied import (the last applied bulk change only): fields back to what they were, prices
    back through the price history (new entries; nothing in it is deleted), created variants and products
    deleted, or archived when something refers to them (an order line, a stock movement)."""
    from .prices import price_set_many

    who = actor if getattr(actor, "pk", None) else None
    now = timezone.now()
    with transaction.atomic():
        bulk = _lock(bulk.pk, kind=BulkChange.Kind.IMPORT)
        check_last(bulk)
        entries = list(reversed(bulk.undo or []))
        by_kind: dict[str, list[dict]] = {}
        for e in entries:
            by_kind.setdefault(e["t"], []).append(e)
        touched: set[int] = set(bulk.params.get("product_ids") or [])
        prices: list[dict] = []
        _refuse_if_changed_since(by_kind)

        # images and offers first (they belong to variants and products restored or removed below)
        ProductImage.objects.filter(pk__in=[e["id"] for e in by_kind.get("image_new", [])]).delete()
        existing_products = set(
            Product.objects.filter(
                pk__in=[e["data"]["product_id"] for e in by_kind.get("image_deleted", [])]
            ).values_list("pk", flat=True)
        )
        ProductImage.objects.bulk_create(
            [
                ProductImage(**e["data"])
                for e in by_kind.get("image_deleted", [])
                if e["data"]["product_id"] in existing_products
            ]
        )
        for e in by_kind.get("image_position", []):
            ProductImage.objects.filter(pk=e["id"]).update(position=e["position"])
        Offer.objects.filter(pk__in=[e["id"] for e in by_kind.get("offer_new", [])]).delete()
        offers = Offer.objects.in_bulk([e["id"] for e in by_kind.get("offer", [])])
        for e in by_kind.get("offer", []):
            offer = offers.get(e["id"])
            if offer is None:
                continue
            if e["price"] is None:
                Offer.objects.filter(pk=offer.pk).update(price=None, updated_at=now)
            elif offer.price is None or offer.price != Decimal(e["price"]):
                prices.append(
                    {"variant_id": offer.variant_id, "price": Decimal(e["price"]), "channel": offer.channel}
                )

        # changed variants and products: the fields as they were
        variant_entries = by_kind.get("variant", [])
        variants = {
            v.pk: v
            for v in Variant.objects.select_for_update().filter(pk__in=[e["id"] for e in variant_entries])
        }
        changed_variants, fields_v = [], set()
        audit_entries = []
        for e in variant_entries:
            variant = variants.get(e["id"])
            if variant is None:
                continue
            for f, v in e["before"].items():
                setattr(variant, f, Decimal(v) if f in DECIMAL_FIELDS and v is not None else v)
                fields_v.add(f)
            if e["before"]:
                changed_variants.append(variant)
            if e.get("price") is not None and variant.price != Decimal(e["price"]):
                prices.append({"variant_id": variant.pk, "price": Decimal(e["price"])})
            audit_entries.append(
                AuditEntry(
                    at=now, actor=who, actor_label=actor_label(who), object_type="catalog.variant",
                    object_id=str(variant.pk), action="import_undone", changes={}, reason=f"#{bulk.pk}",
                )
            )  # fmt: skip
        if changed_variants:
            Variant.objects.bulk_update(changed_variants, sorted(fields_v), batch_size=500)
        restored = len(audit_entries)
        product_entries = by_kind.get("product", [])
        products = {
            p.pk: p
            for p in Product.objects.select_for_update().filter(pk__in=[e["id"] for e in product_entries])
        }
        for e in product_entries:
            product = products.get(e["id"])
            if product is None:
                continue
            for f, v in e["before"].items():
                setattr(product, f, v)
            product.updated_at = now
            product.save(update_fields=[*e["before"], "updated_at"])
            touched.add(product.pk)
        if prices:
            price_set_many(prices, source="import-undo", actor=who, bulk_change=bulk)

        # what the import created: deleted, or archived when something refers to it
        new_variant_ids = [e["id"] for e in by_kind.get("variant_new", [])]
        kept_ids = _delete_or_keep(Variant, new_variant_ids)
        if kept_ids:
            Variant.objects.filter(pk__in=kept_ids).update(active=False)
        kept = list(Variant.objects.filter(pk__in=kept_ids).order_by("sku").values_list("sku", flat=True))
        deleted = len(new_variant_ids) - len(kept_ids)
        new_product_ids = [e["id"] for e in by_kind.get("product_new", [])]
        with_variants = set(
            Variant.objects.filter(product_id__in=new_product_ids).values_list("product_id", flat=True)
        )
        empty = [pk for pk in new_product_ids if pk not in with_variants]
        archive = sorted(with_variants | set(_delete_or_keep(Product, empty)))
        Product.objects.filter(pk__in=archive).update(status=Product.Status.ARCHIVED, updated_at=now)
        touched.difference_update(set(empty) - set(archive))
        touched.update(archive)
        for e in by_kind.get("category_new", []):
            cat = Category.objects.filter(pk=e["id"]).first()
            if cat is not None and not cat.products.exists() and not cat.children.exists():
                _delete_or_keep(Category, [cat.pk])
        for e in by_kind.get("manufacturer_new", []):
            m = Manufacturer.objects.filter(pk=e["id"]).first()
            if m is not None and not m.products.exists():
                _delete_or_keep(Manufacturer, [m.pk])
        audit_record_many(audit_entries)

        bulk.state = BulkChange.State.UNDONE
        bulk.undone_at = now
        messages = []
        if kept:
            messages.append(
                _(
                    "%(n)s new variants are referenced by orders or stock and were archived instead of "
                    "deleted: %(skus)s"
                )
                % {"n": len(kept), "skus": ", ".join(kept[:20])}
            )
        bulk.summary = {
            **bulk.summary,
            "undo": {"restored": restored, "deleted": deleted, "archived": kept, "messages": messages},
        }
        bulk.save(update_fields=["state", "undone_at", "summary"])
        audit_record(
            obj_type="catalog.bulkchange",
            obj_id=bulk.pk,
            action="undone",
            actor=who,
            changes={"restored": [None, restored], "deleted": [None, deleted], "archived": [None, kept]},
            reason=bulk.title,
        )
        touched = set(Product.objects.filter(pk__in=touched).values_list("pk", flat=True))
        _after_commit(touched)
    return bulk


# --- reads --------------------------------------------------------------------------------------------------


def bulk_changes(limit: int = 100):
    return (
        BulkChange.objects.select_related("created_by")
        .defer("rows", "undo")
        .order_by("-created_at", "-id")[:limit]
    )


def bulk_get(bulk_id: int, *, kind: str | None = None) -> BulkChange:
    bulk = BulkChange.objects.filter(pk=bulk_id).first()
    if bulk is None or (kind is not None and bulk.kind != kind):
        raise NotFound(_("No such import."))
    return bulk
