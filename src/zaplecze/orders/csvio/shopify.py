"""Shopify's admin "Export orders" CSV.

One row per line item. The order's fields are on its first row; the following rows of the same order
repeat only Name, Email, Created at and the line-item columns. Rows of one order are consecutive.

Mapping (Shopify -> Zaplecze):
  Id -> external id (Name when Id is empty); Name -> number; Created at -> placed at;
  Financial Status -> payment status (paid, partially_paid, refunded, partially_refunded; pending,
  authorized, voided, expired -> unpaid, or cash on delivery when the payment method is COD);
  Paid at -> paid at; Cancelled at / Fulfillment Status / Financial Status -> stage:
  cancelled when Cancelled at is set; fulfilled -> shipped (returned when refunded); partial -> in
  fulfilment; refunded/voided/restocked (not fulfilled) -> cancelled; paid/authorized/COD -> ready;
  pending/partially_paid -> awaiting payment; otherwise new.
  Billing */Shipping * -> addresses (Street, else Address1 + Address2; Zip -> postcode);
  Lineitem sku/name/quantity/price -> lines (a line without a SKU uses its name as the SKU, so the
  order is kept and flagged for attention); Shipping -> shipping cost; Discount Amount -> discount;
  Total -> total; Payment Method -> payment method; Shipping Method -> delivery method; Notes -> notes;
  Tags -> tags; Email, Phone (else the shipping or billing phone).
The channel is --channel, else "shop"."""

from __future__ import annotations

from django.utils.translation import gettext as _

from ..models import PaymentMethod, PaymentStatus, Stage
from .base import (
    DEFAULT_CHANNEL,
    Built,
    Collector,
    OrderFormat,
    Row,
    address,
    delivery_method,
    payment_method,
    split_tags,
)

FINANCIAL = {
    "pending",
    "authorized",
    "partially_paid",
    "paid",
    "partially_refunded",
    "refunded",
    "voided",
    "expired",
    "unpaid",
}
FULFILMENT = {
    "fulfilled",
    "unfulfilled",
    "partial",
    "partially_fulfilled",
    "restocked",
    "pending",
    "scheduled",
    "on_hold",
    "in_progress",
}

_ADDRESS_PARTS = ("name", "street", "address1", "address2", "company", "city", "zip", "country", "phone")


def _cols() -> dict[str, tuple[str, ...]]:
    cols = {
        "name": ("Name",),
        "email": ("Email",),
        "financial_status": ("Financial Status",),
        "paid_at": ("Paid at",),
        "fulfillment_status": ("Fulfillment Status",),
        "currency": ("Currency",),
        "shipping": ("Shipping",),
        "total": ("Total",),
        "discount_amount": ("Discount Amount",),
        "shipping_method": ("Shipping Method",),
        "created_at": ("Created at",),
        "lineitem_quantity": ("Lineitem quantity",),
        "lineitem_name": ("Lineitem name",),
        "lineitem_price": ("Lineitem price",),
        "lineitem_sku": ("Lineitem sku",),
        "notes": ("Notes",),
        "cancelled_at": ("Cancelled at",),
        "payment_method": ("Payment Method",),
        "id": ("Id",),
        "tags": ("Tags",),
        "phone": ("Phone",),
    }
    for kind in ("Billing", "Shipping"):
        for part in _ADDRESS_PARTS:
            label = {"address1": "Address1", "address2": "Address2"}.get(part, part.capitalize())
            cols[f"{kind.lower()}_{part}"] = (f"{kind} {label}",)
    return cols


class ShopifyFormat(OrderFormat):
    name = "shopify"
    label = "Shopify"
    columns = _cols()
    required = ("name", "created_at", "lineitem_quantity", "lineitem_price")
    signature = ("name", "lineitem_quantity", "lineitem_price")
    field_columns = {
        "external_id": "id",
        "number": "name",
        "placed_at": "created_at",
        "paid_at": "paid_at",
        "currency": "currency",
        "email": "email",
        "phone": "phone",
        "customer_name": "billing_name",
        "company": "billing_company",
        "notes": "notes",
        "tags": "tags",
        "shipping_cost": "shipping",
        "discount": "discount_amount",
        "total_gross": "total",
        "payment_status": "financial_status",
        "stage": "fulfillment_status",
        "lines.sku": "lineitem_sku",
        "lines.name": "lineitem_name",
        "lines.quantity": "lineitem_quantity",
        "lines.unit_price_gross": "lineitem_price",
        "billing_address.name": "billing_name",
        "billing_address.company": "billing_company",
        "billing_address.street": "billing_street",
        "billing_address.postcode": "billing_zip",
        "billing_address.city": "billing_city",
        "billing_address.country": "billing_country",
        "billing_address.phone": "billing_phone",
        "shipping_address.name": "shipping_name",
        "shipping_address.company": "shipping_company",
        "shipping_address.street": "shipping_street",
        "shipping_address.postcode": "shipping_zip",
        "shipping_address.city": "shipping_city",
        "shipping_address.country": "shipping_country",
        "shipping_address.phone": "shipping_phone",
    }

    def group_key(self, row: Row) -> str:
        return row.get("name")

    def group_column(self) -> str:
        return self.column("name")

    def _address(self, row: Row, kind: str) -> dict[str, str] | None:
        g = lambda part: row.get(f"{kind}_{part}")  # noqa: E731
        street = g("street") or " ".join(p for p in (g("address1"), g("address2")) if p)
        return address(
            {
                "name": g("name"),
                "company": g("company"),
                "street": street,
                "postcode": g("zip"),
                "city": g("city"),
                "country": g("country").upper(),
                "phone": g("phone"),
            }
        )

    def build(self, rows: list[Row]) -> Built:
        first = rows[0]
        c = Collector(self)
        placed_at = c.datetime(first, "created_at", required=True)
        paid_at = c.datetime(first, "paid_at")
        cancelled_at = c.datetime(first, "cancelled_at")
        financial = first.get("financial_status").lower()
        fulfilment = first.get("fulfillment_status").lower()
        if financial and financial not in FINANCIAL:
            c.error(
                first,
                "financial_status",
                _("unknown financial status %(value)r; expected one of %(choices)s")
                % {"value": financial, "choices": ", ".join(sorted(FINANCIAL))},
            )
        if fulfilment and fulfilment not in FULFILMENT:
            c.error(
                first,
                "fulfillment_status",
                _("unknown fulfillment status %(value)r; expected one of %(choices)s")
                % {"value": fulfilment, "choices": ", ".join(sorted(FULFILMENT))},
            )
        method = payment_method(first.get("payment_method"))
        pay_status = {
            "paid": PaymentStatus.PAID,
            "partially_paid": PaymentStatus.PARTIALLY_PAID,
            "refunded": PaymentStatus.REFUNDED,
            "partially_refunded": PaymentStatus.PARTIALLY_REFUNDED,
        }.get(financial, PaymentStatus.UNPAID)
        if pay_status == PaymentStatus.UNPAID and method == PaymentMethod.COD:
            pay_status = PaymentStatus.COD
        if cancelled_at:
            stage = Stage.CANCELLED
        elif fulfilment == "fulfilled":
            stage = Stage.RETURNED if financial == "refunded" else Stage.SHIPPED
        elif fulfilment in ("partial", "partially_fulfilled", "in_progress"):
            stage = Stage.IN_FULFILMENT
        elif financial in ("refunded", "voided") or fulfilment == "restocked":
            stage = Stage.CANCELLED
        elif (
            pay_status in (PaymentStatus.PAID, PaymentStatus.PARTIALLY_REFUNDED, PaymentStatus.COD)
            or financial == "authorized"
        ):
            stage = Stage.READY
        elif financial in ("pending", "partially_paid"):
            stage = Stage.AWAITING_PAYMENT
        else:
            stage = Stage.NEW
        lines, line_rows = [], []
        for row in rows:
            quantity = c.quantity(row, "lineitem_quantity")
            price = c.money(row, "lineitem_price", required=True)
            sku, name = row.get("lineitem_sku"), row.get("lineitem_name")
            if not sku and not name:
                c.error(row, "lineitem_sku", _("the line has neither a SKU nor a name"))
            lines.append(
                {"sku": (sku or name)[:64], "name": name, "quantity": quantity, "unit_price_gross": price}
            )
            line_rows.append(row.line)
        if c.errors:
            return Built(None, c.errors)
        shipping = self._address(first, "shipping")
        billing = self._address(first, "billing")
        payload = {
            "channel": self.channel or DEFAULT_CHANNEL,
            "external_id": first.get("id") or first.get("name"),
            "number": first.get("name"),
            "placed_at": placed_at,
            "paid_at": paid_at,
            "stage": stage,
            "payment_status": pay_status,
            "payment_method": method,
            "delivery_method": delivery_method(first.get("shipping_method")),
            "customer_name": first.get("billing_name") or first.get("shipping_name"),
            "email": first.get("email"),
            "phone": first.get("phone")
            or (shipping or {}).get("phone", "")
            or (billing or {}).get("phone", ""),
            "company": first.get("billing_company"),
            "billing_address": billing,
            "shipping_address": shipping,
            "notes": first.get("notes"),
            "tags": split_tags(first.get("tags")),
            "lines": lines,
        }
        for key, column in (
            ("shipping_cost", "shipping"),
            ("discount", "discount_amount"),
            ("total_gross", "total"),
        ):
            value = c.money(first, column)
            if value is not None:
                payload[key] = value
        if first.get("currency"):
            payload["currency"] = first.get("currency")
        if c.errors:
            return Built(None, c.errors)
        return Built(payload, [], line_rows)
