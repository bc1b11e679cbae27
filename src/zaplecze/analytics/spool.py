"""The durable spool: append-only JSON-lines segment files under ZAPLECZE_DATA_DIR/analytics/spool.

The collector appends one line per event (or per dropped event) and fsyncs before it answers, so an event
that got a 2xx is on disk. Each process writes its own segment per minute
(`seg-YYYYMMDDHHMM-<pid>.jsonl`), so writers never interleave. The flusher (warehouse.flush) reads each
segment from its committed offset up to the last complete line; a segment is deleted only when it is
older than two minutes and fully committed.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
from pathlib import Path

from django.conf import settings

_lock = threading.Lock()
_open: dict[str, int] = {}  # segment name -> fd, this process's current segment only


def root() -> Path:
    return Path(settings.DATA_DIR) / "analytics"


def spool_dir() -> Path:
    path = root() / "spool"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _segment_name(now: dt.datetime) -> str:
    return f"seg-{now.strftime('%Y%m%d%H%M')}-{os.getpid()}.jsonl"


def append(records: list[dict], *, now: dt.datetime | None = None) -> None:
    """Append records as JSON lines to this process's current segment and fsync. Raises OSError when the
    disk refuses (the caller answers 503 and the client retries)."""
    if not records:
        return
    now = now or dt.datetime.now(dt.UTC)
    data = b"".join(
        json.dumps(r, ensure_ascii=False, separators=(",", ":"), default=str).encode() + b"\n"
        for r in records
    )
    name = _segment_name(now)
    with _lock:
        fd = _open.get(name)
        if fd is None:
            for old, old_fd in list(_open.items()):
                os.close(old_fd)
                del _open[old]
            fd = os.open(spool_dir() / name, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            _open[name] = fd
        os.write(fd, data)
        os.fsync(fd)


def close() -> None:
    """Close this process's open segment (tests; before fork)."""
    with _lock:
        for name, fd in list(_open.items()):
            os.close(fd)
            del _open[name]


def segments() -> list[Path]:
    return sorted(spool_dir().glob("seg-*.jsonl"))


def segment_minute(path: Path) -> dt.datetime | None:
    try:
        stamp = path.name.split("-")[1]
        return dt.datetime.strptime(stamp, "%Y%m%d%H%M").replace(tzinfo=dt.UTC)
    except (IndexError, ValueError):
        return None


def is_sealed(path: Path, now: dt.datetime) -> bool:
    """No writer appends to a segment whose minute is over two minutes past (writers switch every minute)."""
    minute = segment_minute(path)
    return minute is not None and minute < now - dt.timedelta(minutes=2)


# --- committed offsets --------------------------------------------------------------------------------


def _offsets_path() -> Path:
    return spool_dir() / "offsets.json"


def offsets_load() -> dict[str, int]:
    try:
        return {k: int(v) for k, v in json.loads(_offsets_path().read_text()).items()}
    except FileNotFoundError:
        return {}


def write_atomic(path: Path, data: bytes) -> None:
    """Write a whole file or nothing: temp file, fsync, rename, fsync the directory."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    fsync_dir(path.parent)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def offsets_save(offsets: dict[str, int]) -> None:
    write_atomic(_offsets_path(), json.dumps(offsets, sort_keys=True).encode())


def read_complete(path: Path, start: int) -> tuple[bytes, int]:
    """The bytes from `start` to the last complete line, and the offset after them."""
    with open(path, "rb") as fh:
        fh.seek(start)
        data = fh.read()
    cut = data.rfind(b"\n")
    if cut < 0:
        return b"", start
    return data[: cut + 1], start + cut + 1
