"""The shipments API: create, read, label, manual status, cancel, bulk, late lists, performance."""

from __future__ import annotations

import pytest
from django.test import Client

from zaplecze.core.services import token_create
from zaplecze.shipping.models import Shipment

pytestmark = pytest.mark.usefixtures("media")


@pytest.fixture
def api(make_user):
    def _client(role="admin"):
        user = make_user(role, username=f"api-{role}")
        return Client(HTTP_AUTHORIZATION=f"Bearer {token_create(user=user)}")

    return _client


def test_create_read_and_download_the_label(shipx, order_factory, api, django_capture_on_commit_callbacks):
    client = api("warehouse")
    order = order_factory()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/api/v1/shipments",
            {"order_id": order.pk, "parcels": [{"template": "large"}]},
            content_type="application/json",
        )
    assert response.status_code == 201
    created = response.json()
    assert (created["carrier"], created["service"], created["submission"]) == (
        "inpost",
        "inpost_locker_standard",
        "pending",
    )
    shipment = client.get(f"/api/v1/shipments/{created['id']}").json()
    assert shipment["submission"] == "done" and shipment["status"] == "label_ready"
    assert shipment["has_label"] is True
    assert shipment["parcels"][0]["template"] == "large"
    assert [e["raw_status"] for e in shipment["events"]] == ["confirmed", "created"]  # newest first
    label = client.get(f"/api/v1/shipments/{created['id']}/label")
    assert label["Content-Type"] == "application/pdf"
    assert b"".join(label.streaming_content).startswith(b"%PDF-")
    listing = client.get("/api/v1/shipments", {"carrier": "inpost"}).json()
    assert [s["id"] for s in listing["items"]] == [created["id"]] and listing["next_cursor"] is None


def test_errors_have_the_one_shape(order_factory, api):
    client = api()
    order = order_factory(delivery_method="inpost_courier", pickup_point="")
    response = client.post("/api/v1/shipments", {"order_id": order.pk}, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["field"] == "parcels[0].dimensions"
    response = client.post(
        "/api/v1/shipments",
        {"order_id": order.pk, "parcels": [{"template": "huge"}]},
        content_type="application/json",
    )
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "parcels[0].template"
    assert client.get("/api/v1/shipments/999999").status_code == 404
    assert not Shipment.objects.exists()


def test_manual_status_and_cancel(order_factory, api):
    client = api("organiser")
    order = order_factory(delivery_method="poczta", pickup_point="")
    created = client.post(
        "/api/v1/shipments", {"order_id": order.pk, "tracking_number": "PP1"}, content_type="application/json"
    ).json()
    response = client.post(
        f"/api/v1/shipments/{created['id']}/status", {"status": "in_transit"}, content_type="application/json"
    )
    assert response.status_code == 200 and response.json()["status"] == "in_transit"
    response = client.post(f"/api/v1/shipments/{created['id']}/cancel", {}, content_type="application/json")
    assert response.status_code == 409 and response.json()["code"] == "illegal_transition"
    response = client.post(
        f"/api/v1/shipments/{created['id']}/status", {"status": "created"}, content_type="application/json"
    )
    assert response.status_code == 409


def test_read_only_roles_are_refused_writes(order_factory, api):
    order = order_factory()
    response = api("marketing").post(
        "/api/v1/shipments", {"order_id": order.pk}, content_type="application/json"
    )
    assert response.status_code == 403
    assert not Shipment.objects.exists()
    assert api("readonly").get("/api/v1/shipments").status_code == 200


def test_bulk_late_at_risk_and_performance(shipx, order_factory, api, django_capture_on_commit_callbacks):
    client = api()
    orders = [order_factory(), order_factory()]
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/api/v1/shipments/bulk", {"order_ids": [o.pk for o in orders]}, content_type="application/json"
        )
    assert response.status_code == 202
    job = client.get(f"/api/v1/jobs/{response.json()['job_id']}").json()
    assert job["state"] == "done" and job["result"]["labels"] == 2
    assert client.get("/api/v1/shipments/late").status_code == 200
    assert client.get("/api/v1/shipments/at-risk").status_code == 200
    perf = client.get("/api/v1/shipments/performance", {"date_from": "2026-01-01", "date_to": "2025-01-01"})
    assert perf.status_code == 400 and perf.json()["field"] == "date_to"
    assert (
        client.get(
            "/api/v1/shipments/performance", {"date_from": "2025-01-01", "date_to": "2025-01-31"}
        ).json()
        == []
    )
