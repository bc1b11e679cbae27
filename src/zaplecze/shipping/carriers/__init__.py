"""Carrier connectors behind one interface (`base.Connector`). `connector_for(carrier)` picks one."""

from __future__ import annotations

from .base import (
    CarrierBadResponse,
    CarrierError,
    CarrierNotFound,
    CarrierNotReady,
    CarrierRejected,
    CarrierShipment,
    CarrierTimeout,
    CarrierUnavailable,
    Connector,
    NotSupported,
    ParcelSpec,
    Party,
    ServiceOption,
    ShipmentRequest,
    TrackingInfo,
    TrackingUpdate,
)

__all__ = [
    "CarrierBadResponse",
    "CarrierError",
    "CarrierNotFound",
    "CarrierNotReady",
    "CarrierRejected",
    "CarrierShipment",
    "CarrierTimeout",
    "CarrierUnavailable",
    "Connector",
    "NotSupported",
    "ParcelSpec",
    "Party",
    "ServiceOption",
    "ShipmentRequest",
    "TrackingInfo",
    "TrackingUpdate",
    "connector_for",
    "services_for",
]


def connector_for(connector: str) -> Connector:
    """The connector of a carrier's `connector` kind ("inpost", "manual")."""
    if connector == "inpost":
        from .inpost import InPostConnector

        return InPostConnector()
    from .manual import ManualConnector

    return ManualConnector()


def services_for(connector: str) -> tuple[ServiceOption, ...]:
    if connector == "inpost":
        from .inpost import InPostConnector

        return InPostConnector.services
    from .manual import ManualConnector

    return ManualConnector.services
