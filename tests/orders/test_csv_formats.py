"""The three import formats, from the small hand-made files in tests/fixtures/orders/."""

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from zaplecze.inventory.models import StockLevel
from zaplecze.orders.csvio.parse import detect_format
from zaplecze.orders.csvio.reader import ImportFileError
from zaplecze.orders.importing import import_orders
from zaplecze.orders.models import Order

pytestmark = pytest.mark.django_db
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "orders"
D = Decimal


def _lines(order):
    return [(ln.sku, ln.name, ln.quantity, ln.unit_price_gross) for ln in order.lines.order_by("position")]


def test_shopify_export_is_detected_and_mapped(product_factory):
    product_factory(sku="SKU-A", price="49.99", stock=10)
    product_factory(sku="SKU-B", price="19.50", stock=10)

    report = import_orders(path=FIXTURES / "shopify_orders.csv")

    assert (report.format, report.encoding, report.delimiter) == ("shopify", "utf-8", ",")
    assert (report.created, report.failed, report.rows, report.errors) == (5, 0, 8, [])
    o = Order.objects.get(number="#2001")
    assert (o.channel.code, o.external_id, o.stage, o.status.code) == (
        "shop",
        "5550001",
        "shipped",
        "shipped",
    )
    assert (o.payment_method, o.payment_status, o.delivery_method) == ("card", "paid", "inpost_locker")
    assert o.placed_at == dt.datetime(2024, 1, 5, 9, 11, 12, tzinfo=dt.UTC)
    assert o.paid_at == o.placed_at
    assert (o.total_gross, o.shipping_cost, o.discount, o.currency) == (
        D("127.47"),
        D("12.99"),
        D("5.00"),
        "PLN",
    )
    assert _lines(o) == [("SKU-A", "Kubek ceramiczny", 2, D("49.99")), ("SKU-B", "Podkładka", 1, D("19.50"))]
    assert o.shipping_address == {
        "name": "Anna Kowalska",
        "company": "",
        "street": "ul. Długa 5",
        "postcode": "30-001",
        "city": "Kraków",
        "country": "PL",
        "phone": "+48 600 100 200",
    }
    assert (o.email, o.phone, o.customer_name) == (
        "anna.kowalska@example.com",
        "+48 600 100 200",
        "Anna Kowalska",
    )
    assert sorted(o.tags.values_list("name", flat=True)) == ["hurt", "vip"]
    assert o.notes == "Proszę o telefon, dziękuję"
    assert o.needs_attention is False

    pending = Order.objects.get(number="#2002")
    assert (pending.stage, pending.payment_status, pending.payment_method) == (
        "awaiting_payment",
        "unpaid",
        "transfer",
    )
    assert pending.company == "Nowak Sp. z o.o."
    cod = Order.objects.get(number="#2003")
    assert (cod.stage, cod.payment_status, cod.delivery_method) == ("ready", "cod", "inpost_locker")
    # A line without a SKU keeps the order, under its name, flagged for attention.
    assert _lines(cod) == [("Karta podarunkowa 50 zł", "Karta podarunkowa 50 zł", 1, D("50.00"))]
    assert [r["code"] for r in cod.attention_reasons] == ["unknown_sku"]
    assert Order.objects.get(number="#2004").stage == "cancelled"
    partial = Order.objects.get(number="#2005")
    assert (partial.stage, partial.status.code, partial.lines.count()) == ("in_fulfilment", "picking", 3)
    # Stock is held for the open orders only (#2002: 1 x A, #2005: 1 x A + 2 x B; #2001 shipped, #2004 cancelled).
    assert dict(StockLevel.objects.values_list("variant__sku", "reserved")) == {"SKU-A": 2, "SKU-B": 2}


def test_woocommerce_export_is_detected_and_mapped(product_factory):
    product_factory(sku="SKU-A", price="49.99")
    product_factory(sku="SKU-B", price="19.50")

    report = import_orders(path=FIXTURES / "woocommerce_orders.csv")

    assert (report.format, report.created, report.failed) == ("woocommerce", 3, 0)
    o = Order.objects.get(external_id="727")
    assert (o.stage, o.payment_status, o.payment_method, o.currency) == ("ready", "paid", "transfer", "USD")
    # A date without an offset is shop-local time (Europe/Warsaw).
    assert o.placed_at == dt.datetime(2017, 3, 22, 15, 28, 2, tzinfo=dt.UTC)
    assert o.paid_at == dt.datetime(2017, 3, 22, 15, 28, 8, tzinfo=dt.UTC)
    # Gross unit price = Item Cost + Item Tax / quantity.
    assert _lines(o) == [
        ("Woo Single #1", "Woo Single #1", 2, D("3.23")),
        ("Bar3", "Ship Your Idea – Color: Black, Size: M Test", 1, D("12.90")),
    ]
    assert o.total_gross == D("29.35")
    assert [r["code"] for r in o.attention_reasons] == [
        "unknown_sku",
        "unknown_sku",
    ]  # 1 cent off is tolerated
    assert list(o.lines.values_list("external_id", flat=True)) == ["315", "316"]

    biz = Order.objects.get(external_id="1001")
    assert (biz.number, biz.stage, biz.payment_method, biz.payment_status) == (
        "PL-1001",
        "completed",
        "cod",
        "paid",
    )
    assert (biz.customer_type, biz.nip, biz.company) == ("business", "5260250274", "Kowalski Sp. z o.o.")
    assert (biz.email, biz.delivery_method, biz.shipping_cost) == (
        "jan.kowalski@example.com",
        "inpost_locker",
        D("12.99"),
    )
    assert biz.billing_address["street"] == "ul. Lipowa 7 m. 3"
    assert _lines(biz) == [("SKU-A", "Kubek ceramiczny", 1, D("49.99"))]
    assert biz.needs_attention is False
    hold = Order.objects.get(external_id="1002")
    assert (hold.stage, hold.payment_status, hold.total_gross) == ("awaiting_payment", "unpaid", D("39.00"))


def test_zaplecze_csv_in_cp1250_with_semicolons_and_decimal_commas(product_factory):
    product_factory(sku="SKU-A", price="612.29", stock=5)
    product_factory(sku="SKU-B", price="49.50", stock=5)

    report = import_orders(path=FIXTURES / "zaplecze_cp1250_semicolon.csv")

    assert (report.format, report.encoding, report.delimiter, report.created) == (
        "zaplecze",
        "cp1250",
        ";",
        2,
    )
    z1 = Order.objects.get(channel__code="allegro", external_id="A-100")
    assert (z1.customer_name, z1.total_gross, z1.shipping_cost) == ("Łukasz Żółć", D("1234.56"), D("9.98"))
    assert z1.placed_at == dt.datetime(2024, 1, 5, 9, 15, tzinfo=dt.UTC)
    assert _lines(z1) == [("SKU-A", "Product SKU-A", 2, D("612.29"))]
    z2 = Order.objects.get(channel__code="manual", external_id="M-7")
    assert (z2.status.code, z2.number) == ("ready", "Z-2")
    assert [ln[0] for ln in _lines(z2)] == ["SKU-B", "SKU-C"]


def test_channel_option_sets_the_channel_of_formats_without_one(product_factory):
    report = import_orders(path=FIXTURES / "woocommerce_orders.csv", channel="allegro")
    assert report.created == 3
    assert set(Order.objects.values_list("channel__code", flat=True)) == {"allegro"}


def test_channel_option_overrides_the_channel_column():
    report = import_orders(path=FIXTURES / "zaplecze_cp1250_semicolon.csv", channel="ebay")
    assert report.created == 2
    assert sorted(Order.objects.values_list("channel__code", "external_id")) == [
        ("ebay", "A-100"),
        ("ebay", "M-7"),
    ]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (
            ["Name", "Email", "Financial Status", "Created at", "Lineitem quantity", "Lineitem price"],
            "shopify",
        ),
        (["Order ID", "Order Date", "Order Status", "Item SKU", "Item Quantity", "Item Cost"], "woocommerce"),
        (
            ["order_number", "channel", "external_id", "placed_at", "sku", "quantity", "unit_price_gross"],
            "zaplecze",
        ),
        (["EXTERNAL_ID", " Placed_At ", "SKU", "Quantity", "unit_price_gross"], "zaplecze"),
    ],
)
def test_format_is_detected_from_the_header(header, expected):
    assert detect_format(header).name == expected


def test_unknown_header_is_a_clear_error():
    with pytest.raises(
        ImportFileError, match=r"Cannot tell the format of this file from its header \(foo, bar\)"
    ):
        detect_format(["foo", "bar"])


@pytest.mark.parametrize(
    ("text", "fmt", "missing"),
    [
        (
            "external_id,placed_at,sku,channel\n1,2026-01-01T10:00:00+01:00,A,shop\n",
            "auto",
            "Zaplecze format: quantity, unit_price_gross",
        ),
        (
            "Name,Created at,Lineitem quantity,Lineitem name\n#1,2024-01-01 10:00:00 +0100,1,x\n",
            "auto",
            "Shopify format: Lineitem price",
        ),
        (
            "Order ID,Order Status,Item Quantity,Item SKU\n1,processing,1,A\n",
            "auto",
            "WooCommerce format: Order Date, Item Cost",
        ),
        (
            "external_id,placed_at,sku,quantity,unit_price_gross\n1,2026-01-01T10:00:00+01:00,A,1,1\n",
            "shopify",
            "Shopify format: Name, Created at, Lineitem quantity, Lineitem price",
        ),
    ],
)
def test_missing_required_columns_are_named(tmp_path, text, fmt, missing):
    path = tmp_path / "orders.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ImportFileError, match=f"Missing required columns for the {missing}$"):
        import_orders(path=path, fmt=fmt)
    assert Order.objects.count() == 0


def test_zaplecze_channel_column_is_not_required_when_the_channel_is_given(tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text(
        "external_id,placed_at,sku,quantity,unit_price_gross\n1,2026-01-01T10:00:00+01:00,A,1,5\n"
    )
    with pytest.raises(ImportFileError, match="channel"):
        import_orders(path=path)
    assert import_orders(path=path, channel="manual").created == 1


def test_reimporting_a_changed_export_updates_only_the_changed_order(tmp_path, product_factory):
    product_factory(sku="SKU-A", stock=10)
    product_factory(sku="SKU-B", stock=10)
    import_orders(path=FIXTURES / "shopify_orders.csv")
    text = (FIXTURES / "shopify_orders.csv").read_text(encoding="utf-8")
    changed = tmp_path / "again.csv"
    # #2002 got paid and shipped in the meantime.
    changed.write_text(
        text.replace(
            "#2002,piotr@example.com,pending,,unfulfilled", "#2002,piotr@example.com,paid,,fulfilled"
        ),
        encoding="utf-8",
    )

    report = import_orders(path=changed)

    assert report.as_json() == {"created": 0, "updated": 1, "unchanged": 4, "failed": 0, "errors": []}
    order = Order.objects.get(number="#2002")
    assert (order.stage, order.payment_status) == ("shipped", "paid")
    assert list(order.events.values_list("kind", flat=True)) == [
        "created",
        "updated",
        "status",
        "stock_issued",
    ]
    assert dict(StockLevel.objects.values_list("variant__sku", "on_hand")) == {"SKU-A": 9, "SKU-B": 10}
