"""Product feeds: Google Merchant Center XML, Ceneo XML, CSV; the validator's exclusions; the build."""

from __future__ import annotations

import csv
import datetime as dt
import io
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from zaplecze.catalog import feeds
from zaplecze.catalog.models import (
    Category,
    Feed,
    FeedExclusion,
    Manufacturer,
    Offer,
    Product,
    ProductImage,
    Variant,
)

pytestmark = pytest.mark.django_db

G = "{http://base.google.com/ns/1.0}"
SAMPLES = Path("/work/shared/samples")
if not SAMPLES.exists():  # CI checkouts keep the samples beside the repository
    SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "samples"


@pytest.fixture(autouse=True)
def _data_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path / "data"
    settings.BASE_URL = "https://zaplecze.example"


def make_product(
    name="Kubek ceramiczny",
    *,
    category=None,
    brand="ExampleHome",
    description="<p>Ceramiczny kubek <b>350 ml</b>.</p>",
    variants=(),
    images=("https://shop.example/img/kubek.jpg",),
    status=Product.Status.ACTIVE,
):
    product = Product.objects.create(
        name=name, category=category, brand=brand, description_html=description, status=status
    )
    out = []
    for i, v in enumerate(variants or [{"sku": f"SKU-{Product.objects.count():04d}"}]):
        data = {"name": name, "price": Decimal("129.99"), **v}
        out.append(Variant.objects.create(product=product, **data))
        del i
    for pos, url in enumerate(images):
        ProductImage.objects.create(product=product, source_url=url, position=pos, width=800, height=800)
    return product, out


def build(kind="google", **kwargs) -> tuple[str, feeds.FeedStats]:
    out = io.StringIO()
    kwargs.setdefault("link_template", "https://shop.example/p/{sku}")
    stats = feeds.write_feed(kind, out, **kwargs)
    return out.getvalue(), stats


def parse(text: str) -> ET.Element:
    """Our own output (no DTD, no entities): the standard parser is safe here."""
    return ET.fromstring(text.encode())  # noqa: S314


def parse_file(path: Path) -> ET.Element:
    return ET.parse(path).getroot()  # noqa: S314 - a sample file of this project


def google_items(text: str) -> dict[str, ET.Element]:
    root = parse(text)
    return {item.find(f"{G}id").text: item for item in root.iter("item")}


def stock_levels(variant_qty: dict):
    """Stock as inventory reports it, set through the real ledger."""
    from zaplecze.inventory.services import stock_adjust, warehouse_default

    for variant, qty in variant_qty.items():
        stock_adjust(variant=variant, warehouse=warehouse_default(), delta=qty, kind="receipt", reason="test")


@dataclass
class _Ref:
    price: Decimal


@dataclass
class _EP:
    price: Decimal
    regular_price: Decimal
    sale_price: Decimal | None
    sale_from: dt.datetime | None
    sale_to: dt.datetime | None
    reference: _Ref | None


@pytest.fixture
def fake_prices(monkeypatch):
    """Stand in for catalog.omnibus.effective_prices (its contract): {variant_id: EffectivePrice}."""
    table: dict[int, _EP] = {}
    calls = []

    def effective_prices(variant_ids, channel="", at=None):
        calls.append((list(variant_ids), channel))
        return {vid: table[vid] for vid in variant_ids if vid in table}

    monkeypatch.setattr(feeds, "effective_prices", effective_prices)
    return table, calls


# --- Google -------------------------------------------------------------------------------------------


def test_google_feed_has_one_item_per_active_variant_with_the_specified_fields():
    root_cat = Category.objects.create(name="Kuchnia & dom", slug="kuchnia")
    cat = Category.objects.create(name="Kubki", slug="kubki", parent=root_cat)
    product, (white, black) = make_product(
        category=cat,
        variants=[
            {
                "sku": "MUG-W",
                "ean": "5901234123457",
                "mpn": "EH-W",
                "attributes": {"kolor": "biały", "size": "M"},
            },
            {
                "sku": "MUG-B",
                "ean": "5901234123464",
                "attributes": {"colour": "czarny"},
                "weight_kg": Decimal("0.450"),
            },
        ],
        images=("https://shop.example/img/1.jpg", "https://shop.example/img/2.jpg"),
    )
    Variant.objects.create(product=product, sku="MUG-OFF", name="off", price=Decimal(10), active=False)
    make_product("Draft", status=Product.Status.DRAFT, variants=[{"sku": "DRAFT-1", "ean": "5901234123471"}])
    stock_levels({white: 3})

    text, stats = build(shipping_price=Decimal("12.99"), title="Sklep")

    root = parse(text)
    assert root.tag == "rss" and root.get("version") == "2.0"
    assert text.count('xmlns:g="http://base.google.com/ns/1.0"') == 1
    channel = root.find("channel")
    assert channel.findtext("title") == "Sklep"
    assert channel.findtext("link") == "https://shop.example"
    items = google_items(text)
    assert sorted(items) == ["MUG-B", "MUG-W"]
    assert (stats.items, stats.excluded) == (2, 0)
    w = items["MUG-W"]
    assert w.findtext(f"{G}title") == "Kubek ceramiczny - biały, M"
    assert w.findtext(f"{G}description") == "Ceramiczny kubek 350 ml."
    assert w.findtext(f"{G}link") == "https://shop.example/p/MUG-W"
    assert w.findtext(f"{G}image_link") == "https://shop.example/img/1.jpg"
    assert [e.text for e in w.findall(f"{G}additional_image_link")] == ["https://shop.example/img/2.jpg"]
    assert w.findtext(f"{G}availability") == "in_stock"
    assert items["MUG-B"].findtext(f"{G}availability") == "out_of_stock"
    assert w.findtext(f"{G}price") == "129.99 PLN"
    assert w.find(f"{G}sale_price") is None
    assert w.findtext(f"{G}brand") == "ExampleHome"
    assert w.findtext(f"{G}gtin") == "5901234123457"
    assert w.findtext(f"{G}mpn") == "EH-W"
    assert w.findtext(f"{G}condition") == "new"
    assert w.findtext(f"{G}product_type") == "Kuchnia & dom > Kubki"
    assert w.findtext(f"{G}item_group_id") == items["MUG-B"].findtext(f"{G}item_group_id") == f"P{product.pk}"
    assert (w.findtext(f"{G}color"), w.findtext(f"{G}size")) == ("biały", "M")
    assert items["MUG-B"].findtext(f"{G}color") == "czarny"
    assert items["MUG-B"].findtext(f"{G}shipping_weight") == "0.45 kg"
    shipping = w.find(f"{G}shipping")
    assert (shipping.findtext(f"{G}country"), shipping.findtext(f"{G}price")) == ("PL", "12.99 PLN")


def test_a_single_variant_has_no_item_group_and_unknown_stock_counts_as_in_stock(monkeypatch):
    make_product(variants=[{"sku": "ONE", "ean": "5901234123457"}])
    monkeypatch.setattr(feeds.stock, "available", lambda ids=None: None)

    item = google_items(build()[0])["ONE"]

    assert item.find(f"{G}item_group_id") is None
    assert item.findtext(f"{G}availability") == "in_stock"


def test_the_description_is_plain_text_without_scripts_and_cut_at_5000_characters():
    make_product(
        variants=[{"sku": "LONG", "ean": "5901234123457"}],
        description="<p>Tom &amp; Jerry</p><script>alert(1)</script><ul><li>one</li><li>two</li></ul>"
        + "słowo " * 1200,
    )

    text = google_items(build()[0])["LONG"].findtext(f"{G}description")

    assert text.startswith("Tom & Jerry one two słowo")
    assert "alert" not in text and "<" not in text
    assert len(text) <= 5000 and text.endswith("…")


def test_sale_price_with_its_effective_dates_comes_from_effective_prices(fake_prices):
    table, calls = fake_prices
    _p, (v,) = make_product(variants=[{"sku": "SALE", "ean": "5901234123457"}])
    _p, (plain,) = make_product(variants=[{"sku": "PLAIN", "ean": "5901234123464"}])
    _p, (open_ended,) = make_product(variants=[{"sku": "OPEN", "ean": "5901234123471"}])
    start = dt.datetime(2026, 6, 1, 0, 0, tzinfo=dt.UTC)
    end = dt.datetime(2026, 6, 30, 21, 59, tzinfo=dt.UTC)
    table[v.pk] = _EP(
        Decimal("99.99"), Decimal("129.99"), Decimal("99.99"), start, end, _Ref(Decimal("119.99"))
    )
    table[plain.pk] = _EP(Decimal("129.99"), Decimal("129.99"), None, None, None, None)
    table[open_ended.pk] = _EP(Decimal("89.00"), Decimal("129.99"), Decimal("89.00"), start, None, None)

    items = google_items(build(channel="")[0])

    sale = items["SALE"]
    assert sale.findtext(f"{G}price") == "129.99 PLN"
    assert sale.findtext(f"{G}sale_price") == "99.99 PLN"
    # Google's format: YYYY-MM-DDThh:mm±hhmm/..., in the shop's time zone (Warsaw: +0200 in summer).
    assert sale.findtext(f"{G}sale_price_effective_date") == "2026-06-01T02:00+0200/2026-06-30T23:59+0200"
    assert items["PLAIN"].find(f"{G}sale_price") is None
    assert items["OPEN"].findtext(f"{G}sale_price") == "89.00 PLN"
    assert (
        items["OPEN"].find(f"{G}sale_price_effective_date") is None
    )  # no end known: the sale simply applies
    assert calls and calls[0][1] == ""


def test_special_and_invalid_characters_are_escaped_or_removed():
    from django.db import connection

    # PostgreSQL cannot store NUL at all (the API and forms refuse it); SQLite can, so the feed must drop it.
    nul = "\x00" if connection.vendor == "sqlite" else ""
    make_product(
        'Kubek <b>"Tom & Jerry"</b>\x0b' + nul,
        brand="A&B <Home>",
        variants=[{"sku": "ESC&1", "ean": "5901234123457"}],
        images=("https://shop.example/img/a.jpg?x=1&y=2",),
    )

    text, _stats = build(link_template="https://shop.example/p?sku={sku}&src=feed")

    item = google_items(text)["ESC&1"]  # parses: the file is well-formed XML
    assert item.findtext(f"{G}title") == 'Kubek <b>"Tom & Jerry"</b>'
    assert item.findtext(f"{G}brand") == "A&B <Home>"
    assert item.findtext(f"{G}link") == "https://shop.example/p?sku=ESC%261&src=feed"
    assert item.findtext(f"{G}image_link") == "https://shop.example/img/a.jpg?x=1&y=2"
    assert "\x0b" not in text and "\x00" not in text


def test_products_without_identifiers_say_identifier_exists_no():
    make_product(brand="", variants=[{"sku": "HANDMADE"}])

    item = google_items(build()[0])["HANDMADE"]

    assert item.findtext(f"{G}identifier_exists") == "no"
    assert item.find(f"{G}gtin") is None and item.find(f"{G}brand") is None


def test_the_manufacturer_stands_in_for_a_missing_brand():
    maker = Manufacturer.objects.create(name="Fabryka Kubków")
    product, _v = make_product(brand="", variants=[{"sku": "MADE", "ean": "5901234123457"}])
    Product.objects.filter(pk=product.pk).update(manufacturer=maker)

    assert google_items(build()[0])["MADE"].findtext(f"{G}brand") == "Fabryka Kubków"


def test_google_leaves_out_variants_with_the_reasons():
    make_product(variants=[{"sku": "OK", "ean": "5901234123457"}])
    make_product(variants=[{"sku": "NO-IMG", "ean": "5901234123464"}], images=())
    make_product(variants=[{"sku": "BAD-EAN", "ean": "5901234123458"}])
    make_product(variants=[{"sku": "NO-GTIN"}])
    make_product(variants=[{"sku": "MPN-ONLY", "mpn": "X-1"}])
    make_product(brand="", variants=[{"sku": "NO-BRAND", "ean": "5901234123471"}])
    make_product(description="", variants=[{"sku": "NO-DESC", "ean": "5901234123488"}])
    make_product(variants=[{"sku": "FREE", "ean": "5901234123495", "price": Decimal("0.00")}])
    make_product("", variants=[{"sku": "NO-NAME", "ean": "5901234123501"}])
    product, _v = make_product(variants=[{"sku": "TINY", "ean": "5901234123518"}], images=())
    ProductImage.objects.create(product=product, source_url="https://shop.example/t.jpg", width=50, height=50)
    make_product(variants=[{"sku": "X" * 51, "ean": "5901234123525"}])

    text, stats = build()

    assert sorted(google_items(text)) == ["MPN-ONLY", "OK"]
    excluded = dict(stats.exclusions)
    by_sku = {Variant.objects.get(pk=vid).sku: why for vid, why in excluded.items()}
    assert by_sku == {
        "NO-IMG": ["no_image"],
        "BAD-EAN": ["invalid_gtin"],
        "NO-GTIN": ["no_gtin"],
        "NO-BRAND": ["no_brand"],
        "NO-DESC": ["no_description"],
        "FREE": ["no_price"],
        "NO-NAME": ["no_title"],
        "TINY": ["image_too_small"],
        "X" * 51: ["id_too_long"],
    }
    assert stats.items == 2 and stats.excluded == 9
    assert all(feeds.reason_label(code) != code for why in by_sku.values() for code in why)


def test_without_a_link_template_or_offer_url_there_is_no_link():
    make_product(variants=[{"sku": "NOLINK", "ean": "5901234123457"}])

    _text, stats = build(link_template="")

    assert stats.exclusions[0][1] == ["no_link"]


def test_a_channel_feed_uses_the_offer_url_and_leaves_out_switched_off_offers():
    _p, (a,) = make_product(variants=[{"sku": "CH-A", "ean": "5901234123457"}])
    _p, (b,) = make_product(variants=[{"sku": "CH-B", "ean": "5901234123464"}])
    _p, (c,) = make_product(variants=[{"sku": "CH-C", "ean": "5901234123471"}])
    Offer.objects.create(variant=a, channel="shop", url="https://shop.example/kubek-a")
    Offer.objects.create(variant=b, channel="shop", active=False)
    Offer.objects.create(variant=c, channel="allegro", url="https://allegro.example/c")

    text, stats = build(channel="shop")

    items = google_items(text)
    assert items["CH-A"].findtext(f"{G}link") == "https://shop.example/kubek-a"
    assert items["CH-C"].findtext(f"{G}link") == "https://shop.example/p/CH-C"  # no offer on this channel
    assert [why for vid, why in stats.exclusions if vid == b.pk] == [["offer_inactive"]]


def test_uploaded_images_get_absolute_signed_urls_that_serve_the_file(client):
    product, _v = make_product(variants=[{"sku": "UP", "ean": "5901234123457"}], images=())
    image = ProductImage(product=product, content_type="image/png", width=200, height=200)
    image.file.save("up.png", ContentFile(b"\x89PNG\r\n\x1a\nfake"), save=True)

    url = google_items(build()[0])["UP"].findtext(f"{G}image_link")

    assert url == f"https://zaplecze.example/feeds/images/{image.pk}/{feeds.image_signature(image.pk)}"
    path = url.removeprefix("https://zaplecze.example")
    response = client.get(path)
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert b"".join(response.streaming_content).startswith(b"\x89PNG")
    assert client.get(f"/feeds/images/{image.pk}/{'0' * 20}").status_code == 404
    Product.objects.filter(pk=product.pk).update(status=Product.Status.ARCHIVED)
    assert client.get(path).status_code == 404


def test_the_google_feed_follows_the_structure_of_the_merchant_center_sample():
    sample = parse_file(SAMPLES / "google-merchant" / "feed.xml")
    sample_tags = {child.tag for item in sample.iter("item") for child in item}
    cat = Category.objects.create(name="Kubki", slug="kubki")
    make_product(
        category=cat,
        variants=[
            {
                "sku": "S-1",
                "ean": "5901234123457",
                "mpn": "M1",
                "attributes": {"color": "biały"},
                "weight_kg": 1,
            },
            {"sku": "S-2", "ean": "5901234123464", "attributes": {"color": "czarny"}},
        ],
        images=("https://shop.example/1.jpg", "https://shop.example/2.jpg"),
    )
    make_product(brand="", variants=[{"sku": "S-3"}])

    ours = parse(build(shipping_price=Decimal("9.99"))[0])

    assert (ours.tag, ours.get("version")) == (sample.tag, sample.get("version"))
    assert [c.tag for c in ours] == [c.tag for c in sample] == ["channel"]
    head = [c.tag for c in ours.find("channel") if c.tag != "item"]
    assert head == [c.tag for c in sample.find("channel") if c.tag != "item"]
    our_tags = {child.tag for item in ours.iter("item") for child in item}
    extra = our_tags - sample_tags - {f"{G}size", f"{G}material", f"{G}pattern"}
    assert extra == set()
    required = {
        f"{G}{n}" for n in ("id", "title", "description", "link", "image_link", "availability", "price")
    }
    for item in ours.iter("item"):
        assert required <= {c.tag for c in item}
        assert all(c.tag.startswith(G) for c in item)  # every field in the g: namespace, as in the sample
    for item in sample.iter("item"):
        assert required <= {c.tag for c in item}
    shipping = ours.find(f".//{G}shipping")
    sample_shipping = sample.find(f".//{G}shipping")
    assert {c.tag for c in shipping} <= {c.tag for c in sample_shipping}


# --- Ceneo --------------------------------------------------------------------------------------------


def test_ceneo_feed_follows_the_sample_offers_structure():
    sample = parse_file(SAMPLES / "ceneo" / "feed.xml")
    parent = Category.objects.create(name="Dom", slug="dom")
    cat = Category.objects.create(name="Kubki", slug="kubki", parent=parent)
    _p, (v,) = make_product(
        category=cat,
        variants=[{"sku": "C-1", "ean": "5901234123457", "mpn": "K-1", "attributes": {"Kolor": "biały"}}],
        images=("https://shop.example/1.jpg", "https://shop.example/2.jpg"),
        description="<p>Opis ]]> z <b>HTML</b></p>",
    )
    stock_levels({v: 4})
    make_product(variants=[{"sku": "C-NOCAT", "ean": "5901234123464"}])

    text, stats = build("ceneo")

    root = parse(text)
    assert root.tag == sample.tag == "offers" and root.get("version") == "1"
    (o,) = root.findall("o")
    sample_o = sample.find("o")
    assert {c.tag for c in o} <= {c.tag for c in sample_o} | {"desc"}
    assert o.get("id") == "C-1" and o.get("url") == "https://shop.example/p/C-1"
    assert (o.get("price"), o.get("avail"), o.get("stock")) == ("129.99", "1", "4")
    assert o.findtext("cat").strip() == "Dom/Kubki"
    assert o.findtext("name").strip() == "Kubek ceramiczny"
    assert o.find("imgs/main").get("url") == "https://shop.example/1.jpg"
    assert [i.get("url") for i in o.findall("imgs/i")] == ["https://shop.example/2.jpg"]
    assert o.findtext("desc") == "<p>Opis ]]> z <b>HTML</b></p>"
    assert {a.get("name"): a.text for a in o.findall("attrs/a")} == {
        "Producent": "ExampleHome",
        "EAN": "5901234123457",
        "Kod producenta": "K-1",
        "Kolor": "biały",
    }
    assert [why for _vid, why in stats.exclusions] == [["no_category"]]


def test_ceneo_leaves_out_price_zero_and_no_image_and_marks_out_of_stock():
    cat = Category.objects.create(name="Kubki", slug="kubki")
    make_product(category=cat, variants=[{"sku": "Z", "price": Decimal(0)}])
    make_product(category=cat, variants=[{"sku": "NOIMG"}], images=())
    make_product(category=cat, variants=[{"sku": "OUT"}])

    text, stats = build("ceneo")

    (o,) = parse(text).findall("o")
    assert (o.get("id"), o.get("avail"), o.get("stock")) == ("OUT", "99", "0")
    assert sorted(why for _vid, why in stats.exclusions) == [["no_image"], ["no_price"]]


# --- CSV ----------------------------------------------------------------------------------------------


def test_csv_has_one_row_per_variant_with_the_documented_columns_and_the_reference_price(fake_prices):
    table, _calls = fake_prices
    _p, (v, w) = make_product(
        "=HYPERLINK(1)",
        variants=[{"sku": "CSV-1", "attributes": {"size": "M"}}, {"sku": "CSV-2", "name": "Druga"}],
    )
    start = dt.datetime(2026, 6, 1, 8, 0, tzinfo=dt.UTC)
    table[v.pk] = _EP(
        Decimal("99.99"), Decimal("129.99"), Decimal("99.99"), start, None, _Ref(Decimal("109.99"))
    )

    text, stats = build("csv")

    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == feeds.CSV_COLUMNS
    assert [r["sku"] for r in rows] == ["CSV-1", "CSV-2"] and stats.items == 2
    one = rows[0]
    assert (one["price"], one["regular_price"], one["sale_price"], one["reference_price"]) == (
        "99.99",
        "129.99",
        "99.99",
        "109.99",
    )
    assert one["sale_from"] == "2026-06-01T10:00+02:00" and one["sale_to"] == ""
    assert one["title"].startswith("'=HYPERLINK(1)")  # no formula when opened in a spreadsheet
    assert one["attributes"] == "size=M" and one["item_group_id"] == rows[1]["item_group_id"]
    assert rows[1]["sale_price"] == rows[1]["reference_price"] == ""


# --- batches, queries ---------------------------------------------------------------------------------


def test_the_number_of_queries_per_batch_does_not_grow_with_the_products():
    for i in range(3):
        make_product(f"P{i}", variants=[{"sku": f"Q{i}", "ean": "5901234123457"}])

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            build(batch_size=100)
        return len(ctx.captured_queries)

    small = count()
    for i in range(3, 15):
        make_product(f"P{i}", variants=[{"sku": f"Q{i}", "ean": "5901234123457"}])
    assert count() == small


def test_batches_cover_every_product_once():
    for i in range(7):
        make_product(f"P{i}", variants=[{"sku": f"B{i}a", "ean": "5901234123457"}, {"sku": f"B{i}b"}])

    skus = [e.sku for batch in feeds.iter_entries(batch_size=3) for e in batch]

    assert sorted(skus) == sorted(f"B{i}{s}" for i in range(7) for s in "ab")


# --- build: counts, exclusions stored, atomic file ----------------------------------------------------


def test_build_writes_the_file_and_stores_counts_and_exclusions():
    make_product(variants=[{"sku": "OK", "ean": "5901234123457"}])
    _p, (bad,) = make_product(variants=[{"sku": "NOIMG", "ean": "5901234123464"}], images=())
    feed = feeds.feed_create(
        data={"name": "Google", "kind": "google", "link_template": "https://s.example/{sku}"}
    )
    FeedExclusion.objects.create(
        feed=feed, variant=Variant.objects.get(sku="OK"), reasons=["no_image"]
    )  # stale

    stats = feeds.feed_build(feed_id=feed.pk)

    feed.refresh_from_db()
    path = feeds.feed_file(feed)
    assert (feed.items, feed.excluded, feed.error) == (1, 1, "")
    assert feed.size_bytes == path.stat().st_size > 0 and feed.built_at is not None
    assert feed.build_seconds is not None
    assert list(FeedExclusion.objects.filter(feed=feed).values_list("variant_id", "reasons")) == [
        (bad.pk, ["no_image"])
    ]
    assert stats.by_reason == {"no_image": 1}
    assert list(google_items(path.read_text()))[0] == "OK"
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp file left


def test_a_failed_write_keeps_the_previous_file_whole(tmp_path):
    target = tmp_path / "feed.xml"
    target.write_text("<old/>")

    def broken(fh):
        fh.write("<rss>half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        feeds.write_atomically(target, broken)

    assert target.read_text() == "<old/>"
    assert [p.name for p in tmp_path.iterdir()] == ["feed.xml"]


def test_a_failed_build_records_the_error_and_keeps_the_old_file(monkeypatch):
    make_product(variants=[{"sku": "OK", "ean": "5901234123457"}])
    feed = feeds.feed_create(data={"name": "G", "kind": "google", "link_template": "https://s.example/{sku}"})
    feeds.feed_build(feed_id=feed.pk)
    before = feeds.feed_file(feed).read_bytes()

    def boom(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(feeds, "iter_entries", boom)
    with pytest.raises(RuntimeError):
        feeds.feed_build(feed_id=feed.pk)

    feed.refresh_from_db()
    assert "database went away" in feed.error and feed.items == 1
    assert feeds.feed_file(feed).read_bytes() == before


def test_feed_settings_are_validated_naming_the_field():
    from zaplecze.core.errors import DomainError

    with pytest.raises(DomainError) as exc:
        feeds.feed_create(data={"name": "G", "kind": "google", "link_template": "shop.example/{sku}"})
    assert exc.value.field == "link_template"
    with pytest.raises(DomainError) as exc:
        feeds.feed_create(data={"name": "G", "kind": "google", "link_template": "https://s.example/{slug}"})
    assert exc.value.field == "link_template" and "{slug}" in exc.value.message
    with pytest.raises(DomainError) as exc:
        feeds.feed_create(data={"name": "G", "kind": "rss"})
    assert exc.value.field == "kind"
    with pytest.raises(DomainError) as exc:
        feeds.feed_create(data={"name": "G", "kind": "csv", "shipping_price": "abc"})
    assert exc.value.field == "shipping_price"
    assert Feed.objects.count() == 0


def test_raised_then_cut_price_history_gives_sale_price_dates_and_reference_in_the_feeds():
    """A real price history (rows as catalog.prices appends them): 100 for long, raised to 150, then a
    promotion at 120 with a scheduled end. Google shows 150 with sale 120 and its interval; the CSV exports the Omnibus reference (the
    lowest price of the 30 days before the cut: 100)."""
    from django.utils import timezone

    from zaplecze.catalog.models import PriceChange

    def price_set(v, *, price, effective_from, kind="regular"):
        PriceChange.objects.create(
            variant=v, price=price, kind=kind, effective_from=effective_from, source="test"
        )

    now = timezone.now()
    _p, (v,) = make_product(variants=[{"sku": "OMNI", "ean": "5901234123457", "price": Decimal("100.00")}])
    price_set(v, price=Decimal("100.00"), effective_from=now - dt.timedelta(days=60))
    price_set(v, price=Decimal("150.00"), effective_from=now - dt.timedelta(days=20))
    cut = now - dt.timedelta(days=2)
    end = now + dt.timedelta(days=5)
    price_set(v, price=Decimal("120.00"), kind="promo", effective_from=cut)
    price_set(v, price=Decimal("150.00"), effective_from=end)

    item = google_items(build(at=now)[0])["OMNI"]
    row = next(csv.DictReader(io.StringIO(build("csv", at=now)[0])))

    assert item.findtext(f"{G}price") == "150.00 PLN"
    assert item.findtext(f"{G}sale_price") == "120.00 PLN"
    local = timezone.localtime
    expected = f"{local(cut):%Y-%m-%dT%H:%M%z}/{local(end):%Y-%m-%dT%H:%M%z}"
    assert item.findtext(f"{G}sale_price_effective_date") == expected
    assert (row["price"], row["regular_price"], row["sale_price"], row["reference_price"]) == (
        "120.00",
        "150.00",
        "120.00",
        "100.00",
    )
