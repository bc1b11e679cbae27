"""Pre-built visits: events grouped into visits once per day, so the dashboard never sessionizes.

    analytics/visits/date=YYYY-MM-DD/v-<digest>.parquet   the visits that *start* on that UTC day

A visit is the run of a visitor's events on one site with no gap over 30 minutes (metrics.VISIT_GAP). The
file of day D is built from the events of D-1, D and D+1, so a visit that starts before midnight keeps its
events after midnight (it is stored under the day it starts, and the day after does not count it again).
Only a visit that lasts over 24 hours without a 30-minute pause would be cut; with visitor ids that rotate
daily that cannot happen for collected events.

The file name is a digest of the event files it was built from (name, size, mtime of every Parquet file in
D-1, D and D+1, plus VERSION). Anything that changes those partitions — a flush, late events, a log
import, compaction, erasure — changes the digest, so the visits of D-1, D and D+1 are stale and are built
again: right after a flush or compaction (`refresh`), and in any case before a query reads them
(`ensure`). A visits file is derived data: deleting the whole directory loses nothing.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import logging
import os
import time
import uuid
from collections.abc import Iterable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from . import spool

log = logging.getLogger("zaplecze.analytics")

#: Bump when the visit definition or VISIT_SCHEMA changes: every visits file is then rebuilt on use.
VERSION = 1
VISIT_GAP = "INTERVAL 30 MINUTE"

_TS = pa.timestamp("us", tz="UTC")
VISIT_SCHEMA = pa.schema(
    [
        ("site", pa.string()),
        ("visitor", pa.int64()),
        ("started", _TS),
        ("ended", _TS),
        ("pageviews", pa.int32()),
        ("events", pa.int32()),
        ("bounced", pa.bool_()),
        ("entry_page", pa.string()),
        ("exit_page", pa.string()),
        ("source", pa.string()),
        ("source_name", pa.string()),
        ("utm_source", pa.string()),
        ("utm_medium", pa.string()),
        ("utm_campaign", pa.string()),
        ("utm_content", pa.string()),
        ("utm_term", pa.string()),
        ("device", pa.string()),
        ("browser", pa.string()),
        ("os", pa.string()),
        # first time the visit reached each funnel step (NULL: never)
        ("product_view_at", _TS),
        ("add_to_cart_at", _TS),
        ("begin_checkout_at", _TS),
        ("purchase_at", _TS),
        ("converted", pa.bool_()),
        # purchase events naming an order: revenue is joined from the orders at query time
        ("orders", pa.list_(pa.struct([("number", pa.string()), ("ts", _TS)]))),
        ("pages", pa.list_(pa.string())),  # pageview paths (with repeats, in no order): the "pages" panel
        ("paths", pa.list_(pa.string())),  # distinct paths of any event: the "page" filter
    ]
)


def visits_sql(source: str, *, site_param: bool) -> str:
    """SELECT the visits of `source` (a FROM clause over events) whose first event is in [$s0, $s1),
    grouping the traffic events in [$e0, $e1). Duplicate event ids count once (at-least-once delivery).
    Ties in time are broken by event id, so entry and exit pages are deterministic."""
    site = "AND site = $site" if site_param else ""
    key = "seq"  # the event's place in (time, event id) order: a cheaper key than (ts, event_id)
    return f"""
    WITH ev AS (
        SELECT event_id, ts, site, visitor, event, path, source, source_name, utm_source, utm_medium,
               utm_campaign, utm_content, utm_term, device, browser, os, order_number
        FROM {source}
        WHERE ts >= $e0 AND ts < $e1 AND NOT is_bot AND event <> 'request' {site}
        QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY ts) = 1
    ), marked AS (
        SELECT *, CASE WHEN ts - lag(ts) OVER (PARTITION BY site, visitor ORDER BY ts, event_id) <= {VISIT_GAP}
                       THEN 0 ELSE 1 END AS new_visit
        FROM ev
    ), numbered AS (
        SELECT *, sum(new_visit) OVER w AS visit_no, row_number() OVER w AS seq
        FROM marked
        WINDOW w AS (PARTITION BY site, visitor ORDER BY ts, event_id ROWS UNBOUNDED PRECEDING)
    )
    SELECT site, visitor, min(ts) AS started, max(ts) AS ended,
           count(*) FILTER (WHERE event = 'pageview') AS pageviews,
           count(*) AS events,
           count(*) FILTER (WHERE event = 'pageview') <= 1 AND count(*) <= 1 AS bounced,
           arg_min(path, {key}) AS entry_page,
           coalesce(arg_max(path, {key}) FILTER (WHERE event = 'pageview'), arg_max(path, {key})) AS exit_page,
           arg_min(source, {key}) AS source, arg_min(source_name, {key}) AS source_name,
           arg_min(utm_source, {key}) AS utm_source, arg_min(utm_medium, {key}) AS utm_medium,
           arg_min(utm_campaign, {key}) AS utm_campaign, arg_min(utm_content, {key}) AS utm_content,
           arg_min(utm_term, {key}) AS utm_term,
           arg_min(device, {key}) AS device, arg_min(browser, {key}) AS browser, arg_min(os, {key}) AS os,
           min(ts) FILTER (WHERE event = 'product_view') AS product_view_at,
           min(ts) FILTER (WHERE event = 'add_to_cart') AS add_to_cart_at,
           min(ts) FILTER (WHERE event = 'begin_checkout') AS begin_checkout_at,
           min(ts) FILTER (WHERE event = 'purchase') AS purchase_at,
           count(*) FILTER (WHERE event = 'purchase') > 0 AS converted,
           coalesce(list(struct_pack(number := order_number, ts := ts))
                    FILTER (WHERE event = 'purchase' AND coalesce(order_number, '') <> ''), []) AS orders,
           coalesce(list(path) FILTER (WHERE event = 'pageview'), []) AS pages,
           list(DISTINCT coalesce(path, '')) AS paths
    FROM numbered
    GROUP BY site, visitor, visit_no
    HAVING min(ts) >= $s0 AND min(ts) < $s1
    """  # noqa: S608


# --- files, digests, locking ---------------------------------------------------------------------------


def visits_dir() -> Path:
    path = spool.root() / "visits"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _events_base() -> Path:
    return spool.root() / "events"


@contextlib.contextmanager
def file_lock(name: str):
    """An exclusive lock shared by every process using this data dir (released if the process dies)."""
    path = spool.root() / name
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


class _Listing:
    """Event files per day, each directory read once per call."""

    def __init__(self) -> None:
        self._cache: dict[dt.date, list[tuple[str, int, int]]] = {}

    def files(self, day: dt.date) -> list[tuple[str, int, int]]:
        got = self._cache.get(day)
        if got is None:
            got = []
            try:
                with os.scandir(_events_base() / f"date={day.isoformat()}") as it:
                    for entry in it:
                        if entry.name.endswith(".parquet") and not entry.name.startswith("."):
                            st = entry.stat()
                            got.append((entry.name, st.st_size, st.st_mtime_ns))
            except FileNotFoundError:
                pass
            got.sort()
            self._cache[day] = got
        return got

    def digest(self, day: dt.date) -> str | None:
        """None when no event is stored for that day (so no visit starts on it)."""
        if not self.files(day):
            return None
        h = hashlib.sha1(f"v{VERSION}".encode(), usedforsecurity=False)
        for d in (day - dt.timedelta(days=1), day, day + dt.timedelta(days=1)):
            h.update(f"|{d.isoformat()}".encode())
            for name, size, mtime in self.files(d):
                h.update(f"|{name}:{size}:{mtime}".encode())
        return h.hexdigest()[:20]

    def inputs(self, day: dt.date) -> list[Path]:
        out = []
        for d in (day - dt.timedelta(days=1), day, day + dt.timedelta(days=1)):
            part = _events_base() / f"date={d.isoformat()}"
            out.extend(part / name for name, _, _ in self.files(d))
        return out


def _target(day: dt.date, digest: str) -> Path:
    return visits_dir() / f"date={day.isoformat()}" / f"v-{digest}.parquet"


def _write_atomic(table: pa.Table, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    pq.write_table(table, tmp, compression="zstd")
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    spool.fsync_dir(path.parent)


#: A superseded visits file is deleted this long after it was superseded (a page being computed may still
#: be reading it); at once when `force` (erasure: nothing linked may stay behind).
GRACE_SECONDS = 600


def _retire(f: Path, *, force: bool) -> None:
    marker = f.with_name(f".{f.name}.superseded")
    if force:
        f.unlink(missing_ok=True)
        marker.unlink(missing_ok=True)
    elif not marker.exists():
        marker.touch()
    elif time.time() - marker.stat().st_mtime > GRACE_SECONDS:
        f.unlink(missing_ok=True)
        marker.unlink(missing_ok=True)


def _drop_dir(part: Path, keep: Path | None, *, force: bool = False) -> None:
    """Retire every visits file of a partition but `keep` (None: all of them)."""
    if not part.is_dir():
        return
    for f in part.iterdir():
        if f == keep:
            continue
        if f.name.endswith(".tmp"):
            f.unlink(missing_ok=True)  # a build that died (builds run under the lock)
        elif f.name.endswith(".superseded"):
            if not f.with_name(f.name[1 : -len(".superseded")]).exists():
                f.unlink(missing_ok=True)
        else:
            _retire(f, force=force)
    if keep is None:
        with contextlib.suppress(OSError):
            part.rmdir()


def _drop_others(day: dt.date, keep: Path | None, *, force: bool = False) -> None:
    _drop_dir(visits_dir() / f"date={day.isoformat()}", keep, force=force)


def sweep() -> None:
    """Delete superseded files whose grace time is over (the hourly maintenance)."""
    with file_lock("visits.lock"):
        listing = _Listing()
        for part in visits_dir().iterdir():
            if not part.is_dir():
                continue
            keep = None
            if part.name.startswith("date="):
                digest = listing.digest(dt.date.fromisoformat(part.name[5:]))
                keep = _target(dt.date.fromisoformat(part.name[5:]), digest) if digest else None
            elif part.name.startswith("month="):
                digest = _month_digest(dt.date.fromisoformat(part.name[6:] + "-01"), listing)
                keep = part / f"m-{digest}.parquet" if digest else None
            if keep is not None and keep.exists():
                _drop_dir(part, keep)


# --- building ----------------------------------------------------------------------------------------

#: Consecutive stale days are grouped by one query over at most this many days.
RUN_DAYS = 31
#: Rows per row group in month files (sorted by start, so a query for part of a month skips the rest).
ROW_GROUP = 32768


def _runs(days: list[dt.date]) -> list[list[dt.date]]:
    runs: list[list[dt.date]] = []
    for day in sorted(days):
        if runs and day - runs[-1][-1] == dt.timedelta(days=1) and len(runs[-1]) < RUN_DAYS:
            runs[-1].append(day)
        else:
            runs.append([day])
    return runs


def _build_run(run: list[dt.date], listing: _Listing, *, force: bool = False) -> None:
    """One query over the events of run[0]-1 .. run[-1]+1; one file per day of the run."""
    import duckdb
    import pyarrow.compute as pc

    inputs: list[Path] = []
    for d in _days(run[0] - dt.timedelta(days=1), run[-1] + dt.timedelta(days=1)):
        part = _events_base() / f"date={d.isoformat()}"
        inputs.extend(part / name for name, _, _ in listing.files(d))
    files = ", ".join("'" + p.as_posix().replace("'", "''") + "'" for p in inputs)
    first = dt.datetime.combine(run[0], dt.time.min, tzinfo=dt.UTC)
    last = dt.datetime.combine(run[-1], dt.time.min, tzinfo=dt.UTC)
    params = {
        "e0": first - dt.timedelta(days=1),
        "e1": last + dt.timedelta(days=2),
        "s0": first,
        "s1": last + dt.timedelta(days=1),
    }
    con = duckdb.connect(config={"threads": 2})
    try:
        sql = visits_sql(f"read_parquet([{files}], union_by_name = true)", site_param=False)
        table = con.sql(
            f"SELECT *, CAST(timezone('UTC', started) AS DATE) AS _day FROM ({sql}) "  # noqa: S608
            "ORDER BY site, started, visitor",
            params=params,
        ).to_arrow_table()
    finally:
        con.close()
    day_col = table.column("_day")
    table = table.drop_columns(["_day"])
    for day in run:
        digest = listing.digest(day)
        if digest is None:
            _drop_others(day, None, force=force)
            continue
        target = _target(day, digest)
        part = table.filter(pc.equal(day_col, pa.scalar(day, pa.date32())))
        _write_atomic(part.cast(VISIT_SCHEMA), target)
        _drop_others(day, target, force=force)


def build(days: Iterable[dt.date], *, force: bool = False) -> dict[dt.date, Path | None]:
    """Build the stale visits files among `days` (older versions are deleted); consecutive days in one
    query. Returns each day's file (None: no event stored that day)."""
    with file_lock("visits.lock"):
        listing = _Listing()
        result: dict[dt.date, Path | None] = {}
        stale = []
        for day in sorted(set(days)):
            digest = listing.digest(day)
            if digest is None:
                _drop_others(day, None, force=force)
                result[day] = None
            elif _target(day, digest).exists():
                result[day] = _target(day, digest)
                _drop_others(day, result[day], force=force)
            else:
                stale.append(day)
        for run in _runs(stale):
            _build_run(run, listing, force=force)
            for day in run:
                digest = listing.digest(day)
                result[day] = _target(day, digest) if digest else None
        return result


def build_day(day: dt.date) -> Path | None:
    return build([day])[day]


def _days(d0: dt.date, d1: dt.date) -> Iterable[dt.date]:
    day = d0
    while day <= d1:
        yield day
        day += dt.timedelta(days=1)


# --- month files: one file per settled month, so a year is read from 12 files, not 365 ------------------


def _month_days(month: dt.date) -> list[dt.date]:
    nxt = (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return list(_days(month, nxt - dt.timedelta(days=1)))


def _settled(month: dt.date, today: dt.date) -> bool:
    """A month whose days (and the day after) are past: new events there are late arrivals, rare."""
    return _month_days(month)[-1] < today - dt.timedelta(days=1)


def _month_digest(month: dt.date, listing: _Listing) -> str | None:
    digests = [listing.digest(d) for d in _month_days(month)]
    if not any(digests):
        return None
    h = hashlib.sha1(f"m{VERSION}".encode(), usedforsecurity=False)
    for d in digests:
        h.update(f"|{d or '-'}".encode())
    return h.hexdigest()[:20]


def _month_dir(month: dt.date) -> Path:
    return visits_dir() / f"month={month.strftime('%Y-%m')}"


def _month_file(month: dt.date, listing: _Listing, *, force: bool = False) -> Path | None:
    """The month's visits in one file (built from its day files when missing)."""
    digest = _month_digest(month, listing)
    part = _month_dir(month)
    if digest is None:
        if part.is_dir():
            with file_lock("visits.lock"):
                _drop_dir(part, None, force=force)
        return None
    target = part / f"m-{digest}.parquet"
    if target.exists() and not force:
        return target
    for _attempt in range(5):
        build(_month_days(month), force=force)
        with file_lock("visits.lock"):
            listing = _Listing()  # events may have changed since: merge only day files of this state
            digest = _month_digest(month, listing)
            if digest is None:
                _drop_dir(part, None, force=force)
                return None
            target = part / f"m-{digest}.parquet"
            if not target.exists():
                days = [_target(d, dg) for d in _month_days(month) if (dg := listing.digest(d))]
                if not all(p.exists() for p in days):
                    continue  # a flush came in between: build its days first
                tables = [pq.read_table(p) for p in days]
                table = pa.concat_tables(tables).sort_by([("started", "ascending")]).cast(VISIT_SCHEMA)
                part.mkdir(parents=True, exist_ok=True)
                tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
                pq.write_table(table, tmp, compression="zstd", row_group_size=ROW_GROUP)
                fd = os.open(tmp, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
                os.replace(tmp, target)
                spool.fsync_dir(part)
            _drop_dir(part, target, force=force)
            return target
    raise RuntimeError(f"visits of {month:%Y-%m}: the events kept changing while the month was merged")


def ensure(d0: dt.date, d1: dt.date, *, today: dt.date | None = None) -> list[Path]:
    """Up-to-date visits files covering every visit that starts on the UTC days d0..d1 (month files for
    settled months, which may hold other days too: filter on `started`), building what is stale."""
    today = today or dt.datetime.now(dt.UTC).date()
    listing = _Listing()
    out: list[Path] = []
    month = d0.replace(day=1)
    while month <= d1:
        days = _month_days(month)
        if _settled(month, today):
            path = _month_file(month, listing)
            if path is not None:
                out.append(path)
        else:
            wanted = [d for d in days if d0 <= d <= d1]
            stale = []
            for day in wanted:
                digest = listing.digest(day)
                if digest is not None and not _target(day, digest).exists():
                    stale.append(day)
            built = build(stale) if stale else {}
            for day in wanted:
                if day in built:
                    path = built[day]
                else:
                    digest = listing.digest(day)
                    path = _target(day, digest) if digest else None
                if path is not None:
                    out.append(path)
        month = days[-1] + dt.timedelta(days=1)
    return out


def refresh(days: Iterable[dt.date], *, today: dt.date | None = None, force: bool = False) -> int:
    """After events were written to `days`: rebuild the visits of those days and their neighbours (a visit
    may run over midnight), and the month files of settled months among them. Returns the days checked.
    `force`: superseded files are deleted at once (erasure), not after GRACE_SECONDS."""
    today = today or dt.datetime.now(dt.UTC).date()
    affected: set[dt.date] = set()
    for day in days:
        affected.update((day - dt.timedelta(days=1), day, day + dt.timedelta(days=1)))
    if not affected:
        return 0
    build(affected, force=force)
    listing = _Listing()
    for month in sorted({d.replace(day=1) for d in affected}):
        if _settled(month, today) and _month_dir(month).is_dir():
            _month_file(month, listing, force=force)
    return len(affected)


def refresh_quietly(days: Iterable[dt.date]) -> None:
    """refresh(), for the worker: a failure only logs (the next query rebuilds what is stale)."""
    try:
        refresh(days)
    except Exception:  # noqa: BLE001 - derived data; ensure() rebuilds it before any read
        log.exception("analytics: building visits failed; they will be built on the next query")


def retention_apply(cutoff: dt.date) -> int:
    """Delete the visits of days before `cutoff` (a month file with days on both sides is rebuilt on use)."""
    deleted = 0
    base = visits_dir()
    for part in base.iterdir():
        if not part.is_dir():
            continue
        try:
            if part.name.startswith("date="):
                last = dt.date.fromisoformat(part.name[5:])
            elif part.name.startswith("month="):
                last = _month_days(dt.date.fromisoformat(part.name[6:] + "-01"))[-1]
            else:
                continue
        except ValueError:
            continue
        if last < cutoff:
            for f in part.iterdir():
                f.unlink()
            part.rmdir()
            deleted += 1
    return deleted
