"""Every write of customer service: returns, complaints, refunds, the outbox, notes, exclusion flags and
withdrawal notices. Each function is one transaction that writes its case event and audit row in it; e-mails
and refund sends leave only after commit (outbox + on_commit, retried by the worker)."""

from __future__ import annotations

import datetime as dt
import logging
import re
import smtplib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage
from django.core.mail.message import make_msgid
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from stdnum import iban as stdnum_iban

from zaplecze.catalog.models import Product
from zaplecze.core.businesstime import local_date, local_today
from zaplecze.core.errors import Conflict, DomainError, IllegalTransition, NotFound
from zaplecze.core.models import User
from zaplecze.core.services import actor_label, audit_record, diff
from zaplecze.inventory import services as stock
from zaplecze.orders.models import (
    SHIPPED_STAGES,
    Channel,
    Order,
    OrderLine,
    PaymentMethod,
    PaymentStatus,
    Stage,
)

from . import connectors, deadlines, emails, rules, selectors
from .models import (
    CaseEvent,
    Complaint,
    ComplaintPhoto,
    ComplaintState,
    OutboxAttachment,
    OutboxEmail,
    ProductReturnExclusion,
    Refund,
    RefundMethod,
    RefundState,
    Return,
    ReturnLine,
    ReturnState,
    Source,
    WithdrawalNotice,
)
from .rules import Remedy, StatutoryReason

log = logging.getLogger("zaplecze.service")

CENT = Decimal("0.01")
MAX_TEXT = 5000
MAX_REASON = 2000


def _label(actor: User | None, source: str = "ui") -> str:
    return actor_label(actor, fallback=source)


def _text(value: str | None, *, field: str, required: bool = False, max_length: int = MAX_TEXT) -> str:
    value = (value or "").strip()
    if required and not value:
        raise DomainError(_("This field is required."), field=field, code="required")
    if len(value) > max_length:
        raise DomainError(_("At most %(n)s characters.") % {"n": max_length}, field=field, code="too_long")
    if "\x00" in value:
        raise DomainError(_("The text contains characters that cannot be stored."), field=field)
    return value


def _money(value: Any, *, field: str = "amount") -> Decimal:
    try:
        amount = Decimal(str(value).replace(",", ".").strip())
    except (InvalidOperation, ValueError):
        raise DomainError(_("Not an amount: %(value)s") % {"value": str(value)[:40]}, field=field)
    if not amount.is_finite() or amount <= 0:
        raise DomainError(_("The amount must be more than zero."), field=field)
    if amount != amount.quantize(CENT) or amount >= Decimal("1e15"):
        raise DomainError(_("The amount must have at most 2 decimal places."), field=field)
    return amount.quantize(CENT)


def _event(
    *,
    case: Return | Complaint,
    kind: str,
    actor: User | None,
    label: str | None = None,
    message: str = "",
    from_state: str = "",
    to_state: str = "",
    data: dict | None = None,
    at: dt.datetime | None = None,
) -> CaseEvent:
    fk = {"return_case": case} if isinstance(case, Return) else {"complaint": case}
    return CaseEvent.objects.create(
        **fk,
        at=at or timezone.now(),
        kind=kind,
        actor=actor,
        actor_label=label or _label(actor),
        from_state=from_state,
        to_state=to_state,
        message=message[:MAX_TEXT],
        data=data or {},
    )


def _changes(changes: dict[str, list[Any]] | None) -> dict[str, list[Any]]:
    """{field: [before, after]} with JSON-ready values (dates, decimals)."""
    changes = changes or {}
    return diff({k: v[0] for k, v in changes.items()}, {k: v[1] for k, v in changes.items()})


def _audit(
    case: Return | Complaint | Refund,
    action: str,
    actor: User | None,
    changes: dict | None = None,
    reason: str = "",
    label: str | None = None,
) -> None:
    obj_type = {Return: "service.return", Complaint: "service.complaint", Refund: "service.refund"}[
        type(case)
    ]
    audit_record(
        obj_type=obj_type,
        obj_id=case.pk,
        action=action,
        actor=actor,
        changes=_changes(changes),
        reason=reason,
        label=label or _label(actor),
    )


# =========================================================================================================
# Outbox
# =========================================================================================================

#: Minutes to wait before each retry of a failed e-mail; after the last one the e-mail is given up.
EMAIL_RETRY_MINUTES = (1, 5, 15, 60, 180, 720)
#: An e-mail stuck in "sending" this long (the worker died mid-send) is tried again.
EMAIL_STUCK_AFTER = dt.timedelta(minutes=10)


def _after_commit(task_name: str, object_id: int) -> None:
    """Queue a worker task once the current transaction has committed (never for a rolled-back change)."""

    def run() -> None:
        from . import tasks

        try:
            getattr(tasks, task_name)(object_id)
        except Exception:  # the periodic retry picks it up; the change itself is committed
            log.exception("could not queue %s(%s)", task_name, object_id)

    transaction.on_commit(run)


def outbox_enqueue(
    *,
    key: str,
    kind: str,
    to: str,
    language: str,
    context: dict[str, Any],
    return_case: Return | None = None,
    complaint: Complaint | None = None,
    refund: Refund | None = None,
    attachments: Iterable[tuple[str, str, bytes]] = (),
    actor: User | None = None,
    ticket: Any = None,
    subject: str | None = None,
    body: str | None = None,
    headers: dict[str, str] | None = None,
) -> OutboxEmail | None:
    """Write an e-mail to the outbox in the caller's transaction; it is sent after commit. The same key
    twice is one e-mail. Without an address nothing is queued and the case timeline says so. `subject` and
    `body` given: sent as written (ticket replies); else composed from the `kind`'s template."""
    case = return_case or complaint
    to = (to or "").strip()
    if not to or "@" not in to or len(to) > 254:
        if case is not None:
            _event(
                case=case,
                kind=CaseEvent.Kind.EMAIL_FAILED,
                actor=actor,
                message=_("No e-mail address: the customer was not notified (%(kind)s).") % {"kind": kind},
            )
        return None
    existing = OutboxEmail.objects.filter(key=key).first()
    if existing is not None:
        return existing
    if subject is None or body is None:
        subject, body = emails.compose(kind, language, context)
    email = OutboxEmail.objects.create(
        key=key[:120],
        kind=kind,
        to=to,
        subject=subject[:300],
        body=body,
        language=language or "pl",
        return_case=return_case,
        complaint=complaint,
        refund=refund,
        ticket=ticket,
        headers=headers or {},
    )
    # Known before the first attempt: replies thread by it, and a re-send after a crash carries the same one.
    email.message_id = make_msgid(idstring=f"outbox{email.pk}", domain=_mail_domain())
    OutboxEmail.objects.filter(pk=email.pk).update(message_id=email.message_id)
    for filename, content_type, content in attachments:
        OutboxAttachment.objects.create(
            email=email, filename=filename, content_type=content_type, content=content
        )
    if case is not None:
        _event(
            case=case,
            kind=CaseEvent.Kind.EMAIL_QUEUED,
            actor=actor,
            message=_("E-mail to %(to)s: %(subject)s") % {"to": to, "subject": subject},
            data={"email_id": email.pk, "kind": kind},
        )
    _after_commit("deliver_email_task", email.pk)
    return email


def _from_email() -> str:
    return emails.shop()["email"] if getattr(settings, "SHOP_EMAIL", "") else settings.DEFAULT_FROM_EMAIL


def _mail_domain() -> str:
    return (_from_email().rsplit("@", 1)[-1] or "zaplecze.local").strip("> ") or "zaplecze.local"


def _email_message(email: OutboxEmail) -> EmailMessage:
    if not email.message_id:
        email.message_id = make_msgid(idstring=f"outbox{email.pk}", domain=_mail_domain())
        OutboxEmail.objects.filter(pk=email.pk).update(message_id=email.message_id)
    msg = EmailMessage(
        subject=email.subject,
        body=email.body,
        from_email=_from_email(),
        to=[email.to],
        headers={**(email.headers or {}), "Message-ID": email.message_id},
    )
    for a in email.attachments.all():
        msg.attach(a.filename, bytes(a.content), a.content_type)
    return msg


def outbox_deliver(*, email_id: int, now: dt.datetime | None = None) -> bool:
    """Send one queued e-mail if it is due. Claimed with a conditional update, so two workers never send
    the same e-mail at once. A mail-server failure keeps it for a retry; returns True when sent."""
    now = now or timezone.now()
    claimed = OutboxEmail.objects.filter(
        pk=email_id, state=OutboxEmail.State.PENDING, next_attempt_at__lte=now
    ).update(state=OutboxEmail.State.SENDING, sending_since=now, attempts=F("attempts") + 1)
    if not claimed:
        return False
    email = OutboxEmail.objects.select_related("return_case", "complaint").get(pk=email_id)
    case = email.return_case or email.complaint
    try:
        _email_message(email).send(fail_silently=False)
    except (smtplib.SMTPException, OSError, UnicodeError) as exc:
        error = f"{type(exc).__name__}: {exc}"[:500]
        give_up = email.attempts >= len(EMAIL_RETRY_MINUTES) + 1
        with transaction.atomic():
            if give_up:
                OutboxEmail.objects.filter(pk=email.pk).update(
                    state=OutboxEmail.State.FAILED, last_error=error
                )
            else:
                retry_at = now + dt.timedelta(minutes=EMAIL_RETRY_MINUTES[email.attempts - 1])
                OutboxEmail.objects.filter(pk=email.pk).update(
                    state=OutboxEmail.State.PENDING, last_error=error, next_attempt_at=retry_at
                )
            if case is not None:
                msg = (
                    _("E-mail to %(to)s not sent (attempt %(n)s): %(error)s. Gave up.")
                    if give_up
                    else _("E-mail to %(to)s not sent (attempt %(n)s): %(error)s. Will retry.")
                )
                _event(
                    case=case,
                    kind=CaseEvent.Kind.EMAIL_FAILED,
                    actor=None,
                    label="mail",
                    message=msg % {"to": email.to, "n": email.attempts, "error": error},
                    data={"email_id": email.pk},
                )
        log.warning("e-mail %s not sent (attempt %s): %s", email.pk, email.attempts, error)
        return False
    sent_at = timezone.now()
    with transaction.atomic():
        OutboxEmail.objects.filter(pk=email.pk).update(
            state=OutboxEmail.State.SENT, sent_at=sent_at, last_error=""
        )
        if case is not None:
            _event(
                case=case,
                kind=CaseEvent.Kind.EMAIL_SENT,
                actor=None,
                label="mail",
                at=sent_at,
                message=_("E-mail sent to %(to)s: %(subject)s") % {"to": email.to, "subject": email.subject},
                data={"email_id": email.pk, "kind": email.kind},
            )
        if email.kind == "complaint_decision" and email.complaint_id:
            _complaint_mark_responded(email.complaint_id, sent_at)
    return True


def outbox_retry_due(*, now: dt.datetime | None = None, limit: int = 200) -> int:
    """Worker's periodic pass: release e-mails stuck in "sending" and send every due one. Returns sent."""
    now = now or timezone.now()
    OutboxEmail.objects.filter(
        state=OutboxEmail.State.SENDING, sending_since__lt=now - EMAIL_STUCK_AFTER
    ).update(state=OutboxEmail.State.PENDING, next_attempt_at=now)
    due = list(
        OutboxEmail.objects.filter(state=OutboxEmail.State.PENDING, next_attempt_at__lte=now)
        .order_by("next_attempt_at", "id")
        .values_list("pk", flat=True)[:limit]
    )
    return sum(1 for pk in due if outbox_deliver(email_id=pk, now=now))


# =========================================================================================================
# Policy records: exclusion flags and withdrawal notices
# =========================================================================================================


def product_exclusion_set(*, product_id: int, kind: str | None, note: str = "", actor: User | None) -> None:
    """Flag a product as excluded from withdrawal (kind from rules.ReturnExclusion), or clear it (None)."""
    if kind and kind not in rules.ReturnExclusion.values:
        raise DomainError(_("Unknown exclusion %(kind)s") % {"kind": kind}, field="kind")
    if not Product.objects.filter(pk=product_id).exists():
        raise NotFound(_("Product not found"))
    with transaction.atomic():
        before = (
            ProductReturnExclusion.objects.filter(product_id=product_id)
            .values_list("kind", flat=True)
            .first()
        )
        if kind:
            ProductReturnExclusion.objects.update_or_create(
                product_id=product_id,
                defaults={
                    "kind": kind,
                    "note": _text(note, field="note", max_length=300),
                    "set_at": timezone.now(),
                    "set_by": actor,
                },
            )
        else:
            ProductReturnExclusion.objects.filter(product_id=product_id).delete()
        audit_record(
            obj_type="catalog.product",
            obj_id=product_id,
            action="return_exclusion",
            actor=actor,
            changes={"return_exclusion": [before, kind or None]},
        )


def withdrawal_notice_record(
    *,
    informed_at: dt.datetime,
    how: str,
    actor: User | None,
    channel_code: str | None = None,
    order_id: int | None = None,
) -> WithdrawalNotice:
    """Record that customers were informed of the right of withdrawal: for a whole channel from
    `informed_at` on, or for one order."""
    if (channel_code is None) == (order_id is None):
        raise DomainError(_("Give either a channel or an order."), field="channel")
    if timezone.is_naive(informed_at):
        raise DomainError(_("The time must include a time zone."), field="informed_at")
    channel = order = None
    if channel_code is not None:
        channel = Channel.objects.filter(code=channel_code).first()
        if channel is None:
            raise NotFound(_("Unknown channel %(code)s") % {"code": channel_code})
    else:
        order = Order.objects.filter(pk=order_id).first()
        if order is None:
            raise NotFound(_("Order not found"))
    with transaction.atomic():
        notice = WithdrawalNotice.objects.create(
            channel=channel,
            order=order,
            informed_at=informed_at,
            how=_text(how, field="how", max_length=300),
            created_by=actor,
        )
        audit_record(
            obj_type="service.withdrawalnotice",
            obj_id=notice.pk,
            action="created",
            actor=actor,
            changes=_changes(
                {
                    "channel": [None, channel_code],
                    "order": [None, order_id],
                    "informed_at": [None, informed_at],
                }
            ),
        )
    return notice


# =========================================================================================================
# Returns (withdrawal from a distance contract)
# =========================================================================================================

RETURNABLE_STAGES = SHIPPED_STAGES


def _lines_input(lines: Mapping[int, int] | Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    pairs = list(lines.items()) if isinstance(lines, Mapping) else list(lines)
    out: dict[int, int] = {}
    for i, (line_id, qty) in enumerate(pairs):
        try:
            line_id, qty = int(line_id), int(qty)
        except (TypeError, ValueError):
            raise DomainError(_("Line %(n)s: not a number.") % {"n": i + 1}, field=f"lines[{i}]")
        if qty < 0 or qty > 100_000:
            raise DomainError(
                _("Line %(n)s: the quantity must be between 0 and 100000.") % {"n": i + 1},
                field=f"lines[{i}].quantity",
            )
        if qty:
            out[line_id] = out.get(line_id, 0) + qty
    if not out:
        raise DomainError(
            _("Choose at least one item and a quantity to return."), field="lines", code="no_lines"
        )
    return list(out.items())


def return_request(
    *,
    order_id: int,
    lines: Mapping[int, int] | Iterable[tuple[int, int]],
    reason: str = "",
    actor: User | None,
    source: str = Source.STAFF,
    statement_sent_at: dt.datetime | None = None,
    statement_received_at: dt.datetime | None = None,
    email: str = "",
    language: str = "pl",
    bank_account: str = "",
) -> Return:
    """Record a withdrawal statement for some lines of an order (a customer on the public page, or staff).

    Refused: an order that was not shipped, a business customer, a statement sent after the withdrawal
    deadline (the error names the date), excluded products, and quantities above bought minus already
    returned. The order row is locked, so two returns of one order never over-return a line."""
    now = timezone.now()
    sent_at = statement_sent_at or now
    received_at = statement_received_at or now
    for name, value in (("statement_sent_at", sent_at), ("statement_received_at", received_at)):
        if timezone.is_naive(value):
            raise DomainError(_("The time must include a time zone."), field=name)
        if value > now + dt.timedelta(minutes=5):
            raise DomainError(_("The time cannot be in the future."), field=name)
    if sent_at > received_at:
        raise DomainError(
            _("The statement cannot be received before it was sent."), field="statement_sent_at"
        )
    requested = _lines_input(lines)
    reason = _text(reason, field="reason", max_length=MAX_REASON)
    bank_account = _iban(bank_account, required=False) if bank_account else ""
    label = _label(actor, source)
    with transaction.atomic():
        order = Order.objects.select_for_update().filter(pk=order_id).first()
        if order is None:
            raise NotFound(_("Order not found"))
        if order.stage not in RETURNABLE_STAGES:
            raise DomainError(
                _("Order %(number)s has not been shipped: cancel it instead of a return.")
                % {"number": order.number},
                code="not_shipped",
            )
        if not rules.has_consumer_rights(order.customer_type):
            raise DomainError(
                _(
                    "Order %(number)s was bought by a business: the statutory right of withdrawal "
                    "applies to consumers only."
                )
                % {"number": order.number},
                code="no_right",
            )
        deadline = selectors.withdrawal_for_order(order)
        if deadline.deadline is not None and local_date(sent_at) > deadline.deadline:
            raise DomainError(
                _("The withdrawal period for order %(number)s ended on %(date)s.")
                % {"number": order.number, "date": deadlines.day(deadline.deadline)},
                code="deadline_passed",
                deadline=deadline.deadline.isoformat(),
            )
        by_id = {rl.line.pk: rl for rl in selectors.returnable_lines(order)}
        for i, (line_id, qty) in enumerate(requested):
            rl = by_id.get(line_id)
            if rl is None:
                raise DomainError(
                    _("Line %(n)s is not part of order %(number)s.") % {"n": i + 1, "number": order.number},
                    field=f"lines[{i}]",
                    code="wrong_line",
                )
            if rl.refused:
                raise DomainError(
                    _("%(name)s cannot be returned: %(why)s")
                    % {"name": rl.line.name, "why": rules.ReturnExclusion(rl.exclusion.kind).label},
                    field=f"lines[{i}]",
                    code="excluded",
                )
            if qty > rl.available:
                raise DomainError(
                    _(
                        "%(name)s: at most %(n)s can be returned (bought %(bought)s, already returned %(returned)s)."
                    )
                    % {"name": rl.line.name, "n": rl.available, "bought": rl.bought, "returned": rl.returned},
                    field=f"lines[{i}].quantity",
                    code="too_many",
                    available=rl.available,
                )
        refund = deadlines.refund_deadline(local_date(received_at))
        ret = Return.objects.create(
            order=order,
            source=source,
            reason=reason,
            email=(email or order.email).strip()[:254],
            statement_sent_at=sent_at,
            statement_received_at=received_at,
            withdrawal_deadline=deadline.deadline,
            refund_due=refund.deadline,
            refund_warn_on=refund.warn_on,
            bank_account=bank_account,
            language=language or "pl",
            created_at=now,
            updated_at=now,
        )
        ReturnLine.objects.bulk_create(
            [ReturnLine(return_case=ret, order_line_id=lid, quantity=qty) for lid, qty in requested]
        )
        _event(
            case=ret,
            kind=CaseEvent.Kind.CREATED,
            actor=actor,
            label=label,
            to_state=ret.state,
            message=reason,
            data={
                "lines": {str(k): v for k, v in requested},
                "source": source,
                "withdrawal_deadline": deadline.deadline.isoformat() if deadline.deadline else None,
                "withdrawal_rule": [str(s) for s in deadline.rule],
                "refund_due": refund.deadline.isoformat(),
            },
        )
        _audit(ret, "created", actor, {"state": [None, ret.state]}, label=label)
        line_rows = [
            {"name": by_id[lid].line.name, "sku": by_id[lid].line.sku, "quantity": qty}
            for lid, qty in requested
        ]
        outbox_enqueue(
            key=f"return:{ret.pk}:received",
            kind="return_received",
            to=ret.email,
            language=ret.language,
            context={"case": ret, "order": order, "lines": line_rows},
            return_case=ret,
            actor=actor,
        )
    return ret


def _lock_return(return_id: int, expected_version: int | None = None) -> Return:
    ret = Return.objects.select_for_update().select_related("order").filter(pk=return_id).first()
    if ret is None:
        raise NotFound(_("Return not found"))
    if expected_version is not None and ret.version != expected_version:
        raise Conflict(
            _("Return %(number)s was changed by someone else in the meantime. Reload it and try again.")
            % {"number": ret.number},
            current_version=ret.version,
        )
    return ret


def _return_move(
    ret: Return,
    to_state: str,
    actor: User | None,
    *,
    message: str = "",
    fields: Iterable[str] = (),
    data: dict | None = None,
) -> None:
    """Validate and apply one state change of a locked return, with its event and audit row."""
    if not ret.can_move_to(to_state):
        raise IllegalTransition(
            _("Return %(number)s cannot go from “%(src)s” to “%(dst)s”.")
            % {"number": ret.number, "src": ReturnState(ret.state).label, "dst": ReturnState(to_state).label},
            field="state",
        )
    from_state = ret.state
    now = timezone.now()
    ret.state = to_state
    ret.version += 1
    ret.updated_at = now
    ret.save(update_fields=["state", "version", "updated_at", *fields])
    _event(
        case=ret,
        kind=CaseEvent.Kind.STATE,
        actor=actor,
        from_state=from_state,
        to_state=to_state,
        message=message,
        data=data,
        at=now,
    )
    _audit(ret, "state_changed", actor, {"state": [from_state, to_state]}, reason=message)


def return_transition(
    *,
    return_id: int,
    to_state: str,
    actor: User | None,
    reason: str = "",
    expected_version: int | None = None,
) -> Return:
    """Generic move along RETURN_TRANSITIONS (the specific services below add their checks and e-mails)."""
    if to_state not in ReturnState.values:
        raise DomainError(_("Unknown state %(state)s") % {"state": to_state}, field="state")
    with transaction.atomic():
        ret = _lock_return(return_id, expected_version)
        _return_move(ret, to_state, actor, message=_text(reason, field="reason", max_length=MAX_REASON))
    return ret


def return_accept(
    *, return_id: int, actor: User | None, note: str = "", expected_version: int | None = None
) -> Return:
    note = _text(note, field="note", max_length=MAX_REASON)
    with transaction.atomic():
        ret = _lock_return(return_id, expected_version)
        _return_move(ret, ReturnState.ACCEPTED, actor, message=note)
        outbox_enqueue(
            key=f"return:{ret.pk}:accepted",
            kind="return_accepted",
            to=ret.email,
            language=ret.language,
            context={"case": ret, "order": ret.order, "note": note},
            return_case=ret,
            actor=actor,
        )
    return ret


def return_reject(
    *, return_id: int, reason: str, actor: User | None, expected_version: int | None = None
) -> Return:
    reason = _text(reason, field="reason", required=True, max_length=MAX_REASON)
    with transaction.atomic():
        ret = _lock_return(return_id, expected_version)
        ret.rejection_reason = reason
        _return_move(ret, ReturnState.REJECTED, actor, message=reason, fields=["rejection_reason"])
        outbox_enqueue(
            key=f"return:{ret.pk}:rejected",
            kind="return_rejected",
            to=ret.email,
            language=ret.language,
            context={"case": ret, "order": ret.order},
            return_case=ret,
            actor=actor,
        )
    return ret


def return_record_proof_of_sending(
    *, return_id: int, at: dt.datetime | None = None, actor: User | None, note: str = ""
) -> Return:
    """The customer proved they sent the goods: the refund may no longer be held (upk art. 32 ust. 3)."""
    at = at or timezone.now()
    with transaction.atomic():
        ret = _lock_return(return_id)
        if ret.state not in (ReturnState.REQUESTED, ReturnState.ACCEPTED):
            raise IllegalTransition(_("Proof of sending can be recorded only before the goods are received."))
        ret.proof_of_sending_at = at
        ret.version += 1
        ret.save(update_fields=["proof_of_sending_at", "version"])
        _event(
            case=ret,
            kind=CaseEvent.Kind.NOTE,
            actor=actor,
            message=_("Proof of sending received. %(note)s")
            % {"note": _text(note, field="note", max_length=500)},
        )
        _audit(ret, "proof_of_sending", actor, {"proof_of_sending_at": [None, at]})
    return ret


@dataclass
class LineInspection:
    resellable: int = 0
    damaged: int = 0
    missing: int = 0
    note: str = ""


def return_receive(
    *,
    return_id: int,
    inspection: Mapping[int, LineInspection | Mapping[str, Any]],
    actor: User | None,
    warehouse_id: int | None = None,
    expected_version: int | None = None,
    received_at: dt.datetime | None = None,
) -> Return:
    """The goods are back: inspect every line (resellable / damaged / missing, counts adding up to the
    returned quantity). Resellable units go back into stock as a "return" movement, once."""
    from zaplecze.inventory.models import Warehouse

    received_at = received_at or timezone.now()
    with transaction.atomic():
        ret = _lock_return(return_id, expected_version)
        if ret.goods_received_at is not None:
            raise IllegalTransition(
                _("The goods of return %(number)s were already received.") % {"number": ret.number}
            )
        if ret.state not in (ReturnState.ACCEPTED, ReturnState.REFUNDED):
            raise IllegalTransition(
                _("Return %(number)s must be accepted before the goods are received.")
                % {"number": ret.number},
                field="state",
            )
        warehouse = (
            Warehouse.objects.filter(pk=warehouse_id).first() if warehouse_id else None
        ) or stock.warehouse_default()
        lines = list(ret.lines.select_related("order_line__variant").order_by("id"))
        given = {int(k): v for k, v in inspection.items()}
        unknown = set(given) - {ln.pk for ln in lines}
        if unknown:
            raise DomainError(
                _("Line %(id)s is not part of this return.") % {"id": sorted(unknown)[0]}, field="lines"
            )
        summary = {}
        for i, line in enumerate(lines):
            raw = given.get(line.pk)
            if raw is None:
                raise DomainError(
                    _("Inspect every line: %(name)s is missing.") % {"name": line.order_line.name},
                    field=f"lines[{i}]",
                    code="not_inspected",
                )
            ins = (
                raw
                if isinstance(raw, LineInspection)
                else LineInspection(
                    **{k: raw.get(k, 0) or 0 for k in ("resellable", "damaged", "missing")},
                    note=str(raw.get("note", "") or ""),
                )
            )
            counts = (int(ins.resellable), int(ins.damaged), int(ins.missing))
            if min(counts) < 0 or sum(counts) != line.quantity:
                raise DomainError(
                    _("%(name)s: resellable, damaged and missing must add up to %(n)s.")
                    % {"name": line.order_line.name, "n": line.quantity},
                    field=f"lines[{i}]",
                    code="inspection_sum",
                )
            line.resellable, line.damaged, line.missing = counts
            line.inspection_note = _text(ins.note, field=f"lines[{i}].note", max_length=500)
            variant = line.order_line.variant
            if line.resellable and variant is not None:
                stock.stock_adjust(
                    variant=variant,
                    warehouse=warehouse,
                    delta=line.resellable,
                    kind="return",
                    reason=f"{ret.number} {ret.order.number}",
                    reference=f"return-line:{line.pk}",
                    actor=actor,
                )
                line.restocked = line.resellable
            line.save(update_fields=["resellable", "damaged", "missing", "inspection_note", "restocked"])
            summary[line.order_line.sku] = {
                "resellable": line.resellable,
                "damaged": line.damaged,
                "missing": line.missing,
            }
        ret.goods_received_at = received_at
        _event(
            case=ret,
            kind=CaseEvent.Kind.INSPECTED,
            actor=actor,
            data={"lines": summary},
            message="; ".join(
                f"{sku}: {v['resellable']}/{v['damaged']}/{v['missing']}" for sku, v in summary.items()
            ),
        )
        restocked = sum(ln.restocked for ln in lines)
        if restocked:
            _event(
                case=ret,
                kind=CaseEvent.Kind.RESTOCKED,
                actor=actor,
                message=_("%(n)s unit(s) back in stock in %(wh)s.") % {"n": restocked, "wh": warehouse.code},
            )
        if ret.state == ReturnState.ACCEPTED:
            _return_move(ret, ReturnState.RECEIVED, actor, fields=["goods_received_at"])
        else:
            ret.version += 1
            ret.save(update_fields=["goods_received_at", "version"])
    return ret


def return_refund_suggestion(ret: Return) -> Decimal:
    """What the return is worth: the units not missing at inspection (all units before it) at the price
    paid, plus the delivery cost when the whole order is withdrawn from; never above what can be refunded."""
    total = Decimal("0")
    for line in ret.lines.select_related("order_line"):
        units = line.quantity - line.missing if line.inspected else line.quantity
        total += line.order_line.unit_price_gross * units
    order = ret.order
    if rules.REFUND_DELIVERY_ONLY_FOR_WHOLE_ORDER and order.shipping_cost:
        returned = selectors.returned_quantities(order.pk)
        if all(returned.get(ln.pk, 0) >= ln.quantity for ln in order.lines.all()):
            total += order.shipping_cost
    return min(total.quantize(CENT, ROUND_HALF_UP), selectors.refundable_amount(order))


def return_refund(
    *,
    return_id: int,
    actor: User | None,
    idempotency_key: str,
    method: str,
    amount: Any = None,
    iban: str = "",
    reason: str = "",
) -> Refund:
    """Record the refund of a return (the default amount is the suggestion) and move it to refunded. A
    retried request with the same key returns the refund already recorded and changes nothing."""
    existing = Refund.objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        _same_request(existing, order_id=existing.order_id, return_id=return_id, complaint_id=None)
        return existing
    with transaction.atomic():
        ret = _lock_return(return_id)
        if ret.state not in (ReturnState.ACCEPTED, ReturnState.RECEIVED):
            raise IllegalTransition(
                _("Return %(number)s is %(state)s: it cannot be refunded now.")
                % {"number": ret.number, "state": ReturnState(ret.state).label},
                field="state",
            )
        if ret.state == ReturnState.ACCEPTED and ret.proof_of_sending_at is None:
            raise IllegalTransition(
                _(
                    "The goods of return %(number)s are not back and there is no proof of sending: receive the goods "
                    "or record the proof first."
                )
                % {"number": ret.number},
                field="state",
            )
        value = _money(amount) if amount not in (None, "") else return_refund_suggestion(ret)
        refund = refund_create(
            order_id=ret.order_id,
            amount=value,
            method=method,
            iban=iban or ret.bank_account,
            idempotency_key=idempotency_key,
            actor=actor,
            reason=reason or ret.number,
            return_id=ret.pk,
        )
        ret.refunded_at = timezone.now()
        _return_move(
            ret,
            ReturnState.REFUNDED,
            actor,
            fields=["refunded_at"],
            message=_("Refund of %(amount)s %(currency)s recorded.")
            % {"amount": refund.amount, "currency": refund.currency},
            data={"refund_id": refund.pk},
        )
    return refund


def return_close(*, return_id: int, actor: User | None, note: str = "") -> Return:
    """Close a refunded return whose goods are back (or a rejected one, or received with nothing to refund).
    When every line of the order has come back, the order is moved to "returned"."""
    from zaplecze.orders import services as order_services

    with transaction.atomic():
        ret = _lock_return(return_id)
        if ret.state == ReturnState.REFUNDED and ret.goods_received_at is None:
            raise IllegalTransition(
                _("The goods of return %(number)s have not been received yet.") % {"number": ret.number},
                field="state",
            )
        if ret.state == ReturnState.RECEIVED and return_refund_suggestion(ret) > 0:
            raise IllegalTransition(
                _("Return %(number)s still has money to refund.") % {"number": ret.number}, field="state"
            )
        ret.closed_at = timezone.now()
        _return_move(
            ret,
            ReturnState.CLOSED,
            actor,
            fields=["closed_at"],
            message=_text(note, field="note", max_length=MAX_REASON),
        )
        if ret.goods_received_at is not None:
            order = ret.order
            returned = selectors.returned_quantities(order.pk)
            if order.stage != Stage.RETURNED and all(
                returned.get(ln.pk, 0) >= ln.quantity for ln in order.lines.all()
            ):
                try:
                    order_services.order_transition(
                        order_id=order.pk,
                        status_code="returned",
                        actor=actor,
                        reason=ret.number,
                        source="service",
                    )
                except DomainError as exc:
                    _event(
                        case=ret,
                        kind=CaseEvent.Kind.NOTE,
                        actor=actor,
                        message=_("The order could not be marked returned: %(error)s")
                        % {"error": exc.message},
                    )
    return ret


def case_add_note(
    *, actor: User | None, text: str, return_id: int | None = None, complaint_id: int | None = None
) -> CaseEvent:
    text = _text(text, field="text", required=True)
    with transaction.atomic():
        if return_id is not None:
            case: Return | Complaint = _lock_return(return_id)
        else:
            case = _lock_complaint(complaint_id or 0)
        return _event(case=case, kind=CaseEvent.Kind.NOTE, actor=actor, message=text)


# =========================================================================================================
# Refunds
# =========================================================================================================

_KEY = re.compile(r"^[A-Za-z0-9_.:\-]{8,80}$")


def _iban(value: str, *, required: bool = True) -> str:
    value = (value or "").strip()
    if not value:
        if required:
            raise DomainError(
                _("A bank transfer needs the customer's account number (IBAN)."),
                field="iban",
                code="required",
            )
        return ""
    compact = stdnum_iban.compact(value.upper())
    if compact.isdigit() and len(compact) == 26:  # a Polish account number given without "PL"
        compact = "PL" + compact
    if not stdnum_iban.is_valid(compact):
        raise DomainError(
            _("%(value)s is not a valid account number (IBAN check digits).") % {"value": value[:40]},
            field="iban",
            code="invalid_iban",
        )
    return compact


def _same_request(
    existing: Refund,
    *,
    order_id: int,
    return_id: int | None,
    complaint_id: int | None,
    amount: Decimal | None = None,
) -> None:
    if (
        existing.order_id != order_id
        or (return_id and existing.return_case_id != return_id)
        or (complaint_id and existing.complaint_id != complaint_id)
        or (amount is not None and existing.amount != amount)
    ):
        raise Conflict(
            _("This idempotency key was already used for a different refund."),
            field="idempotency_key",
            code="idempotency_key_reused",
        )


def refund_create(
    *,
    order_id: int,
    amount: Any,
    method: str,
    idempotency_key: str,
    actor: User | None,
    iban: str = "",
    reason: str = "",
    return_id: int | None = None,
    complaint_id: int | None = None,
) -> Refund:
    """Record a refund against an order, never more than paid minus already refunded (the order row is
    locked while checking). The idempotency key is stored with it before any outside call; the same key again
    returns the refund already recorded. The send happens after commit (worker, connector)."""
    if not _KEY.match(idempotency_key or ""):
        raise DomainError(
            _("The idempotency key must be 8-80 letters, digits or _.:-"), field="idempotency_key"
        )
    value = _money(amount)
    if method not in RefundMethod.values:
        raise DomainError(_("Unknown refund method %(method)s") % {"method": method}, field="method")
    existing = Refund.objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        _same_request(
            existing, order_id=order_id, return_id=return_id, complaint_id=complaint_id, amount=value
        )
        return existing
    account = _iban(iban) if method == RefundMethod.BANK_TRANSFER else ""
    with transaction.atomic():
        order = Order.objects.select_for_update().filter(pk=order_id).first()
        if order is None:
            raise NotFound(_("Order not found"))
        if method == RefundMethod.ORIGINAL and order.payment_method in (
            PaymentMethod.COD,
            PaymentMethod.CASH,
        ):
            raise DomainError(
                _("Order %(number)s was paid in cash: refund it by bank transfer.")
                % {"number": order.number},
                field="method",
                code="method_unavailable",
            )
        paid = selectors.paid_amount(order)
        refunded = selectors.refunded_amount(order.pk)
        available = max(Decimal("0"), paid - refunded)
        if value > available:
            raise DomainError(
                _(
                    "At most %(available)s %(currency)s can be refunded for order %(number)s (paid %(paid)s, "
                    "already refunded %(refunded)s)."
                )
                % {
                    "available": available,
                    "currency": order.currency,
                    "number": order.number,
                    "paid": paid,
                    "refunded": refunded,
                },
                field="amount",
                code="over_refund",
                available=str(available),
            )
        try:
            with transaction.atomic():
                refund = Refund.objects.create(
                    order=order,
                    return_case_id=return_id,
                    complaint_id=complaint_id,
                    amount=value,
                    currency=order.currency,
                    method=method,
                    iban=account,
                    reason=_text(reason, field="reason", max_length=300),
                    idempotency_key=idempotency_key,
                    connector=connectors.code_for(method=method, order_payment_method=order.payment_method),
                    created_by=actor,
                )
        except IntegrityError:  # the same key recorded concurrently
            existing = Refund.objects.get(idempotency_key=idempotency_key)
            _same_request(
                existing, order_id=order_id, return_id=return_id, complaint_id=complaint_id, amount=value
            )
            return existing
        _audit(refund, "created", actor, {"amount": [None, value], "method": [None, method]}, reason=reason)
        case = refund.return_case or refund.complaint
        if case is not None:
            _event(
                case=case,
                kind=CaseEvent.Kind.REFUND,
                actor=actor,
                message=_("Refund of %(amount)s %(currency)s recorded (%(method)s).")
                % {"amount": value, "currency": order.currency, "method": RefundMethod(method).label},
                data={"refund_id": refund.pk, "state": refund.state},
            )
        _after_commit("send_refund_task", refund.pk)
    return refund


def _refund_request(refund: Refund) -> connectors.RefundRequest:
    return connectors.RefundRequest(
        idempotency_key=refund.idempotency_key,
        amount=refund.amount,
        currency=refund.currency,
        method=refund.method,
        iban=refund.iban,
        order_number=refund.order.number,
        order_payment_method=refund.order.payment_method,
        title=f"{refund.order.number} {refund.reason}"[:140],
    )


def refund_send(*, refund_id: int) -> Refund | None:
    """Hand one recorded refund to its connector. Claimed with a conditional update (pending -> processing),
    so it is handed over by one worker at a time; the connector gets the stored idempotency key, so a
    re-send after a crash is recognised by the provider. Returns the refund, or None when not claimed."""
    now = timezone.now()
    claimed = Refund.objects.filter(pk=refund_id, state=RefundState.PENDING).update(
        state=RefundState.PROCESSING, processing_since=now, attempts=F("attempts") + 1
    )
    if not claimed:
        return None
    refund = Refund.objects.select_related("order", "return_case", "complaint").get(pk=refund_id)
    case = refund.return_case or refund.complaint
    try:
        result = connectors.get(refund.connector).send(_refund_request(refund))
    except connectors.TemporaryFailure as exc:
        with transaction.atomic():
            Refund.objects.filter(pk=refund.pk, state=RefundState.PROCESSING).update(
                state=RefundState.PENDING, last_error=str(exc)[:500]
            )
            if case is not None:
                _event(
                    case=case,
                    kind=CaseEvent.Kind.REFUND,
                    actor=None,
                    label=refund.connector,
                    message=_("Refund not sent yet (%(error)s); it will be retried with the same key.")
                    % {"error": str(exc)[:200]},
                    data={"refund_id": refund.pk},
                )
        return refund
    except connectors.Refused as exc:
        with transaction.atomic():
            Refund.objects.filter(pk=refund.pk, state=RefundState.PROCESSING).update(
                state=RefundState.FAILED, last_error=str(exc)[:500]
            )
            _audit(
                refund,
                "failed",
                None,
                {"state": [RefundState.PROCESSING, RefundState.FAILED]},
                reason=str(exc),
                label=refund.connector,
            )
            if case is not None:
                _event(
                    case=case,
                    kind=CaseEvent.Kind.REFUND,
                    actor=None,
                    label=refund.connector,
                    message=_("Refund refused by the provider: %(error)s") % {"error": str(exc)[:200]},
                    data={"refund_id": refund.pk, "state": RefundState.FAILED},
                )
        refund.refresh_from_db()
        return refund
    if result.status == "done":
        _refund_done(
            refund.pk,
            actor=None,
            reference=result.reference,
            label=refund.connector,
            from_states=(RefundState.PROCESSING,),
        )
    else:
        with transaction.atomic():
            Refund.objects.filter(pk=refund.pk, state=RefundState.PROCESSING).update(
                state=RefundState.AWAITING_CONFIRMATION,
                provider_reference=result.reference[:120],
                last_error="",
            )
            if case is not None:
                _event(
                    case=case,
                    kind=CaseEvent.Kind.REFUND,
                    actor=None,
                    label=refund.connector,
                    message=_("Refund of %(amount)s %(currency)s awaits manual transfer and confirmation.")
                    % {"amount": refund.amount, "currency": refund.currency},
                    data={"refund_id": refund.pk, "state": RefundState.AWAITING_CONFIRMATION},
                )
    refund.refresh_from_db()
    return refund


def _refund_done(
    refund_id: int, *, actor: User | None, reference: str, label: str, from_states: Iterable[str]
) -> bool:
    from zaplecze.orders import services as order_services

    now = timezone.now()
    with transaction.atomic():
        done = Refund.objects.filter(pk=refund_id, state__in=list(from_states)).update(
            state=RefundState.DONE,
            sent_at=now,
            confirmed_at=now,
            provider_reference=reference[:120],
            last_error="",
        )
        if not done:
            return False
        refund = Refund.objects.select_related("order", "return_case", "complaint").get(pk=refund_id)
        _audit(refund, "done", actor, {"state": [None, RefundState.DONE]}, label=label, reason=reference)
        case = refund.return_case or refund.complaint
        if case is not None:
            _event(
                case=case,
                kind=CaseEvent.Kind.REFUND,
                actor=actor,
                label=label,
                message=_("Refund of %(amount)s %(currency)s sent.")
                % {"amount": refund.amount, "currency": refund.currency},
                data={"refund_id": refund.pk, "state": RefundState.DONE, "reference": reference},
            )
        order = Order.objects.select_for_update().get(pk=refund.order_id)
        refunded = Refund.objects.filter(order_id=order.pk, state=RefundState.DONE).values_list(
            "amount", flat=True
        )
        total = sum(refunded, Decimal("0"))
        status = PaymentStatus.REFUNDED if total >= order.total_gross else PaymentStatus.PARTIALLY_REFUNDED
        if order.payment_status != status:
            order_services.order_edit(
                order_id=order.pk,
                expected_version=order.version,
                changes={"payment_status": status},
                actor=actor,
                reason=_("Refund of %(amount)s") % {"amount": refund.amount},
            )
        ctx = {
            "refund": refund,
            "order": order,
            "iban": stdnum_iban.format(refund.iban) if refund.iban else "",
        }
        language = case.language if case is not None else "pl"
        outbox_enqueue(
            key=f"refund:{refund.pk}:sent",
            kind="refund_sent",
            to=case.email if case else order.email,
            language=language,
            context=ctx,
            return_case=refund.return_case,
            complaint=refund.complaint,
            refund=refund,
            actor=actor,
        )
    return True


def refund_confirm(*, refund_id: int, actor: User | None, reference: str = "") -> Refund:
    """A person sent the money (manual connector): record it as done. Confirming twice changes nothing."""
    reference = _text(reference, field="reference", max_length=120)
    refund = Refund.objects.filter(pk=refund_id).first()
    if refund is None:
        raise NotFound(_("Refund not found"))
    if refund.state == RefundState.DONE:
        return refund
    # A manual refund may be confirmed before the worker got to it (nothing is sent by the manual connector).
    states = [RefundState.AWAITING_CONFIRMATION] + (
        [RefundState.PENDING] if refund.connector == "manual" else []
    )
    if not _refund_done(refund_id, actor=actor, reference=reference, label=_label(actor), from_states=states):
        refund.refresh_from_db()
        if refund.state != RefundState.DONE:
            raise IllegalTransition(
                _("This refund is %(state)s: only one awaiting confirmation can be confirmed.")
                % {"state": RefundState(refund.state).label},
                field="state",
            )
    refund.refresh_from_db()
    return refund


def refund_cancel(*, refund_id: int, actor: User | None, reason: str) -> Refund:
    """A refund that was not sent (pending or awaiting confirmation) is cancelled: its amount is freed."""
    reason = _text(reason, field="reason", required=True, max_length=300)
    with transaction.atomic():
        n = Refund.objects.filter(
            pk=refund_id, state__in=[RefundState.PENDING, RefundState.AWAITING_CONFIRMATION]
        ).update(state=RefundState.FAILED, last_error=reason)
        refund = Refund.objects.select_related("return_case", "complaint").filter(pk=refund_id).first()
        if refund is None:
            raise NotFound(_("Refund not found"))
        if not n:
            raise IllegalTransition(
                _("This refund is %(state)s and cannot be cancelled.")
                % {"state": RefundState(refund.state).label},
                field="state",
            )
        _audit(refund, "cancelled", actor, {"state": [None, RefundState.FAILED]}, reason=reason)
        case = refund.return_case or refund.complaint
        if case is not None:
            _event(
                case=case,
                kind=CaseEvent.Kind.REFUND,
                actor=actor,
                message=_("Refund cancelled: %(reason)s") % {"reason": reason},
                data={"refund_id": refund.pk, "state": RefundState.FAILED},
            )
    return refund


#: A refund stuck "processing" this long (the worker died during the provider call) is sent again with the
#: same idempotency key.
REFUND_STUCK_AFTER = dt.timedelta(minutes=10)


def refunds_retry_due(*, now: dt.datetime | None = None, limit: int = 100) -> int:
    now = now or timezone.now()
    Refund.objects.filter(state=RefundState.PROCESSING, processing_since__lt=now - REFUND_STUCK_AFTER).update(
        state=RefundState.PENDING
    )
    ids = list(
        Refund.objects.filter(state=RefundState.PENDING).order_by("id").values_list("pk", flat=True)[:limit]
    )
    return sum(1 for pk in ids if refund_send(refund_id=pk) is not None)


# =========================================================================================================
# Complaints
# =========================================================================================================

PHOTO_TYPES = {
    b"\xff\xd8\xff": ("image/jpeg", ".jpg"),
    b"\x89PNG\r\n\x1a\n": ("image/png", ".png"),
    b"%PDF-": ("application/pdf", ".pdf"),
}
MAX_PHOTO_BYTES = 8 * 1024 * 1024
MAX_PHOTOS = 10


def _check_remedy(*, customer_type: str, remedy: str, reason: str, immaterial: bool, field: str) -> None:
    """upk art. 43d-43e: repair or replacement first; a price reduction or withdrawal only with one of the
    statutory reasons; no withdrawal for an immaterial non-conformity. Businesses: kc art. 560 (not enforced)."""
    if remedy not in Remedy.values:
        raise DomainError(_("Unknown remedy %(remedy)s") % {"remedy": remedy}, field=field)
    if reason and reason not in StatutoryReason.values:
        raise DomainError(
            _("Unknown statutory reason %(reason)s") % {"reason": reason}, field="statutory_reason"
        )
    if not rules.has_consumer_rights(customer_type):
        return
    if remedy in rules.SECOND_REMEDIES and not reason:
        raise DomainError(
            _(
                "%(remedy)s is possible only after repair or replacement, or with one of the statutory reasons "
                "(upk art. 43e ust. 1): choose the reason."
            )
            % {"remedy": Remedy(remedy).label},
            field="statutory_reason",
            code="remedy_order",
        )
    if remedy == Remedy.WITHDRAWAL and immaterial and rules.NO_WITHDRAWAL_WHEN_IMMATERIAL:
        raise DomainError(
            _(
                "No withdrawal for an immaterial non-conformity (upk art. 43e ust. 4); a price "
                "reduction is possible."
            ),
            field=field,
            code="immaterial",
        )


def complaint_create(
    *,
    order_line_id: int,
    defect: str,
    requested_remedy: str,
    actor: User | None,
    quantity: int = 1,
    noticed_on: dt.date | None = None,
    received_at: dt.datetime | None = None,
    statutory_reason: str = "",
    immaterial: bool = False,
    requested_amount: Any = None,
    email: str = "",
    source: str = Source.STAFF,
    language: str = "pl",
) -> Complaint:
    """Register a complaint about an order line, with the reply deadline (14 days for consumers, deemed
    accepted after; none for businesses) and the liability check (2 years from delivery)."""
    now = timezone.now()
    received_at = received_at or now
    if timezone.is_naive(received_at):
        raise DomainError(_("The time must include a time zone."), field="received_at")
    if received_at > now + dt.timedelta(minutes=5):
        raise DomainError(_("The time cannot be in the future."), field="received_at")
    defect = _text(defect, field="defect", required=True)
    line = OrderLine.objects.select_related("order").filter(pk=order_line_id).first()
    if line is None:
        raise NotFound(_("Order line not found"))
    order = line.order
    if not (1 <= int(quantity) <= line.quantity):
        raise DomainError(
            _("The quantity must be between 1 and %(n)s.") % {"n": line.quantity}, field="quantity"
        )
    _check_remedy(
        customer_type=order.customer_type,
        remedy=requested_remedy,
        reason=statutory_reason,
        immaterial=immaterial,
        field="requested_remedy",
    )
    amount = (
        _money(requested_amount, field="requested_amount") if requested_amount not in (None, "") else None
    )
    received_on = local_date(received_at)
    if noticed_on is not None and noticed_on > received_on:
        raise DomainError(
            _("The defect cannot be noticed after the complaint was received."), field="noticed_on"
        )
    reply = deadlines.complaint_response_deadline(received_on, customer_type=order.customer_type)
    liability = within = None
    if order.delivered_at is not None:
        liab = deadlines.complaint_liability(
            local_date(order.delivered_at), customer_type=order.customer_type
        )
        liability = liab.deadline
        within = (noticed_on or received_on) <= liab.deadline
    late = (
        not rules.has_consumer_rights(order.customer_type)
        and noticed_on is not None
        and (received_on - noticed_on).days > rules.B2B_PROMPT_NOTICE_DAYS
    )
    with transaction.atomic():
        c = Complaint.objects.create(
            order=order,
            order_line=line,
            quantity=int(quantity),
            source=source,
            customer_type=order.customer_type,
            email=(email or order.email).strip()[:254],
            language=language or "pl",
            defect=defect,
            noticed_on=noticed_on,
            received_at=received_at,
            requested_remedy=requested_remedy,
            requested_amount=amount,
            statutory_reason=statutory_reason,
            immaterial=immaterial,
            response_due=reply.deadline,
            escalate_on=reply.warn_on,
            deemed_acceptance=reply.deemed_accepted_after,
            liability_until=liability,
            within_liability=within,
            late_notice=late,
            created_at=now,
            updated_at=now,
        )
        _event(
            case=c,
            kind=CaseEvent.Kind.CREATED,
            actor=actor,
            label=_label(actor, source),
            to_state=c.state,
            message=defect,
            data={
                "response_due": reply.deadline.isoformat(),
                "rule": [str(s) for s in reply.rule],
                "liability_until": liability.isoformat() if liability else None,
            },
        )
        if within is False:
            _event(
                case=c,
                kind=CaseEvent.Kind.NOTE,
                actor=None,
                message=_("The defect appeared after the liability period, which ended on %(date)s.")
                % {"date": deadlines.day(liability)},
            )
        if late:
            _event(
                case=c,
                kind=CaseEvent.Kind.NOTE,
                actor=None,
                message=_(
                    "Business buyer: the defect was notified more than %(n)s days after it was noticed "
                    "(kc art. 563)."
                )
                % {"n": rules.B2B_PROMPT_NOTICE_DAYS},
            )
        _audit(c, "created", actor, {"state": [None, c.state]})
        outbox_enqueue(
            key=f"complaint:{c.pk}:received",
            kind="complaint_received",
            to=c.email,
            language=c.language,
            context={"case": c, "order": order, "line": line},
            complaint=c,
            actor=actor,
        )
    return c


def complaint_add_photo(
    *, complaint_id: int, filename: str, content: bytes, actor: User | None
) -> ComplaintPhoto:
    """Attach a photo (JPEG or PNG) or a PDF, checked by its first bytes, at most 8 MB, 10 per case."""
    from django.core.files.base import ContentFile

    if len(content) > MAX_PHOTO_BYTES:
        raise DomainError(
            _("The file is larger than %(mb)s MB.") % {"mb": MAX_PHOTO_BYTES // (1024 * 1024)},
            field="photo",
            code="too_large",
        )
    kind = next((v for magic, v in PHOTO_TYPES.items() if content.startswith(magic)), None)
    if kind is None:
        raise DomainError(
            _("Only JPEG or PNG photos and PDF files can be attached."), field="photo", code="bad_type"
        )
    content_type, ext = kind
    safe = (
        re.sub(r"[^A-Za-z0-9_.-]+", "_", (filename or "photo").rsplit("/", 1)[-1])[:80].strip("._") or "photo"
    )
    if not safe.lower().endswith(ext):
        safe += ext
    with transaction.atomic():
        c = _lock_complaint(complaint_id)
        if c.photos.count() >= MAX_PHOTOS:
            raise DomainError(
                _("At most %(n)s files per complaint.") % {"n": MAX_PHOTOS}, field="photo", code="too_many"
            )
        photo = ComplaintPhoto(complaint=c, filename=safe, content_type=content_type, size=len(content))
        photo.file.save(safe, ContentFile(content), save=False)
        photo.save()
        _event(case=c, kind=CaseEvent.Kind.PHOTO, actor=actor, message=safe, data={"photo_id": photo.pk})
    return photo


def _lock_complaint(complaint_id: int, expected_version: int | None = None) -> Complaint:
    c = (
        Complaint.objects.select_for_update()
        .select_related("order", "order_line")
        .filter(pk=complaint_id)
        .first()
    )
    if c is None:
        raise NotFound(_("Complaint not found"))
    if expected_version is not None and c.version != expected_version:
        raise Conflict(
            _("Complaint %(number)s was changed by someone else in the meantime. Reload it and try again.")
            % {"number": c.number},
            current_version=c.version,
        )
    return c


def _complaint_move(
    c: Complaint,
    to_state: str,
    actor: User | None,
    *,
    message: str = "",
    fields: Iterable[str] = (),
    label: str | None = None,
    data: dict | None = None,
) -> None:
    if not c.can_move_to(to_state):
        raise IllegalTransition(
            _("Complaint %(number)s cannot go from “%(src)s” to “%(dst)s”.")
            % {
                "number": c.number,
                "src": ComplaintState(c.state).label,
                "dst": ComplaintState(to_state).label,
            },
            field="state",
        )
    from_state = c.state
    now = timezone.now()
    c.state = to_state
    c.version += 1
    c.updated_at = now
    c.save(update_fields=["state", "version", "updated_at", *fields])
    _event(
        case=c,
        kind=CaseEvent.Kind.STATE,
        actor=actor,
        label=label,
        from_state=from_state,
        to_state=to_state,
        message=message,
        at=now,
        data=data,
    )
    _audit(c, "state_changed", actor, {"state": [from_state, to_state]}, reason=message, label=label)


def complaint_decide(
    *,
    complaint_id: int,
    accept: bool,
    actor: User | None,
    text: str = "",
    remedy: str = "",
    reason: str = "",
    expected_version: int | None = None,
) -> Complaint:
    """Decide a complaint. Accepting needs the remedy (in the statutory order); rejecting needs the reasons.
    The decision letter (PDF, in the customer's language) is e-mailed through the outbox; the moment it is
    sent is the reply date."""
    from . import letters

    text = _text(text, field="text", required=not accept)
    with transaction.atomic():
        c = _lock_complaint(complaint_id, expected_version)
        if c.state != ComplaintState.RECEIVED:
            raise IllegalTransition(
                _("Complaint %(number)s was already decided.") % {"number": c.number}, field="state"
            )
        if accept:
            remedy = remedy or c.requested_remedy
            reason = reason or (c.statutory_reason if remedy in rules.SECOND_REMEDIES else "")
            _check_remedy(
                customer_type=c.customer_type,
                remedy=remedy,
                reason=reason,
                immaterial=c.immaterial,
                field="remedy",
            )
            c.decision_remedy, c.decision_reason = remedy, reason
        c.decision_text = text
        c.decided_at = timezone.now()
        to_state = ComplaintState.ACCEPTED if accept else ComplaintState.REJECTED
        _complaint_move(
            c,
            to_state,
            actor,
            message=text,
            fields=["decision_remedy", "decision_reason", "decision_text", "decided_at"],
            data={"remedy": c.decision_remedy, "reason": c.decision_reason},
        )
        pdf = letters.decision_pdf(c)
        filename = letters.decision_filename(c)
        _event(case=c, kind=CaseEvent.Kind.LETTER, actor=actor, message=filename, data={"bytes": len(pdf)})
        email = outbox_enqueue(
            key=f"complaint:{c.pk}:decision",
            kind="complaint_decision",
            to=c.email,
            language=c.language,
            context={"case": c, "order": c.order},
            complaint=c,
            attachments=[(filename, "application/pdf", pdf)],
            actor=actor,
        )
        if email is None:
            _event(
                case=c,
                kind=CaseEvent.Kind.NOTE,
                actor=None,
                message=_("Send the decision letter another way and record the date it was sent."),
            )
    return c


def _complaint_mark_responded(complaint_id: int, sent_at: dt.datetime) -> None:
    c = _lock_complaint(complaint_id)
    if c.responded_at is not None:
        return
    c.responded_at = sent_at
    c.save(update_fields=["responded_at"])
    late = c.deemed_acceptance and local_date(sent_at) > c.response_due
    msg = (
        _("Reply sent on %(date)s, after the deadline of %(due)s.")
        if late
        else _("Reply sent on %(date)s (deadline %(due)s).")
    )
    _event(
        case=c,
        kind=CaseEvent.Kind.NOTE,
        actor=None,
        label="mail",
        at=sent_at,
        message=msg % {"date": deadlines.day(local_date(sent_at)), "due": deadlines.day(c.response_due)},
    )
    _audit(c, "responded", None, {"responded_at": [None, sent_at]}, label="mail")


def complaint_record_response(
    *, complaint_id: int, sent_at: dt.datetime, actor: User | None, how: str
) -> Complaint:
    """The decision reached the customer another way (letter by post, in person): record when it was sent."""
    how = _text(how, field="how", required=True, max_length=300)
    if timezone.is_naive(sent_at) or sent_at > timezone.now() + dt.timedelta(minutes=5):
        raise DomainError(_("Give the time the reply was sent (not in the future)."), field="sent_at")
    with transaction.atomic():
        c = _lock_complaint(complaint_id)
        if c.decided_at is None:
            raise IllegalTransition(_("Decide the complaint first."), field="state")
        _event(case=c, kind=CaseEvent.Kind.NOTE, actor=actor, message=how)
        _complaint_mark_responded(c.pk, sent_at)
    c.refresh_from_db()
    return c


def complaints_deem_accepted(*, today: dt.date | None = None) -> list[int]:
    """Worker's periodic job: every consumer complaint without a reply sent by its deadline is deemed
    accepted (upk art. 7a), with the remedy the customer asked for. Idempotent. Returns the ids moved."""
    today = today or local_today()
    moved = []
    for cid in list(selectors.complaints_to_deem_accepted(today).values_list("pk", flat=True)):
        with transaction.atomic():
            c = _lock_complaint(cid)
            if (
                c.responded_at is not None
                or not c.deemed_acceptance
                or c.response_due >= today
                or not c.can_move_to(ComplaintState.DEEMED_ACCEPTED)
            ):
                continue
            c.deemed_accepted_at = timezone.now()
            if not c.decision_remedy or c.state == ComplaintState.REJECTED:
                c.decision_remedy = c.requested_remedy
            _complaint_move(
                c,
                ComplaintState.DEEMED_ACCEPTED,
                None,
                label="deadline",
                fields=["deemed_accepted_at", "decision_remedy"],
                message=_(
                    "No reply was sent by %(due)s: the complaint is deemed accepted (upk art. 7a), "
                    "with the remedy asked for: %(remedy)s."
                )
                % {"due": deadlines.day(c.response_due), "remedy": Remedy(c.requested_remedy).label},
            )
            moved.append(cid)
    return moved


def complaints_escalate(*, today: dt.date | None = None) -> list[int]:
    """Mark unanswered complaints that reached their escalation day (once per complaint)."""
    today = today or local_today()
    ids = list(
        Complaint.objects.filter(
            state=ComplaintState.RECEIVED, responded_at__isnull=True, escalate_on__lte=today
        )
        .exclude(events__kind=CaseEvent.Kind.ESCALATED)
        .values_list("pk", flat=True)
    )
    for cid in ids:
        with transaction.atomic():
            c = _lock_complaint(cid)
            _event(
                case=c,
                kind=CaseEvent.Kind.ESCALATED,
                actor=None,
                label="deadline",
                message=_("No reply yet; the deadline is %(due)s.") % {"due": deadlines.day(c.response_due)},
            )
    return ids


def _replacement_order(c: Complaint, actor: User | None) -> Order:
    from zaplecze.orders.schemas import OrderIn
    from zaplecze.orders.services import ingest_order

    order, line = c.order, c.order_line
    data = OrderIn.model_validate(
        {
            "channel": "manual",
            "external_id": f"complaint-{c.pk}",
            "number": f"{order.number}-W{c.pk}"[:100],
            "placed_at": timezone.now(),
            "currency": order.currency,
            "customer_type": order.customer_type,
            "customer_name": order.customer_name,
            "email": order.email,
            "phone": order.phone,
            "company": order.company,
            "nip": order.nip,
            "shipping_address": order.shipping_address or None,
            "payment_method": "other",
            "payment_status": "paid",
            "delivery_method": order.delivery_method,
            "pickup_point": order.pickup_point,
            "notes": _("Replacement for complaint %(number)s") % {"number": c.number},
            "lines": [
                {
                    "sku": line.sku,
                    "ean": line.ean,
                    "name": line.name,
                    "quantity": c.quantity,
                    "unit_price_gross": "0",
                    "vat_rate": line.vat_rate,
                }
            ],
        }
    )
    return ingest_order(data, actor=actor, source="service").order


def complaint_resolve(
    *,
    complaint_id: int,
    actor: User | None,
    note: str = "",
    amount: Any = None,
    method: str = RefundMethod.ORIGINAL,
    iban: str = "",
    idempotency_key: str = "",
) -> Complaint:
    """Carry out the accepted remedy: replacement (a free replacement order), repair (a note), price
    reduction (a partial refund of `amount`) or withdrawal (a refund of the line's price for the quantity)."""
    note = _text(note, field="note", max_length=MAX_REASON)
    with transaction.atomic():
        c = _lock_complaint(complaint_id)
        if c.state not in (ComplaintState.ACCEPTED, ComplaintState.DEEMED_ACCEPTED):
            raise IllegalTransition(_("Only an accepted complaint can be resolved."), field="state")
        remedy = c.decision_remedy or c.requested_remedy
        fields = ["resolution", "resolution_note", "resolved_at"]
        data: dict[str, Any] = {"remedy": remedy}
        if remedy == Remedy.REPLACEMENT:
            c.replacement_order = _replacement_order(c, actor)
            fields.append("replacement_order")
            data["replacement_order_id"] = c.replacement_order.pk
        elif remedy == Remedy.REPAIR:
            if not note:
                raise DomainError(_("Describe the repair."), field="note", code="required")
        else:
            if remedy == Remedy.WITHDRAWAL:
                value = amount if amount not in (None, "") else c.order_line.unit_price_gross * c.quantity
            else:
                value = amount if amount not in (None, "") else c.requested_amount
                if value in (None, ""):
                    raise DomainError(
                        _("Give the amount of the price reduction."), field="amount", code="required"
                    )
            refund = refund_create(
                order_id=c.order_id,
                amount=value,
                method=method,
                iban=iban,
                idempotency_key=idempotency_key or f"complaint-{c.pk}-resolution",
                actor=actor,
                reason=c.number,
                complaint_id=c.pk,
            )
            data["refund_id"] = refund.pk
        c.resolution, c.resolution_note, c.resolved_at = remedy, note, timezone.now()
        _complaint_move(
            c, ComplaintState.RESOLVED, actor, message=note or Remedy(remedy).label, fields=fields, data=data
        )
    return c


def complaint_close(*, complaint_id: int, actor: User | None, note: str = "") -> Complaint:
    with transaction.atomic():
        c = _lock_complaint(complaint_id)
        c.closed_at = timezone.now()
        _complaint_move(
            c,
            ComplaintState.CLOSED,
            actor,
            message=_text(note, field="note", max_length=MAX_REASON),
            fields=["closed_at"],
        )
    return c


# =========================================================================================================
# Helpdesk: tickets, messages, SLA timers, canned replies, e-mail in
# =========================================================================================================

#: House SLA targets in working hours (business days, core.businesstime working hours) per priority:
#: (first response, resolution). The clock pauses while waiting for the customer.
TICKET_SLA_HOURS = {"urgent": (2, 8), "high": (4, 16), "normal": (8, 40), "low": (16, 80)}
MAX_MESSAGE = 100_000
_TICKET_TAG = re.compile(r"\[T-0*(\d{1,12})\]")
_EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")


def _ticket_models():
    from .models import CannedReply, Ticket, TicketMessage, TicketStatus

    return Ticket, TicketMessage, TicketStatus, CannedReply


def _check_email(value: str, field: str = "email") -> str:
    value = (value or "").strip().lower()
    if not _EMAIL.match(value) or len(value) > 254:
        raise DomainError(
            _("%(value)s is not an e-mail address.") % {"value": value[:60] or "—"}, field=field
        )
    return value


def sla_clock(ticket, now: dt.datetime | None = None) -> int:
    """Business seconds the ticket's SLA clock has run (stopped while waiting for the customer)."""
    from zaplecze.core.businesstime import business_seconds_between

    running = business_seconds_between(ticket.sla_since, now or timezone.now()) if ticket.sla_since else 0
    return ticket.sla_seconds + running


def _sla_to(ticket, status: str, now: dt.datetime) -> None:
    """Stop, start or keep the SLA clock for the ticket's new status (called before saving it)."""
    from .models import SLA_STOPPED_STATUSES, TicketStatus

    runs = status not in SLA_STOPPED_STATUSES
    if ticket.sla_since is not None and not runs:
        ticket.sla_seconds = sla_clock(ticket, now)
        ticket.sla_since = None
    elif ticket.sla_since is None and runs:
        ticket.sla_since = now
    if status in (TicketStatus.SOLVED, TicketStatus.CLOSED):
        if ticket.solved_at is None:
            ticket.solved_at = now
            ticket.resolution_sla_seconds = ticket.sla_seconds
    else:
        ticket.solved_at = None
        ticket.resolution_sla_seconds = None


_TICKET_SAVE_FIELDS = [
    "status",
    "sla_seconds",
    "sla_since",
    "solved_at",
    "resolution_sla_seconds",
    "version",
    "updated_at",
]


def _ticket_message(
    ticket,
    *,
    direction: str,
    actor: User | None,
    body: str = "",
    subject: str = "",
    label: str = "",
    message_id: str = "",
    email: OutboxEmail | None = None,
    data: dict | None = None,
    at: dt.datetime | None = None,
):
    _, TicketMessage, _, _ = _ticket_models()
    return TicketMessage.objects.create(
        ticket=ticket,
        direction=direction,
        at=at or timezone.now(),
        author=actor,
        author_label=label or _label(actor),
        subject=subject[:300],
        body=body[:MAX_MESSAGE],
        message_id=message_id[:300],
        email=email,
        data=data or {},
    )


def _lock_ticket(ticket_id: int, expected_version: int | None = None):
    Ticket, _, _, _ = _ticket_models()
    t = Ticket.objects.select_for_update().filter(pk=ticket_id).first()
    if t is None:
        raise NotFound(_("Ticket not found"))
    if expected_version is not None and t.version != expected_version:
        raise Conflict(
            _("Ticket %(number)s was changed by someone else in the meantime. Reload it and try again.")
            % {"number": t.number},
            current_version=t.version,
        )
    return t


def _ticket_move(t, status: str, actor: User | None, *, note: str = "", label: str = "") -> None:
    from .models import TicketStatus

    if status == t.status:
        return
    if status not in TicketStatus.values:
        raise DomainError(_("Unknown status %(status)s") % {"status": status}, field="status")
    if not t.can_move_to(status):
        raise IllegalTransition(
            _("Ticket %(number)s cannot go from “%(src)s” to “%(dst)s”.")
            % {"number": t.number, "src": TicketStatus(t.status).label, "dst": TicketStatus(status).label},
            field="status",
        )
    now = timezone.now()
    before = t.status
    _sla_to(t, status, now)
    t.status = status
    t.version += 1
    t.updated_at = now
    t.save(update_fields=_TICKET_SAVE_FIELDS)
    _ticket_message(
        t, direction="event", actor=actor, label=label, body=note, data={"from": before, "to": status}, at=now
    )
    audit_record(
        obj_type="service.ticket",
        obj_id=t.pk,
        action="status_changed",
        actor=actor,
        changes={"status": [before, status]},
        reason=note,
        label=label or _label(actor),
    )


def ticket_create(
    *,
    subject: str,
    body: str,
    email: str,
    actor: User | None,
    name: str = "",
    queue: str = "service",
    priority: str = "normal",
    channel: str = "staff",
    order_ids: Iterable[int] = (),
    language: str = "pl",
    message_id: str = "",
    acknowledge: bool = False,
    at: dt.datetime | None = None,
):
    """Open a ticket with the customer's first message, linked to the customer (by e-mail) and orders."""
    from zaplecze.orders.models import Customer

    from .models import TicketChannel, TicketPriority, TicketQueue

    Ticket, _tm, TicketStatus, _cr = _ticket_models()
    email = _check_email(email)
    subject = _text(subject, field="subject", required=True, max_length=300)
    body = _text(body, field="body", max_length=MAX_MESSAGE)
    name = _text(name, field="name", max_length=200)
    for value, choices, field in (
        (queue, TicketQueue, "queue"),
        (priority, TicketPriority, "priority"),
        (channel, TicketChannel, "channel"),
    ):
        if value not in choices.values:
            raise DomainError(
                _("Unknown %(field)s %(value)s") % {"field": field, "value": value}, field=field
            )
    now = at or timezone.now()
    orders = list(Order.objects.filter(pk__in=list(order_ids)))
    with transaction.atomic():
        t = Ticket.objects.create(
            subject=subject,
            email=email,
            name=name,
            queue=queue,
            priority=priority,
            channel=channel,
            language=language or "pl",
            customer=Customer.objects.filter(email__iexact=email).order_by("id").first(),
            status=TicketStatus.NEW,
            sla_since=now,
            search_text=f"{subject}\n{name}\n{email}\n{body}".lower()[:20000],
            created_at=now,
            updated_at=now,
        )
        if orders:
            t.orders.add(*orders)
        _ticket_message(
            t,
            direction="in",
            actor=actor if channel == "staff" else None,
            label="" if channel == "staff" else (name or email),
            body=body,
            subject=subject,
            message_id=message_id,
            at=now,
        )
        audit_record(
            obj_type="service.ticket",
            obj_id=t.pk,
            action="created",
            actor=actor,
            changes={"status": [None, t.status]},
            label=_label(actor, channel),
        )
        if acknowledge:
            outbox_enqueue(
                key=f"ticket:{t.pk}:received",
                kind="ticket_received",
                to=email,
                language=t.language,
                context={"ticket": t, "case": t},
                ticket=t,
                actor=actor,
                headers={"In-Reply-To": message_id, "References": message_id} if message_id else None,
            )
    return t


def ticket_transition(
    *, ticket_id: int, status: str, actor: User | None, note: str = "", expected_version: int | None = None
):
    note = _text(note, field="note", max_length=2000)
    with transaction.atomic():
        t = _lock_ticket(ticket_id, expected_version)
        _ticket_move(t, status, actor, note=note)
    return t


def ticket_update(
    *,
    ticket_id: int,
    actor: User | None,
    queue: str | None = None,
    priority: str | None = None,
    assignee_id: int | None | bool = False,
    tags: Iterable[str] | None = None,
    expected_version: int | None = None,
):
    """Change the queue, priority, assignee (None: nobody; False: unchanged) or tags of a ticket."""
    from .models import TicketPriority, TicketQueue

    with transaction.atomic():
        t = _lock_ticket(ticket_id, expected_version)
        before = {"queue": t.queue, "priority": t.priority, "assignee": t.assignee_id, "tags": list(t.tags)}
        if queue is not None:
            if queue not in TicketQueue.values:
                raise DomainError(_("Unknown queue %(value)s") % {"value": queue}, field="queue")
            t.queue = queue
        if priority is not None:
            if priority not in TicketPriority.values:
                raise DomainError(_("Unknown priority %(value)s") % {"value": priority}, field="priority")
            t.priority = priority
        if assignee_id is not False:
            if assignee_id is not None and not User.objects.filter(pk=assignee_id, is_active=True).exists():
                raise DomainError(_("No such user"), field="assignee")
            t.assignee_id = assignee_id
        if tags is not None:
            clean = sorted(
                {_text(tag, field="tags", max_length=50).lower() for tag in tags if str(tag).strip()}
            )
            if len(clean) > 20:
                raise DomainError(_("At most 20 tags."), field="tags")
            t.tags = clean
        after = {"queue": t.queue, "priority": t.priority, "assignee": t.assignee_id, "tags": list(t.tags)}
        changes = diff(before, after)
        if not changes:
            return t
        t.version += 1
        t.updated_at = timezone.now()
        t.save(update_fields=["queue", "priority", "assignee", "tags", "version", "updated_at"])
        _ticket_message(t, direction="event", actor=actor, data={"changes": changes})
        audit_record(obj_type="service.ticket", obj_id=t.pk, action="updated", actor=actor, changes=changes)
    return t


def ticket_link_order(*, ticket_id: int, order_id: int, actor: User | None, unlink: bool = False):
    with transaction.atomic():
        t = _lock_ticket(ticket_id)
        order = Order.objects.filter(pk=order_id).first()
        if order is None:
            raise NotFound(_("Order not found"))
        (t.orders.remove if unlink else t.orders.add)(order)
        _ticket_message(t, direction="event", actor=actor, data={"order": order.number, "linked": not unlink})
    return t


def ticket_note(*, ticket_id: int, body: str, actor: User | None):
    body = _text(body, field="body", required=True, max_length=MAX_MESSAGE)
    with transaction.atomic():
        t = _lock_ticket(ticket_id)
        return _ticket_message(t, direction="note", actor=actor, body=body)


def ticket_reply(
    *,
    ticket_id: int,
    body: str,
    actor: User | None,
    status_after: str = "waiting_customer",
    expected_version: int | None = None,
):
    """Reply to the customer by e-mail (outbox, threaded by In-Reply-To/References and the [T-...] tag in
    the subject). The first reply stops the first-response timer; by default the ticket then waits for the
    customer (the SLA clock pauses)."""
    body = _text(body, field="body", required=True, max_length=MAX_MESSAGE)
    with transaction.atomic():
        t = _lock_ticket(ticket_id, expected_version)
        last_in = t.messages.filter(direction="in").exclude(message_id="").order_by("-at", "-id").first()
        refs = [
            m
            for m in t.messages.exclude(message_id="")
            .order_by("at", "id")
            .values_list("message_id", flat=True)
        ]
        headers = {}
        if last_in is not None:
            headers["In-Reply-To"] = last_in.message_id
        if refs:
            headers["References"] = " ".join(refs[-20:])
        subject = t.subject if t.subject.lower().startswith("re:") else f"Re: {t.subject}"
        subject = f"{subject} [{t.number}]"
        signature = "\n-- \n" + emails.shop()["name"]
        n = t.messages.filter(direction="out").count() + 1
        email = outbox_enqueue(
            key=f"ticket:{t.pk}:reply:{n}",
            kind="ticket_reply",
            to=t.email,
            language=t.language,
            context={},
            ticket=t,
            subject=subject,
            body=body + signature + "\n",
            headers=headers,
            actor=actor,
        )
        now = timezone.now()
        _ticket_message(
            t,
            direction="out",
            actor=actor,
            body=body,
            subject=subject,
            message_id=email.message_id if email else "",
            email=email,
            at=now,
        )
        if t.first_response_at is None:
            t.first_response_at = now
            t.first_response_sla_seconds = sla_clock(t, now)
            t.save(update_fields=["first_response_at", "first_response_sla_seconds"])
        t.search_text = (t.search_text + "\n" + body.lower())[-20000:]
        t.save(update_fields=["search_text"])
        if status_after and status_after != t.status:
            _ticket_move(t, status_after, actor)
    return t


def _decode_part(part) -> str:
    payload = part.get_payload(decode=True) or b""
    charset = part.get_content_charset() or ""
    if charset:
        try:
            return payload.decode(charset)
        except (LookupError, UnicodeDecodeError):
            pass
    return _guess_text(payload)


_POLISH_LETTERS = frozenset("ąćęłńóśźżĄĆĘŁŃÓŚŹŻ")


def _guess_text(payload: bytes) -> str:
    """Text of bytes in an undeclared (or wrongly declared) charset: UTF-8 if it is; else the Polish 8-bit
    charset (windows-1250 or ISO-8859-2) that yields Polish letters and no control characters; else the best
    guess of charset_normalizer."""
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError:
        pass
    scored = []
    for charset in ("cp1250", "iso-8859-2"):
        text = payload.decode(charset, errors="replace")
        sample = text[:200_000]
        bad = sum(1 for ch in sample if ch == "\ufffd" or "\x80" <= ch <= "\x9f")
        scored.append((sum(1 for ch in sample if ch in _POLISH_LETTERS) - 5 * bad, text))
    score, text = max(scored, key=lambda pair: pair[0])
    if score > 0:
        return text
    from charset_normalizer import from_bytes

    best = from_bytes(payload[:200_000]).best()
    return str(best) if best is not None else payload.decode("latin-1")


def _attachment_name(filename) -> str:
    """An attachment's name: RFC 2231 (the parser decodes it) or encoded-words (=?iso-8859-2?q?...?=), which
    many mail programs write although the standard does not allow them there."""
    name = str(filename or "attachment")
    if "=?" in name:
        from email.header import decode_header, make_header

        try:
            name = str(make_header(decode_header(name)))
        except Exception:  # noqa: BLE001, S110 - a broken name is shown as it is
            pass
    return re.sub(r"[\x00-\x1f\ud800-\udfff]", "", name)[:200] or "attachment"


def _plain_body(msg) -> tuple[str, list[str]]:
    """The text of an e-mail (the first text/plain part, else text/html stripped) and attachment names."""
    import html as html_lib

    text_plain = text_html = fallback = None
    names: list[str] = []
    for part in msg.walk() if msg.is_multipart() else [msg]:
        if part.is_multipart():
            continue
        filename = part.get_filename()
        if filename or part.get_content_disposition() == "attachment":
            names.append(_attachment_name(filename))
            continue
        ctype = part.get_content_type()
        if ctype == "text/plain" and text_plain is None:
            text_plain = _decode_part(part)
        elif ctype == "text/html" and text_html is None:
            text_html = _decode_part(part)
        elif fallback is None and part.get_content_maintype() in ("multipart", "text"):
            # e.g. a multipart whose boundary never comes: its body is kept as text rather than lost
            fallback = _guess_text(part.get_payload(decode=False).encode("ascii", "surrogateescape"))
    if text_plain is None and text_html is None and fallback is not None:
        text_plain = fallback
    if text_plain is None and text_html is not None:
        text_plain = html_lib.unescape(
            re.sub(r"<[^>]+>", " ", re.sub(r"(?is)<(script|style).*?</\1>", "", text_html))
        )
    body = (text_plain or "").replace("\x00", "")
    return re.sub(r"[\ud800-\udfff]", "\ufffd", body)[:MAX_MESSAGE], names[:50]


@dataclass
class MailResult:
    ticket_id: int | None
    outcome: str  # "created", "appended", "duplicate", "refused"
    reason: str = ""


def ticket_receive_email(
    raw: bytes, *, max_bytes: int = 25 * 1024 * 1024, channel: str = "email"
) -> MailResult:
    """One incoming e-mail (RFC 822 bytes, as IMAP gives them): threaded into its ticket by In-Reply-To /
    References (our Message-IDs) or the [T-000123] tag in the subject, else a new ticket. The same
    Message-ID twice is stored once. Malformed, huge or non-UTF-8 mail is read as far as it goes; a message
    without a usable sender is refused (never half-written)."""
    from email import policy
    from email.parser import BytesParser
    from email.utils import getaddresses

    Ticket, TicketMessage, TicketStatus, _cr = _ticket_models()
    if len(raw) > max_bytes:
        return MailResult(None, "refused", f"larger than {max_bytes} bytes")
    try:
        msg = BytesParser(policy=policy.compat32).parsebytes(raw)
    except Exception as exc:  # noqa: BLE001 - a broken message is reported, not raised
        return MailResult(None, "refused", f"unreadable: {exc}")

    def header(name: str) -> str:
        value = msg.get(name)
        if value is None:
            return ""
        from email.header import Header, decode_header, make_header

        try:
            parts = decode_header(value if isinstance(value, Header) else str(value))
            if any(charset == "unknown-8bit" for _chunk, charset in parts):  # raw 8-bit bytes, no charset
                text = "".join(_guess_text(c) if isinstance(c, bytes) else c for c, _cs in parts)
            else:
                text = str(make_header(parts))
            return text.replace("\x00", "").strip()
        except Exception:  # noqa: BLE001
            return str(value).encode("ascii", "replace").decode().strip()

    senders = [addr for _n, addr in getaddresses([header("Reply-To") or header("From")]) if addr]
    sender_name = (getaddresses([header("From")]) or [("", "")])[0][0][:200]
    try:
        email = _check_email(senders[0] if senders else "")
    except DomainError:
        return MailResult(None, "refused", "no valid sender address")
    message_id = header("Message-ID")[:300]
    subject = re.sub(r"[\r\n\t]+", " ", header("Subject"))[:300] or _("(no subject)")
    body, attachments = _plain_body(msg)
    if message_id:
        seen = TicketMessage.objects.filter(direction="in", message_id=message_id).first()
        if seen is not None:
            return MailResult(seen.ticket_id, "duplicate")
    refs = re.findall(r"<[^<>\s]+>", header("In-Reply-To") + " " + header("References"))
    ticket = None
    if refs:
        ours = (
            TicketMessage.objects.filter(message_id__in=refs)
            .exclude(ticket__isnull=True)
            .order_by("-id")
            .first()
        )
        ticket = ours.ticket if ours else None
    if ticket is None:
        tag = _TICKET_TAG.search(subject)
        if tag:
            ticket = Ticket.objects.filter(pk=int(tag.group(1)), email__iexact=email).first()
    if ticket is None:
        t = ticket_create(
            subject=subject,
            body=body,
            email=email,
            name=sender_name,
            channel=channel,
            actor=None,
            message_id=message_id,
            acknowledge=False,
        )
        if attachments:
            TicketMessage.objects.filter(ticket=t, direction="in").update(data={"attachments": attachments})
        return MailResult(t.pk, "created")
    with transaction.atomic():
        t = _lock_ticket(ticket.pk)
        _ticket_message(
            t,
            direction="in",
            actor=None,
            label=sender_name or email,
            body=body,
            subject=subject,
            message_id=message_id,
            data={"attachments": attachments} if attachments else None,
        )
        t.search_text = (t.search_text + "\n" + body.lower())[-20000:]
        t.updated_at = timezone.now()
        t.save(update_fields=["search_text", "updated_at"])
        if t.status in (
            TicketStatus.WAITING_CUSTOMER,
            TicketStatus.SOLVED,
            TicketStatus.CLOSED,
            TicketStatus.NEW,
        ):
            _ticket_move(t, TicketStatus.OPEN, None, label="mail")
    return MailResult(t.pk, "appended")


def ticket_contact_form(
    *, name: str, email: str, subject: str, message: str, order_number: str = "", language: str = "pl"
):
    """The public contact form: a ticket, linked to the order when number and e-mail match, acknowledged by
    e-mail."""
    order = selectors.order_for_customer(order_number, email) if order_number else None
    return ticket_create(
        subject=subject,
        body=message,
        email=email,
        name=name,
        channel="form",
        actor=None,
        order_ids=[order.pk] if order else [],
        language=language,
        acknowledge=True,
    )


class _Blank(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def canned_variables(ticket) -> dict[str, str]:
    """Values for the variables of canned replies, from the ticket's newest linked order."""
    from zaplecze.core.formatting import format_money

    order = ticket.orders.order_by("-placed_at").first()
    values = {
        "customer_name": ticket.name or (order.customer_name if order else ""),
        "ticket_number": ticket.number,
        "order_number": "",
        "tracking_link": "",
        "return_deadline": "",
        "refund_amount": "",
    }
    if order is not None:
        values["order_number"] = order.number
        d = selectors.withdrawal_for_order(order).deadline
        values["return_deadline"] = deadlines.day(d) if d else ""
        refunded = selectors.refunded_amount(order.pk)
        values["refund_amount"] = format_money(refunded, order.currency) if refunded else ""
        # The newest shipment's tracking page at its carrier; else the shop's own order-tracking page.
        links = [s["tracking_url"] for s in selectors.order_shipments([order.pk]) if s["tracking_url"]]
        base = getattr(settings, "TRACKING_URL", "")
        values["tracking_link"] = links[0] if links else (base.format(order=order.number) if base else "")
    return values


def canned_render(*, canned_id: int, ticket_id: int) -> str:
    from django.utils import translation

    Ticket, _tm, _ts, CannedReply = _ticket_models()
    canned = CannedReply.objects.filter(pk=canned_id, active=True).first()
    ticket = Ticket.objects.filter(pk=ticket_id).first()
    if canned is None or ticket is None:
        raise NotFound(_("Not found"))
    with translation.override(canned.language):
        return canned.body.format_map(_Blank(canned_variables(ticket)))


def canned_save(*, name: str, language: str, body: str, actor: User | None, active: bool = True):
    Ticket, _tm, _ts, CannedReply = _ticket_models()
    name = _text(name, field="name", required=True, max_length=120)
    body = _text(body, field="body", required=True, max_length=MAX_MESSAGE)
    if language not in dict(settings.LANGUAGES):
        raise DomainError(_("Unknown language %(value)s") % {"value": language}, field="language")
    try:
        body.format_map(_Blank())
    except (ValueError, IndexError) as exc:
        raise DomainError(_("The text has a broken {variable}: %(error)s") % {"error": exc}, field="body")
    canned, created = CannedReply.objects.update_or_create(
        name=name, language=language, defaults={"body": body, "active": active, "updated_at": timezone.now()}
    )
    audit_record(
        obj_type="service.cannedreply",
        obj_id=canned.pk,
        action="created" if created else "updated",
        actor=actor,
    )
    return canned
