"""`zaplecze products price|reprice|omnibus`: thin doors into catalog.prices, catalog.reprice and
catalog.omnibus."""

from __future__ import annotations

import datetime as dt
import json

import click


def _setup_django() -> None:
    import os

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "zaplecze.settings")
    django.setup()


def _variant(sku: str):
    from zaplecze.catalog.models import Variant

    variant = Variant.objects.filter(sku=sku).first()
    if variant is None:
        raise click.ClickException(f"Unknown SKU: {sku}")
    return variant


def _moment(value: str | None, option: str) -> dt.datetime | None:
    """2026-12-01 (midnight in the shop's time zone) or an ISO date and time."""
    if not value:
        return None
    from django.utils import timezone

    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not a date (YYYY-MM-DD) or ISO date and time", param_hint=option
        )
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment


def _error(exc) -> click.ClickException:
    where = f" ({exc.field})" if getattr(exc, "field", None) else ""
    return click.ClickException(f"{exc.message}{where}")


@click.command("price")
@click.argument("sku")
@click.argument("price")
@click.option("--channel", default="", help="A channel code (default: the base price).")
@click.option("--promo", is_flag=True, help="A promotional price (a reduction: Omnibus applies).")
@click.option("--from", "start", default=None, help="Start later: YYYY-MM-DD or an ISO date and time.")
def price_cmd(sku: str, price: str, channel: str, promo: bool, start: str | None) -> None:
    """Set the price of SKU (recorded in the price history)."""
    _setup_django()
    from zaplecze.catalog.prices import price_set
    from zaplecze.core.errors import DomainError

    variant = _variant(sku)
    try:
        change = price_set(
            variant,
            price=price,
            channel=channel,
            kind="promo" if promo else "regular",
            effective_from=_moment(start, "--from"),
            source="cli",
        )
    except DomainError as exc:
        raise _error(exc)
    where = f" on {channel}" if channel else ""
    click.echo(
        f"{sku}{where}: {change.price} {change.currency} from {change.effective_from:%Y-%m-%d %H:%M} UTC"
    )


def _row_line(r: dict) -> str:
    from zaplecze.catalog.reprice import refusal_text

    margin = f"{r['margin_old'] or '-'} % -> {r['margin_new'] or '-'} %"
    note = f"  REFUSED: {refusal_text(r['refused'])}" if r["refused"] else ""
    flags = f"  [{', '.join(r['flags'])}]" if r["flags"] else ""
    return f"{r['sku']:<20} {r['old']:>10} -> {r['new']:>10}  margin {margin}{note}{flags}"


@click.command("reprice")
@click.option("--percent", default=None, help="e.g. -10 (percent of the current price).")
@click.option("--amount", default=None, help="e.g. -5.00 (added to the current price).")
@click.option("--category", "category_id", type=int, default=None, help="Category id (with all below it).")
@click.option("--brand", default="")
@click.option("--status", type=click.Choice(["draft", "active", "archived"]), default=None)
@click.option("--sku-prefix", default="")
@click.option("--sku", "skus", multiple=True, help="Only these SKUs (repeatable).")
@click.option("--channel", default="", help="Reprice this channel's offers (default: base prices).")
@click.option("--round99", "round_99", is_flag=True, help="Round to the highest .99 price not above.")
@click.option("--min-margin", default=None, help="Refuse cuts below this margin (% of the net price).")
@click.option("--apply", "do_apply", is_flag=True, help="Apply (default: only show the preview).")
@click.option("--json", "as_json", is_flag=True, help="Print the bulk change (rows included) as JSON.")
def reprice_cmd(
    percent,
    amount,
    category_id,
    brand,
    status,
    sku_prefix,
    skus,
    channel,
    round_99,
    min_margin,
    do_apply,
    as_json,
) -> None:
    """Change prices by a rule: preview first; --apply writes them (undo: `zaplecze products undo`)."""
    _setup_django()
    from zaplecze.catalog.models import Variant
    from zaplecze.catalog.reprice import RepriceFilter, reprice_apply, reprice_preview
    from zaplecze.core.errors import DomainError

    variant_ids = []
    if skus:
        found = dict(Variant.objects.filter(sku__in=skus).values_list("sku", "pk"))
        missing = [s for s in skus if s not in found]
        if missing:
            raise click.ClickException(f"Unknown SKU: {', '.join(missing)}")
        variant_ids = list(found.values())
    flt = RepriceFilter(
        variant_ids=variant_ids,
        category_id=category_id,
        brand=brand,
        status=status or "",
        sku_prefix=sku_prefix,
        channel=channel,
    )
    try:
        bulk = reprice_preview(
            flt=flt, percent=percent, amount=amount, round_99=round_99, min_margin=min_margin
        )
        if do_apply:
            bulk = reprice_apply(bulk, None)
    except DomainError as exc:
        raise _error(exc)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "id": bulk.pk,
                    "state": bulk.state,
                    "title": bulk.title,
                    "summary": bulk.summary,
                    "rows": bulk.rows,
                },
                ensure_ascii=False,
            )
        )
        return
    for r in bulk.rows:
        click.echo(_row_line(r))
    s = bulk.summary
    click.echo(
        f"#{bulk.pk} {bulk.title}: {s['rows']} variants, {s['to_change']} to change, {s['refused']} refused, "
        f"{s['no_cost_price']} without cost price"
    )
    click.echo("Applied." if bulk.state == "applied" else "Preview only: add --apply to write the prices.")


@click.command("omnibus")
@click.argument("sku")
@click.option("--channel", default="")
@click.option(
    "--at", "at", default=None, help="At this moment (YYYY-MM-DD or ISO date and time); default now."
)
@click.option("--json", "as_json", is_flag=True)
def omnibus_cmd(sku: str, channel: str, at: str | None, as_json: bool) -> None:
    """The price in effect and the Omnibus reference price (lowest of the 30 days before the reduction)."""
    _setup_django()
    from django.utils import timezone

    from zaplecze.catalog.omnibus import effective_prices

    variant = _variant(sku)
    moment = _moment(at, "--at") or timezone.now()
    eff = effective_prices([variant.pk], channel, moment)[variant.pk]
    ref = eff.reference
    data = {
        "sku": sku,
        "channel": channel,
        "at": moment.isoformat(),
        "currency": eff.currency,
        "price": str(eff.price),
        "regular_price": str(eff.regular_price),
        "sale_price": None if eff.sale_price is None else str(eff.sale_price),
        "sale_from": eff.sale_from.isoformat() if eff.sale_from else None,
        "sale_to": eff.sale_to.isoformat() if eff.sale_to else None,
        "reference": None if ref is None else ref.as_dict(),
    }
    if as_json:
        click.echo(json.dumps(data))
        return
    click.echo(
        f"{sku}: {eff.price} {eff.currency}" + (" (promotional)" if eff.sale_price is not None else "")
    )
    if ref is None:
        click.echo("Not a reduction: no reference price needed.")
    else:
        badge = ref.discount_label or "no discount to show (not below the reference)"
        click.echo(
            f"Lowest price {ref.price} {eff.currency} ({ref.basis}, {ref.window_from:%Y-%m-%d} - "
            f"{ref.window_to:%Y-%m-%d}); {badge}"
        )


def attach(*, products: click.Group, catalog: click.Group, feed: click.Group) -> None:
    products.add_command(price_cmd)
    products.add_command(reprice_cmd)
    products.add_command(omnibus_cmd)
