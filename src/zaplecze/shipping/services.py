"""Every write of the shipping module: delivery promises and ship-by times, shipments (create, send to the
carrier, labels, cancel), tracking (status changes, polling, webhooks) and bulk label runs.

Talking to a carrier is never done inside a database transaction (SQLite would hold its write lock for the
whole HTTP call): the shipment row with its idempotency `reference` is committed first, the carrier is
called, and the answer is written in a second short transaction. A retry after a lost answer first looks
the shipment up by reference, so it never creates a second parcel."""

from __future__ import annotations

import datetime as dt
import logging
import re
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.core.files.base import ContentFile
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from zaplecze.core.businesstime import ship_by as ship_by_hours
from zaplecze.core.businesstime import ship_by_promise
from zaplecze.core.errors import Conflict, DomainError, IllegalTransition, NotFound
from zaplecze.core.models import AuditEntry, User
from zaplecze.core.services import audit_record, audit_record_many, job_finish, job_progress, job_start
from zaplecze.orders.models import Channel, DeliveryMethod, Order, PaymentMethod, PaymentStatus, Stage
from zaplecze.orders.services import order_edit, order_transition_many, status_for

from . import pdfmerge
from .carriers import (
    CarrierError,
    CarrierNotFound,
    CarrierNotReady,
    CarrierShipment,
    Connector,
    ParcelSpec,
    Party,
    ShipmentRequest,
    TrackingInfo,
    connector_for,
    services_for,
)
from .models import (
    LEFT_WAREHOUSE,
    Carrier,
    DeliveryPromise,
    Parcel,
    ParcelTemplate,
    Shipment,
    ShipmentItem,
    ShipmentStatus,
    Submission,
    TrackingEvent,
)

log = logging.getLogger("zaplecze.shipping")

RETRY_BASE_SECONDS = 30  # first retry after 30 s, doubling each time (the worker task uses the same figures)
RETRY_MAX_SECONDS = 3600
LEASE_SECONDS = 120  # one submission at a time per shipment; a crashed worker's lease expires
# Carrier statuses that happen once in a shipment's life: already known from the shipment resource, the same
# status in the tracking history (with the carrier's slightly different time) is not recorded twice.
ONCE = frozenset({"created", "offers_prepared", "offer_selected", "confirmed"})
NOT_CANCELLABLE = frozenset(ShipmentStatus.values) - {ShipmentStatus.CREATED, ShipmentStatus.LABEL_READY}


def _now() -> dt.datetime:
    return timezone.now()


def retry_delay(attempts: int) -> int:
    """Seconds until the next attempt after `attempts` failed ones: 30, 60, 120, ... capped at an hour."""
    return min(RETRY_MAX_SECONDS, RETRY_BASE_SECONDS * 2 ** max(0, attempts - 1))


# --- delivery promises and ship-by -----------------------------------------------------------------------


def promise_save(
    *,
    channel_id: int | None,
    delivery_method: str,
    handling_days: int,
    cutoff: dt.time | None,
    active: bool = True,
    actor: User | None,
) -> DeliveryPromise:
    """Create or change the promise of a (channel, delivery method) pair; None / "" mean "any"."""
    if delivery_method and delivery_method not in DeliveryMethod.values:
        raise DomainError(
            _("Unknown delivery method %(m)s") % {"m": delivery_method}, field="delivery_method"
        )
    if not 0 <= handling_days <= 60:
        raise DomainError(_("Handling time must be 0 to 60 working days"), field="handling_days")
    if channel_id is not None and not Channel.objects.filter(pk=channel_id).exists():
        raise DomainError(_("Unknown channel"), field="channel")
    with transaction.atomic():
        promise = (
            DeliveryPromise.objects.select_for_update()
            .order_by("id")
            .filter(channel_id=channel_id, delivery_method=delivery_method)
            .first()
        )
        before = None
        if promise is None:
            promise = DeliveryPromise(channel_id=channel_id, delivery_method=delivery_method)
        else:
            before = {
                "handling_days": promise.handling_days,
                "cutoff": str(promise.cutoff or ""),
                "active": promise.active,
            }
        promise.handling_days, promise.cutoff, promise.active = handling_days, cutoff, active
        promise.updated_at = _now()
        promise.save()
        after = {"handling_days": handling_days, "cutoff": str(cutoff or ""), "active": active}
        audit_record(
            obj_type="shipping.promise",
            obj_id=promise.pk,
            action="created" if before is None else "edited",
            actor=actor,
            changes={k: [(before or {}).get(k), v] for k, v in after.items() if (before or {}).get(k) != v},
        )
    return promise


def promise_delete(*, promise_id: int, actor: User | None) -> None:
    with transaction.atomic():
        promise = DeliveryPromise.objects.select_for_update().order_by("id").filter(pk=promise_id).first()
        if promise is None:
            raise NotFound(_("No such delivery promise"))
        promise.delete()
        audit_record(obj_type="shipping.promise", obj_id=promise_id, action="deleted", actor=actor)


def order_ship_by_compute(order: Order) -> dt.datetime:
    """The order's ship-by time from the best-matching active promise (channel + method, channel, method,
    any), counted from the payment (cash on delivery and unpaid orders: from placing); without any promise,
    the channel's "ship within N hours"."""
    from .selectors import promise_for

    promise = promise_for(order.channel_id, order.delivery_method)
    if promise is None:
        return ship_by_hours(order.placed_at, order.channel.ship_within_hours)
    accepted = order.paid_at or order.placed_at
    return ship_by_promise(accepted, handling_days=promise.handling_days, cutoff=promise.cutoff)


def order_ship_by_update(*, order_id: int, actor: User | None = None) -> Order:
    """Recompute and store an order's ship-by time. Call it when an order gets paid (the hook point for
    `orders.services`), and after promises change. Recorded on the order like any edit."""
    for _attempt in range(3):
        order = Order.objects.select_related("channel").filter(pk=order_id).first()
        if order is None:
            raise NotFound(_("Order not found"))
        value = order_ship_by_compute(order)
        if order.ship_by == value:
            return order
        try:
            return order_edit(
                order_id=order.pk,
                expected_version=order.version,
                changes={"ship_by": value},
                actor=actor,
                reason=_("Ship-by from the delivery promise"),
            )
        except Conflict:
            continue  # changed meanwhile: read again
    raise Conflict(_("The order kept changing; ship-by was not updated"))


def orders_ship_by_refresh(*, actor: User | None = None, order_ids: Iterable[int] | None = None) -> int:
    """Recompute ship-by of open orders (all, or the given ones). Returns how many changed."""
    from zaplecze.orders.models import OPEN_STAGES

    qs = Order.objects.filter(stage__in=OPEN_STAGES)
    if order_ids is not None:
        qs = qs.filter(pk__in=list(order_ids))
    changed = 0
    for oid, before in qs.values_list("pk", "ship_by").iterator():
        if order_ship_by_update(order_id=oid, actor=actor).ship_by != before:
            changed += 1
    return changed


# --- carriers ----------------------------------------------------------------------------------------------


def carrier_save(
    *,
    code: str,
    name: str,
    connector: str = Carrier.Connector.MANUAL,
    active: bool = True,
    tracking_url: str = "",
    delivery_methods: list[str] | None = None,
    transit_days: int = 2,
    actor: User | None = None,
) -> Carrier:
    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,29}", code or ""):
        raise DomainError(_("Code: lower-case letters, digits, - and _"), field="code")
    if connector not in Carrier.Connector.values:
        raise DomainError(_("Unknown connector %(c)s") % {"c": connector}, field="connector")
    if tracking_url and not tracking_url.startswith(("https://", "http://")):
        raise DomainError(_("The tracking page must be an http(s) address"), field="tracking_url")
    unknown = set(delivery_methods or []) - set(DeliveryMethod.values)
    if unknown:
        raise DomainError(
            _("Unknown delivery method %(m)s") % {"m": ", ".join(sorted(unknown))}, field="delivery_methods"
        )
    with transaction.atomic():
        carrier, created = Carrier.objects.update_or_create(
            code=code,
            defaults={
                "name": name,
                "connector": connector,
                "active": active,
                "tracking_url": tracking_url,
                "delivery_methods": list(delivery_methods or []),
                "transit_days": transit_days,
            },
        )
        audit_record(
            obj_type="shipping.carrier",
            obj_id=carrier.pk,
            action="created" if created else "edited",
            actor=actor,
            changes={"name": [None, name], "active": [None, active]},
        )
    return carrier


def carrier_for_order(order: Order) -> tuple[Carrier | None, str]:
    """The default carrier and service for an order's delivery method."""
    carriers = list(Carrier.objects.filter(active=True))
    for carrier in carriers:
        if order.delivery_method in (carrier.delivery_methods or []):
            return carrier, default_service(carrier, order.delivery_method)
    return None, ""


def default_service(carrier: Carrier, delivery_method: str = "") -> str:
    options = services_for(carrier.connector)
    if carrier.connector == Carrier.Connector.INPOST:
        return (
            "inpost_courier_standard"
            if delivery_method == DeliveryMethod.INPOST_COURIER
            else "inpost_locker_standard"
        )
    return options[0].code if options else "standard"


# --- shipments: create and submit ---------------------------------------------------------------------------

_PHONE_PL = re.compile(r"^(?:\+?48)?(\d{9})$")
_BUILDING = re.compile(
    r"^(?P<street>.*?\S)[\s,]+(?P<no>\d+[A-Za-z]?(?:\s*[/\\-]\s*\d+[A-Za-z]?)?"
    r"(?:\s*(?:m\.?|lok\.?)\s*\d+[A-Za-z]?)?)$"
)


def _phone(value: str) -> str:
    digits = re.sub(r"[\s\-()]", "", value or "")
    m = _PHONE_PL.match(digits)
    return m.group(1) if m else digits


def split_street(street: str) -> tuple[str, str]:
    """'ul. Długa 5/3' -> ('ul. Długa', '5/3'); no number -> (street, '')."""
    street = (street or "").strip()
    m = _BUILDING.match(street)
    if not m:
        return street, ""
    return m.group("street").rstrip(","), m.group("no").replace(" ", "")


def receiver_from_order(order: Order) -> dict[str, str]:
    addr = order.shipping_address or order.billing_address or {}
    name = (addr.get("name") or order.customer_name or "").strip()
    first, _sep, last = name.partition(" ")
    street, number = split_street(addr.get("street", ""))
    return {
        "first_name": first,
        "last_name": last,
        "company_name": addr.get("company") or order.company,
        "email": order.email,
        "phone": _phone(addr.get("phone") or order.phone),
        "street": street,
        "building_number": number,
        "city": addr.get("city", ""),
        "post_code": addr.get("postcode", ""),
        "country_code": (addr.get("country") or order.shipping_country or "PL").upper(),
    }


def _reference_for(order: Order, pk: int) -> str:
    base = re.sub(r"[^A-Za-z0-9._-]+", "", order.number or str(order.pk))[:60] or str(order.pk)
    return f"{base}-S{pk}"


def _check_parcels(service: str, parcels: list[ParcelSpec]) -> None:
    if not parcels:
        raise DomainError(_("A shipment needs at least one parcel"), field="parcels")
    if len(parcels) > 20:
        raise DomainError(_("At most 20 parcels per shipment"), field="parcels")
    for i, p in enumerate(parcels):
        if service == "inpost_locker_standard":
            if p.template not in ParcelTemplate.values:
                raise DomainError(
                    _("Parcel %(n)s: choose the locker size A, B or C") % {"n": i + 1},
                    field=f"parcels[{i}].template",
                )
        elif service == "inpost_courier_standard":
            if not (p.length_mm and p.width_mm and p.height_mm):
                raise DomainError(
                    _("Parcel %(n)s: give length, width and height in mm") % {"n": i + 1},
                    field=f"parcels[{i}].dimensions",
                )
            if p.weight_kg is None or p.weight_kg <= 0:
                raise DomainError(
                    _("Parcel %(n)s: give the weight in kg") % {"n": i + 1}, field=f"parcels[{i}].weight_kg"
                )
        for name in ("length_mm", "width_mm", "height_mm"):
            v = getattr(p, name)
            if v is not None and not 0 < v <= 10_000:
                raise DomainError(
                    _("Parcel %(n)s: dimensions must be 1 to 10000 mm") % {"n": i + 1},
                    field=f"parcels[{i}].{name}",
                )
        if p.weight_kg is not None and not Decimal("0") < p.weight_kg <= Decimal("1000"):
            raise DomainError(
                _("Parcel %(n)s: weight must be above 0 and at most 1000 kg") % {"n": i + 1},
                field=f"parcels[{i}].weight_kg",
            )


def shipment_create(
    *,
    order_id: int,
    carrier_code: str | None = None,
    service: str = "",
    parcels: list[ParcelSpec] | None = None,
    target_point: str | None = None,
    cod_amount: Decimal | None = None,
    insurance_amount: Decimal | None = None,
    tracking_number: str = "",
    comments: str = "",
    actor: User | None,
    submit: bool = True,
) -> Shipment:
    """Create a shipment for an order. The row and its idempotency reference are committed before any
    carrier is called; with `submit`, sending it to the carrier is queued for after the commit (a worker job
    with retries). Manual carriers are done at once (their tracking number is typed in)."""
    order = Order.objects.select_related("channel").filter(pk=order_id).first()
    if order is None:
        raise NotFound(_("Order not found"))
    if order.stage in (Stage.CANCELLED, Stage.RETURNED):
        raise DomainError(
            _("Order %(n)s is %(s)s; it cannot be shipped")
            % {"n": order.number, "s": Stage(order.stage).label},
            field="order",
        )
    if carrier_code:
        carrier = Carrier.objects.filter(code=carrier_code, active=True).first()
        if carrier is None:
            raise DomainError(_("Unknown or inactive carrier %(c)s") % {"c": carrier_code}, field="carrier")
    else:
        carrier, default = carrier_for_order(order)
        if carrier is None:
            raise DomainError(
                _("No carrier serves the delivery method “%(m)s”; choose one")
                % {"m": order.get_delivery_method_display()},
                field="carrier",
            )
        service = service or default
    service = service or default_service(carrier, order.delivery_method)
    options = {o.code: o for o in services_for(carrier.connector)}
    if service not in options:
        raise DomainError(
            _("%(carrier)s has no service %(service)s") % {"carrier": carrier.name, "service": service},
            field="service",
        )
    option = options[service]
    point = (order.pickup_point if target_point is None else target_point).strip().upper()
    if option.needs_point and not point:
        raise DomainError(_("Give the pickup point (parcel locker) code"), field="target_point")
    if not option.needs_point:
        point = ""
    if parcels is None:
        parcels = [ParcelSpec(template=ParcelTemplate.SMALL if option.sizes else "")]
    _check_parcels(service, parcels)
    if (
        cod_amount is None
        and order.payment_method == PaymentMethod.COD
        and order.payment_status not in (PaymentStatus.PAID, PaymentStatus.REFUNDED)
    ):
        cod_amount = order.total_gross
    for name, value in (("cod_amount", cod_amount), ("insurance_amount", insurance_amount)):
        if value is not None and not Decimal("0") <= value <= Decimal("1000000"):
            raise DomainError(_("Amount out of range"), field=name)
    receiver = receiver_from_order(order)
    if carrier.connector == Carrier.Connector.INPOST:
        if not (receiver["email"] or receiver["phone"]):
            raise DomainError(_("InPost needs the receiver's e-mail or phone"), field="receiver")
        if service == "inpost_courier_standard" and not (
            receiver["street"] and receiver["city"] and receiver["post_code"]
        ):
            raise DomainError(_("The courier needs the full delivery address"), field="receiver")
    now = _now()
    tracking_number = (tracking_number or "").strip()
    if len(tracking_number) > 60:
        raise DomainError(_("The tracking number is too long"), field="tracking_number")
    manual = carrier.connector == Carrier.Connector.MANUAL
    with transaction.atomic():
        shipment = Shipment.objects.create(
            order=order,
            carrier=carrier,
            service=service,
            reference=f"tmp-{uuid.uuid4().hex}",
            target_point=point,
            receiver=receiver,
            currency=order.currency,
            cod_amount=cod_amount,
            insurance_amount=insurance_amount,
            comments=comments[:200],
            created_by=actor,
            created_at=now,
            updated_at=now,
            tracking_number=tracking_number if manual else "",
            submission=Submission.DONE if manual else Submission.PENDING,
            raw_status="created",
            status_at=now,
        )
        shipment.reference = _reference_for(order, shipment.pk)
        shipment.save(update_fields=["reference"])
        Parcel.objects.bulk_create(
            [
                Parcel(
                    shipment=shipment,
                    position=i,
                    template=p.template,
                    length_mm=p.length_mm,
                    width_mm=p.width_mm,
                    height_mm=p.height_mm,
                    weight_kg=p.weight_kg,
                    is_non_standard=p.is_non_standard,
                )
                for i, p in enumerate(parcels)
            ]
        )
        ShipmentItem.objects.bulk_create(
            [
                ShipmentItem(shipment=shipment, order_line_id=pk, quantity=qty)
                for pk, qty in order.lines.values_list("pk", "quantity")
            ]
        )
        TrackingEvent.objects.create(
            shipment=shipment,
            at=now,
            status=ShipmentStatus.CREATED,
            raw_status="created",
            source=TrackingEvent.Source.SYSTEM,
            message=_("Created by %(who)s") % {"who": actor.username if actor else "system"},
        )
        audit_record(
            obj_type="shipping.shipment",
            obj_id=shipment.pk,
            action="created",
            actor=actor,
            changes={
                "order": [None, order.number],
                "carrier": [None, carrier.code],
                "service": [None, service],
                "reference": [None, shipment.reference],
            },
        )
        if submit and not manual:
            from .tasks import shipment_submit_task

            pk = shipment.pk
            transaction.on_commit(lambda: shipment_submit_task(pk))
    return shipment


def _request_for(shipment: Shipment) -> ShipmentRequest:
    r = shipment.receiver or {}
    return ShipmentRequest(
        reference=shipment.reference,
        service=shipment.service,
        receiver=Party(**{k: str(r.get(k) or "") for k in Party.__dataclass_fields__}),
        parcels=[
            ParcelSpec(
                template=p.template,
                length_mm=p.length_mm,
                width_mm=p.width_mm,
                height_mm=p.height_mm,
                weight_kg=p.weight_kg,
                is_non_standard=p.is_non_standard,
            )
            for p in shipment.parcels.all()
        ],
        target_point=shipment.target_point,
        currency=shipment.currency,
        cod_amount=shipment.cod_amount,
        insurance_amount=shipment.insurance_amount,
        comments=shipment.comments,
        tracking_number=shipment.tracking_number,
    )


def _claim(shipment_id: int) -> bool:
    """Take the shipment's submission lease (one caller at a time talks to the carrier about it)."""
    now = _now()
    return bool(
        Shipment.objects.filter(pk=shipment_id)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .update(
            lease_until=now + dt.timedelta(seconds=LEASE_SECONDS), attempts=F("attempts") + 1, updated_at=now
        )
    )


def _release(shipment_id: int) -> None:
    Shipment.objects.filter(pk=shipment_id).update(lease_until=None)


class SubmissionBusy(Conflict):
    code = "shipment_busy"


def shipment_submit(*, shipment_id: int) -> Shipment:
    """Send a shipment to its carrier and fetch its label; safe to call again at any point (a retry).

    Raises a `CarrierError` when the carrier failed (the shipment keeps the error and the time of the next
    attempt); `retryable` on the error tells the caller whether a retry can help."""
    shipment = Shipment.objects.select_related("carrier", "order").filter(pk=shipment_id).first()
    if shipment is None:
        raise NotFound(_("No such shipment"))
    if shipment.status == ShipmentStatus.CANCELLED or shipment.submission == Submission.DONE:
        return shipment
    connector = connector_for(shipment.carrier.connector)
    previous_attempts = shipment.attempts
    if not _claim(shipment.pk):
        raise SubmissionBusy(_("This shipment is being sent to the carrier right now"))
    try:
        if not shipment.external_id:
            # A previous attempt may have reached the carrier although its answer was lost: look it up by our
            # reference before creating anything.
            remote = connector.find_shipment(shipment.reference) if previous_attempts else None
            if remote is None:
                remote = connector.create_shipment(_request_for(shipment))
            shipment = _adopt(shipment, remote, source=TrackingEvent.Source.CARRIER)
        if connector.has_labels and not shipment.label:
            remote = connector.get_shipment(shipment.external_id)
            shipment = _adopt(shipment, remote, source=TrackingEvent.Source.CARRIER)
            ensure_ready = getattr(connector, "ensure_ready", None)
            if ensure_ready is not None:
                ensure_ready(remote)
            pdf = connector.get_label(shipment.external_id)
            shipment = _store_label(shipment, pdf)
    except CarrierError as exc:
        _record_failure(shipment.pk, exc)
        raise
    finally:
        _release(shipment.pk)
    Shipment.objects.filter(pk=shipment.pk).update(
        submission=Submission.DONE, last_error="", next_attempt_at=None, updated_at=_now()
    )
    shipment.refresh_from_db()
    return shipment


def _record_failure(shipment_id: int, exc: CarrierError) -> None:
    shipment = Shipment.objects.only("attempts").get(pk=shipment_id)
    retry = exc.retryable
    if isinstance(exc, CarrierNotReady):  # not a failure: the carrier is still working on it
        Shipment.objects.filter(pk=shipment_id).update(
            submission=Submission.SUBMITTED,
            last_error="",
            updated_at=_now(),
            next_attempt_at=_now() + dt.timedelta(seconds=retry_delay(shipment.attempts)),
        )
        return
    Shipment.objects.filter(pk=shipment_id).update(
        submission=Submission.FAILED if retry else Submission.GAVE_UP,
        last_error=str(exc.message)[:2000],
        next_attempt_at=_now() + dt.timedelta(seconds=retry_delay(shipment.attempts)) if retry else None,
        updated_at=_now(),
    )
    log.warning("shipment %s: carrier error %s: %s", shipment_id, exc.code, exc.message)


def shipment_give_up(*, shipment_id: int, reason: str = "") -> None:
    """The worker used all its retries: keep the shipment and its error; a person decides (retry or cancel)."""
    Shipment.objects.filter(
        pk=shipment_id, submission__in=[Submission.FAILED, Submission.PENDING, Submission.SUBMITTED]
    ).update(
        submission=Submission.GAVE_UP,
        next_attempt_at=None,
        updated_at=_now(),
        **({"last_error": reason[:2000]} if reason else {}),
    )


def shipment_retry(*, shipment_id: int, actor: User | None) -> Shipment:
    """Queue a shipment whose submission failed again (fresh retries)."""
    with transaction.atomic():
        shipment = Shipment.objects.select_for_update().filter(pk=shipment_id).first()
        if shipment is None:
            raise NotFound(_("No such shipment"))
        if shipment.submission == Submission.DONE or shipment.status == ShipmentStatus.CANCELLED:
            raise DomainError(_("Nothing to retry: the shipment is done"), field="shipment")
        shipment.submission = Submission.PENDING
        shipment.next_attempt_at = None
        shipment.save(update_fields=["submission", "next_attempt_at"])
        audit_record(obj_type="shipping.shipment", obj_id=shipment.pk, action="retried", actor=actor)
        from .tasks import shipment_submit_task

        transaction.on_commit(lambda: shipment_submit_task(shipment_id))
    return shipment


def _adopt(shipment: Shipment, remote: CarrierShipment, *, source: str) -> Shipment:
    """Store what the carrier says about the shipment (its id, tracking number, status)."""
    connector = connector_for(shipment.carrier.connector)
    with transaction.atomic():
        locked = (
            Shipment.objects.select_for_update(of=("self",)).select_related("carrier").get(pk=shipment.pk)
        )
        fields = ["updated_at"]
        if remote.external_id and locked.external_id != remote.external_id:
            locked.external_id = remote.external_id
            fields.append("external_id")
        if remote.tracking_number and locked.tracking_number != remote.tracking_number:
            locked.tracking_number = remote.tracking_number
            fields.append("tracking_number")
        locked.updated_at = _now()
        locked.save(update_fields=fields)
        if remote.parcel_tracking_numbers:
            for parcel, number in zip(locked.parcels.all(), remote.parcel_tracking_numbers, strict=False):
                if parcel.tracking_number != number:
                    parcel.tracking_number = number
                    parcel.save(update_fields=["tracking_number"])
        raw = remote.raw_status[:80]
        if raw and raw != locked.raw_status:
            _apply(locked, status=connector.map_status(raw), raw_status=raw, at=_now(), source=source)
            if locked.raw_status != raw:  # kept even when the lifecycle did not move
                Shipment.objects.filter(pk=locked.pk).update(raw_status=raw)
    shipment.refresh_from_db()
    return shipment


def _store_label(shipment: Shipment, pdf: bytes) -> Shipment:
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", shipment.reference) + ".pdf"
    with transaction.atomic():
        locked = (
            Shipment.objects.select_for_update(of=("self",)).select_related("carrier").get(pk=shipment.pk)
        )
        locked.label.save(name, ContentFile(pdf), save=False)
        locked.label_at = _now()
        locked.updated_at = locked.label_at
        locked.save(update_fields=["label", "label_at", "updated_at"])
        if locked.status == ShipmentStatus.CREATED:
            _apply(
                locked,
                status=ShipmentStatus.LABEL_READY,
                raw_status="label_downloaded",
                at=locked.label_at,
                source=TrackingEvent.Source.SYSTEM,
            )
    shipment.refresh_from_db()
    return shipment


# --- status changes, tracking and the order following its shipments -----------------------------------------


def _apply(
    shipment: Shipment,
    *,
    status: str | None,
    raw_status: str,
    at: dt.datetime,
    source: str,
    location: str = "",
    message: str = "",
    actor: User | None = None,
) -> bool:
    """Record one tracking event and move the lifecycle if the move is allowed and not older than the
    current status. Runs inside the caller's transaction with the shipment row locked. True if it moved."""
    created = _record_event(
        shipment,
        status=status,
        raw_status=raw_status,
        at=at,
        source=source,
        location=location,
        message=message,
    )
    if not created or not status or status == shipment.status:
        return False
    if not shipment.can_move_to(status) or (
        shipment.status_at
        and at < shipment.status_at
        and shipment.status not in (ShipmentStatus.CREATED, ShipmentStatus.LABEL_READY)
    ):
        return False
    before = shipment.status
    shipment.status, shipment.raw_status, shipment.status_at = status, raw_status[:80], at
    fields = ["status", "raw_status", "status_at", "updated_at"]
    if status in LEFT_WAREHOUSE and shipment.handed_over_at is None and status != ShipmentStatus.RETURNED:
        shipment.handed_over_at = at
        fields.append("handed_over_at")
    if status == ShipmentStatus.DELIVERED:
        shipment.delivered_at = at
        fields.append("delivered_at")
    if status == ShipmentStatus.CANCELLED:
        shipment.cancelled_at = at
        fields.append("cancelled_at")
    shipment.updated_at = _now()
    shipment.save(update_fields=fields)
    audit_record(
        obj_type="shipping.shipment",
        obj_id=shipment.pk,
        action="status_changed",
        actor=actor,
        label=None if actor else f"shipping:{source}",
        changes={"status": [before, status]},
        reason=raw_status,
    )
    _order_follow(shipment.order_id, actor=actor)
    return True


def _record_event(
    shipment: Shipment,
    *,
    status: str | None,
    raw_status: str,
    at: dt.datetime,
    source: str,
    location: str = "",
    message: str = "",
) -> bool:
    raw = (raw_status or status or "")[:80]
    if TrackingEvent.objects.filter(shipment=shipment, raw_status=raw, at=at).exists():
        return False
    try:
        with transaction.atomic():
            TrackingEvent.objects.create(
                shipment=shipment,
                at=at,
                status=status or "",
                raw_status=raw,
                location=location[:120],
                message=message[:500],
                source=source,
            )
    except IntegrityError:
        return False
    return True


def _order_follow(order_id: int, *, actor: User | None) -> None:
    """The order follows its shipments: shipped once a parcel left, delivered once every one arrived."""
    _orders_follow([order_id], actor=actor)


def _orders_follow(order_ids: Iterable[int], *, actor: User | None) -> None:
    """`_order_follow` for many orders: their stages and shipment statuses are read together and the orders
    that move are moved with `order_transition_many` (one batch per target stage, same rows as one by one).
    An order that cannot follow is logged and left where it is; the others still move."""
    ids = sorted(set(order_ids))
    if not ids:
        return
    stages: dict[int, str] = {}
    statuses: dict[int, list[str]] = {}
    for start in range(0, len(ids), 500):
        part = ids[start : start + 500]
        stages.update(Order.objects.filter(pk__in=part).values_list("pk", "stage"))
        for oid, st in (
            Shipment.objects.filter(order_id__in=part)
            .exclude(status=ShipmentStatus.CANCELLED)
            .values_list("order_id", "status")
        ):
            statuses.setdefault(oid, []).append(st)
    to_ship, to_deliver = [], []
    for oid in ids:
        stage, sts = stages.get(oid), statuses.get(oid)
        if stage is None or not sts:
            continue
        if any(st in LEFT_WAREHOUSE for st in sts) and stage in (Stage.READY, Stage.IN_FULFILMENT):
            to_ship.append(oid)
            stage = Stage.SHIPPED
        if all(st == ShipmentStatus.DELIVERED for st in sts) and stage == Stage.SHIPPED:
            to_deliver.append(oid)
    for target, targets in ((Stage.SHIPPED, to_ship), (Stage.DELIVERED, to_deliver)):
        if not targets:
            continue
        try:
            code = status_for(stage=target).code
        except DomainError as exc:
            log.warning("orders could not follow their shipments to %s: %s", target, exc.message)
            return
        result = order_transition_many(
            order_ids=targets, status_code=code, actor=actor, source="shipping", reason=_("Shipment status")
        )
        for oid, message in result.failed.items():
            log.warning("order %s could not follow its shipment to %s: %s", oid, target, message)
        if result.failed and target == Stage.SHIPPED:
            to_deliver = [oid for oid in to_deliver if oid not in result.failed]


def shipment_transition(
    *, shipment_id: int, status: str, actor: User | None, at: dt.datetime | None = None, note: str = ""
) -> Shipment:
    """Staff change of a shipment's status (manual carriers: handed over, delivered, ...)."""
    if status not in ShipmentStatus.values:
        raise DomainError(_("Unknown shipment status %(s)s") % {"s": status}, field="status")
    if status == ShipmentStatus.CANCELLED:
        return shipment_cancel(shipment_id=shipment_id, actor=actor, reason=note)
    at = at or _now()
    with transaction.atomic():
        shipment = (
            Shipment.objects.select_for_update(of=("self",))
            .select_related("carrier")
            .filter(pk=shipment_id)
            .first()
        )
        if shipment is None:
            raise NotFound(_("No such shipment"))
        if status == shipment.status:
            return shipment
        if not shipment.can_move_to(status):
            raise IllegalTransition(
                _("A shipment cannot go from “%(a)s” to “%(b)s”")
                % {"a": shipment.get_status_display(), "b": ShipmentStatus(status).label},
                field="status",
            )
        shipment.status_at = None  # a person's change is the newest word
        _apply(
            shipment,
            status=status,
            raw_status=status,
            at=at,
            source=TrackingEvent.Source.STAFF,
            message=note,
            actor=actor,
        )
    shipment.refresh_from_db()
    return shipment


def shipment_set_tracking_number(*, shipment_id: int, tracking_number: str, actor: User | None) -> Shipment:
    tracking_number = (tracking_number or "").strip()
    if (
        not tracking_number
        or len(tracking_number) > 60
        or not re.fullmatch(r"[A-Za-z0-9 ._/-]+", tracking_number)
    ):
        raise DomainError(_("Give a tracking number (letters, digits, - . / _)"), field="tracking_number")
    with transaction.atomic():
        shipment = (
            Shipment.objects.select_for_update(of=("self",))
            .select_related("carrier")
            .filter(pk=shipment_id)
            .first()
        )
        if shipment is None:
            raise NotFound(_("No such shipment"))
        if shipment.carrier.connector != Carrier.Connector.MANUAL:
            raise DomainError(
                _("The carrier assigns this shipment's tracking number"), field="tracking_number"
            )
        before = shipment.tracking_number
        shipment.tracking_number = tracking_number
        shipment.updated_at = _now()
        shipment.save(update_fields=["tracking_number", "updated_at"])
        audit_record(
            obj_type="shipping.shipment",
            obj_id=shipment.pk,
            action="edited",
            actor=actor,
            changes={"tracking_number": [before, tracking_number]},
        )
    return shipment


def shipment_cancel(*, shipment_id: int, actor: User | None, reason: str = "") -> Shipment:
    """Cancel a shipment that has not left yet; at the carrier too (InPost: only before it is bought)."""
    shipment = Shipment.objects.select_related("carrier").filter(pk=shipment_id).first()
    if shipment is None:
        raise NotFound(_("No such shipment"))
    if shipment.status == ShipmentStatus.CANCELLED:
        return shipment
    if not shipment.can_cancel():
        raise IllegalTransition(
            _("A shipment that is “%(s)s” cannot be cancelled") % {"s": shipment.get_status_display()},
            field="status",
        )
    connector = connector_for(shipment.carrier.connector)
    if shipment.carrier.connector != Carrier.Connector.MANUAL:
        if not _claim(shipment.pk):
            raise SubmissionBusy(
                _("This shipment is being sent to the carrier right now; try again in a minute")
            )
        try:
            external_id = shipment.external_id
            if not external_id and shipment.attempts:
                found = connector.find_shipment(shipment.reference)
                external_id = found.external_id if found else ""
            if external_id:
                try:
                    connector.cancel(external_id)
                except CarrierNotFound:
                    pass
        finally:
            _release(shipment.pk)
    now = _now()
    with transaction.atomic():
        locked = Shipment.objects.select_for_update().get(pk=shipment.pk)
        locked.status_at = None
        _apply(
            locked,
            status=ShipmentStatus.CANCELLED,
            raw_status="cancelled",
            at=now,
            source=TrackingEvent.Source.STAFF,
            message=reason,
            actor=actor,
        )
        Shipment.objects.filter(pk=shipment.pk).update(submission=Submission.DONE, next_attempt_at=None)
    shipment.refresh_from_db()
    return shipment


def shipment_apply_tracking(
    *,
    shipment_id: int,
    info: TrackingInfo,
    source: str = TrackingEvent.Source.CARRIER,
    connector: Connector | None = None,
) -> bool:
    """Apply a carrier's tracking history (any order, duplicates welcome): new events are stored and the
    status moves to the newest mapped one. True if the status changed."""
    result = shipments_apply_tracking(updates=[(shipment_id, info)], source=source, connector=connector)
    if shipment_id not in result:
        raise NotFound(_("No such shipment"))
    return result[shipment_id]


TRACKING_BATCH = 200


def shipments_apply_tracking(
    *,
    updates: Iterable[tuple[int, TrackingInfo]],
    source: str = TrackingEvent.Source.CARRIER,
    connector: Connector | None = None,
) -> dict[int, bool]:
    """`shipment_apply_tracking` for many shipments: {shipment id: status changed}; unknown shipments are
    left out. The same rows as one by one (every new tracking event, the status, hand-over and delivery
    times, the audit entry, the order following its shipments), written TRACKING_BATCH shipments per
    transaction: the shipments are locked together (in id order), their known events read in one query, new
    events inserted in one statement, the changed shipments updated in one statement and their orders moved
    with `order_transition_many`. A batch that fails for a database reason is rolled back and applied one
    shipment at a time."""
    # A shipment appears at most once per batch, so a second answer for it settles after the first, as
    # one by one would (each move with its own audit entry).
    chunks: list[list[tuple[int, TrackingInfo]]] = [[]]
    in_chunk: set[int] = set()
    for sid, info in updates:
        if sid in in_chunk or len(chunks[-1]) >= TRACKING_BATCH:
            chunks.append([])
            in_chunk = set()
        chunks[-1].append((sid, info))
        in_chunk.add(sid)
    out: dict[int, bool] = {}
    for chunk in chunks:
        if not chunk:
            continue
        try:
            with transaction.atomic():
                part = _apply_tracking_chunk(chunk, source, connector)
        except DatabaseError as exc:
            if len(chunk) == 1:
                raise
            log.info("tracking batch of %s fell back to one by one: %s", len(chunk), exc)
            part = {}
            for sid, info in chunk:
                with transaction.atomic():
                    for k, v in _apply_tracking_chunk([(sid, info)], source, connector).items():
                        part[k] = part.get(k, False) or v
        for k, v in part.items():
            out[k] = out.get(k, False) or v
    return out


def _apply_tracking_chunk(
    chunk: list[tuple[int, TrackingInfo]], source: str, connector: Connector | None
) -> dict[int, bool]:
    ids = sorted({sid for sid, _info in chunk})
    locked = list(
        Shipment.objects.select_for_update(of=("self",))
        .filter(pk__in=ids)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    shipments = {s.pk: s for s in Shipment.objects.select_related("carrier").filter(pk__in=locked)}
    # (status, raw status, at, order key) of every known event; the key orders events of the same time as
    # their ids do (new events get keys after every stored id, in the order they are inserted)
    known: dict[int, dict[tuple[str, dt.datetime], str]] = {sid: {} for sid in shipments}
    ordered: dict[int, list[tuple[dt.datetime, int, str, str]]] = {sid: [] for sid in shipments}
    for sid, pk, raw, at, st in TrackingEvent.objects.filter(shipment_id__in=list(shipments)).values_list(
        "shipment_id", "pk", "raw_status", "at", "status"
    ):
        known[sid][(raw, at)] = st
        ordered[sid].append((at, pk, st, raw))
    connectors: dict[str, Connector] = {}
    new: list[TrackingEvent] = []
    touched: set[int] = set()
    seq = 1 << 62
    for sid, info in chunk:
        shipment = shipments.get(sid)
        if shipment is None:
            continue
        conn = connector
        if conn is None:
            code = shipment.carrier.connector
            conn = connectors.get(code) or connectors.setdefault(code, connector_for(code))
        once = {raw for raw, _at in known[sid] if raw in ONCE}
        for ev in info.events:
            key = (ev.raw_status[:80], ev.at)
            if key in known[sid] or ev.raw_status in once:
                continue
            status = conn.map_status(ev.raw_status) or ""
            known[sid][key] = status
            seq += 1
            ordered[sid].append((ev.at, seq, status, key[0]))
            touched.add(sid)
            new.append(
                TrackingEvent(
                    shipment=shipment,
                    at=ev.at,
                    status=status,
                    raw_status=key[0],
                    location=ev.location[:120],
                    message=ev.message[:500],
                    source=source,
                )
            )
    if new:
        TrackingEvent.objects.bulk_create(new, ignore_conflicts=True, batch_size=1000)
    now = _now()
    result = dict.fromkeys(shipments, False)
    changed: list[Shipment] = []
    fields: set[str] = set()
    audits = []
    for sid in sorted(touched):
        shipment = shipments[sid]
        events = [(st, raw, at) for at, _k, st, raw in sorted(ordered[sid], key=lambda e: (e[0], e[1])) if st]
        moved_fields, entry = _settle_fields(shipment, events, source=source)
        if moved_fields:
            shipment.updated_at = now
            fields.update(moved_fields)
            changed.append(shipment)
        if entry is not None:
            audits.append(entry)
            result[sid] = True
    if changed:
        for shipment in changed:
            shipment.last_polled_at = now
        _save_rows(changed, [*sorted(fields), "updated_at", "last_polled_at"])
    saved = {s.pk for s in changed}
    rest = [sid for sid in shipments if sid not in saved]
    for start in range(0, len(rest), 500):
        Shipment.objects.filter(pk__in=rest[start : start + 500]).update(last_polled_at=now)
    if audits:
        audit_record_many(audits)
        _orders_follow([shipments[sid].order_id for sid, moved in result.items() if moved], actor=None)
    return result


def _save_rows(objs: list[Any], fields: list[str]) -> None:
    """`save(update_fields=fields)` for many rows of one model (locked by the caller) with one prepared
    UPDATE run by executemany (Django's bulk_update builds a CASE per field and row: far slower)."""
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


def _settle_fields(
    shipment: Shipment, events: list[tuple[str, str, dt.datetime]], *, source: str
) -> tuple[list[str], AuditEntry | None]:
    """Move `shipment` (in memory) to the newest of its mapped `events` (status, raw, at; oldest first) if the
    move is allowed, and stamp hand-over / delivery. Returns the changed fields and, if the status moved, its
    audit entry (not saved)."""
    if not events:
        return [], None
    fields = []
    left = [at for st, _raw, at in events if st in LEFT_WAREHOUSE and st != ShipmentStatus.RETURNED]
    if left and shipment.handed_over_at != min(left):
        shipment.handed_over_at = min(left)
        fields.append("handed_over_at")
    delivered = [at for st, _raw, at in events if st == ShipmentStatus.DELIVERED]
    if delivered and shipment.delivered_at != min(delivered):
        shipment.delivered_at = min(delivered)
        fields.append("delivered_at")
    status, raw, at = events[-1]
    entry = None
    if status != shipment.status and shipment.can_move_to(status):
        before = shipment.status
        shipment.status, shipment.raw_status, shipment.status_at = status, raw, at
        fields += ["status", "raw_status", "status_at"]
        entry = AuditEntry(
            at=_now(),
            actor=None,
            actor_label=f"shipping:{source}",
            object_type="shipping.shipment",
            object_id=str(shipment.pk),
            action="status_changed",
            changes={"status": [before, status]},
            reason=raw[:500],
        )
    return fields, entry


def _settle(shipment: Shipment, *, source: str) -> bool:
    """Move the status to the newest mapped event (if the move is allowed) and stamp hand-over / delivery."""
    events = list(
        TrackingEvent.objects.filter(shipment=shipment)
        .exclude(status="")
        .order_by("at", "id")
        .values_list("status", "raw_status", "at")
    )
    fields, entry = _settle_fields(shipment, events, source=source)
    if fields:
        shipment.updated_at = _now()
        shipment.save(update_fields=[*fields, "updated_at"])
    if entry is not None:
        audit_record_many([entry])
        _order_follow(shipment.order_id, actor=None)
    return entry is not None


def shipment_sync(*, shipment_id: int) -> bool:
    """Ask the carrier about one shipment: finish a pending submission, then poll its tracking.
    True if the status changed."""
    before, info, connector = _sync_fetch(shipment_id)
    if info is None:
        return Shipment.objects.filter(pk=shipment_id).values_list("status", flat=True).first() != before
    return shipment_apply_tracking(shipment_id=shipment_id, info=info, connector=connector) or (
        Shipment.objects.filter(pk=shipment_id).values_list("status", flat=True).first() != before
    )


def _sync_fetch(shipment_id: int) -> tuple[str, TrackingInfo | None, Connector]:
    """The talking-to-the-carrier half of `shipment_sync` (no transaction held): finish a pending
    submission, then fetch the tracking history. Returns (status before, history or None, connector)."""
    shipment = Shipment.objects.select_related("carrier").filter(pk=shipment_id).first()
    if shipment is None:
        raise NotFound(_("No such shipment"))
    connector = connector_for(shipment.carrier.connector)
    before = shipment.status
    if shipment.submission != Submission.DONE and shipment.status != ShipmentStatus.CANCELLED:
        try:
            shipment = shipment_submit(shipment_id=shipment_id)
        except CarrierNotReady:
            return before, None, connector
    if not connector.has_tracking or not shipment.tracking_number:
        return before, None, connector
    try:
        info = connector.get_tracking(shipment.tracking_number)
    except CarrierNotFound:
        Shipment.objects.filter(pk=shipment_id).update(last_polled_at=_now())
        return before, None, connector  # not scanned yet
    return before, info, connector


@dataclass
class SyncReport:
    checked: int = 0
    changed: int = 0
    failed: int = 0
    errors: list[dict] = field(default_factory=list)


SYNC_BATCH = 50


def shipments_sync(
    *,
    shipment_ids: Iterable[int] | None = None,
    limit: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> SyncReport:
    """Poll every tracked shipment of carriers with a tracking connector (least recently polled first),
    and retry due failed submissions. One shipment's error never stops the others. The carrier is asked
    shipment by shipment (no transaction open meanwhile); the answers are applied SYNC_BATCH at a time with
    `shipments_apply_tracking`."""
    from .selectors import shipments_to_sync

    ids = list(shipment_ids) if shipment_ids is not None else list(shipments_to_sync(limit=limit))
    report = SyncReport()

    def fail(sid: int, exc: DomainError) -> None:
        report.failed += 1
        report.errors.append({"shipment": sid, "code": exc.code, "message": str(exc.message)})

    for start in range(0, len(ids), SYNC_BATCH):
        fetched: list[tuple[int, str, TrackingInfo]] = []
        for sid in ids[start : start + SYNC_BATCH]:
            report.checked += 1
            try:
                before, info, _connector = _sync_fetch(sid)
            except DomainError as exc:
                fail(sid, exc)
            else:
                if info is None:
                    now_status = Shipment.objects.filter(pk=sid).values_list("status", flat=True).first()
                    report.changed += now_status != before
                else:
                    fetched.append((sid, before, info))
            if progress:
                progress(report.checked, len(ids))
        if not fetched:
            continue
        try:
            moved = shipments_apply_tracking(updates=[(sid, info) for sid, _before, info in fetched])
        except DomainError as exc:
            for sid, _before, _info in fetched:
                fail(sid, exc)
            continue
        statuses = dict(Shipment.objects.filter(pk__in=[f[0] for f in fetched]).values_list("pk", "status"))
        for sid, before, _info in fetched:
            report.changed += bool(moved.get(sid)) or statuses.get(sid) != before
    return report


# --- webhooks ------------------------------------------------------------------------------------------------


@dataclass
class WebhookResult:
    outcome: str  # applied | duplicate | ignored
    shipment_id: int | None = None


def inpost_webhook_receive(*, body: Any, organization_id: str = "") -> WebhookResult:
    """A ShipX webhook (`shipment_confirmed`, `shipment_status_changed`). Unknown shipments and events are
    ignored (answered 200 so ShipX stops resending); the same delivery twice changes nothing."""
    from .carriers.inpost import STATUS_MAP, parse_time

    if (
        not isinstance(body, dict)
        or not isinstance(body.get("payload"), dict)
        or not isinstance(body.get("event"), str)
    ):
        raise DomainError(_("Not a ShipX webhook body"), field="body")
    if organization_id and str(body.get("organization_id", "")) != str(organization_id):
        raise DomainError(_("The webhook is for another organization"), field="organization_id")
    payload = body["payload"]
    sid, number = payload.get("shipment_id"), payload.get("tracking_number")
    q = Q()
    if sid not in (None, ""):
        q |= Q(external_id=str(sid))
    if number:
        q |= Q(tracking_number=str(number))
    if not q:
        return WebhookResult("ignored")
    shipment = Shipment.objects.filter(q, carrier__connector=Carrier.Connector.INPOST).order_by("id").first()
    if shipment is None:
        return WebhookResult("ignored")
    try:
        at = parse_time(body.get("event_ts"))
    except CarrierError:
        at = _now()
    event = body["event"]
    if event == "shipment_confirmed":
        raw = "confirmed"
    elif event == "shipment_status_changed" and isinstance(payload.get("status"), str):
        raw = payload["status"]
    else:
        return WebhookResult("ignored", shipment.pk)
    with transaction.atomic():
        locked = (
            Shipment.objects.select_for_update(of=("self",)).select_related("carrier").get(pk=shipment.pk)
        )
        if number and not locked.tracking_number:
            locked.tracking_number = str(number)[:60]
            locked.save(update_fields=["tracking_number"])
        if not _record_event(
            locked, status=STATUS_MAP.get(raw), raw_status=raw, at=at, source=TrackingEvent.Source.WEBHOOK
        ):
            return WebhookResult("duplicate", shipment.pk)
        _settle(locked, source=TrackingEvent.Source.WEBHOOK)
        if raw == "confirmed" and not locked.label and locked.submission != Submission.DONE:
            from .tasks import shipment_submit_task

            transaction.on_commit(lambda: shipment_submit_task(shipment.pk))
    return WebhookResult("applied", shipment.pk)


# --- bulk --------------------------------------------------------------------------------------------------------


@dataclass
class BulkReport:
    created: int = 0
    reused: int = 0
    labels: int = 0
    failed: int = 0
    errors: list[dict] = field(default_factory=list)
    shipment_ids: list[int] = field(default_factory=list)
    labels_file: str = ""

    def as_result(self) -> dict[str, Any]:
        return {
            "created": self.created,
            "reused": self.reused,
            "labels": self.labels,
            "failed": self.failed,
            "errors": self.errors,
            "shipment_ids": self.shipment_ids,
            "labels_file": self.labels_file,
        }


def shipments_bulk_create(
    *,
    order_ids: list[int],
    actor: User | None,
    carrier_code: str | None = None,
    parcel: ParcelSpec | None = None,
    label_wait_seconds: float = 60.0,
    poll_interval: float = 2.0,
    job_id: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> BulkReport:
    """Shipments and labels for many orders with one merged PDF of labels. An order that already has an
    active shipment reuses it (re-running a batch never ships twice). Each order's error is listed and the
    batch goes on. Labels that the carrier prepares asynchronously are awaited up to `label_wait_seconds`."""
    report = BulkReport()
    total = len(order_ids)
    numbers = dict(Order.objects.filter(pk__in=order_ids).values_list("pk", "number"))
    pending: list[tuple[int, int]] = []  # (order id, shipment id)
    done = 0

    def tick() -> None:
        if progress:
            progress(done, total)

    for oid in order_ids:
        number = numbers.get(oid, f"#{oid}")
        existing = (
            Shipment.objects.filter(order_id=oid)
            .exclude(status=ShipmentStatus.CANCELLED)
            .order_by("-id")
            .first()
        )
        try:
            if existing is not None:
                shipment = existing
                report.reused += 1
            else:
                shipment = shipment_create(
                    order_id=oid,
                    carrier_code=carrier_code,
                    parcels=[parcel] if parcel else None,
                    actor=actor,
                    submit=False,
                )
                report.created += 1
            report.shipment_ids.append(shipment.pk)
            pending.append((oid, shipment.pk))
        except DomainError as exc:
            report.failed += 1
            report.errors.append({"line": number, "field": exc.field or "order", "message": str(exc.message)})
            done += 1
            tick()
    labels: dict[int, bytes] = {}
    deadline = time.monotonic() + label_wait_seconds
    while pending:
        waiting = []
        for oid, sid in pending:
            number = numbers.get(oid, f"#{oid}")
            try:
                shipment = shipment_submit(shipment_id=sid)
                if shipment.label:
                    with shipment.label.open("rb") as fh:
                        labels[sid] = fh.read()
                done += 1
            except (CarrierNotReady, SubmissionBusy) as exc:
                if time.monotonic() < deadline:
                    waiting.append((oid, sid))
                    continue
                report.failed += 1
                report.errors.append({"line": number, "field": "label", "message": str(exc.message)})
                done += 1
            except DomainError as exc:
                report.failed += 1
                report.errors.append(
                    {"line": number, "field": exc.field or "carrier", "message": str(exc.message)}
                )
                done += 1
            tick()
        pending = waiting
        if pending:
            time.sleep(poll_interval)
    ordered = [labels[sid] for sid in report.shipment_ids if sid in labels]
    report.labels = len(ordered)
    if ordered:
        try:
            merged = pdfmerge.merge(ordered)
        except pdfmerge.PdfError as exc:
            report.errors.append({"line": "", "field": "labels", "message": str(exc)})
        else:
            from django.core.files.storage import default_storage

            name = f"labels/bulk/{job_id or int(time.time())}-{len(ordered)}.pdf"
            report.labels_file = default_storage.save(name, ContentFile(merged))
    return report


def shipments_bulk_job_run(*, job_id: int) -> BulkReport | None:
    """Run a bulk-labels job (core.Job): progress and the per-order report go to the job."""
    from zaplecze.core.models import Job

    job = Job.objects.select_related("owner").filter(pk=job_id).first()
    if job is None or job.state not in (Job.State.QUEUED, Job.State.RUNNING):
        return None
    params = job.params or {}
    order_ids = [int(x) for x in params.get("order_ids", [])]
    parcel = None
    if params.get("parcel"):
        p = params["parcel"]
        parcel = ParcelSpec(
            template=p.get("template", ""),
            length_mm=p.get("length_mm"),
            width_mm=p.get("width_mm"),
            height_mm=p.get("height_mm"),
            weight_kg=Decimal(p["weight_kg"]) if p.get("weight_kg") else None,
        )
    job_start(job_id=job_id, total=len(order_ids))
    try:
        report = shipments_bulk_create(
            order_ids=order_ids,
            actor=job.owner,
            carrier_code=params.get("carrier") or None,
            parcel=parcel,
            job_id=job_id,
            label_wait_seconds=float(params.get("label_wait_seconds", 60)),
            progress=lambda done, total: job_progress(job_id=job_id, done=done, total=total),
        )
    except Exception as exc:  # the job must end in a state a person can see
        job_finish(job_id=job_id, error=str(exc))
        raise
    job_finish(job_id=job_id, result=report.as_result())
    return report


def bulk_labels_job_create(
    *, order_ids: list[int], actor: User, carrier_code: str = "", parcel: dict | None = None
) -> int:
    """Queue a bulk-labels job for after the commit; returns the job id."""
    from zaplecze.core.services import job_create

    if not order_ids:
        raise DomainError(_("Choose at least one order"), field="order_ids")
    if len(order_ids) > 1000:
        raise DomainError(_("At most 1000 orders at once"), field="order_ids")
    if carrier_code and not Carrier.objects.filter(code=carrier_code, active=True).exists():
        raise DomainError(_("Unknown or inactive carrier %(c)s") % {"c": carrier_code}, field="carrier")
    with transaction.atomic():
        job = job_create(
            kind="shipping.bulk_labels",
            title=_("Labels for %(n)s orders") % {"n": len(order_ids)},
            owner=actor,
            params={"order_ids": list(order_ids), "carrier": carrier_code, "parcel": parcel or {}},
            total=len(order_ids),
        )
        from .tasks import bulk_labels_task

        transaction.on_commit(lambda: bulk_labels_task(job.pk))
    return job.pk
