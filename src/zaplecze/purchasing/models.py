"""Purchasing: suppliers and what they sell us, reorder parameters (with the forecast that produced them),
purchase orders with their lines, receipts and discrepancies.

Lead times are in *working days* (Polish business days, core.businesstime): suppliers quote "5 dni
roboczych", and the expected delivery date is that many business days after the day the PO is sent."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from zaplecze.catalog.models import Variant, VatRate
from zaplecze.inventory.models import Warehouse

CENT = Decimal("0.01")


class Language(models.TextChoices):
    PL = "pl", _("Polish")
    EN = "en", _("English")


class PurchasingSettings(models.Model):
    """One row (pk=1): the knobs of the reorder computation, edited on the purchasing settings screen."""

    review_days = models.PositiveSmallIntegerField(
        _("review period (days)"),
        default=14,
        help_text=_("Suggested quantities also cover the demand of this many days (until the next order)."),
    )
    service_level = models.DecimalField(
        _("service level"),
        max_digits=4,
        decimal_places=3,
        default=Decimal("0.950"),
        help_text=_("Probability of not running out during the lead time (0.50-0.999)."),
    )
    history_days = models.PositiveSmallIntegerField(
        _("history (days)"), default=112, help_text=_("Days of sales history the forecast looks at.")
    )
    default_lead_time_days = models.PositiveSmallIntegerField(
        _("default lead time (working days)"),
        default=7,
        help_text=_("Used for variants without a supplier."),
    )

    def __str__(self) -> str:
        return "purchasing settings"


class Supplier(models.Model):
    name = models.CharField(_("name"), max_length=200)
    nip = models.CharField(_("NIP"), max_length=10, blank=True, default="", help_text=_("10 digits"))
    email = models.EmailField(_("e-mail"), blank=True, default="")
    phone = models.CharField(_("phone"), max_length=40, blank=True, default="")
    address = models.TextField(_("address"), blank=True, default="")
    currency = models.CharField(_("currency"), max_length=3, default="PLN")
    language = models.CharField(_("language"), max_length=2, choices=Language.choices, default=Language.PL)
    lead_time_days = models.PositiveSmallIntegerField(_("lead time (working days)"), default=5)
    notes = models.TextField(_("notes"), blank=True, default="")
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class SupplierItem(models.Model):
    """What a supplier sells us: one of our variants under their SKU, at their price and terms."""

    supplier = models.ForeignKey(Supplier, on_delete=models.CASCADE, related_name="items")
    variant = models.ForeignKey(Variant, on_delete=models.PROTECT, related_name="supplier_items")
    supplier_sku = models.CharField(_("supplier SKU"), max_length=64, blank=True, default="")
    unit_cost = models.DecimalField(_("unit cost (net)"), max_digits=20, decimal_places=2)
    lead_time_days = models.PositiveSmallIntegerField(
        _("lead time override (working days)"), null=True, blank=True
    )
    min_order_qty = models.PositiveIntegerField(_("minimum order quantity"), default=1)
    pack_size = models.PositiveIntegerField(_("pack size"), default=1)
    preferred = models.BooleanField(_("preferred"), default=False)

    class Meta:
        ordering = ["supplier", "variant__sku"]
        constraints = [
            models.UniqueConstraint(fields=["supplier", "variant"], name="supplier_item_unique"),
            models.UniqueConstraint(
                fields=["variant"], condition=Q(preferred=True), name="supplier_item_one_preferred"
            ),
            models.CheckConstraint(condition=Q(pack_size__gte=1), name="supplier_item_pack_gte_1"),
            models.CheckConstraint(condition=Q(min_order_qty__gte=1), name="supplier_item_moq_gte_1"),
            models.CheckConstraint(condition=Q(unit_cost__gte=0), name="supplier_item_cost_gte_0"),
        ]

    def __str__(self) -> str:
        return f"{self.supplier} · {self.variant.sku}"

    @property
    def effective_lead_time(self) -> int:
        return self.lead_time_days if self.lead_time_days is not None else self.supplier.lead_time_days


class ReorderParameter(models.Model):
    """Reorder point and safety stock of one variant (in all warehouses together, or in one warehouse).

    Mode "auto": the nightly forecast writes both numbers. Mode "manual": the person's numbers stay; the
    forecast is still computed and shown beside them. `explanation` holds every step in words and numbers."""

    class Mode(models.TextChoices):
        AUTO = "auto", _("Computed")
        MANUAL = "manual", _("Manual")

    variant = models.ForeignKey(Variant, on_delete=models.CASCADE, related_name="reorder_parameters")
    warehouse = models.ForeignKey(
        Warehouse, null=True, blank=True, on_delete=models.CASCADE, related_name="reorder_parameters"
    )
    mode = models.CharField(_("mode"), max_length=6, choices=Mode.choices, default=Mode.AUTO)
    reorder_point = models.PositiveIntegerField(_("reorder point"), default=0)
    safety_stock = models.PositiveIntegerField(_("safety stock"), default=0)
    # the last forecast
    method = models.CharField(max_length=20, blank=True, default="")
    daily_rate = models.DecimalField(max_digits=12, decimal_places=4, default=Decimal(0))
    sigma = models.DecimalField(max_digits=12, decimal_places=4, default=Decimal(0))
    lead_time_days = models.PositiveSmallIntegerField(default=0, help_text="Working days")
    cover_days = models.PositiveSmallIntegerField(default=0, help_text="Calendar days the lead time spans")
    lead_time_demand = models.DecimalField(max_digits=14, decimal_places=3, default=Decimal(0))
    computed_reorder_point = models.PositiveIntegerField(default=0)
    computed_safety_stock = models.PositiveIntegerField(default=0)
    explanation = models.JSONField(default=list, blank=True)
    computed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["variant__sku", "warehouse_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["variant"], condition=Q(warehouse__isnull=True), name="reorder_param_all_unique"
            ),
            models.UniqueConstraint(
                fields=["variant", "warehouse"],
                condition=Q(warehouse__isnull=False),
                name="reorder_param_wh_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.variant.sku}@{self.warehouse.code if self.warehouse else '*'}"


class POStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SENT = "sent", _("Sent")
    PARTIAL = "partially_received", _("Partially received")
    RECEIVED = "received", _("Received")
    CANCELLED = "cancelled", _("Cancelled")


PO_TRANSITIONS: dict[str, frozenset[str]] = {
    POStatus.DRAFT: frozenset({POStatus.SENT, POStatus.CANCELLED}),
    POStatus.SENT: frozenset({POStatus.PARTIAL, POStatus.RECEIVED, POStatus.CANCELLED}),
    POStatus.PARTIAL: frozenset({POStatus.PARTIAL, POStatus.RECEIVED}),
    POStatus.RECEIVED: frozenset(),
    POStatus.CANCELLED: frozenset(),
}
OPEN_STATUSES = (POStatus.SENT, POStatus.PARTIAL)


class PoSequence(models.Model):
    """The last PO number used in a year (PO/2026/00001 ...)."""

    year = models.PositiveIntegerField(primary_key=True)
    last = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.year}: {self.last}"


class PurchaseOrder(models.Model):
    number = models.CharField(_("number"), max_length=30, unique=True)
    supplier = models.ForeignKey(Supplier, on_delete=models.PROTECT, related_name="purchase_orders")
    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="purchase_orders")
    status = models.CharField(_("status"), max_length=20, choices=POStatus.choices, default=POStatus.DRAFT)
    currency = models.CharField(max_length=3, default="PLN")
    language = models.CharField(max_length=2, choices=Language.choices, default=Language.PL)
    expected_date = models.DateField(_("expected delivery"), null=True, blank=True)
    notes = models.TextField(_("notes for the supplier"), blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    sent_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(null=True, blank=True)
    overdue_alerted_on = models.DateField(
        null=True, blank=True, help_text="Expected date for which the overdue alert was raised"
    )
    email = models.ForeignKey(
        "service.OutboxEmail", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "expected_date"], name="po_status_expected_idx")]

    def __str__(self) -> str:
        return self.number

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    def can_edit(self) -> bool:
        return self.status == POStatus.DRAFT

    def can_receive(self) -> bool:
        return self.status in OPEN_STATUSES

    def can_cancel(self) -> bool:
        return self.status in (POStatus.DRAFT, POStatus.SENT)


class PurchaseOrderLine(models.Model):
    purchase_order = models.ForeignKey(PurchaseOrder, on_delete=models.CASCADE, related_name="lines")
    variant = models.ForeignKey(Variant, on_delete=models.PROTECT, related_name="+")
    sku = models.CharField(max_length=64)
    ean = models.CharField(max_length=14, blank=True, default="")
    supplier_sku = models.CharField(max_length=64, blank=True, default="")
    name = models.CharField(max_length=300)
    quantity = models.PositiveIntegerField()
    unit_cost = models.DecimalField(max_digits=20, decimal_places=2)
    vat_rate = models.CharField(max_length=2, choices=VatRate.choices, default=VatRate.R23)
    received_qty = models.PositiveIntegerField(default=0)
    explanation = models.JSONField(
        default=list, blank=True, help_text="How a suggested quantity was computed"
    )

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["purchase_order", "variant"], name="po_line_unique_variant"),
            models.CheckConstraint(condition=Q(quantity__gte=1), name="po_line_qty_gte_1"),
        ]

    def __str__(self) -> str:
        return f"{self.sku} × {self.quantity}"

    @property
    def outstanding(self) -> int:
        return max(0, self.quantity - self.received_qty)

    @property
    def net(self) -> Decimal:
        return (self.unit_cost * self.quantity).quantize(CENT, ROUND_HALF_UP)

    @property
    def vat(self) -> Decimal:
        return (self.net * VatRate.fraction(self.vat_rate)).quantize(CENT, ROUND_HALF_UP)

    @property
    def gross(self) -> Decimal:
        return self.net + self.vat


class PurchaseOrderEvent(models.Model):
    """The PO's history: created, edited, sent (and its e-mail), received, cancelled, overdue alerts."""

    class Kind(models.TextChoices):
        CREATED = "created", _("Created")
        EDITED = "edited", _("Edited")
        STATUS = "status", _("Status changed")
        EMAIL_QUEUED = "email_queued", _("E-mail queued")
        RECEIPT = "receipt", _("Goods received")
        DISCREPANCY = "discrepancy", _("Discrepancy")
        OVERDUE = "overdue", _("Overdue")

    purchase_order = models.ForeignKey(PurchaseOrder, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    message = models.CharField(max_length=500, blank=True, default="")
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.at:%Y-%m-%d %H:%M}"


class Receipt(models.Model):
    """One delivery received against a PO (a PO may have several: partial deliveries)."""

    purchase_order = models.ForeignKey(PurchaseOrder, on_delete=models.PROTECT, related_name="receipts")
    number = models.CharField(max_length=40, unique=True)
    at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.CharField(max_length=500, blank=True, default="")
    closed_po = models.BooleanField(default=False, help_text="No more deliveries expected after this one")

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return self.number


class ReceiptLine(models.Model):
    receipt = models.ForeignKey(Receipt, on_delete=models.CASCADE, related_name="lines")
    po_line = models.ForeignKey(PurchaseOrderLine, on_delete=models.PROTECT, related_name="receipt_lines")
    quantity = models.PositiveIntegerField(help_text="Good units put into stock")

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.po_line_id} × {self.quantity}"


class Discrepancy(models.Model):
    """A difference between what was ordered and what came, recorded per line of a receipt."""

    class Kind(models.TextChoices):
        SHORT = "short", _("Short (will not come)")
        DAMAGED = "damaged", _("Damaged")
        WRONG_ITEM = "wrong_item", _("Wrong item")
        OVER = "over_delivery", _("Over-delivery (accepted)")

    receipt = models.ForeignKey(Receipt, on_delete=models.CASCADE, related_name="discrepancies")
    po_line = models.ForeignKey(
        PurchaseOrderLine, null=True, blank=True, on_delete=models.PROTECT, related_name="discrepancies"
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    quantity = models.PositiveIntegerField()
    code = models.CharField(max_length=64, blank=True, default="", help_text="Scanned EAN/SKU (wrong item)")
    note = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.kind} × {self.quantity}"
