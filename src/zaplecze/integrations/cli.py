"""`zaplecze channels sync|push|test|list`: thin doors into the integrations services."""

from __future__ import annotations

import datetime as dt
import json

import click


def register_cli(main: click.Group) -> None:
    main.add_command(channels_group)


def _setup_django() -> None:
    """Django is set up inside the commands, so `zaplecze --help` stays fast."""
    import os

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "zaplecze.settings")
    django.setup()


def _connection(code: str):
    from zaplecze.integrations.selectors import connection_by_channel

    connection = connection_by_channel(code)
    if connection is None:
        raise click.ClickException(f"Channel {code!r} has no connection (Settings → Integrations).")
    return connection


def _since(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD or an ISO date and time)") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


@click.group("channels")
def channels_group() -> None:
    """Sales channel connections: import orders now, test the credentials."""


@channels_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_cmd(as_json: bool) -> None:
    """Connections with their state and last successful sync."""
    _setup_django()
    from zaplecze.integrations.selectors import connections_health

    rows = [
        {
            "channel": h.connection.channel.code,
            "platform": h.connection.platform,
            "status": h.connection.status,
            "last_success_at": h.connection.last_success_at.isoformat()
            if h.connection.last_success_at
            else None,
            "lag_minutes": h.lag_minutes,
            "open_errors": h.open_errors,
        }
        for h in connections_health()
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        click.echo(
            f"{r['channel']:<12} {r['platform']:<12} {r['status']:<16} "
            f"last sync {r['last_success_at'] or '—'}  errors {r['open_errors']}"
        )


@channels_group.command("sync")
@click.argument("code")
@click.option(
    "--since", help="Read again every order modified since this date (YYYY-MM-DD); default: from the cursor."
)
@click.option("--json", "as_json", is_flag=True, help="Print the run as JSON.")
def sync_cmd(code: str, since: str | None, as_json: bool) -> None:
    """Import CODE's orders now (the worker does it every 10 minutes)."""
    _setup_django()
    from zaplecze.core.errors import DomainError
    from zaplecze.integrations.services import connection_sync

    connection = _connection(code)
    when = _since(since)
    try:
        run = connection_sync(
            connection_id=connection.pk, kind="reconcile" if when else "import", since=when, actor=None
        )
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    data = {
        "outcome": run.outcome,
        "pages": run.pages,
        "fetched": run.fetched,
        "created": run.created,
        "updated": run.updated,
        "unchanged": run.unchanged,
        "errors": run.errors,
        "error": run.error,
        "cursor": run.cursor_after,
    }
    if as_json:
        click.echo(json.dumps(data, indent=2))
    else:
        click.echo(
            f"{code}: {run.outcome} — fetched {run.fetched}, created {run.created}, updated {run.updated}, "
            f"unchanged {run.unchanged}, errors {run.errors}"
        )
        if run.error:
            click.echo(run.error, err=True)
    if run.outcome == "failed":
        raise SystemExit(1)


@channels_group.command("push")
@click.argument("code")
@click.option(
    "--all", "all_skus", is_flag=True, help="Queue every SKU first (a full resync of stock and prices)."
)
@click.option("--json", "as_json", is_flag=True, help="Print the run as JSON.")
def push_cmd(code: str, all_skus: bool, as_json: bool) -> None:
    """Push CODE's pending stock and prices now (the worker does it every minute)."""
    _setup_django()
    from zaplecze.core.errors import DomainError
    from zaplecze.integrations.push import due_count
    from zaplecze.integrations.services import connection_push

    connection = _connection(code)
    if not as_json:
        click.echo(
            f"{code}: {due_count(connection.pk)} pending pushes" + (" + every SKU" if all_skus else "")
        )
    try:
        run = connection_push(
            connection_id=connection.pk,
            all_skus=all_skus,
            actor=None,
            progress=None
            if as_json
            else lambda t: click.echo(
                f"  batch {t.batches}: sent {t.sent}, not found {t.not_found}, failed {t.failed}"
            ),
        )
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    data = {
        "outcome": run.outcome,
        "batches": run.pages,
        "skus": run.fetched,
        "sent": run.updated,
        "errors": run.errors,
        "error": run.error,
        "pending": due_count(connection.pk),
    }
    if as_json:
        click.echo(json.dumps(data, indent=2))
    else:
        click.echo(
            f"{code}: {run.outcome} — {run.fetched} SKUs in {run.pages} batches, sent {run.updated}, "
            f"errors {run.errors}, still due {data['pending']}"
        )
        if run.error:
            click.echo(run.error, err=True)
    if run.outcome == "failed":
        raise SystemExit(1)


@channels_group.command("test")
@click.argument("code")
def test_cmd(code: str) -> None:
    """Make one authenticated call to CODE's platform."""
    _setup_django()
    from zaplecze.core.errors import DomainError
    from zaplecze.integrations.services import connection_test

    connection = _connection(code)
    try:
        result = connection_test(connection_id=connection.pk, actor=None)
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"{code}: {'OK' if result.ok else 'FAILED'} — {result.message}")
    if not result.ok:
        raise SystemExit(1)
