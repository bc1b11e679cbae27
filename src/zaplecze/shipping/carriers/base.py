"""The one interface every carrier connector implements, the shapes that cross it, and its errors.

Services never see a carrier's wire format: they pass a `ShipmentRequest`, get back a `CarrierShipment` or a
`TrackingInfo`, and map the carrier's raw statuses with `map_status()` to the one lifecycle."""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from decimal import Decimal

from zaplecze.core.errors import DomainError


class CarrierError(DomainError):
    """The carrier could not do it. `retryable` says whether trying again later can help."""

    status = 502
    code = "carrier_error"
    retryable = True


class CarrierTimeout(CarrierError):
    code = "carrier_timeout"


class CarrierUnavailable(CarrierError):
    """Connection refused or a 5xx answer."""

    code = "carrier_unavailable"


class CarrierBadResponse(CarrierError):
    """An answer we cannot read: malformed JSON, missing fields, a label that is not a PDF."""

    code = "carrier_bad_response"


class CarrierNotReady(CarrierError):
    """The carrier accepted the shipment but has not finished it yet (no tracking number or label yet)."""

    code = "carrier_not_ready"


class CarrierRejected(CarrierError):
    """The carrier refused the request (4xx: invalid data, unknown point, ...). Retrying the same data will
    not help; the data must be corrected."""

    status = 400
    code = "carrier_rejected"
    retryable = False


class CarrierNotFound(CarrierRejected):
    status = 404
    code = "carrier_not_found"


class NotSupported(CarrierError):
    status = 400
    code = "not_supported"
    retryable = False


@dataclass
class ParcelSpec:
    template: str = ""  # InPost locker size: small / medium / large (A / B / C)
    length_mm: int | None = None
    width_mm: int | None = None
    height_mm: int | None = None
    weight_kg: Decimal | None = None
    is_non_standard: bool = False


@dataclass
class Party:
    first_name: str = ""
    last_name: str = ""
    company_name: str = ""
    email: str = ""
    phone: str = ""
    street: str = ""
    building_number: str = ""
    city: str = ""
    post_code: str = ""
    country_code: str = "PL"

    @property
    def has_address(self) -> bool:
        return bool(self.street and self.city and self.post_code)


@dataclass
class ShipmentRequest:
    reference: str
    service: str
    receiver: Party
    parcels: list[ParcelSpec]
    sender: Party | None = None
    target_point: str = ""
    currency: str = "PLN"
    cod_amount: Decimal | None = None
    insurance_amount: Decimal | None = None
    comments: str = ""
    additional_services: list[str] = field(default_factory=list)
    tracking_number: str = ""  # manual carriers: typed in by staff


@dataclass
class CarrierShipment:
    external_id: str
    raw_status: str
    tracking_number: str = ""
    parcel_tracking_numbers: list[str] = field(default_factory=list)
    reference: str = ""


@dataclass
class TrackingUpdate:
    raw_status: str
    at: dt.datetime
    location: str = ""
    message: str = ""


@dataclass
class TrackingInfo:
    tracking_number: str
    raw_status: str
    events: list[TrackingUpdate]  # oldest first


@dataclass(frozen=True)
class ServiceOption:
    code: str
    label: str
    needs_point: bool = False  # parcel locker / pickup point
    sizes: bool = False  # parcel templates (A/B/C) instead of dimensions


class Connector(ABC):
    """One carrier. Implementations raise `CarrierError` subclasses, never bare HTTP or socket errors."""

    has_labels: bool = False
    has_tracking: bool = False
    services: tuple[ServiceOption, ...] = ()

    @abstractmethod
    def create_shipment(self, request: ShipmentRequest) -> CarrierShipment:
        """Create (and for carriers that sell them, buy) the shipment."""

    def find_shipment(self, reference: str) -> CarrierShipment | None:
        """The shipment created earlier with this reference, if the carrier has one (idempotent retries)."""
        return None

    def get_shipment(self, external_id: str) -> CarrierShipment:
        raise NotSupported("This carrier cannot be asked about a shipment")

    def get_label(self, external_id: str) -> bytes:
        raise NotSupported("This carrier has no label download; print the label in the carrier's system")

    def get_tracking(self, tracking_number: str) -> TrackingInfo:
        raise NotSupported("This carrier has no tracking connector; update the status by hand")

    def cancel(self, external_id: str) -> None:  # noqa: B027 (optional: a no-op by default)
        """Cancel at the carrier. Manual carriers have nothing to cancel remotely."""

    def map_status(self, raw_status: str) -> str | None:
        """The lifecycle status (a `ShipmentStatus` value) of a raw carrier status, None when unknown."""
        return None
