"""Campaigns, their targets, discount codes, pre-launch checks, applied prices, events.

A campaign's price reduction reaches the shop and the channels through the catalog price history
(`catalog.prices.price_set_many`, source "promotion:<id>"): `CampaignItem` is the plan that was written
(one row per variant and channel), so the end of a campaign (or its cancellation) can restore the regular
prices and the results know the regular price each sale was compared with.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class CampaignStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SCHEDULED = "scheduled", _("Scheduled")
    RUNNING = "running", _("Running")
    ENDED = "ended", _("Ended")
    CANCELLED = "cancelled", _("Cancelled")


# from -> allowed targets (services.campaign_transition is the only writer of `status`)
TRANSITIONS: dict[str, frozenset[str]] = {
    CampaignStatus.DRAFT: frozenset({CampaignStatus.SCHEDULED, CampaignStatus.CANCELLED}),
    CampaignStatus.SCHEDULED: frozenset(
        {CampaignStatus.DRAFT, CampaignStatus.RUNNING, CampaignStatus.CANCELLED}
    ),
    CampaignStatus.RUNNING: frozenset({CampaignStatus.ENDED, CampaignStatus.CANCELLED}),
    CampaignStatus.ENDED: frozenset(),
    CampaignStatus.CANCELLED: frozenset(),
}
# Statuses in which a campaign takes part in clashes and code overlaps.
ACTIVE_STATUSES = (CampaignStatus.DRAFT, CampaignStatus.SCHEDULED, CampaignStatus.RUNNING)


class CampaignKind(models.TextChoices):
    PRICE = "price", _("Price reduction")
    FREE_SHIPPING = "free_shipping", _("Free shipping over an amount")
    BUY_X_GET_Y = "buy_x_get_y", _("Buy X get Y")
    CODES = "codes", _("Discount codes")


class ValueType(models.TextChoices):
    PERCENT = "percent", _("Percentage")
    AMOUNT = "amount", _("Fixed amount")


class Campaign(models.Model):
    name = models.CharField(_("name"), max_length=200)
    goal = models.TextField(_("goal"), blank=True, default="")
    # Channel codes whose offer prices the campaign changes; [] = the base price (the own shop and every
    # channel that follows the base price).
    channels = models.JSONField(_("channels"), default=list, blank=True)
    start = models.DateTimeField(_("start"))
    end = models.DateTimeField(_("end"))
    kind = models.CharField(
        _("type"), max_length=20, choices=CampaignKind.choices, default=CampaignKind.PRICE
    )
    value_type = models.CharField(
        _("reduction"), max_length=10, choices=ValueType.choices, default=ValueType.PERCENT
    )
    # percent (0-100) or an amount off the gross price, for kinds price and codes
    value = models.DecimalField(_("value"), max_digits=20, decimal_places=2, default=Decimal("0"))
    threshold = models.DecimalField(  # free shipping over this order value (gross)
        _("order value from"), max_digits=20, decimal_places=2, null=True, blank=True
    )
    buy_quantity = models.PositiveIntegerField(_("buy"), null=True, blank=True)
    get_quantity = models.PositiveIntegerField(_("get free"), null=True, blank=True)
    budget = models.DecimalField(_("budget"), max_digits=20, decimal_places=2, null=True, blank=True)
    currency = models.CharField(max_length=3, default="PLN")
    min_margin_percent = models.DecimalField(
        _("minimum margin (%)"), max_digits=6, decimal_places=2, default=Decimal("0")
    )
    utm_campaign = models.CharField(_("UTM campaign"), max_length=100, blank=True, default="")
    status = models.CharField(
        _("status"), max_length=10, choices=CampaignStatus.choices, default=CampaignStatus.DRAFT
    )
    version = models.PositiveIntegerField(default=1, help_text="Optimistic lock for edits")
    # Launch despite errors in the check: who, why (also in the events).
    override_reason = models.CharField(max_length=500, blank=True, default="")
    launched_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    # Set when the planned end has passed and hand-set prices were re-applied (services.campaign_settle).
    prices_settled = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-start", "-id"]
        indexes = [models.Index(fields=["status", "start"]), models.Index(fields=["start", "end"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(end__gt=F("start")), name="promotions_campaign_end_after_start"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def changes_prices(self) -> bool:
        return self.kind == CampaignKind.PRICE

    def can_edit(self) -> bool:
        return self.status in ACTIVE_STATUSES

    def can_launch(self) -> bool:
        return self.status == CampaignStatus.DRAFT

    def can_cancel(self) -> bool:
        return CampaignStatus.CANCELLED in TRANSITIONS[self.status]


class CampaignTarget(models.Model):
    class Kind(models.TextChoices):
        PRODUCT = "product", _("Product")
        CATEGORY = "category", _("Category (with subcategories)")
        BRAND = "brand", _("Brand")

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="targets")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    product = models.ForeignKey(
        "catalog.Product", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    category = models.ForeignKey(
        "catalog.Category", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    brand = models.CharField(max_length=120, blank=True, default="")

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        if self.kind == self.Kind.PRODUCT:
            return str(self.product) if self.product_id else "?"
        if self.kind == self.Kind.CATEGORY:
            return str(self.category) if self.category_id else "?"
        return self.brand


class CampaignCode(models.Model):
    """A discount code of a campaign. `max_uses` 1 = single-use; None = no limit."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="codes")
    code = models.CharField(max_length=40, db_index=True)  # upper case
    max_uses = models.PositiveIntegerField(null=True, blank=True)
    uses = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "code"], name="promotions_code_unique_in_campaign"),
            models.CheckConstraint(
                condition=Q(max_uses__isnull=True) | Q(uses__lte=F("max_uses")),
                name="promotions_code_uses_within_limit",
            ),
        ]

    def __str__(self) -> str:
        return self.code


class CodeRedemption(models.Model):
    """One use of a code by an order (`order_ref` "channel:external id" or an order number); unique, so a
    repeated redemption of the same order counts once."""

    code = models.ForeignKey(CampaignCode, on_delete=models.CASCADE, related_name="redemptions")
    order_ref = models.CharField(max_length=150)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["code", "order_ref"], name="promotions_redemption_once"),
        ]

    def __str__(self) -> str:
        return f"{self.code_id}: {self.order_ref}"


class CampaignItem(models.Model):
    """A price the campaign wrote to the history: one variant on one channel ("" = base price)."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="items")
    variant = models.ForeignKey(
        "catalog.Variant", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    sku = models.CharField(max_length=64)
    channel = models.CharField(max_length=40, blank=True, default="")
    regular_price = models.DecimalField(max_digits=20, decimal_places=2)
    promo_price = models.DecimalField(max_digits=20, decimal_places=2)
    applied_at = models.DateTimeField(default=timezone.now)
    reverted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["campaign", "variant"])]
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "variant", "channel"], name="promotions_item_once_per_channel"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.sku}@{self.channel or 'base'}: {self.promo_price}"


class CampaignCheck(models.Model):
    """A stored pre-launch check: the summary and the rows with findings (the full table is recomputed on
    demand: selectors.campaign_check)."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="checks")
    campaign_version = models.PositiveIntegerField()
    checked_at = models.DateTimeField(default=timezone.now)
    errors = models.PositiveIntegerField(default=0)
    warnings = models.PositiveIntegerField(default=0)
    products = models.PositiveIntegerField(default=0)
    summary = models.JSONField(default=dict, blank=True)
    rows = models.JSONField(default=list, blank=True)  # rows with an error or a warning (capped)
    seconds = models.FloatField(default=0)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-checked_at", "-id"]

    def __str__(self) -> str:
        return f"check of {self.campaign_id} at {self.checked_at:%Y-%m-%d %H:%M}"


class CampaignEvent(models.Model):
    class Kind(models.TextChoices):
        CREATED = "created", _("Created")
        EDITED = "edited", _("Edited")
        STATUS = "status", _("Status changed")
        CHECKED = "checked", _("Checked")
        OVERRIDE = "override", _("Launched despite errors")
        PRICES = "prices", _("Prices written")
        CODES = "codes", _("Codes")
        NOTE = "note", _("Note")

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(default=timezone.now)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=150, default="system")
    from_status = models.CharField(max_length=10, blank=True, default="")
    to_status = models.CharField(max_length=10, blank=True, default="")
    message = models.TextField(blank=True, default="")
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.campaign_id} at {self.at:%Y-%m-%d %H:%M}"
