"""`zaplecze demo`: the command, registered on the main CLI group (Django is imported lazily)."""

from __future__ import annotations

import click


def register_cli(main: click.Group) -> None:
    @main.command("demo")
    @click.option(
        "--orders",
        default=20000,
        show_default=True,
        type=click.IntRange(1, 2_000_000),
        help="How many orders to generate",
    )
    @click.option(
        "--days",
        default=365,
        show_default=True,
        type=click.IntRange(1, 3650),
        help="How many days of history, ending now",
    )
    @click.option("--seed", default=42, show_default=True, type=int, help="Same seed, same shop")
    def demo(orders: int, days: int, seed: int) -> None:
        """Build the demo shop (products, customers, a year of orders) into an EMPTY database.

        Refuses when the database already has orders or products: a demo mixed into real data would
        spoil its reports. To start over, point ZAPLECZE_DATA_DIR (or ZAPLECZE_DATABASE_URL) elsewhere."""
        import sys

        from zaplecze.cli import setup_django

        setup_django()
        from zaplecze.core.errors import DomainError
        from zaplecze.demo import build_demo

        try:
            stats = build_demo(
                orders=orders,
                days=days,
                seed=seed,
                progress=sys.stderr.isatty(),
                queue_forecast=True,
                traffic=True,
            )
        except DomainError as exc:
            raise click.ClickException(str(exc.message))
        click.echo(
            f"Demo shop ready: {stats['orders']} orders, {stats['products']} products "
            f"({stats['variants']} variants), {stats['customers']} customers, {stats['events']} order events, "
            f"{stats['stock_movements']} stock movements in {stats['seconds']} s"
        )
        stages = ", ".join(f"{k} {v}" for k, v in stats["by_stage"].items())
        click.echo(f"By stage: {stages}")
        if stats["stock_short_orders"]:
            click.echo(f"{stats['stock_short_orders']} open order(s) are short of stock and need attention")
