"""InPost ShipX (REST, JSON, bearer token) with the standard library's HTTP client.

Endpoints used (base URL from `ZAPLECZE_INPOST_API_URL`):

  POST   /v1/organizations/{org}/shipments              create in the simplified mode (`service` given)
  GET    /v1/organizations/{org}/shipments?reference=R  find an earlier shipment by our reference
  GET    /v1/shipments/{id}                             the shipment (status, tracking number)
  GET    /v1/shipments/{id}/label?format=Pdf&type=...   the label (PDF bytes)
  GET    /v1/tracking/{tracking_number}                 tracking history (newest first)
  DELETE /v1/shipments/{id}                             cancel (only before it is bought)

ShipX creates shipments asynchronously: the first answer is usually `created` / `offers_prepared` without a
tracking number; the label can be downloaded once the shipment is `confirmed`."""

from __future__ import annotations

import datetime as dt
import json
import socket
import urllib.error
import urllib.parse
import urllib.request
from decimal import Decimal
from typing import Any

from django.conf import settings

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
    Party,
    ServiceOption,
    ShipmentRequest,
    TrackingInfo,
    TrackingUpdate,
)

LOCKER = "inpost_locker_standard"
COURIER = "inpost_courier_standard"
MAX_BODY = 20 * 1024 * 1024

# ShipX status name -> lifecycle status. Names not listed are kept raw and move nothing.
STATUS_MAP: dict[str, str] = {
    **dict.fromkeys(("created", "offers_prepared", "offer_selected"), "created"),
    "confirmed": "label_ready",
    **dict.fromkeys(
        (
            "dispatched_by_sender",
            "dispatched_by_sender_to_pok",
            "collected_from_sender",
            "taken_by_courier",
            "taken_by_courier_from_pok",
            "taken_by_courier_from_customer_service_point",
        ),
        "handed_over",
    ),
    **dict.fromkeys(
        (
            "adopted_at_source_branch",
            "sent_from_source_branch",
            "adopted_at_sorting_center",
            "sent_from_sorting_center",
            "adopted_at_target_branch",
            "readdressed",
            "redirect_to_box",
            "canceled_redirect_to_box",
            "unstack_from_box_machine",
            "unstack_from_customer_service_point",
        ),
        "in_transit",
    ),
    **dict.fromkeys(("out_for_delivery", "out_for_delivery_to_address"), "out_for_delivery"),
    **dict.fromkeys(
        (
            "ready_to_pickup",
            "ready_to_pickup_from_pok",
            "ready_to_pickup_from_pok_registered",
            "ready_to_pickup_from_branch",
            "pickup_reminder_sent",
            "pickup_reminder_sent_address",
            "stack_in_box_machine",
            "stack_in_customer_service_point",
            "courier_avizo_in_customer_service_point",
            "avizo",
        ),
        "ready_for_pickup",
    ),
    "delivered": "delivered",
    **dict.fromkeys(("returned_to_sender", "return_pickup_confirmation_to_sender"), "returned"),
    **dict.fromkeys(
        (
            "pickup_time_expired",
            "stack_parcel_pickup_time_expired",
            "stack_parcel_in_box_machine_pickup_time_expired",
            "rejected_by_receiver",
            "undelivered",
            "undelivered_wrong_address",
            "undelivered_incomplete_address",
            "undelivered_unknown_receiver",
            "undelivered_cod_cash_receiver",
            "undelivered_no_mailbox",
            "undelivered_not_live_address",
            "undelivered_lack_of_access_letterbox",
            "oversized",
            "delay_in_delivery",
            "missing",
            "claimed",
        ),
        "exception",
    ),
    "canceled": "cancelled",
}
# ShipX statuses before the shipment is bought: no tracking number, no label yet.
NOT_READY = frozenset({"created", "offers_prepared", "offer_selected"})


def parse_time(value: Any) -> dt.datetime:
    if not isinstance(value, str) or not value:
        raise CarrierBadResponse("InPost sent a status without a time")
    try:
        parsed = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise CarrierBadResponse(f"InPost sent an unreadable time {value[:40]!r}")
    if parsed.tzinfo is None:
        raise CarrierBadResponse(f"InPost sent a time without a time zone {value[:40]!r}")
    return parsed.astimezone(dt.UTC)


def _money(value: Decimal | None, currency: str) -> dict | None:
    if value is None:
        return None
    return {"amount": float(value), "currency": currency}


def _party(p: Party, *, with_address: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in ("company_name", "first_name", "last_name", "email", "phone"):
        value = getattr(p, key)
        if value:
            out[key] = value
    if with_address and p.has_address:
        out["address"] = {
            "street": p.street,
            "building_number": p.building_number,
            "city": p.city,
            "post_code": p.post_code,
            "country_code": p.country_code or "PL",
        }
    return out


def shipment_body(req: ShipmentRequest, *, sending_method: str = "dispatch_order") -> dict[str, Any]:
    """The ShipX create-shipment body (simplified mode) for a locker or courier shipment."""
    body: dict[str, Any] = {"receiver": _party(req.receiver, with_address=req.service != LOCKER)}
    if req.sender is not None:
        body["sender"] = _party(req.sender, with_address=True)
    parcels = []
    for i, p in enumerate(req.parcels or []):
        if req.service == LOCKER:
            parcels.append({"template": p.template or "small"})
            continue
        parcel: dict[str, Any] = {"id": f"parcel-{i + 1}"}
        if p.length_mm and p.width_mm and p.height_mm:
            parcel["dimensions"] = {
                "length": str(p.length_mm),
                "width": str(p.width_mm),
                "height": str(p.height_mm),
                "unit": "mm",
            }
        if p.weight_kg is not None:
            parcel["weight"] = {"amount": str(p.weight_kg.normalize()), "unit": "kg"}
        parcel["is_non_standard"] = p.is_non_standard
        parcels.append(parcel)
    body["parcels"] = parcels
    if req.service == LOCKER:
        body["custom_attributes"] = {"target_point": req.target_point, "sending_method": sending_method}
    insurance = _money(req.insurance_amount, req.currency)
    if insurance:
        body["insurance"] = insurance
    cod = _money(req.cod_amount, req.currency)
    if cod:
        body["cod"] = cod
    body["service"] = req.service
    if req.additional_services:
        body["additional_services"] = list(req.additional_services)
    body["reference"] = req.reference
    if req.comments:
        body["comments"] = req.comments
    return body


def _shipment_from(data: Any) -> CarrierShipment:
    if not isinstance(data, dict) or data.get("id") in (None, "") or not isinstance(data.get("status"), str):
        raise CarrierBadResponse("InPost answered without a shipment id and status")
    parcels = data.get("parcels") if isinstance(data.get("parcels"), list) else []
    return CarrierShipment(
        external_id=str(data["id"]),
        raw_status=data["status"],
        tracking_number=str(data.get("tracking_number") or ""),
        parcel_tracking_numbers=[
            str(p.get("tracking_number")) for p in parcels if isinstance(p, dict) and p.get("tracking_number")
        ],
        reference=str(data.get("reference") or ""),
    )


class InPostConnector(Connector):
    has_labels = True
    has_tracking = True
    services = (
        ServiceOption(LOCKER, "InPost Paczkomat", needs_point=True, sizes=True),
        ServiceOption(COURIER, "InPost Kurier"),
    )

    def __init__(
        self,
        *,
        base_url: str | None = None,
        token: str | None = None,
        organization_id: str | None = None,
        timeout: float | None = None,
        label_type: str | None = None,
        sending_method: str | None = None,
    ) -> None:
        self.base_url = (base_url or settings.INPOST_API_URL).rstrip("/")
        if urllib.parse.urlsplit(self.base_url).scheme not in ("http", "https"):
            raise CarrierRejected("The InPost API address must start with http:// or https://")
        self.token = token if token is not None else settings.INPOST_TOKEN
        self.organization_id = str(organization_id or settings.INPOST_ORGANIZATION_ID or "")
        self.timeout = timeout if timeout is not None else settings.INPOST_TIMEOUT
        self.label_type = label_type or settings.INPOST_LABEL_TYPE
        self.sending_method = sending_method or settings.INPOST_SENDING_METHOD

    # --- HTTP -----------------------------------------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        query: dict | None = None,
        accept: str = "application/json",
    ) -> tuple[int, str, bytes]:
        url = self.base_url + path
        if query:
            url += "?" + urllib.parse.urlencode(query)
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Accept": accept, "User-Agent": "Zaplecze"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if data is not None:
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(url, data=data, method=method, headers=headers)  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 (scheme checked)
                payload = response.read(MAX_BODY + 1)
                status, ctype = response.status, response.headers.get("Content-Type", "")
        except urllib.error.HTTPError as exc:
            raise self._http_error(exc) from None
        except TimeoutError:
            raise CarrierTimeout(f"InPost did not answer within {self.timeout:g} s ({method} {path})")
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, TimeoutError | socket.timeout):
                raise CarrierTimeout(f"InPost did not answer within {self.timeout:g} s ({method} {path})")
            raise CarrierUnavailable(f"InPost cannot be reached: {exc.reason}")
        except (ConnectionError, OSError) as exc:
            raise CarrierUnavailable(f"InPost connection failed: {exc}")
        if len(payload) > MAX_BODY:
            raise CarrierBadResponse("InPost sent an answer larger than 20 MB")
        return status, ctype, payload

    def _http_error(self, exc: urllib.error.HTTPError) -> CarrierError:
        try:
            raw = exc.read(64 * 1024)
        except (OSError, TimeoutError):
            raw = b""
        message, details = "", None
        try:
            data = json.loads(raw or b"null")
        except ValueError:
            data = None
        if isinstance(data, dict):
            message = str(data.get("message") or data.get("error") or "")
            details = data.get("details")
        text = f"InPost answered {exc.code}" + (f": {message}" if message else "")
        if details:
            text += f" {json.dumps(details, ensure_ascii=False)[:500]}"
        if exc.code >= 500 or exc.code in (408, 429):
            return CarrierUnavailable(text)
        if exc.code == 404:
            return CarrierNotFound(text)
        return CarrierRejected(text)

    def _json(self, method: str, path: str, **kwargs) -> Any:
        _status, _ctype, payload = self._request(method, path, **kwargs)
        if not payload:
            return None
        try:
            return json.loads(payload)
        except ValueError:
            raise CarrierBadResponse(f"InPost sent a malformed answer to {method} {path}")

    def _org_path(self) -> str:
        if not self.organization_id:
            raise CarrierRejected(
                "InPost organization id is not configured (ZAPLECZE_INPOST_ORGANIZATION_ID)"
            )
        return f"/v1/organizations/{urllib.parse.quote(self.organization_id, safe='')}"

    # --- the interface --------------------------------------------------------------------------------

    def create_shipment(self, request: ShipmentRequest) -> CarrierShipment:
        if request.service not in (LOCKER, COURIER):
            raise CarrierRejected(f"Unknown InPost service {request.service!r}")
        if request.service == LOCKER and not request.target_point:
            raise CarrierRejected("A parcel-locker shipment needs the target locker (e.g. KRA010)")
        data = self._json(
            "POST",
            f"{self._org_path()}/shipments",
            body=shipment_body(request, sending_method=self.sending_method),
        )
        return _shipment_from(data)

    def find_shipment(self, reference: str) -> CarrierShipment | None:
        data = self._json("GET", f"{self._org_path()}/shipments", query={"reference": reference})
        items = data.get("items") if isinstance(data, dict) else None
        if not isinstance(items, list):
            raise CarrierBadResponse("InPost answered the shipment search without a list of items")
        # The search filter is not trusted blindly: only an exact match of our reference counts.
        matches = [i for i in items if isinstance(i, dict) and i.get("reference") == reference]
        if not matches:
            return None
        matches.sort(key=lambda i: str(i.get("created_at") or ""))
        return _shipment_from(matches[0])

    def get_shipment(self, external_id: str) -> CarrierShipment:
        return _shipment_from(self._json("GET", f"/v1/shipments/{urllib.parse.quote(external_id, safe='')}"))

    def get_label(self, external_id: str) -> bytes:
        _status, ctype, payload = self._request(
            "GET",
            f"/v1/shipments/{urllib.parse.quote(external_id, safe='')}/label",
            query={"format": "Pdf", "type": self.label_type},
            accept="application/pdf",
        )
        if not payload.startswith(b"%PDF-"):
            raise CarrierBadResponse(
                f"InPost sent a label that is not a PDF ({ctype or 'no content type'}, {len(payload)} bytes)"
            )
        return payload

    def get_tracking(self, tracking_number: str) -> TrackingInfo:
        data = self._json("GET", f"/v1/tracking/{urllib.parse.quote(tracking_number, safe='')}")
        if not isinstance(data, dict) or not isinstance(data.get("tracking_details"), list):
            raise CarrierBadResponse("InPost answered the tracking request without tracking details")
        events = []
        for item in data["tracking_details"]:
            if not isinstance(item, dict) or not isinstance(item.get("status"), str):
                raise CarrierBadResponse("InPost sent a tracking entry without a status")
            events.append(
                TrackingUpdate(
                    raw_status=item["status"],
                    at=parse_time(item.get("datetime")),
                    location=str(item.get("agency") or "")[:120],
                    message=str(item.get("origin_status") or "")[:500],
                )
            )
        events.sort(key=lambda e: e.at)
        raw = (
            data.get("status")
            if isinstance(data.get("status"), str)
            else (events[-1].raw_status if events else "")
        )
        return TrackingInfo(
            tracking_number=str(data.get("tracking_number") or tracking_number), raw_status=raw, events=events
        )

    def cancel(self, external_id: str) -> None:
        self._request("DELETE", f"/v1/shipments/{urllib.parse.quote(external_id, safe='')}")

    def map_status(self, raw_status: str) -> str | None:
        return STATUS_MAP.get(raw_status)

    def ensure_ready(self, shipment: CarrierShipment) -> None:
        if shipment.raw_status in NOT_READY or not shipment.tracking_number:
            raise CarrierNotReady(f"InPost is still preparing the shipment (status {shipment.raw_status})")
