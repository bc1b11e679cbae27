"""E-mail in over IMAP against a real Dovecot on loopback: new mail becomes tickets, replies thread by headers,
each message is imported exactly once (position and ticket in one transaction), the server being down loses
nothing, and bad mail (malformed, huge, non-UTF-8, odd attachments) never stops the mailbox."""

from __future__ import annotations

from email.message import EmailMessage

import pytest
from django.db import DatabaseError

from zaplecze.service import mail, services
from zaplecze.service.models import InboundMail, MailboxState, Ticket

pytestmark = pytest.mark.django_db


def _mail(
    subject="Gdzie jest paczka?",
    body="Dzień dobry, zamówienie #1001 nie dotarło.",
    sender="Anna Kowalska <anna@example.com>",
    message_id=None,
    **headers,
) -> bytes:
    m = EmailMessage()
    m["From"] = sender
    m["To"] = "sklep@example.com"
    m["Subject"] = subject
    if message_id:
        m["Message-ID"] = message_id
    for k, v in headers.items():
        m[k.replace("_", "-")] = v
    m.set_content(body)
    return m.as_bytes()


def _flags(dovecot, folder="INBOX") -> dict[int, set[str]]:
    return {uid: flags - {"\\Recent"} for uid, flags, _m in dovecot.messages(folder)}


def test_new_mail_becomes_tickets_and_is_flagged_seen_only_after_import(dovecot):
    dovecot.append(
        _mail(message_id="<a1@client.example>"),
        _mail(subject="Faktura", body="Proszę o fakturę VAT.", sender="jan@example.com", message_id="<a2@x>"),
    )
    report = mail.mail_fetch()
    assert (report.fetched, report.created, report.appended, report.failed, report.error) == (2, 2, 0, 0, "")
    tickets = list(Ticket.objects.order_by("id"))
    assert [(t.subject, t.email, t.name, t.channel) for t in tickets] == [
        ("Gdzie jest paczka?", "anna@example.com", "Anna Kowalska", "email"),
        ("Faktura", "jan@example.com", "", "email"),
    ]
    assert tickets[0].messages.get(direction="in").body == "Dzień dobry, zamówienie #1001 nie dotarło."
    assert _flags(dovecot) == {1: {"\\Seen"}, 2: {"\\Seen"}}
    state = MailboxState.objects.get()
    assert state.key == f"imap://sklep@example.com@127.0.0.1:{dovecot.port}/INBOX"
    assert (state.last_uid, state.imported_total, state.last_error) == (2, 2, "")
    assert state.running_since is None and state.last_ok_at is not None
    assert list(
        InboundMail.objects.order_by("uid").values_list("uid", "outcome", "message_id", "ticket_id")
    ) == [
        (1, "created", "<a1@client.example>", tickets[0].pk),
        (2, "created", "<a2@x>", tickets[1].pk),
    ]
    again = mail.mail_fetch()
    assert (again.fetched, again.error) == (0, "")
    assert Ticket.objects.count() == 2


def test_a_reply_joins_its_ticket_by_headers_and_the_same_message_id_is_stored_once(dovecot):
    dovecot.append(_mail(message_id="<q1@client.example>"))
    mail.mail_fetch()
    t = Ticket.objects.get()
    reply = _mail(
        subject="Re: Gdzie jest paczka?",
        body="Jeszcze jedno pytanie.",
        message_id="<q2@client.example>",
        In_Reply_To="<q1@client.example>",
        References="<q1@client.example>",
    )
    dovecot.append(reply, reply)  # the same e-mail delivered twice
    report = mail.mail_fetch()
    assert (report.fetched, report.created, report.threaded, report.duplicate) == (2, 0, 1, 1)
    assert Ticket.objects.count() == 1
    assert list(t.messages.filter(direction="in").values_list("message_id", flat=True)) == [
        "<q1@client.example>",
        "<q2@client.example>",
    ]
    t.refresh_from_db()
    assert t.status == "open"


def test_limit_takes_one_batch_and_the_next_run_continues_where_it_stopped(dovecot):
    dovecot.append(*[_mail(subject=f"Pytanie {i}", message_id=f"<b{i}@x>") for i in range(5)])
    assert [mail.mail_fetch(limit=2).fetched for _ in range(4)] == [2, 2, 1, 0]
    assert list(Ticket.objects.order_by("id").values_list("subject", flat=True)) == [
        f"Pytanie {i}" for i in range(5)
    ]
    assert MailboxState.objects.get().last_uid == 5


def test_a_database_failure_mid_batch_keeps_what_committed_and_the_rest_comes_next_run(dovecot, monkeypatch):
    dovecot.append(*[_mail(subject=f"Zwrot {i}", message_id=f"<c{i}@x>") for i in range(4)])
    real = services.ticket_receive_email
    calls = {"n": 0}

    def flaky(raw, **kw):
        calls["n"] += 1
        if calls["n"] == 3:
            raise DatabaseError("database is locked")
        return real(raw, **kw)

    monkeypatch.setattr(services, "ticket_receive_email", flaky)
    with pytest.raises(DatabaseError):
        mail.mail_fetch()
    assert Ticket.objects.count() == 2
    state = MailboxState.objects.get()
    assert (state.last_uid, state.running_since) == (2, None)  # released for the next run
    assert _flags(dovecot) == {1: {"\\Seen"}, 2: {"\\Seen"}, 3: set(), 4: set()}
    report = mail.mail_fetch()
    assert (report.fetched, report.created) == (2, 2)
    assert list(Ticket.objects.order_by("id").values_list("subject", flat=True)) == [
        f"Zwrot {i}" for i in range(4)
    ]


def test_a_crash_after_commit_before_flagging_never_imports_twice(dovecot, monkeypatch):
    dovecot.append(_mail(message_id="<d1@x>"), _mail(subject="Bez Message-ID"))
    monkeypatch.setattr(mail.ImapSource, "done", lambda self, uids: None)  # died before \Seen
    assert mail.mail_fetch().created == 2
    assert _flags(dovecot) == {1: set(), 2: set()}
    monkeypatch.undo()
    report = mail.mail_fetch()
    assert (report.fetched, report.created) == (0, 0)
    assert Ticket.objects.count() == 2


def test_a_uidvalidity_change_reads_the_folder_again_without_duplicates(dovecot, settings):
    client = dovecot.connect()
    client.create("Support")
    client.logout()
    settings.IMAP_FOLDER = "Support"
    first = [_mail(subject="Reklamacja", message_id="<e1@x>"), _mail(subject="Zwrot", message_id="<e2@x>")]
    dovecot.append(*first, folder="Support")
    assert mail.mail_fetch().created == 2
    old_epoch = MailboxState.objects.get().epoch
    client = dovecot.connect()
    client.delete("Support")
    client.create("Support")  # a new folder: new UIDVALIDITY, UIDs from 1 again
    client.logout()
    dovecot.append(*first, _mail(subject="Nowe pytanie", message_id="<e3@x>"), folder="Support")
    report = mail.mail_fetch()
    assert (report.fetched, report.created, report.duplicate) == (3, 1, 2)
    state = MailboxState.objects.get()
    assert state.epoch != old_epoch and state.last_uid == 3
    assert Ticket.objects.count() == 3


def test_imported_mail_can_be_moved_to_a_processed_folder(dovecot, settings):
    settings.IMAP_MOVE_TO = "Processed"
    dovecot.append(_mail(message_id="<f1@x>"), _mail(subject="Drugie", message_id="<f2@x>"))
    assert mail.mail_fetch().created == 2
    assert dovecot.messages("INBOX") == []
    assert [m["Message-ID"] for _u, _f, m in dovecot.messages("Processed")] == ["<f1@x>", "<f2@x>"]
    dovecot.append(_mail(subject="Trzecie", message_id="<f3@x>"))  # UID 3 in INBOX
    assert mail.mail_fetch().created == 1


def test_imap_server_down_reports_the_error_and_the_next_run_imports_everything(dovecot):
    dovecot.append(_mail(message_id="<g1@x>"))
    dovecot.stop()
    report = mail.mail_fetch()
    assert report.fetched == 0
    assert report.error.startswith(
        f"IMAP server 127.0.0.1:{dovecot.port}: cannot connect (ConnectionRefusedError"
    )
    state = MailboxState.objects.get()
    assert state.last_error == report.error and state.last_ok_at is None and state.running_since is None
    dovecot.start()  # same port, same mail
    assert _flags(dovecot) == {1: set()}  # nothing was marked read
    report = mail.mail_fetch()
    assert (report.fetched, report.created, report.error) == (1, 1, "")
    assert MailboxState.objects.get().last_error == ""


def test_a_wrong_password_or_folder_is_reported_clearly(dovecot, settings):
    settings.IMAP_PASSWORD = "wrong"
    report = mail.mail_fetch()
    assert report.error.startswith(
        f"IMAP server 127.0.0.1:{dovecot.port}: the login of sklep@example.com was refused ("
    )
    settings.IMAP_PASSWORD = dovecot.password
    settings.IMAP_FOLDER = "Nie ma"
    report = mail.mail_fetch()
    assert report.error.startswith(f"IMAP server 127.0.0.1:{dovecot.port}: cannot open folder Nie ma (")


def test_no_mailbox_configured_is_a_clear_error(settings):
    settings.IMAP_HOST = ""
    with pytest.raises(mail.MailSourceError) as err:
        mail.mail_fetch()
    assert err.value.message == (
        "No mailbox is configured: set ZAPLECZE_IMAP_HOST, ZAPLECZE_IMAP_USER and ZAPLECZE_IMAP_PASSWORD."
    )


def test_a_mailbox_held_by_another_fetch_is_left_alone(dovecot):
    dovecot.append(_mail(message_id="<h1@x>"))
    from django.utils import timezone

    source = mail.ImapSource.from_settings()
    MailboxState.objects.create(key=source.key, running_since=timezone.now())
    report = mail.mail_fetch()
    assert (report.busy, report.fetched) == (True, 0)
    assert Ticket.objects.count() == 0


# --- bad input -------------------------------------------------------------------------------------------

WIN1250 = (
    "From: =?windows-1250?q?Ma=B3gorzata_=AFak?= <mz@example.com>\r\n"
    "Subject: =?windows-1250?q?Reklamacja_=BF=F3=B3tego_czajnika?=\r\n"
    "Message-ID: <p1@x>\r\nMIME-Version: 1.0\r\n"
    "Content-Type: text/plain; charset=windows-1250\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
).encode("ascii") + "Czajnik przecieka, proszę o wymianę. Łódź, Święta.\r\n".encode("cp1250")

LATIN2_QP = (
    b"From: piotr@example.com\r\nSubject: =?ISO-8859-2?B?Wndyb3QgdG93YXJ1?=\r\n"
    b"Message-ID: <p2@x>\r\nMIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=iso-8859-2\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
    b"Chc=EA zwr=F3ci=E6 zam=F3wienie, b=B3=B1d w rozmiarze.\r\n"
)

UNDECLARED_8BIT = (
    b"From: ewa@example.com\r\nSubject: "
    + "Pilne: paczka nie doszła, gdzie ją szukać?".encode("cp1250")
    + b"\r\nMessage-ID: <p3@x>\r\n\r\n"
    + "Zażółć gęślą jaźń — paczka nie przyszła, proszę o pilny kontakt w sprawie zamówienia.\r\n".encode(
        "iso-8859-2", "replace"
    )
)

BROKEN_MIME = (
    b"From: tomek@example.com\r\nSubject: zepsuty\r\nMessage-ID: <p4@x>\r\nMIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="nie-ma-takiej"\r\n\r\n'
    b"--inna-granica\r\nContent-Type: text/plain\r\n\r\nTekst bez zamkniecia granicy\r\n"
    b"Content-Transfer-Encoding: base64\r\n\r\n!!!nie base64!!!\r\n"
)

NO_SENDER = b"Subject: kto to wyslal?\r\nMessage-ID: <p5@x>\r\n\r\nbez nadawcy\r\n"

NO_HEADERS_BUT_FROM = b"From: ola@example.com\r\n\r\ntylko tresc\r\n"

ATTACHMENTS = (
    b"From: kasia@example.com\r\nSubject: =?utf-8?q?Zdj=C4=99cia_uszkodze=C5=84?=\r\nMessage-ID: <p6@x>\r\n"
    b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="XX"\r\n\r\n'
    b"--XX\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nW za\xc5\x82\xc4\x85czniku zdj\xc4\x99cia.\r\n"
    b"--XX\r\nContent-Type: image/jpeg\r\n"
    b"Content-Disposition: attachment; filename*=utf-8''p%C4%99kni%C4%99ty%20kubek.jpg\r\n"
    b"Content-Transfer-Encoding: base64\r\n\r\n/9j/4AAQ\r\n"
    b'--XX\r\nContent-Type: application/pdf; name="=?iso-8859-2?q?faktura_=BF=F3=B3w.pdf?="\r\n'
    b'Content-Disposition: attachment; filename="=?iso-8859-2?q?faktura_=BF=F3=B3w.pdf?="\r\n'
    b"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQ=\r\n"
    b"--XX\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment\r\n\r\n\x00\x01\x02\r\n"
    b"--XX--\r\n"
)


def test_bad_mail_is_read_as_far_as_it_goes_and_never_stops_the_batch(dovecot):
    dovecot.append(
        WIN1250, LATIN2_QP, UNDECLARED_8BIT, BROKEN_MIME, NO_SENDER, NO_HEADERS_BUT_FROM, ATTACHMENTS
    )
    report = mail.mail_fetch()
    assert (report.fetched, report.created, report.refused, report.failed, report.error) == (7, 6, 1, 0, "")
    assert report.problems == [{"uid": 5, "outcome": "refused", "reason": "no valid sender address"}]
    by_email = {t.email: t for t in Ticket.objects.all()}
    t = by_email["mz@example.com"]
    assert (t.subject, t.name) == ("Reklamacja żółtego czajnika", "Małgorzata Żak")
    assert t.messages.get(direction="in").body == "Czajnik przecieka, proszę o wymianę. Łódź, Święta."
    t = by_email["piotr@example.com"]
    assert t.subject == "Zwrot towaru"
    assert t.messages.get(direction="in").body == "Chcę zwrócić zamówienie, błąd w rozmiarze."
    t = by_email["ewa@example.com"]
    assert t.subject == "Pilne: paczka nie doszła, gdzie ją szukać?"
    assert t.messages.get(direction="in").body == (
        "Zażółć gęślą jaźń ? paczka nie przyszła, proszę o pilny kontakt w sprawie zamówienia."
    )
    assert "Tekst bez zamkniecia granicy" in by_email["tomek@example.com"].messages.get(direction="in").body
    assert by_email["ola@example.com"].subject == "(no subject)"
    msg = by_email["kasia@example.com"].messages.get(direction="in")
    assert by_email["kasia@example.com"].subject == "Zdjęcia uszkodzeń"
    assert msg.body == "W załączniku zdjęcia."
    assert msg.data == {"attachments": ["pęknięty kubek.jpg", "faktura żółw.pdf", "attachment"]}
    refused = InboundMail.objects.get(uid=5)
    assert (refused.outcome, refused.subject, refused.ticket_id) == ("refused", "kto to wyslal?", None)
    # Refused mail is recorded and flagged like the rest: it is not fetched again.
    assert _flags(dovecot) == {uid: {"\\Seen"} for uid in range(1, 8)}


def test_a_30_mb_message_is_imported_as_headers_with_a_note_and_the_batch_goes_on(dovecot):
    big = EmailMessage()
    big["From"] = "Adam Nowak <adam@example.com>"
    big["Subject"] = "Film z rozpakowania"
    big["Message-ID"] = "<big@x>"
    big.set_content("Przesyłam film.")
    big.add_attachment(b"\x00" * (30 * 1024 * 1024), maintype="video", subtype="mp4", filename="film.mp4")
    dovecot.append(big.as_bytes(), _mail(subject="Po dużym", message_id="<after@x>"))
    report = mail.mail_fetch()
    assert (report.fetched, report.created, report.truncated, report.error) == (2, 2, 1, "")
    t = Ticket.objects.get(email="adam@example.com")
    assert (t.subject, t.name) == ("Film z rozpakowania", "Adam Nowak")
    body = t.messages.get(direction="in").body
    record = InboundMail.objects.get(uid=1)
    assert body == (
        f"This e-mail is {record.size / 1048576:.1f} MB, more than the 25 MB that are imported. Only its sender "
        "and subject were imported; the whole message is still in the mailbox."
    )
    assert record.size > 40 * 1024 * 1024  # base64 grows it
    assert record.reason.startswith(f"larger than {25 * 1024 * 1024} bytes")
    assert Ticket.objects.filter(subject="Po dużym").exists()


def test_an_unexpected_error_on_one_message_is_recorded_and_the_batch_goes_on(dovecot, monkeypatch):
    dovecot.append(
        _mail(subject="Pierwszy", message_id="<i1@x>"), _mail(subject="Drugi", message_id="<i2@x>")
    )
    real = services.ticket_receive_email

    def broken_on_first(raw, **kw):
        if b"<i1@x>" in raw:
            raise ValueError("parser bug")
        return real(raw, **kw)

    monkeypatch.setattr(services, "ticket_receive_email", broken_on_first)
    report = mail.mail_fetch()
    assert (report.fetched, report.created, report.failed) == (2, 1, 1)
    assert report.problems == [{"uid": 1, "outcome": "failed", "reason": "ValueError: parser bug"}]
    failed = InboundMail.objects.get(uid=1)
    assert (failed.outcome, failed.message_id, failed.subject) == ("failed", "<i1@x>", "Pierwszy")
    # the failed one stays unread in the mailbox for a person to look at
    assert _flags(dovecot) == {1: set(), 2: {"\\Seen"}}


def test_a_position_already_recorded_is_not_imported_again(dovecot):
    """A fetch that lost its hold on the mailbox (stuck past FETCH_STUCK_AFTER) and a newer one both reach the
    same message: the second finds its import record and skips it."""
    dovecot.append(_mail(subject="Raz", message_id="<j1@x>"), _mail(subject="Dwa", message_id="<j2@x>"))
    client = dovecot.connect()
    client.select("INBOX")
    epoch = client.response("UIDVALIDITY")[1][0].decode()
    client.logout()
    source = mail.ImapSource.from_settings()
    state = MailboxState.objects.create(key=source.key, epoch=epoch)
    InboundMail.objects.create(mailbox=state, epoch=epoch, uid=2, outcome="created")
    report = mail.mail_fetch()
    assert (report.fetched, report.created, report.duplicate) == (2, 1, 1)
    assert list(Ticket.objects.values_list("subject", flat=True)) == ["Raz"]
    assert MailboxState.objects.get().last_uid == 2  # moved past it: not fetched again
    assert mail.mail_fetch().fetched == 0


def test_the_server_going_down_mid_batch_keeps_what_was_imported_and_the_rest_comes_next_run(
    dovecot, monkeypatch
):
    dovecot.append(*[_mail(subject=f"Wiadomość {i}", message_id=f"<k{i}@x>") for i in range(4)])
    monkeypatch.setattr(mail, "FETCH_GROUP", 1)  # one message per round trip
    real = services.ticket_receive_email
    calls = {"n": 0}

    def server_dies_during_the_second(raw, **kw):
        calls["n"] += 1
        if calls["n"] == 2:
            dovecot.stop()
        return real(raw, **kw)

    monkeypatch.setattr(services, "ticket_receive_email", server_dies_during_the_second)
    report = mail.mail_fetch()
    assert (report.fetched, report.created) == (2, 2)
    assert report.error.startswith(f"IMAP server 127.0.0.1:{dovecot.port}: the connection broke (")
    assert MailboxState.objects.get().last_uid == 2
    monkeypatch.setattr(services, "ticket_receive_email", real)
    dovecot.start()
    report = mail.mail_fetch()
    assert (report.fetched, report.created, report.duplicate, report.error) == (2, 2, 0, "")
    assert list(Ticket.objects.order_by("id").values_list("subject", flat=True)) == [
        f"Wiadomość {i}" for i in range(4)
    ]
