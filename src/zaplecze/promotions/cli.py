"""`zaplecze` commands of promotions."""

from __future__ import annotations

import click


def register_cli(main: click.Group) -> None:
    pass
