"""Product export: CSV (UTF-8 BOM, ;) and XLSX in the import's columns; an export imports back with 0 changes;
text that a spreadsheet would run as a formula is written as text."""

from __future__ import annotations

import io as stdio
from decimal import Decimal

import pytest

from zaplecze.catalog import bulk, io
from zaplecze.catalog.models import Offer, Product, ProductImage, Variant

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalog(admin_user):
    data = (
        "sku;product_name;variant_name;price;vat_rate;cost_price;ean;category;brand;manufacturer;mpn;weight_kg;"
        "length_cm;perishable;safety_info;image_urls;description_html;attr:size;attr:Kolor;price:allegro\n"
        "TEE-S;Koszulka „Łąka”;S;129,99;23;40,5;5901234123457;Odzież > Koszulki;Łąka;Łąka sp. z o.o.;M-1;0,25;"
        '30,5;no;Prać w 30°C;https://cdn.example/a.jpg|https://cdn.example/b.jpg;"<p>Bawełna; <b>100%</b></p>";S;zielony;139,00\n'
        "TEE-M;Koszulka „Łąka”;M;129,99;23;;;Odzież > Koszulki;Łąka;Łąka sp. z o.o.;;;;no;Prać w 30°C;"
        'https://cdn.example/a.jpg|https://cdn.example/b.jpg;"<p>Bawełna; <b>100%</b></p>";M;zielony;\n'
        "=HACK;=1+1;@SUM(A1);5;zw;;;;+48 brand;;-5;;;yes;;;;;;\n"
    ).encode()
    b = bulk.import_preview(data, "seed.csv", admin_user)
    assert [r["errors"] for r in b.rows] == [[], [], []], b.rows
    bulk.import_apply(b, admin_user)
    return b


def test_csv_export_reimports_with_no_changes(catalog, admin_user):
    data = b"".join(io.export_csv(io.ExportFilter()))
    assert data.startswith(b"\xef\xbb\xbf")
    text = data.decode("utf-8-sig")
    header = text.splitlines()[0].split(";")
    assert header[: len(io.COLUMNS)] == io.COLUMNS
    assert header[len(io.COLUMNS) :] == ["attr:Kolor", "attr:size", "price:allegro"]
    assert "129,99" in text  # decimal comma for Polish Excel

    again = bulk.import_preview(data, "export.csv", admin_user)

    assert [(r["sku"], r["action"], r["changes"], r["errors"]) for r in again.rows] == [
        ("TEE-M", "unchanged", {}, []),
        ("TEE-S", "unchanged", {}, []),
        ("=HACK", "unchanged", {}, []),
    ]


def test_xlsx_export_reimports_with_no_changes(catalog, admin_user):
    out = stdio.BytesIO()
    io.export_xlsx(io.ExportFilter(), out)

    again = bulk.import_preview(out.getvalue(), "export.xlsx", admin_user)

    assert again.params["format"] == "xlsx"
    assert {r["action"] for r in again.rows} == {"unchanged"}, [
        r for r in again.rows if r["action"] != "unchanged"
    ]


def test_formula_like_text_is_written_as_text(catalog):
    from openpyxl import load_workbook

    text = b"".join(io.export_csv(io.ExportFilter())).decode("utf-8-sig")
    hack = next(line for line in text.splitlines() if "HACK" in line).split(";")
    assert hack[0] == "'=HACK" and hack[1] == "'=HACK" and hack[2] == "'=1+1" and hack[3] == "'@SUM(A1)"
    assert "'+48 brand" in hack and "'-5" in hack

    out = stdio.BytesIO()
    io.export_xlsx(io.ExportFilter(), out)
    sheet = load_workbook(stdio.BytesIO(out.getvalue())).worksheets[0]
    cells = [c for row in sheet.iter_rows() for c in row if c.value is not None]
    assert all(c.data_type != "f" for c in cells)
    assert "'=1+1" in [c.value for c in cells]
    numbers = {c.value for c in cells if c.data_type == "n"}
    assert 129.99 in numbers


def test_export_filters(catalog):
    Product.objects.filter(name="=1+1").update(status=Product.Status.DRAFT)
    skus = lambda flt: [r["sku"] for r in io.export_rows(flt)]  # noqa: E731
    assert skus(io.ExportFilter(status="draft")) == ["=HACK"]
    assert skus(io.ExportFilter(brand="Łąka")) == ["TEE-M", "TEE-S"]
    assert skus(io.ExportFilter(q="tee-m")) == ["TEE-M", "TEE-S"]  # whole products
    from zaplecze.catalog.models import Category

    parent = Category.objects.get(name="Odzież")
    assert skus(io.ExportFilter(category=parent.pk)) == ["TEE-M", "TEE-S"]


def test_export_values(catalog):
    rows = {r["sku"]: r for r in io.export_rows(io.ExportFilter())}
    s = rows["TEE-S"]
    assert s["product_key"] == "TEE-M"
    assert s["category"] == "Odzież > Koszulki"
    assert s["price"] == Decimal("129.99") and s["price:allegro"] == Decimal("139.00")
    assert s["image_urls"] == "https://cdn.example/a.jpg https://cdn.example/b.jpg"
    assert s["attr:Kolor"] == "zielony"
    assert "price:allegro" not in rows["TEE-M"]
    assert Offer.objects.count() == 1 and ProductImage.objects.count() == 2 and Variant.objects.count() == 3
