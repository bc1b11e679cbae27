"""Product-page panel of the audit area: the product's quality score and its findings with fix hints."""

from __future__ import annotations

from django.utils.translation import gettext as _

from zaplecze.core.permissions import user_has

from . import panels


def audit_panel(request, product) -> dict | None:
    if not user_has(request.user, "catalog.view"):
        return None
    from .audit import product_findings

    return {
        "title": _("Quality audit"),
        "template": "catalog/_panel_audit.html",
        "context": {"audit_findings": product_findings(product.pk)},
        "order": 80,
    }


panels.register("audit", audit_panel)
