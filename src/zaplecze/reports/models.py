"""Report schedules (what to send to whom, when) and every report run, kept and downloadable."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ReportKind(models.TextChoices):
    SALES = "sales", _("Sales report")
    OPERATIONS = "operations", _("Operations report")


class ReportFormat(models.TextChoices):
    PDF = "pdf", "PDF"
    XLSX = "xlsx", "XLSX"
    CSV = "csv", "CSV"
    HTML = "html", "HTML"
    JSON = "json", "JSON"


class ReportSchedule(models.Model):
    """A report built and e-mailed by the worker: daily (for yesterday), weekly on a weekday (for the week
    before), or monthly on a day of the month (for the month before)."""

    class Frequency(models.TextChoices):
        DAILY = "daily", _("Daily")
        WEEKLY = "weekly", _("Weekly")
        MONTHLY = "monthly", _("Monthly")

    name = models.CharField(_("name"), max_length=120)
    kind = models.CharField(_("report"), max_length=12, choices=ReportKind.choices, default=ReportKind.SALES)
    frequency = models.CharField(_("frequency"), max_length=8, choices=Frequency.choices)
    weekday = models.PositiveSmallIntegerField(_("weekday"), default=0)  # 0 = Monday (weekly)
    day_of_month = models.PositiveSmallIntegerField(_("day of the month"), default=1)  # 1-28 (monthly)
    hour = models.PositiveSmallIntegerField(_("hour"), default=7)  # local time
    format = models.CharField(
        _("format"), max_length=5, choices=ReportFormat.choices, default=ReportFormat.PDF
    )
    recipients = models.TextField(
        _("recipients"), help_text=_("E-mail addresses, one per line or comma-separated")
    )
    channel = models.CharField(_("channel"), max_length=40, blank=True, default="")
    language = models.CharField(_("language"), max_length=5, default="pl")
    active = models.BooleanField(_("active"), default=True)
    last_period_end = models.DateField(null=True, blank=True)  # the last period sent (never sent twice)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class ReportRun(models.Model):
    """One built report file (by hand, by the CLI or by a schedule)."""

    class State(models.TextChoices):
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    schedule = models.ForeignKey(
        ReportSchedule, null=True, blank=True, on_delete=models.SET_NULL, related_name="runs"
    )
    kind = models.CharField(max_length=12, choices=ReportKind.choices)
    format = models.CharField(max_length=5, choices=ReportFormat.choices)
    period_from = models.DateField()
    period_to = models.DateField()
    channel = models.CharField(max_length=40, blank=True, default="")
    state = models.CharField(max_length=8, choices=State.choices, default=State.DONE)
    path = models.CharField(max_length=500, blank=True, default="")  # relative to the data dir
    size_bytes = models.PositiveBigIntegerField(default=0)
    build_seconds = models.FloatField(null=True, blank=True)
    error = models.TextField(blank=True, default="")
    sent_to = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.period_from}..{self.period_to} ({self.format})"


class Anomaly(models.Model):
    """A day whose orders or revenue left the range expected from the same weekday in the weeks before."""

    class Metric(models.TextChoices):
        ORDERS = "orders", _("Orders")
        REVENUE = "revenue_gross", _("Revenue (gross)")

    class State(models.TextChoices):
        OPEN = "open", _("Open")
        DISMISSED = "dismissed", _("Dismissed")

    metric = models.CharField(max_length=20, choices=Metric.choices)
    day = models.DateField()
    channel = models.CharField(max_length=40, blank=True, default="")
    value = models.DecimalField(max_digits=20, decimal_places=2)
    expected = models.DecimalField(max_digits=20, decimal_places=2)  # the baseline median
    low = models.DecimalField(max_digits=20, decimal_places=2)
    high = models.DecimalField(max_digits=20, decimal_places=2)
    score = models.FloatField()  # robust z-score against the baseline
    baseline_days = models.JSONField(default=list)  # the days compared with, for the evidence
    state = models.CharField(max_length=10, choices=State.choices, default=State.OPEN)
    note = models.CharField(max_length=300, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-day", "metric"]
        constraints = [
            models.UniqueConstraint(fields=["metric", "day", "channel"], name="anomaly_metric_day_channel")
        ]

    def __str__(self) -> str:
        return f"{self.metric} {self.day}: {self.value} (expected {self.expected})"

    @property
    def direction(self) -> str:
        return "up" if self.value > self.expected else "down"
