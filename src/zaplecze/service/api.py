"""Customer service API (thin: validation and orchestration only; every write goes through service.services).

Routes (mounted at /api/v1/service):
  GET  /service/due                          open returns and complaints due today or overdue
  GET  /service/deadlines/{kind}             the legal calculator (?from=YYYY-MM-DD&not_informed=&business=)
  GET  /service/returns                      list (?state=&due=today|overdue|warning|open&q=&cursor=&limit=)
  POST /service/returns                      record a withdrawal for lines of an order
  GET  /service/returns/{id}                 one return with lines, refunds and timeline
  POST /service/returns/{id}/accept | reject | receive | refund | close
  GET  /service/complaints                   list
  POST /service/complaints                   record a complaint about an order line
  GET  /service/complaints/{id}              one complaint with refunds and timeline
  POST /service/complaints/{id}/decision | resolve
  POST /service/refunds                      record a refund against an order (idempotency_key required)
  POST /service/refunds/{id}/confirm         a manual refund was sent
  GET  /service/tickets                      list (?queue=&status=&assignee=me|none|<id>&q=&cursor=)
  POST /service/tickets                      open a ticket
  GET  /service/tickets/{id}                 one ticket with messages and SLA
  POST /service/tickets/{id}/reply | status  reply by e-mail (outbox) / change the status
"""

import datetime as dt
from decimal import Decimal
from typing import Any, Literal

from ninja import Path, Query, Router, Schema, Status
from pydantic import Field, field_validator

from zaplecze.api.permissions import allow
from zaplecze.api.schemas import Id, In, errors
from zaplecze.api.schemas import text as bounded

from . import deadlines, selectors, services
from .models import ComplaintState, RefundMethod, ReturnState
from .rules import Remedy, StatutoryReason

router = Router()

Key = bounded(80, 8)
Money = Decimal


def _aware(v):
    if v is not None and v.tzinfo is None:
        raise ValueError("date and time must include a UTC offset, e.g. 2026-05-01T10:00:00+02:00")
    return v


# --- output ---------------------------------------------------------------------------------------------


class EventOut(Schema):
    at: dt.datetime
    kind: str
    actor: str
    from_state: str
    to_state: str
    message: str

    @staticmethod
    def resolve_actor(obj) -> str:
        return obj.actor_label


class EmailOut(Schema):
    id: int
    kind: str
    to: str
    subject: str
    state: str
    attempts: int
    sent_at: dt.datetime | None


class RefundOut(Schema):
    id: int
    order_id: int
    return_id: int | None = Field(None, alias="return_case_id")
    complaint_id: int | None
    amount: Decimal
    currency: str
    method: str
    iban: str
    state: str
    connector: str
    idempotency_key: str
    provider_reference: str
    created_at: dt.datetime
    sent_at: dt.datetime | None


class ReturnLineOut(Schema):
    id: int
    order_line_id: int
    sku: str
    quantity: int
    resellable: int
    damaged: int
    missing: int

    @staticmethod
    def resolve_sku(obj) -> str:
        return obj.order_line.sku


class ReturnSummaryOut(Schema):
    id: int
    number: str
    order_id: int
    order_number: str
    state: str
    source: str
    statement_sent_at: dt.datetime
    statement_received_at: dt.datetime
    withdrawal_deadline: dt.date | None
    refund_due: dt.date
    refund_warn_on: dt.date
    version: int

    @staticmethod
    def resolve_order_number(obj) -> str:
        return obj.order.number


class ReturnOut(ReturnSummaryOut):
    reason: str
    rejection_reason: str
    email: str
    proof_of_sending_at: dt.datetime | None
    goods_received_at: dt.datetime | None
    lines: list[ReturnLineOut]
    refunds: list[RefundOut]
    events: list[EventOut]
    emails: list[EmailOut]
    refund_suggestion: Decimal

    @staticmethod
    def resolve_lines(obj) -> list:
        return list(obj.lines.select_related("order_line").order_by("id"))

    @staticmethod
    def resolve_refunds(obj) -> list:
        return list(obj.refunds.order_by("id"))

    @staticmethod
    def resolve_events(obj) -> list:
        return list(selectors.timeline(return_id=obj.pk))

    @staticmethod
    def resolve_emails(obj) -> list:
        return list(selectors.case_emails(return_id=obj.pk))

    @staticmethod
    def resolve_refund_suggestion(obj) -> Decimal:
        return services.return_refund_suggestion(obj)


class ComplaintSummaryOut(Schema):
    id: int
    number: str
    order_id: int
    order_line_id: int
    state: str
    customer_type: str
    received_at: dt.datetime
    response_due: dt.date
    escalate_on: dt.date
    deemed_acceptance: bool
    responded_at: dt.datetime | None
    requested_remedy: str
    version: int


class ComplaintOut(ComplaintSummaryOut):
    quantity: int
    defect: str
    noticed_on: dt.date | None
    statutory_reason: str
    immaterial: bool
    liability_until: dt.date | None
    within_liability: bool | None
    late_notice: bool
    decision_remedy: str
    decision_reason: str
    decision_text: str
    decided_at: dt.datetime | None
    resolution: str
    replacement_order_id: int | None
    refunds: list[RefundOut]
    events: list[EventOut]
    emails: list[EmailOut]

    @staticmethod
    def resolve_refunds(obj) -> list:
        return list(obj.refunds.order_by("id"))

    @staticmethod
    def resolve_events(obj) -> list:
        return list(selectors.timeline(complaint_id=obj.pk))

    @staticmethod
    def resolve_emails(obj) -> list:
        return list(selectors.case_emails(complaint_id=obj.pk))


class ReturnPageOut(Schema):
    items: list[ReturnSummaryOut]
    next_cursor: int | None


class ComplaintPageOut(Schema):
    items: list[ComplaintSummaryOut]
    next_cursor: int | None


class DeadlineOut(Schema):
    kind: str
    from_: dt.date | None = Field(alias="from")
    deadline: dt.date | None
    warn_on: dt.date | None
    deemed_accepted_after: bool
    rule: list[str]


class DueOut(Schema):
    today: dt.date
    returns: list[dict[str, Any]]
    complaints: list[dict[str, Any]]


# --- input -----------------------------------------------------------------------------------------------


class ListQuery(In):
    state: bounded(100) = ""
    due: Literal["", "today", "overdue", "warning", "open"] = ""
    q: bounded(100) = ""
    cursor: int | None = Field(None, ge=1, le=2**53)
    limit: int = Field(50, ge=1, le=200)


class DeadlineQuery(In):
    from_: dt.date = Field(alias="from")
    not_informed: bool = False
    informed_on: dt.date | None = None
    business: bool = False
    contract_months: int | None = Field(None, ge=1, le=120)


class DueQuery(In):
    date: dt.date | None = None


class LineIn(In):
    order_line_id: Id
    quantity: int = Field(ge=1, le=100_000)


class ReturnIn(In):
    order_id: Id
    lines: list[LineIn] = Field(min_length=1, max_length=500)
    reason: bounded(2000) = ""
    email: bounded(254) = ""
    bank_account: bounded(40) = ""
    statement_sent_at: dt.datetime | None = None
    statement_received_at: dt.datetime | None = None
    language: Literal["pl", "en"] = "pl"

    _aware_times = field_validator("statement_sent_at", "statement_received_at")(_aware)


class VersionedIn(In):
    version: int | None = Field(
        None, ge=1, le=2**31 - 1, description="Refuse with 409 if the case changed since"
    )


class AcceptIn(VersionedIn):
    note: bounded(2000) = ""


class RejectIn(VersionedIn):
    reason: bounded(2000, 1)


class InspectionIn(In):
    id: Id = Field(description="Return line id")
    resellable: int = Field(0, ge=0, le=100_000)
    damaged: int = Field(0, ge=0, le=100_000)
    missing: int = Field(0, ge=0, le=100_000)
    note: bounded(500) = ""


class ReceiveIn(VersionedIn):
    lines: list[InspectionIn] = Field(min_length=1, max_length=500)
    warehouse_id: Id | None = None


class ReturnRefundIn(In):
    idempotency_key: Key = Field(
        description="Your key for this refund: a retry with the same key changes nothing"
    )
    method: RefundMethod
    amount: Decimal | None = Field(
        None, gt=0, max_digits=17, decimal_places=2, description="Default: the suggested amount"
    )
    iban: bounded(40) = ""


class CloseIn(In):
    note: bounded(2000) = ""


class ComplaintIn(In):
    order_line_id: Id
    quantity: int = Field(1, ge=1, le=100_000)
    defect: bounded(5000, 1)
    requested_remedy: Remedy
    statutory_reason: StatutoryReason | Literal[""] = ""
    immaterial: bool = False
    requested_amount: Decimal | None = Field(None, gt=0, max_digits=17, decimal_places=2)
    noticed_on: dt.date | None = None
    received_at: dt.datetime | None = None
    email: bounded(254) = ""
    language: Literal["pl", "en"] = "pl"

    _aware_times = field_validator("received_at")(_aware)


class DecisionIn(VersionedIn):
    accept: bool
    remedy: Remedy | Literal[""] = ""
    reason: StatutoryReason | Literal[""] = ""
    text: bounded(5000) = ""


class ResolveIn(In):
    note: bounded(2000) = ""
    amount: Decimal | None = Field(None, gt=0, max_digits=17, decimal_places=2)
    method: RefundMethod = RefundMethod.ORIGINAL
    iban: bounded(40) = ""
    idempotency_key: Key | None = None


class RefundIn(In):
    order_id: Id
    amount: Decimal = Field(gt=0, max_digits=17, decimal_places=2)
    method: RefundMethod
    iban: bounded(40) = ""
    idempotency_key: Key
    reason: bounded(300) = ""


class ConfirmIn(In):
    reference: bounded(120) = ""


# --- helpers ---------------------------------------------------------------------------------------------


def _return(request, return_id: int):
    return selectors.access_return(request.auth, return_id)


def _complaint(request, complaint_id: int):
    return selectors.access_complaint(request.auth, complaint_id)


def _states(raw: str, allowed) -> list[str]:
    return [s for s in raw.split(",") if s in allowed]


# --- operations ------------------------------------------------------------------------------------------


@router.get("/due", response={200: DueOut, **errors(422)}, summary="Cases due today or overdue")
@allow("service.view")
def due(request, filters: Query[DueQuery]):
    return selectors.due_cases(filters.date)


@router.get(
    "/deadlines/{kind}",
    response={200: DeadlineOut, **errors(422)},
    summary="The legal calculator",
    by_alias=True,
)
@allow("service.view")
def deadline(
    request,
    kind: Path[Literal["withdrawal", "refund", "complaint", "liability"]],
    filters: Query[DeadlineQuery],
):
    """The date and the rule steps applied, in words (the same as `zaplecze service deadline`)."""
    result = deadlines.compute(
        kind,
        filters.from_,
        not_informed=filters.not_informed,
        informed_on=filters.informed_on,
        customer_type="business" if filters.business else "consumer",
        contract_months=filters.contract_months,
    )
    return result.as_dict()


@router.get("/returns", response={200: ReturnPageOut, **errors(422)}, summary="List returns")
@allow("service.view")
def list_returns(request, filters: Query[ListQuery]):
    f = selectors.CaseFilter(state=_states(filters.state, ReturnState.values), due=filters.due, q=filters.q)
    page = selectors.returns_list(f, cursor=filters.cursor, limit=filters.limit)
    return {"items": page.items, "next_cursor": page.next_cursor}


@router.post("/returns", response={201: ReturnOut, **errors(400, 404, 422)}, summary="Record a return")
@allow("service.manage")
def create_return(request, payload: ReturnIn):
    """400 with `code`: `deadline_passed` (details.deadline names the date), `too_many` (quantity above bought
    minus already returned), `excluded`, `not_shipped`, `no_right` (business customer), `wrong_line`."""
    ret = services.return_request(
        order_id=payload.order_id,
        lines=[(ln.order_line_id, ln.quantity) for ln in payload.lines],
        reason=payload.reason,
        actor=request.auth,
        source="api",
        email=payload.email,
        bank_account=payload.bank_account,
        statement_sent_at=payload.statement_sent_at,
        statement_received_at=payload.statement_received_at,
        language=payload.language,
    )
    return Status(201, _return(request, ret.pk))


@router.get("/returns/{int:return_id}", response={200: ReturnOut, **errors(404, 422)}, summary="One return")
@allow("service.view")
def get_return(request, return_id: Path[Id]):
    return _return(request, return_id)


@router.post(
    "/returns/{int:return_id}/accept",
    response={200: ReturnOut, **errors(404, 409, 422)},
    summary="Accept a return",
)
@allow("service.manage")
def accept_return(request, return_id: Path[Id], payload: AcceptIn):
    services.return_accept(
        return_id=return_id, actor=request.auth, note=payload.note, expected_version=payload.version
    )
    return _return(request, return_id)


@router.post(
    "/returns/{int:return_id}/reject",
    response={200: ReturnOut, **errors(400, 404, 409, 422)},
    summary="Reject a return with a reason",
)
@allow("service.manage")
def reject_return(request, return_id: Path[Id], payload: RejectIn):
    services.return_reject(
        return_id=return_id, actor=request.auth, reason=payload.reason, expected_version=payload.version
    )
    return _return(request, return_id)


@router.post(
    "/returns/{int:return_id}/receive",
    response={200: ReturnOut, **errors(400, 404, 409, 422)},
    summary="Goods received: inspection per line",
)
@allow("service.receive")
def receive_return(request, return_id: Path[Id], payload: ReceiveIn):
    """Every line: resellable + damaged + missing = its quantity. Resellable units go back into stock."""
    services.return_receive(
        return_id=return_id,
        actor=request.auth,
        expected_version=payload.version,
        warehouse_id=payload.warehouse_id,
        inspection={
            ln.id: services.LineInspection(ln.resellable, ln.damaged, ln.missing, ln.note)
            for ln in payload.lines
        },
    )
    return _return(request, return_id)


@router.post(
    "/returns/{int:return_id}/refund",
    response={201: RefundOut, **errors(400, 404, 409, 422)},
    summary="Refund a return",
)
@allow("refunds.approve")
def refund_return(request, return_id: Path[Id], payload: ReturnRefundIn):
    """Never more than paid minus already refunded (400 `over_refund`). The same `idempotency_key` again
    returns the refund already recorded (a different request with a used key is 409)."""
    _return(request, return_id)
    return Status(
        201,
        services.return_refund(
            return_id=return_id,
            actor=request.auth,
            idempotency_key=payload.idempotency_key,
            method=payload.method,
            amount=payload.amount,
            iban=payload.iban,
        ),
    )


@router.post(
    "/returns/{int:return_id}/close",
    response={200: ReturnOut, **errors(404, 409, 422)},
    summary="Close a return",
)
@allow("service.manage")
def close_return(request, return_id: Path[Id], payload: CloseIn):
    services.return_close(return_id=return_id, actor=request.auth, note=payload.note)
    return _return(request, return_id)


@router.get("/complaints", response={200: ComplaintPageOut, **errors(422)}, summary="List complaints")
@allow("service.view")
def list_complaints(request, filters: Query[ListQuery]):
    f = selectors.CaseFilter(
        state=_states(filters.state, ComplaintState.values), due=filters.due, q=filters.q
    )
    page = selectors.complaints_list(f, cursor=filters.cursor, limit=filters.limit)
    return {"items": page.items, "next_cursor": page.next_cursor}


@router.post(
    "/complaints", response={201: ComplaintOut, **errors(400, 404, 422)}, summary="Record a complaint"
)
@allow("service.manage")
def create_complaint(request, payload: ComplaintIn):
    """A price reduction or withdrawal needs a `statutory_reason` from a consumer (400 `remedy_order`)."""
    c = services.complaint_create(
        order_line_id=payload.order_line_id,
        quantity=payload.quantity,
        defect=payload.defect,
        requested_remedy=payload.requested_remedy,
        statutory_reason=payload.statutory_reason,
        immaterial=payload.immaterial,
        requested_amount=payload.requested_amount,
        noticed_on=payload.noticed_on,
        received_at=payload.received_at,
        email=payload.email,
        actor=request.auth,
        source="api",
        language=payload.language,
    )
    return Status(201, _complaint(request, c.pk))


@router.get(
    "/complaints/{int:complaint_id}",
    response={200: ComplaintOut, **errors(404, 422)},
    summary="One complaint",
)
@allow("service.view")
def get_complaint(request, complaint_id: Path[Id]):
    return _complaint(request, complaint_id)


@router.post(
    "/complaints/{int:complaint_id}/decision",
    response={200: ComplaintOut, **errors(400, 404, 409, 422)},
    summary="Decide a complaint (the letter is e-mailed)",
)
@allow("service.manage")
def decide_complaint(request, complaint_id: Path[Id], payload: DecisionIn):
    services.complaint_decide(
        complaint_id=complaint_id,
        accept=payload.accept,
        actor=request.auth,
        text=payload.text,
        remedy=payload.remedy,
        reason=payload.reason,
        expected_version=payload.version,
    )
    return _complaint(request, complaint_id)


@router.post(
    "/complaints/{int:complaint_id}/resolve",
    response={200: ComplaintOut, **errors(400, 404, 409, 422)},
    summary="Carry out the accepted remedy",
)
@allow("service.manage")
def resolve_complaint(request, complaint_id: Path[Id], payload: ResolveIn):
    c = _complaint(request, complaint_id)
    if (c.decision_remedy or c.requested_remedy) in (Remedy.PRICE_REDUCTION, Remedy.WITHDRAWAL):
        from zaplecze.core.errors import PermissionDenied
        from zaplecze.core.permissions import user_has

        if not user_has(request.auth, "refunds.approve"):
            raise PermissionDenied("Your role may not do this (refunds.approve)")
    services.complaint_resolve(
        complaint_id=complaint_id,
        actor=request.auth,
        note=payload.note,
        amount=payload.amount,
        method=payload.method,
        iban=payload.iban,
        idempotency_key=payload.idempotency_key or "",
    )
    return _complaint(request, complaint_id)


@router.post("/refunds", response={201: RefundOut, **errors(400, 404, 409, 422)}, summary="Record a refund")
@allow("refunds.approve")
def create_refund(request, payload: RefundIn):
    """Against an order, never more than paid minus already refunded. The `idempotency_key` is stored before
    anything is sent: the same key again returns the same refund, so a retried request never pays twice."""
    return Status(
        201,
        services.refund_create(
            order_id=payload.order_id,
            amount=payload.amount,
            method=payload.method,
            iban=payload.iban,
            idempotency_key=payload.idempotency_key,
            reason=payload.reason,
            actor=request.auth,
        ),
    )


@router.post(
    "/refunds/{int:refund_id}/confirm",
    response={200: RefundOut, **errors(404, 409, 422)},
    summary="Confirm a manual refund was sent",
)
@allow("refunds.approve")
def confirm_refund(request, refund_id: Path[Id], payload: ConfirmIn):
    selectors.access_refund(request.auth, refund_id, "refunds.approve")
    return services.refund_confirm(refund_id=refund_id, actor=request.auth, reference=payload.reference)


# --- helpdesk --------------------------------------------------------------------------------------------


class TicketMessageOut(Schema):
    at: dt.datetime
    direction: str
    author: str
    subject: str
    body: str
    message_id: str
    data: dict[str, Any]

    @staticmethod
    def resolve_author(obj) -> str:
        return obj.author_label


class TicketSummaryOut(Schema):
    id: int
    number: str
    subject: str
    status: str
    queue: str
    priority: str
    channel: str
    email: str
    name: str
    tags: list[str]
    assignee: str | None
    order_ids: list[int]
    first_response_at: dt.datetime | None
    solved_at: dt.datetime | None
    created_at: dt.datetime
    version: int

    @staticmethod
    def resolve_assignee(obj) -> str | None:
        return obj.assignee.username if obj.assignee_id else None

    @staticmethod
    def resolve_order_ids(obj) -> list[int]:
        return sorted(o.pk for o in obj.orders.all())


class SlaOut(Schema):
    clock_seconds: int
    paused: bool
    first_response_due: dt.datetime | None
    resolution_due: dt.datetime | None
    first_response_breached: bool
    resolution_breached: bool


class TicketOut(TicketSummaryOut):
    messages: list[TicketMessageOut]
    sla: SlaOut

    @staticmethod
    def resolve_messages(obj) -> list:
        return list(obj.messages.order_by("at", "id"))

    @staticmethod
    def resolve_sla(obj) -> dict:
        return selectors.sla_status(obj)


class TicketPageOut(Schema):
    items: list[TicketSummaryOut]
    next_cursor: int | None


class TicketListQuery(In):
    queue: bounded(20) = ""
    status: bounded(100) = ""
    assignee: bounded(20) = ""
    q: bounded(100) = ""
    cursor: int | None = Field(None, ge=1, le=2**53)
    limit: int = Field(50, ge=1, le=200)


class TicketIn(In):
    subject: bounded(300, 1)
    body: bounded(100_000)
    email: bounded(254, 3)
    name: bounded(200) = ""
    queue: Literal["service", "logistics", "it"] = "service"
    priority: Literal["low", "normal", "high", "urgent"] = "normal"
    order_ids: list[Id] = Field(default_factory=list, max_length=50)
    language: Literal["pl", "en"] = "pl"


class ReplyIn(VersionedIn):
    body: bounded(100_000, 1)
    status_after: Literal["waiting_customer", "open", "solved"] = "waiting_customer"


class TicketStatusIn(VersionedIn):
    status: Literal["new", "open", "waiting_customer", "waiting_third_party", "solved", "closed"]
    note: bounded(2000) = ""


def _ticket(request, ticket_id: int):
    return selectors.access_ticket(request.auth, ticket_id)


@router.get("/tickets", response={200: TicketPageOut, **errors(422)}, summary="List tickets")
@allow("service.view")
def list_tickets(request, filters: Query[TicketListQuery]):
    f = selectors.TicketFilter(
        queue=filters.queue,
        status=[s for s in filters.status.split(",") if s],
        assignee=filters.assignee,
        q=filters.q,
    )
    page = selectors.tickets_list(f, actor=request.auth, cursor=filters.cursor, limit=filters.limit)
    return {"items": page.items, "next_cursor": page.next_cursor}


@router.post("/tickets", response={201: TicketOut, **errors(400, 422)}, summary="Open a ticket")
@allow("service.manage")
def create_ticket(request, payload: TicketIn):
    t = services.ticket_create(
        subject=payload.subject,
        body=payload.body,
        email=payload.email,
        name=payload.name,
        queue=payload.queue,
        priority=payload.priority,
        channel="api",
        order_ids=payload.order_ids,
        language=payload.language,
        actor=request.auth,
    )
    return Status(201, _ticket(request, t.pk))


@router.get("/tickets/{int:ticket_id}", response={200: TicketOut, **errors(404, 422)}, summary="One ticket")
@allow("service.view")
def get_ticket(request, ticket_id: Path[Id]):
    return _ticket(request, ticket_id)


@router.post(
    "/tickets/{int:ticket_id}/reply",
    response={200: TicketOut, **errors(400, 404, 409, 422)},
    summary="Reply to the customer by e-mail",
)
@allow("service.manage")
def reply_ticket(request, ticket_id: Path[Id], payload: ReplyIn):
    services.ticket_reply(
        ticket_id=ticket_id,
        body=payload.body,
        actor=request.auth,
        status_after=payload.status_after,
        expected_version=payload.version,
    )
    return _ticket(request, ticket_id)


@router.post(
    "/tickets/{int:ticket_id}/status",
    response={200: TicketOut, **errors(400, 404, 409, 422)},
    summary="Change the status of a ticket",
)
@allow("service.manage")
def ticket_status(request, ticket_id: Path[Id], payload: TicketStatusIn):
    services.ticket_transition(
        ticket_id=ticket_id,
        status=payload.status,
        actor=request.auth,
        note=payload.note,
        expected_version=payload.version,
    )
    return _ticket(request, ticket_id)


# --- personal data (GDPR) and return labels ---------------------------------------------------------------
#   POST /service/privacy/export         {"subject": "anna@example.com" | "#12"}  -> the JSON export (logged)
#   POST /service/privacy/erasure-plan   {"subject"}  -> what would be erased, what stops it, what stays
#   POST /service/privacy/erase          {"subject", "confirm"}  -> counts (irreversible; confirm repeats it)
#   POST /service/returns/{id}/label     {"provider": ""}  -> create the return label with a carrier connector
#   POST /service/returns/{id}/tracking  {"tracking_number", "carrier"}  -> a return parcel arranged by hand


class PrivacySubjectIn(In):
    subject: bounded(254, 1) = Field(
        description="The person's e-mail address or a customer number such as #12"
    )


class PrivacyEraseIn(PrivacySubjectIn):
    confirm: bounded(254, 1) = Field(
        description="The e-mail again (or the customer number): the confirmation"
    )


class ErasurePlanOut(Schema):
    subject: dict[str, Any]
    allowed: bool
    confirm_with: str
    counts: dict[str, int]
    blockers: list[str]
    warnings: list[str]
    kept: list[str]
    retention_until: dt.date | None


class ErasureOut(Schema):
    erased: bool
    counts: dict[str, int]


class ReturnLabelIn(In):
    provider: bounded(40) = ""


class ReturnTrackingIn(In):
    tracking_number: bounded(60, 1)
    carrier: bounded(40) = ""


class ReturnLabelOut(Schema):
    return_id: int = Field(alias="return_case_id")
    provider: str
    state: str
    tracking_number: str
    external_id: str
    has_label: bool
    label_at: dt.datetime | None

    @staticmethod
    def resolve_has_label(obj) -> bool:
        return bool(obj.label)


@router.post(
    "/privacy/export",
    response={200: dict[str, Any], **errors(400, 404, 422)},
    summary="Export everything about one person (GDPR art. 15/20)",
)
@allow("customers.privacy")
def privacy_export(request, payload: PrivacySubjectIn):
    """Customers, orders with lines and history, tickets and messages, returns, complaints, refunds, e-mails,
    the audit log of those objects and shipments. Each export is written to the audit log."""
    from . import privacy

    return privacy.export_document(privacy.subject_resolve(payload.subject), actor=request.auth, via="api")


@router.post(
    "/privacy/erasure-plan",
    response={200: ErasurePlanOut, **errors(400, 404, 422)},
    summary="What an erasure would do and what stops it",
)
@allow("customers.privacy")
def privacy_erasure_plan(request, payload: PrivacySubjectIn):
    from . import privacy

    return privacy.erasure_plan(privacy.subject_resolve(payload.subject)).as_dict()


@router.post(
    "/privacy/erase",
    response={200: ErasureOut, **errors(400, 404, 422)},
    summary="Erase (anonymise) one person's data, keeping the accounting records (GDPR art. 17)",
)
@allow("customers.privacy")
def privacy_erase(request, payload: PrivacyEraseIn):
    """400 `erasure_blocked` (details.blockers) while orders, returns, complaints, tickets or refunds are open;
    400 `confirm_mismatch` when `confirm` does not repeat the e-mail. Irreversible."""
    from . import privacy

    subject = privacy.subject_resolve(payload.subject)
    counts = privacy.erase(subject, actor=request.auth, confirm=payload.confirm, via="api")
    return {"erased": True, "counts": counts}


@router.post(
    "/returns/{int:return_id}/label",
    response={201: ReturnLabelOut, **errors(400, 404, 409, 422, 502)},
    summary="Create the return label with a carrier connector (e-mailed to the customer)",
)
@allow("service.manage")
def create_return_label(request, return_id: Path[Id], payload: ReturnLabelIn):
    """400 `no_provider` when no carrier connector for return labels is configured; 400 `label_exists`; 502
    when the carrier failed (retry: the same reference finds the parcel already created)."""
    from . import return_labels

    selectors.access_return(request.auth, return_id, "service.manage")
    label = return_labels.return_label_create(
        return_id=return_id, actor=request.auth, provider=payload.provider or None
    )
    return Status(201, label)


@router.post(
    "/returns/{int:return_id}/tracking",
    response={200: ReturnLabelOut, **errors(400, 404, 409, 422)},
    summary="Record the tracking number of a return parcel arranged by hand",
)
@allow("service.manage")
def record_return_tracking(request, return_id: Path[Id], payload: ReturnTrackingIn):
    from . import return_labels

    selectors.access_return(request.auth, return_id, "service.manage")
    return return_labels.return_tracking_record(
        return_id=return_id,
        tracking_number=payload.tracking_number,
        carrier=payload.carrier,
        actor=request.auth,
    )
