"""`zaplecze service ...`: the legal calculator, the due/overdue list and the worker's passes, as thin doors
into service.deadlines, selectors and services. Django is set up lazily inside the commands."""

from __future__ import annotations

import datetime as dt
import json
import os

import click

KINDS = ("withdrawal", "refund", "complaint", "liability")


def register_cli(main: click.Group) -> None:
    from .cli_privacy import register_cli as register_privacy

    main.add_command(service_group)
    register_privacy(main)


def _setup(language: str | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "zaplecze.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.utils import translation

    translation.activate(language or settings.LANGUAGE_CODE)


def _date(ctx, param, value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date; use YYYY-MM-DD")


@click.group("service")
def service_group() -> None:
    """Customer service: legal deadlines, returns, complaints, refunds, e-mails."""


@service_group.command("deadline")
@click.argument("kind", type=click.Choice(KINDS))
@click.option(
    "--from",
    "start",
    required=True,
    callback=_date,
    metavar="DATE",
    help="withdrawal, liability: delivery day; refund: day the statement was received; "
    "complaint: day the complaint was received (YYYY-MM-DD).",
)
@click.option(
    "--not-informed",
    is_flag=True,
    help="withdrawal: no record that the customer was informed of the right (14 days + 12 months).",
)
@click.option(
    "--informed-on", callback=_date, metavar="DATE", help="withdrawal: informed of the right later, on DATE."
)
@click.option("--business", is_flag=True, help="complaint, liability: a business customer (B2B rules).")
@click.option(
    "--contract-months",
    type=click.IntRange(1, 120),
    default=None,
    help="liability, business customer: warranty period set by the contract.",
)
@click.option("--lang", type=click.Choice(["pl", "en"]), default=None, help="Language of the rule text.")
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help='Print one JSON object: {"kind", "from", "deadline", "rule": [...], ...}.',
)
def deadline_cmd(
    kind: str,
    start: dt.date,
    not_informed: bool,
    informed_on: dt.date | None,
    business: bool,
    contract_months: int | None,
    lang: str | None,
    as_json: bool,
) -> None:
    """Compute a legal deadline and show the rule steps applied (periods and holidays: service/rules.py)."""
    _setup(lang)
    from zaplecze.service import deadlines

    result = deadlines.compute(
        kind,
        start,
        not_informed=not_informed,
        informed_on=informed_on,
        customer_type="business" if business else "consumer",
        contract_months=contract_months,
    )
    data = result.as_dict()
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False))
        return
    click.echo(f"{kind}: {data['deadline'] or '-'}")
    for i, step in enumerate(data["rule"], 1):
        click.echo(f"  {i}. {step}")


@service_group.command("deadlines")
@click.option(
    "--date", "today", callback=_date, metavar="DATE", help="Pretend today is DATE (default: today)."
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help='Print one JSON object: {"today", "returns": [...], "complaints": [...]}.',
)
def deadlines_cmd(today: dt.date | None, as_json: bool) -> None:
    """Open returns whose refund is due today or overdue, and complaints whose reply is."""
    _setup()
    from zaplecze.service import selectors

    data = selectors.due_cases(today)
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False))
        return
    click.echo(
        f"Due by {data['today']}: {len(data['returns'])} return(s), {len(data['complaints'])} complaint(s)"
    )
    for r in data["returns"]:
        flag = "OVERDUE" if r["overdue"] else "today"
        click.echo(f"  {r['number']}  order {r['order']}  refund due {r['refund_due']}  {flag}")
    for c in data["complaints"]:
        flag = "OVERDUE" if c["overdue"] else "today"
        click.echo(f"  {c['number']}  order {c['order']}  reply due {c['response_due']}  {flag}")


@service_group.command("run-deadlines")
@click.option("--date", "today", callback=_date, metavar="DATE", help="Pretend today is DATE.")
def run_deadlines_cmd(today: dt.date | None) -> None:
    """Escalate complaints at day 10 and deem accepted the unanswered ones past their deadline (the worker
    does this every hour)."""
    _setup()
    from zaplecze.service import services

    escalated = services.complaints_escalate(today=today)
    deemed = services.complaints_deem_accepted(today=today)
    click.echo(json.dumps({"escalated": escalated, "deemed_accepted": deemed}))


@service_group.command("send-outbox")
def send_outbox_cmd() -> None:
    """Send the e-mails that are due now and the refunds waiting to be sent (the worker does this too)."""
    _setup()
    from zaplecze.service import services

    sent = services.outbox_retry_due()
    refunds = services.refunds_retry_due()
    click.echo(json.dumps({"emails_sent": sent, "refunds_handed_over": refunds}))


@service_group.command("fetch-mail")
@click.option(
    "--limit",
    type=click.IntRange(1, 1_000_000),
    default=None,
    help="At most N messages in this run (default: ZAPLECZE_IMAP_BATCH, 500).",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help='Print one JSON object: {"fetched", "created", "threaded", "duplicate", "refused", "failed", ...}.',
)
def fetch_mail_cmd(limit: int | None, as_json: bool) -> None:
    """Import new e-mails from the IMAP mailbox (ZAPLECZE_IMAP_*) into tickets (the worker does this every
    minute). Exit status 1 when the mail server cannot be reached or refuses the login."""
    _setup()
    from zaplecze.service import mail

    try:
        report = mail.mail_fetch(limit=limit)
    except mail.MailSourceError as exc:  # not configured
        raise click.ClickException(str(exc.message))
    data = report.as_dict()
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False))
    else:
        click.echo(
            f"{report.source}: fetched {report.fetched}, new tickets {report.created}, "
            f"threaded {report.threaded}, duplicates {report.duplicate}, refused {report.refused}, "
            f"failed {report.failed}"
            + (f" (headers only, too large: {report.truncated})" if report.truncated else "")
        )
        for p in report.problems:
            click.echo(f"  UID {p['uid']}: {p['outcome']} {p['reason']}".rstrip())
    if report.error:
        click.echo(f"Error: {report.error}", err=True)
        raise SystemExit(1)


@service_group.command("import-mail")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object with a result per file.")
def import_mail_cmd(files: tuple[str, ...], as_json: bool) -> None:
    """Import e-mails saved as RFC 822 files (.eml) into tickets: threaded by In-Reply-To/References or the
    [T-...] tag, else a new ticket; the same Message-ID twice is stored once. (From the mailbox itself:
    `fetch-mail`.)"""
    _setup()
    from zaplecze.service import services

    results = []
    for path in files:
        with open(path, "rb") as fh:
            r = services.ticket_receive_email(fh.read())
        results.append({"file": path, "outcome": r.outcome, "ticket_id": r.ticket_id, "reason": r.reason})
    if as_json:
        click.echo(json.dumps({"results": results}, ensure_ascii=False))
    else:
        for r in results:
            click.echo(
                f"{r['file']}: {r['outcome']}"
                + (f" T-{r['ticket_id']:06d}" if r["ticket_id"] else "")
                + (f" ({r['reason']})" if r["reason"] else "")
            )
    if any(r["outcome"] == "refused" for r in results):
        raise SystemExit(1)
