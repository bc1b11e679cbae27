from __future__ import annotations

from django.db.models import Q, QuerySet

from .models import Variant


def variants_by_codes(codes: set[str]) -> dict[str, Variant]:
    """Variants matching any of the given SKUs or EANs, keyed by both SKU and EAN."""
    codes = {c for c in codes if c}
    if not codes:
        return {}
    out: dict[str, Variant] = {}
    for v in Variant.objects.filter(Q(sku__in=codes) | Q(ean__in=codes)):
        out[v.sku] = v
        if v.ean:
            out.setdefault(v.ean, v)
    return out


def variant_search(q: str = "", limit: int = 50) -> QuerySet[Variant]:
    qs = Variant.objects.select_related("product", "product__category").order_by("sku")
    if q:
        qs = qs.filter(Q(sku__istartswith=q) | Q(ean=q) | Q(name__icontains=q))
    return qs[:limit]


def variant_page(*, q: str = "", after: str = "", limit: int = 50) -> list[Variant]:
    """Variants ordered by SKU, keyset-paginated: pass the last SKU of a page as `after`."""
    qs = Variant.objects.select_related("product", "product__category").order_by("sku")
    if q:
        qs = qs.filter(Q(sku__istartswith=q) | Q(ean=q) | Q(name__icontains=q))
    if after:
        qs = qs.filter(sku__gt=after)
    return list(qs[:limit])
