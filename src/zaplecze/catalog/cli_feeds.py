"""`zaplecze feed google|ceneo|csv -o FILE [--channel C]`: write a feed to a file (or stdout with -o -), and
`zaplecze feed build [ID ...]`: rebuild the configured feeds served at their secret URLs. Counts go to stderr."""

from __future__ import annotations

import sys

import click


def _setup_django() -> None:
    import os

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "zaplecze.settings")
    django.setup()


def _summary(stats) -> None:
    from .feeds import reason_label

    click.echo(f"included: {stats.items}, excluded: {stats.excluded}", err=True)
    for code, n in stats.by_reason.most_common():
        click.echo(f"  {code}: {n}  ({reason_label(code)})", err=True)


def _command(kind: str, help_text: str) -> click.Command:
    @click.command(kind, help=help_text)
    @click.option("-o", "--output", required=True, help="File to write, or - for stdout")
    @click.option("--channel", default="", help="Channel code: its prices, offer URLs, switched-off offers")
    @click.option(
        "--link-template",
        default="",
        help="Product URL when the offer has none, e.g. https://shop.example/p/{sku}",
    )
    @click.option("--shipping-price", default="", help="Flat shipping price written into the Google feed")
    @click.option("--title", default="", help="Title of the feed (Google)")
    def command(output: str, channel: str, link_template: str, shipping_price: str, title: str) -> None:
        _setup_django()
        from zaplecze.core.errors import DomainError

        from .feeds import _clean_values, write_atomically, write_feed

        try:
            values = _clean_values(
                {"channel": channel, "link_template": link_template, "shipping_price": shipping_price}
            )
        except DomainError as exc:
            raise click.BadParameter(str(exc.message), param_hint=f"--{(exc.field or '').replace('_', '-')}")

        def write(fh):
            return write_feed(kind, fh, title=title, **values)

        if output == "-":
            stats = write(sys.stdout)
            sys.stdout.flush()
        else:
            from pathlib import Path

            stats, size = write_atomically(Path(output), write)
            click.echo(f"{output}: {size} bytes", err=True)
        _summary(stats)

    return command


def attach(*, products: click.Group, catalog: click.Group, feed: click.Group) -> None:
    feed.add_command(_command("google", "Google Merchant Center XML (RSS 2.0, g: namespace)"))
    feed.add_command(_command("ceneo", "Ceneo XML (offers/o)"))
    feed.add_command(_command("csv", "CSV, one row per variant (UTF-8; columns in docs/feeds.md)"))

    @feed.command("build")
    @click.argument("feed_ids", nargs=-1, type=int)
    def build(feed_ids: tuple[int, ...]) -> None:
        """Rebuild the feeds served at their secret URLs (default: every active feed)."""
        _setup_django()
        from zaplecze.core.errors import DomainError

        from .feeds import feed_build, feeds_list

        ids = list(feed_ids) or [f.pk for f in feeds_list() if f.active]
        failed = False
        for feed_id in ids:
            try:
                stats = feed_build(feed_id=feed_id)
            except DomainError as exc:
                raise click.ClickException(str(exc.message))
            except Exception as exc:  # noqa: BLE001 - reported, the others still built
                click.echo(f"feed {feed_id}: FAILED {type(exc).__name__}: {exc}", err=True)
                failed = True
                continue
            click.echo(f"feed {feed_id}:", err=True)
            _summary(stats)
        if failed:
            raise SystemExit(1)
