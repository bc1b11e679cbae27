"""`zaplecze report sales|operations ...`: the same report files as the report page, from the command line."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import click


def register_cli(main: click.Group) -> None:
    main.add_command(report)
    main.add_command(anomalies)
    main.add_command(insights_command)


def _setup_django() -> None:
    import os

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "zaplecze.settings")
    django.setup()


def _date(value: str | None, name: str) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)", param_hint=name)


@click.command("report")
@click.argument("kind", type=click.Choice(["sales", "operations", "process", "customers"]))
@click.option("--from", "date_from", help="First day (YYYY-MM-DD, local); default: 30 days ago")
@click.option("--to", "date_to", help="Last day, included; default: yesterday")
@click.option("--channel", default="", help="A channel code (default: all channels)")
@click.option("--currency", default="", help="ISO currency (default: the channel's; PLN for all channels)")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["html", "pdf", "xlsx", "csv", "json"]),
    default="json",
    show_default=True,
)
@click.option("-o", "--output", help="File to write (default: standard output for json, csv and html)")
def report(kind, date_from, date_to, channel, currency, fmt, output):
    """Build a sales or operations report (JSON totals are the numbers the PDF shows), or print the order
    handling (process mining) or customers and products analyses as JSON."""
    _setup_django()
    from zaplecze.core.businesstime import local_today
    from zaplecze.core.errors import DomainError
    from zaplecze.orders.models import Channel
    from zaplecze.reports.sales import Period

    from .services import report_build

    today = local_today()
    start = _date(date_from, "--from") or today - dt.timedelta(days=30)
    end = _date(date_to, "--to") or today - dt.timedelta(days=1)
    if channel and not Channel.objects.filter(code=channel).exists():
        raise click.BadParameter(f"no channel {channel!r}", param_hint="--channel")
    if currency and not (len(currency) == 3 and currency.isalpha()):
        raise click.BadParameter(f"{currency!r} is not an ISO currency code", param_hint="--currency")
    if kind in ("process", "customers"):
        if fmt != "json":
            raise click.BadParameter(f"the {kind} analysis is printed as json only", param_hint="--format")
        _analysis(kind, Period(start, end), channel=channel, currency=currency or "PLN", output=output)
        return
    if fmt in ("pdf", "xlsx") and not output:
        raise click.UsageError(f"--format {fmt} writes a binary file: give -o FILE")
    try:
        run, content = report_build(
            kind=kind, period=Period(start, end), fmt=fmt, channel=channel, currency=currency
        )
    except DomainError as exc:
        raise click.BadParameter(exc.message, param_hint=f"--{exc.field}" if exc.field else None)
    if output and output != "-":
        Path(output).write_bytes(content)
        what = f"{start} – {end}" if kind == "sales" else "as of now"
        click.echo(f"{output}: {len(content):,} bytes ({kind} report {what}, {fmt})", err=True)
    else:
        sys.stdout.buffer.write(content)
        if not content.endswith(b"\n"):
            sys.stdout.buffer.write(b"\n")


@click.command("anomalies")
@click.option("--day", help="The day to check (YYYY-MM-DD); default: yesterday")
@click.option("--json", "as_json", is_flag=True, help="Print the anomalies found as JSON")
def anomalies(day, as_json):
    """Check a day's orders and gross revenue against the same weekday in the 8 weeks before."""
    _setup_django()
    import json

    from zaplecze.core.businesstime import local_today

    from .anomalies import check_day, describe

    when = _date(day, "--day") or local_today() - dt.timedelta(days=1)
    found = check_day(when)
    if as_json:
        click.echo(json.dumps([{"metric": a.metric, "day": a.day.isoformat(), "value": float(a.value),
                                "expected": float(a.expected), "score": a.score, "text": describe(a)}
                               for a in found], ensure_ascii=False))  # fmt: skip
    elif found:
        for a in found:
            click.echo(describe(a))
    else:
        click.echo(f"{when}: nothing unusual (or no new anomaly)")


@click.command("insights")
@click.option("--refresh", is_flag=True, help="Run the insight rules first (as the daily job does)")
@click.option("--measure", is_flag=True, help="Measure the effect of done insights whose after-period ended")
@click.option(
    "--state",
    type=click.Choice(["open", "new", "accepted", "dismissed", "done", "all"]),
    default="open",
    show_default=True,
)
@click.option("--kind", default="", help="Only one kind (e.g. stockout, carrier_late)")
@click.option("--json", "as_json", is_flag=True, help="Print the insights as JSON")
def insights_command(refresh, measure, state, kind, as_json):
    """List the insights (findings with evidence and a suggested action); --refresh runs the rules first."""
    _setup_django()
    import json

    from zaplecze.core.businesstime import local_today

    from .insights_selectors import insights_list
    from .insights_services import insights_measure_due, insights_refresh
    from .models import Insight

    if kind and kind not in Insight.Kind.values:
        raise click.BadParameter(f"one of {', '.join(Insight.Kind.values)}", param_hint="--kind")
    today = local_today()
    if refresh:
        result = insights_refresh(today)
        click.echo(f"{len(result['created'])} new, {len(result['updated'])} updated", err=True)
        for name, error in result["failed"].items():
            click.echo(f"rule {name} failed: {error}", err=True)
    if measure:
        click.echo(f"{len(insights_measure_due(today))} measured", err=True)
    items = list(insights_list(state=state, kind=kind))
    if as_json:
        fields = (
            "id",
            "kind",
            "subject_type",
            "subject_id",
            "subject_label",
            "title",
            "statistic",
            "p_value",
            "confidence",
            "effect_unit",
            "action_text",
            "action_url",
            "state",
            "evidence",
            "measured_effect",
        )
        rows = [{f: getattr(i, f) for f in fields} | {
            "period_from": i.period_from.isoformat(), "period_to": i.period_to.isoformat(),
            "expected_effect": None if i.expected_effect is None else float(i.expected_effect),
        } for i in items]  # fmt: skip
        click.echo(json.dumps(rows, ensure_ascii=False, default=str))
        return
    if not items:
        click.echo("no insights")
    for i in items:
        effect = "" if i.expected_effect is None else f" [{i.expected_effect} {i.effect_unit}]"
        click.echo(f"#{i.id} {i.state:9} {i.kind:18} {i.title} (confidence {i.confidence:.0%}){effect}")


def _analysis(kind: str, period, *, channel: str, currency: str, output: str | None) -> None:
    """The same data as /api/v1/reports/process and /customers, as one JSON object."""
    from .render import to_json

    if kind == "process":
        from .process import process_report

        data = process_report(period, channel=channel)
    else:
        from .customers import customers_report

        data = customers_report(period, currency=currency)
    content = to_json(data)
    if output and output != "-":
        Path(output).write_bytes(content)
        click.echo(f"{output}: {len(content):,} bytes ({kind}, {period.start} – {period.end})", err=True)
    else:
        sys.stdout.buffer.write(content + b"\n")
