"""Zaplecze's own order CSV: what `zaplecze orders export` writes and `zaplecze import orders` reads.

Layout
------
* One row per order line. The rows of one order are consecutive and repeat the order's columns; the
  order columns are read from the order's first row.
* The first line is the header. Column order does not matter, unknown columns are ignored, headers are
  matched case-insensitively.
* Export writes UTF-8 without a BOM, comma-separated, with `\\r\\n` line ends, dates as ISO 8601 in the
  shop's time zone with the offset, amounts with a dot and two decimals. Import also accepts UTF-8 with
  a BOM and Windows-1250, `;` as the delimiter, amounts with a decimal comma ("1 234,56"), and dates
  as ISO 8601 with an offset, "YYYY-MM-DD HH:MM[:SS]" or "DD.MM.YYYY HH:MM" (both local time,
  Europe/Warsaw) or "YYYY-MM-DD HH:MM:SS -0500".
* Required on import: `external_id`, `placed_at`, `sku`, `quantity`, `unit_price_gross`, and `channel`
  unless `--channel` is given. An empty optional cell means "not given" (the intake default applies).
* Export, then import of the same file, reports every order "unchanged"; exporting again gives a
  byte-identical file; importing it into an empty database gives the same orders.
* Rows that repeat an order line (same order and `line_no`, same values) are counted as duplicates
  and skipped; the same `line_no` with different values fails that order.

Columns (in the order export writes them)
-----------------------------------------
"""

from __future__ import annotations

from django.utils.translation import gettext as _

from ..models import CustomerType, DeliveryMethod, PaymentMethod, PaymentStatus, Stage
from .base import Built, Collector, OrderFormat, Row, address, delivery_method, payment_method, split_tags

_ADDRESS = ("name", "company", "street", "postcode", "city", "country", "phone")

COLUMNS: list[tuple[str, str]] = [
    ("order_number", "Order number shown to people, e.g. #1001 (defaults to external_id)"),
    (
        "channel",
        "Sales channel code: shop, allegro, amazon, ebay, erli, manual, other or one you added; "
        "`--channel` overrides it",
    ),
    (
        "external_id",
        "The order's id in its channel. channel + external_id identify the order: importing "
        "it again updates that order instead of adding one",
    ),
    ("status", "Status code (or its Polish or English name); empty: the default status of the stage"),
    ("stage", "Lifecycle stage: " + ", ".join(Stage.values) + "; empty: decided from the payment"),
    ("placed_at", "When the order was placed, ISO 8601 with offset, e.g. 2026-05-01T10:00:00+02:00"),
    (
        "updated_at",
        "Version time given by the channel (optional): an older version never overwrites a newer one",
    ),
    ("currency", "ISO 4217 code, e.g. PLN (default PLN)"),
    ("customer_type", "consumer, sole_trader or business (business needs customer_nip); default consumer"),
    ("customer_name", "Customer's name"),
    ("customer_email", "Customer's e-mail"),
    ("customer_phone", "Customer's phone"),
    ("customer_company", "Company name"),
    ("customer_nip", "Polish tax id (NIP), checked"),
    *[
        (f"billing_{p}", f"Billing address: {p}" + (" (2-letter code, default PL)" if p == "country" else ""))
        for p in _ADDRESS
    ],
    *[
        (
            f"shipping_{p}",
            f"Shipping address: {p}" + (" (2-letter code, default PL)" if p == "country" else ""),
        )
        for p in _ADDRESS
    ],
    (
        "payment_method",
        "One of " + ", ".join(PaymentMethod.values) + " (names like “za pobraniem” are mapped)",
    ),
    ("payment_status", "One of " + ", ".join(PaymentStatus.values) + "; empty: from paid_at and the method"),
    ("paid_at", "When it was paid (ISO 8601 with offset)"),
    ("delivery_method", "One of " + ", ".join(DeliveryMethod.values)),
    ("pickup_point", "Pickup point id, e.g. an InPost locker KRA01M"),
    ("shipping_cost", "Shipping cost, gross"),
    ("discount", "Order discount, gross"),
    ("total_gross", "Order total, gross (lines + shipping - discount; a different total flags the order)"),
    ("notes", "Customer's notes"),
    ("tags", "Tags separated by commas"),
    ("line_no", "Position of the line in the order, 1, 2, ..."),
    ("sku", "SKU (or EAN) of the product; an unknown SKU keeps the order and flags it"),
    ("ean", "EAN/GTIN of the product (checked)"),
    ("product_name", "Product name on the line"),
    ("quantity", "Quantity, a whole number greater than 0"),
    ("unit_price_gross", "Unit price, gross"),
    ("vat_rate", "VAT rate: 23, 8, 5, 0 or zw (default 23)"),
    ("line_external_id", "The line's id in its channel (optional)"),
]
COLUMN_NAMES = [name for name, _meaning in COLUMNS]

__doc__ = (__doc__ or "") + "\n".join(f"`{name}`\n    {meaning}" for name, meaning in COLUMNS) + "\n"


def columns_markdown() -> str:
    """The column table for docs/csv-format.md and the README."""
    rows = "\n".join(f"| `{name}` | {meaning} |" for name, meaning in COLUMNS)
    return f"| column | meaning |\n|---|---|\n{rows}\n"


class ZapleczeFormat(OrderFormat):
    name = "zaplecze"
    label = "Zaplecze"
    columns = {name: (name,) for name in COLUMN_NAMES} | {
        "order_number": ("order_number", "number"),
        "customer_email": ("customer_email", "email"),
        "customer_phone": ("customer_phone", "phone"),
        "product_name": ("product_name", "line_name"),
    }
    required = ("channel", "external_id", "placed_at", "sku", "quantity", "unit_price_gross")
    signature = ("external_id", "placed_at", "sku")
    field_columns = {
        "channel": "channel",
        "external_id": "external_id",
        "number": "order_number",
        "status": "status",
        "stage": "stage",
        "placed_at": "placed_at",
        "updated_at": "updated_at",
        "currency": "currency",
        "customer_type": "customer_type",
        "customer_name": "customer_name",
        "email": "customer_email",
        "phone": "customer_phone",
        "company": "customer_company",
        "nip": "customer_nip",
        "payment_method": "payment_method",
        "payment_status": "payment_status",
        "paid_at": "paid_at",
        "delivery_method": "delivery_method",
        "pickup_point": "pickup_point",
        "shipping_cost": "shipping_cost",
        "discount": "discount",
        "total_gross": "total_gross",
        "notes": "notes",
        "tags": "tags",
        "lines.sku": "sku",
        "lines.ean": "ean",
        "lines.name": "product_name",
        "lines.quantity": "quantity",
        "lines.unit_price_gross": "unit_price_gross",
        "lines.vat_rate": "vat_rate",
        "lines.external_id": "line_external_id",
        **{f"{kind}_address.{p}": f"{kind}_{p}" for kind in ("billing", "shipping") for p in _ADDRESS},
        "billing_address": "billing_name",
        "shipping_address": "shipping_name",
    }

    def required_keys(self) -> tuple[str, ...]:
        return tuple(k for k in self.required if not (k == "channel" and self.channel))

    def group_key(self, row: Row) -> str:
        ext = row.get("external_id")
        return f"{row.get('channel')}\x1f{ext}" if ext else ""

    def group_column(self) -> str:
        return self.column("external_id")

    def line_identity(self, row: Row) -> tuple:
        line_no = row.get("line_no")
        return ("line_no", line_no) if line_no else tuple(row.fields)

    def _address(self, row: Row, kind: str) -> dict[str, str] | None:
        return address({p: row.get(f"{kind}_{p}") for p in _ADDRESS})

    def build(self, rows: list[Row]) -> Built:
        first = rows[0]
        c = Collector(self)
        channel = self.channel or c.required(first, "channel")
        placed_at = c.datetime(first, "placed_at", required=True)
        updated_at = c.datetime(first, "updated_at")
        paid_at = c.datetime(first, "paid_at")
        lines, line_rows = [], []
        for row in rows:
            line = {
                "sku": c.required(row, "sku"),
                "quantity": c.quantity(row, "quantity"),
                "unit_price_gross": c.money(row, "unit_price_gross", required=True),
            }
            for key, column in (
                ("ean", "ean"),
                ("name", "product_name"),
                ("vat_rate", "vat_rate"),
                ("external_id", "line_external_id"),
            ):
                if row.get(column):
                    line[key] = row.get(column)
            lines.append(line)
            line_rows.append(row.line)
        payload = {
            "channel": channel,
            "external_id": first.get("external_id"),
            "number": first.get("order_number"),
            "status": first.get("status"),
            "placed_at": placed_at,
            "updated_at": updated_at,
            "paid_at": paid_at,
            "customer_name": first.get("customer_name"),
            "email": first.get("customer_email"),
            "phone": first.get("customer_phone"),
            "company": first.get("customer_company"),
            "nip": first.get("customer_nip"),
            "billing_address": self._address(first, "billing"),
            "shipping_address": self._address(first, "shipping"),
            "pickup_point": first.get("pickup_point"),
            "notes": first.get("notes"),
            "tags": split_tags(first.get("tags")),
            "lines": lines,
        }
        for key in ("stage", "currency", "customer_type", "payment_status"):
            if first.get(key):
                payload[key] = first.get(key).lower() if key != "currency" else first.get(key)
        if payload.get("customer_type") == "sole trader":
            payload["customer_type"] = CustomerType.SOLE_TRADER
        for key, mapper, choices in (
            ("payment_method", payment_method, PaymentMethod.values),
            ("delivery_method", delivery_method, DeliveryMethod.values),
        ):
            raw = first.get(key)
            if raw:
                mapped = mapper(raw)
                payload[key] = mapped if (mapped != "other" or raw.lower() == "other") else raw
                if payload[key] not in choices:
                    c.error(
                        first,
                        key,
                        _("%(value)r is not one of %(choices)s")
                        % {"value": raw, "choices": ", ".join(choices)},
                    )
        for key in ("shipping_cost", "discount", "total_gross"):
            value = c.money(first, key)
            if value is not None:
                payload[key] = value
        if c.errors:
            return Built(None, c.errors)
        return Built(payload, [], line_rows)
