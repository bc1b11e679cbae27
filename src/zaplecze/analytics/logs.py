"""Server access logs (nginx/Apache "combined" or "common", plain or .gz) into the event store.

Streaming and incremental: each file is identified by a hash of its site and first 64 KiB, lines are read
in chunks, each chunk becomes Parquet files named after the file and its line range, and the file's
watermark (last imported line) is committed after the chunk. Re-importing a file imports only new lines;
an import killed midway resumes without doubles. Malformed lines are counted and sampled, never fatal.
"""

from __future__ import annotations

import calendar
import datetime as dt
import gzip
import hashlib
import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from . import classify, spool, warehouse
from .pipeline import salt_for, visitor_hash

FORMATS = ("combined", "common")
CHUNK_LINES = 200_000
SAMPLE_MAX = 10

_Q = r'"([^"\\]*(?:\\.[^"\\]*)*)"'
_HEAD = r"^(\S+) \S+ \S+ \[([^\]]+)\] " + _Q + r" (\d{3}) (\d+|-)"
_RE = {
    # The user agent may miss its closing quote (a truncated line): GoAccess counts such a line as valid.
    "combined": re.compile(_HEAD + r" " + _Q + r' "([^"\\]*(?:\\.[^"\\]*)*)"?\s*$'),
    "common": re.compile(_HEAD + r"\s*$"),
}
_MONTHS = {m: i for i, m in enumerate(calendar.month_abbr) if m}


class LogFormatError(ValueError):
    pass


@dataclass
class ImportReport:
    files: int = 0
    lines: int = 0
    imported: int = 0
    skipped: int = 0  # already imported earlier (below the file's watermark)
    malformed: int = 0
    pageviews: int = 0
    static: int = 0
    crawlers: int = 0
    invalid_utf8: int = 0
    samples: list = field(default_factory=list)  # [{"file", "line", "text"}]
    hint: str = ""

    def as_dict(self) -> dict:
        return {
            "files": self.files,
            "lines": self.lines,
            "imported": self.imported,
            "skipped": self.skipped,
            "malformed": self.malformed,
            "pageviews": self.pageviews,
            "static": self.static,
            "crawlers": self.crawlers,
            "invalid_utf8": self.invalid_utf8,
            "malformed_samples": self.samples,
            "hint": self.hint,
        }


_day_cache: dict[str, tuple[int, int]] = {}


def parse_time(value: str) -> int:
    """`17/May/2015:10:05:03 +0000` -> microseconds since the epoch (UTC). Raises ValueError."""
    key = value[:11] + value[20:]
    base = _day_cache.get(key)
    if base is None:
        day, mon, year = int(value[0:2]), _MONTHS[value[3:6]], int(value[7:11])
        off = value[21:26] if len(value) >= 26 else "+0000"
        sign = -1 if off[0] == "-" else 1
        offset = sign * (int(off[1:3]) * 3600 + int(off[3:5]) * 60)
        base = (calendar.timegm((year, mon, day, 0, 0, 0)) - offset, 0)
        if len(_day_cache) > 10000:
            _day_cache.clear()
        _day_cache[key] = base
    if value[11] != ":" or value[14] != ":" or value[17] != ":":
        raise ValueError(value)
    secs = base[0] + int(value[12:14]) * 3600 + int(value[15:17]) * 60 + int(value[18:20])
    return secs * 1_000_000


def _open(path: Path):
    raw = open(path, "rb")  # noqa: SIM115 - closed by the caller through the wrapper
    head = raw.read(2)
    raw.seek(0)
    binary = gzip.GzipFile(fileobj=raw) if head == b"\x1f\x8b" else raw
    return raw, binary


def file_id(path: Path, site: str) -> str:
    raw, binary = _open(path)
    try:
        head = binary.read(65536)
    finally:
        raw.close()
    return hashlib.sha1(site.encode() + b"\0" + head, usedforsecurity=False).hexdigest()[:16]


def _state_path(fid: str) -> Path:
    path = spool.root() / "logs"
    path.mkdir(parents=True, exist_ok=True)
    return path / f"{fid}.json"


class _Columns:
    __slots__ = ("cols",)

    NAMES = (
        "event_id ts event visitor path raw_path referrer source source_name utm_source utm_medium utm_campaign "
        "device browser os is_bot is_static status bytes method"
    ).split()

    def __init__(self):
        self.cols = {n: [] for n in self.NAMES}

    def __len__(self):
        return len(self.cols["event_id"])

    def table(self, site: str) -> pa.Table:
        n = len(self)
        c = self.cols
        empty = pa.array([""] * n, pa.string())
        arrays = {
            "event_id": pa.array(c["event_id"], pa.string()),
            "ts": pa.array(c["ts"], pa.timestamp("us", tz="UTC")),
            "site": pa.array([site] * n, pa.string()),
            "event": pa.array(c["event"], pa.string()),
            "name": empty,
            "visitor": pa.array(c["visitor"], pa.int64()),
            "path": pa.array(c["path"], pa.string()),
            "raw_path": pa.array(c["raw_path"], pa.string()),
            "host": pa.array([site] * n, pa.string()),
            "referrer": pa.array(c["referrer"], pa.string()),
            "source": pa.array(c["source"], pa.string()),
            "source_name": pa.array(c["source_name"], pa.string()),
            "utm_source": pa.array(c["utm_source"], pa.string()),
            "utm_medium": pa.array(c["utm_medium"], pa.string()),
            "utm_campaign": pa.array(c["utm_campaign"], pa.string()),
            "utm_content": empty,
            "utm_term": empty,
            "device": pa.array(c["device"], pa.string()),
            "browser": pa.array(c["browser"], pa.string()),
            "os": pa.array(c["os"], pa.string()),
            "is_bot": pa.array(c["is_bot"], pa.bool_()),
            "is_static": pa.array(c["is_static"], pa.bool_()),
            "sku": empty,
            "order_number": empty,
            "value": pa.nulls(n, pa.decimal128(20, 2)),
            "currency": empty,
            "props": empty,
            "origin": pa.array(["log"] * n, pa.string()),
            "status": pa.array(c["status"], pa.int16()),
            "bytes": pa.array(c["bytes"], pa.int64()),
            "method": pa.array(c["method"], pa.string()),
        }
        return pa.table([arrays[name] for name in warehouse.COLUMNS], schema=warehouse.SCHEMA)


def _write_chunk(cols: _Columns, *, site: str, name: str) -> None:
    """One Parquet file per date partition, named after the file and line range (idempotent)."""
    if not len(cols):
        return
    table = cols.table(site)
    import pyarrow.compute as pc

    days = pc.cast(pc.cast(table.column("ts"), pa.timestamp("us")), pa.date32())
    for day in pc.unique(days).to_pylist():
        part = table.filter(pc.equal(days, pa.scalar(day, pa.date32())))
        warehouse.write_parquet_atomic(part, warehouse.partition(day) / f"{name}.parquet")


def import_file(
    path: Path,
    *,
    site: str,
    fmt: str = "combined",
    report: ImportReport | None = None,
    progress: Callable[[int], None] | None = None,
    chunk_lines: int = CHUNK_LINES,
) -> ImportReport:
    """Import one log file. `progress(bytes_read_of_the_file_on_disk)` is called after each chunk."""
    if fmt not in FORMATS:
        raise LogFormatError(f"--format: one of {', '.join(FORMATS)}, not {fmt!r}")
    report = report or ImportReport()
    report.files += 1
    regex = _RE[fmt]
    other = _RE["common" if fmt == "combined" else "combined"]
    fid = file_id(path, site)
    state_path = _state_path(fid)
    state = json.loads(state_path.read_text()) if state_path.exists() else {"line": 0}
    watermark = int(state["line"])
    own = site.removeprefix("www.")
    visitors: dict[tuple, int] = {}
    cols = _Columns()
    c = cols.cols
    ev_id, ts_l, event_l, vis_l, path_l, raw_l = (
        c["event_id"],
        c["ts"],
        c["event"],
        c["visitor"],
        c["path"],
        c["raw_path"],
    )
    ref_l, src_l, srcn_l, us_l, um_l, uc_l = (
        c["referrer"],
        c["source"],
        c["source_name"],
        c["utm_source"],
        c["utm_medium"],
        c["utm_campaign"],
    )
    dev_l, br_l, os_l, bot_l, st_l, status_l, bytes_l, meth_l = (
        c["device"],
        c["browser"],
        c["os"],
        c["is_bot"],
        c["is_static"],
        c["status"],
        c["bytes"],
        c["method"],
    )
    agent = classify.agent
    is_static = classify.is_static
    host_of = classify.host_of
    ref_source = classify.referrer_source
    other_hits = 0
    last_day_key: int | None = None
    malformed_by_day: dict[dt.date, int] = {}
    chunk_start = watermark + 1
    raw, binary = _open(path)
    try:
        text = io.TextIOWrapper(binary, encoding="utf-8", errors="replace", newline="\n")
        lineno = 0
        for line in text:
            lineno += 1
            if lineno <= watermark:
                report.skipped += 1
                continue
            report.lines += 1
            if "\ufffd" in line:
                report.invalid_utf8 += 1
            m = regex.match(line)
            ok = m is not None
            if ok:
                ip, when, request, status, size = m.group(1, 2, 3, 4, 5)
                try:
                    ts = parse_time(when)
                except (ValueError, KeyError, IndexError):
                    ok = False
            if not ok:
                report.malformed += 1
                if other.match(line):
                    other_hits += 1
                day = (
                    dt.date(1970, 1, 1) + dt.timedelta(days=last_day_key)
                    if last_day_key is not None
                    else dt.datetime.now(dt.UTC).date()
                )
                malformed_by_day[day] = malformed_by_day.get(day, 0) + 1
                if len(report.samples) < SAMPLE_MAX:
                    report.samples.append(
                        {"file": str(path), "line": lineno, "text": line.rstrip("\n")[:300]}
                    )
            else:
                if fmt == "combined":
                    referrer, ua = m.group(6), m.group(7)
                else:
                    referrer, ua = "", ""
                parts = request.split(" ")
                if len(parts) >= 2:
                    method, target = parts[0], parts[1]
                else:
                    method, target = "", request
                qpos = target.find("?")
                page = target[:qpos] if qpos >= 0 else target
                a = agent(ua)
                static = is_static(page)
                day_key = ts // 86_400_000_000
                vkey = (day_key, ip, ua)
                visitor = visitors.get(vkey)
                if visitor is None:
                    day = dt.date(1970, 1, 1) + dt.timedelta(days=day_key)
                    visitor = visitor_hash(salt_for(day), site, ip, ua)
                    if len(visitors) > 500_000:
                        visitors.clear()
                    visitors[vkey] = visitor
                last_day_key = day_key
                code = int(status)
                ref_host = host_of(referrer)
                if ref_host and (ref_host == own or ref_host.endswith("." + own)):
                    ref_host = ""
                utm_s = utm_m = utm_c = ""
                if qpos >= 0 and "utm_" in target:
                    u = classify.split_url(target)
                    utm_s, utm_m, utm_c = (
                        u.utm.get("utm_source", ""),
                        u.utm.get("utm_medium", ""),
                        u.utm.get("utm_campaign", ""),
                    )
                    kind, sname = classify.source(ref_host, u.utm, query_keys=u.query_keys)
                else:
                    kind, sname = ref_source(ref_host)
                if a.is_bot:
                    report.crawlers += 1
                    event = "request"
                elif static:
                    report.static += 1
                    event = "request"
                elif method in ("GET", "HEAD") and code < 400:
                    report.pageviews += 1
                    event = "pageview"
                else:
                    event = "request"
                ev_id.append(f"{fid}:{lineno}")
                ts_l.append(ts)
                event_l.append(event)
                vis_l.append(visitor)
                path_l.append(page[:1000])
                raw_l.append(target[:2000])
                ref_l.append(ref_host)
                src_l.append(kind)
                srcn_l.append(sname)
                us_l.append(utm_s)
                um_l.append(utm_m)
                uc_l.append(utm_c)
                dev_l.append(a.device)
                br_l.append(a.browser)
                os_l.append(a.os)
                bot_l.append(a.is_bot)
                st_l.append(static)
                status_l.append(code)
                bytes_l.append(int(size) if size != "-" else 0)
                meth_l.append(method[:10])
                report.imported += 1
            if lineno - chunk_start + 1 >= chunk_lines:
                _commit(cols, site, fid, chunk_start, lineno, malformed_by_day, state, state_path, path)
                cols = _Columns()
                c = cols.cols
                ev_id, ts_l, event_l, vis_l, path_l, raw_l = (
                    c["event_id"],
                    c["ts"],
                    c["event"],
                    c["visitor"],
                    c["path"],
                    c["raw_path"],
                )
                ref_l, src_l, srcn_l, us_l, um_l, uc_l = (
                    c["referrer"],
                    c["source"],
                    c["source_name"],
                    c["utm_source"],
                    c["utm_medium"],
                    c["utm_campaign"],
                )
                dev_l, br_l, os_l, bot_l, st_l, status_l, bytes_l, meth_l = (
                    c["device"],
                    c["browser"],
                    c["os"],
                    c["is_bot"],
                    c["is_static"],
                    c["status"],
                    c["bytes"],
                    c["method"],
                )
                malformed_by_day = {}
                chunk_start = lineno + 1
                if progress:
                    progress(raw.tell())
        if lineno >= chunk_start:
            _commit(cols, site, fid, chunk_start, lineno, malformed_by_day, state, state_path, path)
        if progress:
            progress(raw.tell())
    finally:
        raw.close()
    if report.malformed and other_hits > report.malformed // 2:
        better = "common" if fmt == "combined" else "combined"
        report.hint = f"most malformed lines parse as --format {better}"
    return report


def _commit(cols, site, fid, start, end, malformed_by_day, state, state_path, path) -> None:
    name = f"l-{fid}-{start}-{end}"
    _write_chunk(cols, site=site, name=name)
    if malformed_by_day:
        drops = {(day, site, "log_import", "malformed_line"): n for day, n in malformed_by_day.items()}
        warehouse._write_drops(drops, name=name)
    warehouse._hit("before_commit")
    state.update({"line": end, "file": str(path), "site": site})
    spool.write_atomic(state_path, json.dumps(state).encode())


def import_logs(
    paths: list[Path],
    *,
    site: str,
    fmt: str = "combined",
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import several files into one report. A missing or unreadable file raises LogFormatError before
    anything is imported."""
    for p in paths:
        if not p.is_file():
            raise LogFormatError(f"{p}: no such file")
    report = ImportReport()
    done = 0
    for p in paths:
        size = p.stat().st_size
        base = done

        def step(pos: int, base=base) -> None:
            if progress:
                progress(base + pos)

        import_file(p, site=site, fmt=fmt, report=report, progress=step)
        done += size
    return report
