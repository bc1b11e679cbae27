"""`zaplecze today [--mine] [--json]`: the exceptions of the Today page on the command line."""

from __future__ import annotations

import json
import sys

import click


def register_cli(main: click.Group) -> None:
    main.add_command(today)


def _setup_django() -> None:
    import os

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "zaplecze.settings")
    django.setup()


@click.command()
@click.option("--mine", is_flag=True, help="Only the exceptions owned by USER (or by USER's role)")
@click.option("--user", "username", help="Whose view (default: the first active administrator)")
@click.option(
    "--area", default="", help="One area (orders, shipping, service, stock, integrations, catalog…)"
)
@click.option("--refresh", is_flag=True, help="Ask every detector again first")
@click.option("--json", "as_json", is_flag=True, help="Print JSON")
def today(mine: bool, username: str | None, area: str, refresh: bool, as_json: bool) -> None:
    """What needs someone now, most urgent first."""
    _setup_django()
    from django.utils.translation import override

    from zaplecze.core.models import User
    from zaplecze.today import selectors, services
    from zaplecze.today.api import out

    if username:
        user = User.objects.filter(username=username, is_active=True).first()
        if user is None:
            raise click.UsageError(f"--user: no active user {username!r}")
    else:
        user = User.objects.filter(is_active=True, role="admin").order_by("pk").first()
        if user is None:
            raise click.UsageError("No active administrator: pass --user USERNAME")
    if refresh:
        report = services.exceptions_refresh()
        click.echo(f"refreshed: {report.opened} opened, {report.resolved} resolved", err=True)
        for kind, error in report.failed.items():
            click.echo(f"detector {kind} failed: {error}", err=True)
    f = selectors.TodayFilter(owner="mine" if mine else "all", area=area)
    with override(user.language or "pl"):
        rows = [out(e) for e in selectors.exceptions_list(user, f)]
    if as_json:
        json.dump(rows, sys.stdout, ensure_ascii=False, indent=1, default=str)
        sys.stdout.write("\n")
        return
    if not rows:
        click.echo("Nothing needs you right now.")
        return
    for r in rows:
        due = r["due_at"].strftime("%Y-%m-%d %H:%M") if r["due_at"] else "-"
        click.echo(f"{r['severity']:<8} {r['area']:<12} {due:<16} {r['label']}: {r['why']}")
