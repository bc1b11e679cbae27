"""Reads of the shipping module: promises, late / at-risk orders, shipment lists and pages, what to poll,
and carrier performance."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from statistics import median
from typing import Any

from django.conf import settings
from django.db.models import Count, Exists, F, OuterRef, Prefetch, Q, QuerySet
from django.utils import timezone

from zaplecze.core.businesstime import add_business_days, tz
from zaplecze.core.errors import NotFound
from zaplecze.core.permissions import user_has
from zaplecze.orders.models import OPEN_STAGES, Order

from .models import (
    TRACKED,
    Carrier,
    DeliveryPromise,
    Shipment,
    ShipmentStatus,
    Submission,
    TrackingEvent,
)

# --- promises and ship-by ----------------------------------------------------------------------------------


def promise_for(channel_id: int | None, delivery_method: str) -> DeliveryPromise | None:
    """The most specific active promise: channel + method, channel + any, any + method, any + any."""
    candidates = list(
        DeliveryPromise.objects.filter(
            Q(channel_id=channel_id) | Q(channel__isnull=True),
            Q(delivery_method=delivery_method) | Q(delivery_method=""),
            active=True,
        )
    )

    def rank(p: DeliveryPromise) -> tuple[int, int]:
        return (0 if p.channel_id is not None else 1, 0 if p.delivery_method else 1)

    candidates.sort(key=rank)
    return candidates[0] if candidates else None


def promises() -> QuerySet[DeliveryPromise]:
    return DeliveryPromise.objects.select_related("channel").order_by(
        "channel__name", "delivery_method", "id"
    )


def _without_left_shipment() -> Exists:
    from .models import LEFT_WAREHOUSE

    return ~Exists(Shipment.objects.filter(order_id=OuterRef("pk"), status__in=LEFT_WAREHOUSE))


def orders_late(now: dt.datetime | None = None) -> QuerySet[Order]:
    """Open orders whose ship-by time has passed and no parcel has left yet (most overdue first)."""
    now = now or timezone.now()
    return (
        Order.objects.filter(stage__in=OPEN_STAGES, ship_by__lt=now)
        .filter(_without_left_shipment())
        .select_related("channel", "status")
        .order_by("ship_by", "id")
    )


def orders_at_risk(now: dt.datetime | None = None, hours: int | None = None) -> QuerySet[Order]:
    """Open orders due within the next `hours` (ZAPLECZE_SHIP_AT_RISK_HOURS) that have not left yet."""
    now = now or timezone.now()
    hours = settings.SHIP_AT_RISK_HOURS if hours is None else hours
    return (
        Order.objects.filter(
            stage__in=OPEN_STAGES, ship_by__gte=now, ship_by__lt=now + dt.timedelta(hours=hours)
        )
        .filter(_without_left_shipment())
        .select_related("channel", "status")
        .order_by("ship_by", "id")
    )


# --- carriers and shipments --------------------------------------------------------------------------------


def carriers(active_only: bool = False) -> QuerySet[Carrier]:
    qs = Carrier.objects.all()
    return qs.filter(active=True) if active_only else qs


@dataclass
class ShipmentFilter:
    carrier: str = ""
    status: str = ""
    submission: str = ""
    q: str = ""
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    problems: bool = False

    @classmethod
    def from_params(cls, params) -> ShipmentFilter:
        def day(name: str) -> dt.date | None:
            value = (params.get(name) or "").strip()
            try:
                return dt.date.fromisoformat(value) if value else None
            except ValueError:
                return None

        status = params.get("status", "")
        submission = params.get("submission", "")
        return cls(
            carrier=(params.get("carrier") or "")[:30],
            status=status if status in ShipmentStatus.values else "",
            submission=submission if submission in Submission.values else "",
            q=(params.get("q") or "").strip()[:100],
            date_from=day("date_from"),
            date_to=day("date_to"),
            problems=(params.get("problems") or "") in ("1", "true", "on"),
        )


def _local_midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), tzinfo=tz())


def shipments_filtered(f: ShipmentFilter) -> QuerySet[Shipment]:
    qs = Shipment.objects.all()
    if f.carrier:
        qs = qs.filter(carrier__code=f.carrier)
    if f.status:
        qs = qs.filter(status=f.status)
    if f.submission:
        qs = qs.filter(submission=f.submission)
    if f.problems:
        qs = qs.filter(
            Q(status=ShipmentStatus.EXCEPTION) | Q(submission__in=[Submission.FAILED, Submission.GAVE_UP])
        )
    if f.date_from:
        qs = qs.filter(created_at__gte=_local_midnight(f.date_from))
    if f.date_to:
        qs = qs.filter(created_at__lt=_local_midnight(f.date_to + dt.timedelta(days=1)))
    if f.q:
        qs = qs.filter(
            Q(tracking_number__iexact=f.q)
            | Q(reference__iexact=f.q)
            | Q(order__number__iexact=f.q)
            | Q(order__number__iexact=f"#{f.q}")
            | Q(external_id=f.q)
        )
    return qs


@dataclass
class Page:
    items: list[Shipment]
    next_cursor: str | None


def shipment_page(f: ShipmentFilter, *, cursor: str | None = None, limit: int = 50) -> Page:
    """Newest first, keyset-paginated on (created_at, id)."""
    qs = shipments_filtered(f)
    if cursor:
        try:
            ts, _sep, pk = cursor.partition("_")
            at = dt.datetime.fromisoformat(ts)
            qs = qs.filter(Q(created_at__lt=at) | Q(created_at=at, id__lt=int(pk)))
        except ValueError:
            pass
    rows = list(qs.select_related("carrier", "order").order_by("-created_at", "-id")[: limit + 1])
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = f"{last.created_at.isoformat()}_{last.pk}"
    return Page(rows, next_cursor)


def access_shipment(actor, shipment_id: int, permission: str = "shipping.view") -> Shipment:
    shipment = (
        Shipment.objects.select_related("carrier", "order", "order__channel", "created_by")
        .prefetch_related(
            "parcels", Prefetch("events", queryset=TrackingEvent.objects.order_by("-at", "-id"))
        )
        .filter(pk=shipment_id)
        .first()
    )
    if shipment is None or not user_has(actor, permission):
        raise NotFound("No such shipment")
    return shipment


def shipments_of_order(order_id: int) -> list[Shipment]:
    return list(
        Shipment.objects.filter(order_id=order_id).select_related("carrier").order_by("-created_at", "-id")
    )


def shipment_by_reference(reference: str) -> Shipment | None:
    return Shipment.objects.filter(reference=reference).first()


def order_lines_delivered_at(order_id: int) -> dict[int, dt.datetime]:
    """Order line id -> when the shipment carrying it was delivered (returns and complaints count from it)."""
    out: dict[int, dt.datetime] = {}
    rows = Shipment.objects.filter(
        order_id=order_id, status=ShipmentStatus.DELIVERED, delivered_at__isnull=False
    ).values_list("items__order_line_id", "delivered_at")
    for line_id, at in rows:
        if line_id is not None and (line_id not in out or at > out[line_id]):
            out[line_id] = at
    return out


def shipments_to_sync(limit: int | None = None, now: dt.datetime | None = None) -> list[int]:
    """Shipments the worker should ask their carrier about: tracked ones of carriers with a connector (least
    recently polled first), due failed submissions, and submissions stuck pending for 10 minutes."""
    now = now or timezone.now()
    remote = Q(carrier__connector=Carrier.Connector.INPOST)
    due = Q(submission__in=[Submission.FAILED, Submission.SUBMITTED], next_attempt_at__lte=now) | Q(
        submission=Submission.PENDING, created_at__lt=now - dt.timedelta(minutes=10)
    )
    tracked = Q(status__in=TRACKED) & ~Q(tracking_number="") & Q(submission=Submission.DONE)
    qs = (
        Shipment.objects.filter(remote)
        .filter(due | tracked)
        .exclude(status=ShipmentStatus.CANCELLED)
        .order_by(F("last_polled_at").asc(nulls_first=True), "id")
        .values_list("pk", flat=True)
    )
    return list(qs[:limit] if limit else qs)


def shipment_status_counts() -> dict[str, int]:
    return dict(Shipment.objects.values_list("status").annotate(n=Count("id")).values_list("status", "n"))


# --- carrier performance ------------------------------------------------------------------------------------


@dataclass
class CarrierPerformance:
    carrier: str
    carrier_name: str
    service: str
    shipments: int = 0
    delivered: int = 0
    exceptions: int = 0
    on_time: int = 0
    transit_hours: list[float] = field(default_factory=list)

    @property
    def median_hours(self) -> float | None:
        return round(median(self.transit_hours), 1) if self.transit_hours else None

    @property
    def p90_hours(self) -> float | None:
        return round(percentile(self.transit_hours, 0.9), 1) if self.transit_hours else None

    @property
    def on_time_rate(self) -> float | None:
        return self.on_time / self.delivered if self.delivered else None

    @property
    def exception_rate(self) -> float | None:
        return self.exceptions / self.shipments if self.shipments else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "carrier": self.carrier,
            "carrier_name": self.carrier_name,
            "service": self.service,
            "shipments": self.shipments,
            "delivered": self.delivered,
            "median_hours": self.median_hours,
            "p90_hours": self.p90_hours,
            "on_time_rate": self.on_time_rate,
            "exception_rate": self.exception_rate,
        }


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (the smallest value with at least q of the values at or below it)."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q * len(ordered)))
    return ordered[rank - 1]


def carrier_performance(date_from: dt.date, date_to: dt.date) -> list[CarrierPerformance]:
    """Per carrier and service, for shipments handed over in [date_from, date_to] (local days): median and
    p90 transit time (hand-over to delivery, hours), on-time rate (delivered within the carrier's expected
    working days after hand-over) and exception rate (shipments that had any exception event)."""
    start, end = _local_midnight(date_from), _local_midnight(date_to + dt.timedelta(days=1))
    had_exception = Exists(
        TrackingEvent.objects.filter(shipment_id=OuterRef("pk"), status=ShipmentStatus.EXCEPTION)
    )
    rows = (
        Shipment.objects.filter(handed_over_at__gte=start, handed_over_at__lt=end)
        .exclude(status=ShipmentStatus.CANCELLED)
        .annotate(had_exception=had_exception)
        .values_list(
            "carrier__code",
            "carrier__name",
            "carrier__transit_days",
            "service",
            "handed_over_at",
            "delivered_at",
            "had_exception",
        )
    )
    out: dict[tuple[str, str], CarrierPerformance] = {}
    for code, name, transit_days, service, handed, delivered, exc in rows.iterator():
        perf = out.setdefault((code, service), CarrierPerformance(code, name, service))
        perf.shipments += 1
        perf.exceptions += 1 if exc else 0
        if delivered is not None and delivered >= handed:
            perf.delivered += 1
            perf.transit_hours.append((delivered - handed).total_seconds() / 3600)
            due_day = add_business_days(handed.astimezone(tz()).date(), transit_days)
            if delivered.astimezone(tz()).date() <= due_day:
                perf.on_time += 1
    return sorted(out.values(), key=lambda p: (p.carrier_name, p.service))
