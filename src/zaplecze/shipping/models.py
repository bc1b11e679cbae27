"""Carriers, shipments (with parcels and the order lines they carry), tracking events and delivery promises.

A shipment's `status` is ONE lifecycle for every carrier (`ShipmentStatus`); the carrier's own status is
kept beside it in `raw_status`. `submission` is the state of the conversation with the carrier (asked yet?
answered? label in hand?), separate from where the parcel is."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from zaplecze.orders.models import Channel, DeliveryMethod, Order, OrderLine


class DeliveryPromise(models.Model):
    """Per channel and delivery method: how many working days to dispatch, and the cut-off time until which
    a payment still counts for the same day. An empty channel or method means "any"."""

    channel = models.ForeignKey(
        Channel,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="delivery_promises",
        verbose_name=_("channel"),
    )
    delivery_method = models.CharField(
        _("delivery method"), max_length=20, choices=DeliveryMethod.choices, blank=True, default=""
    )
    handling_days = models.PositiveSmallIntegerField(
        _("handling time (working days)"),
        default=1,
        help_text=_("1 = the same working day when paid by the cut-off, else the next one"),
    )
    cutoff = models.TimeField(
        _("cut-off time"),
        null=True,
        blank=True,
        help_text=_("Paid by this time (Europe/Warsaw) counts for the same working day"),
    )
    active = models.BooleanField(_("active"), default=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["channel__name", "delivery_method", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "delivery_method"],
                condition=Q(channel__isnull=False),
                name="promise_channel_method_unique",
            ),
            models.UniqueConstraint(
                fields=["delivery_method"],
                condition=Q(channel__isnull=True),
                name="promise_any_channel_method_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.channel or '*'} / {self.delivery_method or '*'}: {self.handling_days}d, {self.cutoff or '-'}"


class Carrier(models.Model):
    class Connector(models.TextChoices):
        INPOST = "inpost", _("InPost ShipX")
        MANUAL = "manual", _("Manual (tracking number typed in)")

    code = models.SlugField(max_length=30, unique=True)
    name = models.CharField(_("name"), max_length=80)
    connector = models.CharField(
        _("connector"), max_length=10, choices=Connector.choices, default=Connector.MANUAL
    )
    active = models.BooleanField(_("active"), default=True)
    tracking_url = models.CharField(
        _("tracking page"),
        max_length=300,
        blank=True,
        default="",
        help_text=_("Address of the carrier's tracking page; {number} is replaced"),
    )
    delivery_methods = models.JSONField(
        default=list, blank=True, help_text="Order delivery methods this carrier serves"
    )
    transit_days = models.PositiveSmallIntegerField(
        _("expected transit (working days)"),
        default=2,
        help_text=_("From hand-over to delivery; used for the on-time rate"),
    )
    position = models.PositiveSmallIntegerField(default=100)

    class Meta:
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name

    def tracking_link(self, number: str) -> str:
        if not self.tracking_url or not number:
            return ""
        return self.tracking_url.replace("{number}", number)


class ShipmentStatus(models.TextChoices):
    CREATED = "created", _("Created")
    LABEL_READY = "label_ready", _("Label ready")
    HANDED_OVER = "handed_over", _("Handed over")
    IN_TRANSIT = "in_transit", _("In transit")
    OUT_FOR_DELIVERY = "out_for_delivery", _("Out for delivery")
    READY_FOR_PICKUP = "ready_for_pickup", _("Ready for pickup")
    DELIVERED = "delivered", _("Delivered")
    RETURNED = "returned", _("Returned to sender")
    EXCEPTION = "exception", _("Exception")
    CANCELLED = "cancelled", _("Cancelled")


S = ShipmentStatus
_MOVING = frozenset(
    {S.IN_TRANSIT, S.OUT_FOR_DELIVERY, S.READY_FOR_PICKUP, S.DELIVERED, S.RETURNED, S.EXCEPTION}
)
# Allowed moves of the lifecycle. Carrier updates that would move backwards are kept as tracking events but
# do not change the status (a late webhook never undoes a delivery).
SHIPMENT_TRANSITIONS: dict[str, frozenset[str]] = {
    S.CREATED: frozenset({S.LABEL_READY, S.HANDED_OVER, S.CANCELLED} | _MOVING),
    S.LABEL_READY: frozenset({S.HANDED_OVER, S.CANCELLED} | _MOVING),
    S.HANDED_OVER: _MOVING,
    S.IN_TRANSIT: _MOVING - {S.IN_TRANSIT},
    S.OUT_FOR_DELIVERY: _MOVING - {S.OUT_FOR_DELIVERY},
    S.READY_FOR_PICKUP: _MOVING - {S.READY_FOR_PICKUP},
    S.EXCEPTION: _MOVING - {S.EXCEPTION},
    S.DELIVERED: frozenset({S.RETURNED}),
    S.RETURNED: frozenset(),
    S.CANCELLED: frozenset(),
}
# Statuses at which the parcel has left the warehouse (the order counts as shipped).
LEFT_WAREHOUSE = frozenset({S.HANDED_OVER} | _MOVING)
FINAL = frozenset({S.DELIVERED, S.RETURNED, S.CANCELLED})
# Tracking is polled while the shipment is in one of these.
TRACKED = frozenset(
    {
        S.CREATED,
        S.LABEL_READY,
        S.HANDED_OVER,
        S.IN_TRANSIT,
        S.OUT_FOR_DELIVERY,
        S.READY_FOR_PICKUP,
        S.EXCEPTION,
    }
)


class Submission(models.TextChoices):
    """Where the conversation with the carrier stands."""

    PENDING = "pending", _("Waiting to be sent to the carrier")
    SUBMITTED = "submitted", _("Accepted by the carrier, label not yet downloaded")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed, will be retried")
    GAVE_UP = "gave_up", _("Failed, retries exhausted")


class ParcelTemplate(models.TextChoices):
    """InPost parcel-locker sizes."""

    SMALL = "small", _("A (small)")
    MEDIUM = "medium", _("B (medium)")
    LARGE = "large", _("C (large)")


class Shipment(models.Model):
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="shipments")
    carrier = models.ForeignKey(Carrier, on_delete=models.PROTECT, related_name="shipments")
    service = models.CharField(_("service"), max_length=60, default="standard")
    status = models.CharField(
        _("status"), max_length=20, choices=ShipmentStatus.choices, default=ShipmentStatus.CREATED
    )
    raw_status = models.CharField(_("carrier status"), max_length=80, blank=True, default="")
    status_at = models.DateTimeField(null=True, blank=True)

    # The idempotency key: stored (and committed) before the carrier is called, sent as ShipX `reference`,
    # and used to find a parcel the carrier created although its answer was lost.
    reference = models.CharField(_("reference"), max_length=100, unique=True)
    submission = models.CharField(max_length=10, choices=Submission.choices, default=Submission.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(
        null=True, blank=True, help_text="Someone is talking to the carrier until then"
    )

    external_id = models.CharField(_("carrier id"), max_length=60, blank=True, default="", db_index=True)
    tracking_number = models.CharField(
        _("tracking number"), max_length=60, blank=True, default="", db_index=True
    )
    target_point = models.CharField(_("pickup point"), max_length=40, blank=True, default="")
    receiver = models.JSONField(default=dict, blank=True)
    currency = models.CharField(max_length=3, default="PLN")
    cod_amount = models.DecimalField(
        _("cash on delivery"), max_digits=20, decimal_places=2, null=True, blank=True
    )
    insurance_amount = models.DecimalField(
        _("insurance"), max_digits=20, decimal_places=2, null=True, blank=True
    )
    comments = models.CharField(_("comments"), max_length=200, blank=True, default="")

    label = models.FileField(upload_to="labels/%Y/%m/", blank=True, default="")
    label_at = models.DateTimeField(null=True, blank=True)

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    handed_over_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    last_polled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["created_at", "id"], name="shipment_created_idx"),
            models.Index(fields=["status", "created_at", "id"], name="shipment_status_idx"),
            models.Index(fields=["carrier", "created_at", "id"], name="shipment_carrier_idx"),
            models.Index(fields=["submission", "next_attempt_at"], name="shipment_submission_idx"),
            models.Index(fields=["order", "id"], name="shipment_order_idx"),
        ]

    def __str__(self) -> str:
        return self.tracking_number or self.reference

    @property
    def is_active(self) -> bool:
        return self.status != ShipmentStatus.CANCELLED

    def can_move_to(self, status: str) -> bool:
        return status in SHIPMENT_TRANSITIONS[self.status]

    def can_cancel(self) -> bool:
        return self.status in (ShipmentStatus.CREATED, ShipmentStatus.LABEL_READY)

    @property
    def tracking_link(self) -> str:
        return self.carrier.tracking_link(self.tracking_number)


class Parcel(models.Model):
    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="parcels")
    position = models.PositiveSmallIntegerField(default=0)
    template = models.CharField(
        _("size"), max_length=10, choices=ParcelTemplate.choices, blank=True, default=""
    )
    length_mm = models.PositiveIntegerField(null=True, blank=True)
    width_mm = models.PositiveIntegerField(null=True, blank=True)
    height_mm = models.PositiveIntegerField(null=True, blank=True)
    weight_kg = models.DecimalField(max_digits=8, decimal_places=3, null=True, blank=True)
    is_non_standard = models.BooleanField(default=False)
    tracking_number = models.CharField(max_length=60, blank=True, default="")
    external_id = models.CharField(max_length=60, blank=True, default="")

    class Meta:
        ordering = ["shipment_id", "position", "id"]

    def __str__(self) -> str:
        return self.tracking_number or f"parcel {self.position + 1}"


class ShipmentItem(models.Model):
    """Which order lines (and how many units) travel in a shipment: delivered-at per order line comes from here."""

    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="items")
    order_line = models.ForeignKey(OrderLine, on_delete=models.PROTECT, related_name="shipment_items")
    quantity = models.PositiveIntegerField()

    class Meta:
        ordering = ["shipment_id", "id"]

    def __str__(self) -> str:
        return f"{self.quantity} × line {self.order_line_id}"


class TrackingEvent(models.Model):
    class Source(models.TextChoices):
        CARRIER = "carrier", _("Carrier (polled)")
        WEBHOOK = "webhook", _("Carrier (webhook)")
        STAFF = "staff", _("Staff")
        SYSTEM = "system", _("Zaplecze")

    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField()
    status = models.CharField(
        max_length=20,
        choices=ShipmentStatus.choices,
        blank=True,
        default="",
        help_text="Lifecycle status; empty when the carrier's status is not mapped",
    )
    raw_status = models.CharField(max_length=80, blank=True, default="")
    location = models.CharField(max_length=120, blank=True, default="")
    message = models.CharField(max_length=500, blank=True, default="")
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.CARRIER)
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["shipment", "raw_status", "at"], name="tracking_event_unique"),
        ]
        indexes = [models.Index(fields=["shipment", "at"], name="tracking_shipment_at_idx")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.raw_status}"


class ShipByAlert(models.Model):
    """An order was reported late (or at risk) against this ship-by time: reported once per ship-by."""

    class Kind(models.TextChoices):
        LATE = "late", _("Late")
        AT_RISK = "at_risk", _("At risk")

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="ship_by_alerts")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    ship_by = models.DateTimeField()
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["order", "kind", "ship_by"], name="ship_by_alert_once"),
        ]

    def __str__(self) -> str:
        return f"{self.order_id} {self.kind} {self.ship_by:%Y-%m-%d %H:%M}"
