"""Readiness checks behind `/readyz`: the database, the worker's heartbeat, the analytics spool backlog.

Each check returns a `Check` (name, ok, a short detail and figures). Thresholds are settings:
READY_DB_TIMEOUT (seconds), READY_HEARTBEAT_MAX_AGE (seconds; 0 turns the check off),
READY_SPOOL_MAX_BYTES and READY_SPOOL_MAX_AGE (seconds).
"""

from __future__ import annotations

import contextvars
import datetime as dt
import threading
import time
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connections

from zaplecze.analytics import spool
from zaplecze.core import heartbeat


@dataclass
class Check:
    name: str
    ok: bool
    detail: str = ""
    figures: dict = field(default_factory=dict)
    skipped: bool = False

    def public(self) -> dict:
        return {"ok": self.ok}

    def full(self) -> dict:
        out: dict = {"ok": self.ok, "detail": self.detail, **self.figures}
        if self.skipped:
            out["skipped"] = True
        return out


# --- database ---------------------------------------------------------------------------------------------


def _ping_database() -> None:
    """`SELECT 1` on a connection of its own (this runs in a helper thread), closed afterwards."""
    conn = connections["default"]
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1")
            cur.fetchone()
    finally:
        conn.close()


def check_database() -> Check:
    timeout = settings.READY_DB_TIMEOUT
    outcome: dict = {}

    def run() -> None:
        try:
            _ping_database()
            outcome["ok"] = True
        except Exception as exc:  # any driver error means "not ready"
            outcome["error"] = type(exc).__name__

    started = time.perf_counter()
    # The request's context (its id, for log lines) goes along into the helper thread.
    thread = threading.Thread(
        target=contextvars.copy_context().run, args=(run,), name="readyz-db", daemon=True
    )
    thread.start()
    thread.join(timeout)
    ms = round((time.perf_counter() - started) * 1000, 1)
    if thread.is_alive():
        return Check("database", False, f"no answer within {timeout:g} s", {"ms": ms})
    if "error" in outcome:
        # Only the exception's class: its text may name the host, the user or the file.
        return Check("database", False, f"error: {outcome['error']}", {"ms": ms})
    return Check("database", True, "SELECT 1 answered", {"ms": ms})


# --- worker heartbeat ---------------------------------------------------------------------------------------


def worker_expected() -> bool:
    """False when queued jobs run inline (ZAPLECZE_QUEUE_IMMEDIATE): there is no worker to wait for."""
    from huey.contrib.djhuey import HUEY

    return not HUEY.immediate


def check_worker(*, now: float | None = None) -> Check:
    max_age = settings.READY_HEARTBEAT_MAX_AGE
    if max_age <= 0:
        return Check("worker", True, "check turned off (READY_HEARTBEAT_MAX_AGE=0)", skipped=True)
    if not worker_expected():
        return Check("worker", True, "jobs run inline (QUEUE_IMMEDIATE): no worker", skipped=True)
    now = time.time() if now is None else now
    try:
        beat = heartbeat.last()
    except Exception as exc:
        return Check("worker", False, f"queue store unreadable: {type(exc).__name__}", {})
    if beat is None:
        return Check(
            "worker", False, "no heartbeat yet: is `zaplecze worker` running?", {"max_age_s": max_age}
        )
    age = max(0.0, now - float(beat["at"]))
    figures = {"heartbeat_age_s": round(age, 1), "max_age_s": max_age}
    if age > max_age:
        return Check("worker", False, f"last heartbeat {age:.0f} s ago", figures)
    return Check("worker", True, "heartbeat is fresh", figures)


# --- analytics spool ----------------------------------------------------------------------------------------


@dataclass
class SpoolBacklog:
    segments: int = 0
    pending_segments: int = 0
    pending_bytes: int = 0
    oldest_pending_age_s: float = 0.0


def spool_backlog(*, now: dt.datetime | None = None) -> SpoolBacklog:
    """What the collector wrote that the worker has not yet flushed to Parquet (bytes past the committed
    offsets), and how old the oldest such segment is (from its minute, in its name)."""
    now = now or dt.datetime.now(dt.UTC)
    offsets = spool.offsets_load()
    out = SpoolBacklog()
    oldest: dt.datetime | None = None
    for seg in spool.segments():
        try:
            size = seg.stat().st_size
        except FileNotFoundError:  # flushed and deleted meanwhile
            continue
        out.segments += 1
        pending = max(0, size - offsets.get(seg.name, 0))
        if not pending:
            continue
        out.pending_segments += 1
        out.pending_bytes += pending
        minute = spool.segment_minute(seg)
        if minute is not None and (oldest is None or minute < oldest):
            oldest = minute
    if oldest is not None:
        out.oldest_pending_age_s = max(0.0, (now - oldest).total_seconds())
    return out


def check_spool(*, now: dt.datetime | None = None) -> Check:
    try:
        backlog = spool_backlog(now=now)
    except (OSError, ValueError) as exc:
        return Check("spool", False, f"spool unreadable: {type(exc).__name__}", {})
    max_bytes, max_age = settings.READY_SPOOL_MAX_BYTES, settings.READY_SPOOL_MAX_AGE
    figures = {
        "pending_bytes": backlog.pending_bytes,
        "pending_segments": backlog.pending_segments,
        "oldest_pending_age_s": round(backlog.oldest_pending_age_s, 1),
        "max_bytes": max_bytes,
        "max_age_s": max_age,
    }
    if backlog.pending_bytes > max_bytes:
        return Check("spool", False, f"{backlog.pending_bytes} bytes not flushed", figures)
    if backlog.oldest_pending_age_s > max_age:
        return Check("spool", False, f"events waiting {backlog.oldest_pending_age_s:.0f} s", figures)
    return Check("spool", True, "flushed in time", figures)


def run_all() -> list[Check]:
    return [check_database(), check_worker(), check_spool()]
