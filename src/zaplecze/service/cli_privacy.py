"""`zaplecze customers export|erase`: a person's data (GDPR) from the command line, as thin doors into
service.privacy. Both are written to the audit log as done by "cli"."""

from __future__ import annotations

import json
import sys

import click


def register_cli(main: click.Group) -> None:
    main.add_command(customers_group)


def _subject(value: str):
    from zaplecze.core.errors import DomainError

    from . import privacy

    try:
        return privacy.subject_resolve(value)
    except DomainError as exc:
        raise click.ClickException(exc.message)


@click.group("customers")
def customers_group() -> None:
    """Customers' personal data: export (GDPR art. 15/20) and erasure by anonymisation (art. 17)."""


@customers_group.command("export")
@click.argument("who", metavar="EMAIL|#CUSTOMER")
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, writable=True), help="Write to FILE (default: stdout)."
)
@click.option("--zip", "as_zip", is_flag=True, help="A ZIP with export.json and the files (photos, labels).")
def export_cmd(who: str, output: str | None, as_zip: bool) -> None:
    """Everything stored about one person, as JSON (or a ZIP)."""
    from .cli import _setup

    _setup()
    from . import privacy

    subject = _subject(who)
    data = (
        privacy.export_zip(subject, actor=None, via="cli")
        if as_zip
        else privacy.export_json(subject, actor=None, via="cli")
    )
    if output:
        with open(output, "wb") as fh:
            fh.write(data)
        click.echo(f"{len(data)} bytes written to {output}", err=True)
    elif as_zip:
        raise click.UsageError("--zip needs -o FILE")
    else:
        sys.stdout.write(data.decode("utf-8") + "\n")


@customers_group.command("erase")
@click.argument("who", metavar="EMAIL|#CUSTOMER")
@click.option("--yes", is_flag=True, help="Confirm: erase without asking (irreversible).")
@click.option("--dry-run", is_flag=True, help="Only show what would be erased and what stops it.")
@click.option("--json", "as_json", is_flag=True, help="Print the plan or the result as JSON.")
def erase_cmd(who: str, yes: bool, dry_run: bool, as_json: bool) -> None:
    """Anonymise one person's data, keeping the accounting records. Refused while orders, returns,
    complaints, tickets or refunds are still open (exit code 2)."""
    from .cli import _setup

    _setup()
    from zaplecze.core.errors import DomainError

    from . import privacy

    subject = _subject(who)
    plan = privacy.erasure_plan(subject)
    if dry_run or not plan.allowed:
        if as_json:
            click.echo(json.dumps(plan.as_dict(), ensure_ascii=False, indent=2))
        else:
            for key, value in plan.counts.items():
                click.echo(f"{key}: {value}")
            for line in plan.blockers:
                click.echo(f"REFUSED: {line}")
            for line in plan.kept:
                click.echo(f"kept: {line}")
            for line in plan.warnings:
                click.echo(f"warning: {line}")
        if not plan.allowed:
            raise SystemExit(2)
        return
    if not yes:
        typed = click.prompt(
            f"Type {subject.confirm_text} to erase (irreversible)", default="", show_default=False
        )
    else:
        typed = subject.confirm_text
    try:
        counts = privacy.erase(subject, actor=None, confirm=typed, via="cli")
    except DomainError as exc:
        raise click.ClickException(exc.message)
    if as_json:
        click.echo(
            json.dumps({"erased": True, "counts": counts, "kept": plan.kept}, ensure_ascii=False, indent=2)
        )
    else:
        click.echo("Erased: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
        for line in plan.kept:
            click.echo(f"kept: {line}")
