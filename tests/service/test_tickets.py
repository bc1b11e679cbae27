"""Helpdesk: tickets linked to customers and orders, SLA timers in business hours that pause while waiting
for the customer, replies threaded by headers, incoming mail (malformed, huge, non-UTF-8), canned replies."""

from __future__ import annotations

import datetime as dt
from email.message import EmailMessage

import pytest
from django.core import mail

from zaplecze.core.businesstime import add_business_seconds, business_seconds_between
from zaplecze.core.errors import DomainError, IllegalTransition
from zaplecze.service import selectors, services
from zaplecze.service.models import CannedReply, Ticket, TicketMessage

from .conftest import at

pytestmark = pytest.mark.django_db


# --- business hours --------------------------------------------------------------------------------------


def test_business_seconds_skip_nights_weekends_and_holidays():
    friday_3pm = at(2026, 11, 27, 15)
    assert business_seconds_between(friday_3pm, at(2026, 11, 30, 9)) == 2 * 3600  # Fri 15-16, Mon 8-9
    assert add_business_seconds(friday_3pm, 2 * 3600) == at(2026, 11, 30, 9).astimezone(dt.UTC)
    # 23.12.2025 15:00 + 2 h: 16:00, then 24-28.12 are holidays or the weekend -> Mon 29.12 09:00
    assert add_business_seconds(at(2025, 12, 23, 15), 2 * 3600) == at(2025, 12, 29, 9).astimezone(dt.UTC)
    assert business_seconds_between(at(2025, 12, 24, 9), at(2025, 12, 28, 12)) == 0
    assert business_seconds_between(at(2026, 1, 5, 20), at(2026, 1, 5, 7)) == 0


# --- tickets and SLA ---------------------------------------------------------------------------------------


def _ticket(**kw):
    args = {
        "subject": "Gdzie jest paczka?",
        "body": "Dzień dobry, nie dostałam paczki.",
        "email": "anna@example.com",
        "actor": None,
        "channel": "email",
        "message_id": "<m1@client.example>",
    }
    args.update(kw)
    return services.ticket_create(**args)


def test_a_ticket_links_the_customer_and_orders_and_starts_the_sla_clock(delivered_order):
    order = delivered_order()
    t = _ticket(order_ids=[order.pk], at=at(2026, 3, 2, 9))
    assert (t.status, t.customer_id, list(t.orders.all())) == ("new", order.customer_id, [order])
    assert t.number == f"T-{t.pk:06d}"
    status = selectors.sla_status(t, now=at(2026, 3, 2, 12))
    assert status["clock_seconds"] == 3 * 3600
    # 8 working hours: 3 used by 12:00, 4 more until 16:00, the last one on Tuesday from 8:00
    assert status["first_response_due"] == at(2026, 3, 3, 9).astimezone(dt.UTC)
    assert status["first_response_breached"] is False
    assert selectors.sla_status(t, now=at(2026, 3, 3, 9))["first_response_breached"] is False  # exactly 8 h
    late = at(2026, 3, 3, 9) + dt.timedelta(seconds=1)
    assert selectors.sla_status(t, now=late)["first_response_breached"] is True


def test_the_sla_clock_pauses_while_waiting_for_the_customer():
    t = _ticket(at=at(2026, 3, 2, 9), priority="urgent")
    services._sla_to(t, "waiting_customer", at(2026, 3, 2, 10))
    assert (t.sla_seconds, t.sla_since) == (3600, None)
    paused = selectors.sla_status(t, now=at(2026, 3, 4, 12))
    assert (paused["clock_seconds"], paused["paused"], paused["first_response_due"]) == (3600, True, None)
    services._sla_to(t, "open", at(2026, 3, 4, 9))
    assert selectors.sla_status(t, now=at(2026, 3, 4, 10))["clock_seconds"] == 2 * 3600
    assert selectors.sla_status(t, now=at(2026, 3, 4, 10))["first_response_breached"] is False
    assert selectors.sla_status(t, now=at(2026, 3, 4, 10) + dt.timedelta(minutes=1))[
        "first_response_breached"
    ]
    services._sla_to(t, "solved", at(2026, 3, 4, 11))
    assert (t.resolution_sla_seconds, t.solved_at) == (3 * 3600, at(2026, 3, 4, 11))
    services._sla_to(t, "open", at(2026, 3, 5, 9))  # reopened: the resolution timer runs again
    assert (t.resolution_sla_seconds, t.solved_at) == (None, None)


def test_a_reply_is_threaded_stamps_the_first_response_and_waits_for_the_customer(
    django_capture_on_commit_callbacks,
):
    t = _ticket()
    with django_capture_on_commit_callbacks(execute=True):
        services.ticket_reply(ticket_id=t.pk, body="Paczka jest w drodze.", actor=None)
    t.refresh_from_db()
    assert (t.status, t.sla_since) == ("waiting_customer", None)
    assert t.first_response_at is not None and t.first_response_sla_seconds is not None
    sent = mail.outbox[-1]
    assert sent.subject == f"Re: Gdzie jest paczka? [{t.number}]"
    assert sent.extra_headers["In-Reply-To"] == "<m1@client.example>"
    assert sent.extra_headers["References"] == "<m1@client.example>"
    out = t.messages.get(direction="out")
    assert out.message_id == sent.extra_headers["Message-ID"]
    assert out.email.state == "sent"


def _mail(subject="Re: Gdzie jest paczka?", body="Dziękuję", sender="Anna <anna@example.com>", **headers):
    m = EmailMessage()
    m["From"] = sender
    m["To"] = "sklep@example.com"
    m["Subject"] = subject
    for k, v in headers.items():
        m[k.replace("_", "-")] = v
    m.set_content(body)
    return m.as_bytes()


def test_incoming_mail_is_threaded_by_headers_and_reopens_the_ticket():
    t = _ticket()
    services.ticket_reply(ticket_id=t.pk, body="Paczka jest w drodze.", actor=None)
    ours = t.messages.get(direction="out").message_id
    result = services.ticket_receive_email(_mail(In_Reply_To=ours, Message_ID="<m2@client.example>"))
    assert (result.outcome, result.ticket_id) == ("appended", t.pk)
    t.refresh_from_db()
    assert t.status == "open"
    assert t.sla_since is not None  # the clock runs again
    again = services.ticket_receive_email(_mail(In_Reply_To=ours, Message_ID="<m2@client.example>"))
    assert again.outcome == "duplicate"
    assert t.messages.filter(direction="in").count() == 2


def test_incoming_mail_is_threaded_by_the_subject_tag_only_for_the_same_sender():
    t = _ticket()
    tagged = services.ticket_receive_email(_mail(subject=f"Odp: [{t.number}] pytanie", Message_ID="<m3@x>"))
    assert (tagged.outcome, tagged.ticket_id) == ("appended", t.pk)
    stranger = services.ticket_receive_email(
        _mail(subject=f"[{t.number}] hi", sender="eve@example.com", Message_ID="<m4@x>")
    )
    assert stranger.outcome == "created" and stranger.ticket_id != t.pk


def test_non_utf8_html_only_encoded_subject_and_attachments_are_read():
    raw = (
        (
            "From: =?iso-8859-2?q?Pawe=B3?= <pawel@example.com>\r\n"
            "Subject: =?iso-8859-2?q?Zam=F3wienie_=BF=F3=B3te?=\r\n"
            "Message-ID: <m5@x>\r\nMIME-Version: 1.0\r\n"
            'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
            "--b\r\nContent-Type: text/html; charset=windows-1250\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        ).encode("ascii")
        + "<p>Proszę o zwrot &amp; fakturę: żółć</p><script>x()</script>".encode("cp1250")
        + (
            b'\r\n--b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename="f.pdf"\r\n'
            b"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0=\r\n--b--\r\n"
        )
    )
    result = services.ticket_receive_email(raw)
    t = Ticket.objects.get(pk=result.ticket_id)
    assert (t.subject, t.name, t.email) == ("Zamówienie żółte", "Paweł", "pawel@example.com")
    message = t.messages.get(direction="in")
    assert "Proszę o zwrot & fakturę: żółć" in message.body
    assert "x()" not in message.body
    assert message.data == {"attachments": ["f.pdf"]}


def test_undeclared_charset_garbage_huge_and_senderless_mail():
    latin2 = (
        b"From: jan@example.com\r\nSubject: test\r\nContent-Type: text/plain\r\n\r\n"
        + "Zażółć gęślą jaźń, proszę o zwrot pieniędzy za zamówienie".encode("cp1250")
    )
    result = services.ticket_receive_email(latin2)
    assert result.outcome == "created"
    assert "\x00" not in TicketMessage.objects.get(ticket_id=result.ticket_id, direction="in").body
    assert services.ticket_receive_email(b"\x00\xff\xfe garbage without headers").outcome == "refused"
    assert services.ticket_receive_email(_mail(sender="not an address")).outcome == "refused"
    huge = services.ticket_receive_email(_mail(body="x" * 2000), max_bytes=1000)
    assert (huge.outcome, huge.reason) == ("refused", "larger than 1000 bytes")
    nul = services.ticket_receive_email(b"From: a@example.com\r\nSubject: a\x00b\r\n\r\nbody\x00end")
    assert TicketMessage.objects.get(ticket_id=nul.ticket_id, direction="in").body == "bodyend"


def test_ticket_transitions_assignment_tags_and_notes(make_user):
    agent = make_user("service", "agent")
    t = _ticket()
    services.ticket_update(
        ticket_id=t.pk,
        actor=agent,
        assignee_id=agent.pk,
        tags=["VIP", "vip", "dostawa"],
        priority="high",
        queue="logistics",
    )
    t.refresh_from_db()
    assert (t.assignee_id, t.tags, t.priority, t.queue) == (agent.pk, ["dostawa", "vip"], "high", "logistics")
    services.ticket_transition(ticket_id=t.pk, status="closed", actor=agent)
    with pytest.raises(IllegalTransition):
        services.ticket_transition(ticket_id=t.pk, status="waiting_customer", actor=agent)
    with pytest.raises(DomainError):
        services.ticket_update(ticket_id=t.pk, actor=agent, queue="marketing")
    services.ticket_note(ticket_id=t.pk, body="Zadzwonić jutro", actor=agent)
    kinds = list(t.messages.values_list("direction", flat=True))
    assert kinds == ["in", "event", "event", "note"]


def test_canned_replies_fill_variables_in_the_tickets_language(delivered_order):
    order = delivered_order(delivered_at=at(2025, 12, 10))
    t = _ticket(order_ids=[order.pk], name="Anna")
    canned = services.canned_save(
        name="zwrot",
        language="en",
        actor=None,
        body="Dear {customer_name}, order {order_number} can be returned until {return_deadline}. {unknown}",
    )
    text = services.canned_render(canned_id=canned.pk, ticket_id=t.pk)
    assert text == "Dear Anna, order #S1 can be returned until Mon 29.12.2025. {unknown}"
    with pytest.raises(DomainError):
        services.canned_save(name="broken", language="pl", body="Order {order_number", actor=None)
    assert CannedReply.objects.count() == 1


def test_the_contact_form_links_the_order_only_when_the_email_matches(
    delivered_order, django_capture_on_commit_callbacks
):
    order = delivered_order()
    with django_capture_on_commit_callbacks(execute=True):
        t = services.ticket_contact_form(
            name="Anna",
            email="anna@example.com",
            subject="Pytanie",
            message="Kiedy wysyłka?",
            order_number="S1",
            language="en",
        )
    assert list(t.orders.all()) == [order]
    assert mail.outbox[-1].subject == f"We received your message [{t.number}]"
    other = services.ticket_contact_form(
        name="Eve", email="eve@example.com", subject="x", message="y", order_number="S1"
    )
    assert list(other.orders.all()) == []


def test_customer_panel_shows_orders_cases_tickets_and_lifetime_value(delivered_order, staff):
    order = delivered_order()
    services.return_request(order_id=order.pk, lines={order.lines.first().pk: 1}, actor=staff)
    t1, t2 = _ticket(), _ticket(message_id="<other@x>")
    from zaplecze.shipping.models import Carrier, Shipment

    dpd = Carrier.objects.get(code="dpd")
    Shipment.objects.create(
        order=order, carrier=dpd, reference="s-1", tracking_number="0000123456789", status="in_transit"
    )
    panel = selectors.customer_panel(t1)
    assert [o.pk for o in panel["orders"]] == [order.pk]
    assert panel["lifetime_value"] == order.total_gross
    assert len(panel["returns"]) == 1 and [t.pk for t in panel["tickets"]] == [t2.pk]
    # Shipments with tracking come from the shipping module (through the extension point).
    [shipment] = panel["shipments"]
    assert (shipment["order_number"], shipment["carrier"], shipment["tracking_number"]) == (
        order.number,
        dpd.name,
        "0000123456789",
    )
    assert (
        shipment["tracking_url"] == dpd.tracking_link("0000123456789")
        and "0000123456789" in shipment["tracking_url"]
    )
    # ... and the canned replies' {tracking_link} is that carrier page.
    services.ticket_link_order(ticket_id=t1.pk, order_id=order.pk, actor=staff)
    t1.refresh_from_db()
    assert services.canned_variables(t1)["tracking_link"] == shipment["tracking_url"]
