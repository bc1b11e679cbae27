"""Helpdesk screens, the public contact form, the tickets API and `zaplecze service import-mail`."""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner
from django.core import mail
from django.test import Client
from django.urls import reverse

from zaplecze.service import services
from zaplecze.service.models import Ticket

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(staff):
    client = Client()
    client.force_login(staff)
    return client


def test_the_contact_form_opens_a_ticket_and_acknowledges_it(
    delivered_order, django_capture_on_commit_callbacks
):
    order = delivered_order()
    client = Client()
    page = client.get("/kontakt/")
    html = page.content.decode()
    ids = re.findall(r'<(?:input|textarea)(?![^>]*type="hidden")[^>]*\bid="([^"]+)"', html)
    assert set(ids) <= set(re.findall(r'<label[^>]*\bfor="([^"]+)"', html))
    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(
            "/kontakt/",
            {
                "name": "Anna",
                "email": "anna@example.com",
                "order_number": "#S1",
                "subject": "Faktura",
                "message": "Proszę o fakturę",
            },
        )
    t = Ticket.objects.get()
    assert f"Its number is <strong data-ticket-number>{t.number}</strong>" in done.content.decode()
    assert (t.channel, list(t.orders.all())) == ("form", [order])
    assert mail.outbox[-1].subject == f"We received your message [{t.number}]"


def test_the_contact_form_refuses_bad_input_and_silently_drops_bots():
    client = Client()
    bad = client.post("/kontakt/", {"name": "A", "email": "not-an-address", "subject": "x", "message": "y"})
    assert bad.status_code == 400 and 'aria-invalid="true"' in bad.content.decode()
    bot = client.post(
        "/kontakt/",
        {
            "name": "A",
            "email": "a@example.com",
            "subject": "x",
            "message": "y",
            "website": "http://spam.example",
        },
    )
    assert bot.status_code == 200
    assert Ticket.objects.count() == 0


def test_staff_reply_from_the_ticket_page_with_a_canned_reply(
    delivered_order, staff_client, django_capture_on_commit_callbacks
):
    order = delivered_order()
    t = services.ticket_create(
        subject="Zwrot",
        body="Jak zwrócić?",
        email="anna@example.com",
        actor=None,
        channel="email",
        order_ids=[order.pk],
        name="Anna",
    )
    canned = services.canned_save(
        name="zwrot",
        language="pl",
        actor=None,
        body="Dzień dobry {customer_name}, zamówienie {order_number} można zwrócić.",
    )
    page = staff_client.get(reverse("service:ticket", args=[t.pk]), {"canned": canned.pk})
    assert "Dzień dobry Anna, zamówienie #S1 można zwrócić." in page.content.decode()
    assert "Lifetime value" in page.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        staff_client.post(
            reverse("service:ticket_reply", args=[t.pk]),
            {"body": "Dzień dobry Anna, zamówienie #S1 można zwrócić.", "version": t.version},
        )
    t.refresh_from_db()
    assert t.status == "waiting_customer"
    assert mail.outbox[-1].body.startswith("Dzień dobry Anna, zamówienie #S1 można zwrócić.")
    listing = staff_client.get(reverse("service:tickets"), {"status": "waiting_customer"})
    assert [x.pk for x in listing.context["page"].items] == [t.pk]
    staff_client.post(
        reverse("service:ticket_update", args=[t.pk]),
        {"queue": "logistics", "priority": "high", "assignee": "none", "tags": "zwrot, pilne"},
    )
    t.refresh_from_db()
    assert (t.queue, t.priority, t.tags) == ("logistics", "high", ["pilne", "zwrot"])


def test_tickets_api(make_user):
    from zaplecze.core.services import token_create

    client = Client(HTTP_AUTHORIZATION=f"Bearer {token_create(user=make_user('service'))}")
    created = client.post(
        "/api/v1/service/tickets",
        data={"subject": "Hello", "body": "Where is my parcel?", "email": "jan@example.com"},
        content_type="application/json",
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["status"], body["sla"]["paused"], body["messages"][0]["direction"]) == ("new", False, "in")
    replied = client.post(
        f"/api/v1/service/tickets/{body['id']}/reply",
        data={"body": "On its way"},
        content_type="application/json",
    )
    assert replied.json()["status"] == "waiting_customer"
    assert replied.json()["sla"]["paused"] is True
    bad = client.post(
        f"/api/v1/service/tickets/{body['id']}/status",
        data={"status": "gone"},
        content_type="application/json",
    )
    assert bad.status_code == 422
    readonly = Client(HTTP_AUTHORIZATION=f"Bearer {token_create(user=make_user('readonly'))}")
    assert readonly.get("/api/v1/service/tickets").json()["items"][0]["id"] == body["id"]
    assert (
        readonly.post("/api/v1/service/tickets", data={}, content_type="application/json").status_code == 403
    )


def test_import_mail_cli(tmp_path):
    from zaplecze.cli import main

    good = tmp_path / "a.eml"
    good.write_bytes(b"From: jan@example.com\r\nSubject: Pytanie\r\nMessage-ID: <x1@e>\r\n\r\nTresc")
    bad = tmp_path / "b.eml"
    bad.write_bytes(b"no headers at all")
    result = CliRunner().invoke(main, ["service", "import-mail", str(good), str(good), str(bad), "--json"])
    assert result.exit_code == 1
    outcomes = [r["outcome"] for r in json.loads(result.output)["results"]]
    assert outcomes == ["created", "duplicate", "refused"]
