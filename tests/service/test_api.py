"""The customer service API: permissions, the calculator, returns, complaints, refunds with idempotency."""

from __future__ import annotations

import pytest
from django.core import mail

from tests.security.urlwalk import api_operations
from zaplecze.service.models import Refund, Return

pytestmark = pytest.mark.django_db


@pytest.fixture
def api_as(make_user):
    from django.test import Client

    from zaplecze.core.services import token_create

    clients = {}

    def _client(role="service"):
        if role not in clients:
            clients[role] = Client(HTTP_AUTHORIZATION=f"Bearer {token_create(user=make_user(role))}")
        return clients[role]

    return _client


def _post(client, url, body):
    return client.post(url, data=body, content_type="application/json")


def test_every_service_operation_declares_its_permission():
    declared = {op.label: op.required_permission for op in api_operations() if "/service/" in op.label}
    assert declared == {
        "GET /api/v1/service/due": "service.view",
        "GET /api/v1/service/deadlines/<kind>": "service.view",
        "GET /api/v1/service/returns": "service.view",
        "POST /api/v1/service/returns": "service.manage",
        "GET /api/v1/service/returns/<int:return_id>": "service.view",
        "POST /api/v1/service/returns/<int:return_id>/accept": "service.manage",
        "POST /api/v1/service/returns/<int:return_id>/reject": "service.manage",
        "POST /api/v1/service/returns/<int:return_id>/receive": "service.receive",
        "POST /api/v1/service/returns/<int:return_id>/refund": "refunds.approve",
        "POST /api/v1/service/returns/<int:return_id>/close": "service.manage",
        "GET /api/v1/service/complaints": "service.view",
        "POST /api/v1/service/complaints": "service.manage",
        "GET /api/v1/service/complaints/<int:complaint_id>": "service.view",
        "POST /api/v1/service/complaints/<int:complaint_id>/decision": "service.manage",
        "POST /api/v1/service/complaints/<int:complaint_id>/resolve": "service.manage",
        "POST /api/v1/service/refunds": "refunds.approve",
        "POST /api/v1/service/refunds/<int:refund_id>/confirm": "refunds.approve",
        "GET /api/v1/service/tickets": "service.view",
        "POST /api/v1/service/tickets": "service.manage",
        "GET /api/v1/service/tickets/<int:ticket_id>": "service.view",
        "POST /api/v1/service/tickets/<int:ticket_id>/reply": "service.manage",
        "POST /api/v1/service/tickets/<int:ticket_id>/status": "service.manage",
        "POST /api/v1/service/privacy/export": "customers.privacy",
        "POST /api/v1/service/privacy/erasure-plan": "customers.privacy",
        "POST /api/v1/service/privacy/erase": "customers.privacy",
        "POST /api/v1/service/returns/<int:return_id>/label": "service.manage",
        "POST /api/v1/service/returns/<int:return_id>/tracking": "service.manage",
    }


def test_the_calculator_over_the_api(api_as):
    response = api_as().get("/api/v1/service/deadlines/withdrawal", {"from": "2025-12-10"})
    assert response.status_code == 200
    body = response.json()
    assert (body["deadline"], body["from"]) == ("2025-12-29", "2025-12-10")
    assert body["rule"][-1] == "Deadline: Mon 29.12.2025."
    bad = api_as().get("/api/v1/service/deadlines/withdrawal", {"from": "10.12.2025"})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "from"
    assert api_as().get("/api/v1/service/deadlines/shipping", {"from": "2025-12-10"}).status_code == 422


def test_a_return_through_the_api_with_a_retried_refund(
    api_as, delivered_order, django_capture_on_commit_callbacks
):
    order = delivered_order()
    a, b = order.lines.order_by("id")
    client = api_as("service")
    with django_capture_on_commit_callbacks(execute=True):
        created = _post(
            client,
            "/api/v1/service/returns",
            {"order_id": order.pk, "lines": [{"order_line_id": a.pk, "quantity": 2}], "reason": "za duże"},
        )
    assert created.status_code == 201, created.content
    ret = created.json()
    assert (ret["state"], ret["number"], ret["order_number"]) == ("requested", f"R-{ret['id']:06d}", "#S1")
    assert [e["kind"] for e in ret["events"]] == ["created", "email_queued"]  # answered before the commit
    rid = ret["id"]
    after = client.get(f"/api/v1/service/returns/{rid}").json()
    assert [e["kind"] for e in after["events"]] == ["created", "email_queued", "email_sent"]
    assert after["emails"][0]["state"] == "sent"
    accepted = _post(client, f"/api/v1/service/returns/{rid}/accept", {"version": ret["version"]})
    assert accepted.json()["state"] == "accepted"
    stale = _post(client, f"/api/v1/service/returns/{rid}/reject", {"version": ret["version"], "reason": "x"})
    assert (stale.status_code, stale.json()["code"]) == (409, "conflict")
    line_id = accepted.json()["lines"][0]["id"]
    received = _post(
        api_as("warehouse"),
        f"/api/v1/service/returns/{rid}/receive",
        {"lines": [{"id": line_id, "resellable": 2}]},
    )
    assert received.status_code == 200, received.content
    assert received.json()["refund_suggestion"] == "99.98"
    body = {"idempotency_key": "client-retry-0001", "method": "original"}
    first = _post(client, f"/api/v1/service/returns/{rid}/refund", body)
    again = _post(client, f"/api/v1/service/returns/{rid}/refund", body)
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    assert Refund.objects.count() == 1
    confirmed = _post(client, f"/api/v1/service/refunds/{first.json()['id']}/confirm", {"reference": "T1"})
    assert confirmed.json()["state"] == "done"
    closed = _post(client, f"/api/v1/service/returns/{rid}/close", {})
    assert closed.json()["state"] == "closed"
    assert api_as("readonly").get(f"/api/v1/service/returns/{rid}").json()["state"] == "closed"
    assert len(mail.outbox) == 1  # only the receipt ran its on-commit hook in this test


def test_bad_returns_are_refused_with_codes(api_as, delivered_order):
    order = delivered_order()
    a = order.lines.order_by("id").first()
    client = api_as("service")
    too_many = _post(
        client,
        "/api/v1/service/returns",
        {"order_id": order.pk, "lines": [{"order_line_id": a.pk, "quantity": 5}]},
    )
    assert (too_many.status_code, too_many.json()["code"], too_many.json()["field"]) == (
        400,
        "too_many",
        "lines[0].quantity",
    )
    unknown_field = _post(
        client,
        "/api/v1/service/returns",
        {"order_id": order.pk, "lines": [{"order_line_id": a.pk, "quantity": 1}], "state": "closed"},
    )
    assert unknown_field.status_code == 422
    naive = _post(
        client,
        "/api/v1/service/returns",
        {
            "order_id": order.pk,
            "lines": [{"order_line_id": a.pk, "quantity": 1}],
            "statement_sent_at": "2026-11-01T10:00:00",
        },
    )
    assert naive.status_code == 422
    missing = _post(
        client,
        "/api/v1/service/returns",
        {"order_id": 999999, "lines": [{"order_line_id": a.pk, "quantity": 1}]},
    )
    assert missing.status_code == 404
    assert Return.objects.count() == 0


def test_refund_over_the_paid_amount_is_a_400_and_roles_are_enforced(api_as, delivered_order):
    order = delivered_order()
    body = {"order_id": order.pk, "amount": "142.98", "method": "original", "idempotency_key": "over-paid-01"}
    over = _post(api_as("organiser"), "/api/v1/service/refunds", body)
    assert (over.status_code, over.json()["code"]) == (400, "over_refund")
    assert over.json()["details"] == {"available": "142.97"}
    denied = _post(api_as("warehouse"), "/api/v1/service/refunds", {**body, "amount": "1.00"})
    assert (denied.status_code, denied.json()["code"]) == (403, "forbidden")
    bad_iban = _post(
        api_as("organiser"),
        "/api/v1/service/refunds",
        {**body, "amount": "1.00", "method": "bank_transfer", "iban": "PL00 1234"},
    )
    assert (bad_iban.status_code, bad_iban.json()["field"]) == (400, "iban")
    assert Refund.objects.count() == 0


def test_a_complaint_through_the_api(api_as, delivered_order, django_capture_on_commit_callbacks):
    order = delivered_order()
    line = order.lines.order_by("id").first()
    client = api_as("service")
    refused = _post(
        client,
        "/api/v1/service/complaints",
        {"order_line_id": line.pk, "defect": "broken", "requested_remedy": "withdrawal"},
    )
    assert (refused.status_code, refused.json()["code"]) == (400, "remedy_order")
    created = _post(
        client,
        "/api/v1/service/complaints",
        {"order_line_id": line.pk, "defect": "broken", "requested_remedy": "repair", "language": "en"},
    )
    assert created.status_code == 201
    cid = created.json()["id"]
    with django_capture_on_commit_callbacks(execute=True):
        decided = _post(
            client,
            f"/api/v1/service/complaints/{cid}/decision",
            {"accept": False, "text": "Damage from a fall", "version": 1},
        )
    assert decided.json()["state"] == "rejected"
    after = client.get(f"/api/v1/service/complaints/{cid}").json()
    assert after["responded_at"] is not None  # the moment the letter was sent
    assert after["emails"][-1]["kind"] == "complaint_decision"
    listed = client.get("/api/v1/service/complaints", {"state": "rejected"}).json()
    assert [c["id"] for c in listed["items"]] == [cid]
    assert client.get("/api/v1/service/due").json()["complaints"] == []
