"""Where the order services tell automation that something happened (created, paid, status changed, tag
added). Kept tiny and import-light: `orders.services` calls `emit()` inside its transaction; the event is
handed to the worker only after commit (`transaction.on_commit`), so a rolled-back change fires nothing and
the request is not slowed by rule evaluation.

Loop guard: while a rule's actions run, `automation` sets the current chain (depth and the (rule, order)
pairs that already ran); an event emitted by those actions carries the chain on, one level deeper."""

from __future__ import annotations

import contextlib
import contextvars
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

log = logging.getLogger("zaplecze.automation")

CREATED = "order_created"
PAID = "order_paid"
STATUS_CHANGED = "status_changed"
TAG_ADDED = "tag_added"


@dataclass(frozen=True)
class Chain:
    """The causal chain an event belongs to: 0 for a direct event, n when n rule runs led to it."""

    depth: int = 0
    fired: tuple[tuple[int, int], ...] = ()  # (rule id, order id) pairs that already ran in this chain


_chain: contextvars.ContextVar[Chain | None] = contextvars.ContextVar("automation_chain", default=None)
_batch: contextvars.ContextVar[list | None] = contextvars.ContextVar("automation_batch", default=None)


@contextlib.contextmanager
def running(chain: Chain) -> Iterator[None]:
    """Events emitted inside belong to `chain` (used by the rule runner around a rule's actions)."""
    token = _chain.set(chain)
    try:
        yield
    finally:
        _chain.reset(token)


@dataclass
class _Collected:
    events: dict[tuple[str, tuple], list[int]] = field(default_factory=dict)


@contextlib.contextmanager
def batch() -> Iterator[None]:
    """Collect the events of many intakes (an import) and emit them grouped when the block ends: one worker
    job per kind of event instead of one per order."""
    if _batch.get() is not None:  # already collecting
        yield
        return
    collected: list = []
    token = _batch.set(collected)
    try:
        yield
    finally:
        _batch.reset(token)
    grouped: dict[tuple[str, str], tuple[dict, list[int]]] = {}
    for trigger, ids, data in collected:
        key = (trigger, repr(sorted(data.items())))
        entry = grouped.setdefault(key, (data, []))
        entry[1].extend(ids)
    for (trigger, _key), (data, ids) in grouped.items():
        emit(trigger, list(dict.fromkeys(ids)), data)


def emit(trigger: str, order_ids: Iterable[int], data: dict[str, Any] | None = None) -> None:
    """Queue automation for `order_ids` after the current transaction commits (at once when there is none)."""
    ids = [int(i) for i in order_ids]
    if not ids:
        return
    data = dict(data or {})
    collected = _batch.get()
    if collected is not None and _chain.get() is None:
        collected.append((trigger, ids, data))
        return
    from .automation import needs_run

    if not needs_run(trigger):  # no enabled rule and no hook for this event: nothing to queue
        return
    chain = _chain.get() or Chain()
    transaction.on_commit(lambda: _dispatch(trigger, ids, data, chain))


def _dispatch(trigger: str, ids: list[int], data: dict[str, Any], chain: Chain) -> None:
    try:
        from .tasks import automation_event_task

        for start in range(0, len(ids), 500):
            automation_event_task(
                trigger,
                ids[start : start + 500],
                data,
                chain.depth,
                [list(pair) for pair in chain.fired],
            )
    except Exception:  # the change itself is committed; a lost event must not break the request
        log.exception("could not queue automation for %s %s", trigger, ids[:10])


def paid_now(before: str | None, after: str | None) -> bool:
    """True when a payment status change means the order has just become paid."""
    return after == "paid" and before != "paid"


# --- the calls `orders.services` makes (one line each at its emission points) ---------------------------


def order_created(order: Any) -> None:
    """A new order: "created", and "paid" when it arrives paid."""
    emit(CREATED, [order.pk])
    if order.payment_status == "paid":
        emit(PAID, [order.pk])


def orders_created(orders: Iterable[Any]) -> None:
    """Many new orders (bulk intake)."""
    orders = list(orders)
    emit(CREATED, [o.pk for o in orders])
    emit(PAID, [o.pk for o in orders if o.payment_status == "paid"])


def order_changed(order: Any, *, from_status: str, from_payment: str | None) -> None:
    """A channel update: a status change and/or the order becoming paid."""
    if order.status.code != from_status:
        status_changed(order, from_status)
    if paid_now(from_payment, order.payment_status):
        emit(PAID, [order.pk])


def status_changed(order: Any, from_status: str) -> None:
    emit(STATUS_CHANGED, [order.pk], {"from": from_status, "to": order.status.code})


def order_edited(order: Any, changes: dict[str, list[Any]]) -> None:
    """A staff edit (`changes`: {field: [before, after]}): paid when the payment status became paid."""
    if "payment_status" in changes and paid_now(changes["payment_status"][0], order.payment_status):
        emit(PAID, [order.pk])


def tags_added(added: dict[int, list[str]]) -> None:
    """{order id: tag names added}; grouped so the same tags on many orders make one job."""
    groups: dict[tuple[str, ...], list[int]] = {}
    for order_id, names in added.items():
        if names:
            groups.setdefault(tuple(sorted(names)), []).append(order_id)
    for names, ids in groups.items():
        emit(TAG_ADDED, ids, {"tags": list(names)})


def statuses_changed(pairs: Iterable[tuple[Any, str]]) -> None:
    """Many status changes (bulk transition): (order, from status code) pairs, one job per (from, to)."""
    groups: dict[tuple[str, str], list[int]] = {}
    for order, from_status in pairs:
        groups.setdefault((from_status, order.status.code), []).append(order.pk)
    for (src, dst), ids in groups.items():
        emit(STATUS_CHANGED, ids, {"from": src, "to": dst})
