"""Named extension points, so a lower module can call into a higher one without importing it.

A module low in the layer stack (say `orders`) names a point and calls what is registered there; a module
above it (say `shipping`) registers an implementation from its `AppConfig.ready()`. Points are plain
strings such as ``"automation.action"`` or ``"service.return_label"``; each registered item has a unique
name within its point.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_points: dict[str, dict[str, Any]] = {}


def register(point: str, name: str, item: Any) -> Any:
    """Register `item` under `name` at `point` (registering the same name again replaces it)."""
    _points.setdefault(point, {})[name] = item
    return item


def registered(point: str) -> dict[str, Any]:
    """Everything registered at `point`, by name, in registration order."""
    return dict(_points.get(point, {}))


def get(point: str, name: str) -> Any | None:
    return _points.get(point, {}).get(name)


def call_all(point: str, *args: Any, **kwargs: Any) -> list[Any]:
    """Call every callable registered at `point` with the same arguments; return their results."""
    return [fn(*args, **kwargs) for fn in _points.get(point, {}).values() if isinstance(fn, Callable)]
