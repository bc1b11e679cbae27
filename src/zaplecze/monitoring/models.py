"""Storefront checks (HTTP probes of the shop's own pages), their results and incidents.

Retention: a `CheckResult` row is small (no body, an error of at most 300 characters), one per check and
interval. Raw results are kept for `RESULTS_KEEP_DAYS` (35) days, enough for the 30-day uptime and the
charts; every night the finished UTC days are rolled up into one `CheckDay` row per check and day (checks,
successes, average and slowest response), kept for good, and older raw rows are deleted
(`services.results_roll_up`). Incidents keep their own times and cause, so they outlive the raw rows they
point at (the links become empty).
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

RESULTS_KEEP_DAYS = 35


class CheckKind(models.TextChoices):
    HOME = "home", _("Home page")
    CATEGORY = "category", _("Category page")
    PRODUCT = "product", _("Product page")
    CART = "cart", _("Cart")
    CHECKOUT = "checkout", _("Checkout")
    OTHER = "other", _("Other")


class CheckState(models.TextChoices):
    """The current state of a check, derived from its results and open incidents (kept on the row)."""

    PENDING = "pending", _("Not checked yet")
    UP = "up", _("Up")
    FAILING = "failing", _("Failing")  # failed, not yet confirmed by `confirm_failures` results in a row
    DOWN = "down", _("Down")  # an open outage incident
    WARNING = "warning", _("Warning")  # up, but the TLS certificate expires soon
    PAUSED = "paused", _("Paused")


class StorefrontCheck(models.Model):
    name = models.CharField(_("name"), max_length=120)
    url = models.CharField(_("URL"), max_length=500)
    kind = models.CharField(_("kind"), max_length=12, choices=CheckKind.choices, default=CheckKind.OTHER)
    expected_text = models.CharField(
        _("expected text"),
        max_length=200,
        blank=True,
        default="",
        help_text=_("The page must contain this text (case-insensitive); empty: not checked."),
    )
    expected_status = models.PositiveSmallIntegerField(_("expected status"), default=200)
    interval_minutes = models.PositiveSmallIntegerField(_("interval (minutes)"), default=5)
    timeout_seconds = models.PositiveSmallIntegerField(_("timeout (seconds)"), default=10)
    confirm_failures = models.PositiveSmallIntegerField(
        _("failures before an incident"),
        default=2,
        help_text=_("An incident opens after this many failed checks in a row (avoids flapping)."),
    )
    tls_warning_days = models.PositiveSmallIntegerField(
        _("TLS warning (days)"),
        default=14,
        help_text=_("Warn when the HTTPS certificate expires within this many days; 0: never."),
    )
    verify_tls = models.BooleanField(
        _("require a trusted certificate"),
        default=True,
        help_text=_("Off only for test shops with a self-signed certificate."),
    )
    enabled = models.BooleanField(_("enabled"), default=True)
    # Denormalised from the latest result and incidents, for the list page and scheduling.
    state = models.CharField(max_length=10, choices=CheckState.choices, default=CheckState.PENDING)
    next_run_at = models.DateTimeField(null=True, blank=True, db_index=True)
    last_checked_at = models.DateTimeField(null=True, blank=True)
    last_response_ms = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True, default="")
    tls_days_left = models.SmallIntegerField(null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class CheckResult(models.Model):
    """One probe of a check. Compact on purpose: many rows (see the module docstring for retention)."""

    check_ref = models.ForeignKey(
        StorefrontCheck, on_delete=models.CASCADE, related_name="results", db_column="check_id"
    )
    at = models.DateTimeField()
    ok = models.BooleanField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_ms = models.PositiveIntegerField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True, default="")
    tls_days = models.SmallIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["check_ref", "at"], name="monitoring_result_check_at")]

    def __str__(self) -> str:
        return f"{self.check_ref_id} {self.at:%Y-%m-%d %H:%M} {'ok' if self.ok else 'fail'}"


class CheckDay(models.Model):
    """A day (UTC) of one check's results, rolled up before the raw results are deleted."""

    check_ref = models.ForeignKey(
        StorefrontCheck, on_delete=models.CASCADE, related_name="days", db_column="check_id"
    )
    day = models.DateField()
    checks = models.PositiveIntegerField(default=0)
    ok = models.PositiveIntegerField(default=0)
    avg_ms = models.PositiveIntegerField(null=True, blank=True)
    max_ms = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-day"]
        constraints = [
            models.UniqueConstraint(fields=["check_ref", "day"], name="monitoring_checkday_unique")
        ]

    def __str__(self) -> str:
        return f"{self.check_ref_id} {self.day}: {self.ok}/{self.checks}"


class IncidentKind(models.TextChoices):
    DOWN = "down", _("Outage")
    TLS = "tls", _("TLS certificate expiring")


class IncidentState(models.TextChoices):
    OPEN = "open", _("Open")
    CLOSED = "closed", _("Closed")


INCIDENT_TRANSITIONS: dict[str, set[str]] = {
    IncidentState.OPEN: {IncidentState.CLOSED},
    IncidentState.CLOSED: set(),
}


class Incident(models.Model):
    check_ref = models.ForeignKey(
        StorefrontCheck, on_delete=models.CASCADE, related_name="incidents", db_column="check_id"
    )
    kind = models.CharField(max_length=8, choices=IncidentKind.choices, default=IncidentKind.DOWN)
    state = models.CharField(max_length=8, choices=IncidentState.choices, default=IncidentState.OPEN)
    opened_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    cause = models.CharField(_("cause"), max_length=300, blank=True, default="")
    close_note = models.CharField(max_length=300, blank=True, default="")
    first_failing_result = models.ForeignKey(
        CheckResult, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_failing_result = models.ForeignKey(
        CheckResult, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    failures = models.PositiveIntegerField(default=0)
    notified_open_at = models.DateTimeField(null=True, blank=True)
    notified_close_at = models.DateTimeField(null=True, blank=True)
    ticket = models.ForeignKey(
        "service.Ticket", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-opened_at", "-id"]
        indexes = [models.Index(fields=["state", "check_ref"], name="monitoring_incident_state")]
        constraints = [
            # At most one open incident of each kind per check (two workers cannot both open one).
            models.UniqueConstraint(
                fields=["check_ref", "kind"],
                condition=models.Q(state="open"),
                name="monitoring_incident_one_open",
            )
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.check_ref_id} {self.kind} {self.state}"

    @property
    def duration(self):
        end = self.closed_at or timezone.now()
        return end - self.opened_at

    def can_move_to(self, state: str) -> bool:
        return state in INCIDENT_TRANSITIONS[self.state]
