"""Every write of fulfilment: pick lists (create, tick off rows, done/reopen) and packing (scan, undo).

Orders move through `orders.services.order_transition` only: optionally to "picking" when a pick list is
made, to "packed" when the last unit is scanned, back to "picking" when a scan of a packed order is undone."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from zaplecze.core.errors import Conflict, DomainError, IllegalTransition, NotFound, PermissionDenied
from zaplecze.core.models import User
from zaplecze.core.permissions import user_has
from zaplecze.core.services import audit_record
from zaplecze.orders.models import Order, OrderStatus, Stage
from zaplecze.orders.services import order_transition

from . import selectors
from .models import (
    Packing,
    PackingScan,
    PackingStatus,
    PickList,
    PickListOrder,
    PickListStatus,
    ScanOutcome,
)

log = logging.getLogger("zaplecze.fulfilment")

MAX_ORDERS = 1000  # per pick list
PICKING_STATUS = "picking"
PACKED_STATUS = "packed"


# --- pick lists ---------------------------------------------------------------------------------------


def picklist_create(
    *,
    order_ids: list[int],
    actor: User | None,
    move_to_picking: bool = False,
    note: str = "",
) -> PickList:
    """A pick list of these orders (in this order). Every order must exist and be ready to fulfil or in
    fulfilment; otherwise nothing is created and the error names the orders. With `move_to_picking`, orders
    still "ready to fulfil" go to the status "picking" in the same transaction."""
    ids = list(dict.fromkeys(int(i) for i in order_ids))
    if not ids:
        raise DomainError(_("Choose at least one order for the pick list."), field="orders")
    if len(ids) > MAX_ORDERS:
        raise DomainError(
            _("A pick list holds at most %(n)d orders; %(given)d were given.")
            % {"n": MAX_ORDERS, "given": len(ids)},
            field="orders",
        )
    if move_to_picking and actor is not None and not user_has(actor, "orders.change_status"):
        raise PermissionDenied(_("Your role may not change order statuses (orders.change_status)"))
    with transaction.atomic():
        found: dict[int, tuple[str, str]] = {}
        for chunk in selectors._chunks(ids):
            for pk, number, stage in Order.objects.filter(pk__in=chunk).values_list("pk", "number", "stage"):
                found[pk] = (number, stage)
        missing = [str(i) for i in ids if i not in found]
        if missing:
            raise NotFound(
                _("Unknown orders: %(ids)s") % {"ids": ", ".join(missing[:20])},
                field="orders",
                missing=missing,
            )
        wrong = [found[i][0] for i in ids if found[i][1] not in selectors.PICKABLE_STAGES]
        if wrong:
            raise DomainError(
                _("Only orders ready to fulfil or in fulfilment can be picked; not: %(numbers)s")
                % {"numbers": ", ".join(wrong[:20]) + (" …" if len(wrong) > 20 else "")},
                field="orders",
                code="not_pickable",
            )
        now = timezone.now()
        pick_list = PickList.objects.create(
            number=f"tmp-{uuid.uuid4().hex[:24]}", created_by=actor, created_at=now, note=note[:200]
        )
        pick_list.number = f"PL-{pick_list.pk:06d}"
        pick_list.save(update_fields=["number"])
        PickListOrder.objects.bulk_create(
            [PickListOrder(pick_list=pick_list, order_id=pk, position=i) for i, pk in enumerate(ids)],
            batch_size=500,
        )
        moved = 0
        if move_to_picking:
            if not OrderStatus.objects.filter(code=PICKING_STATUS).exists():
                raise DomainError(
                    _("There is no order status with the code “%(code)s”.") % {"code": PICKING_STATUS},
                    field="move_to_picking",
                )
            for pk in ids:
                if found[pk][1] == Stage.READY:
                    order_transition(
                        order_id=pk,
                        status_code=PICKING_STATUS,
                        actor=actor,
                        reason=_("Pick list %(number)s") % {"number": pick_list.number},
                        source="picklist",
                    )
                    moved += 1
        audit_record(
            obj_type="fulfilment.picklist",
            obj_id=pick_list.pk,
            action="created",
            actor=actor,
            changes={"orders": [None, len(ids)], "moved_to_picking": [None, moved]},
            reason=note,
        )
    return pick_list


def _lock_picklist(pick_list_id: int) -> PickList:
    pick_list = PickList.objects.select_for_update().filter(pk=pick_list_id).first()
    if pick_list is None:
        raise NotFound(_("Pick list not found"))
    return pick_list


def picklist_transition(*, pick_list_id: int, status: str, actor: User | None) -> PickList:
    """Mark a pick list done, or reopen it."""
    if status not in PickListStatus.values:
        raise DomainError(_("Unknown pick list status %(s)s") % {"s": status}, field="status")
    with transaction.atomic():
        pick_list = _lock_picklist(pick_list_id)
        if pick_list.status == status:
            return pick_list
        if not pick_list.can_move_to(status):
            raise IllegalTransition(
                _("Pick list %(n)s cannot go from %(a)s to %(b)s")
                % {"n": pick_list.number, "a": pick_list.status, "b": status},
                field="status",
            )
        before = pick_list.status
        pick_list.status = status
        pick_list.done_at = timezone.now() if status == PickListStatus.DONE else None
        pick_list.save(update_fields=["status", "done_at"])
        audit_record(
            obj_type="fulfilment.picklist",
            obj_id=pick_list.pk,
            action="status_changed",
            actor=actor,
            changes={"status": [before, status]},
        )
    return pick_list


def picklist_mark(*, pick_list_id: int, key: str, picked: bool, actor: User | None) -> PickList:
    """Tick a row of the pick sheet off (or on again). The key must be one of the sheet's rows."""
    key = (key or "").strip()
    with transaction.atomic():
        pick_list = _lock_picklist(pick_list_id)
        if pick_list.status != PickListStatus.OPEN:
            raise DomainError(
                _("Pick list %(n)s is done; reopen it to change it.") % {"n": pick_list.number},
                field="status",
            )
        sheet = selectors.picklist_sheet(pick_list)
        keys = {r.key for g in sheet.groups for r in g.rows}
        if key not in keys:
            raise DomainError(
                _("No such row on pick list %(n)s: %(k)s") % {"n": pick_list.number, "k": key[:80]},
                field="key",
            )
        current = [k for k in (pick_list.picked or []) if k in keys]
        if picked and key not in current:
            current.append(key)
        elif not picked and key in current:
            current.remove(key)
        pick_list.picked = current
        pick_list.save(update_fields=["picked"])
    return pick_list


# --- packing ------------------------------------------------------------------------------------------


@dataclass
class ScanResult:
    outcome: str
    message: str
    state: selectors.PackState
    line_id: int | None = None
    packed_now: bool = False

    @property
    def ok(self) -> bool:
        return self.outcome == ScanOutcome.COUNTED


def _packing_for(order: Order, actor: User | None, pick_list_id: int | None = None) -> Packing:
    """The order's packing row, created on first use, locked for this transaction."""
    packing = Packing.objects.select_for_update().filter(order=order).first()
    if packing is None:
        if pick_list_id is not None and not PickList.objects.filter(pk=pick_list_id).exists():
            pick_list_id = None
        try:
            with transaction.atomic():
                Packing.objects.create(order=order, started_by=actor, pick_list_id=pick_list_id)
        except IntegrityError:  # created concurrently
            pass
        packing = Packing.objects.select_for_update().get(order=order)
    return packing


def _packable(order: Order) -> None:
    if order.stage not in selectors.PICKABLE_STAGES:
        raise DomainError(
            _("Order %(n)s is “%(s)s”; only orders ready to fulfil or in fulfilment are packed.")
            % {"n": order.number, "s": order.status.name},
            field="order",
            code="not_packable",
        )


def _order(order_id: int) -> Order:
    order = Order.objects.select_related("status").filter(pk=order_id).first()
    if order is None:
        raise NotFound(_("Order not found"))
    return order


def packing_scan(
    *, order_id: int, code: str, actor: User | None, pick_list_id: int | None = None
) -> ScanResult:
    """Count one unit of the order line matching `code` (EAN or SKU, as a keyboard-wedge scanner types it).

    An unknown code, an item that is not in the order, or a unit more than the order needs is refused with
    a warning and not counted (it is recorded, for the history). The scan that completes the last line
    marks the packing complete and moves the order to "packed"."""
    raw = (code or "").strip()
    if not raw:
        raise DomainError(_("Scan or type an EAN or SKU."), field="code")
    if len(raw) > 64:
        raise DomainError(_("The code is too long (at most 64 characters)."), field="code")
    norm = selectors.normalise_code(raw)
    with transaction.atomic():
        order = _order(order_id)
        packing = _packing_for(order, actor, pick_list_id)
        order = _order(order_id)  # re-read after the lock
        _packable(order)
        lines = selectors.pack_lines(order, packing)
        matching = [ln for ln in lines if norm in ln.codes()]
        line_id = None
        if not matching:
            variant = selectors.variant_for_code(raw)
            if variant is None:
                outcome = ScanOutcome.UNKNOWN
                message = _("Unknown code %(code)s: no product has this EAN or SKU. Not counted.") % {
                    "code": raw
                }
            else:
                outcome = ScanOutcome.NOT_IN_ORDER
                message = _("%(sku)s %(name)s is not in order %(n)s. Put it back; not counted.") % {
                    "sku": variant.sku,
                    "name": variant.name,
                    "n": order.number,
                }
        else:
            target = next((ln for ln in matching if not ln.done), None)
            if target is None:
                first = matching[0]
                outcome = ScanOutcome.SURPLUS
                line_id = first.line_id
                message = _(
                    "Surplus: order %(n)s needs only %(q)d × %(sku)s, all already scanned. Not counted."
                ) % {"n": order.number, "q": sum(ln.needed for ln in matching), "sku": first.sku}
            else:
                outcome = ScanOutcome.COUNTED
                line_id = target.line_id
                target.scanned += 1
                message = _("%(sku)s %(name)s: %(s)d of %(q)d") % {
                    "sku": target.sku,
                    "name": target.name,
                    "s": target.scanned,
                    "q": target.needed,
                }
        now = timezone.now()
        PackingScan.objects.create(
            packing=packing, at=now, actor=actor, code=raw, outcome=outcome, line_id=line_id
        )
        packed_now = False
        if (
            outcome == ScanOutcome.COUNTED
            and packing.status != PackingStatus.COMPLETE
            and all(ln.done for ln in lines)
        ):
            packing.status = PackingStatus.COMPLETE
            packing.completed_at = now
            packed_now = True
            if OrderStatus.objects.filter(code=PACKED_STATUS).exists():
                order_transition(
                    order_id=order.pk,
                    status_code=PACKED_STATUS,
                    actor=actor,
                    reason=_("All %(n)d units scanned") % {"n": sum(ln.needed for ln in lines)},
                    source="packing",
                )
                message = _("Order %(n)s is packed.") % {"n": order.number}
            else:
                message = _(
                    "Order %(n)s is complete, but there is no order status “%(code)s”; its status was not changed."
                ) % {"n": order.number, "code": PACKED_STATUS}
            audit_record(
                obj_type="fulfilment.packing",
                obj_id=packing.pk,
                action="completed",
                actor=actor,
                changes={"order": [None, order.number]},
            )
        packing.updated_at = now
        packing.save(update_fields=["status", "completed_at", "updated_at"])
    return ScanResult(
        outcome=outcome,
        message=message,
        state=selectors.pack_state(order),
        line_id=line_id,
        packed_now=packed_now,
    )


def packing_undo(*, order_id: int, actor: User | None, expected_scan_id: int | None = None) -> ScanResult:
    """Take back the last counted scan. When the order was already marked packed by it, the packing is open
    again and the order goes back to "picking" (refused once the order has shipped). With `expected_scan_id`
    the undo goes through only if that scan is still the last counted one (two packers, one order)."""
    with transaction.atomic():
        order = _order(order_id)
        packing = Packing.objects.select_for_update().filter(order=order).first()
        last = (
            PackingScan.objects.filter(packing=packing, outcome=ScanOutcome.COUNTED, undone_at__isnull=True)
            .select_related("line")
            .order_by("-id")
            .first()
            if packing is not None
            else None
        )
        if last is None:
            raise DomainError(
                _("Nothing to undo: no unit of order %(n)s is scanned.") % {"n": order.number}, field="code"
            )
        if expected_scan_id is not None and last.pk != expected_scan_id:
            raise Conflict(
                _(
                    "Scan %(scan)s is no longer the last one counted for order %(n)s: someone scanned meanwhile."
                )
                % {"scan": expected_scan_id, "n": order.number},
                field="scan_id",
            )
        order = _order(order_id)
        _packable(order)
        now = timezone.now()
        last.undone_at = now
        last.save(update_fields=["undone_at"])
        message = _("Undone: one unit of %(sku)s.") % {"sku": last.line.sku if last.line else last.code}
        if packing.status == PackingStatus.COMPLETE:
            packing.status = PackingStatus.OPEN
            packing.completed_at = None
            if (
                order.status.code == PACKED_STATUS
                and OrderStatus.objects.filter(code=PICKING_STATUS).exists()
            ):
                order_transition(
                    order_id=order.pk,
                    status_code=PICKING_STATUS,
                    actor=actor,
                    reason=_("Packing reopened (scan undone)"),
                    source="packing",
                )
            audit_record(
                obj_type="fulfilment.packing",
                obj_id=packing.pk,
                action="reopened",
                actor=actor,
                changes={"order": [None, order.number]},
            )
        packing.updated_at = now
        packing.save(update_fields=["status", "completed_at", "updated_at"])
    return ScanResult(
        outcome="undone", message=message, state=selectors.pack_state(order), line_id=last.line_id
    )
