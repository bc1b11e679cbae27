from __future__ import annotations

import base64
import datetime as dt
import json
from dataclasses import dataclass, field

from django.db.models import Count, Prefetch, Q, QuerySet
from django.db.models.functions import Coalesce

from zaplecze.core.errors import NotFound

from .models import AuditFinding, Category, Manufacturer, Offer, Product, ProductImage, Variant


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


# --- products: list, detail ------------------------------------------------------------------------------

# sort key -> (ordering fields, annotation used as the keyset value, descending?)
SORTS = {
    "name": ("name", False),
    "-name": ("name", True),
    "updated": ("updated_at", False),
    "-updated": ("updated_at", True),
    "score": ("score_key", False),
    "-score": ("score_key", True),
    "newest": ("id", True),
}
DEFAULT_SORT = "name"


def _int(value, lo: int | None = None, hi: int | None = None) -> int | None:
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    if (lo is not None and number < lo) or (hi is not None and number > hi):
        return None
    return number


@dataclass
class ProductFilter:
    q: str = ""
    status: str = ""
    category: int | None = None
    brand: str = ""
    manufacturer: int | None = None
    has_image: str = ""  # "yes" / "no" / ""
    issue: str = ""  # AuditFinding.rule
    severity: str = ""
    score_min: int | None = None
    score_max: int | None = None
    channel: str = ""
    offer: str = ""  # "active" / "missing" / "" (with channel)
    sort: str = DEFAULT_SORT
    ids: list[int] = field(default_factory=list)

    @classmethod
    def from_params(cls, params) -> ProductFilter:
        def s(name: str, n: int = 100) -> str:
            return (params.get(name) or "").strip()[:n]

        status = s("status")
        sort = s("sort")
        return cls(
            q=s("q"),
            status=status if status in Product.Status.values else "",
            category=_int(params.get("category"), 1),
            brand=s("brand", 120),
            manufacturer=_int(params.get("manufacturer"), 1),
            has_image=s("has_image") if s("has_image") in ("yes", "no") else "",
            issue=s("issue", 50),
            severity=s("severity") if s("severity") in ("error", "warning", "info") else "",
            score_min=_int(params.get("score_min"), 0, 100),
            score_max=_int(params.get("score_max"), 0, 100),
            channel=s("channel", 40),
            offer=s("offer") if s("offer") in ("active", "missing") else "",
            sort=sort if sort in SORTS else DEFAULT_SORT,
        )

    @property
    def active(self) -> bool:
        return any(
            [
                self.q,
                self.status,
                self.category,
                self.brand,
                self.manufacturer,
                self.has_image,
                self.issue,
                self.severity,
                self.score_min is not None,
                self.score_max is not None,
                self.channel and self.offer,
            ]
        )


def category_descendants(category_id: int) -> set[int]:
    from .services import category_descendant_ids

    return category_descendant_ids(category_id)


def products(f: ProductFilter) -> QuerySet[Product]:
    """Products matching the filter. Conditions on related rows are `id IN (subquery)`: evaluated once, not
    per product, and never duplicating a product."""
    qs = Product.objects.all()
    if f.q:
        q = f.q
        by_code = Variant.objects.filter(Q(sku__istartswith=q) | Q(ean=q)).values("product_id")
        qs = qs.filter(Q(name__icontains=q) | Q(pk__in=by_code))
    if f.status:
        qs = qs.filter(status=f.status)
    if f.category:
        qs = qs.filter(category_id__in=category_descendants(f.category))
    if f.brand:
        qs = qs.filter(brand__iexact=f.brand)
    if f.manufacturer:
        qs = qs.filter(manufacturer_id=f.manufacturer)
    if f.has_image:
        with_image = ProductImage.objects.values("product_id")
        qs = qs.filter(pk__in=with_image) if f.has_image == "yes" else qs.exclude(pk__in=with_image)
    if f.issue or f.severity:
        findings = AuditFinding.objects.all()
        if f.issue:
            findings = findings.filter(rule=f.issue)
        if f.severity:
            findings = findings.filter(severity=f.severity)
        qs = qs.filter(pk__in=findings.values("product_id"))
    if f.score_min is not None:
        qs = qs.filter(quality_score__gte=f.score_min)
    if f.score_max is not None:
        qs = qs.filter(quality_score__lte=f.score_max)
    if f.channel and f.offer:
        offered = Offer.objects.filter(channel=f.channel, active=True).values("variant__product_id")
        qs = qs.filter(pk__in=offered) if f.offer == "active" else qs.exclude(pk__in=offered)
    if f.ids:
        qs = qs.filter(pk__in=f.ids)
    return qs


@dataclass
class ProductPage:
    items: list[Product]
    next_cursor: str | None
    sort: str


def _encode(value, pk: int) -> str:
    if isinstance(value, dt.datetime):
        value = {"dt": value.isoformat()}
    raw = json.dumps([value, pk], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str):
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value, pk = json.loads(raw)
        if isinstance(value, dict):
            value = dt.datetime.fromisoformat(value["dt"])
        if not isinstance(pk, int):
            return None
        return value, pk
    except (ValueError, TypeError, KeyError, json.JSONDecodeError):
        return None


def product_page(f: ProductFilter, *, cursor: str | None = None, limit: int = 50) -> ProductPage:
    """One page of the product list, keyset-paginated on (sort value, id): fast at any depth."""
    key, desc = SORTS.get(f.sort, SORTS[DEFAULT_SORT])
    qs = (
        products(f)
        .select_related("category", "manufacturer")
        .annotate(score_key=Coalesce("quality_score", -1))
    )
    order = [f"-{key}", "-id"] if desc else [key, "id"]
    if key == "id":
        order = ["-id"] if desc else ["id"]
    qs = qs.order_by(*order)
    decoded = _decode(cursor) if cursor else None
    if decoded is not None:
        value, pk = decoded
        if key == "id":
            qs = qs.filter(pk__lt=pk) if desc else qs.filter(pk__gt=pk)
        elif desc:
            qs = qs.filter(Q(**{f"{key}__lt": value}) | Q(**{key: value, "pk__lt": pk}))
        else:
            qs = qs.filter(Q(**{f"{key}__gt": value}) | Q(**{key: value, "pk__gt": pk}))
    items = list(qs[: limit + 1])
    next_cursor = None
    if len(items) > limit:
        items = items[:limit]
        last = items[-1]
        next_cursor = _encode(getattr(last, key) if key != "id" else last.pk, last.pk)
    ids = [p.pk for p in items]
    first_image = {}
    for img in ProductImage.objects.filter(product_id__in=ids).order_by("product_id", "position", "id"):
        first_image.setdefault(img.product_id, img)
    issue_counts = dict(
        AuditFinding.objects.filter(product_id__in=ids)
        .values("product_id")
        .annotate(n=Count("id"))
        .values_list("product_id", "n")
    )
    variant_counts = dict(
        Variant.objects.filter(product_id__in=ids)
        .values("product_id")
        .annotate(n=Count("id"))
        .values_list("product_id", "n")
    )
    for p in items:
        p.variant_count = variant_counts.get(p.pk, 0)
        p.first_image = first_image.get(p.pk)
        p.issue_count = issue_counts.get(p.pk, 0)
    return ProductPage(items, next_cursor, f.sort)


def access_product(product_id: int) -> Product:
    product = Product.objects.select_related("category", "manufacturer").filter(pk=product_id).first()
    if product is None:
        raise NotFound("Product not found")
    return product


def product_detail(product_id: int) -> Product:
    """A product with its variants (and their offers), images and audit findings, in few queries."""
    product = (
        Product.objects.select_related("category", "manufacturer")
        .prefetch_related(
            Prefetch("variants", queryset=Variant.objects.order_by("sku").prefetch_related("offers")),
            Prefetch("images", queryset=ProductImage.objects.order_by("position", "id")),
            Prefetch(
                "audit_findings",
                queryset=AuditFinding.objects.select_related("variant").order_by("severity", "rule"),
            ),
        )
        .filter(pk=product_id)
        .first()
    )
    if product is None:
        raise NotFound("Product not found")
    return product


def category_path(category: Category | None) -> list[Category]:
    """The category and its ancestors, from the top."""
    out: list[Category] = []
    seen: set[int] = set()
    while category is not None and category.pk not in seen:
        seen.add(category.pk)
        out.append(category)
        category = category.parent
    return list(reversed(out))


def category_tree() -> list[Category]:
    """Every category in tree order, each with `depth`, `product_count` and `child_count` set."""
    cats = list(Category.objects.annotate(product_count=Count("products")).order_by("name"))
    children: dict[int | None, list[Category]] = {}
    by_id = {c.pk: c for c in cats}
    for c in cats:
        children.setdefault(c.parent_id if c.parent_id in by_id else None, []).append(c)
    out: list[Category] = []

    def walk(parent: int | None, depth: int, seen: set[int]) -> None:
        for c in children.get(parent, []):
            if c.pk in seen:
                continue
            seen.add(c.pk)
            c.depth = depth
            c.child_count = len(children.get(c.pk, []))
            c.label = "\u2003" * depth + c.name
            out.append(c)
            walk(c.pk, depth + 1, seen)

    walk(None, 0, set())
    return out


def manufacturers(q: str = "") -> QuerySet[Manufacturer]:
    qs = Manufacturer.objects.annotate(product_count=Count("products")).order_by("name")
    if q:
        qs = qs.filter(Q(name__icontains=q) | Q(city__icontains=q))
    return qs


def access_manufacturer(manufacturer_id: int) -> Manufacturer:
    m = Manufacturer.objects.filter(pk=manufacturer_id).first()
    if m is None:
        raise NotFound("Manufacturer not found")
    return m


def brands(limit: int = 500) -> list[str]:
    return list(
        Product.objects.exclude(brand="").order_by("brand").values_list("brand", flat=True).distinct()[:limit]
    )


def finding_rules() -> list[str]:
    return list(AuditFinding.objects.order_by("rule").values_list("rule", flat=True).distinct())
