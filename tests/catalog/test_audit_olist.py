"""The audit on real product data: every 100th row of the Olist product table (330 products), read at test
time from /work/shared/datasets (never copied into the repository). The findings must equal what the
table says: photos_qty 0/empty -> "no image", description length < 200 or empty -> "short description",
no category -> "no category", name longer than 75 -> "too long for Allegro"."""

from __future__ import annotations

import csv
import gzip
from decimal import Decimal
from pathlib import Path

import pytest

from zaplecze.catalog import audit
from zaplecze.catalog.models import AuditFinding, Category, Product, ProductImage, Variant

DATA = Path("/work/shared/datasets/olist")
PRODUCTS = DATA / "olist_products_dataset.csv.gz"
TRANSLATION = DATA / "product_category_name_translation.csv.gz"
STEP = 100

pytestmark = pytest.mark.django_db


def _int(value: str) -> int | None:
    return int(float(value)) if value.strip() else None


@pytest.fixture
def olist_rows():
    if not PRODUCTS.exists():
        pytest.skip(f"the Olist dataset is not on this machine ({PRODUCTS})")
    with gzip.open(PRODUCTS, "rt", encoding="utf-8", newline="") as fh:
        rows = [r for i, r in enumerate(csv.DictReader(fh)) if i % STEP == 0]
    names = {}
    if TRANSLATION.exists():
        with gzip.open(TRANSLATION, "rt", encoding="utf-8-sig", newline="") as fh:
            names = {
                r["product_category_name"]: r["product_category_name_english"] for r in csv.DictReader(fh)
            }
    return rows, names


def test_olist_sample_counts(olist_rows):
    rows, names = olist_rows
    categories: dict[str, Category] = {}
    for i, r in enumerate(rows):
        cat_name = r["product_category_name"].strip()
        category = None
        if cat_name:
            label = names.get(cat_name, cat_name)
            category = categories.get(label) or Category.objects.create(
                name=label, slug=f"olist-{len(categories)}"
            )
            categories[label] = category
        name_len = _int(r["product_name_lenght"]) or 12
        desc_len = _int(r["product_description_lenght"]) or 0
        product = Product.objects.create(
            name=("Produto " + r["product_id"] * 3)[:name_len],
            category=category,
            brand="Olist",
            description_html=f"<p>{'d' * desc_len}</p>" if desc_len else "",
        )
        weight = _int(r["product_weight_g"])
        Variant.objects.create(
            product=product,
            sku=f"OL-{i:05d}",
            name=product.name,
            price=Decimal("99.90"),
            weight_kg=Decimal(weight) / 1000 if weight is not None else None,
        )
        ProductImage.objects.bulk_create(
            ProductImage(
                product=product, source_url=f"https://img.example/{i}/{n}.jpg", width=800, height=800
            )
            for n in range(_int(r["product_photos_qty"]) or 0)
        )

    report = audit.audit_run(batch_size=100)

    def expected(pred) -> int:
        return sum(1 for r in rows if pred(r))

    no_photo = expected(lambda r: not (_int(r["product_photos_qty"]) or 0))
    short = expected(lambda r: (_int(r["product_description_lenght"]) or 0) < 200)
    no_cat = expected(lambda r: not r["product_category_name"].strip())
    long_name = expected(lambda r: (_int(r["product_name_lenght"]) or 0) > 75)
    assert len(rows) == 330 and no_photo > 0 and short > 0 and no_cat > 0  # the sample exercises the rules
    assert report.products == len(rows)

    def found(rule: str) -> int:
        return AuditFinding.objects.filter(rule=rule).count()

    assert found("image_missing") == no_photo
    assert found("description_short") == short
    assert found("category_missing") == no_cat
    assert found("title_allegro") == long_name
    assert found("title_google") == 0
    assert found("image_small") == 0
    assert found("ean_missing") == len(rows)  # Olist has no EANs
    assert found("manufacturer_missing") == len(rows)
    # every product misses EAN, manufacturer (warnings) and safety info (info): at most 100 - 10 - 10 - 2
    assert Product.objects.filter(quality_score__gt=78).count() == 0
