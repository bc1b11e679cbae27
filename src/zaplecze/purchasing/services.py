"""Purchasing writes: suppliers and their items, reorder parameters and the forecast run, purchase orders
(create, edit, send by e-mail, cancel), receiving deliveries into stock, and the overdue alert.

Every function takes keyword arguments and an `actor`; each is one transaction (nothing half-written).
Side effects (the e-mail to the supplier, the overdue digest) go through the service module's outbox,
which sends only after commit and retries on a mail-server failure."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import override
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.pl import nip as stdnum_nip

from zaplecze.catalog.models import Variant
from zaplecze.core.businesstime import add_business_days, local_today
from zaplecze.core.errors import Conflict, DomainError, IllegalTransition, NotFound
from zaplecze.core.models import User
from zaplecze.core.permissions import Role
from zaplecze.core.services import audit_record
from zaplecze.inventory import services as stock
from zaplecze.inventory.models import StockMovement, Warehouse

from . import forecast, selectors
from .models import (
    OPEN_STATUSES,
    PO_TRANSITIONS,
    Discrepancy,
    Language,
    PoSequence,
    POStatus,
    PurchaseOrder,
    PurchaseOrderEvent,
    PurchaseOrderLine,
    PurchasingSettings,
    Receipt,
    ReceiptLine,
    ReorderParameter,
    Supplier,
    SupplierItem,
)

log = logging.getLogger("zaplecze.purchasing")
MAX_QTY = 1_000_000
MAX_LINES = 500


# --- small validators ---------------------------------------------------------------------------------


def _text(value: Any, *, field: str, max_length: int, required: bool = False) -> str:
    value = ("" if value is None else str(value)).strip()
    if required and not value:
        raise DomainError(_("%(field)s is required.") % {"field": field}, field=field, code="required")
    if len(value) > max_length:
        raise DomainError(
            _("%(field)s: at most %(n)s characters.") % {"field": field, "n": max_length},
            field=field,
            code="too_long",
        )
    if "\x00" in value:
        raise DomainError(
            _("%(field)s contains characters that cannot be stored.") % {"field": field}, field=field
        )
    return value


def _int(value: Any, *, field: str, lo: int = 0, hi: int = MAX_QTY, default: int | None = None) -> int:
    if value in (None, "") and default is not None:
        return default
    try:
        n = int(str(value).strip())
    except (TypeError, ValueError):
        raise DomainError(
            _("%(field)s: not a whole number: %(v)s") % {"field": field, "v": str(value)[:30]}, field=field
        )
    if n < lo or n > hi:
        raise DomainError(
            _("%(field)s must be between %(lo)s and %(hi)s (got %(v)s).")
            % {"field": field, "lo": lo, "hi": hi, "v": n},
            field=field,
        )
    return n


def _money(value: Any, *, field: str) -> Decimal:
    try:
        amount = Decimal(str(value).replace(",", ".").replace(" ", "").strip())
    except (InvalidOperation, ValueError):
        raise DomainError(
            _("%(field)s: not an amount: %(v)s") % {"field": field, "v": str(value)[:30]}, field=field
        )
    if not amount.is_finite() or amount < 0 or amount > Decimal("100000000"):
        raise DomainError(_("%(field)s must be between 0 and 100 000 000.") % {"field": field}, field=field)
    if amount != amount.quantize(Decimal("0.01")):
        raise DomainError(_("%(field)s: at most 2 decimal places.") % {"field": field}, field=field)
    return amount.quantize(Decimal("0.01"))


def nip_clean(value: str) -> str:
    """The NIP as 10 digits, or "" when empty. Accepts "PL" prefixes, dashes and spaces; a wrong check digit
    or length is refused."""
    raw = (value or "").strip()
    if not raw:
        return ""
    compact = stdnum_nip.compact(raw)
    try:
        return stdnum_nip.validate(compact)
    except StdnumError:
        raise DomainError(
            _("NIP %(nip)s is not valid (10 digits with a correct check digit, e.g. 526-025-02-74).")
            % {"nip": raw[:20]},
            field="nip",
            code="invalid_nip",
        )


def _j(value: Any) -> Any:
    """JSON-safe copy for audit entries (Decimals and dates as text)."""
    if isinstance(value, dict):
        return {k: _j(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_j(v) for v in value]
    if isinstance(value, Decimal | dt.date):
        return str(value)
    return value


def _event(po: PurchaseOrder, kind: str, actor: User | None, message: str, **data) -> None:
    PurchaseOrderEvent.objects.create(
        purchase_order=po, kind=kind, actor=actor, message=message[:500], data=data
    )


# --- settings -----------------------------------------------------------------------------------------


def settings_get() -> PurchasingSettings:
    obj, _created = PurchasingSettings.objects.get_or_create(pk=1)
    return obj


def settings_update(
    *,
    review_days: int,
    service_level: Decimal | float | str,
    history_days: int,
    default_lead_time_days: int,
    actor: User | None,
) -> PurchasingSettings:
    review = _int(review_days, field="review_days", lo=0, hi=365)
    history = _int(history_days, field="history_days", lo=7, hi=730)
    lead = _int(default_lead_time_days, field="default_lead_time_days", lo=0, hi=365)
    try:
        level = Decimal(str(service_level).replace(",", "."))
    except InvalidOperation:
        raise DomainError(_("Service level: not a number"), field="service_level")
    if level > 1:  # typed as a percentage
        level = level / 100
    if not (Decimal("0.5") <= level <= Decimal("0.999")):
        raise DomainError(_("Service level must be between 50% and 99.9%."), field="service_level")
    with transaction.atomic():
        obj = settings_get()
        before = {
            "review_days": obj.review_days,
            "service_level": str(obj.service_level),
            "history_days": obj.history_days,
            "default_lead_time_days": obj.default_lead_time_days,
        }
        obj.review_days, obj.history_days, obj.default_lead_time_days = review, history, lead
        obj.service_level = level.quantize(Decimal("0.001"))
        obj.save(update_fields=["review_days", "service_level", "history_days", "default_lead_time_days"])
        audit_record(
            obj_type="purchasing.settings", obj_id=1, action="update", actor=actor, changes={"before": before}
        )
    return obj


# --- suppliers ----------------------------------------------------------------------------------------

SUPPLIER_FIELDS = (
    "name",
    "nip",
    "email",
    "phone",
    "address",
    "currency",
    "language",
    "lead_time_days",
    "notes",
    "active",
)


def _supplier_values(data: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    out["name"] = _text(data.get("name"), field="name", max_length=200, required=True)
    out["nip"] = nip_clean(str(data.get("nip") or ""))
    email = _text(data.get("email"), field="email", max_length=254)
    if email:
        try:
            validate_email(email)
        except ValidationError:
            raise DomainError(_("E-mail %(e)s is not a valid address.") % {"e": email[:60]}, field="email")
    out["email"] = email
    out["phone"] = _text(data.get("phone"), field="phone", max_length=40)
    out["address"] = _text(data.get("address"), field="address", max_length=1000)
    currency = _text(data.get("currency") or "PLN", field="currency", max_length=3).upper()
    if not re.fullmatch(r"[A-Z]{3}", currency):
        raise DomainError(_("Currency must be a three-letter ISO code such as PLN or EUR."), field="currency")
    out["currency"] = currency
    language = str(data.get("language") or Language.PL)
    if language not in Language.values:
        raise DomainError(_("Language must be pl or en."), field="language")
    out["language"] = language
    out["lead_time_days"] = _int(data.get("lead_time_days"), field="lead_time_days", lo=0, hi=365, default=5)
    out["notes"] = _text(data.get("notes"), field="notes", max_length=5000)
    out["active"] = bool(data.get("active", True))
    return out


def supplier_create(*, data: dict[str, Any], actor: User | None) -> Supplier:
    values = _supplier_values(data)
    with transaction.atomic():
        supplier = Supplier.objects.create(**values)
        audit_record(
            obj_type="purchasing.supplier",
            obj_id=supplier.pk,
            action="create",
            actor=actor,
            changes=_j(values),
        )
    return supplier


def supplier_update(*, supplier_id: int, data: dict[str, Any], actor: User | None) -> Supplier:
    with transaction.atomic():
        supplier = Supplier.objects.select_for_update().filter(pk=supplier_id).first()
        if supplier is None:
            raise NotFound(_("Supplier not found"))
        current = {f: getattr(supplier, f) for f in SUPPLIER_FIELDS}
        values = _supplier_values({**current, **data})
        changes = {k: [current[k], v] for k, v in values.items() if current[k] != v}
        for k, v in values.items():
            setattr(supplier, k, v)
        supplier.save(update_fields=list(values))
        if changes:
            audit_record(
                obj_type="purchasing.supplier",
                obj_id=supplier.pk,
                action="update",
                actor=actor,
                changes=_j(changes),
            )
    return supplier


def _variant_by_ref(*, variant_id: int | None = None, sku: str = "", field_name: str = "variant") -> Variant:
    variant = None
    if variant_id:
        variant = Variant.objects.filter(pk=variant_id).first()
    elif sku:
        variant = Variant.objects.filter(sku=sku.strip()).first() or (
            Variant.objects.filter(ean=sku.strip()).first() if sku.strip() else None
        )
    if variant is None:
        raise DomainError(
            _("Unknown variant %(ref)s (give a SKU or EAN from the catalogue).")
            % {"ref": variant_id or sku or "—"},
            field=field_name,
            code="unknown_variant",
        )
    return variant


def supplier_item_save(
    *,
    supplier_id: int,
    variant_id: int | None = None,
    sku: str = "",
    supplier_sku: str = "",
    unit_cost: Any,
    lead_time_days: Any = None,
    min_order_qty: Any = 1,
    pack_size: Any = 1,
    preferred: bool = False,
    actor: User | None,
) -> SupplierItem:
    """Create or update (supplier, variant). Marking it preferred unmarks the variant's other suppliers."""
    supplier = Supplier.objects.filter(pk=supplier_id).first()
    if supplier is None:
        raise NotFound(_("Supplier not found"))
    variant = _variant_by_ref(variant_id=variant_id, sku=sku, field_name="sku")
    values = {
        "supplier_sku": _text(supplier_sku, field="supplier_sku", max_length=64),
        "unit_cost": _money(unit_cost, field="unit_cost"),
        "lead_time_days": None
        if lead_time_days in (None, "")
        else _int(lead_time_days, field="lead_time_days", lo=0, hi=365),
        "min_order_qty": _int(min_order_qty, field="min_order_qty", lo=1, default=1),
        "pack_size": _int(pack_size, field="pack_size", lo=1, hi=100_000, default=1),
        "preferred": bool(preferred),
    }
    with transaction.atomic():
        if values["preferred"]:
            SupplierItem.objects.filter(variant=variant, preferred=True).exclude(supplier=supplier).update(
                preferred=False
            )
        item, created = SupplierItem.objects.update_or_create(
            supplier=supplier, variant=variant, defaults=values
        )
        audit_record(
            obj_type="purchasing.supplieritem",
            obj_id=item.pk,
            action="create" if created else "update",
            actor=actor,
            changes=_j({**values, "variant": variant.sku, "supplier": supplier.name}),
        )
    return item


def supplier_item_delete(*, item_id: int, actor: User | None) -> None:
    with transaction.atomic():
        item = SupplierItem.objects.select_related("variant").filter(pk=item_id).first()
        if item is None:
            raise NotFound(_("Supplier item not found"))
        audit_record(
            obj_type="purchasing.supplieritem",
            obj_id=item.pk,
            action="delete",
            actor=actor,
            changes={"variant": item.variant.sku, "supplier_id": item.supplier_id},
        )
        item.delete()


# --- reorder parameters and the forecast --------------------------------------------------------------


def reorder_parameter_set(
    *,
    variant_id: int,
    warehouse_id: int | None = None,
    mode: str,
    reorder_point: Any = None,
    safety_stock: Any = None,
    actor: User | None,
) -> ReorderParameter:
    """Switch a variant's parameters to manual (with the person's numbers) or back to computed (the forecast's
    numbers are applied at once)."""
    if mode not in ReorderParameter.Mode.values:
        raise DomainError(_("Mode must be auto or manual."), field="mode")
    variant = _variant_by_ref(variant_id=variant_id)
    warehouse = None
    if warehouse_id:
        warehouse = Warehouse.objects.filter(pk=warehouse_id).first()
        if warehouse is None:
            raise DomainError(_("Unknown warehouse"), field="warehouse")
    with transaction.atomic():
        param, _created = ReorderParameter.objects.get_or_create(variant=variant, warehouse=warehouse)
        before = {
            "mode": param.mode,
            "reorder_point": param.reorder_point,
            "safety_stock": param.safety_stock,
        }
        param.mode = mode
        if mode == ReorderParameter.Mode.MANUAL:
            param.reorder_point = _int(reorder_point, field="reorder_point")
            param.safety_stock = _int(safety_stock, field="safety_stock", default=0)
            if param.safety_stock > param.reorder_point:
                raise DomainError(_("Safety stock cannot be above the reorder point."), field="safety_stock")
        else:
            param.reorder_point = param.computed_reorder_point
            param.safety_stock = param.computed_safety_stock
        param.updated_at = timezone.now()
        param.save(update_fields=["mode", "reorder_point", "safety_stock", "updated_at"])
        audit_record(
            obj_type="purchasing.reorderparameter",
            obj_id=param.pk,
            action="set",
            actor=actor,
            changes={
                "before": before,
                "after": {
                    "mode": mode,
                    "reorder_point": param.reorder_point,
                    "safety_stock": param.safety_stock,
                },
            },
        )
    if mode == ReorderParameter.Mode.AUTO and param.computed_at is None:
        reorder_compute(param_ids=[param.pk])
        param.refresh_from_db()
    return param


@dataclass
class ComputeReport:
    computed: int = 0
    created: int = 0
    by_method: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return {
            "computed": self.computed,
            "created": self.created,
            "by_method": self.by_method,
            "seconds": round(self.seconds, 2),
        }


def _ensure_parameters(variant_ids: Iterable[int] | None) -> int:
    """Computed parameters (all warehouses) for every active variant that has a supplier or sales."""
    if variant_ids is not None:
        wanted = set(variant_ids)
    else:
        wanted = set(SupplierItem.objects.values_list("variant_id", flat=True).distinct())
        wanted |= set(
            StockMovement.objects.filter(kind=StockMovement.Kind.SALE)
            .values_list("variant_id", flat=True)
            .distinct()
        )
        wanted &= set(Variant.objects.filter(active=True).values_list("pk", flat=True))
    have = set(
        ReorderParameter.objects.filter(warehouse__isnull=True, variant_id__in=wanted).values_list(
            "variant_id", flat=True
        )
    )
    missing = sorted(wanted - have)
    ReorderParameter.objects.bulk_create(
        [ReorderParameter(variant_id=v) for v in missing], batch_size=500, ignore_conflicts=True
    )
    return len(missing)


def reorder_compute(
    *,
    variant_ids: Sequence[int] | None = None,
    param_ids: Sequence[int] | None = None,
    today: dt.date | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ComputeReport:
    """Forecast each variant's demand and write its reorder point, safety stock and the explanation. Manual
    parameters keep their numbers (the forecast is stored beside them). Nightly by the worker; on demand
    from the screen, the API and `zaplecze purchasing forecast`."""
    import time

    t0 = time.monotonic()
    report = ComputeReport()
    today = today or local_today()
    conf = settings_get()
    if param_ids is None:
        report.created = _ensure_parameters(variant_ids)
    qs = ReorderParameter.objects.select_related("variant", "warehouse")
    if param_ids is not None:
        qs = qs.filter(pk__in=list(param_ids))
    elif variant_ids is not None:
        qs = qs.filter(variant_id__in=list(variant_ids))
    params = list(qs.order_by("variant_id", "warehouse_id"))
    vids = {p.variant_id for p in params}
    history = selectors.daily_sales(variant_ids=vids, today=today, days=conf.history_days)
    first_seen = selectors.first_movement_days(variant_ids=vids)
    items = selectors.chosen_supplier_items(vids)
    window_start = today - dt.timedelta(days=conf.history_days)
    service_level = float(conf.service_level)
    total = len(params)
    now = timezone.now()
    for i, param in enumerate(params, 1):
        wh = param.warehouse_id
        first = first_seen.get((param.variant_id, wh)) if wh else first_seen.get((param.variant_id, None))
        start = max(window_start, first) if first else today
        days = (today - start).days
        series_map = history.get((param.variant_id, wh)) if wh else history.get((param.variant_id, None))
        series_map = series_map or {}
        series = [float(series_map.get(start + dt.timedelta(days=d), 0)) for d in range(days)]
        item = items.get(param.variant_id)
        lead = item.effective_lead_time if item else conf.default_lead_time_days
        arrival = add_business_days(today, lead)
        cover = max(1, (arrival - today).days)
        fc = forecast.forecast_daily(series, horizon=max(cover, 7), first_weekday=start.weekday())
        numbers = forecast.reorder_numbers(fc, cover_days=cover, service_level=service_level)
        steps = list(fc.steps)
        steps.insert(
            1,
            {
                "code": "window",
                "params": {
                    "start": start.isoformat(),
                    "end": (today - dt.timedelta(days=1)).isoformat(),
                    "first_movement": first.isoformat() if first else "",
                },
            },
        )
        steps.append(
            {
                "code": "lead_time",
                "params": {
                    "supplier": item.supplier.name if item else "",
                    "days": lead,
                    "arrival": arrival.isoformat(),
                    "cover": cover,
                },
            }
        )
        steps.extend(numbers.steps)
        if param.mode == ReorderParameter.Mode.MANUAL:
            steps.append({"code": "manual", "params": {"rop": param.reorder_point, "ss": param.safety_stock}})
        param.method = fc.method
        param.daily_rate = Decimal(str(round(fc.daily_rate, 4)))
        param.sigma = Decimal(str(round(fc.sigma, 4)))
        param.lead_time_days = lead
        param.cover_days = cover
        param.lead_time_demand = Decimal(str(round(numbers.lead_time_demand, 3)))
        param.computed_reorder_point = numbers.reorder_point
        param.computed_safety_stock = numbers.safety_stock
        if param.mode == ReorderParameter.Mode.AUTO:
            param.reorder_point = numbers.reorder_point
            param.safety_stock = numbers.safety_stock
        param.explanation = steps
        param.computed_at = now
        param.save(
            update_fields=[
                "method",
                "daily_rate",
                "sigma",
                "lead_time_days",
                "cover_days",
                "lead_time_demand",
                "computed_reorder_point",
                "computed_safety_stock",
                "reorder_point",
                "safety_stock",
                "explanation",
                "computed_at",
            ]
        )
        report.computed += 1
        report.by_method[fc.method] = report.by_method.get(fc.method, 0) + 1
        if progress:
            progress(i, total)
    report.seconds = time.monotonic() - t0
    return report


# --- purchase orders ----------------------------------------------------------------------------------


def _next_number(year: int) -> str:
    for _attempt in range(3):
        seq = PoSequence.objects.filter(year=year).first()
        if seq is None:
            try:
                with transaction.atomic():
                    PoSequence.objects.create(year=year, last=0)
            except IntegrityError:
                pass
        PoSequence.objects.filter(year=year).update(last=F("last") + 1)
        last = PoSequence.objects.values_list("last", flat=True).get(year=year)
        number = f"PO/{year}/{last:05d}"
        if not PurchaseOrder.objects.filter(number=number).exists():
            return number
    raise Conflict(_("Could not allocate a purchase order number; try again."))


@dataclass
class LineIn:
    variant_id: int | None = None
    sku: str = ""
    quantity: Any = 1
    unit_cost: Any = None
    explanation: list = field(default_factory=list)


def _build_lines(supplier: Supplier, lines: Sequence[LineIn | dict]) -> list[PurchaseOrderLine]:
    if not lines:
        raise DomainError(_("A purchase order needs at least one line."), field="lines")
    if len(lines) > MAX_LINES:
        raise DomainError(_("At most %(n)s lines.") % {"n": MAX_LINES}, field="lines")
    out: list[PurchaseOrderLine] = []
    seen: dict[int, int] = {}
    for i, raw in enumerate(lines):
        line = raw if isinstance(raw, LineIn) else LineIn(**raw)
        where = f"lines[{i}]"
        variant = _variant_by_ref(variant_id=line.variant_id, sku=line.sku or "", field_name=f"{where}.sku")
        if variant.pk in seen:
            raise DomainError(
                _("Line %(n)s: %(sku)s is already on line %(m)s; change that line's quantity instead.")
                % {"n": i + 1, "sku": variant.sku, "m": seen[variant.pk] + 1},
                field=f"{where}.sku",
            )
        seen[variant.pk] = i
        qty = _int(line.quantity, field=f"{where}.quantity", lo=1)
        item = SupplierItem.objects.filter(supplier=supplier, variant=variant).first()
        if line.unit_cost not in (None, ""):
            cost = _money(line.unit_cost, field=f"{where}.unit_cost")
        elif item is not None:
            cost = item.unit_cost
        elif variant.cost_price is not None:
            cost = variant.cost_price
        else:
            raise DomainError(
                _("Line %(n)s: no unit cost for %(sku)s (the supplier has no price for it); type one in.")
                % {"n": i + 1, "sku": variant.sku},
                field=f"{where}.unit_cost",
            )
        out.append(
            PurchaseOrderLine(
                variant=variant,
                sku=variant.sku,
                ean=variant.ean,
                supplier_sku=item.supplier_sku if item else "",
                name=variant.name[:300],
                quantity=qty,
                unit_cost=cost,
                vat_rate=variant.vat_rate,
                explanation=line.explanation or [],
            )
        )
    return out


def _warehouse(warehouse_id: int | None) -> Warehouse:
    if warehouse_id:
        wh = Warehouse.objects.filter(pk=warehouse_id).first()
        if wh is None:
            raise DomainError(_("Unknown warehouse"), field="warehouse")
        return wh
    return stock.warehouse_default()


def default_expected_date(supplier: Supplier, today: dt.date | None = None) -> dt.date:
    return add_business_days(today or local_today(), supplier.lead_time_days)


def po_create(
    *,
    supplier_id: int,
    lines: Sequence[LineIn | dict],
    warehouse_id: int | None = None,
    expected_date: dt.date | None = None,
    notes: str = "",
    actor: User | None,
) -> PurchaseOrder:
    """A draft purchase order. Unit costs default to the supplier's price (else the variant's cost price);
    the expected date to today + the supplier's lead time in working days."""
    supplier = Supplier.objects.filter(pk=supplier_id).first()
    if supplier is None:
        raise DomainError(_("Unknown supplier"), field="supplier", code="not_found")
    if not supplier.active:
        raise DomainError(_("Supplier %(s)s is inactive.") % {"s": supplier.name}, field="supplier")
    built = _build_lines(supplier, lines)
    wh = _warehouse(warehouse_id)
    notes = _text(notes, field="notes", max_length=2000)
    today = local_today()
    if expected_date is not None and expected_date < today:
        raise DomainError(_("The expected delivery date is in the past."), field="expected_date")
    with transaction.atomic():
        po = PurchaseOrder.objects.create(
            number=_next_number(today.year),
            supplier=supplier,
            warehouse=wh,
            currency=supplier.currency,
            language=supplier.language,
            expected_date=expected_date or default_expected_date(supplier, today),
            notes=notes,
            created_by=actor,
        )
        for line in built:
            line.purchase_order = po
        PurchaseOrderLine.objects.bulk_create(built)
        _event(po, PurchaseOrderEvent.Kind.CREATED, actor, _("Created with %(n)s lines.") % {"n": len(built)})
        audit_record(
            obj_type="purchasing.purchaseorder",
            obj_id=po.pk,
            action="create",
            actor=actor,
            changes={"number": po.number},
        )
    return po


def _lock(po_id: int) -> PurchaseOrder:
    po = (
        PurchaseOrder.objects.select_for_update()
        .select_related("supplier", "warehouse")
        .filter(pk=po_id)
        .first()
    )
    if po is None:
        raise NotFound(_("Purchase order not found"))
    return po


def po_update(
    *,
    po_id: int,
    version: int | None = None,
    lines: Sequence[LineIn | dict] | None = None,
    warehouse_id: int | None = None,
    expected_date: dt.date | None = None,
    notes: str | None = None,
    actor: User | None,
) -> PurchaseOrder:
    """Edit a draft: lines (replaced as a whole), destination, expected date, notes."""
    with transaction.atomic():
        po = _lock(po_id)
        if not po.can_edit():
            raise IllegalTransition(
                _("%(n)s is %(s)s: only a draft can be edited.")
                % {"n": po.number, "s": po.get_status_display()}
            )
        if version is not None and version != po.version:
            raise Conflict(
                _("%(n)s was changed by someone else in the meantime; reload it.") % {"n": po.number}
            )
        fields = ["version"]
        if lines is not None:
            built = _build_lines(po.supplier, lines)
            po.lines.all().delete()
            for line in built:
                line.purchase_order = po
            PurchaseOrderLine.objects.bulk_create(built)
        if warehouse_id is not None:
            po.warehouse = _warehouse(warehouse_id)
            fields.append("warehouse")
        if expected_date is not None:
            if expected_date < local_today():
                raise DomainError(_("The expected delivery date is in the past."), field="expected_date")
            po.expected_date = expected_date
            fields.append("expected_date")
        if notes is not None:
            po.notes = _text(notes, field="notes", max_length=2000)
            fields.append("notes")
        po.version += 1
        po.save(update_fields=fields)
        _event(po, PurchaseOrderEvent.Kind.EDITED, actor, _("Edited."))
    return po


def po_transition(*, po_id: int, status: str, actor: User | None, note: str = "") -> PurchaseOrder:
    with transaction.atomic():
        po = _lock(po_id)
        _transition(po, status, actor, note)
    return po


def _transition(po: PurchaseOrder, status: str, actor: User | None, note: str = "") -> None:
    if status not in PO_TRANSITIONS.get(po.status, frozenset()):
        raise IllegalTransition(
            _("%(n)s cannot go from “%(a)s” to “%(b)s”.")
            % {
                "n": po.number,
                "a": POStatus(po.status).label,
                "b": POStatus(status).label if status in POStatus.values else status,
            }
        )
    before = po.status
    po.status = status
    fields = ["status", "version"]
    now = timezone.now()
    if status == POStatus.SENT:
        po.sent_at = now
        fields.append("sent_at")
    if status == POStatus.RECEIVED:
        po.received_at = now
        fields.append("received_at")
    po.version += 1
    po.save(update_fields=fields)
    if before != status:
        _event(
            po,
            PurchaseOrderEvent.Kind.STATUS,
            actor,
            _("%(a)s → %(b)s") % {"a": POStatus(before).label, "b": POStatus(status).label}
            + (f": {note}" if note else ""),
            before=before,
            after=status,
        )
        audit_record(
            obj_type="purchasing.purchaseorder",
            obj_id=po.pk,
            action="status",
            actor=actor,
            changes={"status": [before, status]},
            reason=note,
        )


def po_send(
    *, po_id: int, actor: User | None, email: bool = True, to: str = "", message: str = ""
) -> PurchaseOrder:
    """Mark a draft as sent (ordered) and, with `email`, e-mail the PDF to the supplier. The e-mail is written
    to the outbox in this transaction and sent by the worker after commit, retried with back-off when the mail
    server fails; its state shows on the PO. A sent PO may be e-mailed again."""
    from zaplecze.service.services import outbox_enqueue

    from . import documents

    with transaction.atomic():
        po = _lock(po_id)
        if po.status == POStatus.DRAFT:
            if not po.lines.exists():
                raise DomainError(_("%(n)s has no lines.") % {"n": po.number}, field="lines")
            today = local_today()
            if po.expected_date is None or po.expected_date < today:
                po.expected_date = default_expected_date(po.supplier, today)
                po.save(update_fields=["expected_date"])
            _transition(po, POStatus.SENT, actor)
        elif not (email and po.status in OPEN_STATUSES):
            raise IllegalTransition(
                _("%(n)s is %(s)s: it cannot be sent.") % {"n": po.number, "s": po.get_status_display()}
            )
        if email:
            address = (to or po.supplier.email).strip()
            if not address:
                raise DomainError(
                    _(
                        "Supplier %(s)s has no e-mail address; add one or mark the order as sent without e-mail."
                    )
                    % {"s": po.supplier.name},
                    field="to",
                )
            try:
                validate_email(address)
            except ValidationError:
                raise DomainError(_("E-mail %(e)s is not a valid address.") % {"e": address[:60]}, field="to")
            n = po.events.filter(kind=PurchaseOrderEvent.Kind.EMAIL_QUEUED).count() + 1
            with override(po.language):
                subject = _("Purchase order %(n)s") % {"n": po.number}
                body = documents.email_body(po, message=_text(message, field="message", max_length=5000))
            pdf = documents.po_pdf(po)
            out = outbox_enqueue(
                key=f"purchase-order:{po.pk}:{n}",
                kind="purchase_order",
                to=address,
                language=po.language,
                context={},
                subject=subject,
                body=body,
                attachments=[(documents.pdf_filename(po), "application/pdf", pdf)],
                actor=actor,
            )
            if out is not None:
                po.email = out
                po.save(update_fields=["email"])
                _event(
                    po,
                    PurchaseOrderEvent.Kind.EMAIL_QUEUED,
                    actor,
                    _("E-mail with the PDF to %(to)s queued.") % {"to": address},
                    email_id=out.pk,
                    to=address,
                )
    return po


def po_cancel(*, po_id: int, actor: User | None, reason: str = "") -> PurchaseOrder:
    reason = _text(reason, field="reason", max_length=300)
    with transaction.atomic():
        po = _lock(po_id)
        if po.receipts.exists():
            raise IllegalTransition(
                _("%(n)s already has goods received; close it as received instead.") % {"n": po.number}
            )
        _transition(po, POStatus.CANCELLED, actor, reason)
    return po


# --- suggestions -> purchase orders -------------------------------------------------------------------


def po_create_from_suggestions(
    *, param_ids: Sequence[int], quantities: dict[int, int] | None = None, actor: User | None
) -> list[PurchaseOrder]:
    """One draft PO per supplier (and destination warehouse) from the chosen reorder suggestions. A quantity
    given per parameter replaces the suggestion; the computation is kept on each line."""
    if not param_ids:
        raise DomainError(_("Choose at least one suggestion."), field="param_ids")
    rows = {r.param.pk: r for r in selectors.reorder_suggestions(param_ids=list(param_ids), include_all=True)}
    groups: dict[tuple[int, int | None], list[LineIn]] = defaultdict(list)
    for pid in dict.fromkeys(param_ids):
        row = rows.get(pid)
        if row is None:
            raise DomainError(_("Suggestion %(id)s not found.") % {"id": pid}, field="param_ids")
        if row.item is None:
            raise DomainError(
                _("%(sku)s has no supplier; add a supplier item first.") % {"sku": row.variant.sku},
                field="param_ids",
            )
        qty = (quantities or {}).get(pid) or row.quantity
        if not qty:
            raise DomainError(
                _("%(sku)s does not need reordering now; give a quantity to order it anyway.")
                % {"sku": row.variant.sku},
                field="param_ids",
            )
        groups[(row.item.supplier_id, row.param.warehouse_id)].append(
            LineIn(
                variant_id=row.variant.pk, quantity=qty, unit_cost=row.item.unit_cost, explanation=row.steps
            )
        )
    created = []
    with transaction.atomic():
        for (supplier_id, warehouse_id), lines in sorted(
            groups.items(), key=lambda kv: (kv[0][0], kv[0][1] or 0)
        ):
            created.append(
                po_create(supplier_id=supplier_id, warehouse_id=warehouse_id, lines=lines, actor=actor)
            )
    return created


# --- receiving ----------------------------------------------------------------------------------------


@dataclass
class ReceiveLine:
    line_id: int | None = None
    code: str = ""  # EAN, SKU or supplier SKU of a line on the PO
    quantity: int = 0  # good units into stock
    damaged: int = 0  # arrived damaged: recorded, not put into stock, still outstanding
    note: str = ""


@dataclass
class WrongItem:
    code: str
    quantity: int = 1
    note: str = ""


def _match_line(lines: list[PurchaseOrderLine], code: str) -> PurchaseOrderLine | None:
    code = code.strip()
    for line in lines:
        if code and (code == line.ean or code.upper() == line.sku.upper()):
            return line
    for line in lines:
        if code and line.supplier_sku and code.upper() == line.supplier_sku.upper():
            return line
    return None


def _unknown_code_error(po: PurchaseOrder, code: str, where: str) -> DomainError:
    known = Variant.objects.filter(Q(sku=code) | Q(ean=code)).first() if code else None
    if known is not None:
        return DomainError(
            _(
                "%(code)s (%(sku)s %(name)s) is not on %(po)s. If it came in the delivery, record it as a wrong item."
            )
            % {"code": code, "sku": known.sku, "name": known.name, "po": po.number},
            field=where,
            code="not_on_po",
        )
    return DomainError(
        _("Unknown EAN or SKU %(code)s: no such product in the catalogue (%(where)s).")
        % {"code": code or "—", "where": where},
        field=where,
        code="unknown_code",
    )


def _check_receivable(po: PurchaseOrder) -> None:
    if not po.can_receive():
        raise IllegalTransition(
            _("%(n)s is %(s)s: goods can be received only on a sent order.")
            % {"n": po.number, "s": po.get_status_display()}
        )


def po_receive(
    *,
    po_id: int,
    lines: Sequence[ReceiveLine | dict] = (),
    scans: Sequence[str] = (),
    wrong_items: Sequence[WrongItem | dict] = (),
    accept_over: bool = False,
    over_note: str = "",
    close: bool = False,
    note: str = "",
    actor: User | None,
) -> Receipt:
    """Receive one delivery against a PO: good units go into stock (a `receipt` movement referencing the PO
    number, in the PO's warehouse), damaged units and wrong items are recorded as discrepancies.

    Receiving more than is outstanding on a line is refused, unless `accept_over` is set with an
    `over_note`: then the surplus goes into stock too and is recorded as an over-delivery. `close` ends the
    PO: what is still outstanding is recorded as short and the PO becomes received. All or nothing."""
    po = PurchaseOrder.objects.select_related("supplier", "warehouse").filter(pk=po_id).first()
    if po is None:
        raise NotFound(_("Purchase order not found"))
    _check_receivable(po)
    po_lines = list(po.lines.select_related("variant"))
    by_id = {line.pk: line for line in po_lines}
    good: dict[int, int] = defaultdict(int)
    damaged: dict[int, int] = defaultdict(int)
    notes: dict[int, list[str]] = defaultdict(list)
    for i, raw in enumerate(lines):
        entry = raw if isinstance(raw, ReceiveLine) else ReceiveLine(**raw)
        where = f"lines[{i}]"
        if entry.line_id:
            line = by_id.get(int(entry.line_id))
            if line is None:
                raise DomainError(
                    _("Line %(id)s is not part of %(po)s.") % {"id": entry.line_id, "po": po.number},
                    field=f"{where}.line_id",
                )
        else:
            line = _match_line(po_lines, entry.code or "")
            if line is None:
                raise _unknown_code_error(po, (entry.code or "").strip(), f"{where}.code")
        good[line.pk] += _int(entry.quantity, field=f"{where}.quantity", default=0)
        damaged[line.pk] += _int(entry.damaged, field=f"{where}.damaged", default=0)
        if entry.note:
            notes[line.pk].append(_text(entry.note, field=f"{where}.note", max_length=300))
    for i, code in enumerate(scans):
        line = _match_line(po_lines, str(code))
        if line is None:
            raise _unknown_code_error(po, str(code).strip(), f"scans[{i}]")
        good[line.pk] += 1
    wrong: list[WrongItem] = []
    for i, raw in enumerate(wrong_items):
        w = raw if isinstance(raw, WrongItem) else WrongItem(**raw)
        wrong.append(
            WrongItem(
                code=_text(w.code, field=f"wrong_items[{i}].code", max_length=64, required=True),
                quantity=_int(w.quantity, field=f"wrong_items[{i}].quantity", lo=1),
                note=_text(w.note, field=f"wrong_items[{i}].note", max_length=300),
            )
        )
    note = _text(note, field="note", max_length=500)
    over_note = _text(over_note, field="over_note", max_length=300)
    if not any(good.values()) and not any(damaged.values()) and not wrong and not close:
        raise DomainError(
            _("Nothing to receive: scan or type the quantities that came."), field="lines", code="empty"
        )
    # over-receipt check (again under the row locks below, against concurrent receipts)
    over: dict[int, int] = {}
    for line_id, qty in good.items():
        line = by_id[line_id]
        if qty > line.outstanding:
            over[line_id] = qty - line.outstanding
    if over and not accept_over:
        line_id, extra = next(iter(over.items()))
        line = by_id[line_id]
        raise DomainError(
            _(
                "Receiving %(qty)s × %(sku)s would exceed %(po)s: ordered %(ordered)s, already received %(received)s, "
                "outstanding %(out)s. Reduce the quantity, or accept the %(extra)s extra as an over-delivery with a note."
            )
            % {
                "qty": good[line_id],
                "sku": line.sku,
                "po": po.number,
                "ordered": line.quantity,
                "received": line.received_qty,
                "out": line.outstanding,
                "extra": extra,
            },
            field="lines",
            code="over_receipt",
            sku=line.sku,
            ordered=line.quantity,
            received=line.received_qty,
            attempted=good[line_id],
        )
    if over and not over_note:
        raise DomainError(
            _("An accepted over-delivery needs a note (who agreed, why)."),
            field="over_note",
            code="note_required",
        )
    with transaction.atomic():
        po = _lock(po_id)
        _check_receivable(po)
        seq = Receipt.objects.filter(purchase_order=po).count() + 1
        receipt = Receipt.objects.create(
            purchase_order=po, number=f"{po.number}/R{seq}", actor=actor, note=note, closed_po=close
        )
        for line_id, qty in sorted(good.items()):
            if qty <= 0:
                continue
            line = by_id[line_id]
            qs = PurchaseOrderLine.objects.filter(pk=line_id)
            if line_id not in over:
                qs = qs.filter(received_qty__lte=F("quantity") - qty)
            if qs.update(received_qty=F("received_qty") + qty) != 1:
                raise Conflict(
                    _("%(sku)s on %(po)s was received by someone else meanwhile; reload and try again.")
                    % {"sku": line.sku, "po": po.number},
                    code="over_receipt",
                )
            ReceiptLine.objects.create(receipt=receipt, po_line_id=line_id, quantity=qty)
            stock.stock_adjust(
                variant=line.variant,
                warehouse=po.warehouse,
                delta=qty,
                kind=StockMovement.Kind.RECEIPT,
                reason=f"{receipt.number} {po.supplier.name}"[:200],
                reference=po.number,
                actor=actor,
            )
            if line_id in over:
                Discrepancy.objects.create(
                    receipt=receipt,
                    po_line_id=line_id,
                    kind=Discrepancy.Kind.OVER,
                    quantity=over[line_id],
                    note=over_note,
                )
        for line_id, qty in sorted(damaged.items()):
            if qty > 0:
                Discrepancy.objects.create(
                    receipt=receipt,
                    po_line_id=line_id,
                    kind=Discrepancy.Kind.DAMAGED,
                    quantity=qty,
                    note="; ".join(notes.get(line_id, []))[:500],
                )
        for w in wrong:
            Discrepancy.objects.create(
                receipt=receipt,
                kind=Discrepancy.Kind.WRONG_ITEM,
                quantity=w.quantity,
                code=w.code,
                note=w.note,
            )
        fresh = list(PurchaseOrderLine.objects.filter(purchase_order=po).order_by("id"))
        if close:
            for line in fresh:
                if line.outstanding:
                    Discrepancy.objects.create(
                        receipt=receipt,
                        po_line=line,
                        kind=Discrepancy.Kind.SHORT,
                        quantity=line.outstanding,
                        note=note[:500],
                    )
        complete = close or all(line.received_qty >= line.quantity for line in fresh)
        units = sum(q for q in good.values() if q > 0)
        _event(
            po,
            PurchaseOrderEvent.Kind.RECEIPT,
            actor,
            _("%(r)s: %(n)s units received.") % {"r": receipt.number, "n": units},
            receipt_id=receipt.pk,
        )
        n_disc = receipt.discrepancies.count()
        if n_disc:
            _event(
                po,
                PurchaseOrderEvent.Kind.DISCREPANCY,
                actor,
                _("%(r)s: %(n)s discrepancies recorded.") % {"r": receipt.number, "n": n_disc},
                receipt_id=receipt.pk,
            )
        _transition(po, POStatus.RECEIVED if complete else POStatus.PARTIAL, actor)
    return receipt


# --- overdue ------------------------------------------------------------------------------------------


def po_overdue_alert(*, today: dt.date | None = None) -> list[PurchaseOrder]:
    """Raise the overdue alert once per PO and expected date: an "overdue" event on the PO (the purchasing
    page and the dashboard list open overdue POs), and one digest e-mail per day to administrators and
    organisers who have an e-mail address, via the outbox. Returns the newly alerted POs."""
    from zaplecze.service.services import outbox_enqueue

    today = today or local_today()
    fresh: list[PurchaseOrder] = []
    with transaction.atomic():
        for po in selectors.overdue_purchase_orders(today=today).select_for_update(of=("self",)):
            if po.overdue_alerted_on == po.expected_date:
                continue
            late = (today - po.expected_date).days
            PurchaseOrder.objects.filter(pk=po.pk).update(overdue_alerted_on=po.expected_date)
            _event(
                po,
                PurchaseOrderEvent.Kind.OVERDUE,
                None,
                _("Overdue: expected on %(d)s, %(n)s days late.")
                % {"d": po.expected_date.isoformat(), "n": late},
                expected=po.expected_date.isoformat(),
            )
            fresh.append(po)
        if fresh:
            people = User.objects.filter(is_active=True, role__in=[Role.ADMIN, Role.ORGANISER]).exclude(
                email=""
            )
            for user in people.order_by("pk"):
                language = user.language or "pl"
                with override(language):
                    subject = _("%(n)s purchase orders are overdue") % {"n": len(fresh)}
                    body = "\n".join(
                        [_("These purchase orders have passed their expected delivery date:"), ""]
                        + [
                            f"- {po.number} · {po.supplier.name} · "
                            + _("expected %(d)s") % {"d": po.expected_date.isoformat()}
                            for po in fresh
                        ]
                    )
                batch = hashlib.sha256(",".join(str(po.pk) for po in fresh).encode()).hexdigest()[:12]
                outbox_enqueue(
                    key=f"po-overdue:{today.isoformat()}:{user.pk}:{batch}",
                    kind="purchase_overdue",
                    to=user.email,
                    language=language,
                    context={},
                    subject=subject,
                    body=body,
                )
    return fresh
