"""The demo shop's catalogue beyond names and prices: manufacturers with GPSR data (one per brand; two made
abroad, one of them still missing its EU responsible person), HTML descriptions, safety notes, a few
product images drawn with Pillow at build time (small PNGs in the media dir) and offers per channel (every
variant in the own shop, a third on Allegro with a channel price).

Deterministic for a seed (its own random generator; the order plan's is not touched)."""

from __future__ import annotations

import io
import random
from decimal import Decimal

from django.db import transaction
from django.utils.html import escape
from PIL import Image, ImageDraw

from zaplecze.catalog import images
from zaplecze.catalog.models import Offer, Product, Variant
from zaplecze.catalog.prices import price_set
from zaplecze.catalog.services import manufacturer_save, sanitize_html

CITIES = [
    ("ul. Fabryczna 12", "90-344", "Łódź"),
    ("ul. Przemysłowa 4", "61-023", "Poznań"),
    ("ul. Rzemieślnicza 8", "30-363", "Kraków"),
    ("ul. Składowa 21", "85-158", "Bydgoszcz"),
    ("ul. Kolejowa 3", "50-220", "Wrocław"),
    ("ul. Portowa 17", "80-558", "Gdańsk"),
]
SAFETY = {
    "Zabawki": "Ostrzeżenie: nie nadaje się dla dzieci w wieku poniżej 36 miesięcy. Zawiera małe części.",
    "Elektronika": "Nie używać w pobliżu wody. Zużytego sprzętu nie wyrzucać z odpadami komunalnymi.",
    "Dom i kuchnia": "Przed pierwszym użyciem umyć. Chronić przed dziećmi.",
    "Zdrowie": "Przechowywać w miejscu niedostępnym dla dzieci. Przed użyciem zapoznać się z ulotką.",
}
PALETTE = [(29, 78, 216), (21, 128, 61), (180, 83, 9), (185, 28, 28), (109, 40, 217), (15, 118, 110)]


def _png(text: str, colour: tuple[int, int, int], size: int = 480) -> bytes:
    img = Image.new("RGB", (size, size), (248, 249, 251))
    draw = ImageDraw.Draw(img)
    draw.rounded_rectangle((40, 40, size - 40, size - 40), radius=36, fill=colour)
    draw.ellipse((size // 2 - 70, size // 2 - 110, size // 2 + 70, size // 2 + 30), fill=(255, 255, 255))
    draw.text((60, size - 110), text[:38], fill=(255, 255, 255))
    buf = io.BytesIO()
    img.save(buf, "PNG", optimize=True)
    return buf.getvalue()


def _description(p, variants: list[Variant]) -> str:
    sizes = [v.name.removeprefix(p.name).strip() for v in variants if v.name != p.name]
    items = [
        f"<li>Kategoria: {escape(p.root)} › {escape(p.leaf)}</li>",
        f"<li>Marka: {escape(p.brand)}</li>",
        f"<li>Waga: {variants[0].weight_kg} kg</li>",
    ]
    if sizes:
        items.append(f"<li>Rozmiary: {escape(', '.join(sizes))}</li>")
    return (
        f"<h2>{escape(p.name)}</h2>"
        f"<p><strong>{escape(p.name)}</strong> marki {escape(p.brand)} — solidne wykonanie i staranne "
        f"wykończenie. Sprawdzi się na co dzień i jako prezent.</p>"
        f"<ul>{''.join(items)}</ul>"
        "<p>Wysyłka w 24 godziny, 14 dni na zwrot.</p>"
    )


def seed_catalogue_extras(products, *, seed: int, images_count: int = 12) -> dict:
    rng = random.Random(seed * 7919 + 3)
    with transaction.atomic():
        brands = sorted({p.brand for p in products})
        makers = {}
        for i, brand in enumerate(brands):
            street, postcode, city = CITIES[i % len(CITIES)]
            data = {
                "name": brand,
                "street": street,
                "postcode": postcode,
                "city": city,
                "country": "PL",
                "email": f"kontakt@{i + 1}.producent.example",
            }
            if i == 1:  # made in China, with its EU responsible person
                data.update(
                    country="CN",
                    street="88 Industrial Road",
                    postcode="518000",
                    city="Shenzhen",
                    eu_rp_name="EuroRep Sp. z o.o.",
                    eu_rp_address="ul. Prosta 20, 00-850 Warszawa",
                    eu_rp_email="gpsr@eurorep.example",
                )
            elif i == 4:  # made in the USA, EU responsible person still missing (GPSR gap)
                data.update(country="US", street="500 Main Street", postcode="97201", city="Portland")
            makers[brand] = manufacturer_save(data=data, actor=None).manufacturer

        created = list(Product.objects.order_by("pk"))  # written in the plan's order
        variants_of: dict[int, list[Variant]] = {}
        for v in Variant.objects.order_by("sku"):
            variants_of.setdefault(v.product_id, []).append(v)
        changed = []
        for p, product in zip(products, created, strict=False):
            if product.name != p.name:
                continue
            product.manufacturer = makers[p.brand]
            # about one product in twelve keeps no description, for the quality audit to find
            if rng.random() > 0.08:
                product.description_html = sanitize_html(_description(p, variants_of[product.pk])).html
            product.safety_info = SAFETY.get(p.root, "")
            changed.append(product)
        Product.objects.bulk_update(
            changed, ["manufacturer", "description_html", "safety_info"], batch_size=500
        )

        shown = 0
        for product in sorted(changed, key=lambda x: x.pk)[:images_count]:
            colour = PALETTE[product.pk % len(PALETTE)]
            images.image_upload(
                product_id=product.pk,
                file=_png(product.name, colour),
                filename=f"demo-{product.pk}.png",
                alt=product.name,
                actor=None,
            )
            shown += 1

        all_variants = [v for vs in variants_of.values() for v in vs]
        Offer.objects.bulk_create(
            [Offer(variant=v, channel="shop", active=True, external_id=f"SHOP-{v.pk}") for v in all_variants],
            batch_size=1000,
        )
        allegro = [v for v in all_variants if rng.random() < 0.33]
        Offer.objects.bulk_create(
            [
                Offer(variant=v, channel="allegro", active=True, external_id=str(12_000_000_000 + v.pk))
                for v in allegro
            ],
            batch_size=1000,
        )
        for v in allegro:  # Allegro a little dearer (fees): through the price history
            price_set(
                v,
                channel="allegro",
                price=(v.price * Decimal("1.05")).quantize(Decimal("0.01")),
                source="demo",
            )
    return {"manufacturers": len(makers), "images": shown, "offers": len(all_variants) + len(allegro)}
