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
