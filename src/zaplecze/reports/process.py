"""Process mining of order handling: what really happens to orders between placed and delivered.

Read from the order event log (orders.OrderEvent) for the orders placed in a period:

- **milestones** of each order: placed (`placed_at`), paid (`paid_at`; cash-on-delivery orders have no
  payment step), packed (the first change to the "packed" status), shipped and delivered (the first entry
  into those stages; `shipped_at`/`delivered_at` when the log has none);
- **lead times** between consecutive milestones an order has (placed → paid → packed → shipped →
  delivered), median and 90th percentile in hours, overall and by channel, warehouse, delivery method,
  weekday and hour of payment; the **bottleneck** is the step with the longest median;
- **ship-by compliance**: the share of shipped orders that left by their ship-by time;
- **variants**: the paths orders really took through the stages (consecutive repeats folded), with counts,
  e.g. new → awaiting payment → cancelled, or a cancelled order re-opened;
- the **process map**: stages with how many orders reached them, and transitions with counts and the median
  time between them; a **histogram** of placed → shipped hours.

The log is read in one ordered query; the arithmetic is NumPy's.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass

import numpy as np
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from zaplecze.core.businesstime import tz
from zaplecze.orders.models import Order, OrderEvent, Stage

from .sales import Period

PACKED_STATUS = "packed"
DIMENSIONS = ("channel", "warehouse", "delivery_method", "pay_weekday", "pay_hour")
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


def traces(period: Period, *, channel: str = "") -> list[Trace]:
    """One trace per order placed in the period, its milestones and the stages it went through."""
    orders = _orders(period, channel)
    rows = orders.values_list(
        "id", "number", "channel__name", "warehouse__code", "delivery_method", "placed_at", "paid_at",
        "shipped_at", "delivered_at", "ship_by",
    ).order_by("id")  # fmt: skip
    by_id: dict[int, Trace] = {}
    for oid, number, ch, wh, dm, placed, paid, shipped, delivered, ship_by in rows.iterator(chunk_size=5000):
        by_id[oid] = Trace(
            oid, number, ch or "", wh or "", dm or "", placed, paid, None, None, None, ship_by, []
        )
        by_id[oid].shipped, by_id[oid].delivered = shipped, delivered  # fallbacks; the log refines them
    first_shipped: dict[int, dt.datetime] = {}
    first_delivered: dict[int, dt.datetime] = {}
    created: dict[int, str] = {}
    events = (
        OrderEvent.objects.filter(
            order__in=orders, kind__in=[OrderEvent.Kind.CREATED, OrderEvent.Kind.STATUS]
        )
        .order_by("order_id", "at", "id")
        .values_list("order_id", "at", "kind", "to_stage", "to_status")
    )
    for oid, at, kind, to_stage, to_status in events.iterator(chunk_size=20000):
        t = by_id.get(oid)
        if t is None:
            continue
        if kind == OrderEvent.Kind.CREATED:  # the stage it came in with, at placing (imports log it later)
            if to_stage:
                created[oid] = to_stage
            continue
        when = at
        if to_stage and (not t.stages or t.stages[-1][0] != to_stage):
            t.stages.append((to_stage, when))
        if to_status == PACKED_STATUS and t.packed is None:
            t.packed = when
        if to_stage == Stage.SHIPPED and oid not in first_shipped:
            first_shipped[oid] = when
        if to_stage == Stage.DELIVERED and oid not in first_delivered:
            first_delivered[oid] = when
    for oid, stage in created.items():
        t = by_id[oid]
        if not t.stages or t.stages[0][0] != stage:
            t.stages.insert(0, (stage, t.placed))
    for oid, when in first_shipped.items():
        by_id[oid].shipped = when
    for oid, when in first_delivered.items():
        by_id[oid].delivered = when
    return list(by_id.values())


def _hours(a: dt.datetime | None, b: dt.datetime | None) -> float | None:
    if a is None or b is None or b < a:
        return None
    return (b - a).total_seconds() / 3600


def _stats(values: list[float]) -> dict:
    if not values:
        return {"count": 0, "median_h": None, "p90_h": None}
    arr = np.asarray(values, dtype=float)
    return {
        "count": int(arr.size),
        "median_h": round(float(np.median(arr)), 1),
        "p90_h": round(float(np.percentile(arr, 90)), 1),
    }


def _step_pairs(t: Trace) -> list[tuple[str, str, float]]:
    """Consecutive milestones the order has, with the hours between them."""
    present = [(m, t.at(m)) for m in ("placed", "paid", "packed", "shipped", "delivered") if t.at(m)]
    out = []
    for (a, ta), (b, tb) in zip(present, present[1:], strict=False):
        h = _hours(ta, tb)
        if h is not None:
            out.append((a, b, h))
    return out


def _dimension(t: Trace, dim: str) -> str:
    if dim in ("pay_weekday", "pay_hour"):
        if t.paid is None:
            return ""
        local = t.paid.astimezone(tz())
        return str(local.isoweekday()) if dim == "pay_weekday" else f"{local.hour:02d}"
    return getattr(t, dim)


def process_report(period: Period, *, channel: str = "") -> dict:
    ts = traces(period, channel=channel)
    labels = milestone_labels()
    steps: dict[tuple[str, str], list[float]] = defaultdict(list)
    to_ship: list[float] = []
    by_dim: dict[str, dict[str, list[float]]] = {d: defaultdict(list) for d in DIMENSIONS}
    compliance = {"shipped": 0, "on_time": 0, "without_ship_by": 0}
    for t in ts:
        for a, b, h in _step_pairs(t):
            steps[(a, b)].append(h)
        h = _hours(t.placed, t.shipped)
        if h is not None:
            to_ship.append(h)
            for d in DIMENSIONS:
                key = _dimension(t, d)
                if key:
                    by_dim[d][key].append(h)
            compliance["shipped"] += 1
            if t.ship_by is None:
                compliance["without_ship_by"] += 1
            elif t.shipped <= t.ship_by:
                compliance["on_time"] += 1
    step_rows = [
        {"from": a, "to": b, "label": f"{labels[a]} → {labels[b]}", **_stats(v)}
        for (a, b), v in sorted(steps.items(), key=lambda kv: _order_of(kv[0]))
    ]
    # The bottleneck is judged among the steps in the shop's hands (to packed, to shipped): paying is the
    # customer's part and delivery the carrier's; both are shown, but a shop cannot fix them on its floor.
    own_steps = [r for r in step_rows if r["to"] in ("packed", "shipped") and r["count"]]
    bottleneck = max(own_steps, key=lambda r: r["median_h"], default=None)
    judged = compliance["shipped"] - compliance["without_ship_by"]
    return {
        "from": period.start,
        "to": period.end,
        "channel": channel,
        "orders": len(ts),
        "steps": step_rows,
        "placed_to_shipped": _stats(to_ship),
        "bottleneck": bottleneck,
        "ship_by": {**compliance, "rate": round(compliance["on_time"] / judged, 4) if judged else None},
        "by": {
            d: sorted(
                ({"key": k, **_stats(v)} for k, v in rows.items()),
                key=lambda r: (-(r["median_h"] or 0), r["key"]),
            )
            for d, rows in by_dim.items()
        },
        "variants": variants(ts),
        "map": process_map(ts),
        "histogram": histogram(to_ship),
    }


def _order_of(step: tuple[str, str]) -> tuple[int, int]:
    names = ["placed", "paid", "packed", "shipped", "delivered"]
    return names.index(step[0]), names.index(step[1])


def variants(ts: list[Trace], limit: int = 15) -> list[dict]:
    """The paths through the stages, most frequent first, with flags for the ones worth a look."""
    counts = Counter(tuple(s for s, _at in t.stages) for t in ts if t.stages)
    total = sum(counts.values())
    out = []
    for path, n in counts.most_common(limit):
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


def process_map(ts: list[Trace]) -> dict:
    """Stages (orders that reached each) and transitions (count, median hours between)."""
    reached: Counter[str] = Counter()
    edges: dict[tuple[str, str], list[float]] = defaultdict(list)
    for t in ts:
        for s in {s for s, _at in t.stages}:
            reached[s] += 1
        for (a, ta), (b, tb) in zip(t.stages, t.stages[1:], strict=False):
            h = _hours(ta, tb)
            edges[(a, b)].append(h if h is not None else 0.0)
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
            key=lambda e: -e["orders"],
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
