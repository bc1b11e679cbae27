"""Product feeds: Google Merchant Center XML, Ceneo XML and a generic CSV, with the validator that says which
variants are left out of each feed and why.

One pass over the catalog serves every kind: `iter_entries()` reads active products in batches (a handful of
queries per batch, whatever the batch size) and yields one `Entry` per active variant with everything a feed
needs; `reasons(kind, entry)` is the validator (reason codes, labels in `REASONS`); a writer per kind streams
the accepted entries to a text file. `feed_build()` writes a feed's file atomically (temp file + rename) in
the data dir and stores the counts and the exclusions; the public view serves that file.

Writes (create, update, new token, build) are the `feed_*` functions; reads are `feeds_list`, `access_feed`,
`feed_by_token`, `exclusions_page`, `exclusion_counts`, `product_feed_status`.
"""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import logging
import os
import re
import secrets
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote, urlsplit
from xml.sax.saxutils import escape as _escape

import nh3
from django.conf import settings
from django.db import transaction
from django.db.models import CharField
from django.db.models.functions import Cast
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from stdnum import ean as stdnum_ean

from zaplecze.core.errors import DomainError, NotFound
from zaplecze.core.services import audit_record

from . import stock
from .models import Category, Feed, FeedExclusion, Offer, Product, ProductImage, Variant
from .omnibus import effective_prices

log = logging.getLogger("zaplecze.catalog.feeds")

GOOGLE_NS = "http://base.google.com/ns/1.0"
# Google's limits (Merchant Center product data specification).
GOOGLE_ID_MAX = 50
GOOGLE_TITLE_MAX = 150
GOOGLE_DESCRIPTION_MAX = 5000
GOOGLE_PRODUCT_TYPE_MAX = 750
GOOGLE_ADDITIONAL_IMAGES = 10
GOOGLE_IMAGE_MIN_PX = 100
CENEO_ADDITIONAL_IMAGES = 10
BATCH_PRODUCTS = 500

FILE_NAMES = {Feed.Kind.GOOGLE: "google.xml", Feed.Kind.CENEO: "ceneo.xml", Feed.Kind.CSV: "products.csv"}
CONTENT_TYPES = {
    Feed.Kind.GOOGLE: "application/xml; charset=utf-8",
    Feed.Kind.CENEO: "application/xml; charset=utf-8",
    Feed.Kind.CSV: "text/csv; charset=utf-8",
}
LINK_PLACEHOLDERS = ("sku", "ean", "product_id", "variant_id")

# Why a variant is left out of a feed: code -> label. Codes are stable (stored in FeedExclusion.reasons).
REASONS: dict[str, Any] = {
    "offer_inactive": gettext_lazy("The offer on the feed's channel is switched off"),
    "no_title": gettext_lazy("No name"),
    "no_description": gettext_lazy("No description"),
    "no_link": gettext_lazy("No product page URL (channel offer URL or the feed's link template)"),
    "no_image": gettext_lazy("No image"),
    "image_too_small": gettext_lazy("Main image smaller than 100 × 100 px"),
    "no_price": gettext_lazy("No price or price 0"),
    "invalid_gtin": gettext_lazy("EAN/GTIN with a wrong check digit or length"),
    "no_gtin": gettext_lazy("Brand known but no GTIN (EAN) and no MPN"),
    "no_brand": gettext_lazy("No brand or manufacturer although a GTIN or MPN is given"),
    "id_too_long": gettext_lazy("SKU longer than 50 characters (Google's limit for the id)"),
    "no_category": gettext_lazy("No category"),
}

# Variant attribute names (lower case, as shops name them) -> the Google attribute they fill.
GOOGLE_ATTRIBUTES = {
    "color": "color",
    "colour": "color",
    "kolor": "color",
    "size": "size",
    "rozmiar": "size",
    "material": "material",
    "materiał": "material",
    "pattern": "pattern",
    "wzór": "pattern",
}

CSV_COLUMNS = [
    "sku",
    "ean",
    "mpn",
    "product_id",
    "item_group_id",
    "title",
    "brand",
    "category",
    "link",
    "image_link",
    "additional_image_links",
    "price",
    "regular_price",
    "sale_price",
    "sale_from",
    "sale_to",
    "reference_price",
    "currency",
    "vat_rate",
    "availability",
    "stock",
    "weight_kg",
    "attributes",
    "description",
]


def reason_label(code: str) -> str:
    return str(REASONS.get(code, code))


# --- one entry per active variant ---------------------------------------------------------------------


@dataclass(slots=True)
class Entry:
    """Everything the feeds need about one active variant of an active product."""

    variant_id: int
    product_id: int
    sku: str
    ean: str
    mpn: str
    title: str
    brand: str
    category: list[str]
    description_html: str
    link: str
    images: list[tuple[str, int | None, int | None]]  # (absolute URL, width, height), main image first
    currency: str
    vat_rate: str
    price: Decimal | None  # what the customer pays now (the sale price while on sale)
    regular_price: Decimal | None
    sale_price: Decimal | None
    sale_from: dt.datetime | None
    sale_to: dt.datetime | None
    reference_price: Decimal | None  # Omnibus: lowest price of the 30 days before the reduction
    available: int | None  # None = stock unknown
    attributes: dict[str, Any]
    weight_kg: Decimal | None
    group_size: int  # active variants of the product
    offer_inactive: bool = False
    _text: str | None = field(default=None, repr=False)

    @property
    def description_text(self) -> str:
        """The description as plain text (tags dropped, entities decoded, whitespace collapsed)."""
        if self._text is None:
            self._text = html_to_text(self.description_html)
        return self._text

    @property
    def item_group_id(self) -> str:
        return f"P{self.product_id}" if self.group_size > 1 else ""

    @property
    def in_stock(self) -> bool:
        # Unknown stock (no inventory module) counts as in stock: the shop sells what it lists.
        return self.available is None or self.available > 0


_BLOCK_TAGS = re.compile(r"</?(p|br|li|ul|ol|div|h[1-6]|tr|table)\b[^>]*>", re.IGNORECASE)
_SPACES = re.compile(r"\s+")


def html_to_text(value: str) -> str:
    if not value:
        return ""
    value = _BLOCK_TAGS.sub(" ", value)
    value = nh3.clean(value, tags=set())  # drops every tag, and the content of script/style
    return _SPACES.sub(" ", html.unescape(value)).strip()


# Variant titles name the colour first, then the size, then any other attributes by name: a fixed order,
# whatever order the database returns a JSON object's keys in (PostgreSQL's jsonb sorts them).
_ATTRIBUTE_FIRST = ("kolor", "colour", "color", "rozmiar", "size")


def _attribute_order(attributes: dict) -> list[str]:
    def rank(key: str) -> tuple[int, str]:
        k = key.lower()
        return (_ATTRIBUTE_FIRST.index(k) if k in _ATTRIBUTE_FIRST else len(_ATTRIBUTE_FIRST), k)

    return [k for k in sorted(attributes, key=rank) if attributes[k] not in (None, "")]


def _gtin_ok(value: str) -> bool:
    try:
        stdnum_ean.validate(value)
    except Exception:  # noqa: BLE001 - stdnum raises several ValidationError subclasses
        return False
    return len(value) in (8, 12, 13, 14)


def image_signature(image_id: int) -> str:
    return salted_hmac("zaplecze.feeds.image", str(image_id)).hexdigest()[:20]


def image_public_url(image_id: int) -> str:
    path = reverse(
        "feeds:image", kwargs={"feed_image_id": image_id, "feed_image_sig": image_signature(image_id)}
    )
    return settings.BASE_URL.rstrip("/") + path


def _link(template: str, *, sku: str, ean: str, product_id: int, variant_id: int) -> str:
    if not template:
        return ""
    values = {
        "sku": quote(sku, safe=""),
        "ean": quote(ean, safe=""),
        "product_id": str(product_id),
        "variant_id": str(variant_id),
    }
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), m.group(0)), template)


def _category_paths() -> Callable[[int | None], list[str]]:
    rows = {
        pk: (name, parent) for pk, name, parent in Category.objects.values_list("pk", "name", "parent_id")
    }
    memo: dict[int, list[str]] = {}

    def path(pk: int | None) -> list[str]:
        if pk is None or pk not in rows:
            return []
        if pk not in memo:
            names, seen, cur = [], set(), pk
            while cur is not None and cur in rows and cur not in seen:  # a cycle cannot loop forever
                seen.add(cur)
                names.append(rows[cur][0])
                cur = rows[cur][1]
            memo[pk] = names[::-1]
        return memo[pk]

    return path


@dataclass(slots=True)
class _Price:
    price: Decimal | None
    regular_price: Decimal | None
    sale_price: Decimal | None = None
    sale_from: dt.datetime | None = None
    sale_to: dt.datetime | None = None
    reference_price: Decimal | None = None


def _prices(variants: list[dict], channel: str, at: dt.datetime) -> dict[int, _Price]:
    """Current, regular and sale prices with the Omnibus reference, from `catalog.omnibus.effective_prices`."""
    found = effective_prices([v["id"] for v in variants], channel=channel, at=at)
    out = {}
    for v in variants:
        ep = found.get(v["id"])
        if ep is None:
            out[v["id"]] = _Price(price=v["price"], regular_price=v["price"])
            continue
        out[v["id"]] = _Price(
            price=ep.price,
            regular_price=ep.regular_price if ep.regular_price is not None else ep.price,
            sale_price=ep.sale_price,
            sale_from=ep.sale_from,
            sale_to=ep.sale_to,
            reference_price=ep.reference.price if ep.reference is not None else None,
        )
    return out


def iter_entries(
    *,
    channel: str = "",
    link_template: str = "",
    at: dt.datetime | None = None,
    product_ids: Iterable[int] | None = None,
    batch_size: int = BATCH_PRODUCTS,
) -> Iterator[list[Entry]]:
    """Batches of entries: one per active variant of an active product, products in id order.

    Per batch: products, variants, images, the channel's offers, prices (effective_prices) and stock
    (`catalog.stock.available`) -- a fixed number of queries, whatever the batch size.
    """
    at = at or timezone.now()
    category_path = _category_paths()
    base = Product.objects.filter(status=Product.Status.ACTIVE).order_by("pk")
    if product_ids is not None:
        base = base.filter(pk__in=list(product_ids))
    last = 0
    while True:
        products = list(
            base.filter(pk__gt=last).values(
                "pk", "name", "brand", "category_id", "description_html", "manufacturer__name"
            )[:batch_size]
        )
        if not products:
            return
        last = products[-1]["pk"]
        ids = [p["pk"] for p in products]
        variants = list(
            Variant.objects.filter(product_id__in=ids, active=True)
            .order_by("product_id", "sku")
            .values(
                "id", "product_id", "sku", "ean", "mpn", "name", "price", "currency", "vat_rate",
                "attributes", "weight_kg",
            )
        )  # fmt: skip
        if not variants:
            continue
        images: dict[int, list[dict]] = {}
        for img in (
            ProductImage.objects.filter(product_id__in=ids, error="")
            .order_by("product_id", "position", "id")
            .values("id", "product_id", "variant_id", "file", "source_url", "width", "height")
        ):
            images.setdefault(img["product_id"], []).append(img)
        offers: dict[int, tuple[bool, str]] = {}
        if channel:
            for vid, active, url in Offer.objects.filter(
                variant__product_id__in=ids, channel=channel
            ).values_list("variant_id", "active", "url"):
                offers[vid] = (active, url)
        prices = _prices(variants, channel, at)
        available = stock.available([v["id"] for v in variants])
        group_sizes = Counter(v["product_id"] for v in variants)
        by_id = {p["pk"]: p for p in products}
        batch = []
        for v in variants:
            p = by_id[v["product_id"]]
            offer = offers.get(v["id"])
            title = (v["name"] or p["name"] or "").strip()
            if group_sizes[p["pk"]] > 1 and title == p["name"].strip() and v["attributes"]:
                values = [str(v["attributes"][k]) for k in _attribute_order(v["attributes"])]
                values = [x for x in values if x not in ("None", "")]
                if values:
                    title = f"{title} - {', '.join(values)}"
            imgs = []
            for img in sorted(
                images.get(p["pk"], ()), key=lambda i, vid=v["id"]: 0 if i["variant_id"] == vid else 1
            ):
                if img["variant_id"] not in (None, v["id"]):
                    continue
                url = img["source_url"] or (image_public_url(img["id"]) if img["file"] else "")
                if url:
                    imgs.append((url, img["width"], img["height"]))
            price = prices[v["id"]]
            batch.append(
                Entry(
                    variant_id=v["id"],
                    product_id=p["pk"],
                    sku=v["sku"],
                    ean=(v["ean"] or "").strip(),
                    mpn=(v["mpn"] or "").strip(),
                    title=title,
                    brand=(p["brand"] or p["manufacturer__name"] or "").strip(),
                    category=category_path(p["category_id"]),
                    description_html=p["description_html"] or "",
                    link=(offer[1] if offer and offer[1] else "")
                    or _link(
                        link_template, sku=v["sku"], ean=v["ean"], product_id=p["pk"], variant_id=v["id"]
                    ),
                    images=imgs,
                    currency=v["currency"] or "PLN",
                    vat_rate=v["vat_rate"],
                    price=price.price,
                    regular_price=price.regular_price,
                    sale_price=price.sale_price,
                    sale_from=price.sale_from,
                    sale_to=price.sale_to,
                    reference_price=price.reference_price,
                    available=None if available is None else int(available.get(v["id"], 0)),
                    attributes=v["attributes"] if isinstance(v["attributes"], dict) else {},
                    weight_kg=v["weight_kg"],
                    group_size=group_sizes[p["pk"]],
                    offer_inactive=bool(offer and not offer[0]),
                )
            )
        yield batch


# --- the validator ------------------------------------------------------------------------------------


def _has_price(e: Entry) -> bool:
    return e.regular_price is not None and e.regular_price > 0 and e.price is not None and e.price > 0


def google_reasons(e: Entry) -> list[str]:
    out = []
    if e.offer_inactive:
        out.append("offer_inactive")
    if len(e.sku) > GOOGLE_ID_MAX:
        out.append("id_too_long")
    if not e.title:
        out.append("no_title")
    if not e.description_text:
        out.append("no_description")
    if not e.link:
        out.append("no_link")
    if not e.images:
        out.append("no_image")
    else:
        _url, w, h = e.images[0]
        if w is not None and h is not None and (w < GOOGLE_IMAGE_MIN_PX or h < GOOGLE_IMAGE_MIN_PX):
            out.append("image_too_small")
    if not _has_price(e):
        out.append("no_price")
    if e.ean and not _gtin_ok(e.ean):
        out.append("invalid_gtin")
    elif not e.ean and not e.mpn and e.brand:
        # A branded, manufactured product has a GTIN; without GTIN or MPN Google limits or refuses it.
        out.append("no_gtin")
    if not e.brand and (e.ean or e.mpn):
        out.append("no_brand")
    return out


def ceneo_reasons(e: Entry) -> list[str]:
    out = []
    if e.offer_inactive:
        out.append("offer_inactive")
    if not e.title:
        out.append("no_title")
    if not e.link:
        out.append("no_link")
    if not e.category:
        out.append("no_category")
    if not e.images:
        out.append("no_image")
    if not _has_price(e):
        out.append("no_price")
    if e.ean and not _gtin_ok(e.ean):
        out.append("invalid_gtin")
    return out


def csv_reasons(e: Entry) -> list[str]:
    out = []
    if e.offer_inactive:
        out.append("offer_inactive")
    if not e.title:
        out.append("no_title")
    if not _has_price(e):
        out.append("no_price")
    return out


VALIDATORS: dict[str, Callable[[Entry], list[str]]] = {
    Feed.Kind.GOOGLE: google_reasons,
    Feed.Kind.CENEO: ceneo_reasons,
    Feed.Kind.CSV: csv_reasons,
}

# Which rules apply to each kind (for the documentation and the feed page).
RULES = {
    Feed.Kind.GOOGLE: [
        "offer_inactive", "id_too_long", "no_title", "no_description", "no_link", "no_image",
        "image_too_small", "no_price", "invalid_gtin", "no_gtin", "no_brand",
    ],
    Feed.Kind.CENEO: ["offer_inactive", "no_title", "no_link", "no_category", "no_image", "no_price", "invalid_gtin"],
    Feed.Kind.CSV: ["offer_inactive", "no_title", "no_price"],
}  # fmt: skip


def reasons(kind: str, entry: Entry) -> list[str]:
    return VALIDATORS[kind](entry)


# --- writers ------------------------------------------------------------------------------------------

# Characters XML 1.0 does not allow (control characters other than tab, newline, carriage return; surrogates;
# U+FFFE/U+FFFF): removed from every text written.
_INVALID_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _clean(value: Any) -> str:
    return _INVALID_XML.sub("", str(value))


def _t(value: Any) -> str:
    """Element text: invalid characters removed, & < > escaped."""
    return _escape(_clean(value))


def _a(value: Any) -> str:
    """Attribute value (inside double quotes)."""
    return _escape(_clean(value), {'"': "&quot;", "\n": "&#10;", "\r": "&#13;", "\t": "&#9;"})


def _cdata(value: Any) -> str:
    return "<![CDATA[" + _clean(value).replace("]]>", "]]]]><![CDATA[>") + "]]>"


def _money(value: Decimal, currency: str) -> str:
    return f"{value:.2f} {currency}"


def _iso_minutes(value: dt.datetime) -> str:
    """YYYY-MM-DDThh:mm±hhmm in the shop's time zone (Google's date format)."""
    return timezone.localtime(value).strftime("%Y-%m-%dT%H:%M%z")


def _truncate(value: str, limit: int) -> str:
    if len(value) <= limit:
        return value
    cut = value[: limit - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 2 else cut).rstrip() + "…"


def _site_url(link_template: str) -> str:
    parts = urlsplit(link_template)
    if parts.scheme in ("http", "https") and parts.netloc:
        return f"{parts.scheme}://{parts.netloc}"
    return settings.BASE_URL


class GoogleWriter:
    kind = Feed.Kind.GOOGLE

    def __init__(self, *, title: str, link: str, shipping_price: Decimal | None = None):
        self.title, self.link, self.shipping_price = title, link, shipping_price

    def header(self) -> str:
        return (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<rss xmlns:g="{GOOGLE_NS}" version="2.0">\n<channel>\n'
            f"<title>{_t(self.title)}</title>\n<link>{_t(self.link)}</link>\n"
            f"<description>{_t(_('Product data feed for Google Merchant Center'))}</description>\n"
        )

    def footer(self) -> str:
        return "</channel>\n</rss>\n"

    def item(self, e: Entry) -> str:
        g = []

        def add(name: str, value: Any) -> None:
            if value not in (None, ""):
                g.append(f"<g:{name}>{_t(value)}</g:{name}>")

        add("id", e.sku)
        add("title", _truncate(e.title, GOOGLE_TITLE_MAX))
        add("description", _truncate(e.description_text, GOOGLE_DESCRIPTION_MAX))
        add("link", e.link)
        add("image_link", e.images[0][0])
        for url, _w, _h in e.images[1 : 1 + GOOGLE_ADDITIONAL_IMAGES]:
            add("additional_image_link", url)
        add("availability", "in_stock" if e.in_stock else "out_of_stock")
        add("price", _money(e.regular_price, e.currency))
        if e.sale_price is not None and e.sale_price < e.regular_price:
            add("sale_price", _money(e.sale_price, e.currency))
            if e.sale_from is not None and e.sale_to is not None:
                add("sale_price_effective_date", f"{_iso_minutes(e.sale_from)}/{_iso_minutes(e.sale_to)}")
        add("brand", e.brand)
        add("gtin", e.ean)
        add("mpn", e.mpn)
        if not e.ean and not e.mpn and not e.brand:
            add("identifier_exists", "no")
        add("condition", "new")
        if e.category:
            add("product_type", _truncate(" > ".join(e.category), GOOGLE_PRODUCT_TYPE_MAX))
        add("item_group_id", e.item_group_id)
        done = set()
        for key, value in ((k, e.attributes[k]) for k in _attribute_order(e.attributes)):
            attr = GOOGLE_ATTRIBUTES.get(str(key).strip().lower())
            if attr and attr not in done and value not in (None, ""):
                done.add(attr)
                add(attr, _truncate(str(value), 100))
        if self.shipping_price is not None:
            g.append(
                f"<g:shipping><g:country>PL</g:country>"
                f"<g:price>{_t(_money(self.shipping_price, e.currency))}</g:price></g:shipping>"
            )
        if e.weight_kg:
            add("shipping_weight", f"{e.weight_kg.normalize():f} kg")
        return "<item>" + "".join(g) + "</item>\n"


class CeneoWriter:
    kind = Feed.Kind.CENEO

    def __init__(self, **_kwargs):
        pass

    def header(self) -> str:
        return (
            '<?xml version="1.0" encoding="utf-8"?>\n'
            '<offers xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" version="1">\n'
        )

    def footer(self) -> str:
        return "</offers>\n"

    def item(self, e: Entry) -> str:
        attrs = [f'id="{_a(e.sku)}"', f'url="{_a(e.link)}"', f'price="{e.price:.2f}"']
        if e.in_stock:
            attrs.append('avail="1"')
        else:
            attrs.append('avail="99"')  # Ceneo: "check in the shop"
        if e.available is not None:
            attrs.append(f'stock="{max(e.available, 0)}"')
        if e.weight_kg:
            attrs.append(f'weight="{e.weight_kg.normalize():f}"')
        if str(e.attributes.get("set", e.attributes.get("zestaw", ""))).lower() in (
            "1",
            "true",
            "tak",
            "yes",
        ):
            attrs.append('set="1"')
        parts = [f"<o {' '.join(attrs)}>"]
        parts.append(f"<cat>{_cdata('/'.join(e.category))}</cat>")
        parts.append(f"<name>{_cdata(e.title)}</name>")
        parts.append("<imgs>")
        parts.append(f'<main url="{_a(e.images[0][0])}"/>')
        for url, _w, _h in e.images[1 : 1 + CENEO_ADDITIONAL_IMAGES]:
            parts.append(f'<i url="{_a(url)}"/>')
        parts.append("</imgs>")
        if e.description_html:
            parts.append(f"<desc>{_cdata(e.description_html)}</desc>")
        a = []
        if e.brand:
            a.append(("Producent", e.brand))
        if e.ean:
            a.append(("EAN", e.ean))
        if e.mpn:
            a.append(("Kod producenta", e.mpn))
        for key, value in ((k, e.attributes[k]) for k in _attribute_order(e.attributes)):
            if value not in (None, "") and str(key).lower() not in ("set", "zestaw"):
                a.append((str(key), value))
        if a:
            parts.append("<attrs>")
            parts.extend(f'<a name="{_a(name)}">{_cdata(value)}</a>' for name, value in a)
            parts.append("</attrs>")
        parts.append("</o>\n")
        return "".join(parts)


class CsvWriter:
    kind = Feed.Kind.CSV

    def __init__(self, **_kwargs):
        self._buf = io.StringIO()
        self._csv = csv.writer(self._buf, lineterminator="\r\n")

    def _row(self, row: list) -> str:
        self._buf.seek(0)
        self._buf.truncate()
        self._csv.writerow(row)
        return self._buf.getvalue()

    def header(self) -> str:
        return self._row(CSV_COLUMNS)

    def footer(self) -> str:
        return ""

    def item(self, e: Entry) -> str:
        def money(v: Decimal | None) -> str:
            return f"{v:.2f}" if v is not None else ""

        def when(v: dt.datetime | None) -> str:
            return timezone.localtime(v).isoformat(timespec="minutes") if v else ""

        on_sale = e.sale_price is not None and e.regular_price is not None and e.sale_price < e.regular_price
        text = _truncate(e.description_text, GOOGLE_DESCRIPTION_MAX)
        row = [
            e.sku,
            e.ean,
            e.mpn,
            e.product_id,
            e.item_group_id,
            e.title,
            e.brand,
            " > ".join(e.category),
            e.link,
            e.images[0][0] if e.images else "",
            " ".join(url for url, _w, _h in e.images[1:]),
            money(e.price),
            money(e.regular_price),
            money(e.sale_price) if on_sale else "",
            when(e.sale_from) if on_sale else "",
            when(e.sale_to) if on_sale else "",
            money(e.reference_price),  # set whenever the price is a reduction
            e.currency,
            e.vat_rate,
            "in_stock" if e.in_stock else "out_of_stock",
            "" if e.available is None else e.available,
            f"{e.weight_kg.normalize():f}" if e.weight_kg else "",
            "; ".join(f"{k}={e.attributes[k]}" for k in _attribute_order(e.attributes)),
            text,
        ]
        # A cell starting with = + - @ would run as a formula in a spreadsheet: prefix it with a quote.
        row = [f"'{c}" if isinstance(c, str) and c[:1] in ("=", "+", "-", "@") else c for c in row]
        return _clean(self._row(row))


WRITERS = {Feed.Kind.GOOGLE: GoogleWriter, Feed.Kind.CENEO: CeneoWriter, Feed.Kind.CSV: CsvWriter}


@dataclass
class FeedStats:
    items: int = 0
    excluded: int = 0
    by_reason: Counter = field(default_factory=Counter)
    exclusions: list[tuple[int, list[str]]] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"items": self.items, "excluded": self.excluded, "by_reason": dict(self.by_reason)}


def write_feed(
    kind: str,
    out: IO[str],
    *,
    channel: str = "",
    link_template: str = "",
    shipping_price: Decimal | None = None,
    title: str = "",
    at: dt.datetime | None = None,
    batch_size: int = BATCH_PRODUCTS,
    progress: Callable[[int], None] | None = None,
) -> FeedStats:
    """Stream the feed of `kind` to `out` (text, UTF-8), one write per batch; return counts and exclusions."""
    if kind not in WRITERS:
        raise DomainError(_("Unknown feed kind %(kind)s") % {"kind": kind}, field="kind")
    writer = WRITERS[kind](
        title=title or _("Products"), link=_site_url(link_template), shipping_price=shipping_price
    )
    validate = VALIDATORS[kind]
    stats = FeedStats()
    out.write(writer.header())
    for batch in iter_entries(channel=channel, link_template=link_template, at=at, batch_size=batch_size):
        chunk = []
        for e in batch:
            why = validate(e)
            if why:
                stats.excluded += 1
                stats.by_reason.update(why)
                stats.exclusions.append((e.variant_id, why))
            else:
                stats.items += 1
                chunk.append(writer.item(e))
        out.write("".join(chunk))
        if progress:
            progress(stats.items + stats.excluded)
    out.write(writer.footer())
    return stats


# --- feeds: reads -------------------------------------------------------------------------------------


def feeds_list():
    return Feed.objects.order_by("name", "pk")


def access_feed(feed_id: int) -> Feed:
    feed = Feed.objects.filter(pk=feed_id).first()
    if feed is None:
        raise NotFound(_("Feed not found"))
    return feed


def feed_by_token(token: str, file_name: str) -> Feed | None:
    """The active feed with this token whose file name is `file_name` (None for anything else)."""
    if not token or len(token) > 64:
        return None
    feed = Feed.objects.filter(token=token, active=True).first()
    if feed is None or FILE_NAMES.get(feed.kind) != file_name:
        return None
    return feed


def feed_file(feed: Feed) -> Path:
    return (
        Path(settings.DATA_DIR) / "feeds" / f"feed-{feed.pk}-{feed.kind}{Path(FILE_NAMES[feed.kind]).suffix}"
    )


def feed_public_url(feed: Feed) -> str:
    path = reverse(f"feeds:{feed.kind}", kwargs={"feed_token": feed.token})
    return settings.BASE_URL.rstrip("/") + path


def exclusions_query(feed_id: int, reason: str = ""):
    qs = FeedExclusion.objects.filter(feed_id=feed_id).select_related("variant", "variant__product")
    if reason:
        # JSON containment is PostgreSQL-only; the list's text holds each code in quotes on both databases.
        qs = qs.annotate(reasons_text=Cast("reasons", CharField())).filter(
            reasons_text__contains=f'"{reason}"'
        )
    return qs.order_by("variant__sku")


def exclusions_page(
    feed_id: int, *, reason: str = "", after: str = "", limit: int = 100
) -> list[FeedExclusion]:
    """Exclusions of the last build ordered by SKU, keyset-paginated (pass the last SKU as `after`)."""
    qs = exclusions_query(feed_id, reason)
    if after:
        qs = qs.filter(variant__sku__gt=after)
    return list(qs[:limit])


def exclusion_counts(feed_id: int) -> dict[str, int]:
    counts: Counter = Counter()
    for reasons_ in (
        FeedExclusion.objects.filter(feed_id=feed_id)
        .values_list("reasons", flat=True)
        .iterator(chunk_size=5000)
    ):
        counts.update(reasons_ or [])
    return dict(counts.most_common())


def product_feed_status(product: Product) -> list[dict]:
    """For each feed: each active variant of the product, in the feed at the last build or left out and why."""
    feeds = list(Feed.objects.filter(active=True).order_by("name", "pk"))
    if not feeds:
        return []
    variants = list(product.variants.order_by("sku"))
    excl = {
        (feed_id, variant_id): reasons_
        for feed_id, variant_id, reasons_ in FeedExclusion.objects.filter(
            feed__in=feeds, variant__product=product
        ).values_list("feed_id", "variant_id", "reasons")
    }
    out = []
    for feed in feeds:
        rows = []
        for v in variants:
            if product.status != Product.Status.ACTIVE:
                state, why = "inactive", [_("The product is not active")]
            elif not v.active:
                state, why = "inactive", [_("The variant is switched off")]
            elif (feed.pk, v.pk) in excl:
                state, why = "excluded", [reason_label(c) for c in excl[(feed.pk, v.pk)]]
            elif feed.built_at is None or feed.built_at < product.created_at:
                state, why = "unbuilt", []  # not built since the product was added
            else:
                state, why = "included", []
            rows.append({"variant": v, "state": state, "reasons": why})
        out.append({"feed": feed, "rows": rows})
    return out


# --- feeds: writes ------------------------------------------------------------------------------------


def _new_token() -> str:
    return secrets.token_urlsafe(24)


def _clean_values(data: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if "name" in data:
        name = (data["name"] or "").strip()
        if not name:
            raise DomainError(_("The feed needs a name."), field="name")
        if len(name) > 120:
            raise DomainError(_("The name is longer than 120 characters."), field="name")
        values["name"] = name
    if "kind" in data:
        if data["kind"] not in Feed.Kind.values:
            raise DomainError(
                _("Kind must be one of: %(kinds)s.") % {"kinds": ", ".join(Feed.Kind.values)}, field="kind"
            )
        values["kind"] = data["kind"]
    if "channel" in data:
        channel = (data["channel"] or "").strip()
        if len(channel) > 40:
            raise DomainError(_("The channel code is longer than 40 characters."), field="channel")
        values["channel"] = channel
    if "link_template" in data:
        tpl = (data["link_template"] or "").strip()
        if tpl:
            parts = urlsplit(tpl)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise DomainError(
                    _("The link template must be a full http(s) address, e.g. https://shop.example/p/{sku}."),
                    field="link_template",
                )
            unknown = sorted(set(re.findall(r"\{(\w*)\}", tpl)) - set(LINK_PLACEHOLDERS))
            if unknown:
                raise DomainError(
                    _("Unknown placeholder %(names)s in the link template; use %(known)s.")
                    % {
                        "names": ", ".join("{" + n + "}" for n in unknown),
                        "known": ", ".join("{" + n + "}" for n in LINK_PLACEHOLDERS),
                    },
                    field="link_template",
                )
            if len(tpl) > 500:
                raise DomainError(
                    _("The link template is longer than 500 characters."), field="link_template"
                )
        values["link_template"] = tpl
    if "shipping_price" in data:
        raw = data["shipping_price"]
        if raw in (None, ""):
            values["shipping_price"] = None
        else:
            try:
                price = Decimal(str(raw).replace(",", ".")).quantize(Decimal("0.01"))
            except InvalidOperation:
                raise DomainError(
                    _("Shipping price %(v)s is not a number.") % {"v": raw}, field="shipping_price"
                )
            if price < 0 or price >= Decimal("1000000"):
                raise DomainError(
                    _("Shipping price must be between 0 and 999999.99."), field="shipping_price"
                )
            values["shipping_price"] = price
    if "active" in data:
        values["active"] = bool(data["active"])
    return values


def _j(values: dict) -> dict:
    return {k: (str(v) if isinstance(v, Decimal) else v) for k, v in values.items()}


def feed_create(*, data: dict[str, Any], actor=None) -> Feed:
    values = _clean_values(
        {"channel": "", "link_template": "", "shipping_price": None, "active": True, **data}
    )
    for required in ("name", "kind"):
        if required not in values:
            raise DomainError(_("This field is required."), field=required)
    with transaction.atomic():
        feed = Feed.objects.create(token=_new_token(), **values)
        audit_record(
            obj_type="catalog.feed", obj_id=feed.pk, action="create", actor=actor, changes=_j(values)
        )
    return feed


def feed_update(*, feed_id: int, data: dict[str, Any], actor=None) -> Feed:
    values = _clean_values(data)
    with transaction.atomic():
        feed = Feed.objects.select_for_update().filter(pk=feed_id).first()
        if feed is None:
            raise NotFound(_("Feed not found"))
        changes = {k: [str(getattr(feed, k)), str(v)] for k, v in values.items() if getattr(feed, k) != v}
        for k, v in values.items():
            setattr(feed, k, v)
        if values:
            feed.save(update_fields=list(values))
        if changes:
            audit_record(
                obj_type="catalog.feed", obj_id=feed.pk, action="update", actor=actor, changes=changes
            )
    return feed


def feed_token_regenerate(*, feed_id: int, actor=None) -> Feed:
    """A new secret token: the old public URL stops working at once."""
    with transaction.atomic():
        feed = Feed.objects.select_for_update().filter(pk=feed_id).first()
        if feed is None:
            raise NotFound(_("Feed not found"))
        feed.token = _new_token()
        feed.save(update_fields=["token"])
        audit_record(obj_type="catalog.feed", obj_id=feed.pk, action="token_regenerated", actor=actor)
    return feed


def write_atomically(path: Path, write: Callable[[IO[str]], Any]) -> tuple[Any, int]:
    """Write a text file through a temp file in the same directory, then rename it over `path`: a reader sees
    the old file or the new one, never half of one. Returns write's result and the new file's size."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            result = write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return result, path.stat().st_size


def feed_build(*, feed_id: int, progress: Callable[[int], None] | None = None) -> FeedStats:
    """Build the feed's file and record the result (counts, size, time, exclusions). A failed build keeps the
    previous file and exclusions, stores the error on the feed and raises."""
    feed = access_feed(feed_id)
    started = time.perf_counter()
    now = timezone.now()
    try:
        stats, size = write_atomically(
            feed_file(feed),
            lambda fh: write_feed(
                feed.kind,
                fh,
                channel=feed.channel,
                link_template=feed.link_template,
                shipping_price=feed.shipping_price,
                title=feed.name,
                at=now,
                progress=progress,
            ),
        )
    except Exception as exc:
        log.exception("feed %s build failed", feed.pk)
        Feed.objects.filter(pk=feed.pk).update(error=f"{type(exc).__name__}: {exc}"[:2000])
        raise
    seconds = time.perf_counter() - started
    with transaction.atomic():
        FeedExclusion.objects.filter(feed_id=feed.pk).delete()
        FeedExclusion.objects.bulk_create(
            (FeedExclusion(feed_id=feed.pk, variant_id=vid, reasons=why) for vid, why in stats.exclusions),
            batch_size=2000,
        )
        Feed.objects.filter(pk=feed.pk).update(
            built_at=now,
            items=stats.items,
            excluded=stats.excluded,
            size_bytes=size,
            build_seconds=round(seconds, 3),
            error="",
        )
    return stats


def feeds_build_all() -> dict[int, dict]:
    """Rebuild every active feed (the worker's hourly job); a failing feed does not stop the others."""
    out: dict[int, dict] = {}
    for feed_id in Feed.objects.filter(active=True).order_by("pk").values_list("pk", flat=True):
        try:
            out[feed_id] = feed_build(feed_id=feed_id).as_dict()
        except Exception as exc:  # noqa: BLE001 - recorded on the feed, go on with the next
            out[feed_id] = {"error": str(exc)}
    return out
