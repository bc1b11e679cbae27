"""Product-page panel of the prices area: each variant's price now (base and each channel with an offer);
when reduced, the Omnibus reference price and the "-X %" computed from it; a link to the full history."""

from __future__ import annotations

from django.utils.translation import gettext as _

from zaplecze.core.permissions import user_has

from . import panels


def prices_panel(request, product) -> dict | None:
    if not user_has(request.user, "catalog.view"):
        return None
    from .models import Offer
    from .omnibus import effective_prices

    variants = list(product.variants.order_by("sku").values_list("pk", "sku"))
    ids = [pk for pk, _sku in variants]
    channels = sorted(set(Offer.objects.filter(variant_id__in=ids).values_list("channel", flat=True)))
    offered = set(Offer.objects.filter(variant_id__in=ids).values_list("variant_id", "channel"))
    by_channel = {channel: effective_prices(ids, channel) for channel in ["", *channels]}
    rows = []
    for pk, sku in variants:
        for channel in ["", *channels]:
            if channel and (pk, channel) not in offered:
                continue
            eff = by_channel[channel].get(pk)
            if eff is not None:
                rows.append({"variant_id": pk, "sku": sku, "channel": channel, "eff": eff})
    return {
        "title": _("Prices"),
        "template": "catalog/_panel_prices.html",
        "context": {"price_rows": rows, "can_edit": user_has(request.user, "catalog.edit")},
        "order": 30,
    }


panels.register("prices", prices_panel)
