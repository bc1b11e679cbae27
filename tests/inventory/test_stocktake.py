"""Stocktakes: snapshot at start, counts typed/scanned or imported from a count sheet (CSV/XLSX) with per-row
errors and nothing applied on error, review and posting of the differences as adjustments."""

from __future__ import annotations

from decimal import Decimal

import pytest

from zaplecze.core.errors import DomainError, IllegalTransition
from zaplecze.inventory import selectors, services
from zaplecze.inventory.models import StockMovement, Stocktake, StocktakeLine
from zaplecze.inventory.services import stock_adjust, stock_reserve

from .conftest import csv_bytes, level, xlsx_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture
def counting(product_factory, main_wh):
    a = product_factory(sku="KUB-01", stock=10, ean="5901234123457")
    b = product_factory(sku="KUB-02", stock=4)
    c = product_factory(sku="TAL-01", stock=0)
    st = services.stocktake_create(warehouse=main_wh)
    services.stocktake_transition(stocktake_id=st.pk, to="counting")
    return st, a, b, c


def _errors(report):
    return [(e["row"], e["column"], e["message"]) for e in report.errors]


def test_starting_takes_a_snapshot_of_every_level_in_scope(counting):
    st, a, b, c = counting

    lines = {
        ln.variant.sku: (ln.snapshot, ln.expected, ln.counted) for ln in st.lines.select_related("variant")
    }

    assert lines == {"KUB-01": (10, 10, None), "KUB-02": (4, 4, None)}  # no level for TAL-01 yet
    assert Stocktake.objects.get(pk=st.pk).number == f"ST-{st.pk:05d}"


def test_scope_by_bin_only_lists_products_in_that_bin(product_factory, main_wh):
    a = product_factory(sku="A-1", stock=3)
    product_factory(sku="B-1", stock=3)
    shelf = services.location_create(warehouse=main_wh, code="a-01")
    services.stock_level_set_location(variant=a, warehouse=main_wh, location=shelf)

    st = services.stocktake_create(warehouse=main_wh, location=shelf)
    services.stocktake_transition(stocktake_id=st.pk, to="counting")

    assert list(st.lines.values_list("variant__sku", flat=True)) == ["A-1"]
    assert shelf.code == "A-01"


def test_scans_add_up_and_set_replaces(counting):
    st, a, *_ = counting

    services.stocktake_count(stocktake_id=st.pk, code="5901234123457", quantity=1)  # by EAN
    services.stocktake_count(stocktake_id=st.pk, code="KUB-01", quantity=2)
    assert StocktakeLine.objects.get(stocktake=st, variant=a).counted == 3

    services.stocktake_count(stocktake_id=st.pk, code="KUB-01", quantity=7, mode="set")
    assert StocktakeLine.objects.get(stocktake=st, variant=a).counted == 7


def test_an_unknown_code_is_refused(counting):
    st, *_ = counting
    with pytest.raises(DomainError) as exc:
        services.stocktake_count(stocktake_id=st.pk, code="NOPE", quantity=1)
    assert exc.value.field == "code"
    assert "NOPE" in exc.value.message


def test_counts_need_the_counting_status(product_factory, main_wh):
    product_factory(sku="KUB-01", stock=1)
    st = services.stocktake_create(warehouse=main_wh)
    with pytest.raises(IllegalTransition):
        services.stocktake_count(stocktake_id=st.pk, code="KUB-01", quantity=1)


def test_import_with_bad_rows_reports_each_and_records_nothing(counting):
    st, *_ = counting
    data = csv_bytes(
        """
sku;quantity;location
KUB-01;8;
NOPE-9;1;
KUB-02;-1;
KUB-02;abc;
KUB-02;2.5;
KUB-01;3;
TAL-01;2;Z-99
"""
    )

    report = services.stocktake_import_file(stocktake_id=st.pk, data=data, filename="count.csv")

    assert _errors(report) == [
        (3, "sku", "unknown SKU NOPE-9"),
        (4, "quantity", "must not be negative (-1)"),
        (5, "quantity", "'abc' is not a number"),
        (6, "quantity", "'2.5' is not a whole number"),
        (7, "sku", "KUB-01 is already on row 2 (one row per product)"),
        (8, "location", "no bin Z-99 in warehouse MAIN"),
    ]
    assert report.applied is False
    assert StocktakeLine.objects.filter(stocktake=st, counted__isnull=False).count() == 0


def test_import_with_wrong_columns_says_what_it_found(counting):
    st, *_ = counting
    report = services.stocktake_import_file(
        stocktake_id=st.pk, data=csv_bytes("product,amount\nKUB-01,3"), filename="x.csv"
    )
    assert len(report.errors) == 1
    assert report.errors[0]["row"] == 0
    assert "no sku or ean column (columns found: product, amount)" in report.errors[0]["message"]

    report = services.stocktake_import_file(stocktake_id=st.pk, data=csv_bytes("sku,amount\nKUB-01,3"))
    assert "no quantity column" in report.errors[0]["message"]


def test_import_csv_records_counts_and_skips_empty_quantities(counting, main_wh):
    st, a, b, c = counting
    services.location_create(warehouse=main_wh, code="B-02")
    data = csv_bytes(
        """
sku,ean,name,location,quantity
KUB-01,,Kubek,,9
,5901234123457,,,
KUB-02,,,b-02,4
TAL-01,,,,2
"""
    )

    report = services.stocktake_import_file(stocktake_id=st.pk, data=data, filename="count.csv")

    assert report.errors == []
    assert (report.changed, report.skipped) == (3, 1)
    lines = {ln.variant.sku: (ln.expected, ln.counted) for ln in st.lines.select_related("variant")}
    assert lines == {"KUB-01": (10, 9), "KUB-02": (4, 4), "TAL-01": (0, 2)}
    assert StocktakeLine.objects.get(stocktake=st, variant=b).location.code == "B-02"


def test_import_xlsx_with_numbers_as_cells_and_bad_rows(counting):
    st, a, *_ = counting
    bad = xlsx_bytes([["EAN", "Quantity"], [5901234123457, 4], ["5900000000000", 1], [5901234123457, "x"]])

    report = services.stocktake_import_file(stocktake_id=st.pk, data=bad, filename="count.xlsx")

    assert _errors(report) == [
        (3, "ean", "unknown EAN 5900000000000"),
        (4, "quantity", "'x' is not a number"),
    ]
    assert StocktakeLine.objects.filter(counted__isnull=False).count() == 0

    good = xlsx_bytes([["EAN", "Quantity"], [5901234123457, 4.0]])
    report = services.stocktake_import_file(stocktake_id=st.pk, data=good, filename="count.xlsx")
    assert report.errors == []
    assert StocktakeLine.objects.get(stocktake=st, variant=a).counted == 4


def test_a_file_that_is_not_a_sheet_is_refused(counting):
    st, *_ = counting
    report = services.stocktake_import_file(stocktake_id=st.pk, data=b"%PDF-1.4 xxx", filename="a.pdf")
    assert report.errors[0]["message"] == "This is not a CSV or XLSX file."
    report = services.stocktake_import_file(stocktake_id=st.pk, data=b"PK\x03\x04garbage", filename="a.xlsx")
    assert report.errors[0]["message"].startswith("The XLSX file cannot be read")


def test_posting_writes_the_differences_as_adjustments(counting, admin_user):
    st, a, b, c = counting
    a.cost_price = Decimal("12.50")
    a.save(update_fields=["cost_price"])
    services.stocktake_count(stocktake_id=st.pk, code="KUB-01", quantity=7, mode="set")  # 3 missing
    services.stocktake_count(stocktake_id=st.pk, code="KUB-02", quantity=4, mode="set")  # as expected
    services.stocktake_count(stocktake_id=st.pk, code="TAL-01", quantity=2, mode="set")  # 2 found
    services.stocktake_transition(stocktake_id=st.pk, to="review")

    summary = selectors.stocktake_summary(st)
    assert (summary.differences, summary.units_gained, summary.units_lost) == (2, 2, 3)
    assert summary.value_lost == Decimal("37.50")
    assert summary.without_cost == 1

    services.stocktake_post(stocktake_id=st.pk, actor=admin_user)

    assert level(a, st.warehouse) == (7, 0)
    assert level(b, st.warehouse) == (4, 0)
    assert level(c, st.warehouse) == (2, 0)
    moves = StockMovement.objects.filter(reference=st.number).order_by("variant__sku")
    assert [(m.variant.sku, m.kind, m.quantity, m.reason, m.actor) for m in moves] == [
        ("KUB-01", "adjustment", -3, f"stocktake {st.number}", admin_user),
        ("TAL-01", "adjustment", 2, f"stocktake {st.number}", admin_user),
    ]
    st.refresh_from_db()
    assert (st.status, st.posted_by) == ("posted", admin_user)
    with pytest.raises(IllegalTransition):
        services.stocktake_post(stocktake_id=st.pk, actor=admin_user)  # never twice
    assert StockMovement.objects.filter(reference=st.number).count() == 2


def test_stock_that_moved_after_the_count_is_kept(counting, main_wh):
    st, a, *_ = counting
    services.stocktake_count(stocktake_id=st.pk, code="KUB-01", quantity=9, mode="set")  # 1 missing
    stock_adjust(variant=a, warehouse=main_wh, delta=5, kind="receipt", reason="delivery after the count")
    services.stocktake_transition(stocktake_id=st.pk, to="review")

    services.stocktake_post(stocktake_id=st.pk)

    assert level(a, main_wh) == (14, 0)  # 10 + 5 received - 1 missing


def test_stock_that_moved_before_the_count_is_not_counted_twice(counting, main_wh):
    st, a, *_ = counting
    stock_adjust(variant=a, warehouse=main_wh, delta=-4, reason="sold after the start, before the count")
    services.stocktake_count(stocktake_id=st.pk, code="KUB-01", quantity=6, mode="set")
    services.stocktake_transition(stocktake_id=st.pk, to="review")

    services.stocktake_post(stocktake_id=st.pk)

    line = StocktakeLine.objects.get(stocktake=st, variant=a)
    assert (line.snapshot, line.expected, line.posted_delta) == (10, 6, 0)
    assert level(a, main_wh) == (6, 0)


def test_uncounted_lines_change_nothing_unless_asked(counting, main_wh):
    st, a, b, _ = counting
    services.stocktake_transition(stocktake_id=st.pk, to="review")
    services.stocktake_transition(stocktake_id=st.pk, to="counting")
    services.stocktake_count(stocktake_id=st.pk, code="KUB-01", quantity=10, mode="set")
    services.stocktake_transition(stocktake_id=st.pk, to="review")

    services.stocktake_post(stocktake_id=st.pk, uncounted_as_zero=True)

    assert level(a, main_wh) == (10, 0)
    assert level(b, main_wh) == (0, 0)


def test_posting_below_reserved_is_refused_whole(counting, main_wh):
    st, a, b, _ = counting
    stock_reserve(variant_id=b.pk, quantity=3, reference="order-line:1")
    services.stocktake_count(stocktake_id=st.pk, code="KUB-01", quantity=8, mode="set")
    services.stocktake_count(stocktake_id=st.pk, code="KUB-02", quantity=1, mode="set")
    services.stocktake_transition(stocktake_id=st.pk, to="review")

    with pytest.raises(DomainError) as exc:
        services.stocktake_post(stocktake_id=st.pk)

    assert exc.value.code == "insufficient_stock"
    assert "KUB-02: the count removes 3 but on hand is 4 with 3 reserved" in exc.value.message
    assert level(a, main_wh) == (10, 0)  # nothing posted, not even the line that was fine
    assert Stocktake.objects.get(pk=st.pk).status == "review"


def test_illegal_transitions_are_refused(counting):
    st, *_ = counting
    with pytest.raises(IllegalTransition):
        services.stocktake_transition(stocktake_id=st.pk, to="draft")
    services.stocktake_transition(stocktake_id=st.pk, to="cancelled")
    with pytest.raises(IllegalTransition):
        services.stocktake_transition(stocktake_id=st.pk, to="counting")


def test_the_blank_count_sheet_reads_back_as_a_count_sheet(counting):
    from zaplecze.inventory.sheets import count_sheet_csv, count_sheet_xlsx, parse_sheet

    st, *_ = counting
    rows = selectors.count_sheet_rows(st)
    for data, name in ((count_sheet_csv(rows), "s.csv"), (count_sheet_xlsx(rows), "s.xlsx")):
        sheet = parse_sheet(data, name)
        assert sheet.errors == []
        assert [(r.code, r.quantity) for r in sheet.rows] == [("KUB-01", None), ("KUB-02", None)]


def test_a_wrong_scan_can_be_taken_back_but_not_below_zero(counting):
    st, a, *_ = counting
    services.stocktake_count(stocktake_id=st.pk, code="KUB-01", quantity=2)
    services.stocktake_count(stocktake_id=st.pk, code="KUB-01", quantity=-1)
    assert StocktakeLine.objects.get(stocktake=st, variant=a).counted == 1

    with pytest.raises(DomainError) as exc:
        services.stocktake_count(stocktake_id=st.pk, code="KUB-01", quantity=-2)

    assert exc.value.message == "The count of KUB-01 cannot go below 0."
    assert StocktakeLine.objects.get(stocktake=st, variant=a).counted == 1
