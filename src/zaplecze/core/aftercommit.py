"""Call an extension point once after the current transaction commits, with every id gathered in it.

A lower module announces a change (``notify("inventory.stock_changed", [variant ids])``) as often as it
likes inside a transaction; the callables registered at the point run once, after the outermost commit,
with the union of the ids (sorted). Nothing runs when the transaction rolls back, and nothing at all is
gathered when nobody is registered at the point (no cost on the hot paths of a setup without listeners).
Outside a transaction (autocommit) the point is called at once.

Extra positional arguments (`*key`) separate batches: ``notify("catalog.prices_changed", ids, "allegro")``
and ``notify(..., ids, "")`` are called separately, each with its own ids and the key appended.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from django.db import transaction

from . import extensions

log = logging.getLogger("zaplecze.core")

_ATTR = "_zaplecze_aftercommit"


class _Batch:
    __slots__ = ("ids", "owner", "fire")

    def __init__(self, owner: list) -> None:
        self.ids: set[int] = set()
        self.owner = owner  # the connection's run_on_commit list when the batch was registered


def notify(point: str, ids: Iterable[int], *key: Any, using: str | None = None) -> None:
    if not extensions.registered(point):
        return
    ids = {int(i) for i in ids}
    if not ids:
        return
    conn = transaction.get_connection(using)
    if not conn.in_atomic_block:
        _call(point, sorted(ids), key)
        return
    batches: dict[tuple, _Batch] = conn.__dict__.setdefault(_ATTR, {})
    batch = batches.get((point, key))
    if batch is not None and batch.owner is not conn.run_on_commit:
        # The on-commit list was replaced (a commit, a rollback, or a savepoint rolled back): the batch is
        # still live only if its callback is still queued.
        if any(func is batch.fire for _sids, func, _robust in conn.run_on_commit):
            batch.owner = conn.run_on_commit
        else:
            batch = None
    if batch is None:
        batch = _Batch(conn.run_on_commit)
        batches[(point, key)] = batch

        def fire(batch: _Batch = batch) -> None:
            if batches.get((point, key)) is batch:
                del batches[(point, key)]
            _call(point, sorted(batch.ids), key)

        batch.fire = fire
        transaction.on_commit(fire, using=using)
        # on_commit may have replaced nothing, but the list object is the one to compare against now.
        batch.owner = conn.run_on_commit
    batch.ids |= ids


def _call(point: str, ids: list[int], key: tuple) -> None:
    for name, fn in extensions.registered(point).items():
        try:
            fn(ids, *key)
        except Exception:  # a listener's failure must not break the committed write that announced it
            log.exception("after-commit listener %s at %s failed", name, point)
