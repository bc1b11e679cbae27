"""The demo shop: a realistic, deterministic Polish shop for trying Zaplecze out.

`build_demo()` fills an empty database with ~300 products, customers and a year of orders with their
whole history; `zaplecze demo` is its command. Importing this package does not import Django (the CLI
registers its command before Django is set up)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from .cli import register_cli


def build_demo(
    *,
    orders: int = 20000,
    days: int = 365,
    seed: int = 42,
    progress: bool = False,
    now: dt.datetime | None = None,
    echo: Callable[[str], None] | None = None,
    queue_forecast: bool = False,
    traffic: bool = False,
) -> dict:
    """Build the demo shop into an empty database and return its figures.

    The same seed and `now` give identical data. Refuses (DomainError, code "not_empty") when the
    database already has orders or products. One transaction: all or nothing. `queue_forecast` asks the
    worker to compute the purchasing forecasts and reorder points afterwards (a job); `traffic` writes
    30 days of demo visits to the analytics store."""
    from .builder import build_demo as _build

    return _build(
        orders=orders,
        days=days,
        seed=seed,
        progress=progress,
        now=now,
        echo=echo,
        queue_forecast=queue_forecast,
        traffic=traffic,
    )


__all__ = ["build_demo", "register_cli"]
