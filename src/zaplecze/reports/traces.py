"""Order traces: process mining's per-order summary of the event log, kept up to date incrementally.

Reading the whole event log of a month on every view of the process page costs seconds on a big shop
(14 s for 96,000 orders and their 550,000 events). Instead, each order's log is folded once into an
`OrderTrace` row (first packed/shipped/delivered time and the path through the stages with the time of each
entry), and folded again only when a new status event arrives for it.

`traces_refresh()` finds the orders with new events by event id: everything above the last id folded, plus
a safety window of ids below it, because an id is taken when a transaction inserts the row but becomes
visible only when it commits, so a slow transaction can commit an id below one already folded (the window is
read again whenever something new arrived). Re-folding an order is idempotent. The worker refreshes every two minutes and the process page refreshes before it reads,
so the page is never behind the log.

The fold (`fold`) is the single definition of a trace; `process.traces_from_log` applies the same fold to
the raw log and the tests check that both give the same report.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from django.db import NotSupportedError, models, transaction
from django.utils import timezone

from zaplecze.orders.models import Order, OrderEvent, Stage

from .models import OrderTrace, TraceState

PACKED_STATUS = "packed"
# Ids below the last folded one that are read again on every refresh (see the module docstring).
SAFETY_WINDOW = 500
BATCH_ORDERS = 2000
EVENT_KINDS = (OrderEvent.Kind.CREATED, OrderEvent.Kind.STATUS)


class Epoch(models.Func):
    """A datetime column as whole UTC seconds since 1970 (an integer: no datetime object per row)."""

    output_field = models.BigIntegerField()

    def as_sqlite(self, compiler, connection, **extra):
        # '%%%%s' survives both formatting steps (the template's, then the backend's "%%" -> "%") as '%s'
        return self.as_sql(
            compiler, connection, template="CAST(strftime('%%%%s', %(expressions)s) AS INTEGER)"
        )

    def as_postgresql(self, compiler, connection, **extra):
        return self.as_sql(
            compiler, connection, template="CAST(FLOOR(EXTRACT(EPOCH FROM %(expressions)s)) AS BIGINT)"
        )

    def as_sql(self, compiler, connection, **extra):
        if "template" not in extra:
            raise NotSupportedError(f"Epoch() is written for SQLite and PostgreSQL, not {connection.vendor}")
        return super().as_sql(compiler, connection, **extra)


@dataclass
class Folded:
    stages: list[tuple[str, dt.datetime]] = field(default_factory=list)
    packed: dt.datetime | None = None
    shipped: dt.datetime | None = None
    delivered: dt.datetime | None = None


def fold(placed: dt.datetime, events: Iterable[tuple[dt.datetime, str, str, str]]) -> Folded:
    """One order's created/status events (at, kind, to_stage, to_status), in (at, id) order, folded into
    its path through the stages (consecutive repeats folded; the stage it came in with counts from
    `placed`) and the first time it was packed, shipped and delivered."""
    out = Folded()
    created = ""
    for at, kind, to_stage, to_status in events:
        if kind == OrderEvent.Kind.CREATED:  # the stage it came in with (imports log it later than placing)
            if to_stage:
                created = to_stage
            continue
        if to_stage and (not out.stages or out.stages[-1][0] != to_stage):
            out.stages.append((to_stage, at))
        if to_status == PACKED_STATUS and out.packed is None:
            out.packed = at
        if to_stage == Stage.SHIPPED and out.shipped is None:
            out.shipped = at
        if to_stage == Stage.DELIVERED and out.delivered is None:
            out.delivered = at
    if created and (not out.stages or out.stages[0][0] != created):
        out.stages.insert(0, (created, placed))
    return out


def encode_path(stages: list[tuple[str, dt.datetime]]) -> str:
    return ";".join(f"{s}@{int(at.timestamp())}" for s, at in stages)


def decode_path(path: str) -> list[tuple[str, dt.datetime]]:
    if not path:
        return []
    out = []
    utc = dt.UTC
    for part in path.split(";"):
        stage, _sep, ts = part.partition("@")
        out.append((stage, dt.datetime.fromtimestamp(int(ts), utc)))
    return out


def _events_by_order(order_ids: list[int]) -> Iterator[tuple[int, list[tuple]]]:
    # The kinds are filtered here, not in SQL: with a long id list and a kind filter, SQLite prefers the
    # (kind, at) index and reads every status event of the shop for each batch (4.8 s instead of 0.05 s).
    rows = (
        OrderEvent.objects.filter(order_id__in=order_ids)
        .order_by("order_id", "at", "id")
        .values_list("order_id", "at", "kind", "to_stage", "to_status")
    )
    current, bucket = None, []
    for oid, at, kind, to_stage, to_status in rows.iterator(chunk_size=20000):
        if kind not in EVENT_KINDS:
            continue
        if oid != current:
            if current is not None:
                yield current, bucket
            current, bucket = oid, []
        bucket.append((at, kind, to_stage, to_status))
    if current is not None:
        yield current, bucket


def traces_build(order_ids: list[int]) -> int:
    """Fold the logs of these orders into their traces (replacing what was there). Returns rows written."""
    written = 0
    for i in range(0, len(order_ids), BATCH_ORDERS):
        chunk = sorted(set(order_ids[i : i + BATCH_ORDERS]))
        placed = dict(Order.objects.filter(pk__in=chunk).values_list("pk", "placed_at"))
        rows = []
        for oid, events in _events_by_order(list(placed)):
            f = fold(placed[oid], events)
            rows.append(
                OrderTrace(
                    order_id=oid,
                    packed_at=f.packed,
                    shipped_at=f.shipped,
                    delivered_at=f.delivered,
                    path=encode_path(f.stages),
                )
            )
        with transaction.atomic():
            OrderTrace.objects.filter(order_id__in=chunk).delete()
            OrderTrace.objects.bulk_create(rows, batch_size=1000)
        written += len(rows)
    return written


def traces_refresh(*, limit_events: int | None = None) -> int:
    """Fold the orders whose log grew since the last refresh. Returns the number of orders re-folded.
    `limit_events` caps one call (the worker's first run over an existing shop goes in steps)."""
    with transaction.atomic():
        state = TraceState.objects.select_for_update().filter(pk=1).first()
        if state is None:
            state, _created = TraceState.objects.get_or_create(pk=1)
            state = TraceState.objects.select_for_update().get(pk=1)
        # Probes by id only (the primary key): a kind filter here makes SQLite walk the kind index instead.
        if not OrderEvent.objects.filter(id__gt=state.last_event_id).exists():
            return 0  # nothing new: the page pays one index probe
        last = state.last_event_id
        new = OrderEvent.objects.filter(id__gt=last).order_by("id")
        if limit_events:
            new = new[:limit_events]
        rows = list(new.values_list("id", "order_id", "kind"))
        top = max(pk for pk, _oid, _kind in rows)
        window = OrderEvent.objects.filter(id__gt=max(0, last - SAFETY_WINDOW), id__lte=last)
        rows += list(window.values_list("id", "order_id", "kind"))
        order_ids = sorted({oid for _pk, oid, kind in rows if kind in EVENT_KINDS})
        done = traces_build(order_ids)
        TraceState.objects.filter(pk=1).update(last_event_id=top, updated_at=timezone.now())
    return done


def traces_current() -> bool:
    """True when every event is folded (nothing above the last id seen)."""
    last = TraceState.objects.filter(pk=1).values_list("last_event_id", flat=True).first() or 0
    return not OrderEvent.objects.filter(id__gt=last).exists()


def traces_rebuild() -> int:
    """Fold every order again from its log, in steps (for repairs; normal work never needs it)."""
    with transaction.atomic():
        TraceState.objects.update_or_create(pk=1, defaults={"last_event_id": 0})
    total = 0
    while True:
        n = traces_refresh(limit_events=200_000)
        total += n
        state = TraceState.objects.get(pk=1)
        if not OrderEvent.objects.filter(id__gt=state.last_event_id).exists():
            return total
