"""Process mining of order handling: what really happens to orders between placed and delivered.

Read from the order event log (orders.OrderEvent) for the orders placed in a period:

- **milestones** of each order: placed (`placed_at`), paid (`paid_at`; cash-on-delivery orders have no
  payment step), packed (the first change to the "packed" status), shipped and delivered (the first entry
  into those stages; `shipped_at`/`delivered_at` when the log has none);
- **lead times** between consecutive milestones an order has (placed → paid → packed → shipped →
  delivered), median and 90th percentile in hours, overall and by channel, warehouse, delivery method,
  carrier of the first parcel, weekday and hour of payment; the **bottleneck** is the step with the longest
  median among the shop's own steps;
- **ship-by compliance**: the share of shipped orders that left by their ship-by time;
- **variants**: the paths orders really took through the stages (consecutive repeats folded), with counts,
  e.g. new → awaiting payment → cancelled, or a cancelled order re-opened;
- the **process map**: stages with how many orders reached them, and transitions with counts and the median
  time between them; a **histogram** of placed → shipped hours.

Each order's log is folded once into an `OrderTrace` row as its events arrive (`reports.traces`); the report
reads those rows for the period with the times as epoch integers, and the arithmetic is NumPy's (equal
paths are grouped, so the transition hours are one array difference per path). `traces_from_log` computes
the same from the raw log: the reference the tests compare with, and the fallback while the traces of an
existing shop are first built.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass

import numpy as np
from django.db.models import QuerySet
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _

from zaplecze.core.businesstime import tz
from zaplecze.orders.models import Order, OrderEvent, Stage

from .sales import Period
from .traces import EVENT_KINDS, Epoch, decode_path, encode_path, fold, traces_current, traces_refresh

# A page view folds at most this many new events itself; beyond that it reads the log (first build).
REFRESH_LIMIT = 50_000
DIMENSIONS = ("channel", "warehouse", "delivery_method", "carrier", "pay_weekday", "pay_hour")
HISTOGRAM_EDGES = [0, 4, 8, 12, 24, 36, 48, 72, 96, 120, 168, 336]  # hours


def milestone_labels() -> dict[str, str]:
    return {
        "placed": _("Placed"),
        "paid": _("Paid"),
        "packed": _("Packed"),
        "shipped": _("Shipped"),
        "delivered": _("Delivered"),
    }


@dataclass
class Trace:
    order_id: int
    number: str
    channel: str
    warehouse: str
    delivery_method: str
    placed: dt.datetime
    paid: dt.datetime | None
    packed: dt.datetime | None
    shipped: dt.datetime | None
    delivered: dt.datetime | None
    ship_by: dt.datetime | None
    stages: list[tuple[str, dt.datetime]]

    def at(self, milestone: str) -> dt.datetime | None:
        return getattr(self, milestone)


def _orders(period: Period, channel: str) -> QuerySet[Order]:
    start, end = period.bounds()
    qs = Order.objects.filter(placed_at__gte=start, placed_at__lt=end)
    if channel:
        qs = qs.filter(channel__code=channel)
    return qs


def _new_trace(row) -> Trace:
    oid, number, ch, wh, dm, placed, paid, shipped, delivered, ship_by = row
    # shipped_at/delivered_at are the fallbacks when the log has no such stage; the log refines them
    return Trace(
        oid, number, ch or "", wh or "", dm or "", placed, paid, None, shipped, delivered, ship_by, []
    )


ORDER_FIELDS = (
    "id", "number", "channel__name", "warehouse__code", "delivery_method", "placed_at", "paid_at", "shipped_at",
    "delivered_at", "ship_by",
)  # fmt: skip


def traces(period: Period, *, channel: str = "") -> list[Trace]:
    """One trace per order placed in the period: its milestones and the stages it went through, read from
    the folded traces (`reports.traces`), refreshed first. While the traces are still being built for the
    first time (a shop that had orders before they existed) the log is read directly instead."""
    traces_refresh(limit_events=REFRESH_LIMIT)
    if not traces_current():
        return traces_from_log(period, channel=channel)
    rows = (
        _orders(period, channel)
        .values_list(
            *ORDER_FIELDS, "trace__packed_at", "trace__shipped_at", "trace__delivered_at", "trace__path"
        )
        .order_by("id")
    )
    out = []
    for row in rows.iterator(chunk_size=5000):
        t = _new_trace(row[:10])
        packed, shipped, delivered, path = row[10:]
        t.packed = packed
        t.shipped = shipped or t.shipped
        t.delivered = delivered or t.delivered
        t.stages = decode_path(path or "")
        out.append(t)
    return out


def traces_from_log(period: Period, *, channel: str = "") -> list[Trace]:
    """The same traces computed from the raw event log of the period (slow on a big shop: the reference the
    tests compare the folded traces with, and the fallback while they are first built)."""
    orders = _orders(period, channel)
    by_id: dict[int, Trace] = {}
    for row in orders.values_list(*ORDER_FIELDS).order_by("id").iterator(chunk_size=5000):
        by_id[row[0]] = _new_trace(row)
    events = (
        OrderEvent.objects.filter(order__in=orders)  # kinds filtered below (see traces._events_by_order)
        .order_by("order_id", "at", "id")
        .values_list("order_id", "at", "kind", "to_stage", "to_status")
    )
    current, bucket = None, []

    def flush():
        t = by_id.get(current)
        if t is None:
            return
        f = fold(t.placed, bucket)
        t.packed, t.stages = f.packed, f.stages
        t.shipped, t.delivered = f.shipped or t.shipped, f.delivered or t.delivered

    for oid, at, kind, to_stage, to_status in events.iterator(chunk_size=20000):
        if kind not in EVENT_KINDS:
            continue
        if oid != current:
            if current is not None:
                flush()
            current, bucket = oid, []
        bucket.append((at, kind, to_stage, to_status))
    if current is not None:
        flush()
    return list(by_id.values())


MILESTONES = ("placed", "paid", "packed", "shipped", "delivered")
GROUPED = ("channel", "warehouse", "delivery_method", "carrier")


@dataclass
class TraceTable:
    """The traces of a period as columns: milestone times as UTC epoch seconds (NaN: not reached), the
    grouping keys, and each order's path ("stage@epoch;…"). What `process_report` computes from."""

    times: dict[str, np.ndarray]  # milestone -> float array
    ship_by: np.ndarray
    keys: dict[str, list[str]]  # channel, warehouse, delivery_method, carrier
    paths: list[str]

    @property
    def size(self) -> int:
        return len(self.paths)


def _carriers(orders: QuerySet[Order]) -> dict[int, str]:
    """The carrier of each order's first shipment."""
    from zaplecze.shipping.models import Shipment

    out: dict[int, str] = {}
    rows = Shipment.objects.filter(order__in=orders).order_by("order_id", "created_at", "id")
    for oid, name in rows.values_list("order_id", "carrier__name").iterator(chunk_size=20000):
        out.setdefault(oid, name or "")
    return out


def _column(values: list) -> np.ndarray:
    return np.array([np.nan if v is None else float(v) for v in values], dtype=float)


def trace_table(period: Period, *, channel: str = "") -> TraceTable:
    """The period's traces from the folded trace rows (refreshed first; the log while they are first built).
    Times come from the database as epoch integers: no datetime objects are made per row."""
    traces_refresh(limit_events=REFRESH_LIMIT)
    if not traces_current():
        return trace_table_from_log(period, channel=channel)
    orders = _orders(period, channel)
    rows = list(
        orders.annotate(
            e_placed=Epoch("placed_at"),
            e_paid=Epoch("paid_at"),
            e_packed=Epoch("trace__packed_at"),
            e_shipped=Coalesce(Epoch("trace__shipped_at"), Epoch("shipped_at")),
            e_delivered=Coalesce(Epoch("trace__delivered_at"), Epoch("delivered_at")),
            e_ship_by=Epoch("ship_by"),
        )
        .order_by("id")
        .values_list(
            "id",
            "e_placed",
            "e_paid",
            "e_packed",
            "e_shipped",
            "e_delivered",
            "e_ship_by",
            "channel__name",
            "warehouse__code",
            "delivery_method",
            "trace__path",
        )  # fmt: skip
    )
    carriers = _carriers(orders)
    cols = list(zip(*rows, strict=True)) if rows else [()] * 11
    return TraceTable(
        times={m: _column(list(cols[1 + i])) for i, m in enumerate(MILESTONES)},
        ship_by=_column(list(cols[6])),
        keys={
            "channel": [v or "" for v in cols[7]],
            "warehouse": [v or "" for v in cols[8]],
            "delivery_method": [v or "" for v in cols[9]],
            "carrier": [carriers.get(oid, "") for oid in cols[0]],
        },
        paths=[v or "" for v in cols[10]],
    )


def trace_table_from_log(period: Period, *, channel: str = "") -> TraceTable:
    """The same table computed from the raw event log (the reference, and the fallback)."""
    ts = traces_from_log(period, channel=channel)
    carriers = _carriers(_orders(period, channel))

    def epoch(values):
        return _column([None if v is None else int(v.timestamp()) for v in values])

    return TraceTable(
        times={m: epoch([t.at(m) for t in ts]) for m in MILESTONES},
        ship_by=epoch([t.ship_by for t in ts]),
        keys={
            "channel": [t.channel for t in ts],
            "warehouse": [t.warehouse for t in ts],
            "delivery_method": [t.delivery_method for t in ts],
            "carrier": [carriers.get(t.order_id, "") for t in ts],
        },
        paths=[encode_path(t.stages) for t in ts],
    )


def _stats_of(arr: np.ndarray) -> dict:
    if arr.size == 0:
        return {"count": 0, "median_h": None, "p90_h": None}
    return {
        "count": int(arr.size),
        "median_h": round(float(np.median(arr)), 1),
        "p90_h": round(float(np.percentile(arr, 90)), 1),
    }


def _step_hours(table: TraceTable) -> dict[tuple[str, str], np.ndarray]:
    """Hours between consecutive milestones an order has (a milestone it skipped joins its neighbours)."""
    t = table.times
    present = {m: ~np.isnan(t[m]) for m in MILESTONES}
    out = {}
    for i, a in enumerate(MILESTONES):
        for j in range(i + 1, len(MILESTONES)):
            b = MILESTONES[j]
            mask = present[a] & present[b]
            for k in MILESTONES[i + 1 : j]:
                mask &= ~present[k]
            hours = (t[b][mask] - t[a][mask]) / 3600
            hours = hours[hours >= 0]
            if hours.size:
                out[(a, b)] = hours
    return out


_LOCAL_CACHE: dict[int, tuple[str, str]] = {}


def _pay_keys(paid: np.ndarray) -> tuple[list[str], list[str]]:
    """Weekday (1 = Monday) and hour of payment in local time, per order ("" when unpaid)."""
    zone = tz()
    days, hours = [], []
    for v in paid:
        if np.isnan(v):
            days.append("")
            hours.append("")
            continue
        bucket = int(v) // 3600  # local weekday and hour only change on the hour
        got = _LOCAL_CACHE.get(bucket)
        if got is None:
            local = dt.datetime.fromtimestamp(bucket * 3600, dt.UTC).astimezone(zone)
            got = _LOCAL_CACHE[bucket] = (str(local.isoweekday()), f"{local.hour:02d}")
        days.append(got[0])
        hours.append(got[1])
    return days, hours


def process_report(period: Period, *, channel: str = "") -> dict:
    table = trace_table(period, channel=channel)
    labels = milestone_labels()
    t = table.times
    steps = _step_hours(table)
    to_ship_all = (t["shipped"] - t["placed"]) / 3600
    shipped_mask = ~np.isnan(to_ship_all) & (to_ship_all >= 0)
    to_ship = to_ship_all[shipped_mask]
    ship_by = table.ship_by[shipped_mask]
    shipped_at = t["shipped"][shipped_mask]
    without = int(np.isnan(ship_by).sum())
    compliance = {
        "shipped": int(shipped_mask.sum()),
        "on_time": int((shipped_at[~np.isnan(ship_by)] <= ship_by[~np.isnan(ship_by)]).sum()),
        "without_ship_by": without,
    }
    idx = np.flatnonzero(shipped_mask)
    pay_day, pay_hour = _pay_keys(t["paid"][idx])
    dims = {d: [table.keys[d][i] for i in idx] for d in GROUPED}
    dims["pay_weekday"], dims["pay_hour"] = pay_day, pay_hour
    by = {}
    for d in DIMENSIONS:
        groups: dict[str, list[int]] = defaultdict(list)
        for pos, key in enumerate(dims[d]):
            if key:
                groups[key].append(pos)
        by[d] = sorted(
            ({"key": k, **_stats_of(to_ship[np.asarray(v)])} for k, v in groups.items()),
            key=lambda r: (-(r["median_h"] or 0), r["key"]),
        )
    step_rows = [
        {"from": a, "to": b, "label": f"{labels[a]} → {labels[b]}", **_stats_of(v)}
        for (a, b), v in sorted(steps.items(), key=lambda kv: _order_of(kv[0]))
    ]
    # The bottleneck is judged among the steps in the shop's hands (to packed, to shipped): paying is the
    # customer's part and delivery the carrier's; both are shown, but a shop cannot fix them on its floor.
    own_steps = [r for r in step_rows if r["to"] in ("packed", "shipped") and r["count"]]
    bottleneck = max(own_steps, key=lambda r: r["median_h"], default=None)
    judged = compliance["shipped"] - compliance["without_ship_by"]
    walked = _walk_paths(table.paths)
    return {
        "from": period.start,
        "to": period.end,
        "channel": channel,
        "orders": table.size,
        "steps": step_rows,
        "placed_to_shipped": _stats_of(to_ship),
        "bottleneck": bottleneck,
        "ship_by": {**compliance, "rate": round(compliance["on_time"] / judged, 4) if judged else None},
        "by": by,
        "variants": variants_of(walked[0]),
        "map": process_map_of(*walked),
        "histogram": histogram(to_ship.tolist()),
    }


def _order_of(step: tuple[str, str]) -> tuple[int, int]:
    return MILESTONES.index(step[0]), MILESTONES.index(step[1])


def _walk_paths(paths: list[str]) -> tuple[Counter, dict[tuple[str, str], list[float]]]:
    """Count the stage sequences, and collect the hours of every transition, grouping equal sequences so
    that the hours are one NumPy difference per sequence."""
    by_seq: dict[tuple[str, ...], list[list[int]]] = defaultdict(list)
    for path in paths:
        if not path:
            continue
        stages, times = [], []
        for part in path.split(";"):
            stage, _sep, ts = part.partition("@")
            stages.append(stage)
            times.append(int(ts))
        by_seq[tuple(stages)].append(times)
    counts: Counter = Counter({seq: len(rows) for seq, rows in by_seq.items()})
    edges: dict[tuple[str, str], list[float]] = defaultdict(list)
    for seq, rows in by_seq.items():
        if len(seq) < 2:
            continue
        diffs = np.diff(np.asarray(rows, dtype=float), axis=1) / 3600
        diffs[diffs < 0] = 0.0
        for k, (a, b) in enumerate(zip(seq, seq[1:], strict=False)):
            edges[(a, b)].extend(diffs[:, k].tolist())
    return counts, edges


def variants_of(counts: Counter, limit: int = 15) -> list[dict]:
    """The paths through the stages, most frequent first, with flags for the ones worth a look."""
    total = sum(counts.values())
    out = []
    for path, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]:
        cancelled_after_payment = Stage.CANCELLED in path and any(
            s in path[: path.index(Stage.CANCELLED)] for s in (Stage.READY, Stage.IN_FULFILMENT)
        )
        reopened = Stage.CANCELLED in path and path[-1] != Stage.CANCELLED
        out.append(
            {
                "path": list(path),
                "orders": n,
                "share": round(n / total, 4) if total else None,
                "cancelled_after_payment": cancelled_after_payment,
                "reopened": reopened,
            }
        )
    return out


def process_map_of(counts: Counter, edges: dict[tuple[str, str], list[float]]) -> dict:
    """Stages (orders that reached each) and transitions (count, median hours between)."""
    reached: Counter[str] = Counter()
    for seq, n in counts.items():
        for stage in set(seq):
            reached[stage] += n
    labels = dict(Stage.choices)
    return {
        "nodes": [
            {"stage": s, "name": str(labels.get(s, s)), "orders": reached[s]}
            for s in Stage.values
            if reached[s]
        ],
        "edges": sorted(
            (
                {"from": a, "to": b, "orders": len(v), "median_h": round(float(np.median(v)), 1)}
                for (a, b), v in edges.items()
            ),
            key=lambda e: (-e["orders"], e["from"], e["to"]),
        ),
    }


def histogram(hours: list[float]) -> list[dict]:
    if not hours:
        return []
    edges = HISTOGRAM_EDGES + [max(HISTOGRAM_EDGES[-1] + 1, float(np.max(hours)) + 1)]
    counts, _bins = np.histogram(np.asarray(hours), bins=edges)
    return [
        {"from_h": edges[i], "to_h": edges[i + 1] if i + 1 < len(HISTOGRAM_EDGES) else None, "orders": int(c)}
        for i, c in enumerate(counts)
    ]


# Where each stage sits on the drawn map: the usual path left to right, the exits below.
MAP_COLUMNS = {
    Stage.NEW: (0, 0),
    Stage.AWAITING_PAYMENT: (1, 0),
    Stage.READY: (2, 0),
    Stage.IN_FULFILMENT: (3, 0),
    Stage.SHIPPED: (4, 0),
    Stage.DELIVERED: (5, 0),
    Stage.COMPLETED: (6, 0),
    Stage.CANCELLED: (2, 1),
    Stage.RETURNED: (5, 1),
}


def map_drawing(pmap: dict, *, width: int = 1000) -> dict:
    """Coordinates for drawing the process map as SVG: boxes for stages, arrows for transitions (width by
    the number of orders), each labelled with its count and median hours."""
    col_w, row_h, box_w, box_h, top = width / 7, 170, 118, 46, 110
    pos = {}
    for node in pmap["nodes"]:
        col, row = MAP_COLUMNS.get(node["stage"], (6, 1))
        pos[node["stage"]] = (col * col_w + (col_w - box_w) / 2, top + row * row_h)
    nodes = [
        {
            **n,
            "x": round(pos[n["stage"]][0]),
            "y": pos[n["stage"]][1],
            "w": box_w,
            "h": box_h,
            "cx": round(pos[n["stage"]][0] + box_w / 2),
            "ty1": pos[n["stage"]][1] + 19,
            "ty2": pos[n["stage"]][1] + 36,
        }
        for n in pmap["nodes"]
    ]
    most = max((e["orders"] for e in pmap["edges"]), default=1)
    edges = []
    for e in pmap["edges"]:
        if e["from"] not in pos or e["to"] not in pos:
            continue
        (x1, y1), (x2, y2) = pos[e["from"]], pos[e["to"]]
        ax, ay = x1 + box_w / 2, y1 + box_h / 2
        bx, by = x2 + box_w / 2, y2 + box_h / 2
        # start and end on the boxes' edges; arrows that skip a column arc above the row, arrows going back
        # arc below it; labels sit above (or below) the row, never on a box
        if ay == by:
            forward = bx > ax
            ax, bx = (x1 + box_w, x2) if forward else (x1, x2 + box_w)
            span = abs(bx - ax) / col_w
            if forward and span <= 1:
                bend, label_y = 0.0, y1 - 8
            elif forward:
                bend = -30 - 12 * span
                label_y = ay + bend - 4
            else:
                bend = 30 + 12 * span
                label_y = ay + bend + 14
        else:
            ay, by = (y1 + box_h, y2) if by > ay else (y1, y2 + box_h)
            bend, label_y = 0.0, (ay + by) / 2 - 4
        mx, my = (ax + bx) / 2, (ay + by) / 2
        edges.append(
            {
                **e,
                "path": f"M{ax:.0f},{ay:.0f} Q{mx:.0f},{my + 2 * bend:.0f} {bx:.0f},{by:.0f}",
                "lx": round(mx),
                "ly": round(label_y),
                "stroke": round(1 + 7 * e["orders"] / most, 1),
            }
        )
    return {"width": width, "height": top + row_h + box_h + 80, "nodes": nodes, "edges": edges}
