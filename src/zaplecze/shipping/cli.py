"""`zaplecze shipments sync|list|labels`: thin doors into shipping.services and selectors."""

from __future__ import annotations

import json
import sys

import click


def register_cli(main: click.Group) -> None:
    main.add_command(shipments_group)


def _setup_django() -> None:
    """Django is set up inside the commands, so `zaplecze --help` stays fast."""
    import os

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "zaplecze.settings")
    django.setup()


@click.group("shipments")
def shipments_group() -> None:
    """Shipments: carriers, labels and tracking."""


@shipments_group.command("sync")
@click.option("--limit", type=int, default=None, help="Ask about at most this many shipments.")
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help='Print one JSON object: {"checked", "changed", "failed", "errors"}.',
)
def sync_cmd(limit: int | None, as_json: bool) -> None:
    """Ask the carriers about every shipment still on its way (tracking), and retry due failed submissions
    (the worker does the same every 15 minutes). Exit status 1 when some shipments failed."""
    _setup_django()
    from zaplecze.shipping.selectors import shipments_to_sync
    from zaplecze.shipping.services import shipments_sync

    ids = shipments_to_sync(limit=limit)
    bar = None
    if sys.stderr.isatty() and not as_json and ids:
        bar = click.progressbar(length=len(ids), label="Asking carriers", file=sys.stderr, show_pos=True)
        bar.__enter__()
    state = {"last": 0}

    def progress(done: int, total: int) -> None:
        if bar is not None:
            bar.update(done - state["last"])
            state["last"] = done

    try:
        report = shipments_sync(shipment_ids=ids, progress=progress)
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "checked": report.checked,
                    "changed": report.changed,
                    "failed": report.failed,
                    "errors": report.errors,
                },
                ensure_ascii=False,
            )
        )
    else:
        click.echo(f"{report.checked} shipments checked: {report.changed} changed, {report.failed} failed")
        for err in report.errors[:50]:
            click.echo(f"  shipment {err['shipment']}: {err['message']}", err=True)
    if report.failed:
        sys.exit(1)


@shipments_group.command("labels")
@click.argument("orders", nargs=-1, required=True)
@click.option(
    "-o", "--output", required=True, type=click.Path(dir_okay=False), help="The merged PDF of labels."
)
@click.option("--carrier", default=None, help="Carrier code (default: by each order's delivery method).")
@click.option(
    "--size", type=click.Choice(["small", "medium", "large"]), default=None, help="Locker size (A/B/C)."
)
@click.option("--wait", type=float, default=60.0, show_default=True, help="Seconds to wait for labels.")
def labels_cmd(
    orders: tuple[str, ...], output: str, carrier: str | None, size: str | None, wait: float
) -> None:
    """Create shipments for ORDERS (order numbers) and write all their labels into one PDF. An order that
    fails is reported; the others go on. Exit status 1 when some orders failed."""
    _setup_django()
    from django.core.files.storage import default_storage

    from zaplecze.orders.models import Order
    from zaplecze.shipping.carriers import ParcelSpec
    from zaplecze.shipping.services import shipments_bulk_create

    wanted = list(orders) + [f"#{n}" for n in orders if not n.startswith("#")]
    found = dict(Order.objects.filter(number__in=wanted).values_list("number", "pk"))
    ids, missing = [], []
    for n in orders:
        pk = found.get(n) or found.get(f"#{n}")
        (ids.append(pk) if pk else missing.append(n))
    for n in missing:
        click.echo(f"{n}: no such order", err=True)
    report = shipments_bulk_create(
        order_ids=ids,
        actor=None,
        carrier_code=carrier,
        parcel=ParcelSpec(template=size) if size else None,
        label_wait_seconds=wait,
    )
    for err in report.errors:
        click.echo(f"{err['line']}: {err['message']}", err=True)
    if report.labels_file:
        with default_storage.open(report.labels_file, "rb") as src, open(output, "wb") as dst:
            dst.write(src.read())
    click.echo(
        f"{report.created} created, {report.reused} existing, {report.labels} labels -> "
        f"{output if report.labels_file else '(no labels)'}; {report.failed + len(missing)} failed"
    )
    if report.failed or missing:
        sys.exit(1)
