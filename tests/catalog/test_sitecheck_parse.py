"""Storefront check: page parsing, amounts, the Omnibus label and sitemaps (no network, no database)."""

from __future__ import annotations

import gzip
import json
from decimal import Decimal

import pytest

from zaplecze.catalog import sitecheck as sc

URL = "https://sklep.example.pl/p/kubek"


def page(*blocks: str, head: str = "", body: str = "") -> str:
    scripts = "".join(f'<script type="application/ld+json">{b}</script>' for b in blocks)
    return f"<html><head>{scripts}{head}</head><body>{body}</body></html>"


def product(**extra) -> dict:
    data = {
        "@context": "https://schema.org",
        "@type": "Product",
        "name": "Kubek  emaliowany",
        "sku": "K-1",
        "gtin13": "5901234123457",
        "image": [{"@type": "ImageObject", "url": "/img/k.jpg"}, "https://cdn.example.pl/k2.jpg"],
        "offers": {
            "@type": "Offer",
            "price": "49.99",
            "priceCurrency": "pln",
            "availability": "http://schema.org/OutOfStock",
        },
    }
    data.update(extra)
    return data


def test_a_product_in_json_ld_gives_its_identifiers_price_availability_and_absolute_image_urls():
    parsed = sc.parse_page(URL, page(json.dumps(product())))
    assert parsed.problems == []
    [c] = parsed.candidates
    assert (c.source, c.name, c.skus, c.gtins) == ("json-ld", "Kubek emaliowany", ["K-1"], ["5901234123457"])
    assert (c.price, c.currency, c.availability) == (Decimal("49.99"), "PLN", "OutOfStock")
    assert c.images == ["https://sklep.example.pl/img/k.jpg", "https://cdn.example.pl/k2.jpg"]


def test_a_graph_with_a_product_page_and_a_typed_list():
    graph = {
        "@context": "https://schema.org",
        "@graph": [
            {"@type": "WebSite", "name": "Sklep"},
            {"@type": "ItemPage", "mainEntity": product(**{"@type": ["Product", "Thing"]})},
        ],
    }
    [c] = sc.parse_page(URL, page(json.dumps(graph))).candidates
    assert (c.skus, c.price) == (["K-1"], Decimal("49.99"))


def test_an_array_of_blocks_and_a_product_group_with_variants_give_one_candidate_per_variant():
    group = {
        "@context": "https://schema.org",
        "@type": "ProductGroup",
        "name": "Kubek",
        "image": "/img/k.jpg",
        "hasVariant": [
            {
                "@type": "Product",
                "sku": "K-RED",
                "offers": {"@type": "Offer", "price": 10, "priceCurrency": "PLN"},
            },
            {"@type": "Product", "sku": "K-BLUE", "offers": {"@type": "Offer", "price": 12.5}},
        ],
    }
    parsed = sc.parse_page(URL, page(json.dumps([{"@type": "Organization"}, group])))
    assert [(c.skus, c.price, c.name, c.images) for c in parsed.candidates] == [
        (["K-RED"], Decimal("10.00"), "Kubek", ["https://sklep.example.pl/img/k.jpg"]),
        (["K-BLUE"], Decimal("12.50"), "Kubek", ["https://sklep.example.pl/img/k.jpg"]),
    ]


def test_offers_per_variant_with_their_own_sku_and_a_strikethrough_price():
    data = product(
        offers=[
            {
                "@type": "Offer",
                "sku": "K-1",
                "price": "39.99",
                "priceSpecification": {
                    "@type": "UnitPriceSpecification",
                    "priceType": "https://schema.org/StrikethroughPrice",
                    "price": "59.99",
                },
            },
            {"@type": "Offer", "sku": "K-2", "price": "44.99"},
        ]
    )
    first, second = sc.parse_page(URL, page(json.dumps(data))).candidates
    assert (first.skus, first.price, first.regular_price, first.sale_signal) == (
        ["K-1"],
        Decimal("39.99"),
        Decimal("59.99"),
        True,
    )
    assert (second.skus, second.price, second.regular_price) == (["K-2"], Decimal("44.99"), None)


@pytest.mark.parametrize(
    "block, found",
    [
        ('{"@type": "Product", "name": "K", }', "block 1: "),
        ("not json at all", "block 1: Expecting value"),
        ('{"@type": "Product"}', "empty Product"),
    ],
)
def test_invalid_json_ld_is_a_problem_never_an_exception(block, found):
    parsed = sc.parse_page(URL, page(block))
    codes = [p["code"] for p in parsed.problems]
    assert sc.JSONLD_INVALID in codes
    assert any(p["found"].startswith(found) for p in parsed.problems if p["code"] == sc.JSONLD_INVALID)


def test_odd_shapes_are_read_or_ignored_without_a_crash():
    odd = [
        "[]",
        "null",
        '{"@graph": {"@type": "Product", "name": "K", "offers": "free"}}',
        '{"@type": "Product", "name": ["K", 1], "offers": [null, 3, {"price": {"x": 1}}], "image": 5}',
        '{"@type": "Product", "name": "K", "offers": {"@type": "AggregateOffer", "lowPrice": "1", "highPrice": "9"}}',
        "[" * 5000 + "]" * 5000,
    ]
    for block in odd:
        parsed = sc.parse_page(URL, page(block))
        assert isinstance(parsed.problems, list)
    agg = sc.parse_page(URL, page(odd[4])).candidates[0]
    assert agg.price is None  # a range of prices is not one price


def test_the_second_block_is_used_when_the_first_is_broken():
    parsed = sc.parse_page(URL, page("{broken", json.dumps(product())))
    assert [p["code"] for p in parsed.problems] == [sc.JSONLD_INVALID]
    assert parsed.candidates[0].skus == ["K-1"]


def test_open_graph_product_tags_when_there_is_no_json_ld():
    head = (
        '<meta property="og:type" content="product"><meta property="og:title" content="Kubek">'
        '<meta property="product:price:amount" content="59,99"><meta property="product:sale_price:amount"'
        ' content="49,99"><meta property="product:price:currency" content="PLN">'
        '<meta property="product:availability" content="in stock">'
        '<meta property="product:retailer_item_id" content="K-1"><meta property="og:image" content="/k.jpg">'
    )
    [c] = sc.parse_page(URL, page(head=head)).candidates
    assert (c.source, c.name, c.skus, c.price, c.regular_price, c.sale_signal, c.availability) == (
        "meta",
        "Kubek",
        ["K-1"],
        Decimal("49.99"),
        Decimal("59.99"),
        True,
        "InStock",
    )
    assert c.images == ["https://sklep.example.pl/k.jpg"]


def test_a_page_without_product_data():
    parsed = sc.parse_page(URL, page(body="<h1>Kontakt</h1>"))
    assert (parsed.candidates, [p["code"] for p in parsed.problems]) == ([], [sc.NO_PRODUCT_DATA])


@pytest.mark.parametrize(
    "raw, amount",
    [
        ("129.99", "129.99"),
        ("129,99 zł", "129.99"),
        ("1 299,99", "1299.99"),
        ("1.299,99", "1299.99"),
        ("1,299.99", "1299.99"),
        (129, "129.00"),
        (12.5, "12.50"),
        ("PLN", None),
        (True, None),
        (None, None),
    ],
)
def test_amounts_as_shops_print_them(raw, amount):
    assert sc.parse_amount(raw) == (Decimal(amount) if amount else None)


def test_the_omnibus_label_must_carry_the_reference_amount_nearby():
    ref = Decimal("1299.00")
    assert sc.omnibus_check("Cena 999 zł. Najniższa cena z 30 dni przed obniżką: 1 299,00 zł", ref) is None
    assert sc.omnibus_check("Lowest price in the last 30 days: 1,299.00 PLN", ref) is None
    assert sc.omnibus_check("Najniższa cena z 30 dni: 1299 zł", ref) is None
    other = sc.omnibus_check("Najniższa cena z 30 dni: 1 199,00 zł", ref)
    assert other == {"code": sc.OMNIBUS_PRICE, "expected": "1299.00", "found": "1199.00"}
    assert sc.omnibus_check("Teraz 999 zł, było 1 299,00 zł", ref) == {
        "code": sc.OMNIBUS_MISSING,
        "expected": "1299.00",
        "found": "",
    }
    far = "Najniższa cena z 30 dni. " + "x" * 400 + " 1 299,00 zł"
    assert sc.omnibus_check(far, ref)["code"] == sc.OMNIBUS_MISSING  # the amount is too far from the label
    # a longer number containing the amount is not the amount
    assert sc.omnibus_check("Najniższa cena z 30 dni: 11299,00 zł", ref)["code"] == sc.OMNIBUS_PRICE
    # without a reference from the catalog, the label alone will do
    assert sc.omnibus_check("Najniższa cena z 30 dni: 10 zł", None) is None
    assert sc.omnibus_check("Promocja!", None)["code"] == sc.OMNIBUS_MISSING


def test_sitemaps_urlset_index_gzip_and_text():
    urlset = b'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc> https://a.pl/1 </loc></url></urlset>'
    assert sc.parse_sitemap(urlset) == ("urlset", ["https://a.pl/1"])
    assert sc.parse_sitemap(gzip.compress(urlset)) == ("urlset", ["https://a.pl/1"])
    index = b"<sitemapindex><sitemap><loc>https://a.pl/s1.xml.gz</loc></sitemap></sitemapindex>"
    assert sc.parse_sitemap(index) == ("index", ["https://a.pl/s1.xml.gz"])
    assert sc.parse_sitemap(b"https://a.pl/1\n\nhttps://a.pl/2\n") == (
        "text",
        ["https://a.pl/1", "https://a.pl/2"],
    )
    for bad in (b"<urlset><url>", b"<html></html>", b"hello", b'<!DOCTYPE x [<!ENTITY a "b">]><urlset/>'):
        with pytest.raises(ValueError):
            sc.parse_sitemap(bad)


def test_urls_are_compared_in_a_normal_form():
    assert (
        sc.normalise_url("HTTPS://Sklep.PL:443/p/kubek/?b=2&a=1#opis") == "https://sklep.pl/p/kubek?a=1&b=2"
    )
    assert sc.normalise_url("http://sklep.pl") == "http://sklep.pl/"
    assert sc.normalise_url("http://sklep.pl:8080/x") == "http://sklep.pl:8080/x"


def test_compare_reports_each_difference_with_expected_and_found():
    cand = sc.Candidate(
        source="json-ld",
        name="Kubek czerwony",
        price=Decimal("59.99"),
        currency="EUR",
        availability="InStock",
        images=["https://a.pl/1.jpg", "https://a.pl/2.jpg"],
    )
    expected = sc.Expected(
        variant_id=1, names=["Kubek", "Kubek"], price=Decimal("49.99"), currency="PLN", stock=0
    )
    problems = sc.compare(cand, expected, "", {"https://a.pl/1.jpg": "", "https://a.pl/2.jpg": "HTTP 404"})
    assert problems == [
        {"code": "name", "expected": "Kubek", "found": "Kubek czerwony"},
        {"code": "price", "expected": "49.99", "found": "59.99"},
        {"code": "currency", "expected": "PLN", "found": "EUR"},
        {"code": "availability", "expected": "OutOfStock", "found": "InStock"},
        {"code": "image_broken", "expected": "https://a.pl/2.jpg", "found": "HTTP 404"},
    ]
    same = sc.Candidate(
        source="json-ld", name=" KUBEK ", price=Decimal("49.99"), availability="OutOfStock", images=["x"]
    )
    assert sc.compare(same, expected, "", {}) == []
    unknown_stock = sc.Expected(
        variant_id=1, names=["Kubek"], price=Decimal("49.99"), currency="PLN", stock=None
    )
    assert (
        sc.compare(
            sc.Candidate("json-ld", "Kubek", price=Decimal("49.99"), images=["x"]), unknown_stock, "", {}
        )
        == []
    )
