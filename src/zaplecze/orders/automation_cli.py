"""`zaplecze automation list|dry-run RULE|run-due`: thin doors into orders.automation."""

from __future__ import annotations

import json
import sys

import click


def register_cli(main: click.Group) -> None:
    main.add_command(automation_group)


def _setup_django() -> None:
    """Django is set up inside the commands, so `zaplecze --help` stays fast."""
    import os

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "zaplecze.settings")
    django.setup()


@click.group("automation")
def automation_group() -> None:
    """Automation rules for orders: list them, dry-run one, run the time-based ones now."""


@automation_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of the rules.")
def list_cmd(as_json: bool) -> None:
    """Every rule in running order: on/off, trigger, conditions, actions."""
    _setup_django()
    from zaplecze.orders.automation import rule_summary
    from zaplecze.orders.automation_selectors import rules

    rows = []
    for rule in rules():
        summary = rule_summary(rule)
        rows.append(
            {
                "id": rule.pk,
                "position": rule.position,
                "name": rule.name,
                "enabled": rule.enabled,
                "stop_processing": rule.stop_processing,
                "trigger": rule.trigger,
                "trigger_params": rule.trigger_params,
                "conditions": rule.conditions,
                "actions": rule.actions,
                "summary": summary,
            }
        )
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, default=str))
        return
    if not rows:
        click.echo("No automation rules.")
        return
    for row in rows:
        state = "on " if row["enabled"] else "off"
        stop = " [stop]" if row["stop_processing"] else ""
        click.echo(f"{row['id']:>4}  {state}  {row['name']}{stop}")
        click.echo(f"        when: {row['summary']['trigger']}")
        for cond in row["summary"]["conditions"]:
            click.echo(f"        if:   {cond}")
        for action in row["summary"]["actions"]:
            click.echo(f"        then: {action}")


@automation_group.command("dry-run")
@click.argument("rule")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object with the matching orders.")
def dry_run_cmd(rule: str, as_json: bool) -> None:
    """Which open orders RULE (id or exact name) would match now. Nothing is changed."""
    _setup_django()
    from zaplecze.orders.automation import dry_run
    from zaplecze.orders.automation_selectors import rule_by_ref

    found = rule_by_ref(rule)
    if found is None:
        click.echo(
            f"No automation rule {rule!r} (give its id or exact name; see `zaplecze automation list`)",
            err=True,
        )
        sys.exit(2)
    result = dry_run(rule_id=found.pk)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "rule_id": found.pk,
                    "rule": found.name,
                    "checked": result.checked,
                    "matched": result.matched,
                    "truncated": result.truncated,
                    "actions": result.actions,
                    "orders": [
                        {
                            "id": m.order.pk,
                            "number": m.order.number,
                            "status": m.order.status.code,
                            "note": m.note,
                        }
                        for m in result.matches
                    ],
                },
                ensure_ascii=False,
            )
        )
        return
    click.echo(f"{found.name}: {result.matched} of {result.checked} open orders would match")
    for action in result.actions:
        click.echo(f"  then: {action}")
    for m in result.matches:
        note = f"  ({m.note})" if m.note else ""
        click.echo(
            f"  {m.order.number}  {m.order.status.code}  {m.order.total_gross} {m.order.currency}{note}"
        )
    if result.truncated:
        click.echo(f"  ... {result.matched - len(result.matches)} more")


@automation_group.command("run-due")
@click.option(
    "--json", "as_json", is_flag=True, help='Print one JSON object: {"rules", "orders", "matched", "failed"}.'
)
def run_due_cmd(as_json: bool) -> None:
    """Run the "in status X for N hours" rules now (the worker does it every 10 minutes). Each order is acted
    on once per entry into the status. Exit status 1 when some runs failed."""
    _setup_django()
    from zaplecze.orders.automation import due_run

    report = due_run()
    if as_json:
        click.echo(
            json.dumps(
                {
                    "rules": report.rules,
                    "orders": report.orders,
                    "matched": report.matched,
                    "failed": report.failed,
                }
            )
        )
    else:
        click.echo(
            f"{report.rules} time-based rules: {report.orders} orders looked at, "
            f"{report.matched} acted on, {report.failed} failed"
        )
    if report.failed:
        sys.exit(1)
