"""The mailbox status screen: each source's state and what became of its messages, and "Fetch now"."""

from __future__ import annotations

import datetime as dt
import socket

import pytest
from django.urls import reverse
from django.utils import timezone

from zaplecze.service import mailbox
from zaplecze.service.models import InboundMail, MailboxState

pytestmark = pytest.mark.django_db


def _box(key="imap://shop@mail.example:143/INBOX", **kw) -> MailboxState:
    return MailboxState.objects.create(key=key, **kw)


def _mail(box, uid, outcome, **kw) -> InboundMail:
    return InboundMail.objects.create(mailbox=box, uid=uid, outcome=outcome, epoch="1", **kw)


def test_health_of_a_source():
    now = timezone.now()
    ok = _box("imap://a@x:143/INBOX", last_run_at=now, last_ok_at=now)
    failing = _box("imap://b@x:143/INBOX", last_run_at=now, last_ok_at=now - dt.timedelta(hours=1),
                   last_error="Connection refused")  # fmt: skip
    stale = _box(
        "imap://c@x:143/INBOX",
        last_run_at=now - dt.timedelta(hours=2),
        last_ok_at=now - dt.timedelta(hours=2),
    )
    recovered = _box("imap://d@x:143/INBOX", last_run_at=now, last_ok_at=now, last_error="old error")
    health = {s.state.pk: s.health for s in mailbox.mailboxes(now=now)}
    assert health == {ok.pk: "ok", failing.pk: "failing", stale.pk: "stale", recovered.pk: "ok"}


def test_messages_filter_by_outcome_and_page_by_cursor(admin_client, monkeypatch):
    box = _box()
    for uid in range(1, 6):
        _mail(box, uid, "created", sender=f"c{uid}@example.com", subject=f"Question {uid}")
    _mail(box, 6, "failed", sender="bad@example.com", subject="Broken", reason="charset 'x-unknown'")
    _mail(box, 7, "refused", sender="big@example.com", subject="Huge", reason="too large")
    counts = mailbox.mailboxes()[0].outcomes_7d
    assert counts == {"created": 5, "failed": 1, "refused": 1}

    page = admin_client.get(reverse("service:mailbox"), {"outcome": "problems"})
    body = page.content.decode()
    assert page.status_code == 200
    assert (
        body.count("data-inbound=") == 2
        and "charset &#x27;x-unknown&#x27;" in body
        and "Question 1" not in body
    )

    monkeypatch.setattr(mailbox, "PAGE", 2)
    first, cursor = mailbox.inbound_messages()
    second, cursor2 = mailbox.inbound_messages(before=cursor)
    assert [m.uid for m in first] == [7, 6] and [m.uid for m in second] == [5, 4] and cursor2 == second[-1].pk
    found, _ = mailbox.inbound_messages(q="c3@example")
    assert [m.uid for m in found] == [3]


def test_fetch_now_runs_a_fetch_and_the_screen_shows_its_error(admin_client, settings):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings.IMAP_HOST, settings.IMAP_PORT, settings.IMAP_USER, settings.IMAP_PASSWORD = (
        "127.0.0.1",
        port,
        "shop",
        "pw",
    )
    settings.IMAP_TIMEOUT = 2
    r = admin_client.post(reverse("service:mailbox_fetch"))
    assert r.status_code == 302
    state = MailboxState.objects.get()
    assert state.last_error and state.last_ok_at is None
    body = admin_client.get(reverse("service:mailbox")).content.decode()
    assert 'data-health="failing"' in body and "pw" not in state.key


def test_fetch_now_without_a_mailbox_says_so(admin_client, settings):
    settings.IMAP_HOST = ""
    r = admin_client.post(reverse("service:mailbox_fetch"), follow=True)
    assert "No mailbox is configured" in r.content.decode()
    assert not MailboxState.objects.exists()


def test_only_service_staff_fetch(make_user):
    from django.test import Client

    c = Client()
    c.force_login(make_user("warehouse"))
    assert c.get(reverse("service:mailbox")).status_code == 200
    assert c.post(reverse("service:mailbox_fetch")).status_code == 403
