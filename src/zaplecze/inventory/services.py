"""Stock writes. Levels change only through conditional UPDATEs (never read-modify-write in Python),
so N concurrent reservations for K units produce exactly K and stock never goes negative; the
database CHECK constraints are the last line of defence."""

from __future__ import annotations

import csv
import io
import re
import uuid
from dataclasses import dataclass, field

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from zaplecze.catalog.models import Category, Variant
from zaplecze.catalog.selectors import variants_by_codes
from zaplecze.core import aftercommit
from zaplecze.core.errors import DomainError, IllegalTransition
from zaplecze.core.models import AuditEntry
from zaplecze.core.services import actor_label, audit_record, audit_record_many, diff

from .models import (
    STOCKTAKE_TRANSITIONS,
    TRANSFER_TRANSITIONS,
    Location,
    Reservation,
    StockLevel,
    StockMovement,
    Stocktake,
    StocktakeLine,
    Transfer,
    TransferLine,
    Warehouse,
)
from .sheets import SheetRow, parse_quantity, parse_sheet, read_table


class ValidationFailed(DomainError):
    """Input that breaks a rule (a field's value); status 400 (422 in the API when raised from schemas)."""

    code = "invalid"


def warehouse_default() -> Warehouse:
    wh = (
        Warehouse.objects.filter(is_default=True).first()
        or Warehouse.objects.order_by("priority", "id").first()
    )
    if wh is None:
        wh = Warehouse.objects.create(code="MAIN", name="Magazyn główny", is_default=True, priority=0)
    return wh


def stock_changed(variant_ids) -> None:
    """Announce that the available stock of these variants changed: the modules above (integrations pushes
    stock to the sales channels) hear it through "inventory.stock_changed"(variant_ids), once, after commit."""
    aftercommit.notify("inventory.stock_changed", variant_ids)


def _level(variant_id: int, warehouse_id: int) -> StockLevel:
    level = StockLevel.objects.filter(variant_id=variant_id, warehouse_id=warehouse_id).first()
    if level is None:
        try:
            with transaction.atomic():
                level = StockLevel.objects.create(variant_id=variant_id, warehouse_id=warehouse_id)
        except IntegrityError:  # created concurrently
            level = StockLevel.objects.get(variant_id=variant_id, warehouse_id=warehouse_id)
    return level


def stock_adjust(
    *,
    variant: Variant,
    warehouse: Warehouse,
    delta: int,
    kind: str = StockMovement.Kind.ADJUSTMENT,
    reason: str = "",
    reference: str = "",
    actor=None,
) -> StockMovement:
    """Change on-hand stock by `delta` (signed) and write the ledger row. Refuses to go below reserved."""
    if delta == 0:
        raise DomainError("Quantity must not be zero", field="quantity")
    if kind not in StockMovement.Kind.values:
        raise DomainError(f"Unknown movement type {kind!r}", field="kind")
    with transaction.atomic():
        level = _level(variant.pk, warehouse.pk)
        qs = StockLevel.objects.filter(pk=level.pk)
        if delta < 0:
            qs = qs.filter(on_hand__gte=F("reserved") - delta)
        if qs.update(on_hand=F("on_hand") + delta) != 1:
            raise DomainError(
                f"Not enough free stock of {variant.sku} in {warehouse.code} to remove {-delta}",
                code="insufficient_stock",
                field="quantity",
            )
        after = StockLevel.objects.values_list("on_hand", flat=True).get(pk=level.pk)
        movement = StockMovement.objects.create(
            variant=variant,
            warehouse=warehouse,
            kind=kind,
            quantity=delta,
            on_hand_after=after,
            reason=reason[:200],
            reference=reference[:100],
            actor=actor,
        )
        audit_record(
            obj_type="inventory.stocklevel",
            obj_id=level.pk,
            action=kind,
            actor=actor,
            changes={"on_hand": [after - delta, after]},
            reason=reason,
        )
        stock_changed([variant.pk])
    return movement


@dataclass(frozen=True)
class Adjustment:
    """One line of a set-based stock change: `delta` units of `variant` (signed), with its own reason."""

    variant: Variant
    delta: int
    reason: str = ""


def stock_adjust_many(
    adjustments: list[Adjustment],
    *,
    warehouse: Warehouse,
    kind: str = StockMovement.Kind.ADJUSTMENT,
    reference: str = "",
    actor=None,
) -> list[StockMovement]:
    """Apply many stock changes in one warehouse as a set: the same ledger rows and audit entries as one
    `stock_adjust` per line, in a handful of queries instead of five per line.

    The levels are locked (in primary-key order, so two concurrent calls cannot deadlock), every line is
    checked against what is reserved, and either all lines are applied or none: the error lists every line
    that would take on-hand stock below the reserved quantity. Several lines for one variant apply in order.
    """
    if kind not in StockMovement.Kind.values:
        raise DomainError(f"Unknown movement type {kind!r}", field="kind")
    lines = [a for a in adjustments if a.delta]
    if not lines:
        return []
    variant_ids = sorted({a.variant.pk for a in lines})
    now = timezone.now()
    with transaction.atomic():
        existing = set(
            StockLevel.objects.filter(warehouse=warehouse, variant_id__in=variant_ids).values_list(
                "variant_id", flat=True
            )
        )
        missing = [StockLevel(variant_id=v, warehouse=warehouse) for v in variant_ids if v not in existing]
        if missing:  # ignore_conflicts: a level created concurrently is simply there
            StockLevel.objects.bulk_create(missing, ignore_conflicts=True, batch_size=1000)
        levels = {
            lv.variant_id: lv
            for lv in StockLevel.objects.select_for_update()
            .filter(warehouse=warehouse, variant_id__in=variant_ids)
            .order_by("pk")
        }
        before = {v: lv.on_hand for v, lv in levels.items()}
        movements, short = [], []
        for a in lines:
            level = levels[a.variant.pk]
            after = level.on_hand + a.delta
            if a.delta < 0 and after < level.reserved:
                short.append(f"{a.variant.sku} ({-a.delta} of {level.on_hand - level.reserved} free)")
                continue
            level.on_hand = after
            movements.append(
                StockMovement(
                    variant=a.variant,
                    warehouse=warehouse,
                    kind=kind,
                    quantity=a.delta,
                    on_hand_after=after,
                    reason=a.reason[:200],
                    reference=reference[:100],
                    actor=actor,
                    at=now,
                )
            )
        if short:
            raise DomainError(
                f"Not enough free stock in {warehouse.code} to remove: {', '.join(short)}",
                code="insufficient_stock",
                field="quantity",
            )
        changed = [lv for v, lv in levels.items() if lv.on_hand != before[v]]
        StockLevel.objects.bulk_update(changed, ["on_hand"], batch_size=500)
        StockMovement.objects.bulk_create(movements, batch_size=1000)
        stock_changed(v for v, lv in levels.items() if lv.on_hand != before[v])
        audit_record_many(
            AuditEntry(
                at=now,
                actor=actor,
                actor_label=actor_label(actor),
                object_type="inventory.stocklevel",
                object_id=str(levels[m.variant.pk].pk),
                action=kind,
                changes={"on_hand": [m.on_hand_after - m.quantity, m.on_hand_after]},
                reason=m.reason[:500],
            )
            for m in movements
        )
    return movements


@dataclass
class ReserveResult:
    reserved: int
    short: int


def stock_reserve(
    *, variant_id: int, quantity: int, reference: str, warehouses: list[Warehouse] | None = None
) -> ReserveResult:
    """Reserve `quantity` units, trying warehouses in priority order (a fixed order, so no deadlocks).

    All-or-nothing per warehouse: a line is reserved whole in one warehouse or not at all. Each try is one
    conditional UPDATE (`reserved + quantity <= on_hand`); the reservation row is written in the same
    transaction. (Plain SQL on this hot path: the ORM's statement building cost more than the database.)"""
    if quantity <= 0:
        raise DomainError("Quantity must be positive", field="quantity")
    warehouse_ids = (
        [wh.pk for wh in warehouses]
        if warehouses is not None
        else list(Warehouse.objects.order_by("-is_default", "priority", "id").values_list("pk", flat=True))
    )
    sql = _sql()
    with transaction.atomic(savepoint=False), sql.connection.cursor() as cursor:
        for warehouse_id in warehouse_ids:
            cursor.execute(sql.reserve, [quantity, variant_id, warehouse_id, quantity])
            if cursor.rowcount == 1:
                sql.insert(
                    cursor,
                    Reservation,
                    {
                        "variant_id": variant_id,
                        "warehouse_id": warehouse_id,
                        "reference": reference,
                        "quantity": quantity,
                        "state": Reservation.State.ACTIVE,
                        "created_at": timezone.now(),
                    },
                )
                stock_changed([variant_id])
                return ReserveResult(reserved=quantity, short=0)
    return ReserveResult(reserved=0, short=quantity)


class _StockSQL:
    """Prepared statements of the reserve / issue hot paths (built once per database connection vendor).
    The same conditional UPDATEs the ORM would send; inserts fill every column, defaults included."""

    def __init__(self, connection):
        self.connection = connection
        qn = connection.ops.quote_name
        level, res = qn(StockLevel._meta.db_table), qn(Reservation._meta.db_table)
        self.reserve = (
            f"UPDATE {level} SET {qn('reserved')} = {qn('reserved')} + %s "  # noqa: S608 - fixed names
            f"WHERE {qn('variant_id')} = %s AND {qn('warehouse_id')} = %s AND {qn('on_hand')} >= {qn('reserved')} + %s"
        )
        self.close = (
            f"UPDATE {res} SET {qn('state')} = %s, {qn('closed_at')} = %s "  # noqa: S608 - fixed names
            f"WHERE {qn('id')} = %s AND {qn('state')} = %s"
        )
        self.issue = (
            f"UPDATE {level} SET {qn('on_hand')} = {qn('on_hand')} - %s, "  # noqa: S608 - fixed names
            f"{qn('reserved')} = {qn('reserved')} - %s "
            f"WHERE {qn('variant_id')} = %s AND {qn('warehouse_id')} = %s RETURNING {qn('on_hand')}"
        )
        self.active = (
            f"SELECT {qn('id')}, {qn('variant_id')}, {qn('warehouse_id')}, {qn('quantity')} FROM {res} "  # noqa: S608
            f"WHERE {qn('reference')} = %s AND {qn('state')} = %s ORDER BY {qn('id')}"
        )
        self._inserts: dict[type, tuple[str, list]] = {}

    def insert(self, cursor, model, values: dict) -> None:
        if model not in self._inserts:
            qn = self.connection.ops.quote_name
            fields = [f for f in model._meta.concrete_fields if not f.primary_key]
            sql = (
                f"INSERT INTO {qn(model._meta.db_table)} ({', '.join(qn(f.column) for f in fields)}) "  # noqa: S608
                f"VALUES ({', '.join(['%s'] * len(fields))})"
            )
            self._inserts[model] = (sql, fields)
        sql, fields = self._inserts[model]
        cursor.execute(
            sql,
            [
                f.get_db_prep_save(
                    values[f.attname] if f.attname in values else f.get_default(), self.connection
                )
                for f in fields
            ],
        )


_STOCK_SQL: dict[str, _StockSQL] = {}


def _sql() -> _StockSQL:
    from django.db import connection

    key = connection.alias + ":" + connection.vendor
    if key not in _STOCK_SQL:
        _STOCK_SQL[key] = _StockSQL(connection)
    return _STOCK_SQL[key]


def stock_release(*, reference: str) -> int:
    """Release every active reservation with this reference. Returns units released."""
    released = 0
    for r in Reservation.objects.filter(reference=reference, state=Reservation.State.ACTIVE).order_by("id"):
        n = Reservation.objects.filter(pk=r.pk, state=Reservation.State.ACTIVE).update(
            state=Reservation.State.RELEASED, closed_at=timezone.now()
        )
        if n:
            StockLevel.objects.filter(variant_id=r.variant_id, warehouse_id=r.warehouse_id).update(
                reserved=F("reserved") - r.quantity
            )
            released += r.quantity
            stock_changed([r.variant_id])
    return released


def stock_issue(*, reference: str, actor=None, note: str = "") -> int:
    """Ship the reserved units: on hand and reserved both go down; a 'sale' movement is written.

    Per reservation: a conditional UPDATE closes it (only if still active, so it is never issued twice),
    one F-style UPDATE lowers its level and returns the new on-hand figure for the ledger row (the CHECK
    constraints guard the level), all in one transaction."""
    issued = 0
    sql = _sql()
    actor_id = actor.pk if actor is not None else None
    with transaction.atomic(savepoint=False), sql.connection.cursor() as cursor:
        cursor.execute(sql.active, [reference, Reservation.State.ACTIVE.value])
        for pk, variant_id, warehouse_id, quantity in cursor.fetchall():
            now = timezone.now()
            cursor.execute(
                sql.close,
                [
                    Reservation.State.ISSUED.value,
                    sql.connection.ops.adapt_datetimefield_value(now),
                    pk,
                    Reservation.State.ACTIVE.value,
                ],
            )
            if cursor.rowcount != 1:
                continue
            cursor.execute(sql.issue, [quantity, quantity, variant_id, warehouse_id])
            after = cursor.fetchone()[0]
            sql.insert(
                cursor,
                StockMovement,
                {
                    "at": now,
                    "variant_id": variant_id,
                    "warehouse_id": warehouse_id,
                    "kind": StockMovement.Kind.SALE,
                    "quantity": -quantity,
                    "on_hand_after": after,
                    "reason": note[:200],
                    "reference": reference,
                    "actor_id": actor_id,
                },
            )
            issued += quantity
    return issued


def stock_issue_many(*, items: list[tuple[str, str]], actor=None) -> dict[str, int]:
    """`stock_issue` for many references at once: `items` are (reference, note) pairs; returns the units
    issued per reference (0 when it had no active reservation).

    The same rows as `stock_issue` reference by reference, with far fewer statements: the active
    reservations are locked in id order and closed by a conditional UPDATE (state still active), each stock
    level is lowered once by its total with an F() UPDATE (the CHECK constraints still guard it), and one
    'sale' movement per reservation is written with the on-hand figure it would have had if the references
    had been issued one after another (the last one of a level shows the level's new on-hand)."""
    notes = {ref: note for ref, note in items}
    issued = dict.fromkeys(notes, 0)
    if not notes:
        return issued
    now = timezone.now()
    with transaction.atomic():
        refs = list(notes)
        active: list[tuple[int, str, int, int, int]] = []
        for start in range(0, len(refs), 500):
            active += (
                Reservation.objects.select_for_update()
                .filter(reference__in=refs[start : start + 500], state=Reservation.State.ACTIVE)
                .values_list("pk", "reference", "variant_id", "warehouse_id", "quantity")
            )
        if not active:
            return issued
        active.sort()
        ids = [r[0] for r in active]
        closed = 0
        for start in range(0, len(ids), 500):
            closed += Reservation.objects.filter(
                pk__in=ids[start : start + 500], state=Reservation.State.ACTIVE
            ).update(state=Reservation.State.ISSUED, closed_at=now)
        if closed != len(ids):  # cannot happen with the rows locked; refuse rather than issue twice
            raise DomainError("Stock reservations changed while they were being issued; try again")
        by_level: dict[tuple[int, int], list[tuple[int, str, int, int, int]]] = {}
        for r in active:
            by_level.setdefault((r[2], r[3]), []).append(r)
        after: dict[tuple[int, int], int] = {}
        for (variant_id, warehouse_id), rows in sorted(by_level.items()):
            units = sum(r[4] for r in rows)
            StockLevel.objects.filter(variant_id=variant_id, warehouse_id=warehouse_id).update(
                on_hand=F("on_hand") - units, reserved=F("reserved") - units
            )
        variant_ids = sorted({k[0] for k in by_level})
        warehouse_ids = sorted({k[1] for k in by_level})
        for start in range(0, len(variant_ids), 500):
            for v, w, on_hand in StockLevel.objects.filter(
                variant_id__in=variant_ids[start : start + 500], warehouse_id__in=warehouse_ids
            ).values_list("variant_id", "warehouse_id", "on_hand"):
                after[(v, w)] = on_hand
        movements = []
        for key, rows in by_level.items():
            level_after = after[key] + sum(r[4] for r in rows)
            for pk, reference, variant_id, warehouse_id, quantity in rows:
                level_after -= quantity
                movements.append(
                    (
                        pk,
                        StockMovement(
                            at=now,
                            variant_id=variant_id,
                            warehouse_id=warehouse_id,
                            kind=StockMovement.Kind.SALE,
                            quantity=-quantity,
                            on_hand_after=level_after,
                            reason=notes[reference][:200],
                            reference=reference,
                            actor=actor,
                        ),
                    )
                )
                issued[reference] += quantity
        movements.sort(key=lambda m: m[0])  # ledger rows in reservation order, as one by one
        StockMovement.objects.bulk_create([m for _pk, m in movements], batch_size=1000)
    return issued


# --- warehouses and bins ------------------------------------------------------------------------------

_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]*$")


def _check_code(code: str, *, field: str, max_length: int) -> str:
    code = (code or "").strip()
    if not code:
        raise ValidationFailed(_("Enter a code."), field=field)
    if len(code) > max_length:
        raise ValidationFailed(
            _("The code may have at most %(n)s characters.") % {"n": max_length}, field=field
        )
    if not _CODE.match(code):
        raise ValidationFailed(
            _("The code %(code)r may contain only letters, digits and . _ / -") % {"code": code}, field=field
        )
    return code


def warehouse_create(
    *, code: str, name: str, priority: int = 100, is_default: bool = False, actor=None
) -> Warehouse:
    code = _check_code(code, field="code", max_length=20).upper()
    name = (name or "").strip()[:120]
    if not name:
        raise ValidationFailed(_("Enter a name."), field="name")
    with transaction.atomic():
        if Warehouse.objects.filter(code=code).exists():
            raise ValidationFailed(_("A warehouse with code %(code)s exists.") % {"code": code}, field="code")
        if is_default:
            Warehouse.objects.filter(is_default=True).update(is_default=False)
        wh = Warehouse.objects.create(code=code, name=name, priority=max(0, priority), is_default=is_default)
        audit_record(
            obj_type="inventory.warehouse",
            obj_id=wh.pk,
            action="create",
            actor=actor,
            changes={"code": [None, code], "name": [None, name]},
        )
    return wh


def warehouse_update(
    *, warehouse_id: int, name: str, priority: int, is_default: bool, actor=None
) -> Warehouse:
    """Name, priority and default flag. The code never changes (it is used in files, the API and the CLI)."""
    name = (name or "").strip()[:120]
    if not name:
        raise ValidationFailed(_("Enter a name."), field="name")
    with transaction.atomic():
        wh = Warehouse.objects.select_for_update().get(pk=warehouse_id)
        before = {"name": wh.name, "priority": wh.priority, "is_default": wh.is_default}
        if is_default and not wh.is_default:
            Warehouse.objects.filter(is_default=True).update(is_default=False)
        if not is_default and wh.is_default:
            raise ValidationFailed(
                _("Make another warehouse the default instead of switching this one off."), field="is_default"
            )
        wh.name, wh.priority, wh.is_default = name, max(0, priority), is_default
        wh.save(update_fields=["name", "priority", "is_default"])
        changes = diff(before, {"name": wh.name, "priority": wh.priority, "is_default": wh.is_default})
        if changes:
            audit_record(
                obj_type="inventory.warehouse", obj_id=wh.pk, action="update", actor=actor, changes=changes
            )
    return wh


def location_create(
    *, warehouse: Warehouse, code: str, name: str = "", sort_order: int = 0, actor=None
) -> Location:
    code = _check_code(code, field="code", max_length=40).upper()
    with transaction.atomic():
        if Location.objects.filter(warehouse=warehouse, code=code).exists():
            raise ValidationFailed(
                _("Bin %(code)s already exists in %(warehouse)s.")
                % {"code": code, "warehouse": warehouse.code},
                field="code",
            )
        loc = Location.objects.create(
            warehouse=warehouse, code=code, name=(name or "").strip()[:120], sort_order=max(0, sort_order)
        )
        audit_record(
            obj_type="inventory.location",
            obj_id=loc.pk,
            action="create",
            actor=actor,
            changes={"code": [None, code]},
        )
    return loc


def location_update(
    *, location_id: int, code: str, name: str, sort_order: int, active: bool, actor=None
) -> Location:
    code = _check_code(code, field="code", max_length=40).upper()
    with transaction.atomic():
        loc = Location.objects.select_for_update().get(pk=location_id)
        if code != loc.code and Location.objects.filter(warehouse_id=loc.warehouse_id, code=code).exists():
            raise ValidationFailed(
                _("Bin %(code)s already exists in this warehouse.") % {"code": code}, field="code"
            )
        before = {"code": loc.code, "name": loc.name, "sort_order": loc.sort_order, "active": loc.active}
        loc.code, loc.name, loc.sort_order, loc.active = (
            code,
            (name or "").strip()[:120],
            max(0, sort_order),
            active,
        )
        loc.save(update_fields=["code", "name", "sort_order", "active"])
        changes = diff(
            before, {"code": loc.code, "name": loc.name, "sort_order": loc.sort_order, "active": active}
        )
        if changes:
            audit_record(
                obj_type="inventory.location", obj_id=loc.pk, action="update", actor=actor, changes=changes
            )
    return loc


def stock_level_set_location(
    *, variant: Variant, warehouse: Warehouse, location: Location | None, actor=None
) -> StockLevel:
    """Assign the bin the variant is picked from in this warehouse (None: no bin). Creates the level if needed."""
    if location is not None:
        if location.warehouse_id != warehouse.pk:
            raise ValidationFailed(
                _("Bin %(bin)s is not in warehouse %(warehouse)s.")
                % {"bin": location.code, "warehouse": warehouse.code},
                field="location",
            )
        if not location.active:
            raise ValidationFailed(
                _("Bin %(bin)s is switched off.") % {"bin": location.code}, field="location"
            )
    with transaction.atomic():
        level = _level(variant.pk, warehouse.pk)
        old = level.location.code if level.location_id else None
        new = location.code if location else None
        if old != new:
            StockLevel.objects.filter(pk=level.pk).update(location=location)
            level.location = location
            audit_record(
                obj_type="inventory.stocklevel",
                obj_id=level.pk,
                action="location",
                actor=actor,
                changes={"location": [old, new]},
            )
    return level


@dataclass
class FileReport:
    """The outcome of a file import: what was (or, on a dry run, would be) done, or the row errors."""

    rows: int = 0
    changed: int = 0
    unchanged: int = 0
    skipped: int = 0
    errors: list[dict] = field(default_factory=list)
    changes: list[dict] = field(default_factory=list)
    applied: bool = False
    reference: str = ""

    @property
    def ok(self) -> bool:
        return not self.errors

    def as_dict(self) -> dict:
        return {
            "ok": self.ok,
            "applied": self.applied,
            "rows": self.rows,
            "changed": self.changed,
            "unchanged": self.unchanged,
            "skipped": self.skipped,
            "reference": self.reference,
            "errors": self.errors,
            "changes": self.changes,
        }


def _file_error(report: FileReport, exc: DomainError) -> FileReport:
    report.errors.append({"row": 0, "column": exc.field or "file", "message": str(exc.message)})
    return report


def _resolve_rows(
    rows: list[SheetRow], report: FileReport, *, blank_rows_repeat: bool = True
) -> dict[int, Variant]:
    """Row number -> variant for rows whose SKU/EAN is known; unknown codes and duplicates become errors (a row
    with an empty quantity may repeat a product unless `blank_rows_repeat` is off)."""
    found = variants_by_codes({r.code for r in rows} | {r.ean for r in rows if r.ean})
    out: dict[int, Variant] = {}
    first_row: dict[int, int] = {}
    for r in rows:
        v = found.get(r.code)
        if v is not None and r.code_column == "sku" and v.sku != r.code:
            v = None
        if v is not None and r.code_column == "ean" and v.ean != r.code:
            v = None
        if v is None:
            what = {"sku": _("SKU"), "ean": _("EAN")}.get(r.code_column, _("SKU or EAN"))
            report.errors.append(
                {
                    "row": r.row,
                    "column": r.code_column,
                    "message": _("unknown %(what)s %(code)s") % {"what": what, "code": r.code},
                }
            )
            continue
        if r.ean and v.ean != r.ean:
            report.errors.append(
                {
                    "row": r.row,
                    "column": "ean",
                    "message": _("EAN %(ean)s does not belong to SKU %(sku)s") % {"ean": r.ean, "sku": v.sku},
                }
            )
            continue
        if r.quantity is None and blank_rows_repeat:
            out[r.row] = v
            continue
        if v.pk in first_row:
            report.errors.append(
                {
                    "row": r.row,
                    "column": r.code_column,
                    "message": _("%(sku)s is already on row %(first)s (one row per product)")
                    % {"sku": v.sku, "first": first_row[v.pk]},
                }
            )
            continue
        first_row[v.pk] = r.row
        out[r.row] = v
    return out


def _resolve_locations(rows: list[SheetRow], warehouse: Warehouse, report: FileReport) -> dict[str, Location]:
    codes = {r.location.upper() for r in rows if r.location}
    bins = {loc.code: loc for loc in Location.objects.filter(warehouse=warehouse, code__in=codes)}
    for r in rows:
        if r.location and r.location.upper() not in bins:
            report.errors.append(
                {
                    "row": r.row,
                    "column": "location",
                    "message": _("no bin %(bin)s in warehouse %(warehouse)s")
                    % {"bin": r.location, "warehouse": warehouse.code},
                }
            )
    return bins


def _parse(data: bytes, filename: str, report: FileReport) -> list[SheetRow] | None:
    try:
        sheet = parse_sheet(data, filename)
    except DomainError as exc:
        _file_error(report, exc)
        return None
    report.errors.extend(e.as_dict() for e in sheet.errors)
    report.rows = len(sheet.rows) + len(sheet.errors)
    return sheet.rows


def locations_assign_file(*, warehouse: Warehouse, data: bytes, filename: str = "", actor=None) -> FileReport:
    """Bulk bin assignment from CSV/XLSX with columns sku (or ean) and location. All rows or none."""
    report = FileReport()
    try:
        table = read_table(data, filename)
    except DomainError as exc:
        return _file_error(report, exc)
    # The assignment file has no quantity column: give it one so the common parser reads it.
    if table:
        header = [str(h).strip().lower() for h in table[0]]
        if "quantity" not in header:
            table = [[*table[0], "quantity"]] + [[*row, ""] for row in table[1:]]
    buf = io.StringIO()
    csv.writer(buf).writerows(table)
    rows = _parse(buf.getvalue().encode("utf-8"), "bins.csv", report)
    if rows is None:
        return report
    variants = _resolve_rows(rows, report, blank_rows_repeat=False)
    for r in rows:
        if not r.location:
            report.errors.append({"row": r.row, "column": "location", "message": _("no bin given")})
    bins = _resolve_locations(rows, warehouse, report)
    for loc in bins.values():
        if not loc.active:
            rows_with = [r.row for r in rows if r.location.upper() == loc.code]
            for n in rows_with:
                report.errors.append(
                    {
                        "row": n,
                        "column": "location",
                        "message": _("bin %(bin)s is switched off") % {"bin": loc.code},
                    }
                )
    if report.errors:
        report.errors.sort(key=lambda e: (e["row"], e["column"]))
        return report
    with transaction.atomic():
        for r in rows:
            variant, loc = variants[r.row], bins[r.location.upper()]
            level = (
                StockLevel.objects.filter(variant=variant, warehouse=warehouse)
                .select_related("location")
                .first()
            )
            if level is not None and level.location_id == loc.pk:
                report.unchanged += 1
                continue
            stock_level_set_location(variant=variant, warehouse=warehouse, location=loc, actor=actor)
            report.changed += 1
            report.changes.append({"row": r.row, "sku": variant.sku, "location": loc.code})
    report.applied = True
    return report


def locations_import_file(*, warehouse: Warehouse, data: bytes, filename: str = "", actor=None) -> FileReport:
    """Create or update bins from CSV/XLSX with columns code, optional name and sort_order. All rows or none."""
    report = FileReport()
    try:
        table = read_table(data, filename)
    except DomainError as exc:
        return _file_error(report, exc)
    if not table:
        return _file_error(report, ValidationFailed(_("The file is empty."), field="file"))
    header = [" ".join(str(h).replace("\ufeff", "").strip().lower().split()) for h in table[0]]
    idx = {
        name: header.index(name)
        for name in ("code", "location", "bin", "name", "sort_order", "order")
        if name in header
    }
    code_i = idx.get("code", idx.get("location", idx.get("bin")))
    if code_i is None:
        return _file_error(
            report,
            ValidationFailed(
                _(
                    "The file has no code column (columns found: %(found)s). Expected: code, optional name, sort_order."
                )
                % {"found": ", ".join(h for h in header if h)},
                field="file",
            ),
        )
    name_i, order_i = idx.get("name"), idx.get("sort_order", idx.get("order"))
    parsed: list[tuple[int, str, str, int | None]] = []
    seen: dict[str, int] = {}
    for n, cells in enumerate(table[1:], start=2):
        if not any(str(c).strip() for c in cells):
            continue

        def cell(i, cells=cells) -> str:
            return str(cells[i]).strip() if i is not None and i < len(cells) else ""

        report.rows += 1
        try:
            code = _check_code(cell(code_i), field="code", max_length=40).upper()
        except DomainError as exc:
            report.errors.append({"row": n, "column": "code", "message": str(exc.message)})
            continue
        if code in seen:
            report.errors.append(
                {
                    "row": n,
                    "column": "code",
                    "message": _("%(code)s is already on row %(first)s")
                    % {"code": code, "first": seen[code]},
                }
            )
            continue
        seen[code] = n
        order = None
        if cell(order_i):
            value, problem = parse_quantity(cell(order_i))
            if problem or value is None:
                report.errors.append(
                    {"row": n, "column": "sort_order", "message": problem or _("not a number")}
                )
                continue
            order = value
        parsed.append((n, code, cell(name_i)[:120], order))
    if report.errors:
        return report
    existing = {loc.code: loc for loc in Location.objects.filter(warehouse=warehouse, code__in=seen)}
    with transaction.atomic():
        for n, code, name, order in parsed:
            loc = existing.get(code)
            if loc is None:
                location_create(warehouse=warehouse, code=code, name=name, sort_order=order or 0, actor=actor)
                report.changed += 1
                report.changes.append({"row": n, "code": code, "action": "created"})
            elif (name and name != loc.name) or (order is not None and order != loc.sort_order):
                location_update(
                    location_id=loc.pk,
                    code=code,
                    name=name or loc.name,
                    sort_order=loc.sort_order if order is None else order,
                    active=loc.active,
                    actor=actor,
                )
                report.changed += 1
                report.changes.append({"row": n, "code": code, "action": "updated"})
            else:
                report.unchanged += 1
    report.applied = True
    return report


# --- stock import (set or add) ------------------------------------------------------------------------


def stock_import_file(
    *,
    data: bytes,
    filename: str = "",
    warehouse: Warehouse,
    mode: str = "set",
    dry_run: bool = False,
    actor=None,
    reason: str = "",
) -> FileReport:
    """Stock from a CSV/XLSX file (sku or ean, quantity, optional location and reason).

    mode "set": the quantity is what is on the shelf; the difference to on hand is posted as an adjustment.
    mode "add": the quantity is received (a receipt movement). A row's location assigns the variant's bin.
    Every row is checked first; with any error nothing is applied. Rows with an empty quantity are skipped."""
    if mode not in ("set", "add"):
        raise ValidationFailed(_("Mode must be set or add."), field="mode")
    report = FileReport()
    rows = _parse(data, filename, report)
    if rows is None:
        return report
    variants = _resolve_rows(rows, report)
    bins = _resolve_locations(rows, warehouse, report)
    levels = {
        lv.variant_id: lv
        for lv in StockLevel.objects.filter(
            warehouse=warehouse, variant_id__in=[v.pk for v in variants.values()]
        )
    }
    plan = []
    for r in rows:
        variant = variants.get(r.row)
        if variant is None:
            continue
        if r.quantity is None:
            report.skipped += 1
            continue
        level = levels.get(variant.pk)
        on_hand, reserved = (level.on_hand, level.reserved) if level else (0, 0)
        if mode == "add":
            if r.quantity <= 0:
                report.errors.append(
                    {"row": r.row, "column": "quantity", "message": _("must be more than 0 to add")}
                )
                continue
            delta = r.quantity
        else:
            if r.quantity < reserved:
                report.errors.append(
                    {
                        "row": r.row,
                        "column": "quantity",
                        "message": _("%(qty)s is less than the %(reserved)s units reserved for orders")
                        % {"qty": r.quantity, "reserved": reserved},
                    }
                )
                continue
            delta = r.quantity - on_hand
        loc = bins.get(r.location.upper()) if r.location else None
        plan.append((r, variant, delta, on_hand, loc))
    if report.errors:
        report.errors.sort(key=lambda e: (e["row"], e["column"]))
        return report
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M%S")
    report.reference = f"import-{stamp}"
    label = filename.rsplit("/", 1)[-1][:80] or "file"
    kind = StockMovement.Kind.RECEIPT if mode == "add" else StockMovement.Kind.ADJUSTMENT
    for r, variant, delta, on_hand, _loc in plan:
        if delta:
            report.changed += 1
            report.changes.append(
                {
                    "row": r.row,
                    "sku": variant.sku,
                    "warehouse": warehouse.code,
                    "before": on_hand,
                    "after": on_hand + delta,
                    "delta": delta,
                }
            )
        else:
            report.unchanged += 1
    if dry_run:
        return report
    try:
        default_reason = reason or (_("stock import (%(mode)s) %(file)s") % {"mode": mode, "file": label})
        with transaction.atomic():
            stock_adjust_many(
                [
                    Adjustment(variant, delta, r.reason or default_reason)
                    for r, variant, delta, _oh, _l in plan
                ],
                warehouse=warehouse,
                kind=kind,
                reference=report.reference,
                actor=actor,
            )
            for _r, variant, _delta, _on_hand, loc in plan:
                if loc is not None:
                    stock_level_set_location(variant=variant, warehouse=warehouse, location=loc, actor=actor)
    except DomainError as exc:  # stock moved while the file was being applied
        report.changes = []
        report.changed = report.unchanged = 0
        report.errors.append({"row": 0, "column": "quantity", "message": str(exc.message)})
        return report
    report.applied = True
    return report


# --- transfers ----------------------------------------------------------------------------------------


def _number(model, prefix: str, obj) -> str:
    number = f"{prefix}-{obj.pk:05d}"
    model.objects.filter(pk=obj.pk).update(number=number)
    obj.number = number
    return number


def _transfer_lines_in(lines) -> list[tuple[Variant, int]]:
    out: dict[int, tuple[Variant, int]] = {}
    for variant, qty in lines:
        if not isinstance(qty, int) or qty <= 0:
            raise ValidationFailed(
                _("Quantity of %(sku)s must be a whole number above 0.") % {"sku": variant.sku},
                field="quantity",
            )
        prev = out.get(variant.pk)
        out[variant.pk] = (variant, qty + (prev[1] if prev else 0))
    return list(out.values())


def transfer_create(
    *,
    source: Warehouse,
    destination: Warehouse,
    lines: list[tuple[Variant, int]],
    note: str = "",
    actor=None,
    send: bool = False,
    receive: bool = False,
) -> Transfer:
    """A transfer document; with `send` the goods leave the source now, with `receive` too they arrive at once
    (an immediate transfer). The same variant twice is one line with the quantities added."""
    if source.pk == destination.pk:
        raise ValidationFailed(_("Choose two different warehouses."), field="destination")
    merged = _transfer_lines_in(lines)
    if (send or receive) and not merged:
        raise ValidationFailed(_("Add at least one product to the transfer."), field="lines")
    with transaction.atomic():
        t = Transfer.objects.create(
            number=f"tmp-{uuid.uuid4().hex[:12]}",
            source=source,
            destination=destination,
            note=note[:300],
            created_by=actor,
        )
        _number(Transfer, "TR", t)
        TransferLine.objects.bulk_create([TransferLine(transfer=t, variant=v, quantity=q) for v, q in merged])
        audit_record(
            obj_type="inventory.transfer",
            obj_id=t.pk,
            action="create",
            actor=actor,
            changes={"status": [None, t.status]},
        )
        if send or receive:
            t = transfer_send(transfer_id=t.pk, actor=actor)
        if receive:
            t = transfer_receive(transfer_id=t.pk, actor=actor)
    return t


def transfer_line_set(*, transfer_id: int, variant: Variant, quantity: int, actor=None) -> Transfer:
    """Set a draft transfer's quantity of a variant (0 removes the line)."""
    if quantity < 0:
        raise ValidationFailed(_("Quantity must not be negative."), field="quantity")
    with transaction.atomic():
        t = Transfer.objects.select_for_update().get(pk=transfer_id)
        if t.status != Transfer.Status.DRAFT:
            raise IllegalTransition(_("Only a draft transfer can be changed."), field="status")
        if quantity == 0:
            TransferLine.objects.filter(transfer=t, variant=variant).delete()
        else:
            TransferLine.objects.update_or_create(
                transfer=t, variant=variant, defaults={"quantity": quantity}
            )
    return t


def _transfer_move(t: Transfer, to: str, actor, at) -> None:
    if to not in TRANSFER_TRANSITIONS[t.status]:
        raise IllegalTransition(
            _("Transfer %(number)s is %(status)s: it cannot become %(to)s.")
            % {"number": t.number, "status": t.get_status_display(), "to": Transfer.Status(to).label},
            field="status",
        )
    stamp = {
        Transfer.Status.SENT: "sent_at",
        Transfer.Status.RECEIVED: "received_at",
        Transfer.Status.CANCELLED: "cancelled_at",
    }[to]
    if Transfer.objects.filter(pk=t.pk, status=t.status).update(status=to, **{stamp: at}) != 1:
        raise IllegalTransition(
            _("Transfer %(number)s was changed meanwhile; reload it.") % {"number": t.number}
        )
    audit_record(
        obj_type="inventory.transfer",
        obj_id=t.pk,
        action="status",
        actor=actor,
        changes={"status": [t.status, to]},
    )
    t.status = to
    setattr(t, stamp, at)


def transfer_send(*, transfer_id: int, actor=None) -> Transfer:
    """Take the goods out of the source warehouse (transfer_out movements). Refuses, moving nothing, when any
    line wants more than is available there (on hand minus reserved)."""
    with transaction.atomic():
        t = Transfer.objects.select_for_update().select_related("source", "destination").get(pk=transfer_id)
        lines = list(t.lines.select_related("variant").order_by("variant_id"))
        if t.status == Transfer.Status.DRAFT and not lines:
            raise ValidationFailed(_("Add at least one product to the transfer."), field="lines")
        _transfer_move(t, Transfer.Status.SENT, actor, timezone.now())
        levels = {
            lv.variant_id: lv
            for lv in StockLevel.objects.filter(
                warehouse=t.source, variant_id__in=[ln.variant_id for ln in lines]
            )
        }
        short = []
        for ln in lines:
            lv = levels.get(ln.variant_id)
            on_hand, reserved = (lv.on_hand, lv.reserved) if lv else (0, 0)
            if ln.quantity > on_hand - reserved:
                short.append(
                    _(
                        "%(sku)s: wants %(qty)s, only %(free)s available in %(wh)s (on hand %(on_hand)s, reserved %(reserved)s)"
                    )
                    % {
                        "sku": ln.variant.sku,
                        "qty": ln.quantity,
                        "free": max(0, on_hand - reserved),
                        "wh": t.source.code,
                        "on_hand": on_hand,
                        "reserved": reserved,
                    }
                )
        if short:
            raise DomainError(
                _("Not enough available stock to send %(number)s: %(lines)s")
                % {"number": t.number, "lines": "; ".join(short)},
                code="insufficient_stock",
                field="quantity",
            )
        reason = _("transfer %(number)s to %(wh)s") % {"number": t.number, "wh": t.destination.code}
        try:
            stock_adjust_many(
                [Adjustment(ln.variant, -ln.quantity, reason) for ln in lines],
                warehouse=t.source,
                kind=StockMovement.Kind.TRANSFER_OUT,
                reference=t.number,
                actor=actor,
            )
        except DomainError as exc:
            raise DomainError(
                _("Stock in %(wh)s changed meanwhile: %(error)s")
                % {"wh": t.source.code, "error": exc.message},
                code="insufficient_stock",
                field="quantity",
            )
    return t


def transfer_receive(*, transfer_id: int, actor=None) -> Transfer:
    """The goods arrive in the destination warehouse (transfer_in movements)."""
    with transaction.atomic():
        t = Transfer.objects.select_for_update().select_related("source", "destination").get(pk=transfer_id)
        _transfer_move(t, Transfer.Status.RECEIVED, actor, timezone.now())
        reason = _("transfer %(number)s from %(wh)s") % {"number": t.number, "wh": t.source.code}
        stock_adjust_many(
            [Adjustment(ln.variant, ln.quantity, reason) for ln in t.lines.select_related("variant")],
            warehouse=t.destination,
            kind=StockMovement.Kind.TRANSFER_IN,
            reference=t.number,
            actor=actor,
        )
    return t


def transfer_cancel(*, transfer_id: int, actor=None, reason: str = "") -> Transfer:
    """A draft is just cancelled; goods in transit go back into the source warehouse."""
    with transaction.atomic():
        t = Transfer.objects.select_for_update().select_related("source", "destination").get(pk=transfer_id)
        was_sent = t.status == Transfer.Status.SENT
        _transfer_move(t, Transfer.Status.CANCELLED, actor, timezone.now())
        if was_sent:
            why = _("transfer %(number)s cancelled") % {"number": t.number} + (
                f": {reason}" if reason else ""
            )
            stock_adjust_many(
                [Adjustment(ln.variant, ln.quantity, why) for ln in t.lines.select_related("variant")],
                warehouse=t.source,
                kind=StockMovement.Kind.TRANSFER_IN,
                reference=t.number,
                actor=actor,
            )
    return t


def stock_transfer(
    *, variant: Variant, source: Warehouse, destination: Warehouse, quantity: int, note: str = "", actor=None
) -> Transfer:
    """Move `quantity` units of one variant from `source` to `destination` now, atomically: a transfer_out and a
    transfer_in movement with the transfer's number as their shared reference. Refuses more than available."""
    return transfer_create(
        source=source,
        destination=destination,
        lines=[(variant, quantity)],
        note=note,
        actor=actor,
        send=True,
        receive=True,
    )


# --- stocktakes ---------------------------------------------------------------------------------------


def stocktake_create(
    *,
    warehouse: Warehouse,
    location: Location | None = None,
    category: Category | None = None,
    note: str = "",
    actor=None,
) -> Stocktake:
    if location is not None and location.warehouse_id != warehouse.pk:
        raise ValidationFailed(
            _("Bin %(bin)s is not in warehouse %(warehouse)s.")
            % {"bin": location.code, "warehouse": warehouse.code},
            field="location",
        )
    with transaction.atomic():
        st = Stocktake.objects.create(
            number=f"tmp-{uuid.uuid4().hex[:12]}",
            warehouse=warehouse,
            location=location,
            category=category,
            note=(note or "")[:300],
            created_by=actor,
        )
        _number(Stocktake, "ST", st)
        audit_record(
            obj_type="inventory.stocktake",
            obj_id=st.pk,
            action="create",
            actor=actor,
            changes={"status": [None, st.status]},
        )
    return st


def _category_ids(category_id: int) -> set[int]:
    ids, frontier = {category_id}, {category_id}
    while frontier:
        frontier = set(Category.objects.filter(parent_id__in=frontier).values_list("pk", flat=True)) - ids
        ids |= frontier
    return ids


def _stocktake_snapshot(st: Stocktake) -> int:
    levels = StockLevel.objects.filter(warehouse_id=st.warehouse_id)
    if st.location_id:
        levels = levels.filter(location_id=st.location_id)
    if st.category_id:
        levels = levels.filter(variant__product__category_id__in=_category_ids(st.category_id))
    existing = set(st.lines.values_list("variant_id", flat=True))
    new = [
        StocktakeLine(stocktake=st, variant_id=vid, location_id=loc, snapshot=on_hand, expected=on_hand)
        for vid, loc, on_hand in levels.values_list("variant_id", "location_id", "on_hand").order_by(
            "variant_id"
        )
        if vid not in existing
    ]
    StocktakeLine.objects.bulk_create(new, batch_size=1000)
    return len(new)


def stocktake_transition(*, stocktake_id: int, to: str, actor=None) -> Stocktake:
    """draft -> counting (the expected quantities are taken now) -> review -> posted (see stocktake_post);
    review -> counting again; anything not posted -> cancelled."""
    if to == Stocktake.Status.POSTED:
        raise IllegalTransition(_("Post a stocktake with stocktake_post."), field="status")
    with transaction.atomic():
        st = Stocktake.objects.select_for_update().get(pk=stocktake_id)
        if to not in Stocktake.Status.values or to not in STOCKTAKE_TRANSITIONS[st.status]:
            raise IllegalTransition(
                _("Stocktake %(number)s is %(status)s: it cannot become %(to)s.")
                % {"number": st.number, "status": st.get_status_display(), "to": to},
                field="status",
            )
        now = timezone.now()
        stamp = {
            Stocktake.Status.COUNTING: "started_at",
            Stocktake.Status.REVIEW: "reviewed_at",
            Stocktake.Status.CANCELLED: "cancelled_at",
        }[to]
        if Stocktake.objects.filter(pk=st.pk, status=st.status).update(status=to, **{stamp: now}) != 1:
            raise IllegalTransition(
                _("Stocktake %(number)s was changed meanwhile; reload it.") % {"number": st.number}
            )
        if st.status == Stocktake.Status.DRAFT and to == Stocktake.Status.COUNTING:
            _stocktake_snapshot(st)
        audit_record(
            obj_type="inventory.stocktake",
            obj_id=st.pk,
            action="status",
            actor=actor,
            changes={"status": [st.status, to]},
        )
        st.status = to
        setattr(st, stamp, now)
    return st


def _on_hand(variant_id: int, warehouse_id: int) -> int:
    return (
        StockLevel.objects.filter(variant_id=variant_id, warehouse_id=warehouse_id)
        .values_list("on_hand", flat=True)
        .first()
        or 0
    )


def _record_count(
    st: Stocktake, variant: Variant, quantity: int, *, add: bool, location: Location | None, actor
) -> StocktakeLine:
    now = timezone.now()
    line = StocktakeLine.objects.select_for_update().filter(stocktake=st, variant=variant).first()
    if line is None:
        on_hand = _on_hand(variant.pk, st.warehouse_id)
        line = StocktakeLine.objects.create(stocktake=st, variant=variant, snapshot=on_hand, expected=on_hand)
    fields = ["counted", "counted_at", "counted_by", "expected"]
    if add and line.counted is not None:
        line.counted += quantity  # expected stays from the first count of the line
    else:
        line.counted = quantity
        line.expected = _on_hand(variant.pk, st.warehouse_id)
    if line.counted < 0:
        raise ValidationFailed(
            _("The count of %(sku)s cannot go below 0.") % {"sku": variant.sku}, field="quantity"
        )
    line.counted_at, line.counted_by = now, actor
    if location is not None:
        line.location = location
        fields.append("location")
    line.save(update_fields=fields)
    return line


def _counting(stocktake_id: int) -> Stocktake:
    st = Stocktake.objects.select_for_update().select_related("warehouse").get(pk=stocktake_id)
    if st.status != Stocktake.Status.COUNTING:
        raise IllegalTransition(
            _("Stocktake %(number)s is %(status)s: counts can be entered only while counting.")
            % {"number": st.number, "status": st.get_status_display()},
            field="status",
        )
    return st


def stocktake_count(
    *, stocktake_id: int, code: str, quantity: int, mode: str = "add", location_code: str = "", actor=None
) -> StocktakeLine:
    """Record a count by SKU or EAN (a scanner types the code). mode "add" adds to the line's count (scan by
    scan), "set" replaces it. A product not in the stocktake yet gets a line."""
    code = (code or "").strip()
    if not code:
        raise ValidationFailed(_("Scan or type a SKU or EAN."), field="code")
    if mode not in ("add", "set"):
        raise ValidationFailed(_("Mode must be add or set."), field="mode")
    if mode == "set" and quantity < 0:
        raise ValidationFailed(_("The count must not be negative."), field="quantity")
    if abs(quantity) > 10_000_000:
        raise ValidationFailed(_("The quantity is too large."), field="quantity")
    variant = variants_by_codes({code}).get(code)
    if variant is None:
        raise ValidationFailed(
            _("No product with SKU or EAN %(code)s.") % {"code": code}, field="code", code="unknown_code"
        )
    with transaction.atomic():
        st = _counting(stocktake_id)
        location = None
        if location_code:
            location = Location.objects.filter(
                warehouse_id=st.warehouse_id, code=location_code.strip().upper()
            ).first()
            if location is None:
                raise ValidationFailed(
                    _("No bin %(bin)s in warehouse %(warehouse)s.")
                    % {"bin": location_code, "warehouse": st.warehouse.code},
                    field="location",
                )
        return _record_count(st, variant, quantity, add=(mode == "add"), location=location, actor=actor)


def stocktake_import_file(*, stocktake_id: int, data: bytes, filename: str = "", actor=None) -> FileReport:
    """Counts from a count sheet (CSV/XLSX: sku or ean, quantity, optional location). Each row replaces the
    count of its product; rows with an empty quantity are skipped. Any error: nothing is applied."""
    report = FileReport()
    st = Stocktake.objects.select_related("warehouse").get(pk=stocktake_id)
    if st.status != Stocktake.Status.COUNTING:
        return _file_error(
            report,
            IllegalTransition(
                _("Stocktake %(number)s is %(status)s: counts can be entered only while counting.")
                % {"number": st.number, "status": st.get_status_display()},
                field="status",
            ),
        )
    rows = _parse(data, filename, report)
    if rows is None:
        return report
    variants = _resolve_rows(rows, report)
    bins = _resolve_locations(rows, st.warehouse, report)
    if report.errors:
        report.errors.sort(key=lambda e: (e["row"], e["column"]))
        return report
    try:
        with transaction.atomic():
            st = _counting(stocktake_id)  # locks the stocktake: no other count lands meanwhile
            todo = []
            for r in rows:
                if r.quantity is None:
                    report.skipped += 1
                else:
                    todo.append((r, variants[r.row]))
            # Set-based, the same as _record_count row by row: expected = on hand now, count replaced.
            vids = [v.pk for _r, v in todo]
            existing: dict[int, StocktakeLine] = {}
            on_hand: dict[int, int] = {}
            for i in range(0, len(vids), 500):
                chunk = vids[i : i + 500]
                existing.update(
                    (ln.variant_id, ln)
                    for ln in StocktakeLine.objects.filter(stocktake=st, variant_id__in=chunk)
                )
                on_hand.update(
                    StockLevel.objects.filter(warehouse_id=st.warehouse_id, variant_id__in=chunk).values_list(
                        "variant_id", "on_hand"
                    )
                )
            now = timezone.now()
            new, changed = [], []
            for r, variant in todo:
                oh = on_hand.get(variant.pk, 0)
                loc = bins.get(r.location.upper()) if r.location else None
                line = existing.get(variant.pk)
                if line is None:
                    new.append(
                        StocktakeLine(
                            stocktake=st,
                            variant=variant,
                            snapshot=oh,
                            expected=oh,
                            counted=r.quantity,
                            counted_at=now,
                            counted_by=actor,
                            location=loc,
                        )
                    )
                else:
                    line.counted, line.expected, line.counted_at, line.counted_by = r.quantity, oh, now, actor
                    if loc is not None:
                        line.location = loc
                    changed.append(line)
                report.changed += 1
                report.changes.append(
                    {"row": r.row, "sku": variant.sku, "counted": r.quantity, "expected": oh}
                )
            StocktakeLine.objects.bulk_create(new, batch_size=500)
            _stocktake_lines_update(changed)
    except DomainError as exc:
        return _file_error(FileReport(rows=report.rows), exc)
    report.applied = True
    return report


def _stocktake_lines_update(lines: list[StocktakeLine]) -> None:
    """One parametrised UPDATE per line, sent with executemany (bulk_update's CASE expressions cost seconds of
    Python per thousand lines)."""
    if not lines:
        return
    from django.db import connection

    qn = connection.ops.quote_name
    sql = (
        f"UPDATE {qn(StocktakeLine._meta.db_table)} SET {qn('counted')} = %s, {qn('expected')} = %s, "  # noqa: S608
        f"{qn('counted_at')} = %s, {qn('counted_by_id')} = %s, {qn('location_id')} = %s WHERE {qn('id')} = %s"
    )
    params = [
        (
            ln.counted,
            ln.expected,
            connection.ops.adapt_datetimefield_value(ln.counted_at),
            ln.counted_by_id,
            ln.location_id,
            ln.pk,
        )
        for ln in lines
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


@dataclass
class PostPlan:
    line: StocktakeLine
    delta: int


def stocktake_post(*, stocktake_id: int, actor=None, uncounted_as_zero: bool = False) -> Stocktake:
    """Post the reviewed differences as adjustment movements (reason "stocktake ST-00001"), all or nothing.

    The difference posted is counted - expected, where expected is on hand when the count was recorded, applied
    to today's on hand: what was sold or received after the count stays in the ledger. Lines not counted change
    nothing, unless `uncounted_as_zero` (then they are set to 0). A line that would take stock below what is
    reserved for orders stops the posting with an error naming it."""
    with transaction.atomic():
        st = Stocktake.objects.select_for_update().select_related("warehouse").get(pk=stocktake_id)
        if st.status != Stocktake.Status.REVIEW:
            raise IllegalTransition(
                _("Stocktake %(number)s is %(status)s: only a stocktake in review can be posted.")
                % {"number": st.number, "status": st.get_status_display()},
                field="status",
            )
        now = timezone.now()
        lines = list(st.lines.select_related("variant").order_by("variant_id"))
        levels = {
            lv.variant_id: lv
            for lv in StockLevel.objects.select_for_update()
            .filter(warehouse_id=st.warehouse_id, variant_id__in=[ln.variant_id for ln in lines])
            .order_by("variant_id")
        }
        plan: list[PostPlan] = []
        problems = []
        for ln in lines:
            lv = levels.get(ln.variant_id)
            on_hand, reserved = (lv.on_hand, lv.reserved) if lv else (0, 0)
            if ln.counted is None:
                if not uncounted_as_zero:
                    continue
                ln.counted, ln.expected, ln.counted_at, ln.counted_by = 0, on_hand, now, actor
                ln.save(update_fields=["counted", "expected", "counted_at", "counted_by"])
            delta = ln.counted - ln.expected
            if delta and on_hand + delta < reserved:
                problems.append(
                    _(
                        "%(sku)s: the count removes %(n)s but on hand is %(on_hand)s with %(reserved)s reserved for orders"
                    )
                    % {"sku": ln.variant.sku, "n": -delta, "on_hand": on_hand, "reserved": reserved}
                )
            plan.append(PostPlan(ln, delta))
        if problems:
            raise DomainError(
                _(
                    "Stocktake %(number)s cannot be posted: %(lines)s. Release or move those reservations, or recount."
                )
                % {"number": st.number, "lines": "; ".join(problems)},
                code="insufficient_stock",
            )
        reason = _("stocktake %(number)s") % {"number": st.number}
        stock_adjust_many(
            [Adjustment(p.line.variant, p.delta, reason) for p in plan],
            warehouse=st.warehouse,
            kind=StockMovement.Kind.ADJUSTMENT,
            reference=st.number,
            actor=actor,
        )
        for p in plan:
            p.line.posted_delta = p.delta
        StocktakeLine.objects.bulk_update([p.line for p in plan], ["posted_delta"], batch_size=500)
        for p in plan:
            if p.line.location_id:
                lv = levels.get(p.line.variant_id)
                if lv is None or lv.location_id != p.line.location_id:
                    loc = Location.objects.get(pk=p.line.location_id)
                    if loc.active:
                        stock_level_set_location(
                            variant=p.line.variant, warehouse=st.warehouse, location=loc, actor=actor
                        )
        Stocktake.objects.filter(pk=st.pk).update(
            status=Stocktake.Status.POSTED, posted_at=now, posted_by=actor
        )
        audit_record(
            obj_type="inventory.stocktake",
            obj_id=st.pk,
            action="status",
            actor=actor,
            changes={"status": [st.status, Stocktake.Status.POSTED]},
            reason=_("%(n)s movements") % {"n": sum(1 for p in plan if p.delta)},
        )
        st.status, st.posted_at, st.posted_by = Stocktake.Status.POSTED, now, actor
    return st


def stocktake_count_many(
    *, stocktake_id: int, counts: list[dict], mode: str = "set", actor=None
) -> list[StocktakeLine]:
    """Several counts at once ({code, quantity, location?} each), all or none: the first bad one raises an error
    naming its position (counts[i])."""
    lines = []
    with transaction.atomic():
        for i, c in enumerate(counts):
            try:
                lines.append(
                    stocktake_count(
                        stocktake_id=stocktake_id,
                        code=c.get("code", ""),
                        quantity=c.get("quantity", 0),
                        mode=mode,
                        location_code=c.get("location", "") or "",
                        actor=actor,
                    )
                )
            except DomainError as exc:
                raise type(exc)(exc.message, code=exc.code, field=f"counts[{i}].{exc.field or 'code'}")
    return lines
