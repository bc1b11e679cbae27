from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from zaplecze.catalog.models import Variant, VatRate


class Channel(models.Model):
    class Kind(models.TextChoices):
        SHOP = "shop", _("Own shop")
        ALLEGRO = "allegro", "Allegro"
        AMAZON = "amazon", "Amazon"
        EBAY = "ebay", "eBay"
        ERLI = "erli", "Erli"
        MANUAL = "manual", _("Manual / phone")
        OTHER = "other", _("Other")

    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=120)
    kind = models.CharField(_("type"), max_length=10, choices=Kind.choices, default=Kind.OTHER)
    active = models.BooleanField(default=True)
    ship_within_hours = models.PositiveIntegerField(
        _("ship within (working hours)"),
        default=24,
        help_text="Promised dispatch time used for the ship-by date",
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class CustomerType(models.TextChoices):
    CONSUMER = "consumer", _("Consumer")
    SOLE_TRADER = "sole_trader", _("Sole trader with consumer rights")
    BUSINESS = "business", _("Business")


class Customer(models.Model):
    type = models.CharField(
        _("customer type"), max_length=12, choices=CustomerType.choices, default=CustomerType.CONSUMER
    )
    name = models.CharField(_("name"), max_length=200, blank=True, default="")
    company = models.CharField(_("company"), max_length=200, blank=True, default="")
    nip = models.CharField("NIP", max_length=13, blank=True, default="")
    email = models.CharField(_("e-mail"), max_length=254, blank=True, default="", db_index=True)
    phone = models.CharField(_("phone"), max_length=40, blank=True, default="", db_index=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.name or self.email or f"#{self.pk}"


class Stage(models.TextChoices):
    """The fixed lifecycle every user-defined status maps to."""

    NEW = "new", _("New")
    AWAITING_PAYMENT = "awaiting_payment", _("Awaiting payment")
    READY = "ready", _("Ready to fulfil")
    IN_FULFILMENT = "in_fulfilment", _("In fulfilment")
    SHIPPED = "shipped", _("Shipped")
    DELIVERED = "delivered", _("Delivered")
    COMPLETED = "completed", _("Completed")
    CANCELLED = "cancelled", _("Cancelled")
    RETURNED = "returned", _("Returned")


# Allowed moves between stages (a status change within one stage is always allowed).
STAGE_TRANSITIONS: dict[str, frozenset[str]] = {
    Stage.NEW: frozenset({Stage.AWAITING_PAYMENT, Stage.READY, Stage.IN_FULFILMENT, Stage.CANCELLED}),
    Stage.AWAITING_PAYMENT: frozenset({Stage.NEW, Stage.READY, Stage.CANCELLED}),
    Stage.READY: frozenset({Stage.AWAITING_PAYMENT, Stage.IN_FULFILMENT, Stage.SHIPPED, Stage.CANCELLED}),
    Stage.IN_FULFILMENT: frozenset({Stage.READY, Stage.SHIPPED, Stage.CANCELLED}),
    Stage.SHIPPED: frozenset({Stage.DELIVERED, Stage.RETURNED}),
    Stage.DELIVERED: frozenset({Stage.COMPLETED, Stage.RETURNED}),
    Stage.COMPLETED: frozenset({Stage.RETURNED}),
    Stage.CANCELLED: frozenset({Stage.NEW}),  # re-opened
    Stage.RETURNED: frozenset(),
}
# Order of the lifecycle, for channel updates that skip stages forward (e.g. new -> shipped).
STAGE_RANK = {
    s: i
    for i, s in enumerate(
        [
            Stage.NEW,
            Stage.AWAITING_PAYMENT,
            Stage.READY,
            Stage.IN_FULFILMENT,
            Stage.SHIPPED,
            Stage.DELIVERED,
            Stage.COMPLETED,
        ]
    )
}
# Stages in which stock is held for the order.
HOLDING_STAGES = frozenset({Stage.NEW, Stage.AWAITING_PAYMENT, Stage.READY, Stage.IN_FULFILMENT})
OPEN_STAGES = HOLDING_STAGES
SHIPPED_STAGES = frozenset({Stage.SHIPPED, Stage.DELIVERED, Stage.COMPLETED})


class OrderStatus(models.Model):
    """A user-defined status (name, colour, position), mapped to one lifecycle stage."""

    code = models.SlugField(max_length=40, unique=True)
    name_pl = models.CharField(_("name (Polish)"), max_length=80)
    name_en = models.CharField(_("name (English)"), max_length=80)
    colour = models.CharField(_("colour"), max_length=7, default="#6b7280")
    position = models.PositiveSmallIntegerField(default=100)
    stage = models.CharField(_("stage"), max_length=20, choices=Stage.choices)
    is_default_for_stage = models.BooleanField(default=False)

    class Meta:
        ordering = ["position", "id"]
        verbose_name_plural = "order statuses"

    def __str__(self) -> str:
        return self.name

    @property
    def name(self) -> str:
        from django.utils.translation import get_language

        return self.name_pl if (get_language() or "pl").startswith("pl") else self.name_en


class PaymentMethod(models.TextChoices):
    COD = "cod", _("Cash on delivery")
    TRANSFER = "transfer", _("Bank transfer")
    CARD = "card", _("Card")
    BLIK = "blik", "BLIK"
    ONLINE = "online", _("Online payment (PayU, Przelewy24)")
    PAYPAL = "paypal", "PayPal"
    MARKETPLACE = "marketplace", _("Marketplace payment")
    CASH = "cash", _("Cash")
    OTHER = "other", _("Other")


class PaymentStatus(models.TextChoices):
    UNPAID = "unpaid", _("Unpaid")
    PARTIALLY_PAID = "partially_paid", _("Partially paid")
    PAID = "paid", _("Paid")
    COD = "cod", _("To be collected on delivery")
    REFUNDED = "refunded", _("Refunded")
    PARTIALLY_REFUNDED = "partially_refunded", _("Partially refunded")


class DeliveryMethod(models.TextChoices):
    INPOST_LOCKER = "inpost_locker", _("InPost Paczkomat")
    INPOST_COURIER = "inpost_courier", _("InPost courier")
    DPD = "dpd", "DPD"
    DHL = "dhl", "DHL"
    GLS = "gls", "GLS"
    POCZTA = "poczta", _("Poczta Polska")
    ORLEN = "orlen", _("ORLEN Paczka")
    PICKUP = "pickup", _("Personal pickup")
    OTHER = "other", _("Other")


class Tag(models.Model):
    name = models.CharField(max_length=50, unique=True)

    def __str__(self) -> str:
        return self.name


class Order(models.Model):
    channel = models.ForeignKey(Channel, on_delete=models.PROTECT, related_name="orders")
    external_id = models.CharField(_("external id"), max_length=100)
    number = models.CharField(_("number"), max_length=60, db_index=True)
    status = models.ForeignKey(OrderStatus, on_delete=models.PROTECT, related_name="orders")
    stage = models.CharField(_("stage"), max_length=20, choices=Stage.choices)

    customer = models.ForeignKey(
        Customer, null=True, blank=True, on_delete=models.SET_NULL, related_name="orders"
    )
    customer_type = models.CharField(
        max_length=12, choices=CustomerType.choices, default=CustomerType.CONSUMER
    )
    customer_name = models.CharField(_("customer"), max_length=200, blank=True, default="")
    email = models.CharField(_("e-mail"), max_length=254, blank=True, default="")
    phone = models.CharField(_("phone"), max_length=40, blank=True, default="")
    company = models.CharField(_("company"), max_length=200, blank=True, default="")
    nip = models.CharField("NIP", max_length=13, blank=True, default="")

    billing_address = models.JSONField(default=dict, blank=True)
    shipping_address = models.JSONField(default=dict, blank=True)
    shipping_postcode = models.CharField(max_length=12, blank=True, default="")
    shipping_country = models.CharField(max_length=2, blank=True, default="PL")

    payment_method = models.CharField(
        _("payment method"), max_length=12, choices=PaymentMethod.choices, default=PaymentMethod.OTHER
    )
    payment_status = models.CharField(
        _("payment status"), max_length=20, choices=PaymentStatus.choices, default=PaymentStatus.UNPAID
    )
    paid_at = models.DateTimeField(_("paid at"), null=True, blank=True)
    delivery_method = models.CharField(
        _("delivery method"), max_length=20, choices=DeliveryMethod.choices, default=DeliveryMethod.OTHER
    )
    pickup_point = models.CharField(_("pickup point"), max_length=40, blank=True, default="")

    currency = models.CharField(max_length=3, default="PLN")
    total_net = models.DecimalField(max_digits=20, decimal_places=2)
    total_vat = models.DecimalField(max_digits=20, decimal_places=2)
    total_gross = models.DecimalField(_("total"), max_digits=20, decimal_places=2)
    shipping_cost = models.DecimalField(max_digits=20, decimal_places=2, default=0)
    discount = models.DecimalField(max_digits=20, decimal_places=2, default=0)
    # The discount codes used at checkout, upper-cased (from the channel; promotions count redemptions here).
    discount_codes = models.JSONField(default=list, db_default=[], blank=True)  # raw bulk loaders may omit it

    placed_at = models.DateTimeField(_("placed at"))
    ship_by = models.DateTimeField(_("ship by"), null=True, blank=True)
    shipped_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    notes = models.TextField(_("customer notes"), blank=True, default="")
    internal_notes = models.TextField(_("internal notes"), blank=True, default="")
    tags = models.ManyToManyField(Tag, blank=True, related_name="orders")
    warehouse = models.ForeignKey(
        "inventory.Warehouse",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("warehouse"),
        help_text="Assigned by hand or by an automation rule; empty: any",
    )

    needs_attention = models.BooleanField(default=False)
    attention_reasons = models.JSONField(default=list, blank=True)

    source_updated_at = models.DateTimeField(
        null=True, blank=True, help_text="Version time given by the channel"
    )
    source_hash = models.CharField(max_length=64, blank=True, default="")
    version = models.PositiveIntegerField(default=1, help_text="Optimistic lock for staff edits")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["channel", "external_id"], name="order_channel_external_unique")
        ]
        indexes = [
            models.Index(fields=["placed_at", "id"], name="order_placed_idx"),
            models.Index(fields=["stage", "placed_at", "id"], name="order_stage_placed_idx"),
            models.Index(fields=["status", "placed_at", "id"], name="order_status_placed_idx"),
            models.Index(fields=["channel", "placed_at", "id"], name="order_channel_placed_idx"),
            models.Index(fields=["payment_status", "placed_at", "id"], name="order_paystatus_placed_idx"),
            models.Index(fields=["needs_attention", "placed_at", "id"], name="order_attention_placed_idx"),
            models.Index(fields=["total_gross", "id"], name="order_total_idx"),
            models.Index(fields=["ship_by", "id"], name="order_shipby_idx"),
            # Today's detectors: open orders past their ship-by time, and open orders untouched for a day.
            models.Index(fields=["stage", "ship_by"], name="order_stage_shipby_idx"),
            models.Index(fields=["stage", "updated_at"], name="order_stage_updated_idx"),
        ]
        ordering = ["-placed_at", "-id"]

    def __str__(self) -> str:
        return self.number

    def can_move_to(self, stage: str) -> bool:
        return stage == self.stage or stage in STAGE_TRANSITIONS[self.stage]


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveSmallIntegerField(default=0)
    variant = models.ForeignKey(
        Variant, null=True, blank=True, on_delete=models.PROTECT, related_name="order_lines"
    )
    sku = models.CharField("SKU", max_length=64, db_index=True)
    ean = models.CharField("EAN", max_length=14, blank=True, default="")
    name = models.CharField(_("name"), max_length=300)
    quantity = models.PositiveIntegerField(_("quantity"))
    unit_price_gross = models.DecimalField(max_digits=20, decimal_places=2)
    vat_rate = models.CharField(max_length=2, choices=VatRate.choices, default=VatRate.R23)
    total_net = models.DecimalField(max_digits=20, decimal_places=2)
    total_gross = models.DecimalField(max_digits=20, decimal_places=2)
    external_id = models.CharField(max_length=100, blank=True, default="")

    class Meta:
        ordering = ["order_id", "position", "id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(quantity__gt=0), name="order_line_quantity_gt_0")
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.sku}"

    @property
    def reservation_ref(self) -> str:
        return f"order-line:{self.pk}"


class OrderEvent(models.Model):
    """The order's history: the event log that the timeline shows and process mining reads."""

    class Kind(models.TextChoices):
        CREATED = "created", _("Created")
        UPDATED = "updated", _("Updated by channel")
        EDITED = "edited", _("Edited")
        STATUS = "status", _("Status changed")
        STALE_IGNORED = "stale_ignored", _("Older version ignored")
        NOTE = "note", _("Note")
        TAG_ADDED = "tag_added", _("Tag added")
        TAG_REMOVED = "tag_removed", _("Tag removed")
        STOCK_RESERVED = "stock_reserved", _("Stock reserved")
        STOCK_SHORT = "stock_short", _("Stock short")
        STOCK_RELEASED = "stock_released", _("Stock released")
        STOCK_ISSUED = "stock_issued", _("Stock issued")
        PAYMENT = "payment", _("Payment")
        AUTOMATION = "automation", _("Automation")

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(default=timezone.now)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=150, default="system")
    from_status = models.CharField(max_length=40, blank=True, default="")
    to_status = models.CharField(max_length=40, blank=True, default="")
    from_stage = models.CharField(max_length=20, blank=True, default="")
    to_stage = models.CharField(max_length=20, blank=True, default="")
    message = models.TextField(blank=True, default="")
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["order", "at"]), models.Index(fields=["kind", "at"])]

    def __str__(self) -> str:
        return f"{self.order_id} {self.kind} {self.at:%Y-%m-%d %H:%M}"


class OrderSearchToken(models.Model):
    """Inverted index for the queue's text search: lower-cased tokens of number, ids, names, e-mail,
    phone and SKUs. A prefix range scan on (token) works the same on SQLite and PostgreSQL."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="+", db_index=False)
    token = models.CharField(max_length=64)

    class Meta:
        indexes = [
            models.Index(fields=["token", "order"], name="order_search_token_idx"),
            # (order, token): the queue's per-order probe for a common search term reads this index alone.
            models.Index(fields=["order", "token"], name="order_search_order_token_idx"),
        ]

    def __str__(self) -> str:
        return self.token


# --- automation rules (orders.automation) -------------------------------------------------------------


class AutomationTrigger(models.TextChoices):
    """When a rule is looked at."""

    ORDER_CREATED = "order_created", _("Order created")
    ORDER_PAID = "order_paid", _("Order paid")
    STATUS_CHANGED = "status_changed", _("Status changed")
    TAG_ADDED = "tag_added", _("Tag added")
    IN_STATUS_FOR = "in_status_for", _("In a status for N hours")


class AutomationRule(models.Model):
    """When (trigger) + if (conditions, all must hold) -> then (actions, in order). Rules are looked at in
    `position` order; a matching rule with `stop_processing` ends the pass for that order.

    `trigger_params`: {"status": code} for status changed (optional) and in-status-for (with "hours"),
    {"tag": name} for tag added (optional). `conditions` and `actions` are lists of {"type": ..., params};
    see `zaplecze.orders.automation` for the types and their parameters."""

    name = models.CharField(_("name"), max_length=120)
    position = models.PositiveIntegerField(_("position"), default=0)
    enabled = models.BooleanField(_("enabled"), default=False)
    trigger = models.CharField(_("when"), max_length=20, choices=AutomationTrigger.choices)
    trigger_params = models.JSONField(default=dict, blank=True)
    conditions = models.JSONField(default=list, blank=True)
    actions = models.JSONField(default=list, blank=True)
    stop_processing = models.BooleanField(
        _("stop after this rule"),
        default=False,
        help_text=_("When it matches, later rules are not looked at"),
    )
    enabled_at = models.DateTimeField(
        null=True, blank=True, help_text="Last switched on; time-based rules count from here"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    version = models.PositiveIntegerField(default=1, help_text="Optimistic lock for edits")

    class Meta:
        ordering = ["position", "id"]
        indexes = [
            models.Index(fields=["trigger", "enabled", "position"], name="automation_rule_trigger_idx")
        ]

    def __str__(self) -> str:
        return self.name


class AutomationRun(models.Model):
    """The rule log: one row per rule looked at for an order (matched or not), or per dry run."""

    class Result(models.TextChoices):
        NO_MATCH = "no_match", _("Did not match")
        DONE = "done", _("Actions done")
        FAILED = "failed", _("Failed")
        SKIPPED = "skipped", _("Skipped (loop guard)")
        DRY_RUN = "dry_run", _("Dry run")

    rule = models.ForeignKey(
        AutomationRule, null=True, blank=True, on_delete=models.SET_NULL, related_name="runs"
    )
    rule_name = models.CharField(max_length=120)
    order = models.ForeignKey(
        Order, null=True, blank=True, on_delete=models.CASCADE, related_name="automation_runs"
    )
    trigger = models.CharField(max_length=20, choices=AutomationTrigger.choices)
    matched = models.BooleanField(default=False)
    actions_done = models.JSONField(default=list, blank=True)
    result = models.CharField(max_length=10, choices=Result.choices)
    error = models.TextField(blank=True, default="")
    at = models.DateTimeField(default=timezone.now)
    dry_run = models.BooleanField(default=False)
    depth = models.PositiveSmallIntegerField(default=0, help_text="0: a direct event; n: caused by a rule")
    # "Once per ..." runs (in status for N hours: once per entry into the status) carry a key; the unique
    # constraint makes a second run for the same key impossible, also with two workers.
    dedupe_key = models.CharField(max_length=80, blank=True, default="")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["at", "id"], name="automation_run_at_idx"),
            models.Index(fields=["rule", "at"], name="automation_run_rule_idx"),
            models.Index(fields=["order", "at"], name="automation_run_order_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["rule", "order", "dedupe_key"],
                condition=~models.Q(dedupe_key=""),
                name="automation_run_once",
            )
        ]

    def __str__(self) -> str:
        return f"{self.rule_name} / {self.order_id} ({self.result})"


class CustomerExternalId(models.Model):
    """A customer's id in another system, per channel (e.g. the customer number of a shop whose order history
    was imported by `orders.history`): the same id on a later import finds the same customer."""

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="+")
    external_id = models.CharField(max_length=100)
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="external_ids")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["channel", "external_id"], name="customer_external_id_unique")
        ]

    def __str__(self) -> str:
        return f"{self.channel_id}:{self.external_id}"
