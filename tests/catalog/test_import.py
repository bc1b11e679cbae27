"""Product import: real files (cp1250, BOM, XLSX with a formula, binary garbage, HTML with <script>), per-row
errors, fixing a row, apply (all or the valid rows), a preview gone stale, undo of the last bulk change."""

from __future__ import annotations

import io as stdio
from decimal import Decimal

import pytest
from django.db import IntegrityError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zaplecze.catalog import bulk
from zaplecze.catalog.io import FileProblem
from zaplecze.catalog.models import (
    BulkChange,
    Category,
    Manufacturer,
    Offer,
    PriceChange,
    Product,
    ProductImage,
    Variant,
)
from zaplecze.core.errors import Conflict, DomainError, IllegalTransition
from zaplecze.core.models import AuditEntry

pytestmark = pytest.mark.django_db

EAN = "5901234123457"
HEADER = "sku;product_name;variant_name;price;vat_rate;ean;category;brand;attr:size;attr:colour"


def csv(*lines: str, header: str = HEADER, encoding: str = "utf-8") -> bytes:
    return ("\n".join([header, *lines]) + "\n").encode(encoding)


def rows_by_number(b: BulkChange) -> dict[int, dict]:
    return {r["row"]: r for r in b.rows}


def error_columns(row: dict) -> list[str]:
    return [e["column"] for e in row["errors"]]


def xlsx(rows: list[list], formulas: dict[str, str] | None = None) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    for r in rows:
        sheet.append(r)
    for cell, formula in (formulas or {}).items():
        sheet[cell] = formula
    out = stdio.BytesIO()
    book.save(out)
    return out.getvalue()


# --- reading files -------------------------------------------------------------------------------------------


def test_cp1250_file_with_polish_letters_is_read_and_previewed_without_writing(admin_user):
    data = csv(
        "KOSZ-M;Koszulka żółta;M;129,99;23;5901234123457;Odzież > Koszulki;Łączka;M;żółty",
        "KOSZ-L;Koszulka żółta;L;129.99;23;;Odzież > Koszulki;Łączka;L;żółty",
        encoding="cp1250",
    )

    b = bulk.import_preview(data, "produkty.csv", admin_user)

    assert b.params["encoding"] == "cp1250"
    assert b.params["delimiter"] == ";"
    rows = rows_by_number(b)
    assert [rows[2]["action"], rows[3]["action"]] == ["create", "create"]
    assert rows[2]["changes"]["product_name"] == [None, "Koszulka żółta"]
    assert rows[2]["changes"]["category"] == [None, "Odzież > Koszulki"]
    assert rows[2]["changes"]["price"] == [None, "129.99"]
    assert rows[3]["changes"]["price"] == [None, "129.99"]
    assert rows[2]["changes"]["attr:colour"] == [None, "żółty"]
    assert b.summary["new_categories"] == ["Odzież > Koszulki"]
    assert b.summary["create"] == 2 and b.summary["error"] == 0
    assert Product.objects.count() == 0 and Category.objects.count() == 0


def test_utf8_with_bom_and_comma_delimiter(admin_user):
    data = b"\xef\xbb\xbf" + 'sku,product_name,price\nMUG-1,Kubek \u201eRano\u201d,"19,99"\n'.encode()

    b = bulk.import_preview(data, "x.csv", admin_user)

    assert (b.params["encoding"], b.params["delimiter"]) == ("utf-8-sig", ",")
    row = b.rows[0]
    assert row["sku"] == "MUG-1" and row["action"] == "create"
    assert row["changes"]["product_name"] == [None, "Kubek \u201eRano\u201d"]
    assert row["changes"]["price"] == [None, "19.99"]


def test_iso_8859_2_file_is_detected(admin_user):
    text = "sku;product_name;price\n" + "".join(
        f"S-{i};Świeże jabłka źródlane nr {i};5,50\n" for i in range(30)
    )
    data = text.encode("iso8859_2")

    b = bulk.import_preview(data, "x.csv", admin_user)

    assert b.params["encoding"] in ("iso8859_2", "cp1250")
    assert b.rows[0]["changes"]["product_name"] == [None, "Świeże jabłka źródlane nr 0"]


@pytest.mark.parametrize(
    ("data", "name", "fragment"),
    [
        (bytes(range(256)) * 40, "products.csv", "binary file"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "products.csv", "PDF"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "photo.csv", "image"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "old.xls", ".xls"),
        (b"PK\x03\x04garbage that is not a zip", "products.xlsx", "XLSX"),
        (b"   \n\n", "empty.csv", "empty"),
        (b"name;price\nKubek;10\n", "nosku.csv", "no sku column"),
        (b"sku;price\n", "header-only.csv", "no rows"),
    ],
)
def test_files_that_cannot_be_read_are_refused_with_a_clear_message(admin_user, data, name, fragment):
    with pytest.raises(FileProblem) as exc:
        bulk.import_preview(data, name, admin_user)
    assert fragment in exc.value.message
    assert exc.value.field == "file"
    assert BulkChange.objects.count() == 0


def test_too_large_file_is_refused(admin_user, monkeypatch):
    from zaplecze.catalog import io

    monkeypatch.setattr(io, "MAX_FILE_BYTES", 100)
    with pytest.raises(FileProblem, match="larger than"):
        bulk.import_preview(
            csv(*[f"S{i};P;1" for i in range(20)], header="sku;product_name;price"), "big.csv", admin_user
        )


def test_too_many_rows_is_refused(admin_user, monkeypatch):
    from zaplecze.catalog import io

    monkeypatch.setattr(io, "MAX_ROWS", 5)
    with pytest.raises(FileProblem, match="more than 5 rows"):
        bulk.import_preview(
            csv(*[f"S{i};P;1" for i in range(6)], header="sku;product_name;price"), "x.csv", admin_user
        )


def test_broken_rows_get_errors_naming_row_and_column_and_never_raise(admin_user, product_factory):
    product_factory(sku="OLD-1", price="10.00")
    data = csv(
        "A-1;Kubek;;12,50;23;;;;;",  # 2 fine
        "A-2;Kubek;;dwanaście;23;;;;;",  # 3 bad number
        "A-3;Kubek;;10;22;;;;;",  # 4 unknown VAT
        "A-4;Kubek;;10;23;5901234123458;;;;",  # 5 bad EAN check digit
        "A-1;Kubek;;10;23;;;;;",  # 6 duplicate SKU
        "A-5;Kubek;;10;23;;;;;;;extra;values",  # 7 too many values
        ";Kubek;;10;23;;;;;",  # 8 no SKU
        "A-6;;;10;23;;;;;",  # 9 new SKU without a product
        "A-7;Talerz;;-5;23;;;;;",  # 10 negative price
        "A-8;Talerz;;1,999;23;;;;;",  # 11 three decimals
        "A 9;Talerz;;10;23;;;;;",  # 12 space in SKU
        "A-10;Talerz;;;23;;;;;",  # 13 new SKU without a price
    )

    b = bulk.import_preview(data, "broken.csv", admin_user)

    rows = rows_by_number(b)
    assert rows[2]["action"] == "create" and rows[2]["errors"] == []
    assert (
        error_columns(rows[3]) == ["price"] and "dwanaście is not a number" in rows[3]["errors"][0]["message"]
    )
    assert error_columns(rows[4]) == ["vat_rate"] and "22" in rows[4]["errors"][0]["message"]
    assert error_columns(rows[5]) == ["ean"]
    assert error_columns(rows[6]) == ["sku"] and "also in row 2" in rows[6]["errors"][0]["message"]
    assert (
        error_columns(rows[7]) == [""]
        and "13 values but the header has 10 columns" in rows[7]["errors"][0]["message"]
    )
    assert error_columns(rows[8]) == ["sku"]
    assert error_columns(rows[9]) == ["product_name"]
    assert error_columns(rows[10]) == ["price"] and "negative" in rows[10]["errors"][0]["message"]
    assert error_columns(rows[11]) == ["price"] and "decimal places" in rows[11]["errors"][0]["message"]
    assert error_columns(rows[12]) == ["sku"]
    assert error_columns(rows[13]) == ["price"]
    assert all(r["action"] == "error" and r["changes"] == {} for n, r in rows.items() if n != 2)
    assert b.summary["error"] == 11 and b.summary["create"] == 1


def test_unknown_columns_are_listed_and_ignored(admin_user):
    b = bulk.import_preview(
        csv("X-1;Kubek;9,99;red", header="sku;product_name;price;kolorek"), "x.csv", admin_user
    )
    assert b.params["unknown_columns"] == ["kolorek"]
    assert b.rows[0]["action"] == "create"


def test_xlsx_formula_cell_is_an_error_naming_the_cell(admin_user):
    data = xlsx(
        [["sku", "product_name", "price", "ean"], ["X-1", "Kubek", 19.99, EAN], ["X-2", "Talerz", None, ""]],
        formulas={"C3": "=C2*2"},
    )

    b = bulk.import_preview(data, "products.xlsx", admin_user)

    assert b.params["format"] == "xlsx"
    rows = rows_by_number(b)
    assert rows[2]["action"] == "create"
    assert rows[2]["changes"]["price"] == [None, "19.99"]
    assert rows[2]["changes"]["ean"] == [None, EAN]
    assert error_columns(rows[3]) == ["price"]
    assert "C3: =C2*2" in rows[3]["errors"][0]["message"] and "formula" in rows[3]["errors"][0]["message"]


def test_xlsx_numbers_are_read_exactly(admin_user):
    data = xlsx(
        [["sku", "product_name", "price", "weight_kg", "ean"], ["X-1", "Kubek", 129.9, 0.125, 5901234123457]]
    )
    row = bulk.import_preview(data, "p.xlsx", admin_user).rows[0]
    assert row["changes"]["price"] == [None, "129.90"]
    assert row["changes"]["weight_kg"] == [None, "0.125"]
    assert row["changes"]["ean"] == [None, EAN]


def test_html_description_is_sanitised_and_the_removal_reported(admin_user):
    html = (
        '<p onclick="steal()">Ciepły <b>koc</b><script>alert(1)</script></p><a href="javascript:x()">link</a>'
    )
    data = csv(
        f'K-1;Koc;12;"{html.replace(chr(34), chr(34) * 2)}"', header="sku;product_name;price;description_html"
    )

    b = bulk.import_preview(data, "x.csv", admin_user)
    row = b.rows[0]
    new = row["changes"]["description_html"][1]
    assert "<script" not in new and "onclick" not in new and "javascript:" not in new and "alert" not in new
    assert "<b>koc</b>" in new
    assert len(row["warnings"]) == 1
    assert "<script>" in row["warnings"][0] and "onclick" in row["warnings"][0]

    bulk.import_apply(b, admin_user)
    stored = Product.objects.get().description_html
    assert stored == new


# --- grouping --------------------------------------------------------------------------------------------------


def test_rows_with_the_same_product_name_are_variants_of_one_product(admin_user):
    b = bulk.import_preview(
        csv("T-S;Tee;S;50;23;;;;S;red", "T-M;Tee;M;50;23;;;;M;red", "MUG;Mug;;20;23;;;;;"),
        "x.csv",
        admin_user,
    )
    bulk.import_apply(b, admin_user)
    tee = Product.objects.get(name="Tee")
    assert sorted(tee.variants.values_list("sku", flat=True)) == ["T-M", "T-S"]
    assert Variant.objects.get(sku="T-M").attributes == {"size": "M", "colour": "red"}
    assert Product.objects.count() == 2


def test_product_key_with_an_existing_sku_adds_a_variant_to_that_product(admin_user, product_factory):
    existing = product_factory(sku="TEE-S", name="Tee")
    b = bulk.import_preview(
        csv("TEE-S;TEE-M;;M;55,00", header="product_key;sku;product_name;variant_name;price"),
        "x.csv",
        admin_user,
    )
    assert b.rows[0]["action"] == "create"
    bulk.import_apply(b, admin_user)
    assert Variant.objects.get(sku="TEE-M").product_id == existing.product_id


def test_contradicting_product_values_in_one_product_are_an_error(admin_user):
    b = bulk.import_preview(
        csv(
            "G1;T-S;Tee;Brand A;50",
            "G1;T-M;Tee;Brand B;50",
            header="product_key;sku;product_name;brand;price",
        ),
        "x.csv",
        admin_user,
    )
    rows = rows_by_number(b)
    assert rows[2]["action"] == "create"
    assert error_columns(rows[3]) == ["brand"] and "differs from row 2" in rows[3]["errors"][0]["message"]


def test_moving_a_variant_to_another_product_is_refused(admin_user, product_factory):
    product_factory(sku="A-1", name="A")
    product_factory(sku="B-1", name="B")
    b = bulk.import_preview(csv("A-1;B-1;", header="product_key;sku;price"), "x.csv", admin_user)
    assert error_columns(b.rows[0]) == ["product_key"]


# --- update semantics ------------------------------------------------------------------------------------------


def test_empty_cell_leaves_a_value_and_dash_clears_it(admin_user, product_factory):
    v = product_factory(sku="M-1", price="10.00", ean=EAN)
    Variant.objects.filter(pk=v.pk).update(mpn="MPN-1", cost_price=Decimal("4.00"))
    b = bulk.import_preview(csv("M-1;;-;;-", header="sku;ean;mpn;price;cost_price"), "x.csv", admin_user)
    row = b.rows[0]
    assert row["action"] == "update"
    assert row["changes"] == {"mpn": ["MPN-1", ""], "cost_price": ["4.00", None]}
    bulk.import_apply(b, admin_user)
    v.refresh_from_db()
    assert (v.ean, v.mpn, v.cost_price, v.price) == (EAN, "", None, Decimal("10.00"))


def test_unchanged_rows_and_nothing_to_apply(admin_user, product_factory):
    product_factory(sku="M-1", price="10.00")
    b = bulk.import_preview(csv("M-1;10,00", header="sku;price"), "x.csv", admin_user)
    assert b.rows[0]["action"] == "unchanged"
    with pytest.raises(DomainError, match="Nothing to apply"):
        bulk.import_apply(b, admin_user)


def test_apply_updates_through_price_history_and_audit(admin_user, product_factory):
    v = product_factory(sku="M-1", price="10.00")
    history_before = PriceChange.objects.filter(variant=v).count()
    b = bulk.import_preview(
        csv(
            "M-1;12,00;8;Kuchnia > Kubki;Acme;13,50",
            header="sku;price;vat_rate;category;manufacturer;price:allegro",
        ),
        "x.csv",
        admin_user,
    )
    assert b.rows[0]["changes"]["price"] == ["10.00", "12.00"]
    assert b.summary["new_manufacturers"] == ["Acme"]

    bulk.import_apply(b, admin_user)

    v.refresh_from_db()
    assert v.price == Decimal("12.00") and v.vat_rate == "8"
    assert v.product.category.name == "Kubki" and v.product.category.parent.name == "Kuchnia"
    assert v.product.manufacturer.name == "Acme"
    assert Offer.objects.get(variant=v, channel="allegro").price == Decimal("13.50")
    changes = PriceChange.objects.filter(variant=v, bulk_change=b).order_by("channel")
    assert [(c.channel, c.price, c.source) for c in changes] == [
        ("", Decimal("12.00"), "import"),
        ("allegro", Decimal("13.50"), "import"),
    ]
    assert PriceChange.objects.filter(variant=v).count() == history_before + 2
    entry = AuditEntry.objects.get(object_type="catalog.variant", object_id=str(v.pk), action="updated")
    assert entry.changes["price"] == ["10.00", "12.00"] and entry.actor == admin_user
    assert AuditEntry.objects.filter(
        object_type="catalog.bulkchange", object_id=str(b.pk), action="applied"
    ).exists()


def test_image_urls_are_stored_as_product_images(admin_user):
    b = bulk.import_preview(
        csv(
            "I-1;Kubek;10;https://cdn.example/a.jpg | https://cdn.example/b.jpg",
            header="sku;product_name;price;image_urls",
        ),
        "x.csv",
        admin_user,
    )
    bulk.import_apply(b, admin_user)
    assert list(ProductImage.objects.order_by("position").values_list("source_url", "position")) == [
        ("https://cdn.example/a.jpg", 0),
        ("https://cdn.example/b.jpg", 1),
    ]


def test_bad_image_url_is_a_row_error(admin_user):
    b = bulk.import_preview(
        csv("I-1;Kubek;10;ftp://x/a.jpg", header="sku;product_name;price;image_urls"), "x.csv", admin_user
    )
    assert error_columns(b.rows[0]) == ["image_urls"]


# --- fixing rows, applying -----------------------------------------------------------------------------------


def test_fixing_a_row_revalidates_it_and_rechecks_duplicates(admin_user):
    b = bulk.import_preview(
        csv("F-1;Kubek;;abc;23", "F-1;Talerz;;5;23", header="sku;product_name;variant_name;price;vat_rate"),
        "x.csv",
        admin_user,
    )
    rows = rows_by_number(b)
    assert error_columns(rows[2]) == ["price"] and error_columns(rows[3]) == ["sku"]

    row = bulk.import_fix_row(b, 2, {"price": "12,00"}, admin_user)
    assert row["action"] == "create" and row["changes"]["price"] == [None, "12.00"]
    row3 = bulk.import_fix_row(b, 3, {"sku": "F-2"}, admin_user)
    assert row3["action"] == "create"
    b.refresh_from_db()
    assert (b.summary["create"], b.summary["error"]) == (2, 0)
    assert rows_by_number(b)[2]["values"]["price"] == "12,00"

    with pytest.raises(DomainError, match="no column"):
        bulk.import_fix_row(b, 2, {"secret": "x"}, admin_user)
    bulk.import_apply(b, admin_user)
    assert sorted(Variant.objects.values_list("sku", flat=True)) == ["F-1", "F-2"]


def test_fixing_a_formula_cell_clears_the_formula_error(admin_user):
    data = xlsx([["sku", "product_name", "price"], ["X-1", "Kubek", None]], formulas={"C2": "=1+1"})
    b = bulk.import_preview(data, "p.xlsx", admin_user)
    assert error_columns(b.rows[0]) == ["price"]
    assert bulk.import_fix_row(b, 2, {"price": "2"}, admin_user)["action"] == "create"


def test_apply_refuses_while_errors_remain_unless_skipping_them(admin_user):
    b = bulk.import_preview(
        csv("G-1;Kubek;9", "G-2;Talerz;x", header="sku;product_name;price"), "x.csv", admin_user
    )
    with pytest.raises(DomainError) as exc:
        bulk.import_apply(b, admin_user)
    assert exc.value.code == "rows_have_errors" and "row 3" in exc.value.message
    assert Variant.objects.count() == 0

    b = bulk.import_apply(b, admin_user, skip_errors=True)
    assert b.state == BulkChange.State.APPLIED
    assert list(Variant.objects.values_list("sku", flat=True)) == ["G-1"]
    assert b.summary["skipped"] == 1
    with pytest.raises(IllegalTransition):
        bulk.import_apply(b, admin_user)


def test_apply_after_the_same_sku_was_created_meanwhile_writes_nothing(admin_user, product_factory):
    b = bulk.import_preview(
        csv("C-1;Kubek;9", "C-2;Talerz;9", header="sku;product_name;price"), "x.csv", admin_user
    )
    product_factory(sku="C-2", price="5.00", name="Someone else's")

    with pytest.raises(Conflict) as exc:
        bulk.import_apply(b, admin_user)

    assert exc.value.code == "stale_preview" and "(rows 3)" in exc.value.message
    assert sorted(Variant.objects.values_list("sku", flat=True)) == ["C-2"]
    assert Product.objects.count() == 1
    b.refresh_from_db()
    assert b.state == BulkChange.State.PREVIEW
    assert rows_by_number(b)[3]["action"] == "update"  # the preview shows the catalog as it is now
    assert rows_by_number(b)[3]["changes"]["price"] == ["5.00", "9.00"]


def test_a_unique_clash_during_apply_rolls_everything_back(admin_user, monkeypatch):
    b = bulk.import_preview(
        csv("R-1;Kubek;9", "R-2;Talerz;9", header="sku;product_name;price"), "x.csv", admin_user
    )

    def racing_bulk_create(objs, **kwargs):
        raise IntegrityError("UNIQUE constraint failed: catalog_variant.sku")

    monkeypatch.setattr(Variant.objects, "bulk_create", racing_bulk_create)
    with pytest.raises(Conflict):
        bulk.import_apply(b, admin_user)
    assert Variant.objects.count() == 0 and Product.objects.count() == 0 and PriceChange.objects.count() == 0
    b.refresh_from_db()
    assert b.state == BulkChange.State.PREVIEW


# --- undo ------------------------------------------------------------------------------------------------------


def test_undo_restores_fields_appends_price_history_and_deletes_what_was_created(admin_user, product_factory):
    v = product_factory(sku="U-1", price="10.00")
    product = v.product
    Product.objects.filter(pk=product.pk).update(brand="Old")
    b = bulk.import_preview(
        csv(
            "U-1;;20,00;New;;x",
            "U-2;Nowy;30;;Dom > Kuchnia;",
            header="sku;product_name;price;brand;category;mpn",
        ),
        "x.csv",
        admin_user,
    )
    bulk.import_apply(b, admin_user)
    v.refresh_from_db()
    assert (v.price, v.mpn, v.product.brand) == (Decimal("20.00"), "x", "New")
    history = list(PriceChange.objects.filter(variant=v).values_list("price", flat=True))

    b = bulk.import_undo(b, admin_user)

    v.refresh_from_db()
    assert (v.price, v.mpn, v.product.brand) == (Decimal("10.00"), "", "Old")
    after = list(PriceChange.objects.filter(variant=v).order_by("effective_from", "id"))
    assert [c.price for c in after[: len(history)]] == history  # nothing deleted from the history
    assert after[-1].price == Decimal("10.00") and after[-1].source == "import-undo"
    assert not Variant.objects.filter(sku="U-2").exists()
    assert not Product.objects.filter(name="Nowy").exists()
    assert not Category.objects.exists()
    assert b.state == BulkChange.State.UNDONE
    with pytest.raises(IllegalTransition):
        bulk.import_undo(b, admin_user)


def test_undo_archives_created_variants_that_are_referenced(admin_user, ingest):
    b = bulk.import_preview(csv("REF-1;Kubek;9", header="sku;product_name;price"), "x.csv", admin_user)
    bulk.import_apply(b, admin_user)
    from tests.conftest import order_data

    data = order_data(external_id="ref-1")
    data["lines"][0]["sku"] = "REF-1"
    ingest(**{"external_id": "ref-1", "lines": data["lines"]})

    b = bulk.import_undo(b, admin_user)

    v = Variant.objects.get(sku="REF-1")
    assert v.active is False
    assert v.product.status == Product.Status.ARCHIVED
    assert b.summary["undo"]["archived"] == ["REF-1"]
    assert "archived instead of deleted" in b.summary["undo"]["messages"][0]


def test_only_the_last_applied_bulk_change_can_be_undone(admin_user):
    first = bulk.import_apply(
        bulk.import_preview(csv("L-1;A;1", header="sku;product_name;price"), "a.csv", admin_user), admin_user
    )
    second = bulk.import_apply(
        bulk.import_preview(csv("L-2;B;1", header="sku;product_name;price"), "b.csv", admin_user), admin_user
    )

    with pytest.raises(IllegalTransition) as exc:
        bulk.bulk_undo(first, admin_user)
    assert f"#{second.pk}" in exc.value.message and exc.value.code == "not_last"

    bulk.bulk_undo(second, admin_user)
    bulk.bulk_undo(first, admin_user)
    assert Variant.objects.count() == 0


def test_undo_restores_removed_images_and_manufacturer(admin_user):
    b1 = bulk.import_preview(
        csv(
            "P-1;Koc;10;https://x.example/1.jpg;Acme", header="sku;product_name;price;image_urls;manufacturer"
        ),
        "a.csv",
        admin_user,
    )
    bulk.import_apply(b1, admin_user)
    b2 = bulk.import_preview(
        csv("P-1;https://x.example/2.jpg;-", header="sku;image_urls;manufacturer"), "b.csv", admin_user
    )
    assert b2.rows[0]["changes"] == {
        "image_urls": ["https://x.example/1.jpg", "https://x.example/2.jpg"],
        "manufacturer": ["Acme", ""],
    }
    bulk.import_apply(b2, admin_user)
    assert list(ProductImage.objects.values_list("source_url", flat=True)) == ["https://x.example/2.jpg"]

    bulk.import_undo(b2, admin_user)

    assert list(ProductImage.objects.values_list("source_url", flat=True)) == ["https://x.example/1.jpg"]
    assert Product.objects.get().manufacturer == Manufacturer.objects.get(name="Acme")


# --- any input: a preview or a clear refusal, never a crash ----------------------------------------------------

CELLS = st.one_of(
    st.text(max_size=20),
    st.sampled_from(
        ["", "-", "'=1", "=A1", "129,99", "1.234,56", "zw", "23%", "1e400", "NaN", "\x00", "yes", "a > > b"]
    ),
)


@settings(
    max_examples=40,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    header=st.lists(
        st.sampled_from(
            [
                "sku",
                "product_name",
                "price",
                "ean",
                "vat_rate",
                "category",
                "attr:x",
                "price:shop",
                "image_urls",
                "status",
                "perishable",
                "weight_kg",
                "x",
            ]
        ),
        min_size=1,
        max_size=6,
    ),
    rows=st.lists(st.lists(CELLS, max_size=7), max_size=4),
    encoding=st.sampled_from(["utf-8", "cp1250"]),
)
def test_arbitrary_cells_give_a_preview_or_a_file_error(admin_user, header, rows, encoding):
    import csv as csvmod

    out = stdio.StringIO()
    writer = csvmod.writer(out, delimiter=";")
    writer.writerow(header)
    for r in rows:
        writer.writerow(r)
    data = out.getvalue().encode(encoding, errors="replace")
    try:
        b = bulk.import_preview(data, "fuzz.csv", admin_user)
    except FileProblem as exc:
        assert exc.message
        return
    assert len(b.rows) == b.summary["rows"]
    for r in b.rows:
        assert r["action"] in ("create", "update", "unchanged", "error")
        assert (r["action"] == "error") == bool(r["errors"])


def test_undo_is_refused_when_the_import_s_values_were_edited_since(admin_user, product_factory):
    from zaplecze.catalog.prices import price_set

    v = product_factory(sku="E-1", price="10.00")
    b = bulk.import_apply(
        bulk.import_preview(csv("E-1;12,00;x", header="sku;price;mpn"), "a.csv", admin_user), admin_user
    )
    price_set(Variant.objects.get(pk=v.pk), price=Decimal("15.00"), source="manual", actor=admin_user)

    with pytest.raises(Conflict) as exc:
        bulk.import_undo(b, admin_user)

    assert exc.value.code == "changed_since" and "E-1" in exc.value.message
    v.refresh_from_db()
    assert (v.price, v.mpn) == (Decimal("15.00"), "x")
    b.refresh_from_db()
    assert b.state == BulkChange.State.APPLIED
