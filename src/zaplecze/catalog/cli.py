"""`zaplecze products ...`, `zaplecze catalog ...` and `zaplecze feed ...`: thin doors into the catalog.

Each area attaches its commands to the three groups from its own module (`attach(products, catalog, feed)`).
"""

from __future__ import annotations

import click


@click.group("products")
def products_group() -> None:
    """Products: import and export, bulk price changes."""


@click.group("catalog")
def catalog_group() -> None:
    """Catalog quality: audit and storefront check."""


@click.group("feed")
def feed_group() -> None:
    """Product feeds for Google Merchant Center, Ceneo and CSV."""


def register_cli(main: click.Group) -> None:
    from . import cli_audit, cli_feeds, cli_io, cli_prices, cli_sitecheck

    for module in (cli_io, cli_prices, cli_audit, cli_feeds, cli_sitecheck):
        module.attach(products=products_group, catalog=catalog_group, feed=feed_group)
    main.add_command(products_group)
    main.add_command(catalog_group)
    main.add_command(feed_group)
