"""The event store: date-partitioned Parquet under ZAPLECZE_DATA_DIR/analytics, queried with DuckDB.

    analytics/spool/seg-*.jsonl          durable spool (spool.py)
    analytics/events/date=YYYY-MM-DD/    events, one Parquet file per flushed spool chunk / log chunk
    analytics/drops/date=YYYY-MM-DD/     per-step drop counts of the collector pipeline
    analytics/orders/                    incremental export of the shop's orders (watermark on updated_at)

Delivery is at-least-once and every write is idempotent: a Parquet file's name is derived from what it
holds (spool segment + byte range, log file + line range), it appears atomically (temp file, fsync,
rename), and the spool offset / log watermark is committed only after it. A flush killed anywhere re-runs
into the same file names; events that arrive twice (client retries) are dropped by event id.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import threading
import uuid
from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from . import spool, visits

log = logging.getLogger("zaplecze.analytics")

SCHEMA = pa.schema(
    [
        ("event_id", pa.string()),
        ("ts", pa.timestamp("us", tz="UTC")),
        ("site", pa.string()),
        ("event", pa.string()),
        ("name", pa.string()),
        ("visitor", pa.int64()),
        ("path", pa.string()),
        ("raw_path", pa.string()),
        ("host", pa.string()),
        ("referrer", pa.string()),
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
        ("is_bot", pa.bool_()),
        ("is_static", pa.bool_()),
        ("sku", pa.string()),
        ("order_number", pa.string()),
        ("value", pa.decimal128(20, 2)),
        ("currency", pa.string()),
        ("props", pa.string()),
        ("origin", pa.string()),
        ("status", pa.int16()),
        ("bytes", pa.int64()),
        ("method", pa.string()),
    ]
)
COLUMNS = SCHEMA.names
DROP_SCHEMA = pa.schema(
    [
        ("day", pa.date32()),
        ("site", pa.string()),
        ("step", pa.string()),
        ("reason", pa.string()),
        ("count", pa.int64()),
    ]
)

# Held (across processes) by everything that rewrites or deletes event files: flush, compaction, erasure.
WRITE_LOCK = "events.lock"

# Test hook: called with a label at each point of a flush where a crash would matter.
crash_point = None


def _hit(label: str) -> None:
    if crash_point is not None:
        crash_point(label)


def events_dir() -> Path:
    path = spool.root() / "events"
    path.mkdir(parents=True, exist_ok=True)
    return path


def drops_dir() -> Path:
    path = spool.root() / "drops"
    path.mkdir(parents=True, exist_ok=True)
    return path


def partition(day: dt.date, base: Path | None = None) -> Path:
    path = (base or events_dir()) / f"date={day.isoformat()}"
    path.mkdir(parents=True, exist_ok=True)
    return path


def write_parquet_atomic(table: pa.Table, path: Path) -> None:
    """The file appears whole or not at all."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    pq.write_table(table, tmp, compression="zstd")
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    spool.fsync_dir(path.parent)


def partition_ids(day: dt.date) -> set[str]:
    files = sorted(partition(day).glob("*.parquet"))
    if not files:
        return set()
    ids: set[str] = set()
    for f in files:
        ids.update(pq.read_table(f, columns=["event_id"]).column(0).to_pylist())
    return ids


def to_table(records: list[dict]) -> pa.Table:
    cols: dict[str, list] = {name: [] for name in COLUMNS}
    for r in records:
        for name in COLUMNS:
            cols[name].append(r.get(name))
    return pa.Table.from_pydict(cols, schema=SCHEMA)


def _record_from_spool(obj: dict) -> dict:
    obj["ts"] = dt.datetime.fromtimestamp(obj["ts"] / 1e6, dt.UTC)
    if obj.get("value") not in (None, ""):
        obj["value"] = Decimal(str(obj["value"]))
    else:
        obj["value"] = None
    return obj


def write_events(
    records: list[dict],
    *,
    name: str,
    known: dict[dt.date, set[str]] | None = None,
    touched: set[dt.date] | None = None,
) -> int:
    """Write records into their date partitions as `<name>.parquet`, leaving out event ids already stored
    (or repeated in `records`). Returns how many rows were written. Safe to repeat with the same name.
    The days written are added to `touched` (their visits must be rebuilt: visits.refresh)."""
    known = known if known is not None else {}
    by_day: dict[dt.date, list[dict]] = defaultdict(list)
    for r in records:
        by_day[r["ts"].astimezone(dt.UTC).date()].append(r)
    written = 0
    for day, rows in sorted(by_day.items()):
        target = partition(day) / f"{name}.parquet"
        ids = known.get(day)
        if ids is None:
            ids = partition_ids(day)
            if target.exists():  # our own earlier attempt: rewriting it must not drop its rows as duplicates
                ids -= set(pq.read_table(target, columns=["event_id"]).column(0).to_pylist())
            known[day] = ids
        fresh = []
        for r in rows:
            if r["event_id"] not in ids:
                ids.add(r["event_id"])
                fresh.append(r)
        if fresh:
            write_parquet_atomic(to_table(fresh), target)
            written += len(fresh)
            if touched is not None:
                touched.add(day)
        _hit("after_partition")
    return written


def _write_drops(drops: dict[tuple, int], *, name: str) -> None:
    by_day: dict[dt.date, list] = defaultdict(list)
    for (day, site, step, reason), n in drops.items():
        by_day[day].append({"day": day, "site": site, "step": step, "reason": reason, "count": n})
    for day, rows in by_day.items():
        write_parquet_atomic(
            pa.Table.from_pylist(rows, schema=DROP_SCHEMA), partition(day, drops_dir()) / f"{name}.parquet"
        )


_flush_lock = threading.Lock()


class FlushReport(dict):
    pass


def flush(*, now: dt.datetime | None = None, max_bytes: int = 64 * 1024 * 1024) -> dict:
    """Move every complete spool line into Parquet. Returns {"segments", "read", "written", "duplicates",
    "corrupt", "dropped"}. Safe to run concurrently with writers, and to kill at any point."""
    now = now or dt.datetime.now(dt.UTC)
    report = {"segments": 0, "read": 0, "written": 0, "duplicates": 0, "corrupt": 0, "dropped": 0}
    touched: set[dt.date] = set()
    with _flush_lock, visits.file_lock(WRITE_LOCK):
        recover()
        offsets = spool.offsets_load()
        known: dict[dt.date, set[str]] = {}
        for seg in spool.segments():
            start = offsets.get(seg.name, 0)
            while True:
                data, end = spool.read_complete(seg, start)
                if len(data) > max_bytes:
                    cut = data.rfind(b"\n", 0, max_bytes)
                    if cut > 0:
                        data, end = data[: cut + 1], start + cut + 1
                if end == start:
                    break
                report["segments"] += 1
                records, drops = [], defaultdict(int)
                for line in data.splitlines():
                    report["read"] += 1
                    try:
                        obj = json.loads(line)
                        if "drop" in obj:
                            day = dt.date.fromisoformat(obj["day"])
                            drops[(day, obj.get("site", ""), obj["drop"], obj.get("reason", ""))] += 1
                            report["dropped"] += 1
                            continue
                        records.append(_record_from_spool(obj))
                    except (ValueError, KeyError, TypeError):
                        report["corrupt"] += 1
                        drops[(now.date(), "", "spool", "corrupt_line")] += 1
                name = f"s-{seg.stem}-{start}-{end}"
                written = write_events(records, name=name, known=known, touched=touched)
                report["written"] += written
                report["duplicates"] += len(records) - written
                if drops:
                    _write_drops(drops, name=name)
                _hit("before_commit")
                offsets[seg.name] = end
                spool.offsets_save(offsets)
                _hit("after_commit")
                start = end
            if spool.is_sealed(seg, now) and seg.stat().st_size == offsets.get(seg.name, 0):
                seg.unlink()
                offsets.pop(seg.name, None)
                spool.offsets_save(offsets)
        # The visits of the days written (and their neighbours), built once here rather than per query.
        _hit("before_visits")
        visits.refresh_quietly(touched)
    return report


# --- compaction, recovery, retention --------------------------------------------------------------


def _journal() -> Path:
    return spool.root() / "compact.journal"


def recover() -> None:
    """Finish or undo a compaction that was interrupted (see compact)."""
    path = _journal()
    if not path.exists():
        return
    try:
        entry = json.loads(path.read_text())
    except ValueError:
        path.unlink()
        return
    out = Path(entry["output"])
    if out.exists():
        for name in entry["inputs"]:
            Path(name).unlink(missing_ok=True)
    path.unlink()


def compact(*, min_files: int = 8, base: Path | None = None) -> dict:
    """Merge the small files of each date partition into one (deduplicated by event id). A journal makes
    the swap crash-safe: on recovery, inputs are deleted only if the merged file is complete."""
    base = base or events_dir()
    report = {"partitions": 0, "files_in": 0}
    compacted: set[dt.date] = set()
    with _flush_lock, visits.file_lock(WRITE_LOCK):
        recover()
        for part in sorted(p for p in base.iterdir() if p.is_dir()):
            files = sorted(part.glob("*.parquet"))
            if len(files) < min_files:
                continue
            tables = [pq.read_table(f) for f in files]
            table = pa.concat_tables(tables, promote_options="default")
            if "event_id" in table.column_names:
                import duckdb

                con = duckdb.connect()
                con.register("t", table)
                table = con.sql(
                    "SELECT * FROM t QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY ts) = 1 ORDER BY ts"
                ).to_arrow_table()
                table = table.cast(SCHEMA)
                con.close()
            digest = hashlib.sha1(
                "|".join(f.name for f in files).encode(), usedforsecurity=False
            ).hexdigest()[:16]
            out = part / f"c-{digest}.parquet"
            spool.write_atomic(
                _journal(),
                json.dumps({"output": str(out), "inputs": [str(f) for f in files if f != out]}).encode(),
            )
            _hit("compact_journal")
            write_parquet_atomic(table, out)
            _hit("compact_written")
            for f in files:
                if f != out:
                    f.unlink()
            _journal().unlink()
            report["partitions"] += 1
            report["files_in"] += len(files)
            if part.name.startswith("date=") and base == events_dir():
                compacted.add(dt.date.fromisoformat(part.name[5:]))
        visits.refresh_quietly(compacted)
    return report


def retention_apply(*, keep_days: int, today: dt.date | None = None) -> int:
    """Delete event and drop partitions older than keep_days. Returns the number of partitions deleted."""
    today = today or dt.datetime.now(dt.UTC).date()
    cutoff = today - dt.timedelta(days=keep_days)
    deleted = 0
    for base in (events_dir(), drops_dir()):
        for part in base.iterdir():
            if not part.is_dir() or not part.name.startswith("date="):
                continue
            try:
                day = dt.date.fromisoformat(part.name[5:])
            except ValueError:
                continue
            if day < cutoff:
                for f in part.iterdir():
                    f.unlink()
                part.rmdir()
                deleted += 1
    visits.retention_apply(cutoff)
    return deleted


# --- orders export (incremental, watermark on updated_at) ----------------------------------------------

ORDER_SCHEMA = pa.schema(
    [
        ("id", pa.int64()),
        ("number", pa.string()),
        ("channel", pa.string()),
        ("stage", pa.string()),
        ("payment_status", pa.string()),
        ("total_gross", pa.decimal128(20, 2)),
        ("currency", pa.string()),
        ("placed_at", pa.timestamp("us", tz="UTC")),
        ("updated_at", pa.timestamp("us", tz="UTC")),
    ]
)


def orders_dir() -> Path:
    path = spool.root() / "orders"
    path.mkdir(parents=True, exist_ok=True)
    return path


def orders_export(*, batch: int = 100_000, min_interval: float = 0) -> int:
    """Export orders changed since the last watermark into a new Parquet delta; returns rows exported.
    Re-running is safe: the `orders` view keeps the newest row per order id. With `min_interval`, nothing
    is done when the last export is more recent than that many seconds (the dashboard: the query on
    `updated_at` scans the orders table, ~1,000,000 rows in a large shop)."""
    from zaplecze.orders.models import Order

    state_path = orders_dir() / "state.json"
    if min_interval and state_path.exists():
        import time

        if time.time() - state_path.stat().st_mtime < min_interval:
            return 0
    state = json.loads(state_path.read_text()) if state_path.exists() else {"watermark": None, "seq": 0}
    qs = Order.objects.all()
    if state["watermark"]:
        qs = qs.filter(updated_at__gte=dt.datetime.fromisoformat(state["watermark"]))
    rows = qs.order_by("updated_at", "id").values_list(
        "id",
        "number",
        "channel__code",
        "stage",
        "payment_status",
        "total_gross",
        "currency",
        "placed_at",
        "updated_at",
    )
    total = 0
    buf: list[tuple] = []
    watermark = state["watermark"]

    def emit() -> None:
        nonlocal total, watermark
        if not buf:
            return
        cols = list(zip(*buf, strict=True))
        table = pa.Table.from_arrays(
            [
                pa.array(cols[0], pa.int64()),
                pa.array([str(n).strip().lstrip("#") for n in cols[1]], pa.string()),
                pa.array(cols[2], pa.string()),
                pa.array(cols[3], pa.string()),
                pa.array(cols[4], pa.string()),
                pa.array(cols[5], pa.decimal128(20, 2)),
                pa.array(cols[6], pa.string()),
                pa.array(cols[7], pa.timestamp("us", tz="UTC")),
                pa.array(cols[8], pa.timestamp("us", tz="UTC")),
            ],
            schema=ORDER_SCHEMA,
        )
        state["seq"] += 1
        write_parquet_atomic(table, orders_dir() / f"o-{state['seq']:08d}.parquet")
        total += len(buf)
        watermark = max(cols[8]).isoformat()
        buf.clear()

    for row in rows.iterator(chunk_size=5000):
        buf.append(row)
        if len(buf) >= batch:
            emit()
    emit()
    state["watermark"] = watermark
    spool.write_atomic(state_path, json.dumps(state).encode())
    return total


def orders_reset() -> None:
    """Forget the export (tests; after restoring a database backup)."""
    for f in orders_dir().iterdir():
        f.unlink()


# --- the query engine ------------------------------------------------------------------------------------


def _sql_type(t: pa.DataType) -> str:
    if pa.types.is_string(t):
        return "VARCHAR"
    if pa.types.is_timestamp(t):
        return "TIMESTAMPTZ"
    if pa.types.is_int64(t):
        return "BIGINT"
    if pa.types.is_int32(t):
        return "INTEGER"
    if pa.types.is_int16(t):
        return "SMALLINT"
    if pa.types.is_boolean(t):
        return "BOOLEAN"
    if pa.types.is_decimal(t):
        return f"DECIMAL({t.precision}, {t.scale})"
    if pa.types.is_date(t):
        return "DATE"
    if pa.types.is_list(t):
        return _sql_type(t.value_type) + "[]"
    if pa.types.is_struct(t):
        return "STRUCT(" + ", ".join(f'"{f.name}" {_sql_type(f.type)}' for f in t) + ")"
    raise TypeError(t)


def _ddl(name: str, schema: pa.Schema) -> str:
    """CREATE TABLE for an empty table of this schema (registering an Arrow table costs ~2 s on first use)."""
    types = [f'"{f.name}" {_sql_type(f.type)}' for f in schema]
    return f"CREATE TEMP TABLE {name} ({', '.join(types)})"


def events_source(d0: dt.date, d1: dt.date) -> str:
    """A FROM clause reading exactly the date partitions d0..d1 (pruned here, not by the engine: opening
    every partition's footer costs more than the query itself). `_empty_events` when there is none."""
    files: list[str] = []
    base = events_dir()
    day = d0
    while day <= d1:
        part = base / f"date={day.isoformat()}"
        if part.is_dir():
            files.extend(p.as_posix() for p in sorted(part.glob("*.parquet")))
        day += dt.timedelta(days=1)
    if not files:
        return "_empty_events"
    listed = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
    return f"read_parquet([{listed}])"


def _lit(base: Path, pattern: str) -> str:
    """A SQL string literal of a glob under one of our directories."""
    return "'" + f"{base.as_posix()}/{pattern}".replace("'", "''") + "'"


def connect():
    """A DuckDB connection with the views `events`, `drops` and `orders` over the Parquet files."""
    import duckdb

    con = duckdb.connect(config={"threads": 2})
    # footers read once per connection (a connection lives for one page; files are replaced, not edited)
    con.execute("SET parquet_metadata_cache = true")
    ev = events_dir()
    con.execute(_ddl("_empty_events", SCHEMA.append(pa.field("date", pa.date32()))))
    con.execute(_ddl("_empty_visits", visits.VISIT_SCHEMA))
    if any(ev.glob("*/*.parquet")):
        con.execute(
            f"CREATE VIEW events AS SELECT * FROM read_parquet({_lit(ev, '*/*.parquet')}, "  # noqa: S608
            "hive_partitioning = true, hive_types = {'date': DATE})"
        )
    else:
        con.execute("CREATE VIEW events AS SELECT * FROM _empty_events")
    dr = drops_dir()
    if any(dr.glob("*/*.parquet")):
        con.execute(
            f"CREATE VIEW drops AS SELECT * FROM read_parquet({_lit(dr, '*/*.parquet')}, hive_partitioning = false)"  # noqa: S608
        )
    else:
        con.execute(_ddl("_empty_drops", DROP_SCHEMA))
        con.execute("CREATE VIEW drops AS SELECT * FROM _empty_drops")
    con.execute(_ddl("_empty_orders", ORDER_SCHEMA))
    con.execute(f"CREATE VIEW orders AS {orders_sql()}")
    return con


def orders_sql(numbers: str | None = None) -> str:
    """SELECT the newest exported row of each order; only those whose number is in the subquery `numbers`
    when given (filtering before the dedupe: a shop has ~1,000,000 orders, a page names a few thousand)."""
    od = spool.root() / "orders"
    if not (od.exists() and any(od.glob("o-*.parquet"))):
        return "SELECT * FROM _empty_orders" + (f" WHERE number IN ({numbers})" if numbers else "")  # noqa: S608
    where = f"WHERE number IN ({numbers})" if numbers else ""
    return (
        "SELECT * EXCLUDE (rn, filename) FROM (SELECT *, row_number() OVER "  # noqa: S608
        "(PARTITION BY id ORDER BY updated_at DESC, filename DESC) AS rn "
        f"FROM read_parquet({_lit(od, 'o-*.parquet')}, filename = true) {where}) WHERE rn = 1"
    )


def new_event_id() -> str:
    return uuid.uuid4().hex


def iter_chunks(items: Iterable, size: int):
    buf = []
    for item in items:
        buf.append(item)
        if len(buf) >= size:
            yield buf
            buf = []
    if buf:
        yield buf
