"""`zaplecze picklist ORDER... | --ready [-o FILE.pdf] [--json]`: a thin door into fulfilment.services."""

from __future__ import annotations

import json
import sys

import click


def register_cli(main: click.Group) -> None:
    main.add_command(picklist_cmd)


def _setup_django() -> None:
    """Django is set up inside the command, so `zaplecze --help` stays fast."""
    import os

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "zaplecze.settings")
    django.setup()


def _print_sheet(pick_list, sheet) -> None:
    click.echo(f"Pick list {pick_list.number}: {len(sheet.orders)} orders, {sheet.units} units")
    for g in sheet.groups:
        if g.warehouse_code:
            where = f"{g.warehouse_code} · {g.location_code or 'no location'}"
        else:
            where = "not reserved"
        click.echo(f"\n[{where}]  ({g.quantity} units)")
        for r in g.rows:
            needs = ", ".join(f"{o.number}×{o.quantity}" for o in r.orders)
            ean = f" EAN {r.ean}" if r.ean else ""
            click.echo(f"  [ ] {r.quantity:>4}  {r.sku}  {r.name}{ean}")
            click.echo(f"              {needs}")
    if sheet.unreserved:
        click.echo(f"\n{sheet.unreserved} order line(s) have no stock reserved.", err=True)


@click.command("picklist")
@click.argument("orders", nargs=-1)
@click.option("--ready", is_flag=True, help="All orders ready to fulfil (not on an open pick list yet).")
@click.option("--channel", default="", help="With --ready: only this channel (code).")
@click.option(
    "--delivery-method", default="", help="With --ready: only this delivery method (e.g. inpost_locker)."
)
@click.option("--carrier", default="", help="With --ready: only delivery methods this carrier serves (code).")
@click.option("--move-to-picking", is_flag=True, help="Move orders that are ready to fulfil to “picking”.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None, help="Write the PDF here.")
@click.option("--json", "as_json", is_flag=True, help="Print the pick list as JSON.")
def picklist_cmd(
    orders: tuple[str, ...],
    ready: bool,
    channel: str,
    delivery_method: str,
    carrier: str,
    move_to_picking: bool,
    output: str | None,
    as_json: bool,
) -> None:
    """Make a pick list of ORDERS (order numbers or ids) or of all orders ready to fulfil (--ready). The lines
    are grouped by warehouse and bin in pick-walk order, with the total per SKU and which orders need it.
    With -o the PDF is written; without it the list is printed (or as JSON with --json)."""
    if not orders and not ready:
        raise click.UsageError("Give order numbers, or --ready")
    if orders and ready:
        raise click.UsageError("Give order numbers or --ready, not both")
    _setup_django()
    from zaplecze.core.errors import DomainError
    from zaplecze.fulfilment import pdf, selectors, services

    if ready:
        f = selectors.ReadyFilter(channel=channel, delivery_method=delivery_method, carrier=carrier)
        ids = list(selectors.orders_ready(f).values_list("pk", flat=True)[: services.MAX_ORDERS])
        if not ids:
            click.echo("No orders are ready to fulfil.", err=True)
            sys.exit(1)
    else:
        ids, missing = selectors.resolve_orders(list(orders))
        if missing:
            for ref in missing:
                click.echo(f"{ref}: no such order", err=True)
            sys.exit(1)
    try:
        pick_list = services.picklist_create(order_ids=ids, actor=None, move_to_picking=move_to_picking)
    except DomainError as exc:
        raise click.ClickException(exc.message)
    sheet = selectors.picklist_sheet(pick_list)
    if output:
        data = pdf.picklist_pdf(pick_list, sheet)
        with open(output, "wb") as fh:
            fh.write(data)
        if not as_json:
            click.echo(
                f"Pick list {pick_list.number}: {len(sheet.orders)} orders, {sheet.units} units -> {output}"
            )
    if as_json:
        click.echo(
            json.dumps(
                {"id": pick_list.pk, "number": pick_list.number, **sheet.as_dict()}, ensure_ascii=False
            )
        )
    elif not output:
        _print_sheet(pick_list, sheet)
