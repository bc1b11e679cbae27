"""Reads of customer service: money of an order, what can still be returned, deadlines of an order, the
staff lists with due/overdue filters, case access and timelines."""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Q, QuerySet, Sum
from django.utils.translation import gettext as _

from zaplecze.core.businesstime import local_date, local_today
from zaplecze.core.errors import NotFound, PermissionDenied
from zaplecze.core.permissions import user_has
from zaplecze.orders.models import Order, OrderLine, PaymentMethod, PaymentStatus

from . import deadlines, rules
from .models import (
    COMPLAINT_OPEN_STATES,
    REFUND_HOLDING_STATES,
    RETURN_COUNTING_STATES,
    RETURN_OPEN_STATES,
    CaseEvent,
    Complaint,
    ComplaintState,
    OutboxEmail,
    ProductReturnExclusion,
    Refund,
    RefundState,
    Return,
    ReturnLine,
    WithdrawalNotice,
)

ZERO = Decimal("0.00")

# --- money -----------------------------------------------------------------------------------------------

_PAID_STATUSES = frozenset({PaymentStatus.PAID, PaymentStatus.REFUNDED, PaymentStatus.PARTIALLY_REFUNDED})


def paid_amount(order: Order) -> Decimal:
    """What the customer paid for the order: the order total once it is paid (or cash on delivery was
    collected on delivery). A partly paid order counts as unpaid here: the amount is not recorded."""
    if order.payment_status in _PAID_STATUSES or order.paid_at is not None:
        return order.total_gross
    if order.payment_method == PaymentMethod.COD and order.delivered_at is not None:
        return order.total_gross
    return ZERO


def refunded_amount(order_id: int) -> Decimal:
    """Refunds that hold money (recorded, being sent, awaiting confirmation or done)."""
    total = Refund.objects.filter(order_id=order_id, state__in=REFUND_HOLDING_STATES).aggregate(
        s=Sum("amount")
    )["s"]
    return (total or ZERO).quantize(ZERO)


def refundable_amount(order: Order) -> Decimal:
    return max(ZERO, paid_amount(order) - refunded_amount(order.pk))


# --- what can be returned --------------------------------------------------------------------------------


def returned_quantities(order_id: int, *, exclude_return_id: int | None = None) -> dict[int, int]:
    """Units per order line already in a return that was not rejected."""
    qs = ReturnLine.objects.filter(
        order_line__order_id=order_id, return_case__state__in=RETURN_COUNTING_STATES
    )
    if exclude_return_id:
        qs = qs.exclude(return_case_id=exclude_return_id)
    out: dict[int, int] = defaultdict(int)
    for line_id, qty in qs.values_list("order_line_id", "quantity"):
        out[line_id] += qty
    return dict(out)


def exclusions_for(order: Order) -> dict[int, ProductReturnExclusion]:
    """Exclusion flag per order line (by the line's product), for lines that have one."""
    lines = list(order.lines.all())
    product_ids = {ln.variant.product_id for ln in lines if ln.variant_id and ln.variant}
    by_product = {e.product_id: e for e in ProductReturnExclusion.objects.filter(product_id__in=product_ids)}
    return {
        ln.pk: by_product[ln.variant.product_id]
        for ln in lines
        if ln.variant_id and ln.variant and ln.variant.product_id in by_product
    }


@dataclass
class ReturnableLine:
    line: OrderLine
    bought: int
    returned: int
    exclusion: ProductReturnExclusion | None

    @property
    def available(self) -> int:
        return max(0, self.bought - self.returned)

    @property
    def refused(self) -> bool:
        """Excluded outright (not a conditional exclusion that depends on the seal)."""
        return self.exclusion is not None and self.exclusion.kind not in rules.CONDITIONAL_EXCLUSIONS

    @property
    def selectable(self) -> bool:
        return self.available > 0 and not self.refused


def returnable_lines(order: Order) -> list[ReturnableLine]:
    returned = returned_quantities(order.pk)
    excl = exclusions_for(order)
    return [
        ReturnableLine(ln, ln.quantity, returned.get(ln.pk, 0), excl.get(ln.pk))
        for ln in order.lines.select_related("variant").all()
    ]


# --- deadlines of an order -------------------------------------------------------------------------------


def informed_on(order: Order) -> tuple[bool, dt.date | None]:
    """Whether the customer was informed of the right of withdrawal, and the day when it was after the sale
    (an order-level notice); (True, None) when the channel's checkout informs, (False, None) without a record."""
    if WithdrawalNotice.objects.filter(
        channel_id=order.channel_id, informed_at__lte=order.placed_at
    ).exists():
        return True, None
    own = WithdrawalNotice.objects.filter(order_id=order.pk).order_by("informed_at").first()
    if own is None:
        return False, None
    return True, local_date(own.informed_at)


def withdrawal_for_order(order: Order) -> deadlines.Deadline:
    delivered = local_date(order.delivered_at) if order.delivered_at else None
    informed, when = informed_on(order)
    return deadlines.withdrawal_deadline(delivered, informed=informed, informed_on=when)


# --- the public return page: find an order without revealing whether it exists ---------------------------

_SPACES = re.compile(r"\s+")


def order_for_customer(number: str, email: str) -> Order | None:
    """The customer's order by number and e-mail (both must match; the caller shows one answer for every
    miss, so nobody learns whether a number exists)."""
    number = _SPACES.sub("", number or "").lstrip("#")
    email = (email or "").strip().lower()
    if not number or not email or len(number) > 60 or len(email) > 254:
        return None
    candidates = Order.objects.filter(Q(number__iexact=number) | Q(number__iexact=f"#{number}")).order_by(
        "-placed_at", "-id"
    )
    for order in candidates[:20]:
        if order.email and order.email.strip().lower() == email:
            return order
    return None


# --- access (fetch and check in one step) ----------------------------------------------------------------


def access_return(actor, return_id: int, permission: str = "service.view") -> Return:
    if not user_has(actor, permission):
        raise PermissionDenied(_("You may not do this"))
    ret = (
        Return.objects.select_related("order", "order__channel")
        .prefetch_related("lines__order_line__variant")
        .filter(pk=return_id)
        .first()
    )
    if ret is None:
        raise NotFound(_("Return not found"))
    return ret


def access_complaint(actor, complaint_id: int, permission: str = "service.view") -> Complaint:
    if not user_has(actor, permission):
        raise PermissionDenied(_("You may not do this"))
    c = (
        Complaint.objects.select_related("order", "order_line", "replacement_order")
        .prefetch_related("photos")
        .filter(pk=complaint_id)
        .first()
    )
    if c is None:
        raise NotFound(_("Complaint not found"))
    return c


def access_refund(actor, refund_id: int, permission: str = "service.view") -> Refund:
    if not user_has(actor, permission):
        raise PermissionDenied(_("You may not do this"))
    r = Refund.objects.select_related("order").filter(pk=refund_id).first()
    if r is None:
        raise NotFound(_("Refund not found"))
    return r


# --- timelines -------------------------------------------------------------------------------------------


def timeline(*, return_id: int | None = None, complaint_id: int | None = None) -> QuerySet[CaseEvent]:
    qs = CaseEvent.objects.select_related("actor")
    if return_id is not None:
        return qs.filter(return_case_id=return_id).order_by("at", "id")
    return qs.filter(complaint_id=complaint_id).order_by("at", "id")


def case_emails(*, return_id: int | None = None, complaint_id: int | None = None) -> QuerySet[OutboxEmail]:
    if return_id is not None:
        return OutboxEmail.objects.filter(return_case_id=return_id).order_by("id")
    return OutboxEmail.objects.filter(complaint_id=complaint_id).order_by("id")


def refunds_for(order_id: int) -> QuerySet[Refund]:
    return Refund.objects.filter(order_id=order_id).order_by("id")


def returns_for_order(order_id: int) -> QuerySet[Return]:
    return Return.objects.filter(order_id=order_id).order_by("id")


def complaints_for_order(order_id: int) -> QuerySet[Complaint]:
    return Complaint.objects.filter(order_id=order_id).order_by("id")


# --- staff lists -----------------------------------------------------------------------------------------

DUE_FILTERS = ("today", "overdue", "warning", "open")


@dataclass
class CaseFilter:
    state: list[str] = field(default_factory=list)
    due: str = ""  # one of DUE_FILTERS or ""
    q: str = ""

    @classmethod
    def from_params(cls, params) -> CaseFilter:
        states = [s for s in (params.get("state") or "").split(",") if s]
        due = params.get("due") or ""
        return cls(
            state=states, due=due if due in DUE_FILTERS else "", q=(params.get("q") or "").strip()[:100]
        )


def _due_q(due: str, today: dt.date, due_field: str, warn_field: str, open_states) -> Q:
    open_q = Q(state__in=open_states)
    if due == "today":
        return open_q & Q(**{due_field: today})
    if due == "overdue":
        return open_q & Q(**{f"{due_field}__lt": today})
    if due == "warning":
        return open_q & Q(**{f"{warn_field}__lte": today, f"{due_field}__gte": today})
    if due == "open":
        return open_q
    return Q()


def _search(qs: QuerySet, q: str, prefix: str) -> QuerySet:
    if not q:
        return qs
    m = re.fullmatch(rf"(?i){prefix}-?0*(\d+)", q)
    if m:
        return qs.filter(pk=int(m.group(1)))
    return qs.filter(
        Q(order__number__iexact=q) | Q(order__number__iexact=f"#{q.lstrip('#')}") | Q(email__iexact=q)
    )


@dataclass
class Page:
    items: list[Any]
    next_cursor: int | None


def _keyset(qs: QuerySet, cursor: int | None, limit: int) -> Page:
    """Newest first by id; the cursor is the last id seen."""
    if cursor:
        qs = qs.filter(pk__lt=cursor)
    items = list(qs.order_by("-id")[: limit + 1])
    next_cursor = items[limit - 1].pk if len(items) > limit else None
    return Page(items[:limit], next_cursor)


def returns_list(
    f: CaseFilter, *, cursor: int | None = None, limit: int = 50, today: dt.date | None = None
) -> Page:
    today = today or local_today()
    qs = Return.objects.select_related("order").filter(
        _due_q(f.due, today, "refund_due", "refund_warn_on", RETURN_OPEN_STATES)
    )
    if f.state:
        qs = qs.filter(state__in=f.state)
    return _keyset(_search(qs, f.q, "R"), cursor, limit)


def complaints_list(
    f: CaseFilter, *, cursor: int | None = None, limit: int = 50, today: dt.date | None = None
) -> Page:
    today = today or local_today()
    open_unanswered = [ComplaintState.RECEIVED]
    due_q = _due_q(
        f.due,
        today,
        "response_due",
        "escalate_on",
        open_unanswered if f.due in ("today", "overdue", "warning") else COMPLAINT_OPEN_STATES,
    )
    if f.due in ("today", "overdue", "warning"):
        due_q &= Q(responded_at__isnull=True)
    qs = Complaint.objects.select_related("order", "order_line").filter(due_q)
    if f.state:
        qs = qs.filter(state__in=f.state)
    return _keyset(_search(qs, f.q, "C"), cursor, limit)


@dataclass
class DueCounts:
    returns_today: int
    returns_overdue: int
    returns_warning: int
    complaints_today: int
    complaints_overdue: int
    complaints_warning: int
    refunds_awaiting: int


def due_counts(today: dt.date | None = None) -> DueCounts:
    today = today or local_today()
    r = Return.objects.filter(state__in=RETURN_OPEN_STATES)
    c = Complaint.objects.filter(state=ComplaintState.RECEIVED, responded_at__isnull=True)
    return DueCounts(
        returns_today=r.filter(refund_due=today).count(),
        returns_overdue=r.filter(refund_due__lt=today).count(),
        returns_warning=r.filter(refund_warn_on__lte=today, refund_due__gte=today).count(),
        complaints_today=c.filter(response_due=today).count(),
        complaints_overdue=c.filter(response_due__lt=today).count(),
        complaints_warning=c.filter(escalate_on__lte=today, response_due__gte=today).count(),
        refunds_awaiting=Refund.objects.filter(state=RefundState.AWAITING_CONFIRMATION).count(),
    )


def due_cases(today: dt.date | None = None, limit: int = 1000) -> dict[str, list[dict[str, Any]]]:
    """Open cases due today or overdue, for `zaplecze service deadlines --json` and the API."""
    today = today or local_today()
    returns = (
        Return.objects.filter(state__in=RETURN_OPEN_STATES, refund_due__lte=today)
        .select_related("order")
        .order_by("refund_due", "id")[:limit]
    )
    complaints = (
        Complaint.objects.filter(
            state=ComplaintState.RECEIVED, responded_at__isnull=True, response_due__lte=today
        )
        .select_related("order")
        .order_by("response_due", "id")[:limit]
    )
    return {
        "today": today.isoformat(),
        "returns": [
            {
                "id": r.pk,
                "number": r.number,
                "order": r.order.number,
                "state": r.state,
                "refund_due": r.refund_due.isoformat(),
                "overdue": r.refund_due < today,
                "held": r.goods_received_at is None and r.proof_of_sending_at is None,
            }
            for r in returns
        ],
        "complaints": [
            {
                "id": c.pk,
                "number": c.number,
                "order": c.order.number,
                "state": c.state,
                "response_due": c.response_due.isoformat(),
                "overdue": c.response_due < today,
                "deemed_acceptance": c.deemed_acceptance,
            }
            for c in complaints
        ],
    }


def complaints_to_deem_accepted(today: dt.date) -> QuerySet[Complaint]:
    """Consumer complaints without a reply sent whose reply deadline has passed."""
    return Complaint.objects.filter(
        deemed_acceptance=True,
        responded_at__isnull=True,
        response_due__lt=today,
        state__in=[ComplaintState.RECEIVED, ComplaintState.ACCEPTED, ComplaintState.REJECTED],
    ).order_by("id")


# --- helpdesk --------------------------------------------------------------------------------------------


def access_ticket(actor, ticket_id: int, permission: str = "service.view"):
    from .models import Ticket

    if not user_has(actor, permission):
        raise PermissionDenied(_("You may not do this"))
    t = Ticket.objects.select_related("customer", "assignee").filter(pk=ticket_id).first()
    if t is None:
        raise NotFound(_("Ticket not found"))
    return t


@dataclass
class TicketFilter:
    queue: str = ""
    status: list[str] = field(default_factory=list)
    assignee: str = ""  # "", "me", "none" or a user id
    q: str = ""
    sla: str = ""  # "", "breached"

    @classmethod
    def from_params(cls, params) -> TicketFilter:
        return cls(
            queue=(params.get("queue") or "")[:20],
            status=[s for s in (params.get("status") or "").split(",") if s],
            assignee=(params.get("assignee") or "")[:20],
            q=(params.get("q") or "").strip()[:100],
            sla=params.get("sla") or "",
        )


def tickets_list(f: TicketFilter, *, actor=None, cursor: int | None = None, limit: int = 50) -> Page:
    from .models import TICKET_OPEN_STATUSES, Ticket

    qs = Ticket.objects.select_related("assignee")
    if f.queue:
        qs = qs.filter(queue=f.queue)
    if f.status == ["open"]:
        qs = qs.filter(status__in=TICKET_OPEN_STATUSES)
    elif f.status:
        qs = qs.filter(status__in=f.status)
    if f.assignee == "me" and actor is not None:
        qs = qs.filter(assignee=actor)
    elif f.assignee == "none":
        qs = qs.filter(assignee__isnull=True)
    elif f.assignee.isdigit():
        qs = qs.filter(assignee_id=int(f.assignee))
    if f.q:
        m = re.fullmatch(r"(?i)T-?0*(\d+)", f.q)
        qs = (
            qs.filter(pk=int(m.group(1)))
            if m
            else qs.filter(
                Q(search_text__contains=f.q.lower()) | Q(email__iexact=f.q) | Q(orders__number__iexact=f.q)
            ).distinct()
        )
    page = _keyset(qs, cursor, limit)
    if f.sla == "breached":
        page.items = [t for t in page.items if sla_status(t)["breached"]]
    return page


def sla_status(ticket, now: dt.datetime | None = None) -> dict[str, Any]:
    """First-response and resolution targets of a ticket on its SLA clock (business hours, paused while
    waiting for the customer): due times when running, and whether each is breached."""
    from django.utils import timezone

    from zaplecze.core.businesstime import add_business_seconds
    from zaplecze.service.services import TICKET_SLA_HOURS, sla_clock

    now = now or timezone.now()
    first_h, resolve_h = TICKET_SLA_HOURS.get(ticket.priority, TICKET_SLA_HOURS["normal"])
    clock = sla_clock(ticket, now)
    out: dict[str, Any] = {
        "clock_seconds": clock,
        "paused": ticket.sla_since is None,
        "first_response_due": None,
        "resolution_due": None,
    }
    first_target, resolve_target = first_h * 3600, resolve_h * 3600
    if ticket.first_response_at is not None:
        out["first_response_breached"] = (ticket.first_response_sla_seconds or 0) > first_target
    else:
        out["first_response_breached"] = clock > first_target
        if ticket.sla_since is not None:
            out["first_response_due"] = add_business_seconds(now, max(0, first_target - clock))
    if ticket.resolution_sla_seconds is not None:
        out["resolution_breached"] = ticket.resolution_sla_seconds > resolve_target
    else:
        out["resolution_breached"] = clock > resolve_target
        if ticket.sla_since is not None:
            out["resolution_due"] = add_business_seconds(now, max(0, resolve_target - clock))
    out["breached"] = out["first_response_breached"] or out["resolution_breached"]
    return out


def order_shipments(order_ids) -> list[dict[str, Any]]:
    """The orders' shipments with tracking, newest first, from whichever module offers them (shipping)."""
    from zaplecze.core import extensions

    out: list[dict[str, Any]] = []
    for provider in extensions.registered("orders.shipments").values():
        out.extend(provider(order_ids))
    return out


def customer_panel(ticket) -> dict[str, Any]:
    """Everything about the ticket's customer: orders, shipments with tracking, returns, complaints, other
    tickets, lifetime value."""
    from django.db.models import Sum as _Sum

    from zaplecze.orders.models import Stage

    from .models import Ticket

    by_customer = Q(customer_id=ticket.customer_id) if ticket.customer_id else Q(pk__in=[])
    orders = Order.objects.filter(by_customer | Q(email__iexact=ticket.email)).order_by("-placed_at")
    ltv = orders.exclude(stage__in=[Stage.CANCELLED]).aggregate(s=_Sum("total_gross"))["s"] or ZERO
    refunds = (
        Refund.objects.filter(order__in=orders, state=RefundState.DONE).aggregate(s=_Sum("amount"))["s"]
        or ZERO
    )
    return {
        "orders": list(orders.select_related("status")[:20]),
        "order_count": orders.count(),
        "shipments": order_shipments(orders.values_list("pk", flat=True)[:200])[:20],
        "lifetime_value": (ltv - refunds).quantize(ZERO),
        "returns": list(Return.objects.filter(order__in=orders).order_by("-id")[:20]),
        "complaints": list(Complaint.objects.filter(order__in=orders).order_by("-id")[:20]),
        "tickets": list(
            Ticket.objects.filter(email__iexact=ticket.email).exclude(pk=ticket.pk).order_by("-id")[:20]
        ),
    }
