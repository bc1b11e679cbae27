"""Pick lists (which orders are picked together) and packing (what has been scanned into each parcel).

A pick list stores only its orders; its lines (grouped by warehouse and bin, totals per SKU) are computed
from the orders' lines, their stock reservations and the variants' bins when it is shown or printed, so
it always says where the goods are now. What the picker ticked off is kept per row key.

Packing keeps every scan (also the refused ones, for the record); the count per order line is the number of
counted scans that were not undone, so a reload or another device shows the same state."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from zaplecze.orders.models import Order, OrderLine


class PickListStatus(models.TextChoices):
    OPEN = "open", _("Open")
    DONE = "done", _("Done")


# Allowed moves (a done list can be reopened when something was missed).
PICKLIST_TRANSITIONS: dict[str, frozenset[str]] = {
    PickListStatus.OPEN: frozenset({PickListStatus.DONE}),
    PickListStatus.DONE: frozenset({PickListStatus.OPEN}),
}


class PickList(models.Model):
    number = models.CharField(_("number"), max_length=30, unique=True)
    status = models.CharField(
        _("status"), max_length=10, choices=PickListStatus.choices, default=PickListStatus.OPEN
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    done_at = models.DateTimeField(null=True, blank=True)
    note = models.CharField(_("note"), max_length=200, blank=True, default="")
    # Row keys ("<warehouse id>:<location id>:<sku>", 0 for none) the picker ticked off.
    picked = models.JSONField(default=list, blank=True)
    orders = models.ManyToManyField(Order, through="PickListOrder", related_name="pick_lists")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "created_at"], name="picklist_status_idx")]

    def __str__(self) -> str:
        return self.number

    def can_move_to(self, status: str) -> bool:
        return status in PICKLIST_TRANSITIONS[self.status]


class PickListOrder(models.Model):
    pick_list = models.ForeignKey(PickList, on_delete=models.CASCADE, related_name="entries")
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="pick_list_entries")
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["pick_list", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["pick_list", "order"], name="picklist_order_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.pick_list_id}/{self.order_id}"


class PackingStatus(models.TextChoices):
    OPEN = "open", _("Packing")
    COMPLETE = "complete", _("Packed")


class Packing(models.Model):
    """The packing state of one order (one per order; undo can reopen it)."""

    order = models.OneToOneField(Order, on_delete=models.CASCADE, related_name="packing")
    pick_list = models.ForeignKey(
        PickList, null=True, blank=True, on_delete=models.SET_NULL, related_name="packings"
    )
    status = models.CharField(max_length=10, choices=PackingStatus.choices, default=PackingStatus.OPEN)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    started_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"packing of {self.order_id} ({self.status})"


class ScanOutcome(models.TextChoices):
    COUNTED = "counted", _("Counted")
    UNKNOWN = "unknown", _("Unknown code")
    NOT_IN_ORDER = "not_in_order", _("Not in this order")
    SURPLUS = "surplus", _("Surplus unit")


class PackingScan(models.Model):
    packing = models.ForeignKey(Packing, on_delete=models.CASCADE, related_name="scans")
    at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    code = models.CharField(max_length=64)
    outcome = models.CharField(max_length=15, choices=ScanOutcome.choices)
    line = models.ForeignKey(OrderLine, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    undone_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["packing", "id"]
        indexes = [models.Index(fields=["packing", "outcome", "undone_at"], name="packscan_count_idx")]

    def __str__(self) -> str:
        return f"{self.code} {self.outcome}"
