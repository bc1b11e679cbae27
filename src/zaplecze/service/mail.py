"""E-mail in: customer messages fetched from a message source (an IMAP folder; marketplace inboxes later) and
imported into tickets by `services.ticket_receive_email`.

Each message is imported in one transaction that also moves the source's position (the IMAP UID, within its
UIDVALIDITY) and records what became of it (`InboundMail`). A crash or a dropped connection mid-batch therefore
never loses a message nor imports one twice; a Message-ID seen before is stored once as well (after a
UIDVALIDITY change everything is read again and recognised). A mailbox is held by one fetch at a time
(conditional update on `MailboxState.running_since`). Messages over `MAIL_MAX_BYTES` are imported as their
headers plus a note (the full message stays on the server). Only after commit are the messages flagged
\\Seen or moved to the processed folder; a message that failed to import is left untouched.

    report = mail_fetch()            # the configured IMAP mailbox (settings.IMAP_*)
    report = mail_fetch(source=..., limit=100)
"""

from __future__ import annotations

import datetime as dt
import imaplib
import logging
import re
import ssl
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from email.parser import BytesHeaderParser
from email.utils import getaddresses

from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from zaplecze.core.errors import DomainError

from . import services
from .models import InboundMail, InboundMailOutcome, MailboxState, OutboxEmail

log = logging.getLogger("zaplecze.service.mail")

#: A fetch that has held a mailbox this long is taken to have died; the next one may start.
FETCH_STUCK_AFTER = dt.timedelta(minutes=15)
#: Bodies are fetched in groups of at most this many messages / bytes (bounded memory per round trip).
FETCH_GROUP = 50
FETCH_GROUP_BYTES = 20 * 1024 * 1024


class MailSourceError(DomainError):
    """The message source cannot be reached or refused us (server down, wrong password, no such folder)."""


@dataclass(frozen=True)
class IncomingMessage:
    """One message from a source: its position (increasing within the epoch), RFC 822 bytes and full size.
    `headers_only`: the message was too large, `raw` holds only its header block."""

    uid: int
    raw: bytes
    size: int
    headers_only: bool = False


class MessageSource(ABC):
    """Where customer messages come from. `open()` connects and returns the epoch (a change means positions
    restart); `fetch()` yields messages after a position in increasing order; `done()` is called after the
    imported ones committed (flag them read, move them); `close()` always ends the session.

    Every source hands over RFC 822 bytes, so threading (Message-ID, In-Reply-To, References, the [T-...] tag)
    is the same for all: a marketplace connector writes its messages as e-mails (From: the buyer, Message-ID:
    the message's id, In-Reply-To: the previous message of the thread)."""

    key: str = ""
    channel: str = "email"

    @abstractmethod
    def open(self) -> str: ...

    @abstractmethod
    def fetch(self, *, after: int, limit: int, max_bytes: int) -> Iterator[IncomingMessage]: ...

    def done(self, uids: list[int]) -> None:  # noqa: B027 - optional hook
        """Mark messages as handled at the source (optional)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """End the session (optional)."""


class ImapSource(MessageSource):
    """One IMAP folder, read with UIDs and BODY.PEEK (fetching never sets \\Seen by itself)."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        user: str,
        password: str,
        folder: str = "INBOX",
        use_ssl: bool = False,
        starttls: bool = False,
        timeout: float = 30.0,
        mark_seen: bool = True,
        move_to: str = "",
    ) -> None:
        self.host, self.port, self.user, self.password = host, port, user, password
        self.folder, self.use_ssl, self.starttls, self.timeout = folder or "INBOX", use_ssl, starttls, timeout
        self.mark_seen, self.move_to = mark_seen, move_to
        self.key = f"imap://{user}@{host}:{port}/{self.folder}"[:300]
        self.client: imaplib.IMAP4 | None = None

    @classmethod
    def from_settings(cls) -> ImapSource:
        if not settings.IMAP_HOST:
            raise MailSourceError(
                _(
                    "No mailbox is configured: set ZAPLECZE_IMAP_HOST, ZAPLECZE_IMAP_USER and ZAPLECZE_IMAP_PASSWORD."
                ),
                code="not_configured",
            )
        return cls(
            host=settings.IMAP_HOST,
            port=settings.IMAP_PORT,
            user=settings.IMAP_USER,
            password=settings.IMAP_PASSWORD,
            folder=settings.IMAP_FOLDER,
            use_ssl=settings.IMAP_SSL,
            starttls=settings.IMAP_STARTTLS,
            timeout=settings.IMAP_TIMEOUT,
            mark_seen=settings.IMAP_MARK_SEEN,
            move_to=settings.IMAP_MOVE_TO,
        )

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"

    def _fail(self, what: str, exc: BaseException | str) -> MailSourceError:
        detail = exc if isinstance(exc, str) else f"{type(exc).__name__}: {exc}"
        return MailSourceError(
            _("IMAP server %(where)s: %(what)s (%(detail)s)")
            % {"where": self.where, "what": what, "detail": str(detail)[:300]},
            code="imap",
        )

    def _cmd(self, what: str, typ: str, data) -> list:
        if typ != "OK":
            raise self._fail(
                what, b" ".join(d for d in data if isinstance(d, bytes)).decode(errors="replace")
            )
        return data

    def open(self) -> str:
        try:
            if self.use_ssl:
                client = imaplib.IMAP4_SSL(
                    self.host, self.port, ssl_context=ssl.create_default_context(), timeout=self.timeout
                )
            else:
                client = imaplib.IMAP4(self.host, self.port, timeout=self.timeout)
                if self.starttls:
                    client.starttls(ssl_context=ssl.create_default_context())
        except (OSError, imaplib.IMAP4.error, ssl.SSLError) as exc:
            raise self._fail(_("cannot connect"), exc)
        self.client = client
        try:
            client.login(self.user, self.password)
        except imaplib.IMAP4.error as exc:
            self.close()
            raise self._fail(_("the login of %(user)s was refused") % {"user": self.user}, exc)
        except OSError as exc:
            self.close()
            raise self._fail(_("the connection broke"), exc)
        try:
            self._cmd(
                _("cannot open folder %(folder)s") % {"folder": self.folder},
                *client.select(_quote(self.folder)),
            )
            _typ, validity = client.response("UIDVALIDITY")
        except (OSError, imaplib.IMAP4.error) as exc:
            self.close()
            raise self._fail(_("the connection broke"), exc)
        return (validity[0] or b"").decode() if validity and validity[0] else ""

    def fetch(self, *, after: int, limit: int, max_bytes: int) -> Iterator[IncomingMessage]:
        client = self.client
        assert client is not None, "open() first"
        try:
            # "N:*" always matches the newest message, even when its UID is below N: filter again.
            data = self._cmd(_("search failed"), *client.uid("SEARCH", f"UID {after + 1}:*"))
            uids = sorted(u for u in (int(x) for x in b" ".join(data).split()) if u > after)[:limit]
            if not uids:
                return
            sizes = {}
            for meta, _body in _fetch_items(
                self._cmd(_("fetch failed"), *client.uid("FETCH", _uid_set(uids), "(RFC822.SIZE)"))
            ):
                size = re.search(rb"RFC822\.SIZE (\d+)", meta)
                sizes[_uid_of(meta)] = int(size.group(1)) if size else 0
            group: list[int] = []
            group_bytes = 0
            for uid in uids:
                size = sizes.get(uid, 0)
                if size > max_bytes:
                    yield from self._flush(group, sizes)
                    group, group_bytes = [], 0
                    yield from self._bodies([uid], sizes, headers_only=True)
                    continue
                if group and (len(group) >= FETCH_GROUP or group_bytes + size > FETCH_GROUP_BYTES):
                    yield from self._flush(group, sizes)
                    group, group_bytes = [], 0
                group.append(uid)
                group_bytes += size
            yield from self._flush(group, sizes)
        except (OSError, imaplib.IMAP4.abort, imaplib.IMAP4.error) as exc:
            raise self._fail(_("the connection broke"), exc)

    def _flush(self, group: list[int], sizes: dict[int, int]) -> Iterator[IncomingMessage]:
        if group:
            yield from self._bodies(group, sizes, headers_only=False)

    def _bodies(
        self, uids: list[int], sizes: dict[int, int], *, headers_only: bool
    ) -> Iterator[IncomingMessage]:
        assert self.client is not None
        part = "BODY.PEEK[HEADER]" if headers_only else "BODY.PEEK[]"
        data = self._cmd(_("fetch failed"), *self.client.uid("FETCH", _uid_set(uids), f"(UID {part})"))
        got = {_uid_of(meta): body for meta, body in _fetch_items(data) if body is not None}
        for uid in uids:  # a message deleted meanwhile is simply not there
            if uid in got:
                yield IncomingMessage(
                    uid=uid, raw=got[uid], size=sizes.get(uid, len(got[uid])), headers_only=headers_only
                )

    def done(self, uids: list[int]) -> None:
        if not uids or self.client is None or not (self.mark_seen or self.move_to):
            return
        client, uid_set = self.client, _uid_set(uids)
        try:
            if self.mark_seen:
                self._cmd(
                    _("cannot flag messages"), *client.uid("STORE", uid_set, "+FLAGS.SILENT", r"(\Seen)")
                )
            if self.move_to:
                capabilities = self._cmd(_("capability failed"), *client.capability())
                if b"MOVE" in b" ".join(capabilities).split():
                    self._cmd(_("cannot move messages"), *client.uid("MOVE", uid_set, _quote(self.move_to)))
                else:
                    self._cmd(_("cannot copy messages"), *client.uid("COPY", uid_set, _quote(self.move_to)))
                    self._cmd(
                        _("cannot flag messages"),
                        *client.uid("STORE", uid_set, "+FLAGS.SILENT", r"(\Deleted)"),
                    )
                    if b"UIDPLUS" in b" ".join(capabilities).split():
                        client.uid("EXPUNGE", uid_set)
        except (OSError, imaplib.IMAP4.error, MailSourceError) as exc:
            # The import itself is committed; the next fetch starts after these UIDs either way.
            log.warning("%s: imported messages were not flagged/moved: %s", self.key, exc)

    def close(self) -> None:
        client, self.client = self.client, None
        if client is None:
            return
        try:
            client.logout()
        except (TimeoutError, OSError, imaplib.IMAP4.error):
            try:
                client.shutdown()
            except OSError:
                pass


class AllegroDiscussionsSource(MessageSource):
    """The place for Allegro's buyer messages (messaging threads) once the Allegro connector exists: it would
    write each message as an e-mail (see MessageSource) and use the message's sequence as position."""

    channel = "marketplace"

    def __init__(self, account: str = "") -> None:
        self.key = f"allegro://{account}/messaging"

    def open(self) -> str:
        raise MailSourceError(_("Allegro messages are not connected yet."), code="not_configured")

    def fetch(self, *, after: int, limit: int, max_bytes: int) -> Iterator[IncomingMessage]:
        return iter(())


def _uid_set(uids: list[int]) -> str:
    """A compact IMAP sequence set (1:5,7,9:12) of sorted UIDs."""
    out: list[str] = []
    start = prev = None
    for uid in sorted(uids):
        if start is None:
            start = prev = uid
        elif uid == prev + 1:
            prev = uid
        else:
            out.append(f"{start}:{prev}" if start != prev else str(start))
            start = prev = uid
    if start is not None:
        out.append(f"{start}:{prev}" if start != prev else str(start))
    return ",".join(out)


def _quote(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _uid_of(meta: bytes) -> int:
    found = re.search(rb"UID (\d+)", meta)
    return int(found.group(1)) if found else -1


def _fetch_items(data: list) -> Iterator[tuple[bytes, bytes | None]]:
    """(metadata, literal) pairs of a FETCH response; the UID may come after the literal (b" UID 7)")."""
    pending: list[bytes] | None = None
    for item in data:
        if isinstance(item, tuple):
            if pending is not None:
                yield pending[0], pending[1]
            pending = [item[0], item[1]]
        elif isinstance(item, bytes):
            if pending is not None:
                yield pending[0] + b" " + item, pending[1]
                pending = None
            elif item.strip() not in (b"", b")"):
                yield item, None
    if pending is not None:
        yield pending[0], pending[1]


# ---------------------------------------------------------------------------------------------------------
# Import
# ---------------------------------------------------------------------------------------------------------


@dataclass
class FetchReport:
    source: str
    fetched: int = 0
    created: int = 0
    appended: int = 0
    duplicate: int = 0
    refused: int = 0
    failed: int = 0
    truncated: int = 0
    error: str = ""
    busy: bool = False
    problems: list[dict] = field(default_factory=list)

    @property
    def threaded(self) -> int:
        return self.appended

    def as_dict(self) -> dict:
        return {**asdict(self), "threaded": self.threaded}


_HEADER_PARSER = BytesHeaderParser()


def _summary(raw: bytes) -> tuple[str, str, str]:
    """(Message-ID, sender, subject) of a message for the import record; never raises."""
    try:
        head = raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0][:64_000]
        msg = _HEADER_PARSER.parsebytes(head)

        def h(name: str) -> str:
            from email.header import decode_header, make_header

            value = msg.get(name)
            if value is None:
                return ""
            try:
                return str(make_header(decode_header(str(value))))
            except Exception:  # noqa: BLE001 - a broken header is shown as it is
                return str(value)

        senders = [a for _n, a in getaddresses([h("From")]) if a]
        clean = lambda s, n: re.sub(r"[\x00-\x1f]+", " ", s).strip()[:n]  # noqa: E731
        return (
            clean(h("Message-ID"), 300),
            clean(senders[0] if senders else "", 254),
            clean(h("Subject"), 300),
        )
    except Exception:  # noqa: BLE001
        return "", "", ""


def _headers_only_message(head: bytes, size: int, limit: int) -> bytes:
    """The header block of a too-large message with a short text body saying so (threading stays intact)."""
    head = head.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    keep = []
    skip = False
    for line in re.split(rb"\r?\n", head):
        if line[:1] in (b" ", b"\t"):
            if not skip:
                keep.append(line)
            continue
        name = line.split(b":", 1)[0].strip().lower()
        skip = name in (b"content-type", b"content-transfer-encoding", b"mime-version")
        if not skip:
            keep.append(line)
    note = _(
        "This e-mail is %(size)s MB, more than the %(limit)s MB that are imported. Only its sender and subject "
        "were imported; the whole message is still in the mailbox."
    ) % {"size": f"{size / 1048576:.1f}", "limit": f"{limit / 1048576:.0f}"}
    return (
        b"\r\n".join(keep)
        + b"\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
        + b"Content-Transfer-Encoding: 8bit\r\n\r\n"
        + note.encode()
        + b"\r\n"
    )


_OUR_MESSAGE_ID = re.compile(r"^<[\d.]+\.outbox(\d{1,12})@[^<>\s]+>$")


def _is_own(message_id: str) -> bool:
    """Whether Zaplecze sent this message itself (the outbox's Message-IDs carry "outbox<id>"): a copy of our
    reply in the inbox is no customer mail. A look-up by primary key only for IDs of that shape."""
    found = _OUR_MESSAGE_ID.match(message_id)
    return bool(found) and OutboxEmail.objects.filter(pk=int(found.group(1)), message_id=message_id).exists()


def _import_one(
    state: MailboxState, epoch: str, msg: IncomingMessage, *, channel: str, max_bytes: int
) -> str:
    """Import one message and move the position, in one transaction. Returns the outcome."""
    message_id, sender, subject = _summary(msg.raw)
    raw, reason = msg.raw, ""
    if msg.headers_only:
        raw = _headers_only_message(msg.raw, msg.size, max_bytes)
        reason = f"larger than {max_bytes} bytes ({msg.size}): headers only"
    with transaction.atomic():
        if InboundMail.objects.filter(mailbox=state, epoch=epoch, uid=msg.uid).exists():
            # imported already (by a fetch that lost its hold on the mailbox): only move past it
            MailboxState.objects.filter(pk=state.pk, last_uid__lt=msg.uid).update(last_uid=msg.uid)
            return InboundMailOutcome.DUPLICATE
        if message_id and _is_own(message_id):
            outcome, ticket_id, reason = InboundMailOutcome.DUPLICATE, None, "our own e-mail"
        else:
            result = services.ticket_receive_email(raw, max_bytes=max_bytes, channel=channel)
            outcome, ticket_id = result.outcome, result.ticket_id
            reason = "; ".join(r for r in (reason, result.reason) if r)
        # Unique per position: a concurrent import of the same message rolls this whole transaction back.
        InboundMail.objects.create(
            mailbox=state,
            epoch=epoch,
            uid=msg.uid,
            message_id=message_id,
            sender=sender,
            subject=subject,
            size=msg.size,
            outcome=outcome,
            reason=reason[:500],
            ticket_id=ticket_id,
        )
        MailboxState.objects.filter(pk=state.pk, last_uid__lt=msg.uid).update(
            last_uid=msg.uid, imported_total=F("imported_total") + 1
        )
    return outcome


def _record_failure(state: MailboxState, epoch: str, msg: IncomingMessage, exc: Exception) -> None:
    message_id, sender, subject = _summary(msg.raw)
    with transaction.atomic():
        InboundMail.objects.get_or_create(
            mailbox=state,
            epoch=epoch,
            uid=msg.uid,
            defaults={
                "message_id": message_id,
                "sender": sender,
                "subject": subject,
                "size": msg.size,
                "outcome": InboundMailOutcome.FAILED,
                "reason": f"{type(exc).__name__}: {exc}"[:500],
            },
        )
        MailboxState.objects.filter(pk=state.pk, last_uid__lt=msg.uid).update(last_uid=msg.uid)


def _claim(key: str, now: dt.datetime) -> MailboxState | None:
    state, _created = MailboxState.objects.get_or_create(key=key)
    claimed = MailboxState.objects.filter(
        Q(running_since__isnull=True) | Q(running_since__lt=now - FETCH_STUCK_AFTER), pk=state.pk
    ).update(running_since=now, last_run_at=now)
    if not claimed:
        return None
    state.refresh_from_db()
    return state


def mail_fetch(
    *, source: MessageSource | None = None, limit: int | None = None, max_bytes: int | None = None
) -> FetchReport:
    """Import the new messages of a source (default: the configured IMAP mailbox) into tickets. Connection
    problems do not raise: they end the run with `report.error` set (and on the mailbox state); what was
    imported before stays imported, the rest comes with the next run."""
    source = source or ImapSource.from_settings()
    limit = max(1, limit or settings.IMAP_BATCH)
    max_bytes = max_bytes or settings.MAIL_MAX_BYTES
    report = FetchReport(source=source.key)
    now = timezone.now()
    state = _claim(source.key, now)
    if state is None:
        report.busy = True
        report.error = _("Another fetch is reading this mailbox right now.")
        return report
    imported: list[int] = []
    try:
        epoch = source.open()
        if epoch != state.epoch:
            if state.epoch:
                log.warning(
                    "%s: UIDVALIDITY changed %s -> %s, reading it again", source.key, state.epoch, epoch
                )
            MailboxState.objects.filter(pk=state.pk).update(epoch=epoch, last_uid=0)
            state.epoch, state.last_uid = epoch, 0
        for msg in source.fetch(after=state.last_uid, limit=limit, max_bytes=max_bytes):
            report.fetched += 1
            report.truncated += msg.headers_only
            try:
                outcome = _import_one(state, epoch, msg, channel=source.channel, max_bytes=max_bytes)
            except DatabaseError:
                raise  # the database is the problem, not the message: stop, this message comes again
            except Exception as exc:  # noqa: BLE001 - one bad message must not stop the mailbox
                log.exception("%s: message UID %s could not be imported", source.key, msg.uid)
                _record_failure(state, epoch, msg, exc)
                report.failed += 1
                report.problems.append({"uid": msg.uid, "outcome": "failed", "reason": str(exc)[:300]})
                continue
            setattr(report, outcome, getattr(report, outcome) + 1)
            if outcome == InboundMailOutcome.REFUSED:
                report.problems.append({"uid": msg.uid, "outcome": outcome})
            imported.append(msg.uid)
    except MailSourceError as exc:
        report.error = str(exc.message)
    finally:
        if imported:
            source.done(imported)
        source.close()
        finished = timezone.now()
        MailboxState.objects.filter(pk=state.pk).update(
            running_since=None,
            last_error=report.error[:500],
            **({} if report.error else {"last_ok_at": finished}),
        )
    if report.problems:
        reasons = dict(
            InboundMail.objects.filter(
                mailbox=state, epoch=state.epoch, uid__in=[p["uid"] for p in report.problems]
            ).values_list("uid", "reason")
        )
        for p in report.problems:
            p["reason"] = reasons.get(p["uid"], p.get("reason", ""))
    return report
