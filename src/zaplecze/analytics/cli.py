"""`zaplecze analytics ...`: thin doors into analytics.services and metrics."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

import click


def register_cli(main: click.Group) -> None:
    main.add_command(analytics_group)


def _setup_django() -> None:
    import os

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "zaplecze.settings")
    django.setup()


def _default_site(site: str | None) -> str:
    from zaplecze.analytics.models import Site

    if site:
        return site
    domains = list(Site.objects.filter(is_active=True).values_list("domain", flat=True)[:2])
    if len(domains) == 1:
        return domains[0]
    raise click.UsageError(
        "--site: name the site (there are %s)" % ("none yet" if not domains else "several")
    )


def _date(value: str | None, name: str) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date like 2026-11-20", param_hint=name)


@click.group("analytics")
def analytics_group() -> None:
    """Traffic analytics: collector spool, server-log import, metrics."""


@analytics_group.command("import-log")
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "--format", "fmt", type=click.Choice(["combined", "common"]), default="combined", show_default=True
)
@click.option(
    "--site", default=None, help="The site the log belongs to (created if new). Default: the only site."
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
def import_log_cmd(files: tuple[Path, ...], fmt: str, site: str | None, as_json: bool) -> None:
    """Import nginx/Apache access logs (plain or .gz) into the event store. Lines already imported from the
    same file are skipped; malformed lines are counted and sampled, never fatal. Exit status 1 when no line
    could be imported."""
    _setup_django()
    from zaplecze.analytics.services import logs_import
    from zaplecze.core.errors import DomainError

    domain = _default_site(site)
    total = sum(p.stat().st_size for p in files)
    bar = None
    if sys.stderr.isatty() and not as_json:
        bar = click.progressbar(length=total, label="Importing", file=sys.stderr)
        bar.__enter__()
    state = {"last": 0}

    def progress(pos: int) -> None:
        if bar is not None:
            bar.update(pos - state["last"])
            state["last"] = pos

    try:
        report = logs_import(paths=list(files), site=domain, fmt=fmt, progress=progress)
    except DomainError as exc:
        raise click.ClickException(exc.message)
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
    data = report.as_dict() | {"site": domain}
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False))
    else:
        click.echo(
            f"{report.lines} lines: {report.imported} imported ({report.pageviews} page views, {report.static} "
            f"static, {report.crawlers} crawler requests), {report.malformed} malformed, {report.skipped} "
            "already imported"
        )
        for s in report.samples:
            click.echo(f"  {s['file']}:{s['line']}: {s['text'][:120]}", err=True)
        if report.hint:
            click.echo(f"  hint: {report.hint}", err=True)
    if report.lines and not report.imported:
        sys.exit(1)


@analytics_group.command("summary")
@click.option("--from", "date_from", default=None, help="First day (YYYY-MM-DD).")
@click.option("--to", "date_to", default=None, help="Last day (YYYY-MM-DD).")
@click.option("--site", default=None)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (GoAccess-comparable counts).")
def summary_cmd(date_from: str | None, date_to: str | None, site: str | None, as_json: bool) -> None:
    """Requests, visitors, top paths, status codes, 404s, referrers, browsers and OS of the imported
    server logs."""
    _setup_django()
    from zaplecze.analytics.metrics import log_summary

    d0, d1 = _date(date_from, "--from"), _date(date_to, "--to")
    if d0 and d1 and d1 < d0:
        raise click.BadParameter("must not be before --from", param_hint="--to")
    data = log_summary(site=site, date_from=d0, date_to=d1)
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False))
        return
    click.echo(
        f"{data['requests']} requests ({data['failed_requests']} failed), {data['unique_visitors']} unique visitors, "
        f"{data['pageviews']} page views, {data['bandwidth_bytes']} bytes"
    )
    for row in data["top_paths"]:
        click.echo(f"  {row['hits']:>8}  {row['visitors']:>6}  {row['path']}")


@analytics_group.command("report")
@click.option("--from", "date_from", required=True, help="First day (YYYY-MM-DD).")
@click.option("--to", "date_to", required=True, help="Last day (YYYY-MM-DD).")
@click.option("--site", default=None)
@click.option("--filter", "filters", multiple=True, help="dimension=value, e.g. source=search (repeatable).")
def report_cmd(date_from: str, date_to: str, site: str | None, filters: tuple[str, ...]) -> None:
    """The dashboard's numbers as one JSON object: cards with the previous period, sources, pages,
    devices, funnel and revenue per source."""
    _setup_django()
    from zaplecze.analytics import selectors
    from zaplecze.analytics.metrics import QueryError

    parsed = {}
    for f in filters:
        key, sep, value = f.partition("=")
        if not sep:
            raise click.BadParameter(f"{f!r}: write dimension=value", param_hint="--filter")
        parsed[key.strip()] = value
    try:
        data = selectors.dashboard(
            site=_default_site(site),
            date_from=_date(date_from, "--from"),
            date_to=_date(date_to, "--to"),
            filters=parsed,
        )
    except QueryError as exc:
        raise click.ClickException(str(exc))
    click.echo(json.dumps(data, ensure_ascii=False, default=str))


@analytics_group.command("flush")
def flush_cmd() -> None:
    """Move the collector's spool into Parquet now (the worker does it every minute)."""
    _setup_django()
    from zaplecze.analytics.services import spool_flush

    click.echo(json.dumps(spool_flush()))


@analytics_group.command("maintain")
def maintain_cmd() -> None:
    """Compact small files, apply retention, forget old salts, export changed orders (the worker: hourly)."""
    _setup_django()
    from zaplecze.analytics.services import warehouse_maintain

    click.echo(json.dumps(warehouse_maintain(), default=str))


@analytics_group.command("site-add")
@click.argument("domain")
@click.option("--name", default="")
@click.option(
    "--origin", "origins", multiple=True, help="Another origin allowed to send events (repeatable)."
)
def site_add_cmd(domain: str, name: str, origins: tuple[str, ...]) -> None:
    """Track a new site; prints the snippet to paste into its theme."""
    _setup_django()
    from django.conf import settings

    from zaplecze.analytics.services import site_create
    from zaplecze.core.errors import DomainError

    try:
        site = site_create(domain=domain, name=name, allowed_origins="\n".join(origins), actor=None)
    except DomainError as exc:
        raise click.ClickException(exc.message)
    click.echo(f'<script defer src="{settings.BASE_URL}/z.js" data-site="{site.domain}"></script>')
