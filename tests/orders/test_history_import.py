"""orders.history: the generic mapping for historical orders and their bulk intake."""

from __future__ import annotations

import datetime as dt
import gzip
import json
from decimal import Decimal

import pytest
from click.testing import CliRunner

from zaplecze.cli import main
from zaplecze.inventory.models import Reservation, StockLevel, StockMovement
from zaplecze.orders.history import MappingError, history_import, mapping_from_dict, mapping_load
from zaplecze.orders.models import (
    AutomationRun,
    Channel,
    Customer,
    CustomerExternalId,
    Order,
    OrderEvent,
    OrderLine,
    Stage,
)
from zaplecze.reports import sales
from zaplecze.reports.sales import Period

pytestmark = pytest.mark.django_db

HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"


@pytest.fixture
def channel():
    return Channel.objects.create(code="legacy", name="Old shop", kind=Channel.Kind.OTHER).code


def _write(tmp_path, text: str, name: str = "orders.csv") -> object:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _retail(rows: list[str]) -> str:
    return HEADER + "".join(r + "\n" for r in rows)


def _import(path, channel, preset="online-retail", **kw):
    return history_import(path=path, mapping=mapping_load(preset=preset), channel=channel, **kw)


# --- the mapping -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "field", "text"),
    [
        (
            {"columns": {"order": "No", "quantity": "Q", "unit_price": "P"}},
            "date",
            "columns.date is required",
        ),
        ({"columns": {"date": "D", "quantity": "Q", "sku": "S"}}, "unit_price", "unit_price or line_total"),
        (
            {"columns": {"date": "D", "quantity": "Q", "unit_price": "P", "colour": "C"}},
            "colour",
            "unknown field",
        ),
        ({"columns": {"date": "D", "quantity": 0, "unit_price": "P", "sku": "S"}}, "quantity", "start at 1"),
        (
            {
                "columns": {"date": "D", "quantity": "Q", "unit_price": "P", "sku": "S"},
                "timezone": "Mars/Base",
            },
            "timezone",
            "unknown time zone",
        ),
        (
            {"columns": {"date": 1, "quantity": 2, "unit_price": 3, "sku": "S"}, "header": False},
            "header",
            "needs column numbers",
        ),
        (
            {
                "columns": {"date": "D", "quantity": "Q", "unit_price": "P", "sku": "S"},
                "cancellation": {"negative_quantity": "refund"},
            },
            "negative_quantity",
            "error, skip, cancel",
        ),  # fmt: skip
        (
            {"columns": {"date": "D", "quantity": "Q", "unit_price": "P", "sku": "S"}, "currency": "zł"},
            "currency",
            "ISO",
        ),
        (
            {"columns": {"date": "D", "quantity": "Q", "unit_price": "P", "sku": "S"}, "sheet": 1},
            "sheet",
            "Unknown",
        ),
    ],
)
def test_a_wrong_mapping_is_refused_naming_the_key(raw, field, text):
    with pytest.raises(MappingError) as exc:
        mapping_from_dict(raw)
    assert exc.value.field == field
    assert text in exc.value.message


def test_a_mapped_column_missing_from_the_file_names_it(tmp_path, channel):
    mapping = mapping_from_dict(
        {"columns": {"order": "Invoice", "date": "InvoiceDate", "sku": "StockCode", "quantity": "Quantity",
                     "unit_price": "UnitPrice"}}
    )  # fmt: skip
    path = _write(tmp_path, _retail(["1,A,a,1,2011-01-02 10:00:00,1.00,,United Kingdom"]))
    with pytest.raises(MappingError) as exc:
        history_import(path=path, mapping=mapping, channel=channel)
    assert exc.value.field == "order"
    assert "no column 'Invoice'" in exc.value.message and "InvoiceNo" in exc.value.message
    assert not Order.objects.exists()


def test_a_toml_mapping_with_column_numbers_reads_a_file_without_header(tmp_path, channel):
    mapping_path = tmp_path / "m.toml"
    mapping_path.write_text(
        'format = "csv"\ndelimiter = ";"\nheader = false\ndate_format = "%d.%m.%Y"\ncurrency = "EUR"\n'
        "decimal_comma = true\n[columns]\norder = 1\ndate = 2\nsku = 3\nquantity = 4\nunit_price = 5\n"
        'email = 6\n[cancellation]\nnegative_quantity = "cancel"\n',
        encoding="utf-8",
    )
    path = _write(
        tmp_path, "Z1;03.02.2024;MUG;2;1.234,50;Ann@Example.com\nZ2;04.02.2024;MUG;-1;10,00;ann@example.com\n"
    )
    report = history_import(path=path, mapping=mapping_load(path=mapping_path), channel=channel)
    assert (report.created, report.cancelled, report.failed) == (2, 1, 0)
    z1 = Order.objects.get(number="Z1")
    assert z1.currency == "EUR" and z1.total_gross == Decimal("2469.00") and z1.stage == Stage.DELIVERED
    assert z1.placed_at.astimezone(dt.UTC) == dt.datetime(2024, 2, 3, 11, 0, tzinfo=dt.UTC)  # noon, Warsaw
    assert Order.objects.get(number="Z2").stage == Stage.CANCELLED
    assert Customer.objects.filter(email="ann@example.com").count() == 1
    assert z1.customer_id == Order.objects.get(number="Z2").customer_id


# --- rows -------------------------------------------------------------------------------------------------


def test_bad_rows_fail_only_their_order_and_name_row_and_column(tmp_path, channel):
    path = _write(
        tmp_path,
        _retail(
            [
                "100,A1,Mug,2,2011-01-02 10:00:00,3.50,12345,United Kingdom",  # line 2
                "101,A1,Mug,1,2011-13-02 10:00:00,3.50,12345,United Kingdom",  # line 3: bad date
                "102,A1,Mug,x,2011-01-03 10:00:00,3.50,12346,France",  # line 4: bad quantity
                "102,A2,Cup,1,2011-01-03 10:00:00,1.00,12346,France",  # line 5: same order, fine
                "103,A1,Mug,1,2011-01-04 10:00:00,-3.50,12347,France",  # line 6: negative price
                "104,A1,Mug,0,2011-01-04 10:00:00,3.50,12347,France",  # line 7: zero quantity
                "105,A1,Mug,1,2011-01-05 10:00:00,3.50,12348,Germany",  # line 8
            ]
        ),
    )
    report = _import(path, channel)
    assert report.errors == [
        {"row": 3, "column": "InvoiceDate", "message": "'2011-13-02 10:00:00' is not a date in the format %Y-%m-%d %H:%M:%S"},
        {"row": 4, "column": "Quantity", "message": "'x' is not a number"},
        {"row": 6, "column": "UnitPrice", "message": "negative price -3.50"},
        {"row": 7, "column": "Quantity", "message": "the quantity is 0"},
    ]  # fmt: skip
    assert (report.created, report.failed) == (2, 4)
    assert sorted(Order.objects.values_list("number", flat=True)) == ["100", "105"]
    assert not OrderLine.objects.filter(order__number="102").exists()  # nothing half-written


def test_a_re_run_adds_nothing_and_finds_the_same_customers(tmp_path, channel):
    rows = [
        f"{200 + i},S{i},Item {i},1,2011-02-0{1 + i % 5} 10:00:00,2.00,{500 + i % 3},United Kingdom"
        for i in range(12)
    ]
    path = _write(tmp_path, _retail(rows))
    first = _import(path, channel, batch_orders=5)  # several batches
    assert (first.created, first.existing, first.customers_created) == (12, 0, 3)
    again = _import(path, channel, batch_orders=5)
    assert (again.created, again.existing, again.customers_created) == (0, 12, 0)
    assert Order.objects.count() == 12 and OrderLine.objects.count() == 12
    assert Customer.objects.count() == 3
    assert set(CustomerExternalId.objects.values_list("external_id", flat=True)) == {"500", "501", "502"}
    more = _write(
        tmp_path, _retail(["300,S1,Item,1,2011-03-01 10:00:00,2.00,501,United Kingdom"]), "more.csv"
    )
    _import(more, channel)
    assert Order.objects.get(number="300").customer_id == Order.objects.get(number="201").customer_id


def test_an_order_of_more_than_500_lines_is_kept_whole(tmp_path, channel):
    rows = [
        f"400,SKU{i:04d},Item {i},{1 + i % 3},2011-04-01 09:00:00,1.25,77,United Kingdom" for i in range(620)
    ]
    path = _write(tmp_path, _retail(rows))
    report = _import(path, channel)
    assert report.created == 1 and report.lines == 620
    order = Order.objects.get(number="400")
    assert order.lines.count() == 620
    expected = sum(Decimal("1.25") * (1 + i % 3) for i in range(620))
    assert order.total_gross == expected and order.stage == Stage.DELIVERED


def test_cancellation_invoices_and_negative_quantities_follow_the_mapping(tmp_path, channel):
    path = _write(
        tmp_path,
        _retail(
            [
                "500,A1,Mug,4,2011-05-02 10:00:00,2.50,88,United Kingdom",
                "C501,A1,Mug,-1,2011-05-03 10:00:00,2.50,88,United Kingdom",
                "502,DAMAGED,?,-12,2011-05-03 11:00:00,0,,United Kingdom",  # a stock write-off: skipped
                "A503,B,Adjust bad debt,1,2011-05-04 11:00:00,-100.00,,United Kingdom",  # skipped prefix
            ]
        ),
    )
    report = _import(path, channel)
    assert (report.created, report.cancelled, report.failed) == (2, 1, 0)
    assert report.skipped_reasons == {"negative quantity": 1, "order prefix skipped": 1}
    c501 = Order.objects.get(number="C501")
    assert c501.stage == Stage.CANCELLED and c501.total_gross == Decimal("2.50")
    assert c501.lines.get().quantity == 1
    may = sales.totals(Period(dt.date(2011, 5, 1), dt.date(2011, 5, 31)), currency="GBP", channel=channel)
    assert (may["orders"], may["revenue_gross"]) == (1, Decimal("10.00"))  # the cancellation never counts

    strict = mapping_load(preset="online-retail")
    strict.negative_quantity = "error"
    bad = _write(tmp_path, _retail(["600,X,x,-2,2011-05-05 10:00:00,1.00,,France"]), "bad.csv")
    report = history_import(path=bad, mapping=strict, channel=channel)
    assert report.errors == [
        {
            "row": 2,
            "column": "Quantity",
            "message": "negative quantity -2 in an order that is not a cancellation",
        }
    ]
    mixed = mapping_load(preset="online-retail")
    mixed.negative_quantity = "cancel"
    rows = [
        "700,X,x,-2,2011-05-06 10:00:00,1.00,,France",
        "701,X,x,3,2011-05-06 10:00:00,1.00,,France",
        "701,Y,y,-1,2011-05-06 10:00:00,1.00,,France",
    ]
    report = history_import(path=_write(tmp_path, _retail(rows), "mixed.csv"), mapping=mixed, channel=channel)
    assert Order.objects.get(number="700").stage == Stage.CANCELLED
    assert report.errors == [
        {"row": 4, "column": "Quantity", "message": "a negative quantity in an order with positive ones"}
    ]
    assert not Order.objects.filter(number="701").exists()


def test_history_touches_no_stock_and_runs_no_automation(tmp_path, channel, product_factory):
    variant = product_factory(sku="KNOWN-1", stock=5)
    movements, levels = (
        StockMovement.objects.count(),
        list(StockLevel.objects.values_list("on_hand", "reserved")),
    )
    path = _write(
        tmp_path,
        _retail(
            [
                "800,KNOWN-1,Known mug,3,2011-06-01 10:00:00,4.00,1,Poland",
                "800,UNKNOWN-9,Old product,1,2011-06-01 10:00:00,9.99,1,Poland",
            ]
        ),
    )
    report = _import(path, channel)
    assert report.created == 1
    order = Order.objects.get(number="800")
    assert not order.needs_attention and order.attention_reasons == []
    assert [(ln.sku, ln.variant_id) for ln in order.lines.all()] == [
        ("KNOWN-1", variant.pk),
        ("UNKNOWN-9", None),
    ]
    assert StockMovement.objects.count() == movements
    assert list(StockLevel.objects.values_list("on_hand", "reserved")) == levels
    assert not Reservation.objects.exists()
    assert not OrderEvent.objects.filter(order=order).exists() and not AutomationRun.objects.exists()
    assert order.shipping_country == "PL" and order.shipping_address == {"country": "PL", "postcode": ""}


def test_whitespace_and_fixed_width_files(tmp_path, channel):
    gz = tmp_path / "cd.txt.gz"
    with gzip.open(gz, "wt", encoding="utf-8") as fh:
        fh.write(" customer_id  date number_of_cds  dollar_value\r\n")
        fh.write(" 00001 19970101  1   11.77\r\n 00002 19970112  1   12.00\r\n 00002 19970112  5   77.00\r\n")
    report = _import(gz, channel, preset="cdnow")
    assert (report.created, report.customers_created) == (3, 2)
    assert sorted(Order.objects.values_list("external_id", flat=True)) == [
        "00001-19970101-1", "00002-19970112-1", "00002-19970112-2"
    ]  # fmt: skip
    line = OrderLine.objects.get(order__external_id="00002-19970112-2")
    assert (line.quantity, line.total_gross, line.sku, line.unit_price_gross) == (
        5,
        Decimal("77.00"),
        "CD",
        Decimal("15.40"),
    )
    assert Order.objects.get(external_id="00001-19970101-1").currency == "USD"

    fixed = _write(tmp_path, "F1  20240105 SKU-1     3   2.50\nF1  20240105 SKU-2     1   10.00\n", "f.txt")
    mapping = mapping_from_dict(
        {"format": "fixed", "header": False, "widths": [4, 9, 10, 4, 7], "date_format": "%Y%m%d",
         "columns": {"order": 1, "date": 2, "sku": 3, "quantity": 4, "unit_price": 5}}
    )  # fmt: skip
    report = history_import(path=fixed, mapping=mapping, channel=channel, currency="pln")
    f1 = Order.objects.get(number="F1")
    assert report.errors == [] and f1.total_gross == Decimal("17.50") and f1.currency == "PLN"


def test_rows_of_one_order_must_stay_together(tmp_path, channel):
    rows = [f"{900 + i},S,s,1,2011-07-01 10:00:00,1.00,,France" for i in range(6)]
    rows.append("900,T,t,1,2011-07-01 10:00:00,1.00,,France")  # line 8: order 900 came back after a batch
    report = _import(_write(tmp_path, _retail(rows)), channel, batch_orders=1, keep_open=1)
    assert report.errors[0]["row"] == 8 and "already written" in report.errors[0]["message"]


def test_cli_imports_and_reports_json(tmp_path, channel):
    path = _write(
        tmp_path, _retail(["1000,S,s,2,2011-08-01 10:00:00,5.00,9,EIRE", "1001,S,s,1,2011-08-01,5.00,9,EIRE"])
    )
    runner = CliRunner()
    result = runner.invoke(
        main,
        ["orders", "import-history", str(path), "--preset", "online-retail", "--channel", channel, "--json"],
    )
    assert result.exit_code == 1, result.output  # one order failed
    out = json.loads(result.stdout)
    assert out["created"] == 1 and out["failed"] == 1
    assert out["errors"][0]["row"] == 3 and out["errors"][0]["column"] == "InvoiceDate"
    assert Order.objects.get(number="1000").shipping_country == "IE"

    result = runner.invoke(main, ["orders", "import-history", str(path), "--channel", channel])
    assert result.exit_code == 2 and "--mapping" in result.output
    result = runner.invoke(
        main, ["orders", "import-history", str(path), "--preset", "cdnow", "--channel", channel]
    )
    assert result.exit_code == 2 and "no column 'date'" in result.output


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_history_import_on_postgresql(tmp_path):
    Channel.objects.create(code="legacy-pg", name="Old", kind=Channel.Kind.OTHER)
    rows = [f"{i // 3},S{i},Item,1,2011-09-01 10:00:00,1.10,{i // 3 % 4},United Kingdom" for i in range(1200)]
    path = _write(tmp_path, _retail(rows))
    report = _import(path, "legacy-pg", batch_orders=50)
    assert (report.created, report.lines, report.customers_created) == (400, 1200, 4)
    assert _import(path, "legacy-pg").existing == 400
    assert Order.objects.filter(channel__code="legacy-pg").count() == 400


def test_a_file_in_another_encoding_is_refused_until_the_mapping_says_so(tmp_path, channel):
    path = tmp_path / "cp.csv"
    path.write_bytes((HEADER + "1,A,Żółw,1,2011-01-02 10:00:00,1.00,,Poland\n").encode("cp1250"))
    with pytest.raises(MappingError) as exc:
        _import(path, channel)
    assert exc.value.field == "encoding" and "not utf-8" in exc.value.message
    mapping = mapping_load(preset="online-retail")
    mapping.encoding = "cp1250"
    assert history_import(path=path, mapping=mapping, channel=channel).created == 1
    assert OrderLine.objects.get().name == "Żółw"
    mapping.encoding = "klingon"
    with pytest.raises(MappingError) as exc:
        history_import(path=path, mapping=mapping, channel=channel)
    assert exc.value.field == "encoding" and "unknown encoding" in exc.value.message
