"""`zaplecze products import|export|undo`: thin doors into catalog.bulk and catalog.io."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click


def _setup_django() -> None:
    import os

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "zaplecze.settings")
    django.setup()


def _summary_line(s: dict) -> str:
    return (
        f"{s.get('rows', 0)} rows: {s.get('create', 0)} new, {s.get('update', 0)} changed, "
        f"{s.get('unchanged', 0)} unchanged, {s.get('error', 0)} with errors"
    )


@click.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--apply", "do_apply", is_flag=True, help="Apply the changes (default: only show the preview).")
@click.option(
    "--skip-errors", is_flag=True, help="With --apply: apply the valid rows and skip rows with errors."
)
@click.option("--json", "as_json", is_flag=True, help="Print the preview (and the result) as JSON.")
@click.option("--show", type=click.Choice(["errors", "changes", "all"]), default="errors", show_default=True)
def import_cmd(file: Path, do_apply: bool, skip_errors: bool, as_json: bool, show: str) -> None:
    """Import products from a CSV or XLSX file (one row per variant, keyed by SKU; see docs/catalog-import.md).

    Without --apply nothing changes: the preview summary and every row error are printed. Exit status 1 when
    rows have errors (and nothing was applied), 2 when the file cannot be read."""
    _setup_django()
    from zaplecze.catalog import bulk
    from zaplecze.core.errors import DomainError

    try:
        data = file.read_bytes()
    except OSError as exc:
        raise click.ClickException(f"Cannot read {file}: {exc.strerror}")
    try:
        preview = bulk.import_preview(data, file.name, None)
    except DomainError as exc:
        click.echo(f"{file}: {exc.message}", err=True)
        sys.exit(2)
    s = preview.summary
    rows = [
        r
        for r in preview.rows
        if show == "all"
        or (show == "errors" and r["errors"])
        or (show == "changes" and r["action"] in ("create", "update"))
    ]
    result: dict = {
        "id": preview.pk,
        "summary": s,
        "unknown_columns": preview.params.get("unknown_columns", []),
    }
    if not as_json:
        click.echo(f"Import #{preview.pk} ({file.name}): {_summary_line(s)}")
        if result["unknown_columns"]:
            click.echo(f"Not imported (unknown columns): {', '.join(result['unknown_columns'])}")
        for r in rows:
            for e in r["errors"]:
                click.echo(f"  row {r['row']}, column {e['column'] or '-'}: {e['message']}")
            for w in r["warnings"]:
                click.echo(f"  row {r['row']}: {w}")
            if show != "errors":
                for column, (old, new) in r["changes"].items():
                    click.echo(f"  row {r['row']} {r['sku']}: {column}: {old} -> {new}")
    status = 0
    if do_apply:
        try:
            applied = bulk.import_apply(preview, None, skip_errors=skip_errors)
        except DomainError as exc:
            result["error"] = exc.as_dict()
            if not as_json:
                click.echo(f"Not applied: {exc.message}", err=True)
            status = 1
        else:
            result["applied"] = applied.summary.get("applied", {})
            result["skipped"] = applied.summary.get("skipped", 0)
            if not as_json:
                a = result["applied"]
                click.echo(
                    f"Applied: {a.get('created', 0)} variants created, {a.get('updated', 0)} updated, "
                    f"{result['skipped']} rows skipped. Undo: zaplecze products undo"
                )
    elif s.get("error"):
        status = 1
    if as_json:
        result["rows"] = rows
        click.echo(json.dumps(result, ensure_ascii=False, default=str))
    sys.exit(status)


@click.command("export")
@click.option(
    "-o",
    "--output",
    "output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="File to write ('-' = standard output, CSV only).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "xlsx"]),
    default=None,
    help="Default: from the file name, else csv.",
)
@click.option("--status", type=click.Choice(["draft", "active", "archived"]), default=None)
@click.option("--category", type=int, default=None, help="Category id (with everything below it).")
@click.option("--brand", default="")
@click.option("--search", "q", default="", help="Name, SKU or EAN contains.")
def export_cmd(
    output: Path, fmt: str | None, status: str | None, category: int | None, brand: str, q: str
) -> None:
    """Export products in the import's columns (an export imports back with no changes)."""
    _setup_django()
    from zaplecze.catalog import io

    fmt = fmt or ("xlsx" if output.suffix.lower() == ".xlsx" else "csv")
    flt = io.ExportFilter(status=status or "", category=category, brand=brand, q=q)
    if str(output) == "-":
        if fmt != "csv":
            raise click.ClickException("Only CSV can be written to standard output.")
        for chunk in io.export_csv(flt):
            sys.stdout.buffer.write(chunk)
        return
    if fmt == "xlsx":
        io.export_xlsx(flt, str(output))
    else:
        with open(output, "wb") as fh:
            for chunk in io.export_csv(flt):
                fh.write(chunk)
    click.echo(f"Wrote {output} ({output.stat().st_size:,} bytes)", err=True)


@click.command("undo")
@click.option("--yes", is_flag=True, help="Do not ask.")
def undo_cmd(yes: bool) -> None:
    """Undo the last applied bulk change (an import or a price change)."""
    _setup_django()
    from zaplecze.catalog import bulk
    from zaplecze.core.errors import DomainError

    last = bulk.last_applied()
    if last is None:
        raise click.ClickException("No applied bulk change to undo.")
    if not yes:
        click.confirm(
            f"Undo {last.get_kind_display()} #{last.pk} ({last.title}, applied {last.applied_at:%Y-%m-%d %H:%M})?",
            abort=True,
        )
    try:
        done = bulk.bulk_undo(last, None)
    except DomainError as exc:
        raise click.ClickException(exc.message)
    click.echo(f"Undone: {done.get_kind_display()} #{done.pk}.")
    for message in (done.summary or {}).get("undo", {}).get("messages", []):
        click.echo(message)


def attach(*, products: click.Group, catalog: click.Group, feed: click.Group) -> None:
    products.add_command(import_cmd)
    products.add_command(export_cmd)
    products.add_command(undo_cmd)
