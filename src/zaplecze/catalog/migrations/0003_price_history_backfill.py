"""Start the price history of every existing variant and offer with its current price."""

from django.db import migrations


def backfill(apps, schema_editor):
    Variant = apps.get_model("catalog", "Variant")
    PriceChange = apps.get_model("catalog", "PriceChange")
    rows = [
        PriceChange(
            variant_id=v.pk,
            channel="",
            price=v.price,
            currency=v.currency,
            kind="regular",
            effective_from=v.product.created_at,
            recorded_at=v.product.created_at,
            source="initial",
        )
        for v in Variant.objects.select_related("product").exclude(price_changes__isnull=False)
    ]
    PriceChange.objects.bulk_create(rows, batch_size=1000)


class Migration(migrations.Migration):
    dependencies = [("catalog", "0002_catalog_offer")]
    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
