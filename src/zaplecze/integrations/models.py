"""Connections to shops and marketplaces, their sync cursors and run log, and received webhooks."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from zaplecze.orders.models import Channel


class Platform(models.TextChoices):
    WOOCOMMERCE = "woocommerce", "WooCommerce"
    SHOPIFY = "shopify", "Shopify"
    PRESTASHOP = "prestashop", "PrestaShop"
    ALLEGRO = "allegro", "Allegro"


class ConnectionStatus(models.TextChoices):
    NEW = "new", _("Not synced yet")
    OK = "ok", _("OK")
    FAILING = "failing", _("Failing")
    AUTH_FAILED = "auth_failed", _("Credentials refused")
    NEEDS_ATTENTION = "needs_attention", _("Needs attention")


class Connection(models.Model):
    """One channel's link to its platform. Credentials are a Fernet token (see `crypto`); the cursor is the
    platform's modified time up to which every order is known to be committed here."""

    channel = models.OneToOneField(Channel, on_delete=models.PROTECT, related_name="connection")
    platform = models.CharField(_("platform"), max_length=20, choices=Platform.choices)
    base_url = models.URLField(_("shop address"), max_length=300)
    credentials_encrypted = models.TextField(blank=True, default="")
    credentials_hint = models.CharField(max_length=20, blank=True, default="")  # "•••• 1a2b"
    webhook_token = models.CharField(max_length=64, unique=True)
    enabled = models.BooleanField(_("enabled"), default=True)
    status = models.CharField(max_length=20, choices=ConnectionStatus.choices, default=ConnectionStatus.NEW)
    cursor = models.CharField(max_length=100, blank=True, default="")
    first_import_since = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    last_error_at = models.DateTimeField(null=True, blank=True)
    # A run holds the lock while lock_until is in the future (a crashed run's lock expires by itself).
    lock_token = models.CharField(max_length=40, blank=True, default="")
    lock_until = models.DateTimeField(null=True, blank=True)
    # Webhook deliveries refused for a bad signature: counted here, nothing else is stored for them.
    rejected_deliveries = models.PositiveIntegerField(default=0)
    last_rejected_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["channel__name"]

    def __str__(self) -> str:
        return f"{self.channel.code} ({self.get_platform_display()})"


class SyncRun(models.Model):
    class Kind(models.TextChoices):
        IMPORT = "import", _("Import")
        RECONCILE = "reconcile", _("Reconciliation")
        PUSH = "push", _("Push")
        TEST = "test", _("Connection test")

    class Outcome(models.TextChoices):
        RUNNING = "running", _("Running")
        OK = "ok", _("OK")
        PARTIAL = "partial", _("With errors")
        FAILED = "failed", _("Failed")
        SKIPPED = "skipped", _("Skipped (another run was going)")

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="runs")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, default=Outcome.RUNNING)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    pages = models.PositiveIntegerField(default=0)
    fetched = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    errors = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True, default="")
    cursor_before = models.CharField(max_length=100, blank=True, default="")
    cursor_after = models.CharField(max_length=100, blank=True, default="")

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["connection", "started_at"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.started_at:%Y-%m-%d %H:%M} {self.outcome}"


class SyncError(models.Model):
    """One record that could not be taken in (bad JSON, an order ingest refused): kept with its payload."""

    class State(models.TextChoices):
        OPEN = "open", _("Open")
        RESOLVED = "resolved", _("Resolved")

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="sync_errors")
    run = models.ForeignKey(SyncRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    at = models.DateTimeField(default=timezone.now)
    external_id = models.CharField(max_length=100, blank=True, default="")
    message = models.TextField()
    payload = models.TextField(blank=True, default="")
    state = models.CharField(max_length=10, choices=State.choices, default=State.OPEN)
    attempts = models.PositiveIntegerField(default=1)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["connection", "state", "at"])]

    def __str__(self) -> str:
        return f"{self.external_id or '-'}: {self.message[:60]}"


class WebhookDelivery(models.Model):
    class State(models.TextChoices):
        ACCEPTED = "accepted", _("Accepted")
        PROCESSED = "processed", _("Processed")
        FAILED = "failed", _("Failed")
        IGNORED = "ignored", _("Ignored (topic not handled)")

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="deliveries")
    delivery_id = models.CharField(max_length=100)
    topic = models.CharField(max_length=60, blank=True, default="")
    received_at = models.DateTimeField(default=timezone.now)
    signature_ok = models.BooleanField(default=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.ACCEPTED)
    body = models.BinaryField()
    replays = models.PositiveIntegerField(default=0, help_text="Duplicate deliveries of the same id")
    processed_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["connection", "delivery_id"], name="webhook_delivery_unique")
        ]
        indexes = [models.Index(fields=["connection", "received_at"])]

    def __str__(self) -> str:
        return f"{self.topic} {self.delivery_id}"


class ExternalOrder(models.Model):
    """What the platform last told us about one of its orders: its status and modified time. Used to leave
    the order's status alone when the platform status did not change (staff may have moved it on), and to
    skip an older version before it reaches `ingest_order` (which also refuses older versions)."""

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="external_orders")
    external_id = models.CharField(max_length=100)
    order_id = models.IntegerField(null=True, blank=True)
    platform_status = models.CharField(max_length=60, blank=True, default="")
    modified_at = models.DateTimeField(null=True, blank=True)
    pushed_status = models.CharField(max_length=60, blank=True, default="")
    pushed_tracking = models.CharField(max_length=200, blank=True, default="")
    first_seen_at = models.DateTimeField(default=timezone.now)
    seen_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["connection", "external_id"], name="external_order_unique")
        ]
        indexes = [models.Index(fields=["connection", "first_seen_at"])]

    def __str__(self) -> str:
        return f"{self.connection_id}/{self.external_id}"


class PendingPush(models.Model):
    """A variant whose stock or price must be sent to a connection's platform: one row per (connection,
    variant, what), upserted by every change (a hundred stock movements of one SKU are still one row) and
    deleted once the value read at push time was sent. A failed send stays with a growing `next_try_at`."""

    class What(models.TextChoices):
        STOCK = "stock", _("Stock")
        PRICE = "price", _("Price")

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="pending_pushes")
    variant = models.ForeignKey("catalog.Variant", on_delete=models.CASCADE, related_name="+")
    what = models.CharField(max_length=5, choices=What.choices)
    changed_at = models.DateTimeField(default=timezone.now)
    attempts = models.PositiveIntegerField(default=0)
    next_try_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["connection", "variant", "what"], name="pending_push_unique")
        ]
        indexes = [models.Index(fields=["connection", "next_try_at"])]

    def __str__(self) -> str:
        return f"{self.connection_id}/{self.variant_id}/{self.what}"
