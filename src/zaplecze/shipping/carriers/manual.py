"""Carriers without a connector yet (DPD, DHL, Poczta Polska, ORLEN Paczka, GLS): staff create the shipment
in the carrier's own system and type the tracking number in; statuses are changed by hand."""

from __future__ import annotations

import uuid

from .base import CarrierShipment, Connector, ServiceOption, ShipmentRequest


class ManualConnector(Connector):
    has_labels = False
    has_tracking = False
    services = (
        ServiceOption("standard", "Standard"),
        ServiceOption("pickup_point", "Pickup point", needs_point=True),
    )

    def create_shipment(self, request: ShipmentRequest) -> CarrierShipment:
        return CarrierShipment(
            external_id=f"manual-{uuid.uuid4().hex[:12]}",
            raw_status="created",
            tracking_number=request.tracking_number.strip(),
            reference=request.reference,
        )

    def map_status(self, raw_status: str) -> str | None:
        from zaplecze.shipping.models import ShipmentStatus

        return raw_status if raw_status in ShipmentStatus.values else None
