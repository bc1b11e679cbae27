"""Pre-built visits (visits.py): the dashboard's metrics read visits built once per day, and give what the
definitions give when computed straight from the events.

The oracle below is a plain-Python reading of the definitions in docs/analytics.md (a visit ends after 30
minutes without an event and belongs to the period it starts in; bounce = at most one pageview and no
other event; orders = distinct order numbers of purchases that match an order not cancelled, returned or
refunded; ...). Random traffic crosses midnight, repeats event ids and arrives late."""

from __future__ import annotations

import datetime as dt
import random
import zoneinfo
from collections import defaultdict
from decimal import Decimal

import pyarrow as pa
import pytest

from zaplecze.analytics import metrics, visits, warehouse

SITE = "shop.example"
WARSAW = zoneinfo.ZoneInfo("Europe/Warsaw")
START = dt.datetime(2026, 10, 30, 20, 0, tzinfo=dt.UTC)  # October is settled: read from a month file
GAP = dt.timedelta(minutes=30)
KINDS = ["pageview"] * 6 + ["product_view", "add_to_cart", "begin_checkout", "purchase", "custom", "request"]
SOURCES = [("search", "Google"), ("direct", "Direct"), ("social", "Facebook"), ("email", "newsletter")]
DEVICES = ["desktop", "mobile", "tablet"]
PAGES = ["/", "/kubki", "/p/kubek", "/p/talerz", "/koszyk", "/dziekujemy"]
STAGES = {"delivered": 6, "cancelled": 2, "returned": 1, "completed": 2}


def random_traffic(seed: int, *, visitors: int = 120, hours: int = 96) -> list[dict]:
    """Visitors with a few bursts of events each; gaps of up to 40 minutes (so bursts split and join),
    bursts around midnight, bots, server-log requests, a second site, repeated event ids."""
    rng = random.Random(seed)
    out: list[dict] = []
    n = 0
    for v in range(visitors):
        visitor = rng.randrange(1, 60)  # ids repeat across sites and over days, as hashes may
        site = SITE if v % 7 else "other.example"
        for _burst in range(rng.randint(1, 3)):
            t = START + dt.timedelta(seconds=rng.randrange(hours * 3600))
            if rng.random() < 0.2:  # near midnight UTC or Warsaw
                day = START.date() + dt.timedelta(days=rng.randrange(4))
                midnight = dt.datetime.combine(day, dt.time(23, 40), tzinfo=dt.UTC)
                t = midnight - dt.timedelta(hours=rng.choice([0, 1]), seconds=rng.randrange(900))
            source, name = rng.choice(SOURCES)
            for _k in range(rng.randint(1, 7)):
                n += 1
                kind = rng.choice(KINDS)
                out.append(
                    {
                        "event_id": f"r{seed}-{n}",
                        "ts": t,
                        "site": site,
                        "event": kind,
                        "visitor": visitor,
                        "path": rng.choice(PAGES),
                        "source": source if rng.random() < 0.8 else "direct",
                        "source_name": name,
                        "utm_campaign": rng.choice(["", "", "jesien"]),
                        "device": rng.choice(DEVICES),
                        "browser": "Chrome",
                        "os": "Windows",
                        "order_number": str(rng.randrange(1, 40)) if kind == "purchase" else "",
                        "origin": "collector",
                        "is_bot": rng.random() < 0.05,
                        "is_static": False,
                    }
                )
                t += dt.timedelta(seconds=rng.choice([rng.randrange(1, 600), rng.randrange(1500, 2400)]))
    return out


def write_orders(seed: int) -> dict[str, tuple[str, str, Decimal]]:
    rng = random.Random(seed)
    orders = {}
    for i in range(1, 31):  # 31..39 are purchases the shop does not know
        stage = rng.choices(list(STAGES), weights=list(STAGES.values()))[0]
        pay = "refunded" if rng.random() < 0.1 else "paid"
        orders[str(i)] = (stage, pay, Decimal(rng.randrange(1000, 50000)) / 100)
    ts = dt.datetime(2026, 10, 30, tzinfo=dt.UTC)
    table = pa.table(
        {
            "id": list(range(1, 31)),
            "number": list(orders),
            "channel": ["shop"] * 30,
            "stage": [o[0] for o in orders.values()],
            "payment_status": [o[1] for o in orders.values()],
            "total_gross": [o[2] for o in orders.values()],
            "currency": ["PLN"] * 30,
            "placed_at": [ts] * 30,
            "updated_at": [ts] * 30,
        }
    ).cast(warehouse.ORDER_SCHEMA)
    warehouse.write_parquet_atomic(table, warehouse.orders_dir() / "o-00000001.parquet")
    return orders


def store(events: list[dict], *, files: int = 3, seed: int = 0) -> None:
    """In several files, as several flushes write them; a tenth of the events twice (client retries that
    reached two different flushes)."""
    rng = random.Random(seed)
    chunks = [[] for _ in range(files)]
    for e in events:
        chunks[rng.randrange(files)].append(e)
    for k, chunk in enumerate(chunks):
        warehouse.write_events(chunk, name=f"f{k}")
    twice = [e for e in events if rng.random() < 0.1]
    by_day = defaultdict(list)
    for e in twice:
        by_day[e["ts"].date()].append(e)
    for day, rows in by_day.items():  # bypasses write_events' dedupe on purpose
        warehouse.write_parquet_atomic(warehouse.to_table(rows), warehouse.partition(day) / "again.parquet")


# --- the oracle ------------------------------------------------------------------------------------------


def oracle_visits(events: list[dict], q: metrics.Query) -> list[list[dict]]:
    seen, traffic = set(), defaultdict(list)
    for e in sorted(events, key=lambda e: (e["ts"], e["event_id"])):
        if e["event_id"] in seen:
            continue
        seen.add(e["event_id"])
        if e["site"] != q.site or e["is_bot"] or e["event"] == "request":
            continue
        traffic[e["visitor"]].append(e)
    t0, t1 = q.bounds()
    out = []
    for evs in traffic.values():
        cur: list[dict] = []
        for e in evs:
            if cur and e["ts"] - cur[-1]["ts"] > GAP:
                out.append(cur)
                cur = []
            cur.append(e)
        out.append(cur)
    out = [v for v in out if t0 <= v[0]["ts"] < t1]
    for key, value in q.filters.items():
        if key == "page":
            out = [v for v in out if any(e["path"] == value for e in v)]
        elif key == "entry_page":
            out = [v for v in out if v[0]["path"] == value]
        else:
            col = metrics.VISIT_DIMENSIONS[key]
            out = [v for v in out if v[0].get(col, "") == value]
    return out


def _pageviews(v):
    return [e for e in v if e["event"] == "pageview"]


def _exit(v):
    pv = _pageviews(v)
    return (pv or v)[-1]["path"]


def _first_purchases(vs):
    first: dict[str, tuple] = {}
    for v in vs:
        for e in v:
            if e["event"] == "purchase" and e["order_number"]:
                if e["order_number"] not in first or e["ts"] < first[e["order_number"]][0]:
                    first[e["order_number"]] = (e["ts"], v[0]["source"])
    return first


def oracle_summary(vs, orders) -> dict:
    n = len(vs)
    pageviews = sum(len(_pageviews(v)) for v in vs)
    first = _first_purchases(vs)
    counted = [
        o
        for o in first
        if o in orders and orders[o][0] not in ("cancelled", "returned") and orders[o][1] != "refunded"
    ]
    return {
        "visitors": len({v[0]["visitor"] for v in vs}),
        "visits": n,
        "pageviews": pageviews,
        "views_per_visit": round(pageviews / n, 2) if n else None,
        "bounce_rate": round(sum(len(_pageviews(v)) <= 1 and len(v) <= 1 for v in vs) / n, 4) if n else None,
        "visit_duration": round(sum((v[-1]["ts"] - v[0]["ts"]).total_seconds() for v in vs) / n, 1)
        if n
        else None,
        "orders": len(counted),
        "conversion_rate": round(len(counted) / n, 4) if n else None,
        "revenue": sum((orders[o][2] for o in counted), Decimal("0.00")),
        "unmatched_purchases": sum(o not in orders for o in first),
    }


def oracle_breakdown(vs, dimension: str) -> list[tuple]:
    rows: dict = defaultdict(lambda: [set(), set(), 0])
    for v in vs:
        vid = (v[0]["visitor"], v[0]["ts"])
        if dimension == "page":
            for e in _pageviews(v):
                r = rows[e["path"]]
                r[0].add(vid[0]), r[1].add(vid), r.__setitem__(2, r[2] + 1)
            continue
        value = {"entry_page": v[0]["path"], "exit_page": _exit(v)}.get(dimension)
        if value is None:
            value = v[0].get(metrics.VISIT_DIMENSIONS[dimension], "")
        if not value:
            continue
        r = rows[value]
        r[0].add(vid[0]), r[1].add(vid), r.__setitem__(2, r[2] + len(_pageviews(v)))
    out = [(k, len(r[0]), len(r[1]), r[2]) for k, r in rows.items()]
    if dimension == "page":
        return sorted(out, key=lambda r: (-r[1], -r[3], r[0]))
    return sorted(out, key=lambda r: (-r[1], -r[2], r[0]))


def oracle_funnel(vs) -> list[int]:
    counts = [0, 0, 0, 0]
    for v in vs:
        at = [min((e["ts"] for e in v if e["event"] == k), default=None) for k in metrics.FUNNEL]
        ok = at[0] is not None
        counts[0] += ok
        for i in range(1, 4):
            ok = ok and at[i] is not None and at[i] >= at[i - 1]
            counts[i] += ok
    return counts


def oracle_revenue_by_source(vs, orders) -> dict:
    first = _first_purchases(vs)
    out = defaultdict(lambda: [0, 0, Decimal("0.00"), 0])
    for v in vs:
        out[v[0]["source"]][0] += 1
    for o, (_ts, source) in first.items():
        if o not in orders:
            continue
        if orders[o][0] in ("cancelled", "returned") or orders[o][1] == "refunded":
            out[source][3] += 1
        else:
            out[source][1] += 1
            out[source][2] += orders[o][2]
    return {k: tuple(v) for k, v in out.items()}


def oracle_timeseries(vs, q) -> list[tuple]:
    per = defaultdict(lambda: [set(), 0, 0])
    for v in vs:
        day = v[0]["ts"].astimezone(WARSAW).date()
        per[day][0].add(v[0]["visitor"])
        per[day][1] += 1
        per[day][2] += len(_pageviews(v))
    out, day = [], q.date_from
    while day <= q.date_to:
        r = per.get(day, [set(), 0, 0])
        out.append((day, len(r[0]), r[1], r[2]))
        day += dt.timedelta(days=1)
    return out


def panels(ws) -> dict:
    got = {
        "summary": {c.key: c.value for c in metrics.summary(ws)},
        "funnel": [s["visits"] for s in metrics.funnel(ws)],
        "revenue": {
            r["value"]: (r["visits"], r["orders"], r["revenue"], r["cancelled_or_refunded"])
            for r in metrics.revenue_by_source(ws)
        },
        "timeseries": [
            (r["day"], r["visitors"], r["visits"], r["pageviews"]) for r in metrics.timeseries(ws)
        ],
    }
    for dim in ("source", "referrer", "utm_campaign", "page", "entry_page", "exit_page", "device"):
        got[dim] = [
            (r["value"], r["visitors"], r["visits"], r["pageviews"])
            for r in metrics.breakdown(ws, dim, limit=500)
        ]
    return got


def oracle_panels(events, q, orders) -> dict:
    vs = oracle_visits(events, q)
    got = {
        "summary": oracle_summary(vs, orders),
        "funnel": oracle_funnel(vs),
        "revenue": oracle_revenue_by_source(vs, orders),
        "timeseries": oracle_timeseries(vs, q),
    }
    for dim in ("source", "referrer", "utm_campaign", "page", "entry_page", "exit_page", "device"):
        got[dim] = oracle_breakdown(vs, dim)
    return got


QUERIES = [
    (dt.date(2026, 10, 31), dt.date(2026, 11, 2), {}),
    (dt.date(2026, 11, 1), dt.date(2026, 11, 1), {}),
    (dt.date(2026, 10, 31), dt.date(2026, 11, 3), {"page": "/kubki", "device": "mobile"}),
    (dt.date(2026, 10, 31), dt.date(2026, 11, 3), {"entry_page": "/", "utm_campaign": "jesien"}),
]


@pytest.mark.parametrize("seed", [1, 2])
def test_prebuilt_visits_give_the_definitions_on_random_traffic(analytics_root, seed):
    events = random_traffic(seed)
    store(events, seed=seed)
    orders = write_orders(seed)
    assert sum(o[0] in ("cancelled", "returned") or o[1] == "refunded" for o in orders.values()) > 0
    for d0, d1, filters in QUERIES:
        q = metrics.Query(SITE, d0, d1, filters)
        expected = oracle_panels(events, q, orders)
        with metrics.Workspace(q, previous=False) as ws:
            prebuilt = panels(ws)
        with metrics.Workspace(q, previous=False, prebuilt=False) as ws:
            from_events = panels(ws)
        assert prebuilt == expected, (q, seed)
        assert from_events == expected, (q, seed)
    # the data did exercise what matters
    everything = metrics.Query(SITE, dt.date(2026, 10, 29), dt.date(2026, 11, 5))
    vs = oracle_visits(events, everything)
    assert any(v[0]["ts"].date() != v[-1]["ts"].date() for v in vs), "a visit crosses midnight UTC"
    totals = oracle_summary(vs, orders)
    assert totals["orders"] and totals["unmatched_purchases"] and oracle_revenue_by_source(vs, orders)


def test_a_visit_over_midnight_is_counted_once_on_the_day_it_starts(analytics_root):
    def pv(n, ts, path):
        return {
            "event_id": f"m{n}",
            "ts": ts,
            "site": SITE,
            "event": "pageview",
            "visitor": 9,
            "path": path,
            "source": "search",
            "source_name": "Google",
            "device": "mobile",
            "browser": "Chrome",
            "os": "Android",
            "order_number": "",
            "origin": "collector",
            "is_bot": False,
            "is_static": False,
        }

    midnight = dt.datetime(2026, 11, 21, tzinfo=dt.UTC)
    warehouse.write_events(
        [pv(1, midnight - dt.timedelta(minutes=10), "/a"), pv(2, midnight + dt.timedelta(minutes=5), "/b")],
        name="x",
    )
    day1, day2 = visits.ensure(midnight.date() - dt.timedelta(days=1), midnight.date())
    import pyarrow.parquet as pq

    first = pq.read_table(day1).to_pylist()
    assert [(v["entry_page"], v["exit_page"], v["pageviews"]) for v in first] == [("/a", "/b", 2)]
    assert pq.read_table(day2).num_rows == 0  # its second half is not a visit of its own


def test_late_events_rebuild_the_affected_days(analytics_root):
    """An event arriving days late joins yesterday's visit: the visit moves to the day it now starts on,
    the old visits files are replaced (not added to), and the dashboard counts it once."""

    def pv(n, ts):
        return {
            "event_id": f"l{n}",
            "ts": ts,
            "site": SITE,
            "event": "pageview",
            "visitor": 5,
            "path": f"/{n}",
            "source": "direct",
            "source_name": "Direct",
            "device": "desktop",
            "browser": "Chrome",
            "os": "Windows",
            "order_number": "",
            "origin": "collector",
            "is_bot": False,
            "is_static": False,
        }

    midnight = dt.datetime(2026, 11, 21, tzinfo=dt.UTC)
    warehouse.write_events([pv(1, midnight + dt.timedelta(minutes=10))], name="a")
    q = metrics.Query(SITE, dt.date(2026, 11, 20), dt.date(2026, 11, 21))
    with metrics.Workspace(q, previous=False) as ws:
        assert metrics.breakdown(ws, "entry_page") == [
            {"value": "/1", "visitors": 1, "visits": 1, "pageviews": 1}
        ]
    warehouse.write_events([pv(0, midnight - dt.timedelta(minutes=15))], name="late")  # the late one
    with metrics.Workspace(q, previous=False) as ws:
        rows = metrics.breakdown(ws, "entry_page")
        assert rows == [{"value": "/0", "visitors": 1, "visits": 1, "pageviews": 2}]
        assert [r["visits"] for r in metrics.timeseries(ws)] == [0, 1]  # 23:45 UTC is 00:45 in Warsaw
    for day in ("2026-11-20", "2026-11-21", "2026-11-22"):
        assert len(current(visits.visits_dir() / f"date={day}")) <= 1


def test_flush_builds_the_visits_and_a_flush_dying_before_that_is_harmless(analytics_root):
    from zaplecze.analytics import spool

    from .test_warehouse import T0, fill_spool, record

    fill_spool(400)  # 23:50..00:10 UTC: two days
    warehouse.flush()
    built = {p.parent.name for p in visits.visits_dir().glob("*/v-*.parquet")}
    assert built == {"date=2026-11-20", "date=2026-11-21"}  # built by the flush, no query needed
    q = metrics.Query(SITE, dt.date(2026, 11, 20), dt.date(2026, 11, 22))
    with metrics.Workspace(q, previous=False) as ws:
        assert panels(ws)["summary"]["pageviews"] == 400

    spool.append([record(i, event_id=f"more{i}") for i in range(100)], now=T0 + dt.timedelta(minutes=5))
    spool.close()

    def crash(label):
        if label == "before_visits":
            raise RuntimeError("killed")

    warehouse.crash_point = crash
    with pytest.raises(RuntimeError):
        warehouse.flush()  # events committed, visits not rebuilt
    warehouse.crash_point = None
    with metrics.Workspace(q, previous=False) as ws:
        got = panels(ws)
    assert got["summary"]["pageviews"] == 500
    with metrics.Workspace(q, previous=False, prebuilt=False) as ws:
        assert panels(ws) == got


def test_compaction_keeps_the_visits(analytics_root):
    events = random_traffic(4, visitors=30)
    store(events, files=2, seed=4)
    q = metrics.Query(SITE, dt.date(2026, 10, 31), dt.date(2026, 11, 3))
    with metrics.Workspace(q, previous=False) as ws:
        before = panels(ws)
    assert list(visits.visits_dir().glob("month=2026-10/m-*.parquet"))
    assert warehouse.compact(min_files=2)["partitions"] >= 3
    for part in visits.visits_dir().iterdir():
        assert len(current(part)) <= 1
    with metrics.Workspace(q, previous=False) as ws:
        assert panels(ws) == before


def current(part) -> list:
    """Visits files of a partition that are not superseded (those stay readable for a grace time)."""
    return [f for f in part.glob("[vm]-*.parquet") if not f.with_name(f".{f.name}.superseded").exists()]


def test_superseded_visits_files_stay_readable_for_a_while(analytics_root, monkeypatch):
    """A page being computed may still read the file a rebuild just replaced; it goes after GRACE_SECONDS."""
    import os
    import time

    events = random_traffic(6, visitors=10)
    store(events, files=1)
    [old] = visits.ensure(dt.date(2026, 11, 2), dt.date(2026, 11, 2))
    warehouse.write_events(
        [{**events[0], "event_id": "late", "ts": dt.datetime(2026, 11, 2, 5, tzinfo=dt.UTC)}], name="late"
    )
    [new] = visits.ensure(dt.date(2026, 11, 2), dt.date(2026, 11, 2))
    assert new != old and old.exists() and current(old.parent) == [new]
    visits.sweep()
    assert old.exists()  # still within the grace time
    marker = old.with_name(f".{old.name}.superseded")
    then = time.time() - visits.GRACE_SECONDS - 1
    os.utime(marker, (then, then))
    visits.sweep()
    assert not old.exists() and not marker.exists() and new.exists()


def test_retention_deletes_old_visits(analytics_root):
    store(random_traffic(5, visitors=20), files=1)
    visits.ensure(dt.date(2026, 10, 29), dt.date(2026, 11, 5))
    assert (visits.visits_dir() / "month=2026-10").is_dir()
    warehouse.retention_apply(keep_days=1, today=dt.date(2026, 11, 3))
    left = sorted(p.name for p in visits.visits_dir().iterdir())
    assert left and all(name >= "date=2026-11-02" for name in left)
