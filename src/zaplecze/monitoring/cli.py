"""`zaplecze` commands of monitoring: `zaplecze monitor list|run|incidents` (storefront checks)."""

from __future__ import annotations

import json
import sys

import click


def register_cli(main: click.Group) -> None:
    main.add_command(monitor)


def _setup_django() -> None:
    import os

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "zaplecze.settings")
    django.setup()


def _pct(value) -> str:
    return "—" if value is None else f"{value:.2f}%"


def _iso(value) -> str | None:
    return value.isoformat() if value else None


def _local(value) -> str:
    from django.utils import timezone

    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")


@click.group("monitor")
def monitor():
    """Storefront checks: uptime of the shop's pages, incidents."""


@monitor.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the checks as JSON")
def list_checks(as_json):
    """The checks with their state, uptime (24 h / 7 d / 30 d), last response and TLS days left."""
    _setup_django()
    from .selectors import checks_overview

    rows = checks_overview()
    if as_json:
        click.echo(json.dumps([{
            "id": r.check.pk, "name": r.check.name, "url": r.check.url, "kind": r.check.kind,
            "state": r.check.state, "enabled": r.check.enabled,
            "uptime": {k: float(v) if v is not None else None for k, v in r.uptime.items()},
            "last_checked_at": _iso(r.check.last_checked_at), "last_response_ms": r.check.last_response_ms,
            "tls_days_left": r.check.tls_days_left, "open_incidents": r.open_incidents,
        } for r in rows], ensure_ascii=False))  # fmt: skip
        return
    if not rows:
        click.echo("No storefront checks yet (add them in Shop health or POST /api/v1/monitoring/checks).")
        return
    click.echo(f"{'ID':>4}  {'STATE':8} {'24H':>8} {'7D':>8} {'30D':>8} {'MS':>6} {'TLS':>5}  NAME / URL")
    for r in rows:
        c = r.check
        click.echo(
            f"{c.pk:>4}  {c.state:8} {_pct(r.uptime['24h']):>8} {_pct(r.uptime['7d']):>8} "
            f"{_pct(r.uptime['30d']):>8} {c.last_response_ms if c.last_response_ms is not None else '—':>6} "
            f"{c.tls_days_left if c.tls_days_left is not None else '—':>5}  {c.name}  {c.url}"
        )


@monitor.command("run")
@click.option("--check", "check_id", type=int, help="Run this check only (whether it is due or not)")
@click.option("--all", "run_all", is_flag=True, help="Run every enabled check now, due or not")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON")
def run(check_id, run_all, as_json):
    """Run the checks that are due now (what the worker does every minute), one check, or all of them.
    Exits with status 1 when any check failed."""
    _setup_django()
    from zaplecze.core.errors import NotFound

    from . import services
    from .models import StorefrontCheck

    if check_id is not None:
        try:
            results = [services.check_run(check_id=check_id)]
        except NotFound:
            raise click.BadParameter(f"no check {check_id}", param_hint="--check") from None
    elif run_all:
        results = services.checks_run(StorefrontCheck.objects.filter(enabled=True).order_by("pk"))
    else:
        results = services.checks_run_due()
    results.sort(key=lambda r: r.check_ref_id)
    if as_json:
        click.echo(json.dumps([{
            "check_id": r.check_ref_id, "name": r.check_ref.name, "at": _iso(r.at), "ok": r.ok,
            "status_code": r.status_code, "response_ms": r.response_ms, "error": r.error, "tls_days": r.tls_days,
        } for r in results], ensure_ascii=False))  # fmt: skip
    elif not results:
        click.echo("No check was due.", err=True)
    else:
        for r in results:
            outcome = "ok  " if r.ok else "FAIL"
            tls = f" tls {r.tls_days} d" if r.tls_days is not None else ""
            status = r.status_code if r.status_code is not None else "—"
            click.echo(f"{outcome} #{r.check_ref_id} {r.check_ref.name}: HTTP {status} {r.response_ms} ms{tls}"
                       + (f"  {r.error}" if r.error else ""))  # fmt: skip
    if any(not r.ok for r in results):
        sys.exit(1)


@monitor.command("incidents")
@click.option("--open", "only_open", is_flag=True, help="Only open incidents")
@click.option("--check", "check_id", type=int, help="Only this check's incidents")
@click.option("--limit", type=click.IntRange(1, 10000), default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the incidents as JSON")
def incidents(only_open, check_id, limit, as_json):
    """Incidents, open first, then the newest."""
    _setup_django()
    from .selectors import incidents as select

    rows = list(select(state="open" if only_open else "", check_id=check_id)[:limit])
    if as_json:
        click.echo(json.dumps([{
            "id": i.pk, "check_id": i.check_ref_id, "check_name": i.check_ref.name, "kind": i.kind,
            "state": i.state, "opened_at": _iso(i.opened_at), "closed_at": _iso(i.closed_at), "cause": i.cause,
            "failures": i.failures, "ticket_id": i.ticket_id,
        } for i in rows], ensure_ascii=False))  # fmt: skip
        return
    if not rows:
        click.echo("No open incidents." if only_open else "No incidents.")
        return
    for i in rows:
        closed = f" → {_local(i.closed_at)}" if i.closed_at else ""
        ticket = f" ticket T-{i.ticket_id:06d}" if i.ticket_id else ""
        click.echo(f"#{i.pk} {i.state:6} {i.kind:4} {i.check_ref.name}: {_local(i.opened_at)}{closed}"
                   f"  {i.cause}{ticket}")  # fmt: skip
