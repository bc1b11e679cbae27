"""`zaplecze catalog audit [--json] [--product SKU]`: run the quality audit now and print the results."""

from __future__ import annotations

import json
import sys

import click


def _setup_django() -> None:
    import os

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "zaplecze.settings")
    django.setup()


@click.command("audit")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (score, counts, run figures).")
@click.option(
    "--product",
    "skus",
    multiple=True,
    metavar="SKU",
    help="Audit only the product with this variant SKU (repeatable); default: the whole catalog.",
)
def audit_cmd(as_json: bool, skus: tuple[str, ...]) -> None:
    """Audit the catalog now (the worker does it every night) and print the catalog score and counts per rule."""
    _setup_django()
    from zaplecze.catalog.audit import audit_run, catalog_summary, product_findings
    from zaplecze.catalog.models import Product, Variant

    product_ids = None
    if skus:
        found = dict(Variant.objects.filter(sku__in=skus).values_list("sku", "product_id"))
        missing = [s for s in skus if s not in found]
        if missing:
            raise click.ClickException(f"Unknown SKU: {', '.join(missing)}")
        product_ids = sorted(set(found.values()))
    bar = None
    state = {"last": 0}

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if as_json or not sys.stderr.isatty():
            return
        if bar is None:
            bar = click.progressbar(length=total, label="Auditing", file=sys.stderr, show_pos=True)
            bar.__enter__()
        bar.update(done - state["last"])
        state["last"] = done

    try:
        report = audit_run(product_ids=product_ids, progress=progress)
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
    summary = catalog_summary()
    products = []
    if product_ids:
        for p in Product.objects.filter(pk__in=product_ids).order_by("pk"):
            products.append(
                {
                    "id": p.pk,
                    "name": p.name,
                    "quality_score": p.quality_score,
                    "findings": [
                        {
                            "rule": f["rule"],
                            "severity": f["severity"],
                            "sku": f["variant_sku"],
                            "message": f["message"],
                        }
                        for f in product_findings(p.pk)
                    ],
                }
            )
    if as_json:
        out = {
            "score": summary["score"],
            "products": summary["products"],
            "products_with_findings": summary["products_with_findings"],
            "findings": summary["findings"],
            "by_severity": summary["by_severity"],
            "by_rule": {
                r["code"]: {"findings": r["findings"], "products": r["products"]} for r in summary["rules"]
            },
            "run": report.as_dict(),
        }
        if product_ids:
            out["audited"] = products
        click.echo(json.dumps(out, default=str))
        return
    score = "—" if summary["score"] is None else f"{summary['score']:.1f}"
    click.echo(
        f"Audited {report.products} products in {report.seconds:.1f} s. Catalog score: {score} / 100 "
        f"({summary['products']} products, {summary['products_with_findings']} with findings)"
    )
    sev = summary["by_severity"]
    click.echo(
        f"Findings: {summary['findings']} (error {sev['error']}, warning {sev['warning']}, info {sev['info']})"
    )
    width = max(len(r["code"]) for r in summary["rules"])
    for r in summary["rules"]:
        flag = "" if r["enabled"] else "  (off)"
        click.echo(
            f"  {r['code']:<{width}}  {r['severity']:<7}  {r['products']:>7} products  {r['findings']:>7}{flag}"
        )
    for p in products:
        click.echo(f"\n{p['name']} (score {p['quality_score']})")
        for f in p["findings"]:
            click.echo(f"  [{f['severity']}] {f['message']}")


def attach(*, products: click.Group, catalog: click.Group, feed: click.Group) -> None:
    catalog.add_command(audit_cmd)
