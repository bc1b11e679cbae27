"""Personal data of one person (GDPR / RODO, COMPLIANCE A4): export and erasure by anonymisation.

A person ("subject") is found by e-mail address or customer number. Their data is everything linked to the
matching customers or the e-mail address: customers, orders (addresses, lines, history), tickets and
messages, returns, complaints (with photos), refunds, e-mails in the outbox, the audit log of those objects,
and whatever higher modules contribute through the "service.privacy" extension point (shipping: shipments
with the receiver's address and labels).

* Export: one machine-readable JSON document (art. 15 and 20), or a ZIP with that document and the files
  (complaint photos, e-mail attachments, labels). Every export is written to the audit log (who, when).
* Erasure (art. 17) anonymises: names, e-mail addresses, phones, addresses, message bodies and free texts
  are replaced by a placeholder, the order search index loses the person's tokens, files are deleted. The
  accounting records stay (art. 17 ust. 3 lit. b; VAT/tax retention): orders with their numbers, dates,
  lines and amounts, refunds with their amounts, and for orders bought with a NIP the invoice data (company,
  NIP, billing address). It is refused while something is still in progress (an undelivered order, an open
  return, complaint or ticket, a refund being sent) and needs the e-mail typed again as confirmation. It
  cannot be undone; it is written to the audit log without the erased data.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from zaplecze.core import extensions
from zaplecze.core.businesstime import local_date, local_today
from zaplecze.core.errors import DomainError, NotFound
from zaplecze.core.models import AuditEntry, User
from zaplecze.core.services import actor_label, audit_record
from zaplecze.orders.models import (
    HOLDING_STAGES,
    Customer,
    Order,
    OrderEvent,
    OrderLine,
    OrderSearchToken,
    Stage,
)

from . import deadlines
from .models import (
    COMPLAINT_OPEN_STATES,
    RETURN_OPEN_STATES,
    TICKET_OPEN_STATUSES,
    CaseEvent,
    Complaint,
    ComplaintPhoto,
    InboundMail,
    OutboxAttachment,
    OutboxEmail,
    Refund,
    RefundState,
    Return,
    ReturnLabel,
    ReturnLine,
    Ticket,
    TicketMessage,
)

# --- parameters (one place; COMPLIANCE A4) ----------------------------------------------------------------

#: What replaces erased text.
PLACEHOLDER = "[erased]"
#: Accounting records are kept 5 years from the end of the year in which the tax payment deadline passed
#: (ordynacja podatkowa art. 70 § 1, ustawa o rachunkowości art. 74; COMPLIANCE A4.18).
ACCOUNTING_RETENTION_YEARS = 5
#: VAT for a sale is due by the 25th of the following month (ustawa o VAT art. 103 ust. 1). [verify]
TAX_DUE_DAY = 25
#: A privacy request is answered within one month (art. 12 ust. 3), extendable by two.
REQUEST_DAYS = 30
#: Orders in these stages are still being fulfilled or travelling: erasing the address would break them.
UNFINISHED_STAGES = frozenset({*HOLDING_STAGES, Stage.SHIPPED})
REFUND_BUSY_STATES = frozenset(
    {RefundState.PENDING, RefundState.PROCESSING, RefundState.AWAITING_CONFIRMATION}
)
EXPORT_FORMAT = "zaplecze.personal-data-export"
EXPORT_VERSION = 1
PRIVACY_POINT = "service.privacy"
AUDIT_TYPE = "service.privacy"


class PrivacyContributor(Protocol):
    """A higher module's part of a person's data (registered at PRIVACY_POINT from its AppConfig.ready())."""

    code: str

    def export(self, *, order_ids: list[int]) -> dict[str, list[dict[str, Any]]]: ...

    def files(self, *, order_ids: list[int]) -> list[tuple[str, bytes]]: ...

    def blockers(self, *, order_ids: list[int]) -> list[str]: ...

    def erase(self, *, order_ids: list[int], scrub) -> tuple[dict[str, int], list[tuple[Any, str]]]:
        """Anonymise in the caller's transaction; return counts and (storage, name) of files to delete after
        commit. `scrub(value)` replaces the person's names, e-mails and phones in any text or JSON."""
        ...


def _contributors() -> list[PrivacyContributor]:
    return list(extensions.registered(PRIVACY_POINT).values())


# --- the subject ------------------------------------------------------------------------------------------


@dataclass
class Subject:
    """Whose data: the e-mail addresses and customer rows that identify one person."""

    query: str
    emails: list[str]
    customer_ids: list[int]

    @property
    def confirm_text(self) -> str:
        """What staff type to confirm the erasure: the e-mail, or the customer number when there is none."""
        return self.emails[0] if self.emails else f"#{self.customer_ids[0]}"

    @property
    def audit_id(self) -> str:
        return f"customer:{self.customer_ids[0]}" if self.customer_ids else "email"


def _email_q(field_name: str, emails: Iterable[str]) -> Q:
    q = Q(pk__in=[])
    for e in emails:
        q |= Q(**{f"{field_name}__iexact": e})
    return q


def subject_resolve(value: str | int) -> Subject:
    """The person behind an e-mail address or a customer number ("#12" or 12). Raises NotFound when nothing
    at all is stored about them."""
    raw = str(value if value is not None else "").strip()
    if re.fullmatch(r"#?\d{1,12}", raw):
        customer = Customer.objects.filter(pk=int(raw.lstrip("#"))).first()
        if customer is None:
            raise NotFound(_("No customer %(number)s.") % {"number": raw}, field="subject")
        emails = [customer.email.strip().lower()] if customer.email.strip() else []
        ids = {customer.pk}
        if emails:
            ids |= set(Customer.objects.filter(_email_q("email", emails)).values_list("pk", flat=True))
        subject = Subject(query=raw, emails=emails, customer_ids=sorted(ids))
    elif "@" in raw and len(raw) <= 254 and not re.search(r"\s", raw):
        email = raw.lower()
        ids = sorted(Customer.objects.filter(email__iexact=email).values_list("pk", flat=True))
        subject = Subject(query=raw, emails=[email], customer_ids=ids)
    else:
        raise DomainError(
            _("Enter the person's e-mail address or a customer number such as #12."), field="subject"
        )
    scope = _scope(subject)
    if not (
        scope.customer_ids or scope.order_ids or scope.ticket_ids or scope.return_ids or scope.complaint_ids
    ):
        raise NotFound(_("Nothing is stored about %(who)s.") % {"who": raw}, field="subject")
    return subject


@dataclass
class Scope:
    customer_ids: list[int]
    order_ids: list[int]
    ticket_ids: list[int]
    return_ids: list[int]
    complaint_ids: list[int]
    refund_ids: list[int]
    email_ids: list[int]


def _scope(subject: Subject) -> Scope:
    cids, emails = subject.customer_ids, subject.emails
    order_ids = sorted(
        Order.objects.filter(Q(customer_id__in=cids) | _email_q("email", emails)).values_list("pk", flat=True)
    )
    ticket_ids = sorted(
        Ticket.objects.filter(Q(customer_id__in=cids) | _email_q("email", emails)).values_list(
            "pk", flat=True
        )
    )
    return_ids = sorted(
        Return.objects.filter(Q(order_id__in=order_ids) | _email_q("email", emails)).values_list(
            "pk", flat=True
        )
    )
    complaint_ids = sorted(
        Complaint.objects.filter(Q(order_id__in=order_ids) | _email_q("email", emails)).values_list(
            "pk", flat=True
        )
    )
    refund_ids = sorted(
        Refund.objects.filter(
            Q(order_id__in=order_ids) | Q(return_case_id__in=return_ids) | Q(complaint_id__in=complaint_ids)
        ).values_list("pk", flat=True)
    )
    email_ids = sorted(
        OutboxEmail.objects.filter(
            _email_q("to", emails)
            | Q(return_case_id__in=return_ids)
            | Q(complaint_id__in=complaint_ids)
            | Q(ticket_id__in=ticket_ids)
            | Q(refund_id__in=refund_ids)
        ).values_list("pk", flat=True)
    )
    return Scope(cids, order_ids, ticket_ids, return_ids, complaint_ids, refund_ids, email_ids)


# --- export -----------------------------------------------------------------------------------------------


def _value(v: Any) -> Any:
    if isinstance(v, Decimal):
        return str(v)
    if isinstance(v, dt.datetime | dt.date):
        return v.isoformat()
    if isinstance(v, bytes | memoryview):
        return None
    if hasattr(v, "name") and hasattr(v, "storage"):  # a FieldFile
        return v.name or ""
    return v


def row(obj: Any, *, exclude: Iterable[str] = ()) -> dict[str, Any]:
    """Every stored column of a model instance, JSON-ready (foreign keys as ids)."""
    skip = set(exclude)
    out: dict[str, Any] = {}
    for f in obj._meta.concrete_fields:
        if f.name in skip or f.attname in skip:
            continue
        # A file column is exported as its stored name; foreign keys as ids.
        out[f.attname] = _value(getattr(obj, f.name if f.get_internal_type() == "FileField" else f.attname))
    return out


def _audit_q(scope: Scope) -> Q:
    pairs = [
        ("orders.order", scope.order_ids),
        ("service.ticket", scope.ticket_ids),
        ("service.return", scope.return_ids),
        ("service.complaint", scope.complaint_ids),
        ("service.refund", scope.refund_ids),
        ("orders.customer", scope.customer_ids),
    ]
    q = Q(pk__in=[])
    for obj_type, ids in pairs:
        if ids:
            q |= Q(object_type=obj_type, object_id__in=[str(i) for i in ids])
    return q


def _privacy_entries(subject: Subject) -> list[AuditEntry]:
    """Earlier export/erasure log entries about this person (they name the e-mail)."""
    entries = AuditEntry.objects.filter(object_type=AUDIT_TYPE).order_by("at", "id")
    ids = {f"customer:{c}" for c in subject.customer_ids}
    out = []
    for e in entries:
        text = json.dumps(e.changes, ensure_ascii=False).lower()
        if e.object_id in ids or any(m in text for m in subject.emails):
            out.append(e)
    return out


def export_document(subject: Subject, *, actor: User | None, log: bool = True, via: str = "ui") -> dict:
    """Everything stored about the person, as one JSON-ready dict (logged as an export unless log=False)."""
    scope = _scope(subject)
    now = timezone.now()
    orders = []
    lines_by_order: dict[int, list] = {}
    for ln in OrderLine.objects.filter(order_id__in=scope.order_ids).order_by("order_id", "position", "id"):
        lines_by_order.setdefault(ln.order_id, []).append(row(ln))
    events_by_order: dict[int, list] = {}
    for ev in OrderEvent.objects.filter(order_id__in=scope.order_ids).order_by("order_id", "at", "id"):
        events_by_order.setdefault(ev.order_id, []).append(row(ev, exclude=["actor"]))
    for o in (
        Order.objects.filter(pk__in=scope.order_ids).select_related("channel", "status").order_by("placed_at")
    ):
        orders.append(
            {
                **row(o, exclude=["source_hash"]),
                "channel": o.channel.code,
                "status": o.status.code,
                "lines": lines_by_order.get(o.pk, []),
                "history": events_by_order.get(o.pk, []),
            }
        )
    tickets = []
    for t in (
        Ticket.objects.filter(pk__in=scope.ticket_ids).prefetch_related("messages", "orders").order_by("id")
    ):
        tickets.append(
            {
                **row(t, exclude=["search_text", "assignee"]),
                "number": t.number,
                "order_ids": sorted(o.pk for o in t.orders.all()),
                "messages": [row(m, exclude=["author"]) for m in t.messages.all()],
            }
        )
    returns = []
    labels = {lb.return_case_id: lb for lb in ReturnLabel.objects.filter(return_case_id__in=scope.return_ids)}
    for r in (
        Return.objects.filter(pk__in=scope.return_ids).prefetch_related("lines", "events").order_by("id")
    ):
        returns.append(
            {
                **row(r),
                "number": r.number,
                "lines": [row(ln) for ln in r.lines.all()],
                "timeline": [row(e, exclude=["actor"]) for e in r.events.all()],
                "return_label": row(labels[r.pk], exclude=["created_by"]) if r.pk in labels else None,
            }
        )
    complaints = []
    for c in (
        Complaint.objects.filter(pk__in=scope.complaint_ids)
        .prefetch_related("photos", "events")
        .order_by("id")
    ):
        complaints.append(
            {
                **row(c),
                "number": c.number,
                "photos": [row(p) for p in c.photos.all()],
                "timeline": [row(e, exclude=["actor"]) for e in c.events.all()],
            }
        )
    refunds = [
        row(r, exclude=["created_by"]) for r in Refund.objects.filter(pk__in=scope.refund_ids).order_by("id")
    ]
    mails = []
    for m in (
        OutboxEmail.objects.filter(pk__in=scope.email_ids).prefetch_related("attachments").order_by("id")
    ):
        mails.append(
            {
                **row(m, exclude=["key"]),
                "attachments": [
                    {"filename": a.filename, "content_type": a.content_type, "size": len(bytes(a.content))}
                    for a in m.attachments.all()
                ],
            }
        )
    audit = [
        row(e, exclude=["actor"]) for e in AuditEntry.objects.filter(_audit_q(scope)).order_by("at", "id")
    ] + [row(e, exclude=["actor"]) for e in _privacy_entries(subject)]
    doc: dict[str, Any] = {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "generated_at": now.isoformat(),
        "generated_by": actor_label(actor, via),
        "subject": {"query": subject.query, "emails": subject.emails, "customer_ids": subject.customer_ids},
        "customers": [row(c) for c in Customer.objects.filter(pk__in=scope.customer_ids).order_by("id")],
        "orders": orders,
        "tickets": tickets,
        "returns": returns,
        "complaints": complaints,
        "refunds": refunds,
        "emails": mails,
        "inbound_mail": [
            row(m, exclude=["mailbox"]) for m in _inbound_mail(scope, subject.emails).order_by("id")
        ],
        "audit_log": audit,
    }
    for contributor in _contributors():
        for key, rows in contributor.export(order_ids=scope.order_ids).items():
            doc[key] = rows
    counts = {k: len(v) for k, v in doc.items() if isinstance(v, list)}
    doc["counts"] = counts
    if log:
        with transaction.atomic():
            audit_record(
                obj_type=AUDIT_TYPE,
                obj_id=subject.audit_id,
                action="exported",
                actor=actor,
                label=actor_label(actor, via),
                changes={"subject": [None, subject.query], "counts": [None, counts]},
                reason="GDPR art. 15/20: export of personal data",
            )
    return doc


def _inbound_mail(scope: Scope, emails: Iterable[str]) -> QuerySet:
    """The import records of the person's incoming e-mails (sender and subject), by ticket or address."""
    return InboundMail.objects.filter(Q(ticket_id__in=scope.ticket_ids) | _email_q("sender", emails))


def export_json(subject: Subject, *, actor: User | None, via: str = "ui") -> bytes:
    doc = export_document(subject, actor=actor, via=via)
    return json.dumps(doc, ensure_ascii=False, indent=2, sort_keys=False).encode("utf-8")


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name.rsplit("/", 1)[-1])[:100] or "file"


def export_zip(subject: Subject, *, actor: User | None, via: str = "ui") -> bytes:
    """The JSON document plus the files: complaint photos, e-mail attachments, return labels, and what the
    contributors add (shipping labels)."""
    doc = export_document(subject, actor=actor, via=via)
    scope = _scope(subject)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("export.json", json.dumps(doc, ensure_ascii=False, indent=2))
        for p in ComplaintPhoto.objects.filter(complaint_id__in=scope.complaint_ids).select_related(
            "complaint"
        ):
            try:
                with p.file.open("rb") as fh:
                    zf.writestr(
                        f"files/complaints/{p.complaint.number}/{p.pk}-{_safe_name(p.filename)}", fh.read()
                    )
            except (OSError, ValueError):
                continue
        for a in OutboxAttachment.objects.filter(email_id__in=scope.email_ids):
            zf.writestr(f"files/emails/{a.email_id}/{a.pk}-{_safe_name(a.filename)}", bytes(a.content))
        for lb in ReturnLabel.objects.filter(return_case_id__in=scope.return_ids).select_related(
            "return_case"
        ):
            if lb.label:
                try:
                    with lb.label.open("rb") as fh:
                        zf.writestr(f"files/return-labels/{lb.return_case.number}.pdf", fh.read())
                except (OSError, ValueError):
                    continue
        for contributor in _contributors():
            for name, content in contributor.files(order_ids=scope.order_ids):
                zf.writestr(f"files/{contributor.code}/{_safe_name(name)}", content)
    return buf.getvalue()


# --- erasure ----------------------------------------------------------------------------------------------


def retention_until(placed_at: dt.datetime) -> dt.date:
    """The last day an order's accounting record must be kept: 5 years from the end of the year in which the
    tax for it was due (the 25th of the month after the sale)."""
    d = local_date(placed_at)
    due_year = d.year + (1 if d.month == 12 else 0)
    return dt.date(due_year + ACCOUNTING_RETENTION_YEARS, 12, 31)


@dataclass
class ErasurePlan:
    subject: Subject
    counts: dict[str, int]
    blockers: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    retention_until: dt.date | None = None

    @property
    def allowed(self) -> bool:
        return not self.blockers

    def as_dict(self) -> dict[str, Any]:
        return {
            "subject": {
                "query": self.subject.query,
                "emails": self.subject.emails,
                "customer_ids": self.subject.customer_ids,
            },
            "allowed": self.allowed,
            "confirm_with": self.subject.confirm_text,
            "counts": self.counts,
            "blockers": self.blockers,
            "warnings": self.warnings,
            "kept": self.kept,
            "retention_until": self.retention_until.isoformat() if self.retention_until else None,
        }


def _numbers(values: Iterable[str], limit: int = 8) -> str:
    values = list(values)
    more = len(values) - limit
    text = ", ".join(values[:limit])
    return text + (f" (+{more})" if more > 0 else "")


def _blockers(scope: Scope) -> list[str]:
    out = []
    unfinished = Order.objects.filter(pk__in=scope.order_ids, stage__in=UNFINISHED_STAGES).order_by(
        "placed_at"
    )
    if unfinished.exists():
        out.append(
            _("Orders not delivered yet: %(numbers)s. Deliver or cancel them first.")
            % {"numbers": _numbers(unfinished.values_list("number", flat=True))}
        )
    rets = Return.objects.filter(pk__in=scope.return_ids, state__in=RETURN_OPEN_STATES)
    if rets.exists():
        out.append(
            _("Open returns: %(numbers)s. Close them first (refund or reject).")
            % {"numbers": _numbers(r.number for r in rets)}
        )
    comps = Complaint.objects.filter(pk__in=scope.complaint_ids, state__in=COMPLAINT_OPEN_STATES)
    if comps.exists():
        out.append(
            _("Open complaints: %(numbers)s. Resolve and close them first.")
            % {"numbers": _numbers(c.number for c in comps)}
        )
    tickets = Ticket.objects.filter(pk__in=scope.ticket_ids, status__in=TICKET_OPEN_STATUSES)
    if tickets.exists():
        out.append(
            _("Open tickets: %(numbers)s. Solve or close them first.")
            % {"numbers": _numbers(t.number for t in tickets)}
        )
    refunds = Refund.objects.filter(pk__in=scope.refund_ids, state__in=REFUND_BUSY_STATES)
    if refunds.exists():
        out.append(
            _("Refunds not finished: %(ids)s. Confirm or cancel them first.")
            % {"ids": _numbers(f"#{r.pk} ({r.amount} {r.currency})" for r in refunds)}
        )
    for contributor in _contributors():
        out.extend(contributor.blockers(order_ids=scope.order_ids))
    return out


def erasure_plan(subject: Subject) -> ErasurePlan:
    """What an erasure would do, what stops it, and what stays and why (shown before the confirmation)."""
    scope = _scope(subject)
    orders = list(
        Order.objects.filter(pk__in=scope.order_ids).only("pk", "number", "placed_at", "nip", "delivered_at")
    )
    counts = {
        "customers": len(scope.customer_ids),
        "orders": len(scope.order_ids),
        "tickets": len(scope.ticket_ids),
        "returns": len(scope.return_ids),
        "complaints": len(scope.complaint_ids),
        "refunds": len(scope.refund_ids),
        "emails": len(scope.email_ids),
    }
    plan = ErasurePlan(subject=subject, counts=counts, blockers=_blockers(scope))
    if orders:
        until = max(retention_until(o.placed_at) for o in orders)
        plan.retention_until = until
        plan.kept.append(
            _(
                "%(orders)s order(s) and %(refunds)s refund(s) are accounting records: their numbers, dates, "
                "items and amounts stay until %(date)s (5 years from the end of the year the tax was due)."
            )
            % {"orders": len(orders), "refunds": len(scope.refund_ids), "date": deadlines.day(until)}
        )
        invoiced = [o for o in orders if o.nip]
        if invoiced:
            plan.kept.append(
                _(
                    "%(n)s order(s) were bought with a NIP (%(numbers)s): the invoice data (company, NIP, billing "
                    "address) stays until %(date)s."
                )
                % {
                    "n": len(invoiced),
                    "numbers": _numbers(o.number for o in invoiced),
                    "date": deadlines.day(max(retention_until(o.placed_at) for o in invoiced)),
                }
            )
        today = local_today()
        liable = []
        for o in orders:
            if o.delivered_at is None:
                continue
            end = deadlines.complaint_liability(local_date(o.delivered_at), customer_type="consumer").deadline
            if end >= today:
                liable.append((o.number, end))
        if liable:
            plan.warnings.append(
                _(
                    "%(n)s order(s) are still under the 2-year liability for defects (until %(date)s): after the "
                    "erasure the customer must quote the order number, and the public return and complaint "
                    "pages will not find these orders by e-mail."
                )
                % {"n": len(liable), "date": deadlines.day(max(e for _n, e in liable))}
            )
    pending = OutboxEmail.objects.filter(
        pk__in=scope.email_ids, state__in=[OutboxEmail.State.PENDING, OutboxEmail.State.SENDING]
    ).count()
    if pending:
        plan.warnings.append(_("%(n)s e-mail(s) waiting to be sent will be cancelled.") % {"n": pending})
    plan.warnings.append(
        _("The erasure cannot be undone. Export the data first if the person asked for a copy.")
    )
    return plan


# --- scrubbing --------------------------------------------------------------------------------------------


def _needles(subject: Subject, scope: Scope) -> list[str]:
    """The person's identifying strings found in the stored rows: e-mails, names and their parts, phones,
    street lines, IBANs."""
    found: set[str] = set(subject.emails)
    names: set[str] = set()
    phones: set[str] = set()
    for c in Customer.objects.filter(pk__in=scope.customer_ids):
        names.add(c.name)
        phones.add(c.phone)
        found.add(c.email)
    for o in Order.objects.filter(pk__in=scope.order_ids).only(
        "customer_name", "email", "phone", "shipping_address", "billing_address", "nip"
    ):
        names.add(o.customer_name)
        phones.add(o.phone)
        found.add(o.email)
        for addr in (o.shipping_address, o.billing_address if not o.nip else {}):
            if isinstance(addr, dict):
                for key in (
                    "name",
                    "first_name",
                    "last_name",
                    "street",
                    "line1",
                    "line2",
                    "address1",
                    "address2",
                ):
                    names.add(str(addr.get(key) or ""))
                phones.add(str(addr.get("phone") or ""))
                found.add(str(addr.get("email") or ""))
    for t in Ticket.objects.filter(pk__in=scope.ticket_ids).only("name", "email"):
        names.add(t.name)
        found.add(t.email)
    for r in Return.objects.filter(pk__in=scope.return_ids).only("email", "bank_account"):
        found.add(r.email)
        found.add(r.bank_account)
    for r in Refund.objects.filter(pk__in=scope.refund_ids).only("iban"):
        found.add(r.iban)
    for name in list(names):
        name = (name or "").strip()
        if len(name) >= 3:
            found.add(name)
            found.update(p for p in re.split(r"[\s,]+", name) if len(p) >= 3 and not p.isdigit())
    for phone in phones:
        phone = (phone or "").strip()
        digits = re.sub(r"\D", "", phone)
        if len(digits) >= 6:
            found.add(phone)
            found.add(digits)
            if len(digits) > 9:
                found.add(digits[-9:])
    return sorted((n for n in found if n and len(n.strip()) >= 3), key=len, reverse=True)


class Scrubber:
    """Replaces the person's identifying strings (whole words, any case) in texts and JSON values."""

    def __init__(self, needles: Iterable[str]) -> None:
        needles = [n for n in needles if n]
        self.pattern = (
            re.compile("|".join(rf"(?<!\w){re.escape(n)}(?!\w)" for n in needles), re.IGNORECASE)
            if needles
            else None
        )

    def __call__(self, value: Any) -> Any:
        if self.pattern is None:
            return value
        if isinstance(value, str):
            return self.pattern.sub(PLACEHOLDER, value)
        if isinstance(value, dict):
            return {k: self(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self(v) for v in value]
        return value


def _mask_iban(value: str) -> str:
    value = (value or "").replace(" ", "")
    return f"{value[:2]}…{value[-4:]}" if len(value) > 6 else ""


def _rebuild_search_tokens(order_ids: list[int]) -> int:
    """Drop every search token of the orders and keep only what is not personal: number, external id, SKUs."""
    OrderSearchToken.objects.filter(order_id__in=order_ids).delete()
    skus: dict[int, set[str]] = {}
    for oid, sku in OrderLine.objects.filter(order_id__in=order_ids).values_list("order_id", "sku"):
        skus.setdefault(oid, set()).add(sku.lower())
    rows = []
    for oid, number, external_id in Order.objects.filter(pk__in=order_ids).values_list(
        "pk", "number", "external_id"
    ):
        words = {
            number.lower(),
            number.lower().lstrip("#"),
            (external_id or "").lower(),
            *skus.get(oid, set()),
        }
        rows.extend(OrderSearchToken(order_id=oid, token=w[:64]) for w in sorted(words) if w)
    OrderSearchToken.objects.bulk_create(rows, batch_size=1000)
    return len(rows)


def _scrub_rows(qs: QuerySet, fields: list[str], scrub: Scrubber) -> int:
    n = 0
    for obj in qs.only("pk", *fields):
        changed = {}
        for f in fields:
            before = getattr(obj, f)
            after = scrub(before)
            if after != before:
                changed[f] = after
        if changed:
            type(obj).objects.filter(pk=obj.pk).update(**changed)
            n += 1
    return n


def erase(subject: Subject, *, actor: User | None, confirm: str, via: str = "ui") -> dict[str, int]:
    """Anonymise everything about the person (see the module docstring). `confirm` must repeat the e-mail (or
    the customer number). Refused with the reasons while anything is still in progress. Irreversible."""
    if (confirm or "").strip().lower() != subject.confirm_text.lower():
        raise DomainError(
            _("Type %(text)s to confirm the erasure.") % {"text": subject.confirm_text},
            field="confirm",
            code="confirm_mismatch",
        )
    files: list[tuple[Any, str]] = []
    with transaction.atomic():
        scope = _scope(subject)
        # Lock the orders (fixed order) so nothing changes between the check and the anonymisation.
        list(
            Order.objects.select_for_update().filter(pk__in=scope.order_ids).order_by("pk").values_list("pk")
        )
        blockers = _blockers(scope)
        if blockers:
            raise DomainError(
                _("The data cannot be erased yet: %(reasons)s") % {"reasons": " ".join(blockers)},
                code="erasure_blocked",
                blockers=blockers,
            )
        plan = erasure_plan(subject)
        scrub = Scrubber(_needles(subject, scope))
        now = timezone.now()
        counts: dict[str, int] = {}

        # Customers: the rows stay (orders and tickets point at them), without the person in them.
        for c in Customer.objects.filter(pk__in=scope.customer_ids):
            keep_invoice = bool(c.nip)
            Customer.objects.filter(pk=c.pk).update(
                name=PLACEHOLDER, email="", phone="", company=c.company if keep_invoice else ""
            )
        counts["customers"] = len(scope.customer_ids)

        # Orders: accounting stays (numbers, dates, lines, amounts; invoice data when bought with a NIP).
        for o in Order.objects.filter(pk__in=scope.order_ids).only(
            "pk", "nip", "company", "billing_address", "internal_notes"
        ):
            invoice = bool(o.nip)
            Order.objects.filter(pk=o.pk).update(
                customer_name=PLACEHOLDER,
                email="",
                phone="",
                company=o.company if invoice else "",
                billing_address=scrub(o.billing_address) if invoice else {},
                shipping_address={},
                shipping_postcode="",
                notes="",
                internal_notes=scrub(o.internal_notes),
                version=F("version") + 1,
                updated_at=now,
            )
        counts["orders"] = len(scope.order_ids)
        counts["search_tokens"] = _rebuild_search_tokens(scope.order_ids)
        counts["order_events"] = _scrub_rows(
            OrderEvent.objects.filter(order_id__in=scope.order_ids), ["message", "data"], scrub
        )

        # Tickets and their messages: the conversation goes, the ticket stays as a counted case.
        Ticket.objects.filter(pk__in=scope.ticket_ids).update(
            email="", name="", subject=PLACEHOLDER, search_text="", updated_at=now
        )
        msgs = TicketMessage.objects.filter(ticket_id__in=scope.ticket_ids)
        counts["ticket_messages"] = msgs.count()
        msgs.filter(direction=TicketMessage.Direction.IN).update(author_label=PLACEHOLDER, data={})
        msgs.exclude(body="").update(body=PLACEHOLDER)
        msgs.exclude(subject="").update(subject=PLACEHOLDER)
        _scrub_rows(msgs.exclude(direction=TicketMessage.Direction.IN), ["author_label", "data"], scrub)
        counts["tickets"] = len(scope.ticket_ids)

        # Returns: free texts and bank details go; lines, dates and states stay.
        for r in Return.objects.filter(pk__in=scope.return_ids).only("pk", "reason", "rejection_reason"):
            Return.objects.filter(pk=r.pk).update(
                email="",
                reason=PLACEHOLDER if r.reason else "",
                rejection_reason=scrub(r.rejection_reason),
                bank_account="",
                updated_at=now,
            )
        _scrub_rows(
            ReturnLine.objects.filter(return_case_id__in=scope.return_ids), ["inspection_note"], scrub
        )
        for lb in ReturnLabel.objects.filter(return_case_id__in=scope.return_ids):
            if lb.label:
                files.append((lb.label.storage, lb.label.name))
                ReturnLabel.objects.filter(pk=lb.pk).update(label="")
        counts["returns"] = len(scope.return_ids)

        # Complaints: the description and photos go; the decision dates and remedies stay.
        Complaint.objects.filter(pk__in=scope.complaint_ids).update(
            email="", defect=PLACEHOLDER, updated_at=now
        )
        _scrub_rows(
            Complaint.objects.filter(pk__in=scope.complaint_ids), ["decision_text", "resolution_note"], scrub
        )
        photos = ComplaintPhoto.objects.filter(complaint_id__in=scope.complaint_ids)
        for p in photos:
            if p.file:
                files.append((p.file.storage, p.file.name))
        counts["photos"] = photos.count()
        photos.delete()
        counts["complaints"] = len(scope.complaint_ids)

        # Case timelines: what the customer wrote goes; the steps stay.
        events = CaseEvent.objects.filter(
            Q(return_case_id__in=scope.return_ids) | Q(complaint_id__in=scope.complaint_ids)
        )
        events.filter(kind__in=[CaseEvent.Kind.CREATED, CaseEvent.Kind.PHOTO]).exclude(message="").update(
            message=PLACEHOLDER
        )
        counts["case_events"] = _scrub_rows(events, ["message", "data"], scrub)

        # Refunds: amounts, dates and states stay (accounting); the account number is masked.
        for r in Refund.objects.filter(pk__in=scope.refund_ids).only("pk", "iban", "reason"):
            Refund.objects.filter(pk=r.pk).update(iban=_mask_iban(r.iban), reason=scrub(r.reason))
        counts["refunds"] = len(scope.refund_ids)

        # E-mails: addresses, subjects, bodies and attachments go; waiting ones are cancelled.
        mails = OutboxEmail.objects.filter(pk__in=scope.email_ids)
        mails.filter(state__in=[OutboxEmail.State.PENDING, OutboxEmail.State.SENDING]).update(
            state=OutboxEmail.State.FAILED, last_error="Not sent: the recipient's personal data was erased"
        )
        mails.update(to="", subject=PLACEHOLDER, body=PLACEHOLDER, headers={})
        counts["email_attachments"] = OutboxAttachment.objects.filter(email_id__in=scope.email_ids).delete()[
            0
        ]
        counts["emails"] = len(scope.email_ids)
        # Incoming e-mail import records: the position in the mailbox stays (so nothing is imported
        # twice); the sender, subject and Message-ID go.
        counts["inbound_mail"] = _inbound_mail(scope, subject.emails).update(
            sender="", subject=PLACEHOLDER, message_id="", reason=""
        )

        # Contributors (shipping: receivers' addresses and labels).
        for contributor in _contributors():
            extra, extra_files = contributor.erase(order_ids=scope.order_ids, scrub=scrub)
            counts.update(extra)
            files.extend(extra_files)

        # The audit log keeps who did what and when, without the person's values.
        counts["audit_entries"] = _scrub_rows(
            AuditEntry.objects.filter(_audit_q(scope)), ["changes", "reason"], scrub
        )
        for e in _privacy_entries(subject):
            AuditEntry.objects.filter(pk=e.pk).update(changes=scrub(e.changes), reason=scrub(e.reason))

        audit_record(
            obj_type=AUDIT_TYPE,
            obj_id=subject.audit_id,
            action="erased",
            actor=actor,
            label=actor_label(actor, via),
            changes={"counts": [None, counts]},
            reason=(
                "GDPR art. 17: personal data anonymised; accounting records kept until "
                f"{plan.retention_until.isoformat() if plan.retention_until else '-'}"
            ),
        )

        def delete_files() -> None:
            for storage, name in files:
                try:
                    storage.delete(name)
                except OSError:
                    pass

        transaction.on_commit(delete_files)
    counts["files"] = len(files)
    return counts


def request_due(received: dt.date) -> dt.date:
    """When a privacy request must be answered (one month; extendable by two with a reason)."""
    return received + dt.timedelta(days=REQUEST_DAYS)


__all__ = [
    "PLACEHOLDER",
    "ErasurePlan",
    "Subject",
    "erase",
    "erasure_plan",
    "export_document",
    "export_json",
    "export_zip",
    "request_due",
    "retention_until",
    "subject_resolve",
]
