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
    """A day whose orders, revenue, traffic or conversion left the range expected from the same weekday in the weeks before."""

    class Metric(models.TextChoices):
        ORDERS = "orders", _("Orders")
        REVENUE = "revenue_gross", _("Revenue (gross)")
        VISITORS = "visitors", _("Visitors")
        VISITS = "visits", _("Visits")
        CONVERSION = "conversion_rate", _("Conversion rate (%)")

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


class OrderTrace(models.Model):
    """Process mining's summary of one order's event log, kept up to date incrementally (`reports.traces`):
    the first packed/shipped/delivered times and the path through the stages with the time of each entry.
    The process page reads these rows instead of the whole event log of the period."""

    order = models.OneToOneField(
        "orders.Order", primary_key=True, on_delete=models.CASCADE, related_name="trace"
    )
    packed_at = models.DateTimeField(null=True, blank=True)
    shipped_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    # "stage@epoch;stage@epoch;…" (UTC seconds), consecutive repeats folded: compact and cheap to parse.
    path = models.TextField(blank=True, default="")

    def __str__(self) -> str:
        return f"{self.order_id}: {self.path}"


class TraceState(models.Model):
    """One row: the highest order-event id folded into the traces (see `reports.traces.traces_refresh`)."""

    last_event_id = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"traces folded up to event {self.last_event_id}"


class Insight(models.Model):
    """A finding of an explainable rule (insights.py) with its evidence, how sure it is, what it is worth,
    what to do about it and where. The daily run updates the open insight of the same fingerprint instead of
    adding another; after "done" the same metric is measured again over an equal period (measured_effect)."""

    class Kind(models.TextChoices):
        PRODUCT_CONVERSION = "product_conversion", _("Many views, few orders")
        STOCKOUT = "stockout", _("Stock-out within the lead time")
        RETURN_RATE = "return_rate", _("Rising returns")
        CARRIER_LATE = "carrier_late", _("Carrier late more often")
        CHANNEL_CONVERSION = "channel_conversion", _("Channel conversion drop")
        ABANDONED_CHECKOUT = "abandoned_checkout", _("More abandoned checkouts")
        SLOW_STOCK = "slow_stock", _("Slow-moving stock")
        STAGE_STALL = "stage_stall", _("Orders stalling at a stage")

    class State(models.TextChoices):
        NEW = "new", _("New")
        ACCEPTED = "accepted", _("Accepted")
        DISMISSED = "dismissed", _("Dismissed")
        DONE = "done", _("Done")

    kind = models.CharField(max_length=24, choices=Kind.choices)
    subject_type = models.CharField(max_length=20)  # variant, carrier, source, reason, stage, shop
    subject_id = models.CharField(max_length=200, blank=True, default="")
    subject_label = models.CharField(max_length=300, blank=True, default="")
    fingerprint = models.CharField(max_length=255, db_index=True)  # kind:subject_type:subject_id
    title = models.CharField(max_length=300)
    period_from = models.DateField()
    period_to = models.DateField()
    evidence = models.JSONField(default=dict)  # the numbers, the statistic and how the effect was estimated
    statistic = models.CharField(max_length=60, blank=True, default="")
    p_value = models.FloatField(null=True, blank=True)
    confidence = models.FloatField(default=0)  # 0..1
    expected_effect = models.DecimalField(max_digits=20, decimal_places=2, null=True, blank=True)
    effect_unit = models.CharField(max_length=12, blank=True, default="")  # PLN, units, orders, ...
    action_text = models.CharField(max_length=500, blank=True, default="")
    action_url = models.CharField(max_length=500, blank=True, default="")
    state = models.CharField(max_length=10, choices=State.choices, default=State.NEW)
    state_changed_at = models.DateTimeField(null=True, blank=True)
    state_changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.CharField(max_length=500, blank=True, default="")
    done_at = models.DateTimeField(null=True, blank=True)
    measured_effect = models.JSONField(null=True, blank=True)
    measured_at = models.DateTimeField(null=True, blank=True)
    first_seen = models.DateField()
    last_seen = models.DateField()
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["kind", "-confidence", "-id"]
        indexes = [models.Index(fields=["state", "kind"], name="insight_state_kind_idx")]
        constraints = [
            # one open (new or accepted) insight per finding: the daily run updates it
            models.UniqueConstraint(
                fields=["fingerprint"],
                condition=models.Q(state__in=["new", "accepted"]),
                name="insight_open_fingerprint",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.subject_label or self.subject_id}: {self.state}"

    @property
    def is_open(self) -> bool:
        return self.state in (self.State.NEW, self.State.ACCEPTED)


# The only moves an insight can make (insight_transition checks them).
INSIGHT_TRANSITIONS: dict[str, frozenset[str]] = {
    Insight.State.NEW: frozenset({Insight.State.ACCEPTED, Insight.State.DISMISSED, Insight.State.DONE}),
    Insight.State.ACCEPTED: frozenset({Insight.State.DONE, Insight.State.DISMISSED}),
    Insight.State.DISMISSED: frozenset({Insight.State.NEW}),
    Insight.State.DONE: frozenset(),
}
