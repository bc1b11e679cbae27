"""E-mail out over SMTP against a real aiosmtpd on loopback, and the whole loop with a real Dovecot: the
customer writes (IMAP) -> a ticket -> staff reply (SMTP, threading headers) -> the customer answers the reply
-> the answer lands in the same ticket. An SMTP server that is down loses nothing: the outbox retries."""

from __future__ import annotations

import datetime as dt
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

import pytest
from django.utils import timezone

from zaplecze.service import mail, services
from zaplecze.service.models import OutboxEmail, Ticket

from .mailservers import SmtpCapture, free_port

pytestmark = pytest.mark.django_db


def _parse(raw: bytes):
    return BytesParser(policy=policy.default).parsebytes(raw)


def test_customer_mail_staff_reply_and_the_customers_answer_stay_in_one_ticket(
    dovecot, smtp_server, staff, django_capture_on_commit_callbacks
):
    first = EmailMessage()
    first["From"] = "Zofia Wójcik <zofia@example.com>"
    first["To"] = "sklep@example.com"
    first["Subject"] = "Uszkodzony kubek"
    first["Message-ID"] = "<z1@poczta.example>"
    first.set_content("Kubek przyszedł pęknięty. Co teraz?")
    dovecot.append(first.as_bytes())
    assert mail.mail_fetch().created == 1
    ticket = Ticket.objects.get()

    with django_capture_on_commit_callbacks(execute=True):
        services.ticket_reply(ticket_id=ticket.pk, body="Przepraszamy, wyślemy nowy kubek.", actor=staff)
    assert len(smtp_server.received) == 1
    envelope = smtp_server.received[0]
    assert envelope["to"] == ["zofia@example.com"]
    reply = _parse(envelope["raw"])
    sent = OutboxEmail.objects.get()
    assert sent.state == "sent"
    assert reply["Message-ID"] == sent.message_id
    assert reply["In-Reply-To"] == "<z1@poczta.example>"
    assert reply["References"] == "<z1@poczta.example>"
    assert reply["Subject"] == f"Re: Uszkodzony kubek [{ticket.number}]"
    assert reply["From"] == "sklep@example.com"
    assert reply.get_content() == "Przepraszamy, wyślemy nowy kubek.\r\n-- \r\nSklep Testowy\r\n"

    # The customer answers from her mail program: quoting our reply, threading headers set from it.
    answer = EmailMessage()
    answer["From"] = "Zofia Wójcik <zofia@example.com>"
    answer["To"] = reply["From"]
    answer["Subject"] = "Re: " + reply["Subject"].removeprefix("Re: ")
    answer["Message-ID"] = "<z2@poczta.example>"
    answer["In-Reply-To"] = reply["Message-ID"]
    answer["References"] = f"{reply['References']} {reply['Message-ID']}"
    answer.set_content("Dziękuję, czekam.\n\n> " + reply.get_content().splitlines()[0])
    dovecot.append(answer.as_bytes())
    report = mail.mail_fetch()
    assert (report.fetched, report.created, report.threaded) == (1, 0, 1)
    ticket.refresh_from_db()
    assert ticket.status == "open"
    assert list(ticket.messages.exclude(direction="event").values_list("direction", "message_id")) == [
        ("in", "<z1@poczta.example>"),
        ("out", sent.message_id),
        ("in", "<z2@poczta.example>"),
    ]


def test_a_reply_threads_by_its_message_id_even_when_the_subject_tag_is_removed(
    dovecot, smtp_server, staff, django_capture_on_commit_callbacks
):
    ticket = services.ticket_create(
        subject="Pytanie o rozmiar",
        body="Jaki rozmiar?",
        email="olek@example.com",
        actor=None,
        channel="email",
    )
    with django_capture_on_commit_callbacks(execute=True):
        services.ticket_reply(ticket_id=ticket.pk, body="Rozmiar M.", actor=staff)
    reply = _parse(smtp_server.received[0]["raw"])
    answer = EmailMessage()
    answer["From"] = "olek@example.com"
    answer["Subject"] = "Odp: rozmiar"  # the customer's program rewrote the subject
    answer["In-Reply-To"] = reply["Message-ID"]
    answer.set_content("Dzięki!")
    dovecot.append(answer.as_bytes())
    assert mail.mail_fetch().threaded == 1
    assert ticket.messages.filter(direction="in").count() == 2


def test_polish_text_survives_smtp(smtp_server, staff, django_capture_on_commit_callbacks):
    ticket = services.ticket_create(
        subject="Źle naliczona dopłata", body="?", email="lucja@example.com", actor=None, channel="email"
    )
    with django_capture_on_commit_callbacks(execute=True):
        services.ticket_reply(
            ticket_id=ticket.pk, body="Zwrócimy różnicę: 12,50 zł. Łączę pozdrowienia.", actor=staff
        )
    reply = _parse(smtp_server.received[0]["raw"])
    assert reply["Subject"] == f"Re: Źle naliczona dopłata [{ticket.number}]"
    assert reply.get_content_charset() == "utf-8"
    assert (
        reply.get_content() == "Zwrócimy różnicę: 12,50 zł. Łączę pozdrowienia.\r\n-- \r\nSklep Testowy\r\n"
    )


def test_smtp_down_keeps_the_email_and_delivers_it_when_the_server_is_back(
    settings, staff, django_capture_on_commit_callbacks
):
    port = free_port()  # nothing listens here yet
    down = SmtpCapture(port=port)
    for name, value in down.settings().items():
        setattr(settings, name, value)
    ticket = services.ticket_create(
        subject="Zwrot pieniędzy", body="Kiedy?", email="marek@example.com", actor=None, channel="email"
    )
    with django_capture_on_commit_callbacks(execute=True):
        services.ticket_reply(ticket_id=ticket.pk, body="Jutro.", actor=staff)
    email = OutboxEmail.objects.get()
    assert (email.state, email.attempts) == ("pending", 1)
    assert email.last_error.startswith("ConnectionRefusedError")
    later = timezone.now() + dt.timedelta(minutes=2)
    assert services.outbox_retry_due(now=later) == 0  # still down: kept, retried later
    email.refresh_from_db()
    assert (email.state, email.attempts) == ("pending", 2)
    with down:  # the server comes back on the same port
        assert services.outbox_retry_due(now=later + dt.timedelta(minutes=10)) == 1
    email.refresh_from_db()
    assert (email.state, email.attempts, email.last_error) == ("sent", 3, "")
    assert len(down.received) == 1
    assert _parse(down.received[0]["raw"])["Message-ID"] == email.message_id
    assert down.received[0]["to"] == ["marek@example.com"]


def test_a_copy_of_our_own_reply_in_the_inbox_is_not_taken_for_customer_mail(
    dovecot, smtp_server, staff, django_capture_on_commit_callbacks
):
    ticket = services.ticket_create(
        subject="Kiedy wysyłka?", body="?", email="ela@example.com", actor=None, channel="email"
    )
    with django_capture_on_commit_callbacks(execute=True):
        services.ticket_reply(ticket_id=ticket.pk, body="Jutro rano.", actor=staff)
    dovecot.append(smtp_server.received[0]["raw"])  # e.g. the shop sends itself a Bcc
    report = mail.mail_fetch()
    assert (report.fetched, report.duplicate, report.created, report.appended) == (1, 1, 0, 0)
    assert ticket.messages.filter(direction="in").count() == 1
    assert mail.InboundMail.objects.get().reason == "our own e-mail"
