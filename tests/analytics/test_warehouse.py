"""Spool -> Parquet: at-least-once delivery, dedupe by event id, nothing lost or doubled when a flush or
a compaction dies midway."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import textwrap

import pytest

from zaplecze.analytics import spool, warehouse

T0 = dt.datetime(2026, 11, 20, 23, 50, tzinfo=dt.UTC)  # events cross midnight: two partitions


def record(i: int, *, event_id: str | None = None) -> dict:
    ts = T0 + dt.timedelta(seconds=i * 3)
    return {
        "event_id": event_id or f"ev{i:08d}",
        "ts": int(ts.timestamp() * 1_000_000),
        "site": "shop.example",
        "event": "pageview",
        "visitor": i % 50,
        "path": f"/p/{i % 7}",
        "source": "direct",
        "device": "desktop",
        "origin": "collector",
        "is_bot": False,
        "is_static": False,
        "value": None,
    }


def fill_spool(n: int, *, segments: int = 4) -> set[str]:
    """n events over `segments` segment files (one per minute)."""
    ids = set()
    per = n // segments
    for s in range(segments):
        minute = T0 + dt.timedelta(minutes=s)
        recs = [record(s * per + i) for i in range(per)]
        for k in range(0, len(recs), 25):  # several appends per segment, as separate requests would
            spool.append(recs[k : k + 25], now=minute)
        ids.update(r["event_id"] for r in recs)
        spool.close()
    return ids


def stored_ids() -> list[str]:
    con = warehouse.connect()
    return [r[0] for r in con.sql("SELECT event_id FROM events").fetchall()]


def test_flush_moves_the_spool_to_date_partitions(analytics_root):
    ids = fill_spool(400)
    report = warehouse.flush(now=T0 + dt.timedelta(hours=1))
    assert report["written"] == 400 and report["duplicates"] == 0
    assert sorted(stored_ids()) == sorted(ids)
    days = sorted(p.name for p in (analytics_root / "events").iterdir())
    assert days == ["date=2026-11-20", "date=2026-11-21"]
    assert spool.segments() == []  # sealed and fully committed segments are deleted


def test_repeated_event_ids_are_stored_once(analytics_root):
    spool.append([record(1), record(2)], now=T0)
    warehouse.flush(now=T0)
    spool.append([record(2), record(3), record(3)], now=T0)  # a client retry and a double send
    report = warehouse.flush(now=T0)
    assert report == {"segments": 1, "read": 3, "written": 1, "duplicates": 2, "corrupt": 0, "dropped": 0}
    assert sorted(stored_ids()) == ["ev00000001", "ev00000002", "ev00000003"]


def test_a_torn_last_line_waits_for_the_next_flush(analytics_root):
    spool.append([record(1)], now=T0)
    seg = spool.segments()[0]
    with open(seg, "ab") as fh:
        fh.write(b'{"event_id": "half')
    assert warehouse.flush(now=T0)["read"] == 1
    assert stored_ids() == ["ev00000001"]


@pytest.mark.parametrize("point", ["after_partition", "before_commit", "after_commit"])
def test_exception_injected_midway_loses_and_doubles_nothing(analytics_root, point):
    ids = fill_spool(400)
    calls = {"n": 0}

    def crash(label):
        if label == point:
            calls["n"] += 1
            if calls["n"] == 2:
                raise RuntimeError(f"injected crash at {label}")

    warehouse.crash_point = crash
    with pytest.raises(RuntimeError):
        warehouse.flush(now=T0 + dt.timedelta(hours=1))
    warehouse.crash_point = None
    warehouse.flush(now=T0 + dt.timedelta(hours=1))
    got = stored_ids()
    assert len(got) == len(ids) == 400
    assert set(got) == ids


def test_flush_killed_with_sigkill_loses_and_doubles_nothing(analytics_root, settings):
    """A real process dies (SIGKILL) between writing Parquet and committing the spool offset."""
    ids = fill_spool(2000, segments=8)
    script = textwrap.dedent(
        """
        import datetime as dt, os, signal, django
        django.setup()
        from zaplecze.analytics import warehouse
        seen = {"n": 0}
        def crash(label):
            if label == "before_commit":
                seen["n"] += 1
                if seen["n"] == 3:
                    os.kill(os.getpid(), signal.SIGKILL)
        warehouse.crash_point = crash
        warehouse.flush(now=dt.datetime(2026, 11, 21, 1, 0, tzinfo=dt.UTC))
        """
    )
    env = {
        **os.environ,
        "ZAPLECZE_DATA_DIR": str(settings.DATA_DIR),
        "DJANGO_SETTINGS_MODULE": "zaplecze.settings",
    }
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, timeout=120)
    assert proc.returncode == -9, proc.stderr.decode()[-2000:]
    partial = stored_ids()
    assert 0 < len(partial) < 2000  # it really died midway
    warehouse.flush(now=T0 + dt.timedelta(hours=1))
    got = stored_ids()
    assert len(got) == 2000
    assert set(got) == ids


@pytest.mark.parametrize("point", ["compact_journal", "compact_written"])
def test_compaction_interrupted_is_recovered_without_doubles(analytics_root, point):
    for k in range(10):  # ten small files in one partition
        spool.append([record(i) for i in range(k * 10, k * 10 + 10)], now=T0)
        warehouse.flush(now=T0)
    part = analytics_root / "events" / "date=2026-11-20"
    n_files = len(list(part.glob("*.parquet")))
    assert n_files >= 8

    def crash(label):
        if label == point:
            raise RuntimeError("injected")

    warehouse.crash_point = crash
    with pytest.raises(RuntimeError):
        warehouse.compact()
    warehouse.crash_point = None
    warehouse.recover()
    assert sorted(stored_ids()) == [f"ev{i:08d}" for i in range(100)]
    warehouse.compact()
    assert len(list(part.glob("*.parquet"))) == 1
    got = stored_ids()
    assert len(got) == len(set(got)) == 100


def test_retention_deletes_old_partitions(analytics_root):
    spool.append([record(1)], now=T0)
    warehouse.flush(now=T0)
    assert warehouse.retention_apply(keep_days=30, today=dt.date(2026, 12, 1)) == 0
    assert warehouse.retention_apply(keep_days=5, today=dt.date(2026, 12, 1)) == 1
    assert stored_ids() == []
