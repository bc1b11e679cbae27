"""The worker's heartbeat: a timestamp the worker writes every minute into the queue's own key-value store
(Huey `put`/`get`: the SQLite queue file, or Redis), where the web processes read it for `/readyz`.

Kept in the queue store rather than a table or a file so that it proves the worker is running *and* reaches
the same queue as the web processes, wherever they run, with no migration.
"""

from __future__ import annotations

import os
import socket
import time

KEY = "zaplecze:worker-heartbeat"


def beat(*, now: float | None = None) -> dict:
    """Record that the worker is alive (called by a periodic task every minute and at worker start)."""
    from huey.contrib.djhuey import HUEY

    data = {"at": time.time() if now is None else now, "pid": os.getpid(), "host": socket.gethostname()}
    HUEY.put(KEY, data)
    return data


def last() -> dict | None:
    """The last heartbeat ({"at": epoch seconds, "pid", "host"}), or None when the worker never beat."""
    from huey.contrib.djhuey import HUEY

    data = HUEY.get(KEY, peek=True)
    return data if isinstance(data, dict) and "at" in data else None
