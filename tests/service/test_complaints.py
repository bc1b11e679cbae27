"""Complaints: deadlines and liability, the statutory order of remedies, the decision letter and the
reply date, deemed acceptance, resolutions, photos."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core import mail

from zaplecze.core.errors import DomainError, IllegalTransition
from zaplecze.orders.models import Order
from zaplecze.service import services
from zaplecze.service.models import CaseEvent, Complaint, ComplaintState, OutboxEmail, Refund

from .conftest import at

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64


def _complaint(order, staff, **kw):
    line = order.lines.order_by("position", "id").first()
    args = {
        "order_line_id": line.pk,
        "defect": "Pęknięte ucho",
        "requested_remedy": "replacement",
        "actor": staff,
    }
    args.update(kw)
    return services.complaint_create(**args)


def test_a_consumer_complaint_gets_the_reply_deadline_escalation_and_liability(
    delivered_order, staff, django_capture_on_commit_callbacks
):
    order = delivered_order(delivered_at=at(2025, 6, 2))
    with django_capture_on_commit_callbacks(execute=True):
        c = _complaint(
            order, staff, received_at=at(2025, 12, 10), noticed_on=dt.date(2025, 12, 8), language="en"
        )
    assert (c.response_due, c.escalate_on, c.deemed_acceptance) == (
        dt.date(2025, 12, 29),
        dt.date(2025, 12, 20),
        True,
    )
    assert (c.liability_until, c.within_liability) == (dt.date(2027, 6, 2), True)
    assert c.state == ComplaintState.RECEIVED
    assert mail.outbox[0].subject == f"Your complaint {c.number}: received"
    created = c.events.get(kind="created")
    assert created.data["response_due"] == "2025-12-29"
    assert created.data["rule"][-1] == "Deadline: Mon 29.12.2025."


def test_a_defect_after_two_years_is_flagged(delivered_order, staff):
    order = delivered_order(delivered_at=at(2023, 11, 1))
    c = _complaint(order, staff, noticed_on=dt.date(2025, 11, 5), received_at=at(2025, 11, 6))
    assert (c.liability_until, c.within_liability) == (dt.date(2025, 11, 1), False)
    assert c.events.filter(kind="note").get().message == (
        "The defect appeared after the liability period, which ended on Sat 01.11.2025."
    )


def test_business_complaints_have_no_deemed_acceptance_and_flag_late_notice(delivered_order, staff):
    order = delivered_order(customer_type="business", delivered_at=at(2025, 6, 2))
    c = _complaint(
        order,
        staff,
        noticed_on=dt.date(2025, 11, 1),
        received_at=at(2025, 12, 10),
        requested_remedy="withdrawal",
    )  # kc 560: not the consumer order of remedies
    assert (c.deemed_acceptance, c.late_notice, c.customer_type) == (False, True, "business")
    assert services.complaints_deem_accepted(today=dt.date(2026, 2, 1)) == []


def test_price_reduction_or_withdrawal_needs_a_statutory_reason(delivered_order, staff):
    order = delivered_order()
    for remedy in ("price_reduction", "withdrawal"):
        with pytest.raises(DomainError) as exc:
            _complaint(order, staff, requested_remedy=remedy)
        assert (exc.value.code, exc.value.field) == ("remedy_order", "statutory_reason")
    c = _complaint(order, staff, requested_remedy="withdrawal", statutory_reason="persists")
    assert c.statutory_reason == "persists"
    with pytest.raises(DomainError) as exc:
        _complaint(order, staff, requested_remedy="withdrawal", statutory_reason="serious", immaterial=True)
    assert exc.value.code == "immaterial"
    with pytest.raises(DomainError):
        _complaint(order, staff, requested_remedy="refund-me")
    assert Complaint.objects.count() == 1


def test_bad_complaint_input_is_refused(delivered_order, staff):
    order = delivered_order()
    with pytest.raises(DomainError) as exc:
        _complaint(order, staff, defect="   ")
    assert exc.value.field == "defect"
    with pytest.raises(DomainError) as exc:
        _complaint(order, staff, quantity=3)
    assert exc.value.field == "quantity"
    with pytest.raises(DomainError) as exc:
        _complaint(order, staff, received_at=at(2030, 1, 1))
    assert exc.value.field == "received_at"
    with pytest.raises(DomainError) as exc:
        _complaint(order, staff, received_at=at(2025, 12, 1), noticed_on=dt.date(2025, 12, 5))
    assert exc.value.field == "noticed_on"


def test_the_decision_letter_is_a_pdf_emailed_and_the_sent_date_is_the_reply_date(
    delivered_order, staff, django_capture_on_commit_callbacks
):
    order = delivered_order()
    c = _complaint(order, staff, language="en")
    with django_capture_on_commit_callbacks(execute=True):
        services.complaint_decide(complaint_id=c.pk, accept=True, actor=staff, text="Wyślemy nowy kubek.")
    c.refresh_from_db()
    assert (c.state, c.decision_remedy) == ("accepted", "replacement")
    assert c.responded_at is not None
    decision = mail.outbox[-1]
    assert decision.subject == f"Your complaint {c.number}: our decision"
    assert "We accept the complaint: Replacement." in decision.body
    name, content, mimetype = decision.attachments[0]
    assert (name, mimetype) == (f"{c.number}-decision.pdf", "application/pdf")
    assert content.startswith(b"%PDF-")
    email = OutboxEmail.objects.get(kind="complaint_decision")
    assert email.sent_at == c.responded_at
    kinds = list(c.events.order_by("at", "id").values_list("kind", flat=True))
    assert kinds[-4:] == ["letter", "email_queued", "email_sent", "note"]
    assert c.events.order_by("-at", "-id").first().message.startswith("Reply sent on ")


def test_the_letter_text_names_the_decision_and_the_law(delivered_order, staff):
    from zaplecze.service import letters

    order = delivered_order()
    c = _complaint(order, staff, language="en")
    services.complaint_decide(complaint_id=c.pk, accept=False, actor=staff, text="Wear and tear.")
    c.refresh_from_db()
    html = letters.decision_html(c)
    assert "We do not accept your complaint." in html
    assert "Wear and tear." in html
    assert "art. 7a" in html
    c.language = "pl"
    assert '<html lang="pl">' in letters.decision_html(c)


def test_a_rejection_needs_reasons_and_a_second_remedy_needs_a_reason(delivered_order, staff):
    order = delivered_order()
    c = _complaint(order, staff)
    with pytest.raises(DomainError) as exc:
        services.complaint_decide(complaint_id=c.pk, accept=False, actor=staff, text="")
    assert exc.value.field == "text"
    with pytest.raises(DomainError) as exc:
        services.complaint_decide(complaint_id=c.pk, accept=True, remedy="price_reduction", actor=staff)
    assert exc.value.code == "remedy_order"
    services.complaint_decide(
        complaint_id=c.pk, accept=True, remedy="repair", actor=staff
    )  # the shop may choose
    with pytest.raises(IllegalTransition):
        services.complaint_decide(complaint_id=c.pk, accept=False, actor=staff, text="changed my mind")


def test_unanswered_consumer_complaints_are_deemed_accepted_after_the_deadline_once(delivered_order, staff):
    order = delivered_order()
    c = _complaint(order, staff, received_at=at(2025, 12, 10))  # due Mon 29.12.2025
    assert services.complaints_deem_accepted(today=dt.date(2025, 12, 29)) == []
    assert services.complaints_deem_accepted(today=dt.date(2025, 12, 30)) == [c.pk]
    assert services.complaints_deem_accepted(today=dt.date(2025, 12, 31)) == []
    c.refresh_from_db()
    assert (c.state, c.decision_remedy) == ("deemed_accepted", "replacement")
    event = c.events.get(kind="state", to_state="deemed_accepted")
    assert event.actor_label == "deadline"
    assert event.message == (
        "No reply was sent by Mon 29.12.2025: the complaint is deemed accepted (upk art. 7a), "
        "with the remedy asked for: Replacement."
    )


def test_a_decision_not_sent_by_the_deadline_does_not_count(delivered_order, staff):
    order = delivered_order()
    c = _complaint(order, staff, received_at=at(2025, 12, 10))
    services.complaint_decide(
        complaint_id=c.pk, accept=False, actor=staff, text="No defect found"
    )  # mail not sent
    assert services.complaints_deem_accepted(today=dt.date(2025, 12, 30)) == [c.pk]
    c.refresh_from_db()
    assert (c.state, c.decision_remedy) == ("deemed_accepted", "replacement")


def test_a_reply_sent_another_way_stops_deemed_acceptance(delivered_order, staff):
    order = delivered_order()
    c = _complaint(order, staff, received_at=at(2025, 12, 10))
    services.complaint_decide(complaint_id=c.pk, accept=False, actor=staff, text="No defect found")
    services.complaint_record_response(
        complaint_id=c.pk, sent_at=at(2025, 12, 22), actor=staff, how="Letter by registered post"
    )
    assert services.complaints_deem_accepted(today=dt.date(2025, 12, 30)) == []
    c.refresh_from_db()
    assert c.state == "rejected"


def test_escalation_happens_once_at_day_ten(delivered_order, staff):
    order = delivered_order()
    c = _complaint(order, staff, received_at=at(2025, 12, 10))
    assert services.complaints_escalate(today=dt.date(2025, 12, 19)) == []
    assert services.complaints_escalate(today=dt.date(2025, 12, 20)) == [c.pk]
    assert services.complaints_escalate(today=dt.date(2025, 12, 21)) == []
    assert CaseEvent.objects.filter(complaint=c, kind="escalated").count() == 1


def test_replacement_creates_a_free_replacement_order_once(delivered_order, staff):
    order = delivered_order()
    c = _complaint(order, staff)
    services.complaint_decide(complaint_id=c.pk, accept=True, actor=staff)
    services.complaint_resolve(complaint_id=c.pk, actor=staff)
    c.refresh_from_db()
    replacement = c.replacement_order
    assert (c.state, c.resolution) == ("resolved", "replacement")
    assert (replacement.channel.code, replacement.external_id, replacement.total_gross) == (
        "manual",
        f"complaint-{c.pk}",
        Decimal("0.00"),
    )
    assert [(ln.sku, ln.quantity) for ln in replacement.lines.all()] == [("A-1", 1)]
    assert Order.objects.count() == 2
    with pytest.raises(IllegalTransition):
        services.complaint_resolve(complaint_id=c.pk, actor=staff)


def test_price_reduction_and_withdrawal_refund_money(delivered_order, staff):
    order = delivered_order()
    c1 = _complaint(
        order, staff, requested_remedy="price_reduction", statutory_reason="serious", requested_amount="15.00"
    )
    services.complaint_decide(complaint_id=c1.pk, accept=True, actor=staff)
    services.complaint_resolve(complaint_id=c1.pk, actor=staff)
    c2 = _complaint(order, staff, requested_remedy="withdrawal", statutory_reason="persists", quantity=2)
    services.complaint_decide(complaint_id=c2.pk, accept=True, actor=staff)
    services.complaint_resolve(
        complaint_id=c2.pk, actor=staff, method="bank_transfer", iban="PL61109010140000071219812874"
    )
    assert list(Refund.objects.order_by("id").values_list("complaint_id", "amount", "method")) == [
        (c1.pk, Decimal("15.00"), "original"),
        (c2.pk, Decimal("99.98"), "bank_transfer"),
    ]


def test_repair_needs_a_description(delivered_order, staff):
    order = delivered_order()
    c = _complaint(order, staff, requested_remedy="repair")
    services.complaint_decide(complaint_id=c.pk, accept=True, actor=staff)
    with pytest.raises(DomainError):
        services.complaint_resolve(complaint_id=c.pk, actor=staff)
    services.complaint_resolve(complaint_id=c.pk, actor=staff, note="Handle glued and tested")
    services.complaint_close(complaint_id=c.pk, actor=staff)
    c.refresh_from_db()
    assert c.state == "closed"


def test_photos_are_checked_by_their_bytes_size_and_count(delivered_order, staff, settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path},
        },
    }
    order = delivered_order()
    c = _complaint(order, staff)
    photo = services.complaint_add_photo(
        complaint_id=c.pk, filename="../../etc/IMG 1.png", content=PNG, actor=staff
    )
    assert (photo.filename, photo.content_type, photo.size) == ("IMG_1.png", "image/png", len(PNG))
    assert photo.file.name.startswith(f"service/complaints/{c.pk}/")
    with pytest.raises(DomainError) as exc:
        services.complaint_add_photo(
            complaint_id=c.pk, filename="x.png", content=b"<svg onload=alert(1)>", actor=staff
        )
    assert exc.value.code == "bad_type"
    with pytest.raises(DomainError) as exc:
        services.complaint_add_photo(
            complaint_id=c.pk,
            filename="big.jpg",
            content=JPEG + b"\x00" * services.MAX_PHOTO_BYTES,
            actor=staff,
        )
    assert exc.value.code == "too_large"
    for i in range(services.MAX_PHOTOS - 1):
        services.complaint_add_photo(complaint_id=c.pk, filename=f"p{i}.jpg", content=JPEG, actor=staff)
    with pytest.raises(DomainError) as exc:
        services.complaint_add_photo(complaint_id=c.pk, filename="one-more.jpg", content=JPEG, actor=staff)
    assert exc.value.code == "too_many"
    assert c.photos.count() == services.MAX_PHOTOS
