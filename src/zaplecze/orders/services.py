"""Every write to orders goes through here: intake (`ingest_order`), status transitions, staff edits,
notes and tags. Each function is one transaction and writes its order event and audit rows in it."""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db import DatabaseError, IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from zaplecze.catalog.models import VatRate
from zaplecze.catalog.selectors import variants_by_codes
from zaplecze.core.businesstime import ship_by as compute_ship_by
from zaplecze.core.errors import Conflict, DomainError, IllegalTransition, NotFound
from zaplecze.core.models import AuditEntry, User
from zaplecze.core.services import actor_label, audit_record, audit_record_many, diff
from zaplecze.inventory import services as stock

from . import automation_events
from .models import (
    HOLDING_STAGES,
    STAGE_RANK,
    STAGE_TRANSITIONS,
    Channel,
    Customer,
    CustomerType,
    Order,
    OrderEvent,
    OrderLine,
    OrderSearchToken,
    OrderStatus,
    PaymentMethod,
    PaymentStatus,
    Stage,
    Tag,
)
from .schemas import OrderIn

CENT = Decimal("0.01")
ORDER_AUDIT_FIELDS = (
    "number",
    "status_id",
    "stage",
    "customer_name",
    "email",
    "phone",
    "company",
    "nip",
    "customer_type",
    "billing_address",
    "shipping_address",
    "payment_method",
    "payment_status",
    "paid_at",
    "delivery_method",
    "pickup_point",
    "currency",
    "total_net",
    "total_vat",
    "total_gross",
    "shipping_cost",
    "discount",
    "discount_codes",
    "placed_at",
    "notes",
    "internal_notes",
)
# Fields staff may change with order_edit(); anything else is refused (no mass assignment).
EDITABLE_FIELDS = frozenset(
    {
        "customer_name",
        "email",
        "phone",
        "company",
        "nip",
        "billing_address",
        "shipping_address",
        "payment_method",
        "payment_status",
        "paid_at",
        "delivery_method",
        "pickup_point",
        "notes",
        "internal_notes",
        "ship_by",
    }
)


@dataclass
class IngestResult:
    order: Order
    outcome: str  # created | updated | unchanged | stale
    attention: list[dict] = field(default_factory=list)


def q2(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def net_of(gross: Decimal, rate: str) -> Decimal:
    return q2(gross / (1 + VatRate.fraction(rate)))


def _label(actor: User | None, source: str) -> str:
    return actor.username if actor is not None else source


# --- statuses ---------------------------------------------------------------------------------------


def status_for(*, code: str = "", stage: str | None = None) -> OrderStatus:
    """Resolve a status by code (or name in either language), else the default status of a stage."""
    if code:
        status = OrderStatus.objects.filter(code=code).first()
        if status is None:
            status = (
                OrderStatus.objects.filter(name_pl__iexact=code)
                | OrderStatus.objects.filter(name_en__iexact=code)
            ).first()
        if status is None:
            raise DomainError(f"Unknown order status {code!r}", field="status", code="unknown_status")
        if stage and status.stage != stage:
            raise DomainError(
                f"Status {code!r} belongs to stage {status.stage!r}, not {str(stage)!r}", field="stage"
            )
        return status
    stage = stage or Stage.NEW
    status = (
        OrderStatus.objects.filter(stage=stage).order_by("-is_default_for_stage", "position", "id").first()
    )
    if status is None:
        raise DomainError(f"No status is configured for stage {stage!r}", field="stage")
    return status


def status_save(
    *,
    code: str,
    name_pl: str,
    name_en: str,
    stage: str,
    colour: str = "#6b7280",
    position: int = 100,
    actor: User | None = None,
) -> OrderStatus:
    if stage not in Stage.values:
        raise DomainError(f"Unknown stage {stage!r}", field="stage")
    if not re.fullmatch(r"#[0-9a-fA-F]{6}", colour):
        raise DomainError("Colour must look like #1a2b3c", field="colour")
    with transaction.atomic():
        status, created = OrderStatus.objects.get_or_create(
            code=code,
            defaults={
                "name_pl": name_pl,
                "name_en": name_en,
                "stage": stage,
                "colour": colour,
                "position": position,
            },
        )
        if not created:
            if status.stage != stage and status.orders.exists():
                raise DomainError(
                    "The stage of a status in use cannot change; create a new status", field="stage"
                )
            before = {
                "name_pl": status.name_pl,
                "name_en": status.name_en,
                "stage": status.stage,
                "colour": status.colour,
                "position": status.position,
            }
            status.name_pl, status.name_en, status.stage = name_pl, name_en, stage
            status.colour, status.position = colour, position
            status.save()
            audit_record(
                obj_type="orders.status",
                obj_id=status.pk,
                action="edited",
                actor=actor,
                changes=diff(
                    before,
                    {
                        "name_pl": name_pl,
                        "name_en": name_en,
                        "stage": stage,
                        "colour": colour,
                        "position": position,
                    },
                ),
            )
        else:
            audit_record(
                obj_type="orders.status",
                obj_id=status.pk,
                action="created",
                actor=actor,
                changes={"code": [None, code], "stage": [None, stage]},
            )
    return status


# --- intake -----------------------------------------------------------------------------------------


def _fingerprint(data: OrderIn) -> str:
    return hashlib.sha256(data.model_dump_json(exclude={"updated_at"}).encode()).hexdigest()


def _initial_stage(data: OrderIn) -> str:
    if data.stage:
        return data.stage
    if data.payment_status == PaymentStatus.PAID or data.paid_at or data.payment_method == PaymentMethod.COD:
        return Stage.READY
    return (
        Stage.AWAITING_PAYMENT
        if data.payment_method in (PaymentMethod.TRANSFER, PaymentMethod.ONLINE)
        else Stage.NEW
    )


def _payment_status(data: OrderIn) -> str:
    if data.payment_status:
        return data.payment_status
    if data.paid_at:
        return PaymentStatus.PAID
    if data.payment_method == PaymentMethod.COD:
        return PaymentStatus.COD
    return PaymentStatus.UNPAID


def _customer_upsert(data: OrderIn) -> Customer | None:
    key = {"email": data.email} if data.email else ({"phone": data.phone} if data.phone else None)
    if key is None:
        return None
    customer = Customer.objects.filter(**key).order_by("id").first()
    fields = {
        "type": data.customer_type,
        "name": data.customer_name,
        "company": data.company,
        "nip": data.nip,
        "email": data.email,
        "phone": data.phone,
    }
    if customer is None:
        return Customer.objects.create(**fields)
    changed = [k for k, v in fields.items() if v and getattr(customer, k) != v]
    for k in changed:
        setattr(customer, k, fields[k])
    if changed:
        customer.save(update_fields=changed)
    return customer


def _tokens(order: Order, skus: Iterable[str]) -> set[str]:
    words: set[str] = set()
    for value in (order.number, order.external_id, order.customer_name, order.company, order.nip):
        for part in re.split(r"[\s,;/]+", (value or "").lower()):
            part = part.strip("#")
            if part:
                words.add(part)
    if order.number:
        words.add(order.number.lower())
    if order.email:
        words.add(order.email.lower())
        words.add(order.email.lower().split("@")[0])
    digits = re.sub(r"\D", "", order.phone or "")
    if digits:
        words.add(digits)
        if len(digits) > 9:
            words.add(digits[-9:])
    for sku in skus:
        words.add(sku.lower())
    return {w[:64] for w in words if w}


def _index_search(order: Order, skus: Iterable[str]) -> None:
    OrderSearchToken.objects.filter(order=order).delete()
    OrderSearchToken.objects.bulk_create(
        [OrderSearchToken(order=order, token=t) for t in sorted(_tokens(order, skus))]
    )


def _order_values(
    data: OrderIn, channel: Channel, status: OrderStatus, variants: dict[str, Any] | None = None
) -> tuple[dict[str, Any], list[dict], list[dict]]:
    """Column values, line values and attention reasons computed from the validated input.

    `variants` (SKU/EAN -> Variant, as `variants_by_codes` returns) may be prefetched by the batch intake."""
    attention: list[dict] = []
    if variants is None:
        variants = variants_by_codes(
            {line.sku for line in data.lines} | {line.ean for line in data.lines if line.ean}
        )
    lines = []
    top_rate = "0"
    for i, line in enumerate(data.lines):
        variant = variants.get(line.sku) or (variants.get(line.ean) if line.ean else None)
        if variant is None:
            attention.append(
                {"code": "unknown_sku", "sku": line.sku, "message": f"Unknown SKU {line.sku} (line {i + 1})"}
            )
        gross = q2(line.unit_price_gross * line.quantity)
        lines.append(
            {
                "position": i,
                "variant": variant,
                "sku": line.sku,
                "ean": line.ean or (variant.ean if variant else ""),
                "name": line.name or (variant.name if variant else line.sku),
                "quantity": line.quantity,
                "unit_price_gross": line.unit_price_gross,
                "vat_rate": line.vat_rate,
                "total_gross": gross,
                "total_net": net_of(gross, line.vat_rate),
                "external_id": line.external_id,
            }
        )
        if line.vat_rate != VatRate.ZW and Decimal(line.vat_rate) > Decimal(
            top_rate if top_rate != "zw" else "0"
        ):
            top_rate = line.vat_rate
    computed = data.computed_total()
    total_gross = data.total_gross if data.total_gross is not None else computed
    if data.total_gross is not None and abs(data.total_gross - computed) > CENT:
        attention.append(
            {
                "code": "total_mismatch",
                "message": f"Total {data.total_gross} differs from lines + shipping - discount = {computed}",
            }
        )
    extras_net = net_of(data.shipping_cost, top_rate) - net_of(data.discount, top_rate)
    total_net = sum((ln["total_net"] for ln in lines), Decimal("0")) + extras_net
    if data.total_gross is not None and abs(total_gross - computed) > CENT and computed:
        total_net = q2(total_net * total_gross / computed)
    billing = data.billing_address.model_dump() if data.billing_address else {}
    shipping = data.shipping_address.model_dump() if data.shipping_address else {}
    values = {
        "number": data.number or data.external_id,
        "status": status,
        "stage": status.stage,
        "customer_type": data.customer_type,
        "customer_name": data.customer_name or shipping.get("name", "") or billing.get("name", ""),
        "email": data.email,
        "phone": data.phone or shipping.get("phone", ""),
        "company": data.company,
        "nip": data.nip,
        "billing_address": billing,
        "shipping_address": shipping,
        "shipping_postcode": shipping.get("postcode", "") or billing.get("postcode", ""),
        "shipping_country": shipping.get("country", "") or billing.get("country", "") or "PL",
        "payment_method": data.payment_method,
        "payment_status": _payment_status(data),
        "paid_at": data.paid_at,
        "delivery_method": data.delivery_method,
        "pickup_point": data.pickup_point,
        "currency": data.currency,
        "total_net": q2(total_net),
        "total_vat": q2(total_gross - total_net),
        "total_gross": q2(total_gross),
        "shipping_cost": data.shipping_cost,
        "discount": data.discount,
        "discount_codes": sorted({c.upper() for c in data.discount_codes}),
        "placed_at": data.placed_at,
        "notes": data.notes,
        "source_updated_at": data.updated_at,
    }
    return values, lines, attention


def _reserve_lines(order: Order, lines: list[OrderLine]) -> list[dict]:
    short = []
    for line in lines:
        if line.variant_id is None:
            continue
        res = stock.stock_reserve(
            variant_id=line.variant_id, quantity=line.quantity, reference=line.reservation_ref
        )
        if res.short:
            short.append(
                {
                    "code": "stock_short",
                    "sku": line.sku,
                    "message": f"Not enough stock of {line.sku}: {res.short} unit(s) not reserved",
                }
            )
    return short


def _release_lines(order: Order) -> int:
    return sum(
        stock.stock_release(reference=f"order-line:{pk}") for pk in order.lines.values_list("pk", flat=True)
    )


def _issue_lines(order: Order, actor: User | None) -> int:
    return sum(
        stock.stock_issue(reference=f"order-line:{pk}", actor=actor, note=f"order {order.number}")
        for pk in order.lines.values_list("pk", flat=True)
    )


def _apply_stock_for_stage(
    order: Order, from_stage: str, to_stage: str, actor: User | None, label: str
) -> list[dict]:
    """Stock follows the lifecycle: held while open, released on cancel, issued at shipment."""
    now = timezone.now()
    events = []
    attention: list[dict] = []
    if from_stage in HOLDING_STAGES and to_stage == Stage.CANCELLED:
        n = _release_lines(order)
        if n:
            events.append(
                OrderEvent(
                    order=order,
                    at=now,
                    kind=OrderEvent.Kind.STOCK_RELEASED,
                    actor=actor,
                    actor_label=label,
                    data={"units": n},
                )
            )
    elif from_stage in HOLDING_STAGES and to_stage not in HOLDING_STAGES and to_stage != Stage.CANCELLED:
        n = _issue_lines(order, actor)
        if n:
            events.append(
                OrderEvent(
                    order=order,
                    at=now,
                    kind=OrderEvent.Kind.STOCK_ISSUED,
                    actor=actor,
                    actor_label=label,
                    data={"units": n},
                )
            )
    elif from_stage not in HOLDING_STAGES and to_stage in HOLDING_STAGES:
        attention = _reserve_lines(order, list(order.lines.all()))
        events.append(
            OrderEvent(
                order=order,
                at=now,
                kind=OrderEvent.Kind.STOCK_RESERVED,
                actor=actor,
                actor_label=label,
                data={"short": attention},
            )
        )
    OrderEvent.objects.bulk_create(events)
    return attention


def _create_lines(order: Order, lines: list[dict]) -> list[OrderLine]:
    objs = [OrderLine(order=order, **ln) for ln in lines]
    created = OrderLine.objects.bulk_create(objs)
    if any(obj.pk is None for obj in created):  # backends without RETURNING
        created = list(order.lines.order_by("position", "id"))
    return created


def _snapshot(order: Order) -> dict[str, Any]:
    return {f: getattr(order, f) for f in ORDER_AUDIT_FIELDS}


def _lines_snapshot(lines: Iterable[Any]) -> list[tuple]:
    out = []
    for ln in lines:
        get = ln.get if isinstance(ln, dict) else (lambda k, _ln=ln: getattr(_ln, k))
        out.append((get("sku"), get("quantity"), str(q2(Decimal(get("unit_price_gross")))), get("vat_rate")))
    return out


def _set_tags(order: Order, names: Iterable[str]) -> None:
    tags = [Tag.objects.get_or_create(name=n)[0] for n in dict.fromkeys(names)]
    order.tags.set(tags)


def ingest_order(data: OrderIn, *, actor: User | None = None, source: str = "api") -> IngestResult:
    """The one way in. Upserts by (channel, external id): the same order twice is one order; a newer
    version updates it (recorded); an older version never overwrites a newer one."""
    channel = Channel.objects.filter(code=data.channel).first()
    if channel is None:
        raise DomainError(f"Unknown channel {data.channel!r}", field="channel", code="unknown_channel")
    status = (
        status_for(code=data.status, stage=data.stage if not data.status else (data.stage or None))
        if (data.status or data.stage)
        else status_for(stage=_initial_stage(data))
    )
    fingerprint = _fingerprint(data)
    label = _label(actor, source)
    for attempt in range(2):
        try:
            with transaction.atomic():
                existing = (
                    Order.objects.select_for_update()
                    .filter(channel=channel, external_id=data.external_id)
                    .first()
                )
                if existing is None:
                    return _create(data, channel, status, fingerprint, actor, label)
                return _update(existing, data, status, fingerprint, actor, label)
        except IntegrityError:
            # A concurrent intake created the same (channel, external id) first: update that one instead.
            if attempt:
                raise
    raise AssertionError("unreachable")


def _create(
    data: OrderIn, channel: Channel, status: OrderStatus, fingerprint: str, actor: User | None, label: str
) -> IngestResult:
    values, line_values, attention = _order_values(data, channel, status)
    now = timezone.now()
    order = Order.objects.create(
        channel=channel,
        external_id=data.external_id,
        customer=_customer_upsert(data),
        source_hash=fingerprint,
        ship_by=compute_ship_by(data.placed_at, channel.ship_within_hours),
        created_at=now,
        updated_at=now,
        **values,
    )
    lines = _create_lines(order, line_values)
    if order.stage in HOLDING_STAGES:
        attention += _reserve_lines(order, lines)
    events = [
        OrderEvent(
            order=order,
            at=now,
            kind=OrderEvent.Kind.CREATED,
            actor=actor,
            actor_label=label,
            to_status=status.code,
            to_stage=status.stage,
            data={"source": label},
        )
    ]
    if attention:
        order.needs_attention = True
        order.attention_reasons = attention
        order.save(update_fields=["needs_attention", "attention_reasons"])
    OrderEvent.objects.bulk_create(events)
    if data.tags:
        _set_tags(order, data.tags)
    _index_search(order, [ln["sku"] for ln in line_values])
    audit_record(
        obj_type="orders.order",
        obj_id=order.pk,
        action="created",
        actor=actor,
        label=label,
        changes={
            "number": [None, order.number],
            "status": [None, status.code],
            "total_gross": [None, str(order.total_gross)],
        },
    )
    automation_events.order_created(order)
    return IngestResult(order=order, outcome="created", attention=attention)


def _channel_may_move(from_stage: str, to_stage: str) -> bool:
    """A channel may make any move staff may make, and may also skip stages forward (new -> delivered)."""
    if from_stage == to_stage or to_stage in STAGE_TRANSITIONS[from_stage]:
        return True
    return (
        from_stage in STAGE_RANK and to_stage in STAGE_RANK and STAGE_RANK[to_stage] > STAGE_RANK[from_stage]
    )


def _update(
    order: Order, data: OrderIn, status: OrderStatus, fingerprint: str, actor: User | None, label: str
) -> IngestResult:
    if order.source_hash == fingerprint:
        return IngestResult(order=order, outcome="unchanged")
    if data.updated_at and order.source_updated_at and data.updated_at < order.source_updated_at:
        OrderEvent.objects.create(
            order=order,
            kind=OrderEvent.Kind.STALE_IGNORED,
            actor=actor,
            actor_label=label,
            data={
                "received_version": data.updated_at.isoformat(),
                "current_version": order.source_updated_at.isoformat(),
            },
        )
        return IngestResult(order=order, outcome="stale")
    now = timezone.now()
    before = _snapshot(order)
    before_reasons = list(order.attention_reasons or [])
    old_lines = list(order.lines.all())
    values, line_values, attention = _order_values(data, order.channel, status)
    # Keep any non-intake attention reasons out; recompute intake ones from this version.
    from_stage, from_status = order.stage, order.status
    move_refused = None
    if status.stage != from_stage and not _channel_may_move(from_stage, status.stage):
        move_refused = {
            "code": "illegal_channel_status",
            "message": f"Channel reported status {status.code} but {from_stage} -> {status.stage} is not allowed",
        }
        values["status"], values["stage"] = from_status, from_stage
    lines_changed = _lines_snapshot(old_lines) != _lines_snapshot(line_values)
    if not lines_changed and not move_refused and _is_noop(order, data, values):
        # A different payload that changes nothing (e.g. our own CSV export imported back): remember its
        # fingerprint so the next identical delivery takes the fast path, and report it unchanged.
        Order.objects.filter(pk=order.pk).update(source_hash=fingerprint)
        order.source_hash = fingerprint
        return IngestResult(order=order, outcome="unchanged")
    for k, v in values.items():
        setattr(order, k, v)
    order.source_hash = fingerprint
    order.updated_at = now
    order.version += 1
    if lines_changed:
        if from_stage in HOLDING_STAGES:
            _release_lines(order)
        order.lines.all().delete()
        new_lines = _create_lines(order, line_values)
        if from_stage in HOLDING_STAGES and order.stage in HOLDING_STAGES:
            attention += _reserve_lines(order, new_lines)
    events = [
        OrderEvent(
            order=order,
            at=now,
            kind=OrderEvent.Kind.UPDATED,
            actor=actor,
            actor_label=label,
            data={"lines_changed": lines_changed},
        )
    ]
    if order.stage != from_stage or order.status_id != from_status.pk:
        events.append(
            OrderEvent(
                order=order,
                at=now,
                kind=OrderEvent.Kind.STATUS,
                actor=actor,
                actor_label=label,
                from_status=from_status.code,
                to_status=order.status.code,
                from_stage=from_stage,
                to_stage=order.stage,
            )
        )
        if order.stage != from_stage:
            if not lines_changed or from_stage not in HOLDING_STAGES or order.stage not in HOLDING_STAGES:
                attention += _apply_stock_for_stage(order, from_stage, order.stage, actor, label)
            _stamp_stage_times(order, now)
    if move_refused:
        attention.append(move_refused)
    attention = _carried_attention(before_reasons, lines_changed, order.stage) + attention
    order.needs_attention = bool(attention)
    order.attention_reasons = attention
    order.save()
    if order.customer_id is None:
        order.customer = _customer_upsert(data)
        if order.customer:
            order.save(update_fields=["customer"])
    OrderEvent.objects.bulk_create(events)
    _set_tags(order, data.tags)
    _index_search(order, [ln["sku"] for ln in line_values])
    changes = diff(before, _snapshot(order))
    if lines_changed:
        changes["lines"] = [
            [list(x) for x in _lines_snapshot(old_lines)],
            [list(x) for x in _lines_snapshot(line_values)],
        ]
    audit_record(
        obj_type="orders.order", obj_id=order.pk, action="updated", actor=actor, label=label, changes=changes
    )
    automation_events.order_changed(
        order, from_status=from_status.code, from_payment=before["payment_status"]
    )
    return IngestResult(order=order, outcome="updated", attention=attention)


def _is_noop(order: Order, data: OrderIn, values: dict[str, Any]) -> bool:
    """True when applying this version would change no stored value of the order (lines aside)."""
    for k, v in values.items():
        if k == "source_updated_at":
            continue
        current = order.status_id if k == "status" else getattr(order, k)
        if (v.pk if k == "status" else v) != current:
            return False
    if order.customer_id is None and (data.email or data.phone):
        return False  # the update would link a customer
    return set(order.tags.values_list("name", flat=True)) == set(data.tags)


# Attention reasons that intake recomputes from each version; any other reason is kept until resolved.
_INTAKE_REASONS = frozenset({"unknown_sku", "total_mismatch", "illegal_channel_status"})


def _carried_attention(previous: list[dict], lines_changed: bool, stage: str) -> list[dict]:
    """Reasons from before an update that still hold: a stock shortage stays while the lines are the same and
    the order still holds stock; reasons raised elsewhere (not by intake) stay until someone resolves them."""
    kept = []
    for reason in previous:
        code = reason.get("code")
        if code in _INTAKE_REASONS:
            continue
        if code == "stock_short" and (lines_changed or stage not in HOLDING_STAGES):
            continue
        kept.append(reason)
    return kept


def _stamp_stage_times(order: Order, now) -> None:
    if order.stage == Stage.SHIPPED and order.shipped_at is None:
        order.shipped_at = now
    if order.stage == Stage.DELIVERED and order.delivered_at is None:
        order.delivered_at = now
        if order.shipped_at is None:
            order.shipped_at = now


def ingest_orders_batch(
    items: list[OrderIn], *, actor: User | None = None, source: str = "import"
) -> list[IngestResult | DomainError]:
    """Many orders through the same intake as `ingest_order`, with the same result per order, faster:
    new orders are prefetched and bulk-inserted per batch in one transaction. See `orders.intake`."""
    from .intake import ingest_orders_batch as _batch

    with automation_events.batch():
        results = _batch(items, actor=actor, source=source)
        automation_events.orders_created(
            r.order for r in results if isinstance(r, IngestResult) and r.outcome == "created"
        )
    return results


# --- staff actions ----------------------------------------------------------------------------------


def _lock(order_id: int, expected_version: int | None) -> Order:
    # Lock the order row alone, then read it: locking through a join makes PostgreSQL re-check a row that a
    # concurrent transaction just updated against the old joined status row and drop it ("not found").
    if Order.objects.select_for_update().filter(pk=order_id).values_list("pk", flat=True).first() is None:
        raise NotFound(_("Order not found"))
    order = Order.objects.select_related("status", "channel").get(pk=order_id)
    if expected_version is not None and order.version != expected_version:
        raise Conflict(
            _(
                "Order %(number)s was changed by someone else in the meantime (version %(theirs)s, yours %(yours)s). "
                "Reload it and apply your change again."
            )
            % {"number": order.number, "theirs": order.version, "yours": expected_version},
            current_version=order.version,
        )
    return order


def order_transition(
    *,
    order_id: int,
    status_code: str,
    actor: User | None,
    expected_version: int | None = None,
    reason: str = "",
    source: str = "ui",
) -> Order:
    """Move an order to another status. Illegal moves between stages are refused."""
    target = OrderStatus.objects.filter(code=status_code).first()
    if target is None:
        raise DomainError(_("Unknown status %(code)s") % {"code": status_code}, field="status")
    label = _label(actor, source)
    with transaction.atomic():
        order = _lock(order_id, expected_version)
        if order.status_id == target.pk:
            return order
        if not order.can_move_to(target.stage):
            raise IllegalTransition(
                _("Order %(number)s cannot go from “%(src)s” (%(src_stage)s) to “%(dst)s” (%(dst_stage)s).")
                % {
                    "number": order.number,
                    "src": order.status.name,
                    "src_stage": Stage(order.stage).label,
                    "dst": target.name,
                    "dst_stage": Stage(target.stage).label,
                },
                field="status",
            )
        now = timezone.now()
        from_status, from_stage = order.status, order.stage
        order.status, order.stage = target, target.stage
        order.version += 1
        order.updated_at = now
        _stamp_stage_times(order, now)
        OrderEvent.objects.create(
            order=order,
            at=now,
            kind=OrderEvent.Kind.STATUS,
            actor=actor,
            actor_label=label,
            from_status=from_status.code,
            to_status=target.code,
            from_stage=from_stage,
            to_stage=target.stage,
            message=reason[:1000],
        )
        if from_stage != target.stage:
            short = _apply_stock_for_stage(order, from_stage, target.stage, actor, label)
            if short:
                order.needs_attention = True
                order.attention_reasons = [*order.attention_reasons, *short]
        order.save(
            update_fields=[
                "status",
                "stage",
                "version",
                "updated_at",
                "shipped_at",
                "delivered_at",
                "needs_attention",
                "attention_reasons",
            ]
        )
        audit_record(
            obj_type="orders.order",
            obj_id=order.pk,
            action="status_changed",
            actor=actor,
            label=label,
            changes={"status": [from_status.code, target.code], "stage": [from_stage, target.stage]},
            reason=reason,
        )
        automation_events.status_changed(order, from_status.code)
    return order


@dataclass
class BulkResult:
    ok: list[int] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)


def order_bulk_transition(*, order_ids: list[int], status_code: str, actor: User | None) -> BulkResult:
    return order_transition_many(order_ids=order_ids, status_code=status_code, actor=actor, source="bulk")


TRANSITION_BATCH = 500


def order_transition_many(
    *,
    order_ids: Iterable[int],
    status_code: str,
    actor: User | None,
    reason: str = "",
    source: str = "ui",
) -> BulkResult:
    """`order_transition` for many orders (no version check): each order ends up with exactly the rows one
    `order_transition` call would write (status, version, stage times, the status event, stock issued or
    released, the audit entry), or is listed in `failed` with the same message. Faster: up to
    TRANSITION_BATCH orders are locked, checked and written together in one transaction, with bulk INSERTs
    and UPDATEs and one batched stock issue. If a batch fails for a database reason it is rolled back and its
    orders are moved one by one, so each order stays atomic."""
    result = BulkResult()
    ids = list(dict.fromkeys(order_ids))
    target = OrderStatus.objects.filter(code=status_code).first()
    if target is None:
        message = _("Unknown status %(code)s") % {"code": status_code}
        result.failed.update(dict.fromkeys(ids, message))
        return result
    for start in range(0, len(ids), TRANSITION_BATCH):
        chunk = ids[start : start + TRANSITION_BATCH]
        part = BulkResult()
        try:
            with transaction.atomic():
                _transition_chunk(chunk, target, actor, reason, source, part)
        except DatabaseError as exc:
            logging.getLogger(__name__).info(
                "batch transition of %s orders fell back to one by one: %s", len(chunk), exc
            )
            part = BulkResult()
            for oid in chunk:
                try:
                    order_transition(
                        order_id=oid, status_code=status_code, actor=actor, reason=reason, source=source
                    )
                    part.ok.append(oid)
                except DomainError as err:
                    part.failed[oid] = str(err.message)
        result.ok += part.ok
        result.failed.update(part.failed)
    return result


def _save_rows(objs: list[Any], fields: list[str]) -> None:
    """`save(update_fields=fields)` for many rows of one model (locked by the caller) with one prepared
    UPDATE run by executemany: Django's bulk_update builds a CASE per field and row, far slower here."""
    if not objs:
        return
    from django.db import connection

    meta = type(objs[0])._meta
    model_fields = [meta.get_field(f) for f in fields]
    qn = connection.ops.quote_name
    sets = ", ".join(f"{qn(f.column)} = %s" for f in model_fields)
    sql = f"UPDATE {qn(meta.db_table)} SET {sets} WHERE {qn(meta.pk.column)} = %s"  # noqa: S608 - fixed names
    rows = [
        [*(f.get_db_prep_save(getattr(obj, f.attname), connection) for f in model_fields), obj.pk]
        for obj in objs
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def _transition_chunk(
    ids: list[int], target: OrderStatus, actor: User | None, reason: str, source: str, out: BulkResult
) -> None:
    label = _label(actor, source)
    locked = list(
        Order.objects.select_for_update().filter(pk__in=ids).order_by("pk").values_list("pk", flat=True)
    )
    orders = {o.pk: o for o in Order.objects.select_related("status", "channel").filter(pk__in=locked)}
    now = timezone.now()
    changed: list[tuple[Order, OrderStatus, str]] = []
    for oid in ids:
        order = orders.get(oid)
        if order is None:
            out.failed[oid] = str(_("Order not found"))
            continue
        if order.status_id == target.pk:
            out.ok.append(oid)
            continue
        if not order.can_move_to(target.stage):
            out.failed[oid] = _(
                "Order %(number)s cannot go from “%(src)s” (%(src_stage)s) to “%(dst)s” (%(dst_stage)s)."
            ) % {
                "number": order.number,
                "src": order.status.name,
                "src_stage": Stage(order.stage).label,
                "dst": target.name,
                "dst_stage": Stage(target.stage).label,
            }
            continue
        from_status, from_stage = order.status, order.stage
        order.status, order.stage = target, target.stage
        order.version += 1
        order.updated_at = now
        _stamp_stage_times(order, now)
        changed.append((order, from_status, from_stage))
        out.ok.append(oid)
    if not changed:
        return
    from .intake import _insert  # plain executemany INSERTs: bulk_create's per-object cost dominates here

    actor_id = actor.pk if actor is not None else None
    _insert(
        OrderEvent,
        (
            "order_id",
            "at",
            "kind",
            "actor_id",
            "actor_label",
            "from_status",
            "to_status",
            "from_stage",
            "to_stage",
            "message",
        ),
        [
            (
                order.pk,
                now,
                OrderEvent.Kind.STATUS,
                actor_id,
                label,
                from_status.code,
                target.code,
                from_stage,
                target.stage,
                reason[:1000],
            )
            for order, from_status, from_stage in changed
        ],
    )
    to_issue = [
        order
        for order, _from_status, from_stage in changed
        if from_stage in HOLDING_STAGES
        and target.stage not in HOLDING_STAGES
        and target.stage != Stage.CANCELLED
    ]
    issuing = {order.pk for order in to_issue}
    for order, _from_status, from_stage in changed:
        if from_stage != target.stage and order.pk not in issuing:
            short = _apply_stock_for_stage(order, from_stage, target.stage, actor, label)
            if short:
                order.needs_attention = True
                order.attention_reasons = [*order.attention_reasons, *short]
    if to_issue:
        by_pk = {o.pk: o for o in to_issue}
        lines = list(OrderLine.objects.filter(order_id__in=list(by_pk)).values_list("order_id", "pk"))
        issued = stock.stock_issue_many(
            items=[(f"order-line:{pk}", f"order {by_pk[oid].number}") for oid, pk in lines], actor=actor
        )
        units: dict[int, int] = {}
        for oid, pk in lines:
            units[oid] = units.get(oid, 0) + issued.get(f"order-line:{pk}", 0)
        _insert(
            OrderEvent,
            ("order_id", "at", "kind", "actor_id", "actor_label", "data"),
            [
                (order.pk, now, OrderEvent.Kind.STOCK_ISSUED, actor_id, label, {"units": units[order.pk]})
                for order in to_issue
                if units.get(order.pk)
            ],
        )
    _save_rows(
        [order for order, _f, _s in changed],
        [
            "status",
            "stage",
            "version",
            "updated_at",
            "shipped_at",
            "delivered_at",
            "needs_attention",
            "attention_reasons",
        ],
    )
    _insert(
        AuditEntry,
        ("at", "actor_id", "actor_label", "object_type", "object_id", "action", "changes", "reason"),
        [
            (
                now,
                actor_id,
                label,
                "orders.order",
                str(order.pk),
                "status_changed",
                {"status": [from_status.code, target.code], "stage": [from_stage, target.stage]},
                reason[:500],
            )
            for order, from_status, from_stage in changed
        ],
    )
    automation_events.statuses_changed((order, from_status.code) for order, from_status, _s in changed)


def order_edit(
    *, order_id: int, expected_version: int, changes: dict[str, Any], actor: User | None, reason: str = ""
) -> Order:
    """Staff edit of an order's editable fields with an optimistic version check (stale save -> Conflict)."""
    unknown = set(changes) - EDITABLE_FIELDS
    if unknown:
        raise DomainError(
            _("These fields cannot be changed here: %(fields)s") % {"fields": ", ".join(sorted(unknown))},
            field=sorted(unknown)[0],
            code="not_editable",
        )
    if "nip" in changes and changes["nip"]:
        from stdnum.pl import nip as stdnum_nip

        if not stdnum_nip.is_valid(changes["nip"]):
            raise DomainError(_("NIP %(nip)s is not valid") % {"nip": changes["nip"]}, field="nip")
        changes["nip"] = stdnum_nip.compact(changes["nip"])
    with transaction.atomic():
        order = _lock(order_id, expected_version)
        before = {k: getattr(order, k) for k in changes}
        for k, v in changes.items():
            setattr(order, k, v)
        if "shipping_address" in changes:
            order.shipping_postcode = (changes["shipping_address"] or {}).get("postcode", "")
        order.version += 1
        order.updated_at = timezone.now()
        order.save()
        changed = diff(before, changes)
        if changed:
            OrderEvent.objects.create(
                order=order,
                kind=OrderEvent.Kind.EDITED,
                actor=actor,
                actor_label=_label(actor, "ui"),
                data={"fields": sorted(changed)},
            )
            audit_record(
                obj_type="orders.order",
                obj_id=order.pk,
                action="edited",
                actor=actor,
                changes=changed,
                reason=reason,
            )
            automation_events.order_edited(order, changed)
        _index_search(order, order.lines.values_list("sku", flat=True))
    return order


def order_add_note(*, order_id: int, text: str, actor: User | None) -> OrderEvent:
    text = (text or "").strip()
    if not text:
        raise DomainError(_("The note is empty"), field="text")
    if len(text) > 5000:
        raise DomainError(_("The note is longer than 5000 characters"), field="text")
    with transaction.atomic():
        order = _lock(order_id, None)
        return OrderEvent.objects.create(
            order=order, kind=OrderEvent.Kind.NOTE, actor=actor, actor_label=_label(actor, "ui"), message=text
        )


def order_tags_change(
    *,
    order_ids: list[int],
    add: Iterable[str] = (),
    remove: Iterable[str] = (),
    actor: User | None,
    source: str = "ui",
) -> int:
    """Add/remove tags on many orders (bulk tag). Returns how many orders changed."""
    add = [t.strip()[:50] for t in add if t.strip()]
    remove = [t.strip() for t in remove if t.strip()]
    if not add and not remove:
        raise DomainError(_("Give a tag to add or remove"), field="tag")
    label = _label(actor, source)
    changed = 0
    added: dict[int, list[str]] = {}
    with transaction.atomic():
        add_tags = [Tag.objects.get_or_create(name=n)[0] for n in add]
        remove_tags = list(Tag.objects.filter(name__in=remove))
        now = timezone.now()
        events, audits = [], []
        for order in Order.objects.select_for_update().filter(pk__in=order_ids).prefetch_related("tags"):
            current = {t.name for t in order.tags.all()}
            to_add = [t for t in add_tags if t.name not in current]
            to_remove = [t for t in remove_tags if t.name in current]
            if not to_add and not to_remove:
                continue
            order.tags.add(*to_add)
            order.tags.remove(*to_remove)
            changed += 1
            added[order.pk] = [t.name for t in to_add]
            for t in to_add:
                events.append(
                    OrderEvent(
                        order=order,
                        at=now,
                        kind=OrderEvent.Kind.TAG_ADDED,
                        actor=actor,
                        actor_label=label,
                        message=t.name,
                    )
                )
            for t in to_remove:
                events.append(
                    OrderEvent(
                        order=order,
                        at=now,
                        kind=OrderEvent.Kind.TAG_REMOVED,
                        actor=actor,
                        actor_label=label,
                        message=t.name,
                    )
                )
            audits.append(
                AuditEntry(
                    at=now,
                    actor=actor,
                    actor_label=actor_label(actor),
                    object_type="orders.order",
                    object_id=str(order.pk),
                    action="tags_changed",
                    changes={
                        "tags": [
                            sorted(current),
                            sorted((current | {t.name for t in to_add}) - {t.name for t in to_remove}),
                        ]
                    },
                )
            )
        OrderEvent.objects.bulk_create(events)
        audit_record_many(audits)
        automation_events.tags_added(added)
    return changed


def order_flag_attention(*, order_id: int, reasons: list[dict], source: str) -> bool:
    """Add attention reasons ({code, message}) raised outside intake (e.g. a shop sent a status no mapping
    knows) to an order, once each, with a note in its history. Reasons added this way stay until someone
    resolves them (intake carries reasons it did not raise). Returns whether anything was added."""
    with transaction.atomic():
        order = Order.objects.select_for_update().filter(pk=order_id).first()
        if order is None:
            return False
        current = list(order.attention_reasons or [])
        seen = {(r.get("code"), r.get("message")) for r in current}
        added = [r for r in reasons if (r.get("code"), r.get("message")) not in seen]
        if not added:
            return False
        Order.objects.filter(pk=order_id).update(needs_attention=True, attention_reasons=current + added)
        OrderEvent.objects.create(
            order_id=order_id,
            kind=OrderEvent.Kind.NOTE,
            actor_label=source,
            message="; ".join(r["message"] for r in added),
            data={"attention": added},
        )
    return True


def order_resolve_attention(*, order_id: int, actor: User | None, note: str = "") -> Order:
    with transaction.atomic():
        order = _lock(order_id, None)
        if not order.needs_attention:
            return order
        before = order.attention_reasons
        order.needs_attention = False
        order.attention_reasons = []
        order.save(update_fields=["needs_attention", "attention_reasons"])
        OrderEvent.objects.create(
            order=order,
            kind=OrderEvent.Kind.NOTE,
            actor=actor,
            actor_label=_label(actor, "ui"),
            message=note or _("Attention cleared"),
        )
        audit_record(
            obj_type="orders.order",
            obj_id=order.pk,
            action="attention_cleared",
            actor=actor,
            changes={"attention_reasons": [before, []]},
            reason=note,
        )
    return order


def channel_save(
    *,
    code: str,
    name: str,
    kind: str,
    ship_within_hours: int = 24,
    active: bool = True,
    actor: User | None = None,
) -> Channel:
    if kind not in Channel.Kind.values:
        raise DomainError(f"Unknown channel type {kind!r}", field="kind")
    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,39}", code):
        raise DomainError("Code: lower-case letters, digits, - and _", field="code")
    with transaction.atomic():
        channel, created = Channel.objects.update_or_create(
            code=code,
            defaults={"name": name, "kind": kind, "ship_within_hours": ship_within_hours, "active": active},
        )
        audit_record(
            obj_type="orders.channel",
            obj_id=channel.pk,
            action="created" if created else "edited",
            actor=actor,
            changes={"name": [None, name], "kind": [None, kind]},
        )
    return channel


__all__ = [
    "IngestResult",
    "ingest_order",
    "ingest_orders_batch",
    "order_transition",
    "order_bulk_transition",
    "order_transition_many",
    "order_edit",
    "order_add_note",
    "order_tags_change",
    "order_resolve_attention",
    "status_for",
    "status_save",
    "channel_save",
    "CustomerType",
]
