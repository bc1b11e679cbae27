from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from zaplecze.catalog.models import Variant


class Warehouse(models.Model):
    code = models.CharField(max_length=20, unique=True)
    name = models.CharField(_("name"), max_length=120)
    is_default = models.BooleanField(default=False)
    priority = models.PositiveSmallIntegerField(default=100, help_text="Lower is tried first when reserving")

    class Meta:
        ordering = ["priority", "id"]

    def __str__(self) -> str:
        return self.name


class Location(models.Model):
    """A bin (shelf place) in a warehouse. Codes sort the pick walk, e.g. "A-01-03" (aisle, rack, shelf)."""

    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="locations")
    code = models.CharField(_("code"), max_length=40)
    name = models.CharField(_("name"), max_length=120, blank=True, default="")
    sort_order = models.PositiveIntegerField(default=0, help_text="Pick-walk order; ties broken by code")
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["warehouse", "sort_order", "code"]
        constraints = [models.UniqueConstraint(fields=["warehouse", "code"], name="location_unique_code")]

    def __str__(self) -> str:
        return f"{self.warehouse.code}:{self.code}"


class StockLevel(models.Model):
    """On hand and reserved per variant per warehouse. Changed only by conditional UPDATEs in services."""

    variant = models.ForeignKey(Variant, on_delete=models.PROTECT, related_name="stock_levels")
    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="stock_levels")
    on_hand = models.IntegerField(default=0)
    reserved = models.IntegerField(default=0)
    # The bin the variant is picked from in this warehouse (its primary location); empty = not assigned.
    location = models.ForeignKey(
        Location, null=True, blank=True, on_delete=models.SET_NULL, related_name="stock_levels"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["variant", "warehouse"], name="stock_level_unique"),
            models.CheckConstraint(condition=Q(on_hand__gte=0), name="stock_on_hand_gte_0"),
            models.CheckConstraint(condition=Q(reserved__gte=0), name="stock_reserved_gte_0"),
            models.CheckConstraint(
                condition=Q(reserved__lte=F("on_hand")), name="stock_reserved_lte_on_hand"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.variant.sku}@{self.warehouse.code}: {self.on_hand}/{self.reserved}"

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved


class StockMovement(models.Model):
    """The stock ledger: every change of on-hand stock, with a reason and a reference."""

    class Kind(models.TextChoices):
        RECEIPT = "receipt", _("Receipt")
        SALE = "sale", _("Sale (shipped)")
        RETURN = "return", _("Return")
        ADJUSTMENT = "adjustment", _("Adjustment")
        TRANSFER_IN = "transfer_in", _("Transfer in")
        TRANSFER_OUT = "transfer_out", _("Transfer out")

    at = models.DateTimeField(default=timezone.now, db_index=True)
    variant = models.ForeignKey(Variant, on_delete=models.PROTECT, related_name="movements")
    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="movements")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    quantity = models.IntegerField(help_text="Signed change of on-hand stock")
    on_hand_after = models.IntegerField(null=True)
    reason = models.CharField(max_length=200, blank=True, default="")
    reference = models.CharField(max_length=100, blank=True, default="", db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["variant", "warehouse", "at"], name="movement_variant_wh_at"),
            models.Index(fields=["warehouse", "at"], name="movement_wh_at"),
            models.Index(fields=["kind", "at"], name="movement_kind_at"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.quantity:+d} {self.variant_id}@{self.warehouse_id}"


class Reservation(models.Model):
    """Units held for an order line in one warehouse until it ships or is cancelled."""

    class State(models.TextChoices):
        ACTIVE = "active", _("Active")
        RELEASED = "released", _("Released")
        ISSUED = "issued", _("Issued")

    variant = models.ForeignKey(Variant, on_delete=models.PROTECT, related_name="reservations")
    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="reservations")
    reference = models.CharField(max_length=100, db_index=True, help_text="e.g. order-line:123")
    quantity = models.PositiveIntegerField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.ACTIVE)
    created_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["variant", "state"])]

    def __str__(self) -> str:
        return f"{self.reference}: {self.quantity} ({self.state})"


class Stocktake(models.Model):
    """A stock count of one warehouse (optionally one bin or one category). Counts are entered on screen or
    imported; after review the differences are posted to the ledger as adjustments."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        COUNTING = "counting", _("Counting")
        REVIEW = "review", _("In review")
        POSTED = "posted", _("Posted")
        CANCELLED = "cancelled", _("Cancelled")

    number = models.CharField(max_length=20, unique=True)
    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="stocktakes")
    location = models.ForeignKey(
        Location, null=True, blank=True, on_delete=models.PROTECT, related_name="stocktakes"
    )
    category = models.ForeignKey(
        "catalog.Category", null=True, blank=True, on_delete=models.PROTECT, related_name="stocktakes"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    note = models.CharField(max_length=300, blank=True, default="")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    posted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    reviewed_at = models.DateTimeField(null=True, blank=True)
    posted_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.number


STOCKTAKE_TRANSITIONS: dict[str, set[str]] = {
    Stocktake.Status.DRAFT: {Stocktake.Status.COUNTING, Stocktake.Status.CANCELLED},
    Stocktake.Status.COUNTING: {Stocktake.Status.REVIEW, Stocktake.Status.CANCELLED},
    Stocktake.Status.REVIEW: {Stocktake.Status.COUNTING, Stocktake.Status.POSTED, Stocktake.Status.CANCELLED},
    Stocktake.Status.POSTED: set(),
    Stocktake.Status.CANCELLED: set(),
}


class StocktakeLine(models.Model):
    """One variant in a stocktake. `snapshot` is on hand when counting started; `expected` is on hand when the
    count was last recorded, and the difference posted is `counted - expected` (see docs/stock.md)."""

    stocktake = models.ForeignKey(Stocktake, on_delete=models.CASCADE, related_name="lines")
    variant = models.ForeignKey(Variant, on_delete=models.PROTECT, related_name="+")
    location = models.ForeignKey(Location, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    snapshot = models.IntegerField(default=0, help_text="On hand when counting started")
    expected = models.IntegerField(default=0, help_text="On hand when the count was recorded")
    counted = models.IntegerField(null=True, blank=True)
    counted_at = models.DateTimeField(null=True, blank=True)
    counted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    posted_delta = models.IntegerField(null=True, blank=True)

    class Meta:
        ordering = ["variant__sku"]
        constraints = [
            models.UniqueConstraint(fields=["stocktake", "variant"], name="stocktake_line_unique"),
            models.CheckConstraint(condition=Q(counted__gte=0), name="stocktake_counted_gte_0"),
        ]

    def __str__(self) -> str:
        return f"{self.stocktake_id}:{self.variant_id} {self.counted}/{self.expected}"

    @property
    def difference(self) -> int | None:
        return None if self.counted is None else self.counted - self.expected


class Transfer(models.Model):
    """Goods moved from one warehouse to another: sent (out of the source) then received (into the
    destination). Both movements carry the transfer's number as their reference."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        SENT = "sent", _("In transit")
        RECEIVED = "received", _("Received")
        CANCELLED = "cancelled", _("Cancelled")

    number = models.CharField(max_length=20, unique=True)
    source = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="transfers_out")
    destination = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="transfers_in")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    note = models.CharField(max_length=300, blank=True, default="")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=~Q(source=F("destination")), name="transfer_distinct_warehouses")
        ]

    def __str__(self) -> str:
        return self.number


TRANSFER_TRANSITIONS: dict[str, set[str]] = {
    Transfer.Status.DRAFT: {Transfer.Status.SENT, Transfer.Status.CANCELLED},
    Transfer.Status.SENT: {Transfer.Status.RECEIVED, Transfer.Status.CANCELLED},
    Transfer.Status.RECEIVED: set(),
    Transfer.Status.CANCELLED: set(),
}


class TransferLine(models.Model):
    transfer = models.ForeignKey(Transfer, on_delete=models.CASCADE, related_name="lines")
    variant = models.ForeignKey(Variant, on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveIntegerField()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["transfer", "variant"], name="transfer_line_unique"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="transfer_line_quantity_gt_0"),
        ]

    def __str__(self) -> str:
        return f"{self.transfer_id}:{self.variant_id} x{self.quantity}"
