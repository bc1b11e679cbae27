"""`zaplecze catalog check-site URL`: the storefront check, run synchronously with a progress bar."""

from __future__ import annotations

import json
import sys

import click


def _setup_django() -> None:
    import os

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "zaplecze.settings")
    django.setup()


def attach(*, products: click.Group, catalog: click.Group, feed: click.Group) -> None:
    catalog.add_command(check_site_cmd)


def run_report(run) -> dict:
    """The run and all its result rows as plain data (the --json output and the text report's source)."""
    from . import sitecheck

    params = sitecheck.run_params(run)
    rows = []
    for row in sitecheck.run_results(run.pk).iterator(chunk_size=500):
        rows.append(
            {
                "url": row.url,
                "sku": row.variant.sku if row.variant else None,
                "product": row.variant.product.name if row.variant else None,
                "http_status": row.http_status,
                "fetch_ms": row.fetch_ms,
                "state": sitecheck.row_state(row.problems),
                "problems": row.problems,
            }
        )
    return {
        "run_id": run.pk,
        "state": run.state,
        "base_url": run.base_url,
        "sitemap_url": params.sitemap_url,
        "channel": params.channel,
        "pages": run.pages,
        "ok": run.ok,
        "mismatched": run.mismatched,
        "failed": run.failed,
        "unknown": sum(1 for r in rows if r["state"] == "unknown"),
        "error": run.error,
        "results": rows,
    }


@click.command("check-site")
@click.argument("url")
@click.option(
    "--sitemap", "sitemap_url", default="", help="Sitemap URL (default: robots.txt's, else /sitemap.xml)."
)
@click.option(
    "--urls",
    "urls_file",
    type=click.File("r", encoding="utf-8"),
    help="A file listing the product page URLs to check, one per line, instead of the sitemap.",
)
@click.option("--channel", default="", help='Channel code whose prices the shop shows ("" = base price).')
@click.option("--max-pages", default=500, show_default=True, type=int, help="Check at most this many pages.")
@click.option(
    "--rate", default=2.0, show_default=True, type=float, help="Requests per second per host (0 = no limit)."
)
@click.option("--concurrency", default=4, show_default=True, type=int, help="Pages fetched at the same time.")
@click.option("--timeout", default=15.0, show_default=True, type=float, help="Read timeout in seconds.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
def check_site_cmd(
    url: str,
    sitemap_url: str,
    urls_file,
    channel: str,
    max_pages: int,
    rate: float,
    concurrency: int,
    timeout: float,
    as_json: bool,
) -> None:
    """Fetch the shop's product pages at URL politely and compare them with the catalog.

    Exit status: 0 when every page agrees, 1 when some page disagrees or could not be checked,
    2 when the check itself failed (e.g. the sitemap does not load)."""
    _setup_django()
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from zaplecze.core.errors import DomainError

    from . import sitecheck

    urls = [line.strip() for line in urls_file] if urls_file else []
    params = sitecheck.CheckParams(
        base_url=url,
        sitemap_url=sitemap_url,
        urls=[u for u in urls if u and not u.startswith("#")],
        channel=channel,
        max_pages=max_pages,
        rate=rate,
        concurrency=concurrency,
        read_timeout=timeout,
    )
    try:
        run = sitecheck.site_check_start(params=params, queue=False)
    except DomainError as exc:
        where = f" ({exc.field})" if exc.field else ""
        raise click.UsageError(f"{exc.message}{where}") from None
    console = Console(stderr=True)
    with Progress(
        TextColumn("Checking pages"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=not console.is_terminal,
        transient=False,
    ) as bar:
        task = bar.add_task("pages", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        run = sitecheck.site_check_execute(run_id=run.pk, progress=progress)
    report = run_report(run)
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False, default=str))
    else:
        _print_text(report)
    if run.state == "failed":
        if not as_json:
            click.echo(f"Error: {run.error}", err=True)
        sys.exit(2)
    sys.exit(1 if report["mismatched"] or report["failed"] else 0)


def _print_text(report: dict) -> None:
    click.echo(
        f"Storefront check #{report['run_id']} of {report['base_url']}"
        f"{' (channel ' + report['channel'] + ')' if report['channel'] else ''}: {report['state']}"
    )
    click.echo(
        f"{report['pages']} pages: {report['ok']} OK, {report['mismatched']} with mismatches, "
        f"{report['failed']} not checked, {report['unknown']} unknown products"
    )
    for row in report["results"]:
        if row["state"] == "ok":
            continue
        who = f"{row['sku']} {row['product']}" if row["sku"] else "(no catalog product)"
        click.echo(f"\n{who}\n  {row['url']}")
        for p in row["problems"]:
            click.echo(f"  - {p['code']}: expected {p['expected'] or '-'}, found {p['found'] or '-'}")
