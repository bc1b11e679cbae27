"""`zaplecze promo list|check|launch|cancel|results|tick|codes`: thin doors into promotions.services,
check and results."""

from __future__ import annotations

import json
import sys

import click


def register_cli(main: click.Group) -> None:
    main.add_command(promo_group)


def _setup_django() -> None:
    """Django is set up inside the commands, so `zaplecze --help` stays fast."""
    import os

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "zaplecze.settings")
    django.setup()


def _campaign(campaign_id: int):
    from zaplecze.core.errors import NotFound
    from zaplecze.promotions.selectors import access_campaign

    try:
        return access_campaign(campaign_id)
    except NotFound:
        raise click.ClickException(f"There is no campaign {campaign_id}")


@click.group("promo")
def promo_group() -> None:
    """Promotions: campaigns, pre-launch checks, launch, results, discount codes."""


@promo_group.command("list")
@click.option("--status", default="", help="draft, scheduled, running, ended or cancelled")
@click.option("--json", "as_json", is_flag=True)
def list_cmd(status: str, as_json: bool) -> None:
    """Campaigns, newest start first."""
    _setup_django()
    from zaplecze.promotions.selectors import campaigns

    rows = [
        {
            "id": c.pk,
            "name": c.name,
            "kind": c.kind,
            "status": c.status,
            "start": c.start.isoformat(),
            "end": c.end.isoformat(),
        }
        for c in campaigns(status=status)[:1000]
    ]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=1))
        return
    for r in rows:
        click.echo(f"{r['id']:>6}  {r['status']:<10} {r['start'][:16]} – {r['end'][:16]}  {r['name']}")


@promo_group.command("check")
@click.argument("campaign_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Every row with its findings, and the summary.")
@click.option("--store", is_flag=True, help="Store the check with the campaign (as the UI's 'Run check').")
def check_cmd(campaign_id: int, as_json: bool, store: bool) -> None:
    """The pre-launch check: new price, margin, Omnibus reference and -X %, stock, clashes. Exit code 1 when
    a product has an error."""
    _setup_django()
    from zaplecze.promotions import check, services

    campaign = _campaign(campaign_id)
    if store:
        _stored, result = services.campaign_check_run(campaign_id=campaign.pk, actor=None)
    else:
        result = check.campaign_check(campaign)
    if as_json:
        click.echo(json.dumps(result.as_dict(), ensure_ascii=False, indent=1))
    else:
        s = result.summary()
        click.echo(
            f"{campaign.name}: {s['rows']} rows ({s['products']} products) in {result.seconds:.2f} s; "
            f"{s['errors']} with errors, {s['warnings']} with warnings"
        )
        for code, n in s["by_code"].items():
            click.echo(f"  {code}: {n}")
        for note in s["notes"]:
            click.echo(f"  note: {note}")
    if result.errors:
        sys.exit(1)


@promo_group.command("launch")
@click.argument("campaign_id", type=int)
@click.option("--override-reason", default="", help="Launch despite errors in the check (recorded).")
def launch_cmd(campaign_id: int, override_reason: str) -> None:
    """Check and launch a draft (it starts at once when its start has come)."""
    _setup_django()
    from zaplecze.core.errors import DomainError
    from zaplecze.promotions import services

    try:
        campaign = services.campaign_launch(
            campaign_id=campaign_id, override_reason=override_reason, actor=None
        )
    except DomainError as exc:
        raise click.ClickException(str(exc.message))
    click.echo(f"{campaign.name}: {campaign.status}")


@promo_group.command("cancel")
@click.argument("campaign_id", type=int)
@click.option("--reason", default="")
def cancel_cmd(campaign_id: int, reason: str) -> None:
    """Cancel a campaign, or end a running one now (regular prices back)."""
    _setup_django()
    from zaplecze.core.errors import DomainError
    from zaplecze.promotions import services

    try:
        campaign = services.campaign_cancel(campaign_id=campaign_id, reason=reason, actor=None)
    except DomainError as exc:
        raise click.ClickException(str(exc.message))
    click.echo(f"{campaign.name}: {campaign.status}")


@promo_group.command("results")
@click.argument("campaign_id", type=int)
@click.option("--json", "as_json", is_flag=True)
@click.option(
    "--csv", "csv_path", type=click.Path(dir_okay=False, writable=True), help="Also write a CSV here."
)
def results_cmd(campaign_id: int, as_json: bool, csv_path: str | None) -> None:
    """Results against the baseline: sales, units, orders, margin, uplift with its 95 % interval, new
    customers, cannibalisation, discount cost, code redemptions, UTM traffic."""
    _setup_django()
    from zaplecze.promotions import results

    data = results.campaign_results(_campaign(campaign_id))
    if csv_path:
        with open(csv_path, "w", encoding="utf-8", newline="") as fh:
            fh.write(results.results_csv(data))
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=1, default=str))
        return
    for metric, c in data["comparison"].items():
        click.echo(
            f"{metric:<8} actual {c['actual']:>12,.2f}  expected {c['expected']:>12,.2f}  "
            f"uplift {c['uplift']:>+12,.2f} [{c['ci_low']:,.2f} … {c['ci_high']:,.2f}]"
        )
    click.echo(
        f"new customers {data['new_customers']}, discount cost {data['discount_cost']}, "
        f"code redemptions {data['codes']['redemptions']}"
    )


@promo_group.command("tick")
def tick_cmd() -> None:
    """Start and end campaigns whose moment has come (the worker does this every minute)."""
    _setup_django()
    from zaplecze.promotions.services import campaigns_tick

    click.echo(json.dumps(campaigns_tick()))


@promo_group.command("codes")
@click.argument("campaign_id", type=int)
@click.option("--generate", "count", type=int, default=0, help="Generate this many codes first.")
@click.option("--prefix", default="")
@click.option("--length", type=int, default=8)
@click.option("--max-uses", type=int, default=1, help="Uses per generated code (0: no limit).")
@click.option(
    "--csv", "csv_path", type=click.Path(dir_okay=False, writable=True), help="Export all codes here."
)
def codes_cmd(
    campaign_id: int, count: int, prefix: str, length: int, max_uses: int, csv_path: str | None
) -> None:
    """Generate discount codes in bulk and/or export them as CSV."""
    _setup_django()
    from zaplecze.core.errors import DomainError
    from zaplecze.promotions import services

    campaign = _campaign(campaign_id)
    if count:
        try:
            services.codes_generate(
                campaign_id=campaign.pk,
                count=count,
                prefix=prefix,
                length=length,
                max_uses=max_uses or None,
                actor=None,
            )
        except DomainError as exc:
            raise click.ClickException(str(exc.message))
        click.echo(f"{count} codes generated", err=True)
    if csv_path:
        with open(csv_path, "w", encoding="utf-8", newline="") as fh:
            fh.write(services.codes_csv(campaign))
        click.echo(f"codes written to {csv_path}", err=True)
