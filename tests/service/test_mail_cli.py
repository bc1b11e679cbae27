"""`zaplecze service fetch-mail [--limit N] [--json]` against a real Dovecot, and the worker's periodic fetch."""

from __future__ import annotations

import datetime as dt
import json
from email.message import EmailMessage

import pytest
from click.testing import CliRunner

from zaplecze.cli import main
from zaplecze.service.models import Ticket

pytestmark = pytest.mark.django_db


def _cli(*args):
    return CliRunner().invoke(main, ["service", *args], catch_exceptions=False)


def _mail(subject: str, message_id: str, sender: str = "anna@example.com", **headers) -> bytes:
    m = EmailMessage()
    m["From"] = sender
    m["Subject"] = subject
    m["Message-ID"] = message_id
    for k, v in headers.items():
        m[k.replace("_", "-")] = v
    m.set_content("Treść wiadomości.")
    return m.as_bytes()


def test_fetch_mail_json_counts_new_threaded_and_refused(dovecot):
    dovecot.append(
        _mail("Pytanie", "<c1@x>"),
        _mail("Re: Pytanie", "<c2@x>", In_Reply_To="<c1@x>"),
        b"Subject: bez nadawcy\r\n\r\n?\r\n",
        _mail("Drugie", "<c3@x>", sender="jan@example.com"),
    )
    result = _cli("fetch-mail", "--limit", "3", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert {
        k: data[k] for k in ("fetched", "created", "threaded", "duplicate", "refused", "failed", "error")
    } == {
        "fetched": 3,
        "created": 1,
        "threaded": 1,
        "duplicate": 0,
        "refused": 1,
        "failed": 0,
        "error": "",
    }
    assert data["problems"] == [{"uid": 3, "outcome": "refused", "reason": "no valid sender address"}]
    assert data["source"] == f"imap://sklep@example.com@127.0.0.1:{dovecot.port}/INBOX"
    result = _cli("fetch-mail")
    assert result.exit_code == 0
    assert result.output == (
        f"imap://sklep@example.com@127.0.0.1:{dovecot.port}/INBOX: fetched 1, new tickets 1, threaded 0, "
        "duplicates 0, refused 0, failed 0\n"
    )
    assert Ticket.objects.count() == 2


def test_fetch_mail_exits_1_with_a_clear_message_when_the_server_is_down(dovecot):
    dovecot.stop()
    result = CliRunner().invoke(main, ["service", "fetch-mail"])
    assert result.exit_code == 1
    assert result.stderr.startswith(
        f"Error: IMAP server 127.0.0.1:{dovecot.port}: cannot connect (ConnectionRefusedError: [Errno 111]"
    )


def test_fetch_mail_without_a_mailbox_says_what_to_set(settings):
    settings.IMAP_HOST = ""
    result = CliRunner().invoke(main, ["service", "fetch-mail", "--json"])
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: No mailbox is configured: set ZAPLECZE_IMAP_HOST, ZAPLECZE_IMAP_USER and "
        "ZAPLECZE_IMAP_PASSWORD.\n"
    )


def test_the_worker_fetches_every_minute_only_when_a_mailbox_is_configured(dovecot, settings):
    from zaplecze.service import tasks

    dovecot.append(_mail("Z workera", "<w1@x>"))
    settings.IMAP_HOST = ""
    tasks.mail_fetch_periodic.call_local()
    assert Ticket.objects.count() == 0
    settings.IMAP_HOST = dovecot.host
    tasks.mail_fetch_periodic.call_local()
    assert list(Ticket.objects.values_list("subject", flat=True)) == ["Z workera"]
    assert tasks.mail_fetch_periodic.task_class().validate_datetime(dt.datetime(2026, 1, 5, 10, 17))
