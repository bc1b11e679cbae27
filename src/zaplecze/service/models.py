"""Customer service data: returns (withdrawals) with lines, complaints with photos, refunds, the case
timeline, the e-mail outbox, return-exclusion flags on products and records that customers were informed
of the right of withdrawal.

Every status is a TextChoices with an explicit transitions table; services change them (one transition
service per case type) and write a CaseEvent and an audit row in the same transaction."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from zaplecze.catalog.models import Product
from zaplecze.orders.models import Channel, CustomerType, Order, OrderLine

from .rules import Remedy, ReturnExclusion, StatutoryReason

# --- policy records ---------------------------------------------------------------------------------------


class ProductReturnExclusion(models.Model):
    """A product excluded from withdrawal (upk art. 38): a flag with a fixed kind, never free text."""

    product = models.OneToOneField(Product, on_delete=models.CASCADE, related_name="return_exclusion")
    kind = models.CharField(_("exclusion"), max_length=20, choices=ReturnExclusion.choices)
    note = models.CharField(_("note"), max_length=300, blank=True, default="")
    set_at = models.DateTimeField(default=timezone.now)
    set_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    def __str__(self) -> str:
        return f"{self.product_id}: {self.kind}"


class WithdrawalNotice(models.Model):
    """A record that customers were informed of the right of withdrawal (upk art. 12, 29): either for every
    order of a channel placed from `informed_at` on (the checkout shows it), or for one order (e.g. an
    e-mail sent after the sale). Without one, the withdrawal period is 14 days + 12 months."""

    channel = models.ForeignKey(Channel, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    order = models.ForeignKey(Order, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    informed_at = models.DateTimeField(_("informed at"))
    how = models.CharField(_("how"), max_length=300, default="", blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(Q(channel__isnull=False) & Q(order__isnull=True))
                | (Q(channel__isnull=True) & Q(order__isnull=False)),
                name="withdrawal_notice_channel_xor_order",
            )
        ]

    def __str__(self) -> str:
        return f"informed {self.informed_at:%Y-%m-%d} ({'channel' if self.channel_id else 'order'})"


# --- returns ---------------------------------------------------------------------------------------------


class ReturnState(models.TextChoices):
    REQUESTED = "requested", _("Requested")
    ACCEPTED = "accepted", _("Accepted")
    REJECTED = "rejected", _("Rejected")
    RECEIVED = "received", _("Goods received")
    REFUNDED = "refunded", _("Refunded")
    CLOSED = "closed", _("Closed")


# The only moves a return can make. A refund may go out before the goods are back when proof of sending
# arrived (upk art. 32 ust. 3): accepted -> refunded; the goods are then received in the refunded state.
RETURN_TRANSITIONS: dict[str, frozenset[str]] = {
    ReturnState.REQUESTED: frozenset({ReturnState.ACCEPTED, ReturnState.REJECTED}),
    ReturnState.ACCEPTED: frozenset({ReturnState.RECEIVED, ReturnState.REFUNDED}),
    ReturnState.RECEIVED: frozenset({ReturnState.REFUNDED, ReturnState.CLOSED}),
    ReturnState.REFUNDED: frozenset({ReturnState.CLOSED}),
    ReturnState.REJECTED: frozenset({ReturnState.CLOSED}),
    ReturnState.CLOSED: frozenset(),
}
RETURN_OPEN_STATES = frozenset({ReturnState.REQUESTED, ReturnState.ACCEPTED, ReturnState.RECEIVED})
# States in which the quantities of a return count as "already returned".
RETURN_COUNTING_STATES = frozenset(set(ReturnState.values) - {ReturnState.REJECTED})


class Source(models.TextChoices):
    PUBLIC = "public", _("Customer (public page)")
    STAFF = "staff", _("Staff")
    API = "api", _("API")
    EMAIL = "email", _("E-mail")


class Return(models.Model):
    """A withdrawal from a distance contract for some lines of one order."""

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="service_returns")
    state = models.CharField(
        _("state"), max_length=12, choices=ReturnState.choices, default=ReturnState.REQUESTED
    )
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.STAFF)
    reason = models.TextField(_("reason"), blank=True, default="")
    email = models.CharField(_("e-mail"), max_length=254, blank=True, default="")
    # upk art. 30: sending on time is enough; keep both.
    statement_sent_at = models.DateTimeField(_("statement sent at"))
    statement_received_at = models.DateTimeField(_("statement received at"))
    withdrawal_deadline = models.DateField(_("withdrawal deadline"), null=True, blank=True)
    refund_due = models.DateField(_("refund due"), db_index=True)
    refund_warn_on = models.DateField(_("refund warning on"))
    rejection_reason = models.TextField(_("reason for rejection"), blank=True, default="")
    proof_of_sending_at = models.DateTimeField(_("proof of sending at"), null=True, blank=True)
    goods_received_at = models.DateTimeField(_("goods received at"), null=True, blank=True)
    refunded_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    bank_account = models.CharField(
        _("bank account (IBAN) for the refund"), max_length=34, blank=True, default=""
    )
    language = models.CharField(max_length=8, default="pl")
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["state", "refund_due", "id"], name="return_state_due_idx"),
            models.Index(fields=["order", "state"], name="return_order_state_idx"),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def number(self) -> str:
        return f"R-{self.pk:06d}" if self.pk else "R-new"

    def can_move_to(self, state: str) -> bool:
        return state in RETURN_TRANSITIONS[self.state]

    @property
    def is_open(self) -> bool:
        return self.state in RETURN_OPEN_STATES


class Inspection(models.TextChoices):
    PENDING = "pending", _("Not inspected")
    RESELLABLE = "resellable", _("Resellable")
    DAMAGED = "damaged", _("Damaged")
    MISSING = "missing", _("Missing")


class ReturnLine(models.Model):
    return_case = models.ForeignKey(Return, on_delete=models.CASCADE, related_name="lines")
    order_line = models.ForeignKey(OrderLine, on_delete=models.PROTECT, related_name="service_return_lines")
    quantity = models.PositiveIntegerField(_("quantity"))
    # Inspection when the goods come back: how many of `quantity` are in each condition.
    resellable = models.PositiveIntegerField(default=0)
    damaged = models.PositiveIntegerField(default=0)
    missing = models.PositiveIntegerField(default=0)
    inspection_note = models.CharField(max_length=500, blank=True, default="")
    restocked = models.PositiveIntegerField(default=0, help_text="Units put back into stock")

    class Meta:
        ordering = ["return_case_id", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="return_line_quantity_gt_0"),
            models.CheckConstraint(
                condition=Q(resellable__lte=models.F("quantity") - models.F("damaged") - models.F("missing")),
                name="return_line_inspection_lte_quantity",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.order_line_id} x {self.quantity}"

    @property
    def inspected(self) -> bool:
        return self.resellable + self.damaged + self.missing == self.quantity

    @property
    def inspection(self) -> str:
        if not self.inspected:
            return Inspection.PENDING
        parts = [k for k in ("resellable", "damaged", "missing") if getattr(self, k)]
        return parts[0] if len(parts) == 1 else "mixed"


# --- complaints ------------------------------------------------------------------------------------------


class ComplaintState(models.TextChoices):
    RECEIVED = "received", _("Received")
    ACCEPTED = "accepted", _("Accepted")
    REJECTED = "rejected", _("Rejected")
    DEEMED_ACCEPTED = "deemed_accepted", _("Deemed accepted (no reply in time)")
    RESOLVED = "resolved", _("Resolved")
    CLOSED = "closed", _("Closed")


COMPLAINT_TRANSITIONS: dict[str, frozenset[str]] = {
    ComplaintState.RECEIVED: frozenset(
        {ComplaintState.ACCEPTED, ComplaintState.REJECTED, ComplaintState.DEEMED_ACCEPTED}
    ),
    # A decision that did not reach the customer by the deadline does not count (the sent date is the
    # response date): the system may still move it to deemed accepted.
    ComplaintState.ACCEPTED: frozenset({ComplaintState.RESOLVED, ComplaintState.DEEMED_ACCEPTED}),
    ComplaintState.REJECTED: frozenset({ComplaintState.CLOSED, ComplaintState.DEEMED_ACCEPTED}),
    ComplaintState.DEEMED_ACCEPTED: frozenset({ComplaintState.RESOLVED}),
    ComplaintState.RESOLVED: frozenset({ComplaintState.CLOSED}),
    ComplaintState.CLOSED: frozenset(),
}
COMPLAINT_OPEN_STATES = frozenset(
    {ComplaintState.RECEIVED, ComplaintState.ACCEPTED, ComplaintState.DEEMED_ACCEPTED}
)


class Complaint(models.Model):
    """A complaint (reklamacja) about one order line."""

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="service_complaints")
    order_line = models.ForeignKey(OrderLine, on_delete=models.PROTECT, related_name="service_complaints")
    quantity = models.PositiveIntegerField(_("quantity"), default=1)
    state = models.CharField(
        _("state"), max_length=16, choices=ComplaintState.choices, default=ComplaintState.RECEIVED
    )
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.STAFF)
    customer_type = models.CharField(
        max_length=12, choices=CustomerType.choices, default=CustomerType.CONSUMER
    )
    email = models.CharField(_("e-mail"), max_length=254, blank=True, default="")
    language = models.CharField(max_length=8, default="pl")
    defect = models.TextField(_("defect description"))
    noticed_on = models.DateField(_("defect noticed on"), null=True, blank=True)
    received_at = models.DateTimeField(_("received at"))
    requested_remedy = models.CharField(_("requested remedy"), max_length=16, choices=Remedy.choices)
    requested_amount = models.DecimalField(
        _("requested reduction"), max_digits=20, decimal_places=2, null=True, blank=True
    )
    statutory_reason = models.CharField(
        _("statutory reason"), max_length=12, choices=StatutoryReason.choices, blank=True, default=""
    )
    immaterial = models.BooleanField(_("immaterial non-conformity"), default=False)

    response_due = models.DateField(_("reply due"), db_index=True)
    escalate_on = models.DateField(_("escalate on"))
    deemed_acceptance = models.BooleanField(
        default=True, help_text="Silence past the deadline means acceptance"
    )
    liability_until = models.DateField(_("liability until"), null=True, blank=True)
    within_liability = models.BooleanField(null=True)
    late_notice = models.BooleanField(default=False, help_text="B2B: notified later than promptly")

    decision_remedy = models.CharField(
        _("remedy decided"), max_length=16, choices=Remedy.choices, blank=True, default=""
    )
    decision_reason = models.CharField(
        _("statutory reason of the decision"),
        max_length=12,
        choices=StatutoryReason.choices,
        blank=True,
        default="",
    )
    decision_text = models.TextField(_("decision"), blank=True, default="")
    decided_at = models.DateTimeField(null=True, blank=True)
    responded_at = models.DateTimeField(_("reply sent at"), null=True, blank=True)
    deemed_accepted_at = models.DateTimeField(null=True, blank=True)
    resolution = models.CharField(
        _("resolution"), max_length=16, choices=Remedy.choices, blank=True, default=""
    )
    resolution_note = models.TextField(blank=True, default="")
    replacement_order = models.ForeignKey(
        Order, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["state", "response_due", "id"], name="complaint_state_due_idx")]

    def __str__(self) -> str:
        return self.number

    @property
    def number(self) -> str:
        return f"C-{self.pk:06d}" if self.pk else "C-new"

    def can_move_to(self, state: str) -> bool:
        return state in COMPLAINT_TRANSITIONS[self.state]

    @property
    def is_open(self) -> bool:
        return self.state in COMPLAINT_OPEN_STATES

    @property
    def answered(self) -> bool:
        return self.responded_at is not None


def complaint_photo_path(instance: ComplaintPhoto, filename: str) -> str:
    return f"service/complaints/{instance.complaint_id}/{timezone.now():%Y%m%d%H%M%S}-{filename[-80:]}"


class ComplaintPhoto(models.Model):
    complaint = models.ForeignKey(Complaint, on_delete=models.CASCADE, related_name="photos")
    file = models.FileField(upload_to=complaint_photo_path, max_length=300)
    filename = models.CharField(max_length=200)
    content_type = models.CharField(max_length=60)
    size = models.PositiveIntegerField()
    uploaded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.filename


# --- refunds ---------------------------------------------------------------------------------------------


class RefundMethod(models.TextChoices):
    ORIGINAL = "original", _("Original payment method")
    BANK_TRANSFER = "bank_transfer", _("Bank transfer")


class RefundState(models.TextChoices):
    PENDING = "pending", _("Recorded, to be sent")
    PROCESSING = "processing", _("Being sent")
    AWAITING_CONFIRMATION = "awaiting_confirmation", _("Awaiting manual confirmation")
    DONE = "done", _("Refunded")
    FAILED = "failed", _("Failed")


# Refunds that hold money (count against "paid minus refunded"); a failed one frees its amount.
REFUND_HOLDING_STATES = frozenset(set(RefundState.values) - {RefundState.FAILED})


class Refund(models.Model):
    """Money sent back for an order. The idempotency key is stored before any outside call, so a retried
    refund (a repeated request or a re-run send) never goes out twice."""

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="service_refunds")
    return_case = models.ForeignKey(
        Return, null=True, blank=True, on_delete=models.PROTECT, related_name="refunds"
    )
    complaint = models.ForeignKey(
        Complaint, null=True, blank=True, on_delete=models.PROTECT, related_name="refunds"
    )
    amount = models.DecimalField(_("amount"), max_digits=20, decimal_places=2)
    currency = models.CharField(max_length=3, default="PLN")
    method = models.CharField(_("method"), max_length=14, choices=RefundMethod.choices)
    iban = models.CharField("IBAN", max_length=34, blank=True, default="")
    reason = models.CharField(_("reason"), max_length=300, blank=True, default="")
    idempotency_key = models.CharField(max_length=80, unique=True)
    connector = models.CharField(max_length=30, default="manual")
    state = models.CharField(max_length=24, choices=RefundState.choices, default=RefundState.PENDING)
    provider_reference = models.CharField(max_length=120, blank=True, default="")
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True, default="")
    processing_since = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    sent_at = models.DateTimeField(null=True, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="refund_amount_gt_0")]
        indexes = [models.Index(fields=["state", "id"], name="refund_state_idx")]

    def __str__(self) -> str:
        return f"refund #{self.pk} {self.amount} {self.currency}"


# --- timeline and outbox ---------------------------------------------------------------------------------


class CaseEvent(models.Model):
    """The case timeline: every state change, note, refund step and e-mail of a return or complaint."""

    class Kind(models.TextChoices):
        CREATED = "created", _("Created")
        STATE = "state", _("State changed")
        INSPECTED = "inspected", _("Goods inspected")
        RESTOCKED = "restocked", _("Back in stock")
        REFUND = "refund", _("Refund")
        EMAIL_QUEUED = "email_queued", _("E-mail queued")
        EMAIL_SENT = "email_sent", _("E-mail sent")
        EMAIL_FAILED = "email_failed", _("E-mail not sent")
        NOTE = "note", _("Note")
        PHOTO = "photo", _("Photo added")
        LETTER = "letter", _("Decision letter")
        ESCALATED = "escalated", _("Escalated")

    return_case = models.ForeignKey(
        Return, null=True, blank=True, on_delete=models.CASCADE, related_name="events"
    )
    complaint = models.ForeignKey(
        Complaint, null=True, blank=True, on_delete=models.CASCADE, related_name="events"
    )
    at = models.DateTimeField(default=timezone.now)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=150, default="system")
    from_state = models.CharField(max_length=16, blank=True, default="")
    to_state = models.CharField(max_length=16, blank=True, default="")
    message = models.TextField(blank=True, default="")
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["return_case", "at"]), models.Index(fields=["complaint", "at"])]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.kind}"


class OutboxEmail(models.Model):
    """An e-mail written in the same transaction as the change it reports, sent by the worker only after
    commit and retried with back-off when the mail server fails."""

    class State(models.TextChoices):
        PENDING = "pending", _("Waiting to be sent")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Gave up")

    key = models.CharField(max_length=120, unique=True, help_text="One e-mail per key (idempotent enqueue)")
    kind = models.CharField(max_length=40)
    to = models.CharField(max_length=254)
    subject = models.CharField(max_length=300)
    body = models.TextField()
    language = models.CharField(max_length=8, default="pl")
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_error = models.CharField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    sending_since = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    message_id = models.CharField(max_length=200, blank=True, default="")
    return_case = models.ForeignKey(
        Return, null=True, blank=True, on_delete=models.CASCADE, related_name="emails"
    )
    complaint = models.ForeignKey(
        Complaint, null=True, blank=True, on_delete=models.CASCADE, related_name="emails"
    )
    refund = models.ForeignKey(
        Refund, null=True, blank=True, on_delete=models.SET_NULL, related_name="emails"
    )

    ticket = models.ForeignKey(
        "service.Ticket", null=True, blank=True, on_delete=models.CASCADE, related_name="emails"
    )
    headers = models.JSONField(default=dict, blank=True, help_text="Extra headers, e.g. In-Reply-To")

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["state", "next_attempt_at"], name="outbox_state_next_idx")]

    def __str__(self) -> str:
        return f"{self.kind} to {self.to} ({self.state})"


class OutboxAttachment(models.Model):
    email = models.ForeignKey(OutboxEmail, on_delete=models.CASCADE, related_name="attachments")
    filename = models.CharField(max_length=200)
    content_type = models.CharField(max_length=100)
    content = models.BinaryField()

    def __str__(self) -> str:
        return self.filename


# --- helpdesk --------------------------------------------------------------------------------------------


class TicketQueue(models.TextChoices):
    SERVICE = "service", _("Customer service")
    LOGISTICS = "logistics", _("Logistics")
    IT = "it", _("IT")


class TicketStatus(models.TextChoices):
    NEW = "new", _("New")
    OPEN = "open", _("Open")
    WAITING_CUSTOMER = "waiting_customer", _("Waiting for the customer")
    WAITING_THIRD_PARTY = "waiting_third_party", _("Waiting for a third party")
    SOLVED = "solved", _("Solved")
    CLOSED = "closed", _("Closed")


TICKET_TRANSITIONS: dict[str, frozenset[str]] = {
    TicketStatus.NEW: frozenset(
        {
            TicketStatus.OPEN,
            TicketStatus.WAITING_CUSTOMER,
            TicketStatus.WAITING_THIRD_PARTY,
            TicketStatus.SOLVED,
            TicketStatus.CLOSED,
        }
    ),
    TicketStatus.OPEN: frozenset(
        {
            TicketStatus.WAITING_CUSTOMER,
            TicketStatus.WAITING_THIRD_PARTY,
            TicketStatus.SOLVED,
            TicketStatus.CLOSED,
        }
    ),
    TicketStatus.WAITING_CUSTOMER: frozenset(
        {TicketStatus.OPEN, TicketStatus.WAITING_THIRD_PARTY, TicketStatus.SOLVED, TicketStatus.CLOSED}
    ),
    TicketStatus.WAITING_THIRD_PARTY: frozenset(
        {TicketStatus.OPEN, TicketStatus.WAITING_CUSTOMER, TicketStatus.SOLVED, TicketStatus.CLOSED}
    ),
    TicketStatus.SOLVED: frozenset({TicketStatus.OPEN, TicketStatus.CLOSED}),
    TicketStatus.CLOSED: frozenset({TicketStatus.OPEN}),
}
# The SLA clock stops while waiting for the customer and once the ticket is solved or closed.
SLA_STOPPED_STATUSES = frozenset({TicketStatus.WAITING_CUSTOMER, TicketStatus.SOLVED, TicketStatus.CLOSED})
TICKET_OPEN_STATUSES = frozenset(
    {TicketStatus.NEW, TicketStatus.OPEN, TicketStatus.WAITING_CUSTOMER, TicketStatus.WAITING_THIRD_PARTY}
)


class TicketPriority(models.TextChoices):
    LOW = "low", _("Low")
    NORMAL = "normal", _("Normal")
    HIGH = "high", _("High")
    URGENT = "urgent", _("Urgent")


class TicketChannel(models.TextChoices):
    EMAIL = "email", _("E-mail")
    FORM = "form", _("Contact form")
    STAFF = "staff", _("Staff")
    MARKETPLACE = "marketplace", _("Marketplace message")
    API = "api", _("API")


class Ticket(models.Model):
    """A customer conversation, linked to a customer and orders, with SLA timers in business hours."""

    subject = models.CharField(_("subject"), max_length=300)
    status = models.CharField(
        _("status"), max_length=20, choices=TicketStatus.choices, default=TicketStatus.NEW
    )
    queue = models.CharField(
        _("queue"), max_length=12, choices=TicketQueue.choices, default=TicketQueue.SERVICE
    )
    priority = models.CharField(
        _("priority"), max_length=8, choices=TicketPriority.choices, default=TicketPriority.NORMAL
    )
    channel = models.CharField(max_length=12, choices=TicketChannel.choices, default=TicketChannel.EMAIL)
    tags = models.JSONField(default=list, blank=True)
    customer = models.ForeignKey(
        "orders.Customer", null=True, blank=True, on_delete=models.SET_NULL, related_name="service_tickets"
    )
    email = models.CharField(_("e-mail"), max_length=254, db_index=True)
    name = models.CharField(_("name"), max_length=200, blank=True, default="")
    language = models.CharField(max_length=8, default="pl")
    orders = models.ManyToManyField(Order, blank=True, related_name="service_tickets")
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="service_tickets",
    )
    # SLA: one clock of business seconds that runs except while waiting for the customer or after solving.
    sla_seconds = models.PositiveIntegerField(default=0, help_text="Business seconds counted until sla_since")
    sla_since = models.DateTimeField(
        null=True, blank=True, help_text="The clock runs from here (null: stopped)"
    )
    first_response_at = models.DateTimeField(null=True, blank=True)
    first_response_sla_seconds = models.PositiveIntegerField(null=True, blank=True)
    solved_at = models.DateTimeField(null=True, blank=True)
    resolution_sla_seconds = models.PositiveIntegerField(null=True, blank=True)
    search_text = models.TextField(blank=True, default="", help_text="Lower-cased subject and messages")
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["queue", "status", "id"], name="ticket_queue_status_idx"),
            models.Index(fields=["assignee", "status", "id"], name="ticket_assignee_status_idx"),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def number(self) -> str:
        return f"T-{self.pk:06d}" if self.pk else "T-new"

    def can_move_to(self, status: str) -> bool:
        return status in TICKET_TRANSITIONS[self.status]


class TicketMessage(models.Model):
    class Direction(models.TextChoices):
        IN = "in", _("From the customer")
        OUT = "out", _("To the customer")
        NOTE = "note", _("Internal note")
        EVENT = "event", _("Change")

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="messages")
    direction = models.CharField(max_length=5, choices=Direction.choices)
    at = models.DateTimeField(default=timezone.now)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    author_label = models.CharField(max_length=200, default="")
    subject = models.CharField(max_length=300, blank=True, default="")
    body = models.TextField(blank=True, default="")
    message_id = models.CharField(max_length=300, blank=True, default="", db_index=True)
    email = models.ForeignKey(OutboxEmail, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.ticket_id} {self.direction} {self.at:%Y-%m-%d %H:%M}"


class CannedReply(models.Model):
    """A reply template with variables: {customer_name}, {order_number}, {tracking_link}, {return_deadline},
    {refund_amount}, {ticket_number}; one per language."""

    name = models.CharField(_("name"), max_length=120)
    language = models.CharField(_("language"), max_length=8, choices=settings.LANGUAGES, default="pl")
    body = models.TextField(_("text"))
    active = models.BooleanField(default=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "language"]
        constraints = [
            models.UniqueConstraint(fields=["name", "language"], name="canned_reply_name_language")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.language})"


# --- e-mail in (IMAP and other message sources) ------------------------------------------------------------


class MailboxState(models.Model):
    """Where the import from one message source stands (an IMAP folder, later a marketplace inbox): the last
    imported position (IMAP UID) within the source's epoch (IMAP UIDVALIDITY). The position moves in the same
    transaction as the ticket written from the message, so a crash never loses or repeats a message."""

    key = models.CharField(max_length=300, unique=True, help_text="e.g. imap://user@host:143/INBOX")
    epoch = models.CharField(max_length=40, blank=True, default="", help_text="IMAP UIDVALIDITY")
    last_uid = models.PositiveBigIntegerField(default=0)
    running_since = models.DateTimeField(null=True, blank=True, help_text="A fetch holds the mailbox")
    last_run_at = models.DateTimeField(null=True, blank=True)
    last_ok_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True, default="")
    imported_total = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["key"]

    def __str__(self) -> str:
        return self.key


class InboundMailOutcome(models.TextChoices):
    CREATED = "created", _("New ticket")
    APPENDED = "appended", _("Added to a ticket")
    DUPLICATE = "duplicate", _("Already imported")
    REFUSED = "refused", _("Refused")
    FAILED = "failed", _("Failed")


class InboundMail(models.Model):
    """One message taken from a source and what became of it; unique per source position."""

    mailbox = models.ForeignKey(MailboxState, on_delete=models.CASCADE, related_name="messages")
    epoch = models.CharField(max_length=40, blank=True, default="")
    uid = models.PositiveBigIntegerField()
    message_id = models.CharField(max_length=300, blank=True, default="")
    sender = models.CharField(max_length=254, blank=True, default="")
    subject = models.CharField(max_length=300, blank=True, default="")
    size = models.PositiveBigIntegerField(default=0)
    outcome = models.CharField(max_length=10, choices=InboundMailOutcome.choices)
    reason = models.CharField(max_length=500, blank=True, default="")
    ticket = models.ForeignKey(
        "service.Ticket", null=True, blank=True, on_delete=models.SET_NULL, related_name="inbound_mail"
    )
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["mailbox", "epoch", "uid"], name="inbound_mail_position")
        ]
        indexes = [models.Index(fields=["outcome", "id"], name="inbound_mail_outcome_idx")]

    def __str__(self) -> str:
        return f"{self.mailbox_id}:{self.epoch}:{self.uid} {self.outcome}"


# --- return labels ---------------------------------------------------------------------------------------


def return_label_path(instance: ReturnLabel, filename: str) -> str:
    return f"service/return-labels/{instance.return_case_id}/{filename[-80:]}"


class ReturnLabel(models.Model):
    """The parcel a customer sends a return in: a label bought through a carrier connector (the
    "service.return_label" extension point; the shop is the receiver, the customer the sender), or a tracking
    number typed in by staff where no connector exists. `reference` is stored before the carrier is called and
    sent as its idempotency key, so a retried request finds the parcel instead of buying a second one."""

    class State(models.TextChoices):
        PENDING = "pending", _("Being created")
        READY = "ready", _("Label ready")
        FAILED = "failed", _("Not created")
        MANUAL = "manual", _("Tracking number entered by hand")

    return_case = models.OneToOneField(Return, on_delete=models.CASCADE, related_name="return_label")
    provider = models.CharField(_("carrier"), max_length=40)
    reference = models.CharField(max_length=100, unique=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    external_id = models.CharField(max_length=60, blank=True, default="")
    tracking_number = models.CharField(_("tracking number"), max_length=60, blank=True, default="")
    label = models.FileField(upload_to=return_label_path, max_length=300, blank=True, default="")
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    label_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.tracking_number or self.reference
