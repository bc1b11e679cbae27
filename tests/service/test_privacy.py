"""GDPR export and erasure (COMPLIANCE A4): the export holds data from every source; the erasure removes the
person from every table (checked against the rows themselves, search tokens included) while order totals and
refund amounts stay; both are logged; erasure is refused while cases are open or without confirmation."""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile
from decimal import Decimal

import pytest
from django.apps import apps
from django.db import connection
from django.utils import timezone

from zaplecze.core.errors import DomainError, NotFound
from zaplecze.core.models import AuditEntry
from zaplecze.orders.models import Customer, Order, OrderSearchToken
from zaplecze.service import privacy, services
from zaplecze.service.models import (
    Complaint,
    ComplaintPhoto,
    ComplaintState,
    InboundMail,
    MailboxState,
    OutboxEmail,
    Return,
    Ticket,
    TicketMessage,
)

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
# Strings that identify Anna (from tests.conftest.order_data and the cases below).
NEEDLES = [
    "anna@example.com",
    "Kowalska",
    "600 100 200",
    "600100200",
    "Długa",
    "PL61109010140000071219812874",
]


@pytest.fixture
def anna(delivered_order, staff, settings, tmp_path):
    """Anna with a finished history: an order, a closed return with a confirmed refund, a closed complaint
    with a photo, a closed contact-form ticket, and the e-mails they sent."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path)},
        },
    }
    order = delivered_order(notes="Ring twice, Anna Kowalska")
    a, b = order.lines.order_by("id")
    ret = services.return_request(
        order_id=order.pk,
        lines={a.pk: 1},
        reason="Too small, Anna",
        actor=None,
        source="public",
        bank_account="PL61 1090 1014 0000 0712 1981 2874",
    )
    services.return_accept(return_id=ret.pk, actor=staff)
    services.return_receive(return_id=ret.pk, inspection={ret.lines.get().pk: {"resellable": 1}}, actor=staff)
    refund = services.return_refund(
        return_id=ret.pk, actor=staff, idempotency_key="privacy-test-1", method="bank_transfer"
    )
    services.refund_confirm(refund_id=refund.pk, actor=staff, reference="BANK-1")
    services.return_close(return_id=ret.pk, actor=staff)
    c = services.complaint_create(
        order_line_id=b.pk, defect="Cracked; call me at 600 100 200", requested_remedy="repair", actor=None
    )
    services.complaint_add_photo(complaint_id=c.pk, filename="crack.png", content=PNG, actor=None)
    Complaint.objects.filter(pk=c.pk).update(state=ComplaintState.CLOSED)
    t = services.ticket_contact_form(
        name="Anna Kowalska",
        email="anna@example.com",
        subject="Where is my parcel?",
        message="Hello, this is Anna Kowalska, ul. Długa 5",
        order_number=order.number,
    )
    services.ticket_transition(ticket_id=t.pk, status="closed", actor=staff)
    # The record of an e-mail she sent that the IMAP import took in (sender and subject are hers).
    mailbox = MailboxState.objects.create(key="imap://shop@localhost:143/INBOX", epoch="1", last_uid=7)
    InboundMail.objects.create(
        mailbox=mailbox,
        epoch="1",
        uid=7,
        message_id="<m7@example.com>",
        sender="anna@example.com",
        subject="Anna Kowalska: parcel",
        outcome="appended",
        ticket=t,
    )
    order.refresh_from_db()
    return {"order": order, "return": ret, "refund": refund, "complaint": c, "ticket": t}


def _all_text() -> str:
    """Every text/JSON value of every row of every table (binary columns left out), lower-cased."""
    parts = []
    for model in apps.get_models(include_auto_created=True):
        if model._meta.app_label in {"sessions", "axes", "contenttypes", "auth"}:
            continue
        cols = [f.column for f in model._meta.concrete_fields if f.get_internal_type() != "BinaryField"]
        table = connection.ops.quote_name(model._meta.db_table)
        with connection.cursor() as cur:
            cur.execute(f"SELECT {', '.join(connection.ops.quote_name(c) for c in cols)} FROM {table}")  # noqa: S608
            for r in cur.fetchall():
                parts.extend(str(v) for v in r if v is not None)
    return "\n".join(parts).lower()


def test_export_contains_data_from_every_source(anna, staff):
    subject = privacy.subject_resolve("ANNA@example.com")
    doc = privacy.export_document(subject, actor=staff)

    assert doc["format"] == "zaplecze.personal-data-export"
    assert doc["subject"]["emails"] == ["anna@example.com"]
    assert [c["email"] for c in doc["customers"]] == ["anna@example.com"]
    [order] = doc["orders"]
    assert order["customer_name"] == "Anna Kowalska"
    assert order["shipping_address"]["street"] == "ul. Długa 5"
    assert [ln["name"] for ln in order["lines"]] == ["Kubek", "Talerz"]
    assert order["history"]
    [ticket] = doc["tickets"]
    assert "ul. Długa 5" in ticket["messages"][0]["body"]
    [ret] = doc["returns"]
    assert ret["reason"] == "Too small, Anna"
    assert ret["bank_account"] == "PL61109010140000071219812874"
    assert ret["timeline"]
    [complaint] = doc["complaints"]
    assert complaint["defect"].startswith("Cracked")
    assert [p["filename"] for p in complaint["photos"]] == ["crack.png"]
    [refund] = doc["refunds"]
    assert Decimal(refund["amount"]) == anna["refund"].amount
    assert {m["kind"] for m in doc["emails"]} >= {"return_received", "complaint_received", "ticket_received"}
    assert {e["object_type"] for e in doc["audit_log"]} >= {
        "orders.order",
        "service.return",
        "service.refund",
    }
    assert doc["counts"]["orders"] == 1 and doc["counts"]["emails"] == len(doc["emails"])
    assert [m["subject"] for m in doc["inbound_mail"]] == ["Anna Kowalska: parcel"]
    json.dumps(doc)  # machine-readable as it is

    entry = AuditEntry.objects.get(object_type="service.privacy", action="exported")
    assert entry.actor == staff
    assert entry.changes["subject"] == [None, "ANNA@example.com"]


def test_export_by_customer_number_and_zip_with_the_photo(anna, staff):
    customer = Customer.objects.get(email="anna@example.com")
    subject = privacy.subject_resolve(f"#{customer.pk}")
    assert subject.emails == ["anna@example.com"]
    data = privacy.export_zip(subject, actor=staff)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        names = zf.namelist()
        doc = json.loads(zf.read("export.json"))
        photo = [n for n in names if n.startswith("files/complaints/")]
        assert len(photo) == 1 and zf.read(photo[0]) == PNG
        assert sorted(names) == sorted(["export.json", *photo])
    assert doc["orders"][0]["number"] == anna["order"].number


def test_erasure_removes_the_person_everywhere_and_keeps_the_accounts(
    anna, staff, django_capture_on_commit_callbacks
):
    order, refund = anna["order"], anna["refund"]
    photo_path = ComplaintPhoto.objects.get().file.path
    totals = (order.total_gross, order.total_net, order.shipping_cost)
    before_text = _all_text()
    assert all(n.lower() in before_text for n in NEEDLES)
    privacy.export_document(
        privacy.subject_resolve("anna@example.com"), actor=staff
    )  # logged with the e-mail

    subject = privacy.subject_resolve("anna@example.com")
    plan = privacy.erasure_plan(subject)
    assert plan.allowed
    assert plan.retention_until == privacy.retention_until(order.placed_at)
    with django_capture_on_commit_callbacks(execute=True):
        counts = privacy.erase(subject, actor=staff, confirm="Anna@Example.com")

    text = _all_text()
    assert [n for n in NEEDLES if n.lower() in text] == []
    assert "anna" not in text  # not even the first name in a free text
    order.refresh_from_db()
    assert (order.total_gross, order.total_net, order.shipping_cost) == totals
    assert order.number.startswith("#S") and order.lines.count() == 2
    assert order.customer_name == privacy.PLACEHOLDER and order.email == "" and order.shipping_address == {}
    tokens = set(OrderSearchToken.objects.filter(order=order).values_list("token", flat=True))
    assert tokens == {
        order.number.lower(),
        order.number.lower().lstrip("#"),
        order.external_id.lower(),
        *(s.lower() for s in order.lines.values_list("sku", flat=True)),
    }
    refund.refresh_from_db()
    assert refund.amount == anna["refund"].amount and refund.state == "done"
    assert refund.iban == "PL…2874"
    assert Return.objects.get().reason == privacy.PLACEHOLDER
    assert ComplaintPhoto.objects.count() == 0
    from pathlib import Path

    assert not Path(photo_path).exists()
    assert set(TicketMessage.objects.values_list("body", flat=True)) <= {privacy.PLACEHOLDER, ""}
    assert set(OutboxEmail.objects.values_list("to", flat=True)) == {""}
    assert Ticket.objects.get().email == ""
    assert counts["orders"] == 1 and counts["photos"] == 1 and counts["returns"] == 1
    log = AuditEntry.objects.get(object_type="service.privacy", action="erased")
    assert log.actor == staff and log.changes["counts"][1]["orders"] == 1
    assert plan.retention_until.isoformat() in log.reason
    # Nothing left to find: the person is gone.
    with pytest.raises(NotFound):
        privacy.subject_resolve("anna@example.com")


def test_erasure_is_refused_while_a_return_is_open_and_changes_nothing(delivered_order, staff):
    order = delivered_order()
    ret = services.return_request(order_id=order.pk, lines={order.lines.first().pk: 1}, actor=staff)
    subject = privacy.subject_resolve("anna@example.com")
    plan = privacy.erasure_plan(subject)
    assert not plan.allowed
    assert any(ret.number in b for b in plan.blockers)
    before = _all_text()
    with pytest.raises(DomainError) as exc:
        privacy.erase(subject, actor=staff, confirm="anna@example.com")
    assert exc.value.code == "erasure_blocked"
    assert ret.number in exc.value.message
    assert _all_text() == before
    assert not AuditEntry.objects.filter(object_type="service.privacy", action="erased").exists()


def test_erasure_is_refused_for_an_undelivered_order(ingest, staff):
    order = ingest().order
    subject = privacy.subject_resolve("anna@example.com")
    with pytest.raises(DomainError) as exc:
        privacy.erase(subject, actor=staff, confirm="anna@example.com")
    assert order.number in exc.value.message
    assert Order.objects.get(pk=order.pk).email == "anna@example.com"


def test_erasure_needs_the_email_typed_again(anna, staff):
    subject = privacy.subject_resolve("anna@example.com")
    with pytest.raises(DomainError) as exc:
        privacy.erase(subject, actor=staff, confirm="anna@example.org")
    assert exc.value.code == "confirm_mismatch"
    assert Order.objects.get().email == "anna@example.com"


def test_unknown_or_malformed_subjects(db):
    with pytest.raises(NotFound):
        privacy.subject_resolve("nobody@example.com")
    with pytest.raises(NotFound):
        privacy.subject_resolve("#999999")
    with pytest.raises(DomainError) as exc:
        privacy.subject_resolve("not an address")
    assert exc.value.field == "subject"


def test_retention_counts_from_the_end_of_the_year_the_tax_was_due():
    tz = dt.UTC
    assert privacy.retention_until(dt.datetime(2026, 5, 10, 12, tzinfo=tz)) == dt.date(2031, 12, 31)
    # A December sale: the tax is due in January, so the 5 years start at the end of the next year.
    assert privacy.retention_until(dt.datetime(2026, 12, 10, 12, tzinfo=tz)) == dt.date(2032, 12, 31)


def test_pending_emails_are_cancelled_by_the_erasure(delivered_order, staff, huey_immediate):
    order = delivered_order()
    huey_immediate.immediate = False  # keep the e-mail waiting in the outbox
    t = services.ticket_contact_form(name="Anna", email="anna@example.com", subject="Hi", message="Hello")
    huey_immediate.immediate = True
    services.ticket_transition(ticket_id=t.pk, status="closed", actor=staff)
    waiting = OutboxEmail.objects.filter(state="pending")
    assert waiting.exists()
    subject = privacy.subject_resolve("anna@example.com")
    assert any("cancelled" in w for w in privacy.erasure_plan(subject).warnings)
    privacy.erase(subject, actor=staff, confirm="anna@example.com")
    assert not OutboxEmail.objects.filter(state="pending").exists()
    assert Order.objects.get(pk=order.pk).total_gross > 0
    assert timezone.now()
