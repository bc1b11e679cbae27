"""Product-page panel of the storefront check: the latest result of each variant on the live shop."""

from __future__ import annotations

from django.utils.translation import gettext as _

from zaplecze.core.permissions import user_has

from . import panels


def sitecheck_panel(request, product) -> dict | None:
    if not user_has(request.user, "catalog.view"):
        return None
    from .sitecheck import for_display, product_checks

    checks = product_checks(product.pk, runs_back=5)
    for row in checks["latest"]:
        row.problems = for_display(row.problems)
    return {
        "title": _("On the live shop"),
        "template": "catalog/_panel_sitecheck.html",
        "context": {"sitecheck": checks},
        "order": 90,
    }


panels.register("sitecheck", sitecheck_panel)
