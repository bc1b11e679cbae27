"""Bad input: each problem is reported with its physical line and column, fails only its order, and the
import goes on."""

import io
import tracemalloc

import pytest

from zaplecze.core.businesstime import tz
from zaplecze.inventory.models import StockLevel
from zaplecze.orders.csvio.parse import OrderParser, ZapleczeFormat, known_columns_score
from zaplecze.orders.csvio.reader import ImportFileError, open_csv
from zaplecze.orders.importing import import_orders
from zaplecze.orders.models import Order

pytestmark = pytest.mark.django_db
HEADER = (
    "channel,external_id,placed_at,customer_email,line_no,sku,ean,quantity,unit_price_gross,status,stage\n"
)
T = "2026-03-02T10:00:00+01:00"


def _csv(tmp_path, *rows: str, header: str = HEADER, encoding: str = "utf-8"):
    path = tmp_path / "orders.csv"
    path.write_bytes((header + "".join(r + "\n" for r in rows)).encode(encoding))
    return path


def test_non_numeric_price_fails_only_its_order_and_names_line_and_column(tmp_path, product_factory):
    product_factory(sku="A", stock=10)
    path = _csv(
        tmp_path,
        f"shop,1,{T},a@example.com,1,A,,1,10.00,,",
        f"shop,1,{T},a@example.com,2,A,,1,abc,,",
        f"shop,2,{T},b@example.com,1,A,,2,10.00,,",
    )

    report = import_orders(path=path)

    assert report.as_json() == {
        "created": 1,
        "updated": 0,
        "unchanged": 0,
        "failed": 1,
        "errors": [{"line": 3, "field": "unit_price_gross", "message": "'abc' is not a number"}],
    }
    assert list(Order.objects.values_list("external_id", flat=True)) == ["2"]
    assert StockLevel.objects.get().reserved == 2  # nothing of order 1 was written


@pytest.mark.parametrize(
    ("quantity", "message"),
    [
        ("0", "the quantity must be greater than 0 (got 0)"),
        ("-3", "the quantity must be greater than 0 (got -3)"),
        ("1.5", "'1.5' is not a whole number"),
    ],
)
def test_zero_negative_and_fractional_quantities_are_refused(tmp_path, quantity, message):
    path = _csv(tmp_path, f"shop,1,{T},a@example.com,1,A,,{quantity},10.00,,", f"shop,2,{T},,1,A,,1,5,,")
    report = import_orders(path=path)
    assert (report.created, report.failed) == (1, 1)
    assert report.errors == [{"line": 2, "field": "quantity", "message": message}]


def test_several_problems_of_one_order_are_all_reported(tmp_path):
    path = _csv(tmp_path, "shop,1,yesterday,a@example.com,1,A,,0,x,,")
    report = import_orders(path=path)
    assert report.errors == [
        {
            "line": 2,
            "field": "placed_at",
            "message": "'yesterday' is not a date and time; use e.g. "
            "2026-05-01T10:00:00+02:00, 2026-05-01 10:00:00 or 01.05.2026 10:00",
        },
        {"line": 2, "field": "quantity", "message": "the quantity must be greater than 0 (got 0)"},
        {"line": 2, "field": "unit_price_gross", "message": "'x' is not a number"},
    ]


def test_schema_errors_name_the_row_of_the_line_and_the_column(tmp_path):
    path = _csv(
        tmp_path,
        f"shop,1,{T},not-an-email,1,A,,1,10.00,,",
        f"shop,2,{T},b@example.com,1,A,,1,10.00,,",
        f"shop,2,{T},b@example.com,2,B,5901234123458,1,10.00,,",
    )
    report = import_orders(path=path)
    assert report.failed == 2
    assert report.errors == [
        {"line": 2, "field": "customer_email", "message": "'not-an-email' is not an e-mail address"},
        {"line": 4, "field": "ean", "message": "'5901234123458' is not a valid EAN (check digit)"},
    ]


def test_intake_refusals_fail_only_their_order(tmp_path):
    path = _csv(
        tmp_path,
        f"nowhere,1,{T},,1,A,,1,10.00,,",
        f"shop,2,{T},,1,A,,1,10.00,no-such-status,",
        f"shop,3,{T},,1,A,,1,10.00,shipped,new",
        f"shop,4,{T},,1,A,,1,10.00,,",
    )
    report = import_orders(path=path)
    assert (report.created, report.failed) == (1, 3)
    assert report.errors == [
        {"line": 2, "field": "channel", "message": "Unknown channel 'nowhere'"},
        {"line": 3, "field": "status", "message": "Unknown order status 'no-such-status'"},
        {"line": 4, "field": "stage", "message": "Status 'shipped' belongs to stage 'shipped', not 'new'"},
    ]
    assert list(Order.objects.values_list("external_id", flat=True)) == ["4"]


def test_duplicated_rows_are_counted_not_doubled(tmp_path, product_factory):
    product_factory(sku="A", stock=10)
    row = f"shop,1,{T},a@example.com,1,A,,3,10.00,,"
    path = _csv(tmp_path, row, row, f"shop,1,{T},a@example.com,2,A,,1,10.00,,", row)

    report = import_orders(path=path)

    assert (report.created, report.duplicates, report.rows, report.failed) == (1, 2, 4, 0)
    order = Order.objects.get()
    assert list(order.lines.values_list("quantity", flat=True)) == [3, 1]
    assert StockLevel.objects.get().reserved == 4


def test_same_line_number_with_different_values_fails_the_order(tmp_path):
    path = _csv(tmp_path, f"shop,1,{T},,1,A,,1,10.00,,", f"shop,1,{T},,1,A,,2,10.00,,")
    report = import_orders(path=path)
    assert report.errors == [
        {"line": 3, "field": "line_no", "message": "line 1 of this order appears twice with different values"}
    ]
    assert Order.objects.count() == 0


def test_an_order_repeated_later_in_the_file_is_one_order(tmp_path):
    a = f"shop,1,{T},,1,A,,1,10.00,,"
    path = _csv(tmp_path, a, f"shop,2,{T},,1,A,,1,10.00,,", a)
    report = import_orders(path=path)
    assert report.as_json() == {"created": 2, "updated": 0, "unchanged": 1, "failed": 0, "errors": []}
    assert Order.objects.count() == 2


def test_rows_without_the_order_id_are_reported(tmp_path):
    path = _csv(tmp_path, f"shop,,{T},,1,A,,1,10.00,,", f"shop,2,{T},,1,A,,1,10.00,,")
    report = import_orders(path=path)
    assert (report.created, report.failed) == (1, 1)
    assert report.errors == [
        {"line": 2, "field": "external_id", "message": "empty: every row needs the order's id"}
    ]


def test_a_row_written_with_another_delimiter_is_reported_and_the_rest_imported(tmp_path):
    path = _csv(tmp_path, f"shop;1;{T};;1;A;;1;10.00;;", f"shop,2,{T},,1,A,,1,10.00,,")
    report = import_orders(path=path)
    assert (report.created, report.failed) == (1, 1)
    assert report.errors[0]["line"] == 2
    assert "another delimiter" in report.errors[0]["message"]


def test_a_file_in_an_unknown_delimiter_is_refused_with_a_hint(tmp_path):
    path = _csv(tmp_path, f"shop:1:{T}:a:1:A::1:10:", header=HEADER.replace(",", ":"))
    with pytest.raises(ImportFileError, match="single column: is the delimiter something other"):
        import_orders(path=path)


def test_utf8_bom_semicolons_decimal_comma_and_several_date_formats(tmp_path):
    header = "\ufeffchannel;external_id;placed_at;sku;quantity;unit_price_gross;shipping_cost\n"
    rows = [
        "shop;1;2026-03-02T10:00:00+01:00;A;1;1 234,50;0",
        "shop;2;2026-03-02 10:00:00;A;1;1,5;0,99",
        "shop;3;02.03.2026 10:00;A;2;3;0",
        "shop;4;2026-03-02 04:00:00 -0500;A;1;3;0",
    ]
    path = tmp_path / "o.csv"
    path.write_bytes((header + "\n".join(rows) + "\n").encode("utf-8"))

    report = import_orders(path=path)

    assert (report.encoding, report.delimiter, report.created) == ("utf-8-sig", ";", 4)
    got = {o.external_id: (o.placed_at.isoformat(), str(o.total_gross)) for o in Order.objects.all()}
    assert got == {
        "1": ("2026-03-02T09:00:00+00:00", "1234.50"),
        "2": ("2026-03-02T09:00:00+00:00", "2.49"),
        "3": ("2026-03-02T09:00:00+00:00", "6.00"),
        "4": ("2026-03-02T09:00:00+00:00", "3.00"),
    }


def test_an_order_with_more_than_500_lines_is_refused(tmp_path):
    rows = [f"shop,1,{T},,{i},A{i},,1,1,," for i in range(1, 503)]
    report = import_orders(path=_csv(tmp_path, *rows))
    assert report.failed == 1
    assert report.errors == [
        {"line": 2, "field": "external_id", "message": "the order has 502 lines; at most 500 are allowed"}
    ]


class _NoWholeReads(io.BytesIO):
    """A file object that refuses to be read whole (read() / read(-1) / huge reads)."""

    def read(self, size=-1):
        assert size is not None and 0 < size <= 1 << 20, f"read({size}) would load the whole file"
        return super().read(size)

    def readline(self, size=-1):
        assert size is not None and 0 < size <= 8 << 20
        return super().readline(size)

    def __iter__(self):
        raise AssertionError("iterating would use unbounded lines")


def _zaplecze_rows(n_orders: int) -> bytes:
    out = io.StringIO()
    out.write(HEADER)
    for i in range(n_orders):
        for line in (1, 2):
            out.write(f"shop,{i},{T},c{i}@example.com,{line},SKU-{line},,1,10.00,,\n")
    return out.getvalue().encode()


def test_import_streams_the_file_in_bounded_reads(tmp_path):
    report = import_orders(fileobj=_NoWholeReads(_zaplecze_rows(30)), name="stream.csv")
    assert (report.created, report.rows) == (30, 60)


def _parse_peak(data: bytes) -> tuple[int, int]:
    tracemalloc.start()
    try:
        source = open_csv(fileobj=io.BytesIO(data), known_columns=known_columns_score)
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        n = sum(1 for parsed in OrderParser(source, ZapleczeFormat, channel=None, tz=tz()) if parsed.data)
        return n, tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


def test_parsing_memory_does_not_grow_with_the_file_size():
    small, big = _zaplecze_rows(100), _zaplecze_rows(1000)
    _parse_peak(big)  # warm up: pydantic-core keeps a bounded cache of recently seen strings
    n_small, peak_small = _parse_peak(small)
    n_big, peak_big = _parse_peak(big)
    assert (n_small, n_big) == (100, 1000)
    assert len(big) > 9 * len(small)
    # Ten times the data, about the same working memory (only the current order's rows are held).
    assert peak_big < 2 * peak_small + 64 * 1024
    assert peak_big < len(big) / 4
