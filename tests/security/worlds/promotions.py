"""URL parameters of promotions: a discount-code campaign on SKU-0001's product (draft, one code)."""

from __future__ import annotations


def build(world) -> dict:
    import datetime as dt

    from django.utils import timezone

    from zaplecze.catalog.models import Variant
    from zaplecze.promotions import services

    variant = Variant.objects.get(sku="SKU-0001")
    start = timezone.now() + dt.timedelta(days=2)
    campaign = services.campaign_create(
        data={
            "name": "Security codes",
            "kind": "codes",
            "value": "10",
            "start": start,
            "end": start + dt.timedelta(days=5),
        },
        targets=[{"kind": "product", "product_id": variant.product_id}],
        actor=None,
    )
    services.code_add(campaign_id=campaign.pk, code="SECURITY-1", max_uses=1, actor=None)
    return {"campaign_id": campaign.pk}
