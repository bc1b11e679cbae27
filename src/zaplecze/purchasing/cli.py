"""`zaplecze purchasing forecast|reorder|overdue|pdf`: thin doors into purchasing.services and selectors."""

from __future__ import annotations

import json
import sys

import click


def register_cli(main: click.Group) -> None:
    main.add_command(purchasing_group)


def _setup_django() -> None:
    """Django is set up inside the commands, so `zaplecze --help` stays fast."""
    import os

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "zaplecze.settings")
    django.setup()


@click.group("purchasing")
def purchasing_group() -> None:
    """Purchasing: forecasts and reorder points, what to reorder, overdue purchase orders."""


@purchasing_group.command("forecast")
@click.option("--sku", "skus", multiple=True, help="Only these variants (repeatable); default: all.")
@click.option(
    "--json", "as_json", is_flag=True, help='Print {"computed", "created", "by_method", "seconds"}.'
)
def forecast_cmd(skus: tuple[str, ...], as_json: bool) -> None:
    """Forecast daily demand and recompute reorder points and safety stock (the worker does this nightly)."""
    _setup_django()
    from zaplecze.catalog.models import Variant
    from zaplecze.purchasing.services import reorder_compute

    variant_ids = None
    if skus:
        found = dict(Variant.objects.filter(sku__in=skus).values_list("sku", "pk"))
        missing = [s for s in skus if s not in found]
        if missing:
            raise click.ClickException(f"Unknown SKU: {', '.join(missing)}")
        variant_ids = list(found.values())
    bar = None
    state = {"last": 0}

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if as_json or not sys.stderr.isatty():
            return
        if bar is None:
            bar = click.progressbar(length=total, label="Forecasting", file=sys.stderr, show_pos=True)
            bar.__enter__()
        bar.update(done - state["last"])
        state["last"] = done

    try:
        report = reorder_compute(variant_ids=variant_ids, progress=progress)
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
    if as_json:
        click.echo(json.dumps(report.as_dict()))
    else:
        methods = ", ".join(f"{k} {v}" for k, v in sorted(report.by_method.items())) or "none"
        click.echo(
            f"{report.computed} variants forecast in {report.seconds:.1f} s ({methods}); {report.created} new"
        )


@purchasing_group.command("reorder")
@click.option("--supplier", default=None, help="Supplier id or name (exact, case-insensitive).")
@click.option("--explain", is_flag=True, help="Print how each quantity was computed.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of suggestions.")
def reorder_cmd(supplier: str | None, explain: bool, as_json: bool) -> None:
    """What to reorder now, per supplier, with suggested quantities."""
    _setup_django()
    from zaplecze.purchasing import selectors
    from zaplecze.purchasing.explain import steps_text
    from zaplecze.purchasing.models import Supplier

    supplier_id = None
    if supplier:
        match = (
            Supplier.objects.filter(pk=int(supplier)).first()
            if supplier.isdigit()
            else Supplier.objects.filter(name__iexact=supplier).first()
        )
        if match is None:
            raise click.ClickException(f"No supplier {supplier!r}")
        supplier_id = match.pk
    rows = selectors.reorder_suggestions(supplier_id=supplier_id)
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "supplier": r.item.supplier.name if r.item else None,
                        "sku": r.variant.sku,
                        "warehouse": r.param.warehouse.code if r.param.warehouse else None,
                        "available": r.available,
                        "on_order": r.on_order,
                        "reorder_point": r.param.reorder_point,
                        "daily_rate": float(r.param.daily_rate),
                        "quantity": r.quantity,
                        "unit_cost": str(r.item.unit_cost) if r.item else None,
                        "explanation": steps_text(r.steps),
                    }
                    for r in rows
                ],
                ensure_ascii=False,
            )
        )
        return
    if not rows:
        click.echo("Nothing to reorder.")
        return
    for group in selectors.suggestions_by_supplier(rows):
        name = group.supplier.name if group.supplier else "(no supplier)"
        click.echo(f"{name}: {len(group.rows)} items")
        for r in group.rows:
            click.echo(
                f"  {r.variant.sku:<20} order {r.quantity:>6}   available {r.available}, on order {r.on_order}, "
                f"reorder point {r.param.reorder_point}"
            )
            if explain:
                for line in steps_text(r.steps):
                    click.echo(f"      - {line}")


@purchasing_group.command("overdue")
@click.option(
    "--alert",
    is_flag=True,
    help="Also raise the alert now (events + e-mail to organisers), as the worker does daily.",
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
def overdue_cmd(alert: bool, as_json: bool) -> None:
    """Open purchase orders past their expected delivery date. Exit status 1 when there are some."""
    _setup_django()
    from zaplecze.core.businesstime import local_today
    from zaplecze.purchasing.selectors import overdue_purchase_orders
    from zaplecze.purchasing.services import po_overdue_alert

    today = local_today()
    if alert:
        po_overdue_alert(today=today)
    pos = list(overdue_purchase_orders(today=today))
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "number": po.number,
                        "supplier": po.supplier.name,
                        "status": po.status,
                        "expected_date": po.expected_date.isoformat(),
                        "days_late": (today - po.expected_date).days,
                    }
                    for po in pos
                ],
                ensure_ascii=False,
            )
        )
    else:
        for po in pos:
            click.echo(
                f"{po.number}  {po.supplier.name}  expected {po.expected_date}  ({(today - po.expected_date).days} days late)"
            )
        click.echo(f"{len(pos)} overdue purchase orders")
    if pos:
        sys.exit(1)


@purchasing_group.command("pdf")
@click.argument("number")
@click.option(
    "-o", "--output", required=True, type=click.Path(dir_okay=False), help="Where to write the PDF."
)
def pdf_cmd(number: str, output: str) -> None:
    """Write purchase order NUMBER (e.g. PO/2026/00001) as a PDF."""
    _setup_django()
    from zaplecze.purchasing.documents import po_pdf
    from zaplecze.purchasing.models import PurchaseOrder

    po = PurchaseOrder.objects.select_related("supplier", "warehouse").filter(number=number).first()
    if po is None:
        raise click.ClickException(f"No purchase order {number}")
    with open(output, "wb") as fh:
        fh.write(po_pdf(po))
    click.echo(f"{number} -> {output}")
