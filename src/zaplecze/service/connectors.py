"""Payment-provider connectors for refunds.

A connector sends one refund to the outside world. It always receives the refund's idempotency key, which
was stored before the call: when a send is retried (a crash after the call, a timeout), the provider sees
the same key again and must not pay twice. The default is manual: nothing is called, a person makes the
transfer and confirms it in Zaplecze.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol


@dataclass(frozen=True)
class RefundRequest:
    idempotency_key: str
    amount: Decimal
    currency: str
    method: str  # RefundMethod value
    iban: str
    order_number: str
    order_payment_method: str
    title: str


@dataclass(frozen=True)
class RefundResult:
    #: "done": the provider paid it out; "awaiting_confirmation": a person has to make and confirm it.
    status: str
    reference: str = ""


class TemporaryFailure(Exception):
    """The provider could not be reached or asked to retry later: the refund stays pending (same key)."""


class Refused(Exception):
    """The provider refused the refund for good (e.g. the payment cannot be refunded): the refund fails."""


class RefundConnector(Protocol):
    code: str

    def send(self, request: RefundRequest) -> RefundResult: ...


class ManualConnector:
    """No outside call: the refund waits for a person to send the money and confirm it."""

    code = "manual"

    def send(self, request: RefundRequest) -> RefundResult:
        return RefundResult(status="awaiting_confirmation")


_CONNECTORS: dict[str, RefundConnector] = {"manual": ManualConnector()}


def register(connector: RefundConnector) -> None:
    """Make a connector available by its code (integrations register theirs at start-up)."""
    _CONNECTORS[connector.code] = connector


def unregister(code: str) -> None:
    if code != "manual":
        _CONNECTORS.pop(code, None)


def get(code: str) -> RefundConnector:
    try:
        return _CONNECTORS[code]
    except KeyError:
        raise Refused(f"No refund connector {code!r} is installed")


#: Which connector refunds to the original payment method, by the order's payment method. Anything not listed
#: (and every bank transfer to an IBAN) is manual.
BY_PAYMENT_METHOD: dict[str, str] = {}


def code_for(*, method: str, order_payment_method: str) -> str:
    if method == "original":
        code = BY_PAYMENT_METHOD.get(order_payment_method, "manual")
        return code if code in _CONNECTORS else "manual"
    return "manual"


# --- return labels ---------------------------------------------------------------------------------------
#
# A carrier that can bring a return back registers a provider at the extension point below (from its app's
# AppConfig.ready(); shipping registers InPost ShipX in zaplecze.shipping.returns). Service never imports the
# carrier code: it asks the registry which providers are available and calls one.

RETURN_LABEL_POINT = "service.return_label"


@dataclass(frozen=True)
class ReturnParty:
    name: str = ""
    company: str = ""
    email: str = ""
    phone: str = ""
    street: str = ""
    building_number: str = ""
    city: str = ""
    post_code: str = ""
    country_code: str = "PL"


@dataclass(frozen=True)
class ReturnLabelRequest:
    #: Stored before the call and sent to the carrier as its reference: a retry finds the same parcel.
    reference: str
    return_number: str
    order_number: str
    #: The customer sends the parcel ...
    sender: ReturnParty
    #: ... to the shop (SHOP_* settings, the return address).
    receiver: ReturnParty
    #: The customer's pickup point of the original order (a parcel locker code), if any.
    pickup_point: str = ""
    #: This is a retry of an earlier attempt: look the parcel up by reference before creating one.
    retry: bool = False


@dataclass(frozen=True)
class ReturnLabelResult:
    external_id: str
    tracking_number: str
    label_pdf: bytes


class ReturnLabelProvider(Protocol):
    code: str
    label: str

    def available(self) -> bool:
        """Configured and usable now (e.g. the carrier's API token is set)."""
        ...

    def create(self, request: ReturnLabelRequest) -> ReturnLabelResult:
        """Create the return parcel and fetch its label (PDF). Raise a DomainError (a CarrierError) on
        failure; its `retryable` attribute says whether trying again later can help."""
        ...


def return_label_providers() -> dict[str, ReturnLabelProvider]:
    """The return-label providers that are registered and available, by code."""
    from zaplecze.core import extensions

    out: dict[str, ReturnLabelProvider] = {}
    for code, provider in extensions.registered(RETURN_LABEL_POINT).items():
        try:
            ok = provider.available()
        except Exception:  # noqa: BLE001 - a broken provider is just not offered
            ok = False
        if ok:
            out[code] = provider
    return out
