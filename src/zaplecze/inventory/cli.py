"""`zaplecze stock import|levels|movements`: thin doors into inventory.services and selectors."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click


def register_cli(main: click.Group) -> None:
    main.add_command(stock_group)


def _setup_django() -> None:
    """Django is set up inside the commands, so `zaplecze --help` stays fast."""
    import os

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "zaplecze.settings")
    django.setup()


def _warehouse(code: str | None):
    from zaplecze.inventory import selectors, services

    if not code:
        return services.warehouse_default()
    wh = selectors.warehouse_by_code(code.upper())
    if wh is None:
        raise click.ClickException(f"No warehouse with code {code!r}")
    return wh


@click.group("stock")
def stock_group() -> None:
    """Stock: levels, the movement ledger and stock files."""


@stock_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--warehouse", "warehouse_code", default=None, help="Warehouse code (default: the default warehouse)."
)
@click.option(
    "--mode",
    type=click.Choice(["set", "add"]),
    default="set",
    show_default=True,
    help="set: the quantity is what is on the shelf, differences are posted as adjustments; "
    "add: the quantity is received.",
)
@click.option("--dry-run", is_flag=True, help="Check the file and show what would change; change nothing.")
@click.option(
    "--reason", default="", help="Reason for rows without one (default: 'stock import (MODE) FILE')."
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object with the report.")
def import_cmd(
    file: Path, warehouse_code: str | None, mode: str, dry_run: bool, reason: str, as_json: bool
) -> None:
    """Import stock from FILE (CSV or XLSX) with columns sku or ean, quantity, and optional location (bin code)
    and reason. Every row is checked first; with any error nothing is applied and the exit status is 1."""
    _setup_django()
    from zaplecze.inventory.services import stock_import_file

    wh = _warehouse(warehouse_code)
    report = stock_import_file(
        data=file.read_bytes(), filename=file.name, warehouse=wh, mode=mode, dry_run=dry_run, reason=reason
    )
    if as_json:
        click.echo(
            json.dumps(
                {
                    "file": str(file),
                    "warehouse": wh.code,
                    "mode": mode,
                    "dry_run": dry_run,
                    **report.as_dict(),
                },
                ensure_ascii=False,
            )
        )
    else:
        for e in report.errors:
            where = f"row {e['row']}" if e["row"] else "file"
            click.echo(f"{file.name}: {where}, column {e['column']}: {e['message']}", err=True)
        if report.ok:
            for c in report.changes[:50]:
                click.echo(f"  row {c['row']}: {c['sku']} {c['before']} -> {c['after']} ({c['delta']:+d})")
            if len(report.changes) > 50:
                click.echo(f"  … and {len(report.changes) - 50} more")
            verb = "would change" if dry_run else "changed"
            click.echo(
                f"{file.name} -> {wh.code} ({mode}): {report.changed} levels {verb}, {report.unchanged} unchanged, "
                f"{report.skipped} rows without a quantity skipped"
                + (f"; reference {report.reference}" if report.applied else "")
            )
        else:
            click.echo(f"{len(report.errors)} errors: nothing was applied.", err=True)
    if not report.ok:
        sys.exit(1)


@stock_group.command("levels")
@click.option("--warehouse", "warehouse_code", default="", help="Warehouse code.")
@click.option("--sku", default="", help="SKU prefix or exact EAN.")
@click.option("--bin", "bin_code", default="", help='Bin code, or "-" for products without a bin.')
@click.option("--limit", type=int, default=1000, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines, one level per line.")
def levels_cmd(warehouse_code: str, sku: str, bin_code: str, limit: int, as_json: bool) -> None:
    """Stock levels: on hand, reserved and available per product per warehouse."""
    _setup_django()
    from zaplecze.inventory.selectors import stock_levels

    qs = stock_levels(q=sku, warehouse=warehouse_code.upper(), location=bin_code)[:limit]
    for lv in qs:
        row = {
            "sku": lv.variant.sku,
            "warehouse": lv.warehouse.code,
            "bin": lv.location.code if lv.location_id else None,
            "on_hand": lv.on_hand,
            "reserved": lv.reserved,
            "available": lv.on_hand - lv.reserved,
        }
        if as_json:
            click.echo(json.dumps(row, ensure_ascii=False))
        else:
            click.echo(
                f"{row['sku']:<24} {row['warehouse']:<8} {row['bin'] or '-':<10} "
                f"{row['on_hand']:>8} {row['reserved']:>8} {row['available']:>8}"
            )


@stock_group.command("movements")
@click.option(
    "--kind", multiple=True, help="Movement type (receipt, sale, return, adjustment, transfer_in, ...)."
)
@click.option("--sku", default="", help="SKU or EAN.")
@click.option("--warehouse", "warehouse_code", default="")
@click.option("--reference", default="", help="Reference begins with.")
@click.option("--reason", default="", help="Reason contains.")
@click.option("--user", default="", help="Login, or 'system'.")
@click.option("--from", "date_from", type=click.DateTime(["%Y-%m-%d"]), default=None)
@click.option("--to", "date_to", type=click.DateTime(["%Y-%m-%d"]), default=None)
@click.option("--limit", type=int, default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines, one movement per line.")
def movements_cmd(
    kind, sku, warehouse_code, reference, reason, user, date_from, date_to, limit, as_json
) -> None:
    """The stock ledger, newest first, with the same filters as the screen and the API."""
    _setup_django()
    from zaplecze.core.businesstime import tz
    from zaplecze.inventory.selectors import MovementFilter, movements_filtered

    f = MovementFilter(
        kind=list(kind),
        reason=reason,
        reference=reference,
        user=user,
        warehouse=warehouse_code,
        sku=sku,
        date_from=date_from.date() if date_from else None,
        date_to=date_to.date() if date_to else None,
    )
    rows = (
        movements_filtered(f).select_related("variant", "warehouse", "actor").order_by("-at", "-id")[:limit]
    )
    for m in rows:
        row = {
            "at": m.at.astimezone(tz()).isoformat(timespec="seconds"),
            "sku": m.variant.sku,
            "warehouse": m.warehouse.code,
            "kind": m.kind,
            "quantity": m.quantity,
            "on_hand_after": m.on_hand_after,
            "reason": m.reason,
            "reference": m.reference,
            "user": m.actor.username if m.actor_id else None,
        }
        if as_json:
            click.echo(json.dumps(row, ensure_ascii=False))
        else:
            click.echo(
                f"{row['at'][:19]} {row['sku']:<20} {row['warehouse']:<6} {row['kind']:<12} {row['quantity']:>+7} "
                f"{row['reference']:<20} {row['reason']}"
            )
