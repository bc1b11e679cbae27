"""Traffic metrics: named query functions over DuckDB (parse -> SQL -> typed result), used by the dashboard,
the API, the CLI and reports alike.

    q = Query(site="shop.example", date_from=..., date_to=..., filters={"source": "search"})
    with Workspace(q) as ws:
        cards = summary(ws)            # with the previous period alongside
        rows = breakdown(ws, "source")

Definitions (docs/analytics.md): a visit ends after 30 minutes of inactivity and belongs to the period
in which it starts (visits.py builds them once per day); a visit's source, referrer, UTM, device, browser, OS and entry page
are those of its first event; bounce = a visit with at most one pageview and no other event; conversion
rate = real orders / visits; revenue = gross total of real orders joined by order number, net of
cancelled, returned and refunded orders. Crawlers and static files (server logs) are never traffic.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings

from . import visits, warehouse

VISIT_GAP = visits.VISIT_GAP
# Visit-level dimensions a filter or a breakdown may use, with their column in the `visits` table.
VISIT_DIMENSIONS = {
    "source": "source",
    "referrer": "source_name",
    "utm_source": "utm_source",
    "utm_medium": "utm_medium",
    "utm_campaign": "utm_campaign",
    "device": "device",
    "browser": "browser",
    "os": "os",
    "entry_page": "entry_page",
    "exit_page": "exit_page",
}
EVENT_DIMENSIONS = {"page": "path"}
DIMENSIONS = {**VISIT_DIMENSIONS, **EVENT_DIMENSIONS}
FUNNEL = ("product_view", "add_to_cart", "begin_checkout", "purchase")
NET_EXCLUDED_STAGES = ("cancelled", "returned")
NET_EXCLUDED_PAYMENT = ("refunded",)


class QueryError(ValueError):
    pass


@dataclass(frozen=True)
class Query:
    site: str
    date_from: dt.date
    date_to: dt.date
    filters: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.date_to < self.date_from:
            raise QueryError("date_to: must not be before date_from")
        if (self.date_to - self.date_from).days > 3660:
            raise QueryError("date range: at most ten years")
        for key in self.filters:
            if key not in DIMENSIONS:
                raise QueryError(f"filter {key!r}: one of {', '.join(DIMENSIONS)}")

    @property
    def days(self) -> int:
        return (self.date_to - self.date_from).days + 1

    def previous(self) -> Query:
        end = self.date_from - dt.timedelta(days=1)
        return Query(self.site, end - dt.timedelta(days=self.days - 1), end, dict(self.filters))

    def bounds(self) -> tuple[dt.datetime, dt.datetime]:
        tz = zoneinfo.ZoneInfo(settings.TIME_ZONE)
        start = dt.datetime.combine(self.date_from, dt.time.min, tzinfo=tz).astimezone(dt.UTC)
        end = dt.datetime.combine(self.date_to + dt.timedelta(days=1), dt.time.min, tzinfo=tz).astimezone(
            dt.UTC
        )
        return start, end


def _str(value) -> str:
    """A SQL string literal (filters are compared as text)."""
    return "'" + str(value).replace("'", "''") + "'"


def _ts(value: dt.datetime) -> str:
    return f"TIMESTAMPTZ '{value.astimezone(dt.UTC).isoformat()}'"


class Workspace:
    """One DuckDB connection with the visits of a query (and of the previous period) as views `cur_v` /
    `prev_v`, filtered, and the orders their purchases name as a temp table, for every panel of a page.

    The visits come pre-built from the visits table (visits.py: built at flush time per day, rebuilt when
    a day's events change). `prebuilt=False` groups the events into visits here instead, with the same
    SQL (tests and the benchmark compare the two)."""

    def __init__(self, q: Query, *, previous: bool = True, prebuilt: bool = True):
        self.q = q
        self.prebuilt = prebuilt
        self.con = warehouse.connect()
        self._build("cur", q)
        self.has_previous = previous
        if previous:
            self._build("prev", q.previous())
        # The orders the purchases of these visits name, once for every panel.
        named = "SELECT (unnest(orders)).number FROM cur_v"
        if previous:
            named += " UNION ALL SELECT (unnest(orders)).number FROM prev_v"
        self.con.execute(f"CREATE TEMP TABLE ws_orders AS {warehouse.orders_sql(named)}")

    def _build(self, prefix: str, q: Query) -> None:
        t0, t1 = q.bounds()
        where = [f"site = {_str(q.site)}", "started >= $s0", "started < $s1"]
        for key, value in q.filters.items():
            if key in VISIT_DIMENSIONS:
                where.append(f"{VISIT_DIMENSIONS[key]} = {_str(value)}")
            else:  # page: the visit saw it (any event on that path)
                where.append(f"list_contains(paths, {_str(value)})")
        if self.prebuilt:
            # A view: each panel reads only its columns. Superseded visits files stay readable for
            # visits.GRACE_SECONDS, so a rebuild while a page is computed does not pull them away.
            files = visits.ensure(t0.date(), (t1 - dt.timedelta(microseconds=1)).date())
            listed = ", ".join("'" + f.as_posix().replace("'", "''") + "'" for f in files)
            source = f"read_parquet([{listed}])" if files else "_empty_visits"
            cond = " AND ".join(where).replace("$s0", _ts(t0)).replace("$s1", _ts(t1))
            self.con.execute(f"CREATE OR REPLACE VIEW {prefix}_v AS SELECT * FROM {source} WHERE {cond}")  # noqa: S608
            return
        # From the events: a day of context on each side, as the per-day build has.
        params = {
            "site": q.site,
            "s0": t0,
            "s1": t1,
            "e0": t0 - dt.timedelta(days=1),
            "e1": t1 + dt.timedelta(days=1),
        }
        source = warehouse.events_source(
            params["e0"].date() - dt.timedelta(days=1), params["e1"].date() + dt.timedelta(days=1)
        )
        sql = (
            f"CREATE OR REPLACE TEMP TABLE {prefix}_v AS SELECT * FROM "  # noqa: S608
            f"({visits.visits_sql(source, site_param=True)}) WHERE {' AND '.join(where)}"
        )
        self.con.execute(sql, params)

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def one(self, sql: str, params=None):
        return self.con.execute(sql, params or []).fetchone()

    def all(self, sql: str, params=None):
        return self.con.execute(sql, params or []).fetchall()


# --- summary cards ------------------------------------------------------------------------------------


@dataclass
class Card:
    key: str
    value: float | int | None
    previous: float | int | None

    @property
    def change(self) -> float | None:
        """Relative change vs the previous period (0.25 = +25 %); None when there is nothing to compare."""
        if self.value is None or not self.previous:
            return None
        return (self.value - self.previous) / self.previous


def _summary_values(ws: Workspace, p: str) -> dict:
    row = ws.one(
        f"""
        SELECT count(DISTINCT visitor), count(*), coalesce(sum(pageviews), 0),
               avg(CASE WHEN bounced THEN 1.0 ELSE 0.0 END),
               avg(epoch(ended) - epoch(started))
        FROM {p}_v
        """  # noqa: S608
    )
    visitors, visits, pageviews, bounce, duration = row
    return {
        "visitors": visitors,
        "visits": visits,
        "pageviews": int(pageviews),
        "views_per_visit": round(pageviews / visits, 2) if visits else None,
        "bounce_rate": round(float(bounce), 4) if bounce is not None else None,
        "visit_duration": round(float(duration), 1) if duration is not None else None,
    }


def summary(ws: Workspace) -> list[Card]:
    """Visitors, visits, pageviews, views per visit, bounce rate, visit duration (s), orders, conversion
    rate and net revenue, each with the previous period."""
    cur = _summary_values(ws, "cur") | _order_totals(ws, "cur")
    prev = (_summary_values(ws, "prev") | _order_totals(ws, "prev")) if ws.has_previous else {}
    return [Card(k, v, prev.get(k)) for k, v in cur.items()]


# --- time series and breakdowns -----------------------------------------------------------------------


def timeseries(ws: Workspace) -> list[dict]:
    """Per day (shop time): visitors, visits, pageviews; every day of the range, zeros included."""
    tz = settings.TIME_ZONE
    rows = ws.all(
        f"""
        WITH d AS (SELECT CAST(range AS DATE) AS day FROM range(?::DATE, ?::DATE + 1, INTERVAL 1 DAY)),
        v AS (SELECT CAST(timezone('{tz}', started) AS DATE) AS day, count(DISTINCT visitor) AS visitors,
                     count(*) AS visits, sum(pageviews) AS pageviews FROM cur_v GROUP BY 1)
        SELECT d.day, coalesce(visitors, 0), coalesce(visits, 0), coalesce(pageviews, 0)::BIGINT
        FROM d LEFT JOIN v USING (day) ORDER BY d.day
        """,  # noqa: S608
        [ws.q.date_from, ws.q.date_to],
    )
    return [{"day": r[0], "visitors": r[1], "visits": r[2], "pageviews": r[3]} for r in rows]


def breakdown(ws: Workspace, dimension: str, *, limit: int = 10) -> list[dict]:
    """Top values of a dimension: visitors and visits (and pageviews for pages), most visitors first."""
    if dimension not in DIMENSIONS:
        raise QueryError(f"dimension {dimension!r}: one of {', '.join(DIMENSIONS)}")
    if dimension == "page":
        rows = ws.all(
            """SELECT path, count(DISTINCT visitor), count(DISTINCT (visitor, started)), count(*)
               FROM (SELECT visitor, started, unnest(pages) AS path FROM cur_v)
               GROUP BY 1 ORDER BY 2 DESC, 4 DESC, 1 LIMIT ?""",
            [limit],
        )
    else:
        col = VISIT_DIMENSIONS[dimension]
        rows = ws.all(
            f"""SELECT {col}, count(DISTINCT visitor), count(*), sum(pageviews)::BIGINT
                FROM cur_v WHERE coalesce({col}, '') <> '' GROUP BY 1 ORDER BY 2 DESC, 3 DESC, 1 LIMIT ?""",  # noqa: S608
            [limit],
        )
    return [{"value": r[0], "visitors": r[1], "visits": r[2], "pageviews": int(r[3] or 0)} for r in rows]


def realtime(*, site: str, now: dt.datetime | None = None, minutes: int = 30) -> dict:
    """Visitors and pageviews in the last 30 minutes, including events still in the spool."""
    import json

    from . import spool

    now = now or dt.datetime.now(dt.UTC)
    since = now - dt.timedelta(minutes=minutes)
    con = warehouse.connect()
    rows = con.execute(
        """SELECT event_id, visitor, event, path FROM events
           WHERE site = ? AND date >= ? AND ts >= ? AND NOT is_bot AND event <> 'request'""",
        [site, since.date(), since],
    ).fetchall()
    con.close()
    seen = {r[0]: r for r in rows}
    offsets = spool.offsets_load()
    since_us = since.timestamp() * 1e6
    for seg in spool.segments():
        data, _ = spool.read_complete(seg, offsets.get(seg.name, 0))
        for line in data.splitlines():
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if "drop" in obj or obj.get("site") != site or obj.get("ts", 0) < since_us:
                continue
            seen.setdefault(
                obj["event_id"], (obj["event_id"], obj["visitor"], obj["event"], obj.get("path", ""))
            )
    pages: dict[str, int] = {}
    for r in seen.values():
        if r[2] == "pageview":
            pages[r[3]] = pages.get(r[3], 0) + 1
    return {
        "visitors": len({r[1] for r in seen.values()}),
        "pageviews": sum(pages.values()),
        "top_pages": [
            {"path": p, "pageviews": n} for p, n in sorted(pages.items(), key=lambda x: (-x[1], x[0]))[:10]
        ],
    }


def not_found(ws: Workspace, *, limit: int = 10) -> list[dict]:
    """404 pages from the server logs (the tracking script cannot see them)."""
    t0, t1 = ws.q.bounds()
    source = warehouse.events_source(t0.date(), t1.date())
    rows = ws.all(
        f"""SELECT raw_path, count(*) FROM {source} WHERE site = ? AND origin = 'log' AND status = 404
           AND ts >= ? AND ts < ? GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT ?""",  # noqa: S608
        [ws.q.site, t0, t1, limit],
    )
    return [{"path": r[0], "hits": r[1]} for r in rows]


# --- e-commerce --------------------------------------------------------------------------------------


def funnel(ws: Workspace) -> list[dict]:
    """Visits reaching each step in order (product view -> add to cart -> checkout -> purchase), with
    the share that went on from the previous step and the drop-off."""
    row = ws.one(
        """
        WITH s AS (
          SELECT product_view_at AS s1, add_to_cart_at AS s2, begin_checkout_at AS s3, purchase_at AS s4
          FROM cur_v)
        SELECT count(s1),
               count(*) FILTER (WHERE s2 >= s1),
               count(*) FILTER (WHERE s2 >= s1 AND s3 >= s2),
               count(*) FILTER (WHERE s2 >= s1 AND s3 >= s2 AND s4 >= s3)
        FROM s
        """
    )
    out, prev = [], None
    for name, n in zip(FUNNEL, row, strict=True):
        rate = (n / prev) if prev else None
        out.append(
            {
                "step": name,
                "visits": n,
                "from_previous": round(rate, 4) if rate is not None else None,
                "drop_off": (prev - n) if prev is not None else None,
            }
        )
        prev = n
    return out


def _purchases_sql(p: str) -> str:
    """Each real order once (the first purchase event naming it), with its visit's source."""
    excluded_stages = ", ".join(f"'{s}'" for s in NET_EXCLUDED_STAGES)
    excluded_pay = ", ".join(f"'{s}'" for s in NET_EXCLUDED_PAYMENT)
    return f"""
      WITH pu AS (
        SELECT o.number AS order_number, arg_min(source, o.ts) AS source,
               arg_min(source_name, o.ts) AS source_name, min(o.ts) AS ts
        FROM (SELECT source, source_name, unnest(orders) AS o FROM {p}_v) GROUP BY 1),
      joined AS (
        SELECT pu.*, o.id AS order_id, o.total_gross, o.stage, o.payment_status,
               (o.id IS NOT NULL AND o.stage NOT IN ({excluded_stages})
                AND o.payment_status NOT IN ({excluded_pay})) AS counted
        FROM pu LEFT JOIN ws_orders o ON o.number = pu.order_number)
    """  # noqa: S608


def _order_totals(ws: Workspace, p: str) -> dict:
    tail = (
        "SELECT count(*) FILTER (WHERE counted), coalesce(sum(total_gross) FILTER (WHERE counted), 0), "
        "count(*) FILTER (WHERE order_id IS NULL) FROM joined"
    )
    orders, revenue, unmatched = ws.one(_purchases_sql(p) + tail)
    visits = ws.one(f"SELECT count(*) FROM {p}_v")[0]  # noqa: S608
    return {
        "orders": orders,
        "conversion_rate": round(orders / visits, 4) if visits else None,
        "revenue": Decimal(revenue).quantize(Decimal("0.01")),
        "unmatched_purchases": unmatched,
    }


def revenue_by_source(ws: Workspace, *, by: str = "source") -> list[dict]:
    """Per source type (or `by="referrer"`: source name): visits, real orders, conversion rate, net
    revenue and orders cancelled/refunded (which are not counted)."""
    col = {"source": "source", "referrer": "source_name"}[by]
    tail = f"""
        , per AS (SELECT {col} AS value, count(*) FILTER (WHERE counted) AS orders,
                         coalesce(sum(total_gross) FILTER (WHERE counted), 0) AS revenue,
                         count(*) FILTER (WHERE order_id IS NOT NULL AND NOT counted) AS cancelled
                  FROM joined GROUP BY 1),
        vis AS (SELECT {col} AS value, count(*) AS visits FROM cur_v GROUP BY 1)
        SELECT vis.value, vis.visits, coalesce(per.orders, 0), coalesce(per.revenue, 0), coalesce(per.cancelled, 0)
        FROM vis LEFT JOIN per USING (value)
        ORDER BY 4 DESC, 2 DESC, 1
        """  # noqa: S608
    rows = ws.all(_purchases_sql("cur") + tail)
    return [
        {
            "value": r[0],
            "visits": r[1],
            "orders": r[2],
            "conversion_rate": round(r[2] / r[1], 4) if r[1] else None,
            "revenue": Decimal(r[3]).quantize(Decimal("0.01")),
            "cancelled_or_refunded": r[4],
        }
        for r in rows
    ]


# --- server-log summary (GoAccess-compatible) ------------------------------------------------------


def log_summary(
    *, site: str | None, date_from: dt.date | None, date_to: dt.date | None, limit: int = 10
) -> dict:
    """Requests of the imported access logs, counted as GoAccess 1.7 counts them (docs/analytics.md):
    unique visitors = distinct (IP, day, user agent) excluding 4xx responses; top paths = non-static,
    non-404 requests by URL with query string."""
    con = warehouse.connect()
    where = ["origin = 'log'"]
    args: list = []
    if site:
        where.append("site = ?")
        args.append(site)
    if date_from:
        where.append("date >= ?")
        args.append(date_from)
    if date_to:
        where.append("date <= ?")
        args.append(date_to)
    w = " AND ".join(where)
    con.execute(f"CREATE TEMP TABLE l AS SELECT * FROM events WHERE {w}", args)  # noqa: S608
    dw = ["step = 'log_import'"]
    dargs: list = []
    if site:
        dw.append("site = ?")
        dargs.append(site)
    if date_from:
        dw.append("day >= ?")
        dargs.append(date_from)
    if date_to:
        dw.append("day <= ?")
        dargs.append(date_to)
    dsql = f"SELECT coalesce(sum(count), 0) FROM drops WHERE {' AND '.join(dw)}"  # noqa: S608
    failed = con.execute(dsql, dargs).fetchone()[0]
    valid, visitors, pageviews, bandwidth = con.execute(
        """SELECT count(*), count(DISTINCT visitor) FILTER (WHERE status NOT BETWEEN 400 AND 499),
                  count(*) FILTER (WHERE event = 'pageview'), coalesce(sum(bytes), 0) FROM l"""
    ).fetchone()

    def top(sql: str, params=None):
        return con.execute(sql, params or []).fetchall()

    result = {
        "requests": valid + int(failed),
        "valid_requests": valid,
        "failed_requests": int(failed),
        "unique_visitors": visitors,
        "pageviews": pageviews,
        "bandwidth_bytes": int(bandwidth),
        "top_paths": [
            {"path": r[0], "hits": r[1], "visitors": r[2]}
            for r in top(
                """SELECT raw_path, count(*), count(DISTINCT visitor) FROM l WHERE NOT is_static AND status <> 404
                   GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT ?""",
                [limit],
            )
        ],
        "status_codes": {
            str(r[0]): r[1] for r in top("SELECT status, count(*) FROM l GROUP BY 1 ORDER BY 1")
        },
        "not_found": [
            {"path": r[0], "hits": r[1]}
            for r in top(
                "SELECT raw_path, count(*) FROM l WHERE status = 404 GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT ?",
                [limit],
            )
        ],
        "referrers": [
            {"referrer": r[0], "hits": r[1], "visitors": r[2]}
            for r in top(
                """SELECT referrer, count(*), count(DISTINCT visitor) FROM l WHERE referrer <> ''
                   GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT ?""",
                [limit],
            )
        ],
        "browsers": [
            {"browser": r[0], "hits": r[1], "visitors": r[2]}
            for r in top(
                """SELECT CASE WHEN is_bot THEN 'Crawlers' ELSE browser END, count(*), count(DISTINCT visitor)
                   FROM l GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT ?""",
                [limit],
            )
        ],
        "os": [
            {"os": r[0], "hits": r[1], "visitors": r[2]}
            for r in top(
                "SELECT os, count(*), count(DISTINCT visitor) FROM l GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT ?",
                [limit],
            )
        ],
    }
    con.close()
    return result


def drops_summary(*, site: str | None, date_from: dt.date, date_to: dt.date) -> list[dict]:
    """What the ingestion pipeline dropped, by step and reason."""
    con = warehouse.connect()
    rows = con.execute(
        """SELECT step, reason, sum(count)::BIGINT FROM drops WHERE day BETWEEN ? AND ?
           AND (? IS NULL OR site = ? OR site = '') GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2""",
        [date_from, date_to, site, site],
    ).fetchall()
    con.close()
    return [{"step": r[0], "reason": r[1], "count": r[2]} for r in rows]


METRICS = {
    "summary": summary,
    "timeseries": timeseries,
    "breakdown": breakdown,
    "funnel": funnel,
    "revenue_by_source": revenue_by_source,
    "not_found": not_found,
}
