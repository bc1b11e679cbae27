"""`zaplecze import orders` and `zaplecze orders export`: thin doors into orders.importing and csvio.export.

Django is set up lazily inside the commands, so `zaplecze --help` stays fast."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

FORMATS = ("auto", "shopify", "woocommerce", "zaplecze")
SHOWN_ERRORS = 100


def register_cli(main: click.Group) -> None:
    main.add_command(import_group)
    main.add_command(orders_group)


def _setup_django() -> None:
    # The same as zaplecze.cli.setup_django(); not imported from there, since modules may not import the
    # interface layer (import-linter contract).
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "zaplecze.settings")
    import django

    django.setup()


def _progress_enabled() -> bool:
    return sys.stderr.isatty()


@click.group("import")
def import_group() -> None:
    """Import data from files."""


@import_group.command("orders")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=True, path_type=Path))
@click.option(
    "--channel",
    default=None,
    metavar="CODE",
    help="Channel code for formats without one (Shopify, WooCommerce: default shop); overrides the "
    "channel column of Zaplecze's CSV.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="auto",
    show_default=True,
    help="File format; auto detects it from the header.",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help='Print exactly one JSON object on stdout: {"created", "updated", "unchanged", "failed", "errors"}.',
)
def import_orders_cmd(files: tuple[Path, ...], channel: str | None, fmt: str, as_json: bool) -> None:
    """Import orders from CSV FILE(s): Zaplecze's CSV, Shopify's "Export orders" CSV or a WooCommerce
    order export (UTF-8 with or without BOM, or Windows-1250; "," or ";").

    Each order is atomic; a bad row fails only its order, and the import goes on. Errors name the
    physical line and the column. Exit status: 0 all orders imported; 1 some orders failed;
    2 a file could not be read at all (the other files are still imported). With several files,
    each error also names its "file"."""
    _setup_django()
    from zaplecze.orders.importing import ImportFileError, ImportReport, import_orders

    total = ImportReport()
    unreadable = 0
    show_progress = _progress_enabled()
    many = len(files) > 1
    for path in files:
        bar = _Bar(path.name) if show_progress else None
        try:
            report = import_orders(path=path, channel=channel, fmt=fmt, progress=bar, source="cli")
        except ImportFileError as exc:
            unreadable += 1
            line = 1 if exc.field == "header" else 0
            error = {"line": line, "field": exc.field or "file", "message": str(exc.message)}
            if many:
                error["file"] = str(path)
            total.errors.append(error)
            if not as_json:
                click.echo(f"{path}: {exc.message}", err=True)
            continue
        finally:
            if bar is not None:
                bar.close()
        if many:
            for err in report.errors:
                err["file"] = str(path)
        total.merge(report)
        if not as_json:
            _print_report(path, report)
    if as_json:
        click.echo(json.dumps(total.as_json(), ensure_ascii=False))
    elif many:
        click.echo(
            f"Total: {total.created} created, {total.updated} updated, "
            f"{total.unchanged + total.stale} unchanged, {total.failed} failed"
        )
    if unreadable:
        sys.exit(2)
    if total.failed:
        sys.exit(1)


class _Bar:
    """A progress bar on stderr, created on the first report (when the number of lines is known)."""

    def __init__(self, label: str):
        self.label = label
        self.bar = None
        self.last = 0

    def __call__(self, done: int, total: int | None) -> None:
        if self.bar is None:
            self.bar = click.progressbar(length=total or 0, label=self.label, file=sys.stderr, show_pos=True)
            self.bar.__enter__()
        self.bar.update(max(0, done - self.last))
        self.last = done

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


def _print_report(path: Path, report) -> None:
    click.echo(
        f"{path}: {report.orders} orders ({report.format}, {report.encoding}, "
        f"delimiter {report.delimiter!r}): {report.created} created, {report.updated} updated, "
        f"{report.unchanged} unchanged, {report.stale} older versions ignored, {report.failed} failed"
        + (f"; {report.duplicates} duplicated rows skipped" if report.duplicates else "")
        + (f"; {report.attention} need attention" if report.attention else "")
    )
    for err in report.errors[:SHOWN_ERRORS]:
        field = f", {err['field']}" if err["field"] else ""
        click.echo(f"  line {err['line']}{field}: {err['message']}")
    more = len(report.errors) - SHOWN_ERRORS + report.errors_omitted
    if more > 0:
        click.echo(f"  … and {more} more (use --json to get them all)")


@click.group("orders")
def orders_group() -> None:
    """Orders."""


@orders_group.command("export")
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, allow_dash=True),
    help="Output file: .csv (Zaplecze's CSV) or .xlsx; - writes CSV to stdout.",
)
@click.option("--status", multiple=True, help="Status code (repeat or comma-separate).")
@click.option("--stage", multiple=True, help="Lifecycle stage.")
@click.option("--channel", multiple=True, help="Channel code.")
@click.option("--payment-status", multiple=True)
@click.option("--payment-method", multiple=True)
@click.option("--delivery-method", multiple=True)
@click.option("--tag", multiple=True)
@click.option("--date-from", default=None, help="Placed on or after this day (YYYY-MM-DD, local time).")
@click.option("--date-to", default=None, help="Placed on or before this day (YYYY-MM-DD, local time).")
@click.option("--needs-attention/--no-needs-attention", default=None)
@click.option("--late/--not-late", default=None)
@click.option("--q", default="", help="Text search: number, external id, customer, e-mail, phone, SKU.")
def export_cmd(output: str, **filters) -> None:
    """Export orders (the same filters as the order queue) as CSV (Zaplecze's format, which
    `zaplecze import orders` reads back unchanged) or XLSX, chosen by the file extension."""
    _setup_django()
    from zaplecze.core.errors import DomainError
    from zaplecze.orders.csvio.export import export_orders
    from zaplecze.orders.selectors import OrderFilter, orders_filtered

    params: dict = {}
    for key, value in filters.items():
        if value in (None, "", ()):
            continue
        if isinstance(value, bool):
            value = "true" if value else "false"
        params[key] = list(value) if isinstance(value, tuple) else value
    try:
        qs = orders_filtered(OrderFilter.from_params(params))
    except DomainError as exc:
        raise click.BadParameter(str(exc.message), param_hint=f"--{(exc.field or '').replace('_', '-')}")
    fmt = "xlsx" if output.lower().endswith(".xlsx") else "csv"
    if output == "-":
        sys.stdout.flush()
        n = export_orders(qs, "csv", sys.stdout.buffer)
        sys.stdout.buffer.flush()
        click.echo(f"Exported {n} orders", err=True)
        return
    if not output.lower().endswith((".csv", ".xlsx", ".txt")):
        raise click.BadParameter("use a .csv or .xlsx file name", param_hint="--output")
    bar = None
    if _progress_enabled():
        bar = click.progressbar(length=qs.count(), label="Exporting orders", file=sys.stderr, show_pos=True)
        bar.__enter__()
    state = {"last": 0}

    def progress(n: int) -> None:
        if bar is not None:
            bar.update(n - state["last"])
            state["last"] = n

    target = Path(output)
    partial = target.with_name(target.name + ".part")
    try:
        with open(partial, "wb") as fh:
            n = export_orders(qs, fmt, fh, progress=progress)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
        if bar is not None:
            bar.__exit__(None, None, None)
    click.echo(f"Exported {n} orders to {target}")
