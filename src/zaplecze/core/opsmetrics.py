"""Process metrics kept with prometheus_client in multiprocess mode (several gunicorn processes, the worker).

Every process writes its counters to memory-mapped files in METRICS_DIR (settings.py points
PROMETHEUS_MULTIPROC_DIR there before prometheus_client is imported); `/metrics` (monitoring/ops.py) sums
all the files at scrape. Files of processes that have ended are folded into one `*_archive.db` file per type
when a process starts (`compact()`), so counters never go backwards across restarts and the directory does
not grow with every restart. The directory must be local to one host/container (pids are checked).

Only counters and histograms are kept here; gauges (queue depth, sync lag, ...) are computed at scrape.
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import logging
import os
import threading
from collections.abc import Iterator

from prometheus_client import Counter, Histogram

log = logging.getLogger("zaplecze.ops")

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

REQUESTS = Counter(
    "zaplecze_http_requests",
    "HTTP requests answered, by URL name, method and status code.",
    ["view", "method", "status"],
)
REQUEST_SECONDS = Histogram(
    "zaplecze_http_request_duration_seconds",
    "Time to answer an HTTP request (inside Django), by URL name and method.",
    ["view", "method"],
    buckets=LATENCY_BUCKETS,
)
TASKS = Counter(
    "zaplecze_tasks",
    "Background tasks run by the worker, by task name and outcome (complete, error, retrying, ...).",
    ["task", "outcome"],
)


def request_observe(*, view: str, method: str, status: int, seconds: float) -> None:
    method = method if method in _METHODS else "other"
    try:
        REQUESTS.labels(view, method, str(status)).inc()
        REQUEST_SECONDS.labels(view, method).observe(seconds)
    except Exception:  # metrics never break a request (a full disk, say)
        log.warning("request metrics not recorded", exc_info=True)


def metrics_dir() -> str | None:
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    return path if path and os.path.isdir(path) else None


@contextlib.contextmanager
def dir_lock(shared: bool) -> Iterator[None]:
    """Scrapes read under a shared lock; compaction rewrites under the exclusive one (no double counting)."""
    path = metrics_dir()
    if path is None:
        yield
        return
    fd = os.open(os.path.join(path, ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def compact() -> int:
    """Fold the counter/histogram files of ended processes into the archive files. Returns files folded."""
    from prometheus_client.mmap_dict import MmapedDict, mmap_key
    from prometheus_client.multiprocess import MultiProcessCollector

    path = metrics_dir()
    if path is None:
        return 0
    folded = 0
    with dir_lock(shared=False):
        for typ in ("counter", "histogram"):
            dead = []
            for name in glob.glob(os.path.join(path, f"{typ}_*.db")):
                pid = os.path.basename(name)[len(typ) + 1 : -3]
                if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
                    dead.append(name)
            if not dead:
                continue
            archive = os.path.join(path, f"{typ}_archive.db")
            sources = [*dead, archive] if os.path.exists(archive) else dead
            merged = MultiProcessCollector.merge(sources, accumulate=False)
            tmp = os.path.join(path, f".{typ}_archive.tmp-{os.getpid()}")
            if os.path.exists(tmp):
                os.unlink(tmp)
            out = MmapedDict(tmp)
            try:
                for metric in merged:
                    for sample in metric.samples:
                        key = mmap_key(
                            metric.name,
                            sample.name,
                            list(sample.labels.keys()),
                            list(sample.labels.values()),
                            metric.documentation,
                        )
                        out.write_value(key, sample.value, 0.0)
            finally:
                out.close()
            os.replace(tmp, archive)
            for name in dead:
                os.unlink(name)
            folded += len(dead)
    return folded


_installed = threading.Lock()
_done = {"compacted": False, "hooks": False}


def compact_once() -> None:
    """At process start: fold what earlier processes left (errors only logged)."""
    with _installed:
        if _done["compacted"]:
            return
        _done["compacted"] = True
    try:
        compact()
    except Exception:
        log.warning("metrics directory compaction failed", exc_info=True)


def install_task_hooks() -> None:
    """Count task outcomes, log each enqueue with the request id, and mark log records made inside a task
    with its name and id. Called once per process (the web processes' middleware, the worker's core.tasks)."""
    compact_once()
    with _installed:
        if _done["hooks"]:
            return
        _done["hooks"] = True
    from huey import signals as S
    from huey.contrib.djhuey import HUEY

    from .requestlog import current_request_id, set_task

    task_log = logging.getLogger("zaplecze.tasks")

    @HUEY.signal(S.SIGNAL_ENQUEUED)
    def _enqueued(signal, task, *args):
        # Within a request: INFO, the line that ties the request id to the task id. The scheduler's periodic
        # enqueues (no request): DEBUG, or the worker's log would get a line per periodic task per minute.
        level = logging.INFO if current_request_id() else logging.DEBUG
        task_log.log(level, "task enqueued: %s", task.name, extra={"task_id": task.id})

    @HUEY.signal(
        S.SIGNAL_COMPLETE,
        S.SIGNAL_ERROR,
        S.SIGNAL_RETRYING,
        S.SIGNAL_EXPIRED,
        S.SIGNAL_REVOKED,
        S.SIGNAL_CANCELED,
        S.SIGNAL_INTERRUPTED,
        S.SIGNAL_LOCKED,
    )
    def _outcome(signal, task, *args):
        try:
            TASKS.labels(task.name[:100], signal).inc()
        except Exception:
            log.warning("task metrics not recorded", exc_info=True)

    @HUEY.pre_execute()
    def _begin(task):
        set_task(task.name, task.id)

    @HUEY.post_execute()
    def _end(task, task_value, exc):
        set_task(None)
