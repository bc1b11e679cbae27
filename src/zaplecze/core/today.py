"""The exceptions every module reports to the Today page: what a kind is, and what a detector finds.

A module that knows of something needing a person (an order late against its ship-by time, a complaint whose
answer is due, a channel that stopped syncing) registers an exception *kind* here, with a detector: a
function that, given the time and optionally the ids of some subjects, returns what is wrong now. The Today
app (`zaplecze.today`, at the top of the layers) runs the detectors, keeps one row per open exception, and
resolves a row by itself when its detector no longer finds it. Modules never import the Today app; they
depend only on this file.

Detectors must be cheap: they query the few objects that are in an exceptional state through indexes (open
orders past their ship-by time, not every order), so that a refresh costs in proportion to the exceptions,
not to the shop.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from . import extensions

POINT = "today.kinds"
TOUCH = "today.touch"

SEVERITIES = ("critical", "high", "normal", "low")


@dataclass
class Found:
    """One exception a detector sees now. `subject_id` with the kind identifies it across refreshes."""

    subject_id: int
    # What it is about ("Order #1042") and why, the evidence in one sentence. Either plain text, or a message
    # and its values (`(gettext_noop("Ship-by time passed %(hours)s h ago"), {"hours": 5})`) so that each
    # reader sees it in their own language.
    label: str | tuple[str, dict]
    why: str | tuple[str, dict]
    url: str = ""  # where to look at it
    due_at: dt.datetime | None = None
    severity: str | None = None  # None: the kind's default
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class QuickAction:
    """An action offered inline on the Today page: `run(subject_id=, actor=)` calls the module's service
    and returns a message; the page then asks the detector again about that subject."""

    code: str
    label: str
    run: Callable[..., str]
    confirm: str = ""  # a question to confirm, when the action is not easily undone
    permission: str = ""


@dataclass
class Kind:
    code: str  # unique, e.g. "orders.late"
    area: str  # orders, stock, shipping, service, purchasing, integrations, catalog, monitoring, ...
    label: Any  # lazy translated text
    subject_type: str  # order, complaint, ticket, connection, variant, ...
    detect: Callable[..., Iterable[Found]]  # detect(now=, ids=None)
    severity: str = "normal"
    owner_role: str = "organiser"
    permission: str = "dashboard.view"  # who may see exceptions of this kind
    actions: tuple[QuickAction, ...] = ()
    # Time-based kinds change as the clock moves; others only when their subjects change. Both are refreshed
    # on the worker's schedule; `touch` refreshes the subjects that just changed.
    every_minutes: int = 5


def render(text: str | tuple[str, dict] | list, translate: Callable[[str], str] | None = None) -> str:
    """A label or reason as text: a (message, values) pair is translated (with `translate`) and filled in."""
    if isinstance(text, (tuple, list)):
        msg, values = text[0], text[1] if len(text) > 1 else {}
        msg = translate(msg) if translate else msg
        try:
            return msg % values if values else msg
        except (KeyError, TypeError, ValueError):
            return msg
    return str(text)


def register(kind: Kind) -> Kind:
    if kind.severity not in SEVERITIES:
        raise ValueError(f"{kind.code}: unknown severity {kind.severity!r}")
    return extensions.register(POINT, kind.code, kind)


def kinds() -> dict[str, Kind]:
    return extensions.registered(POINT)


def touch(subject_type: str, ids: Iterable[int]) -> None:
    """Tell the Today app these subjects changed (their exceptions are looked at again soon)."""
    ids = [int(i) for i in ids]
    if ids:
        extensions.call_all(TOUCH, subject_type, ids)
