"""Shipping's parts of customer service, registered through `zaplecze.core.extensions` (service may not import
shipping, and shipping does not import service: the shapes are matched by attribute names).

* "service.return_label": InPost ShipX return labels. A return is an ordinary ShipX shipment (simplified
  mode) in the other direction: the customer is the sender, the shop (SHOP_NAME, SHOP_RETURN_ADDRESS,
  SHOP_EMAIL) the receiver; the customer drops the parcel off and the courier brings it to the shop
  (`inpost_courier_standard`), or to the shop's parcel locker when `INPOST_RETURN_POINT` is set in the
  settings (`inpost_locker_standard` with `sending_method=parcel_locker`). The return's reference is the ShipX
  `reference`: a retried request looks the parcel up by it before creating another one. ShipX buys the
  shipment asynchronously, so the label is fetched after a few polls.
* "service.privacy": the customer's shipments (receiver's name, address, phone, e-mail, labels) for the
  GDPR export and the erasure.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import Q

from .carriers import CarrierNotReady, ParcelSpec, Party, ShipmentRequest

#: Default return parcel for the courier service (the customer packs the goods in the original box).
RETURN_PARCEL = ParcelSpec(length_mm=400, width_mm=300, height_mm=200, weight_kg=Decimal("5"))
#: Polls of a newly created shipment before giving up for now (CarrierNotReady; pressing again continues).
POLLS = 4
POLL_PAUSE = 0.5


@dataclass(frozen=True)
class ReturnLabelResult:
    external_id: str
    tracking_number: str
    label_pdf: bytes


def _split_name(name: str) -> tuple[str, str]:
    parts = (name or "").strip().split()
    if not parts:
        return "", ""
    return " ".join(parts[:-1]) or parts[0], parts[-1] if len(parts) > 1 else ""


def _party(p: Any, *, company: str = "") -> Party:
    from .services import _phone, split_street

    first, last = _split_name(getattr(p, "name", ""))
    street, building = getattr(p, "street", ""), getattr(p, "building_number", "")
    if street and not building:
        street, building = split_street(street)
    return Party(
        first_name=first,
        last_name=last,
        company_name=company or getattr(p, "company", ""),
        email=getattr(p, "email", ""),
        phone=_phone(getattr(p, "phone", "")),
        street=street,
        building_number=building,
        city=getattr(p, "city", ""),
        post_code=getattr(p, "post_code", ""),
        country_code=getattr(p, "country_code", "") or "PL",
    )


class InPostReturnLabels:
    """A return-label provider (see zaplecze.service.connectors.ReturnLabelProvider)."""

    code = "inpost"
    label = "InPost"

    def __init__(self, connector_factory=None, pause: float = POLL_PAUSE) -> None:
        self._factory = connector_factory
        self.pause = pause

    def available(self) -> bool:
        from .models import Carrier

        if not (settings.INPOST_TOKEN and settings.INPOST_ORGANIZATION_ID):
            return False
        return Carrier.objects.filter(connector="inpost", active=True).exists()

    def _connector(self):
        if self._factory is not None:
            return self._factory()
        from .carriers.inpost import InPostConnector

        return InPostConnector()

    def shipment_request(self, request: Any) -> ShipmentRequest:
        from .carriers.inpost import COURIER, LOCKER

        point = getattr(settings, "INPOST_RETURN_POINT", "")
        return ShipmentRequest(
            reference=request.reference,
            service=LOCKER if point else COURIER,
            receiver=_party(request.receiver),
            sender=_party(request.sender),
            parcels=[ParcelSpec(template="medium")] if point else [RETURN_PARCEL],
            target_point=point,
            comments=f"Zwrot {request.return_number} / {request.order_number}"[:100],
        )

    def create(self, request: Any) -> ReturnLabelResult:
        connector = self._connector()
        if getattr(settings, "INPOST_RETURN_POINT", ""):
            connector.sending_method = "parcel_locker"
        remote = connector.find_shipment(request.reference) if request.retry else None
        if remote is None:
            remote = connector.create_shipment(self.shipment_request(request))
        for i in range(POLLS):
            remote = connector.get_shipment(remote.external_id)
            try:
                connector.ensure_ready(remote)
                break
            except CarrierNotReady:
                if i == POLLS - 1:
                    raise
                time.sleep(self.pause)
        pdf = connector.get_label(remote.external_id)
        return ReturnLabelResult(
            external_id=remote.external_id, tracking_number=remote.tracking_number, label_pdf=pdf
        )


# --- personal data (GDPR) ---------------------------------------------------------------------------------


def _jsonable(v: Any) -> Any:
    if isinstance(v, Decimal):
        return str(v)
    if isinstance(v, dt.datetime | dt.date):
        return v.isoformat()
    if hasattr(v, "storage"):
        return v.name or ""
    return v


class ShipmentsPrivacy:
    """A privacy contributor (see zaplecze.service.privacy.PrivacyContributor)."""

    code = "shipping"

    def _shipments(self, order_ids: list[int]):
        from .models import Shipment

        return Shipment.objects.filter(order_id__in=order_ids).order_by("id")

    def export(self, *, order_ids: list[int]) -> dict[str, list[dict[str, Any]]]:
        out = []
        for s in self._shipments(order_ids).select_related("carrier").prefetch_related("events"):
            row = {f.attname: _jsonable(getattr(s, f.attname)) for f in s._meta.concrete_fields}
            row["label"] = s.label.name if s.label else ""
            row["carrier"] = s.carrier.code
            row["tracking"] = [
                {"at": e.at.isoformat(), "status": e.status, "raw_status": e.raw_status, "message": e.message}
                for e in s.events.all()
            ]
            row.pop("lease_until", None)
            out.append(row)
        return {"shipments": out}

    def files(self, *, order_ids: list[int]) -> list[tuple[str, bytes]]:
        out = []
        for s in self._shipments(order_ids):
            if s.label:
                try:
                    with s.label.open("rb") as fh:
                        out.append((f"shipment-{s.pk}-label.pdf", fh.read()))
                except (OSError, ValueError):
                    continue
        return out

    def blockers(self, *, order_ids: list[int]) -> list[str]:
        from django.utils.translation import gettext as _

        from .models import FINAL

        moving = self._shipments(order_ids).exclude(status__in=FINAL)
        if not moving.exists():
            return []
        numbers = [s.tracking_number or s.reference for s in moving[:8]]
        return [
            _("Shipments still on their way: %(numbers)s. Wait until they are delivered or cancelled.")
            % {"numbers": ", ".join(numbers)}
        ]

    def erase(self, *, order_ids: list[int], scrub) -> tuple[dict[str, int], list[tuple[Any, str]]]:
        from zaplecze.core.models import AuditEntry

        from .models import Shipment, TrackingEvent

        files = []
        shipments = list(self._shipments(order_ids).only("pk", "receiver", "label", "comments"))
        for s in shipments:
            if s.label:
                files.append((s.label.storage, s.label.name))
            receiver = s.receiver if isinstance(s.receiver, dict) else {}
            Shipment.objects.filter(pk=s.pk).update(
                receiver={"country_code": receiver.get("country_code", "")}
                if receiver.get("country_code")
                else {},
                label="",
                comments=scrub(s.comments),
            )
        ids = [s.pk for s in shipments]
        for e in TrackingEvent.objects.filter(shipment_id__in=ids).only("pk", "message"):
            cleaned = scrub(e.message)
            if cleaned != e.message:
                TrackingEvent.objects.filter(pk=e.pk).update(message=cleaned)
        for a in AuditEntry.objects.filter(
            Q(object_type="shipping.shipment", object_id__in=[str(i) for i in ids])
        ).only("pk", "changes", "reason"):
            AuditEntry.objects.filter(pk=a.pk).update(changes=scrub(a.changes), reason=scrub(a.reason))
        return {"shipments": len(ids)}, files


def register() -> None:
    """Called from ShippingConfig.ready()."""
    from zaplecze.core import extensions

    extensions.register("service.return_label", "inpost", InPostReturnLabels())
    extensions.register("service.privacy", "shipping", ShipmentsPrivacy())
