"""Product-page panel of the feeds area (registered through catalog.panels.register): which feeds include the
product's variants at their last build, and why a variant is left out."""

from __future__ import annotations

from django.utils.translation import gettext as _

from zaplecze.core.permissions import user_has

from . import panels


def feeds_panel(request, product):
    if not user_has(request.user, "catalog.view"):
        return None
    from .feeds import product_feed_status

    status = product_feed_status(product)
    if not status:
        return None
    return {
        "title": _("Feeds"),
        "template": "catalog/_panel_feeds.html",
        "context": {"feed_status": status},
        "order": 60,
    }


panels.register("feeds", feeds_panel)
