"""What `orders export` writes, `import orders` reads back with nothing changed."""

import datetime as dt
import io

import pytest
from django.db import transaction

from zaplecze.orders.csvio.export import export_orders
from zaplecze.orders.importing import import_orders
from zaplecze.orders.models import Order
from zaplecze.orders.schemas import OrderIn
from zaplecze.orders.services import ingest_order, order_transition

from ..conftest import order_data

pytestmark = pytest.mark.django_db

# Every Order column the CSV carries (internal notes, history and stage timestamps are not in it).
COMPARED = [
    "number",
    "stage",
    "customer_type",
    "customer_name",
    "email",
    "phone",
    "company",
    "nip",
    "billing_address",
    "shipping_address",
    "shipping_postcode",
    "shipping_country",
    "payment_method",
    "payment_status",
    "paid_at",
    "delivery_method",
    "pickup_point",
    "currency",
    "total_net",
    "total_vat",
    "total_gross",
    "shipping_cost",
    "discount",
    "placed_at",
    "ship_by",
    "notes",
    "needs_attention",
    "attention_reasons",
    "source_updated_at",
]
LINE_FIELDS = [
    "position",
    "variant_id",
    "sku",
    "ean",
    "name",
    "quantity",
    "unit_price_gross",
    "vat_rate",
    "total_net",
    "total_gross",
    "external_id",
]


def _products(product_factory):
    product_factory(sku="SKU-0001", price="49.99", stock=10)
    product_factory(sku="KAWA-1", price="32.00", stock=3, ean="5901234123457", vat_rate="8")


def _orders():
    t0 = dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.UTC)
    payloads = [
        order_data(
            tags=["vip", "B2B"],
            notes='Dzwonić "po 16", proszę;\nbrama od podwórza, kod 1234',
            billing_address={
                "name": "Anna Kowalska",
                "street": "ul. Długa 5",
                "postcode": "30-001",
                "city": "Kraków",
            },
        ),
        order_data(
            external_id="1002",
            number="#1002",
            customer_type="business",
            company="Kawa i Spółka",
            nip="PL 526-025-02-74",
            payment_method="cod",
            payment_status=None,
            total_gross="200.00",
            placed_at=(t0 + dt.timedelta(hours=5, microseconds=123456)).isoformat(),
            lines=[
                {
                    "sku": "KAWA-1",
                    "quantity": 2,
                    "unit_price_gross": "32.00",
                    "vat_rate": "8",
                    "external_id": "L-1",
                },
                {
                    "sku": "NOPE-9",
                    "name": "Nieznany",
                    "quantity": 1,
                    "unit_price_gross": "100.10",
                    "vat_rate": "zw",
                    "external_id": "L-2",
                },
            ],
        ),
        order_data(
            external_id="1003",
            number="#1003",
            payment_method="transfer",
            payment_status=None,
            updated_at=(t0 + dt.timedelta(days=1)).isoformat(),
            discount="5.00",
            shipping_address=None,
            email="",
            phone="+48 500 000 001",
            customer_name="Jan Telefon",
        ),
        order_data(
            channel="allegro",
            external_id="A-77",
            number="A-77",
            email="kupiec@example.com",
            delivery_method="dpd",
            pickup_point="",
            shipping_cost="0",
            lines=[
                {"sku": "SKU-0001", "quantity": 1, "unit_price_gross": "49.99"},
                {"sku": "SKU-0001", "quantity": 1, "unit_price_gross": "45.00", "name": "Przecena"},
            ],
        ),
    ]
    for payload in payloads:
        ingest_order(OrderIn.model_validate(payload), source="test")
    order_transition(order_id=Order.objects.get(external_id="1003").pk, status_code="cancelled", actor=None)


def _export(fmt="csv") -> bytes:
    out = io.BytesIO()
    export_orders(Order.objects.all(), fmt, out)
    return out.getvalue()


def _snapshot() -> dict:
    snap = {}
    for o in Order.objects.select_related("channel", "status", "customer").prefetch_related("tags", "lines"):
        snap[(o.channel.code, o.external_id)] = {
            **{f: getattr(o, f) for f in COMPARED},
            "status": o.status.code,
            "customer": (o.customer.email, o.customer.phone, o.customer.name, o.customer.type, o.customer.nip)
            if o.customer
            else None,
            "tags": sorted(t.name for t in o.tags.all()),
            "lines": [[getattr(ln, f) for f in LINE_FIELDS] for ln in o.lines.order_by("position")],
        }
    return snap


def test_export_then_import_changes_nothing_and_exports_byte_identical(product_factory):
    _products(product_factory)
    _orders()
    before = _snapshot()
    first = _export()

    report = import_orders(fileobj=io.BytesIO(first), name="export.csv")

    assert report.format == "zaplecze"
    assert report.as_json() == {"created": 0, "updated": 0, "unchanged": 4, "failed": 0, "errors": []}
    assert _export() == first
    assert _snapshot() == before
    # A second import now takes the fast path (same fingerprint) and is still unchanged.
    assert import_orders(fileobj=io.BytesIO(first)).as_json()["unchanged"] == 4


def test_import_of_an_export_into_an_empty_database_gives_the_same_orders(product_factory):
    _products(product_factory)
    with transaction.atomic():
        _orders()
        exported = _export()
        before = _snapshot()
        transaction.set_rollback(True)
    assert Order.objects.count() == 0

    report = import_orders(fileobj=io.BytesIO(exported))

    assert report.as_json() == {"created": 4, "updated": 0, "unchanged": 0, "failed": 0, "errors": []}
    assert _snapshot() == before
    assert _export() == exported


def test_export_format_is_documented_columns_utf8_crlf(product_factory):
    _products(product_factory)
    _orders()
    text = _export().decode("utf-8")
    from zaplecze.orders.csvio.zaplecze import COLUMN_NAMES

    assert text.splitlines()[0].split(",") == COLUMN_NAMES
    assert text.count("\r\n") == 1 + 6  # header and 6 order lines
    assert '"Dzwonić ""po 16"", proszę;\nbrama od podwórza, kod 1234"' in text  # quoted, with its line break
    first = text.split("\r\n")[1]
    assert first.startswith(
        "#1001,shop,1001,ready,ready,2026-11-20T11:00:00+01:00,,PLN,consumer,Anna Kowalska,"
    )
    assert "49.99" in first and "B2B,vip" in first


def test_xlsx_export_has_the_same_columns_and_rows(product_factory):
    from openpyxl import load_workbook

    _products(product_factory)
    _orders()
    book = load_workbook(io.BytesIO(_export("xlsx")), read_only=True)
    rows = list(book["orders"].iter_rows(values_only=True))
    assert len(rows) == 1 + 6
    header = list(rows[0])
    assert header[:3] == ["order_number", "channel", "external_id"]
    first = dict(zip(header, rows[1], strict=True))
    assert (first["order_number"], first["total_gross"], first["quantity"]) == ("#1001", 112.97, 2)
