"""The e-mail outbox: written in the case's transaction, sent only after commit, retried with back-off when
the mail server fails (nothing lost), shown in the case timeline."""

from __future__ import annotations

import datetime as dt
import smtplib
import socket

import pytest
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend as LocMemBackend
from django.db import transaction
from django.utils import timezone

from zaplecze.service import services
from zaplecze.service.models import OutboxEmail, Return

pytestmark = pytest.mark.django_db


class FlakyBackend(LocMemBackend):
    """Fails while `failures` is positive, then delivers to django.core.mail.outbox."""

    failures = 0

    def send_messages(self, messages):
        if FlakyBackend.failures > 0:
            FlakyBackend.failures -= 1
            raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
        return super().send_messages(messages)


@pytest.fixture
def flaky(settings):
    settings.EMAIL_BACKEND = "tests.service.test_outbox.FlakyBackend"
    FlakyBackend.failures = 0
    yield FlakyBackend
    FlakyBackend.failures = 0


def _return(delivered_order, staff, capture=None, **kw):
    order = delivered_order()
    line = order.lines.order_by("id").first()
    return services.return_request(order_id=order.pk, lines={line.pk: 1}, actor=staff, **kw)


def test_a_failed_send_is_kept_and_retried_with_back_off(
    delivered_order, staff, flaky, django_capture_on_commit_callbacks
):
    flaky.failures = 1
    with django_capture_on_commit_callbacks(execute=True):
        ret = _return(delivered_order, staff)
    email = OutboxEmail.objects.get()
    assert (email.state, email.attempts) == ("pending", 1)
    assert email.last_error == "SMTPServerDisconnected: Connection unexpectedly closed"
    assert mail.outbox == []
    assert services.outbox_retry_due() == 0  # the back-off (1 minute) is not over
    later = timezone.now() + dt.timedelta(minutes=2)
    assert services.outbox_retry_due(now=later) == 1
    email.refresh_from_db()
    assert (email.state, email.attempts) == ("sent", 2)
    assert len(mail.outbox) == 1
    assert mail.outbox[0].extra_headers["Message-ID"] == email.message_id
    timeline = list(ret.events.order_by("at", "id").values_list("kind", flat=True))
    assert timeline == ["created", "email_queued", "email_failed", "email_sent"]
    assert ret.events.get(kind="email_failed").message == (
        "E-mail to anna@example.com not sent (attempt 1): SMTPServerDisconnected: Connection unexpectedly "
        "closed. Will retry."
    )


def test_after_the_last_retry_the_email_is_given_up_and_the_timeline_says_so(delivered_order, staff, flaky):
    flaky.failures = 100
    ret = _return(delivered_order, staff)
    email = OutboxEmail.objects.get()
    now = timezone.now()
    for _ in range(len(services.EMAIL_RETRY_MINUTES) + 1):
        now += dt.timedelta(days=1)
        services.outbox_deliver(email_id=email.pk, now=now)
    email.refresh_from_db()
    assert (email.state, email.attempts) == ("failed", len(services.EMAIL_RETRY_MINUTES) + 1)
    assert ret.events.filter(kind="email_failed").last().message.endswith("Gave up.")
    assert services.outbox_deliver(email_id=email.pk, now=now + dt.timedelta(days=1)) is False


def test_an_smtp_server_that_is_down_loses_nothing(delivered_order, staff, settings):
    # A real SMTP connection to a loopback port nobody listens on: refused at once.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", port, 2
    _return(delivered_order, staff)
    email = OutboxEmail.objects.get()
    assert services.outbox_deliver(email_id=email.pk) is False
    email.refresh_from_db()
    assert email.state == "pending"
    assert email.last_error.startswith("ConnectionRefusedError")
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert services.outbox_retry_due(now=timezone.now() + dt.timedelta(minutes=2)) == 1
    assert len(mail.outbox) == 1


def test_nothing_is_sent_when_the_transaction_rolls_back(
    delivered_order, staff, django_capture_on_commit_callbacks
):
    order = delivered_order()
    line = order.lines.order_by("id").first()
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError):
        with transaction.atomic():
            services.return_request(order_id=order.pk, lines={line.pk: 1}, actor=staff)
            raise RuntimeError("something later in the same request failed")
    assert (Return.objects.count(), OutboxEmail.objects.count(), len(mail.outbox)) == (0, 0, 0)


def test_a_stuck_send_is_released_after_ten_minutes(delivered_order, staff):
    _return(delivered_order, staff)
    email = OutboxEmail.objects.get()
    OutboxEmail.objects.filter(pk=email.pk).update(state="sending", sending_since=timezone.now())
    assert services.outbox_retry_due() == 0
    assert services.outbox_retry_due(now=timezone.now() + dt.timedelta(minutes=11)) == 1
    assert len(mail.outbox) == 1


def test_the_same_key_is_one_email(delivered_order, staff):
    ret = _return(delivered_order, staff)
    again = services.outbox_enqueue(
        key=f"return:{ret.pk}:received",
        kind="return_received",
        to="x@example.com",
        language="en",
        context={"case": ret, "order": ret.order, "lines": []},
        return_case=ret,
    )
    assert OutboxEmail.objects.count() == 1
    assert again.to == "anna@example.com"


def test_without_an_address_nothing_is_queued_and_the_timeline_says_so(delivered_order, staff):
    order = delivered_order(email="")
    line = order.lines.order_by("id").first()
    ret = services.return_request(order_id=order.pk, lines={line.pk: 1}, actor=staff)
    assert OutboxEmail.objects.count() == 0
    assert ret.events.get(kind="email_failed").message == (
        "No e-mail address: the customer was not notified (return_received)."
    )


def test_polish_text_and_ampersands_are_sent_as_written(
    delivered_order, staff, settings, django_capture_on_commit_callbacks
):
    settings.SHOP_NAME = "Kubki & Talerze Łódź"
    with django_capture_on_commit_callbacks(execute=True):
        _return(delivered_order, staff, reason="Zażółć gęślą jaźń")
    body = mail.outbox[0].body
    assert "Kubki & Talerze Łódź" in body
    assert "&amp;" not in body
    message = mail.outbox[0].message()
    assert message.get_content_charset() == "utf-8"
