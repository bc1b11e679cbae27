"""`zaplecze orders import-history FILE`: a thin door into orders.history (closed orders from other systems)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

SHOWN_ERRORS = 50


def register_cli(main: click.Group) -> None:
    group = main.commands.get("orders")
    if not isinstance(group, click.Group):
        group = click.Group("orders", help="Orders.")
        main.add_command(group)
    group.add_command(import_history)


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "zaplecze.settings")
    import django

    django.setup()


@click.command("import-history")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--mapping",
    "mapping_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Column mapping, .json or .toml (see docs/history-import.md).",
)
@click.option("--preset", type=click.Choice(["online-retail", "cdnow"]), help="A built-in mapping.")
@click.option("--channel", required=True, metavar="CODE", help="The channel the orders belong to.")
@click.option(
    "--currency", default="", metavar="ISO", help="Currency of the prices (default: the mapping's)."
)
@click.option(
    "--create-channel", is_flag=True, help="Create the channel (type other) when it does not exist."
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object on stdout.")
def import_history(file, mapping_file, preset, channel, currency, create_channel, as_json):  # fmt: skip
    """Import historical (delivered or cancelled) orders from FILE (CSV, whitespace-separated or fixed-width,
    optionally .gz) with a column mapping. Nothing is reserved and no automation runs; a re-run skips the
    orders already imported. Exit status: 0 all rows imported or deliberately skipped; 1 some orders failed
    (errors name the row and column); 2 the mapping or file could not be used."""
    _setup_django()
    from zaplecze.core.errors import DomainError
    from zaplecze.orders.history import MappingError, history_import, mapping_load
    from zaplecze.orders.models import Channel
    from zaplecze.orders.services import channel_save

    if bool(mapping_file) == bool(preset):
        raise click.UsageError("give either --mapping FILE or --preset NAME")
    try:
        mapping = mapping_load(path=mapping_file, preset=preset or "")
    except MappingError as exc:
        click.echo(f"mapping: {exc.message}", err=True)
        sys.exit(2)
    if create_channel and not Channel.objects.filter(code=channel).exists():
        try:
            channel_save(code=channel, name=channel, kind=Channel.Kind.OTHER, actor=None)
        except DomainError as exc:
            raise click.BadParameter(str(exc.message), param_hint="--channel") from None
    bar = None
    if sys.stderr.isatty() and not as_json:
        bar = click.progressbar(length=file.stat().st_size, label=file.name, file=sys.stderr)
        bar.__enter__()
    state = {"last": 0}

    def progress(done: int, total: int) -> None:
        if bar is not None:
            bar.update(max(0, done - state["last"]))
            state["last"] = done

    try:
        report = history_import(
            path=file, mapping=mapping, channel=channel, currency=currency, progress=progress
        )
    except MappingError as exc:
        click.echo(f"{file}: {exc.message}", err=True)
        sys.exit(2)
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
    if as_json:
        click.echo(json.dumps(report.as_json(), ensure_ascii=False))
    else:
        click.echo(
            f"{file}: {report.rows:,} rows, {report.orders:,} orders in {report.seconds:.1f} s: "
            f"{report.created:,} created ({report.cancelled:,} cancellations), {report.existing:,} already "
            f"there, {report.failed:,} failed; {report.lines:,} lines, {report.customers_created:,} new customers"
            + (f"; {report.skipped_rows:,} rows left out ({_reasons(report.skipped_reasons)})" if report.skipped_rows else "")
        )  # fmt: skip
        for err in report.errors[:SHOWN_ERRORS]:
            click.echo(f"  row {err['row']}, {err['column']}: {err['message']}")
        more = len(report.errors) - SHOWN_ERRORS + report.errors_omitted
        if more > 0:
            click.echo(f"  … and {more} more (use --json)")
    if report.failed or report.errors:
        sys.exit(1)


def _reasons(reasons: dict[str, int]) -> str:
    return ", ".join(f"{k}: {v:,}" for k, v in sorted(reasons.items()))
