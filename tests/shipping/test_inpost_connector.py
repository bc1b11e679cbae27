"""The InPost ShipX connector against the real request/response shapes (samples) and the fake ShipX server."""

from __future__ import annotations

import datetime as dt
import json
import socket
from decimal import Decimal

import pytest

from zaplecze.shipping.carriers import (
    CarrierBadResponse,
    CarrierNotFound,
    CarrierRejected,
    CarrierTimeout,
    CarrierUnavailable,
    ParcelSpec,
    Party,
    ShipmentRequest,
)
from zaplecze.shipping.carriers.inpost import STATUS_MAP, InPostConnector, shipment_body
from zaplecze.shipping.models import ShipmentStatus

from .fakeshipx import ORG, TOKEN, sample

LOCKER_REQUEST = ShipmentRequest(
    reference="ORDER-1001",
    service="inpost_locker_standard",
    target_point="KRA010",
    receiver=Party(
        first_name="Jan", last_name="Kowalski", email="jan.kowalski@example.com", phone="600700800"
    ),
    parcels=[ParcelSpec(template="small")],
)


def courier_request() -> ShipmentRequest:
    return ShipmentRequest(
        reference="ORDER-1002",
        service="inpost_courier_standard",
        receiver=Party(
            company_name="Przykład Sp. z o.o.",
            first_name="Anna",
            last_name="Nowak",
            email="anna.nowak@example.com",
            phone="501502503",
            street="Cybernetyki",
            building_number="10",
            city="Warszawa",
            post_code="02-677",
        ),
        sender=Party(
            company_name="Sklep Example",
            email="sklep@example.com",
            phone="221234567",
            street="Marszałkowska",
            building_number="1",
            city="Warszawa",
            post_code="00-001",
        ),
        parcels=[ParcelSpec(length_mm=300, width_mm=200, height_mm=150, weight_kg=Decimal("2.500"))],
        insurance_amount=Decimal("250.00"),
        cod_amount=Decimal("199.99"),
        additional_services=["sms", "email"],
        comments="Prosimy o telefon przed doręczeniem",
    )


def test_locker_body_is_the_shipx_sample_exactly():
    assert shipment_body(LOCKER_REQUEST) == sample("shipment-create-locker.request.json")


def test_courier_body_is_the_shipx_sample_exactly():
    body = shipment_body(courier_request())
    assert body == sample("shipment-create-courier.request.json")
    # amounts are JSON numbers with the exact decimal digits
    assert '"amount": 199.99' in json.dumps(body) and '"amount": "2.5"' in json.dumps(body)


def test_every_documented_status_is_mapped_except_other():
    names = {item["name"] for item in sample("statuses.json")["items"]}
    assert {n for n in names if n not in STATUS_MAP} == {"other"}
    assert set(STATUS_MAP.values()) <= set(ShipmentStatus.values)
    assert STATUS_MAP["ready_to_pickup"] == "ready_for_pickup"
    assert STATUS_MAP["collected_from_sender"] == "handed_over"
    assert STATUS_MAP["returned_to_sender"] == "returned"
    assert STATUS_MAP["undelivered_wrong_address"] == "exception"


def test_create_confirm_label_and_tracking_round_trip(shipx):
    c = InPostConnector()
    created = c.create_shipment(LOCKER_REQUEST)
    assert created.raw_status == "created" and created.tracking_number == ""
    assert shipx.requests[0][2] == sample("shipment-create-locker.request.json")
    got = c.get_shipment(created.external_id)
    assert got.raw_status == "confirmed" and got.tracking_number == "602677439331630337653846"
    assert got.parcel_tracking_numbers == ["602677439331630337653846"]
    pdf = c.get_label(created.external_id)
    assert pdf.startswith(b"%PDF-")
    assert "format=Pdf&type=A6" in shipx.requests[-1][1]
    shipx.set_tracking(
        got.tracking_number,
        [
            ("confirmed", "2024-05-06T10:15:04.000+02:00"),
            ("collected_from_sender", "2024-05-06T16:20:00.000+02:00"),
            ("delivered", "2024-05-08T14:02:11.000+02:00"),
        ],
    )
    info = c.get_tracking(got.tracking_number)
    assert info.raw_status == "delivered"
    assert [(e.raw_status, e.at) for e in info.events] == [
        ("confirmed", dt.datetime(2024, 5, 6, 8, 15, 4, tzinfo=dt.UTC)),
        ("collected_from_sender", dt.datetime(2024, 5, 6, 14, 20, tzinfo=dt.UTC)),
        ("delivered", dt.datetime(2024, 5, 8, 12, 2, 11, tzinfo=dt.UTC)),
    ]


def test_the_tracking_sample_is_read_oldest_first(shipx):
    shipx.set_tracking(
        "602677439331630337653846",
        [(d["status"], d["datetime"]) for d in reversed(sample("tracking.json")["tracking_details"])],
    )
    info = InPostConnector().get_tracking("602677439331630337653846")
    assert [e.raw_status for e in info.events] == [
        "confirmed",
        "collected_from_sender",
        "adopted_at_source_branch",
        "sent_from_source_branch",
        "adopted_at_sorting_center",
        "out_for_delivery",
        "ready_to_pickup",
        "delivered",
    ]
    assert info.events[-3].location == ""


def test_find_by_reference_takes_only_the_exact_match(shipx):
    c = InPostConnector()
    first = c.create_shipment(LOCKER_REQUEST)
    other = ShipmentRequest(**{**LOCKER_REQUEST.__dict__, "reference": "ORDER-10010"})
    c.create_shipment(other)
    assert c.find_shipment("ORDER-1001").external_id == first.external_id
    assert c.find_shipment("ORDER-100") is None


def test_courier_shipment_is_accepted_by_the_fake_with_dimensions_and_cod(shipx):
    created = InPostConnector().create_shipment(courier_request())
    stored = shipx.shipments[int(created.external_id)]
    assert stored["cod"] == {"amount": 199.99, "currency": "PLN"}
    assert stored["parcels"][0]["dimensions"] == {
        "length": 300.0,
        "width": 200.0,
        "height": 150.0,
        "unit": "mm",
    }


def test_server_error_timeout_malformed_and_refused_connections_are_carrier_errors(shipx, settings):
    c = InPostConnector()
    shipx.fail("create", "500")
    with pytest.raises(CarrierUnavailable) as exc:
        c.create_shipment(LOCKER_REQUEST)
    assert exc.value.retryable and "500" in exc.value.message
    shipx.fail("create", "malformed")
    with pytest.raises(CarrierBadResponse):
        c.create_shipment(LOCKER_REQUEST)
    shipx.fail("create", "timeout", 1.0)
    with pytest.raises(CarrierTimeout) as exc:
        c.create_shipment(LOCKER_REQUEST)
    assert exc.value.retryable
    with socket.socket() as s:  # a port with nobody listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(CarrierUnavailable):
        InPostConnector(base_url=f"http://127.0.0.1:{port}").create_shipment(LOCKER_REQUEST)


def test_validation_errors_and_wrong_token_are_not_retryable(shipx):
    bad = ShipmentRequest(**{**LOCKER_REQUEST.__dict__, "target_point": "XXX000"})
    with pytest.raises(CarrierRejected) as exc:
        InPostConnector().create_shipment(bad)
    assert not exc.value.retryable
    assert "validation errors" in exc.value.message and "does_not_exist" in exc.value.message
    with pytest.raises(CarrierRejected) as exc:
        InPostConnector(token="wrong").create_shipment(LOCKER_REQUEST)
    assert "401" in exc.value.message
    with pytest.raises(CarrierNotFound):
        InPostConnector().get_tracking("000")


def test_a_label_that_is_not_a_pdf_is_refused(shipx):
    c = InPostConnector()
    created = c.create_shipment(LOCKER_REQUEST)
    c.get_shipment(created.external_id)
    shipx.fail("label", "not_pdf")
    with pytest.raises(CarrierBadResponse) as exc:
        c.get_label(created.external_id)
    assert "not a PDF" in exc.value.message and "text/html" in exc.value.message


def test_settings_are_required(settings):
    settings.INPOST_ORGANIZATION_ID = ""
    with pytest.raises(CarrierRejected) as exc:
        InPostConnector(base_url="http://127.0.0.1:9").create_shipment(LOCKER_REQUEST)
    assert "ORGANIZATION_ID" in exc.value.message
    with pytest.raises(CarrierRejected):
        InPostConnector(base_url="file:///etc/passwd")


def test_the_token_and_organization_come_from_settings(shipx):
    InPostConnector().create_shipment(LOCKER_REQUEST)
    assert shipx.requests[0][1] == f"/v1/organizations/{ORG}/shipments"
    assert TOKEN
