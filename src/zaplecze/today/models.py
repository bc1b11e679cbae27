"""Exceptions: one row per thing that needs a person, from the moment a detector sees it until it clears.

Rows are never deleted: resolved ones are the history (how many of each kind were opened and resolved per
day, and how long they took)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

SEVERITY_RANK = {"critical": 0, "high": 1, "normal": 2, "low": 3}


class OpsException(models.Model):
    class State(models.TextChoices):
        OPEN = "open", _("Open")
        SNOOZED = "snoozed", _("Snoozed")
        RESOLVED = "resolved", _("Resolved")

    class Severity(models.TextChoices):
        CRITICAL = "critical", _("Critical")
        HIGH = "high", _("High")
        NORMAL = "normal", _("Normal")
        LOW = "low", _("Low")

    kind = models.CharField(max_length=60)
    area = models.CharField(max_length=30)
    subject_type = models.CharField(max_length=30)
    subject_id = models.BigIntegerField()
    label = models.CharField(max_length=200)
    why = models.CharField(max_length=500)
    url = models.CharField(max_length=300, blank=True, default="")
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.NORMAL)
    rank = models.PositiveSmallIntegerField(default=2)  # SEVERITY_RANK: sorts critical first
    due_at = models.DateTimeField(null=True, blank=True)
    owner_role = models.CharField(max_length=20, blank=True, default="")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    state = models.CharField(max_length=10, choices=State.choices, default=State.OPEN)
    snoozed_until = models.DateTimeField(null=True, blank=True)
    opened_at = models.DateTimeField(default=timezone.now)
    seen_at = models.DateTimeField(default=timezone.now)  # the last refresh that still found it
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolved_how = models.CharField(max_length=20, blank=True, default="")  # cleared, by_hand, switched_off
    note = models.CharField(max_length=500, blank=True, default="")
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["rank", "due_at", "id"]
        constraints = [
            # one unresolved exception per kind and subject; resolved ones are history
            models.UniqueConstraint(
                fields=["kind", "subject_id"],
                condition=~Q(state="resolved"),
                name="ops_exception_one_unresolved",
            )
        ]
        indexes = [
            models.Index(fields=["state", "area", "rank", "due_at"], name="ops_exc_page_idx"),
            models.Index(fields=["kind", "state"], name="ops_exc_kind_idx"),
            models.Index(fields=["subject_type", "subject_id"], name="ops_exc_subject_idx"),
            models.Index(fields=["opened_at"], name="ops_exc_opened_idx"),
            models.Index(fields=["resolved_at"], name="ops_exc_resolved_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.label}: {self.why}"


class KindSetting(models.Model):
    """A shop's settings of one exception kind: switched off, or owned by another role or a person."""

    kind = models.CharField(max_length=60, unique=True)
    enabled = models.BooleanField(default=True)
    owner_role = models.CharField(max_length=20, blank=True, default="")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    def __str__(self) -> str:
        return self.kind


class TouchedSubject(models.Model):
    """Subjects changed since the last refresh (`core.today.touch`): looked at again by the next run."""

    subject_type = models.CharField(max_length=30)
    subject_id = models.BigIntegerField()
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["subject_type", "subject_id"], name="today_touched_unique")
        ]

    def __str__(self) -> str:
        return f"{self.subject_type}:{self.subject_id}"


class Preference(models.Model):
    """A person's Today settings: the morning digest e-mail on or off (on unless switched off)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="today_pref")
    digest = models.BooleanField(default=True)

    def __str__(self) -> str:
        return f"{self.user_id}: digest {'on' if self.digest else 'off'}"
