"""URL parameters of the product screens: a product with a variant, an offer, an uploaded image, a
manufacturer and a category."""

from __future__ import annotations

import io


def build(world) -> dict:
    from PIL import Image

    from zaplecze.catalog import images, services
    from zaplecze.catalog.models import Variant

    variant = Variant.objects.get(sku="SKU-0001")
    manufacturer = services.manufacturer_save(
        data={"name": "Security Maker", "country": "PL", "email": "maker@example.com"}, actor=None
    ).manufacturer
    category = services.category_create(name="Security category", actor=None)
    product = services.product_create(
        name="Security product",
        category=category,
        manufacturer=manufacturer,
        variants=[{"sku": "SEC-P-1", "price": "10.00"}],
    )
    own = product.variants.get()
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(buf, "PNG")
    image = images.image_upload(product_id=product.pk, file=buf.getvalue(), filename="sec.png", actor=None)
    return {
        "product_id": product.pk,
        "product_variant_id": own.pk,
        "variant_id": variant.pk,
        "product_image_id": image.pk,
        "image_id": image.pk,
        "panel_name": "return_exclusion",
        "manufacturer_id": manufacturer.pk,
    }
