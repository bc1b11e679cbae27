"""Analytics' part of a person's data (GDPR export and erasure, registered at "service.privacy").

Traffic events are pseudonymous: the visitor id is a keyed hash of site, IP and user agent with a salt that
changes every UTC day and is deleted the day after, and the IP is never stored. Nobody can recompute an id
from a person's IP. One thing links a visitor id to a person: a `purchase` event naming an order number,
because the order names its customer. Through it, everything that visitor id did on that day (the
pageviews, products viewed, source, device; tracking script and server log alike, as both hash the same
way) becomes data about that customer.

* Export (art. 15/20): for each of the person's orders named by a purchase event, that visitor id's day:
  its visits and all its events.
* Erasure (art. 17): those visitor-days are deleted from the event store (the affected Parquet files are
  rewritten atomically, then the visits of those days are rebuilt and the old visits files deleted).
  Replacing only the order number would not be enough: the erased order keeps its number, date and amount
  for the accountants (service.privacy), so the purchase's time and the visit around it would still point
  to it. A deleted visitor-day is missing from later traffic figures (one visit or a few).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from . import visits, warehouse

EVENT_FIELDS = (
    "ts",
    "event",
    "name",
    "path",
    "host",
    "referrer",
    "source",
    "source_name",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_content",
    "utm_term",
    "device",
    "browser",
    "os",
    "sku",
    "order_number",
    "value",
    "currency",
    "props",
    "origin",
    "status",
    "method",
)
VISIT_FIELDS = (
    "started",
    "ended",
    "pageviews",
    "events",
    "bounced",
    "entry_page",
    "exit_page",
    "source",
    "source_name",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "device",
    "browser",
    "os",
    "converted",
)


def _jsonable(v: Any) -> Any:
    if isinstance(v, dt.datetime | dt.date):
        return v.isoformat()
    if isinstance(v, Decimal):
        return str(v)
    return v


def order_numbers(order_ids: list[int]) -> list[str]:
    """The numbers as purchase events carry them (without '#')."""
    from zaplecze.orders.models import Order

    numbers = Order.objects.filter(pk__in=order_ids).values_list("number", flat=True)
    return sorted({str(n).strip().lstrip("#") for n in numbers if str(n).strip().lstrip("#")})


def visitor_days(numbers: list[str]) -> dict[tuple[str, int, dt.date], list[str]]:
    """(site, visitor id, day partition) of every purchase event naming one of `numbers` -> the numbers."""
    if not numbers:
        return {}
    con = warehouse.connect()
    try:
        rows = con.execute(
            """SELECT site, visitor, date, order_number FROM events
               WHERE event = 'purchase' AND order_number IN (SELECT unnest(?::VARCHAR[]))""",
            [numbers],
        ).fetchall()
    finally:
        con.close()
    out: dict[tuple[str, int, dt.date], list[str]] = defaultdict(list)
    for site, visitor, day, number in rows:
        if number not in out[(site, visitor, day)]:
            out[(site, visitor, day)].append(number)
    return out


def _partition_files(day: dt.date) -> list:
    part = warehouse.events_dir() / f"date={day.isoformat()}"
    return sorted(part.glob("*.parquet")) if part.is_dir() else []


def _mask(table: pa.Table, pairs: set[tuple[str, int]]) -> pa.ChunkedArray:
    mask = None
    for site, visitor in pairs:
        m = pc.and_(pc.equal(table.column("site"), site), pc.equal(table.column("visitor"), visitor))
        mask = m if mask is None else pc.or_(mask, m)
    return pc.fill_null(mask, False)


def export(numbers: list[str]) -> list[dict[str, Any]]:
    """One entry per visitor-day linked to the orders: its visits and every event, oldest first."""
    warehouse.flush()  # events still in the spool belong in the export too
    out = []
    for (site, visitor, day), nums in sorted(visitor_days(numbers).items(), key=lambda x: (x[0][2], x[0])):
        events = []
        for f in _partition_files(day):
            table = pq.read_table(f)
            picked = table.filter(_mask(table, {(site, visitor)}))
            events.extend({k: _jsonable(r.get(k)) for k in EVENT_FIELDS} for r in picked.to_pylist())
        events.sort(key=lambda e: e["ts"])
        start = dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)
        found = []
        for f in visits.ensure(day - dt.timedelta(days=1), day):
            table = pq.read_table(f)
            started = table.column("started")
            ts_type = table.schema.field("started").type
            m = pc.and_(
                _mask(table, {(site, visitor)}),
                pc.and_(
                    pc.greater_equal(started, pa.scalar(start - dt.timedelta(days=1), ts_type)),
                    pc.less(started, pa.scalar(start + dt.timedelta(days=1), ts_type)),
                ),
            )
            found.extend({k: _jsonable(r.get(k)) for k in VISIT_FIELDS} for r in table.filter(m).to_pylist())
        found.sort(key=lambda v: v["started"])
        out.append(
            {
                "site": site,
                "day": day.isoformat(),
                "visitor_id": str(visitor),
                "orders": nums,
                "visits": found,
                "events": events,
            }
        )
    return out


def erase(numbers: list[str]) -> int:
    """Delete every visitor-day linked to `numbers` from the event store; rebuild the visits. Returns the
    number of events deleted. Idempotent; each file is replaced atomically."""
    warehouse.flush()  # nothing linked may stay behind in the spool
    deleted = 0
    with warehouse._flush_lock, visits.file_lock(warehouse.WRITE_LOCK):
        warehouse.recover()
        by_day: dict[dt.date, set[tuple[str, int]]] = defaultdict(set)
        for site, visitor, day in visitor_days(numbers):
            by_day[day].add((site, visitor))
        for day, pairs in sorted(by_day.items()):
            for f in _partition_files(day):
                table = pq.read_table(f)
                gone = _mask(table, pairs)
                n = pc.sum(pc.cast(gone, pa.int64())).as_py() or 0
                if not n:
                    continue
                kept = table.filter(pc.invert(gone))
                if kept.num_rows:
                    warehouse.write_parquet_atomic(kept.cast(table.schema), f)
                else:
                    f.unlink()
                deleted += n
        visits.refresh(by_day, force=True)
    return deleted


class AnalyticsPrivacy:
    """A privacy contributor (see zaplecze.service.privacy.PrivacyContributor)."""

    code = "analytics"

    def export(self, *, order_ids: list[int]) -> dict[str, list[dict[str, Any]]]:
        return {"traffic": export(order_numbers(order_ids))}

    def files(self, *, order_ids: list[int]) -> list[tuple[str, bytes]]:
        return []

    def blockers(self, *, order_ids: list[int]) -> list[str]:
        return []

    def erase(self, *, order_ids: list[int], scrub) -> tuple[dict[str, int], list[tuple[Any, str]]]:
        # Runs inside the erasure's transaction: if this fails, the whole erasure is rolled back and can be
        # repeated; if the transaction fails after it, the traffic is gone already (repeating is harmless).
        return {"traffic_events": erase(order_numbers(order_ids))}, []


def register() -> None:
    """Called from AnalyticsConfig.ready()."""
    from zaplecze.core import extensions

    extensions.register("service.privacy", "analytics", AnalyticsPrivacy())
