"""URL parameters of the feeds area: a built Google feed (its id and secret token) and an uploaded image."""

from __future__ import annotations


def build(world) -> dict:
    from django.core.files.base import ContentFile

    from zaplecze.catalog import feeds
    from zaplecze.catalog.models import ProductImage, Variant

    variant = Variant.objects.get(sku="SKU-0001")
    image = ProductImage(product=variant.product, content_type="image/png")
    image.file.save("security.png", ContentFile(b"\x89PNG\r\n\x1a\nsecurity"), save=True)
    feed = feeds.feed_create(
        data={"name": "Security feed", "kind": "google", "link_template": "https://shop.example/p/{sku}"}
    )
    feeds.feed_build(feed_id=feed.pk)
    return {
        "feed_id": feed.pk,
        "feed_token": feed.token,
        "feed_image_id": image.pk,
        "feed_image_sig": feeds.image_signature(image.pk),
    }
