"""A WooCommerce order export CSV, in the column set of the common "Order Export" plugins.

WooCommerce has no built-in order CSV, so this follows the widely used layout: one row per line item,
the order columns repeated (or only on the first row) and rows of one order consecutive. Headers are
matched case-insensitively; each accepted spelling is listed below (first = documented name).

Required: Order ID, Order Date, Order Status, Item SKU, Item Quantity, Item Cost.
Optional: Order Number, Order Modified Date, Paid Date, Order Currency, Customer Email, Customer Note,
Billing First Name, Billing Last Name, Billing Company, Billing Address 1, Billing Address 2,
Billing City, Billing Postcode, Billing Country, Billing Phone, Billing NIP, the same six
Shipping ... columns and Shipping Phone, Payment Method Title, Shipping Method Title, Order Shipping,
Order Shipping Tax, Cart Discount, Cart Discount Tax, Order Total, Item ID, Item Name, Item Tax.

Amounts: Item Cost is WooCommerce's unit price; when Item Tax (the line's tax total) is given the
gross unit price is Item Cost + Item Tax / Item Quantity, rounded to 0.01. Shipping = Order Shipping +
Order Shipping Tax; discount = Cart Discount + Cart Discount Tax; Order Total is the gross total.
Statuses (also the wc- prefixed slugs and the Polish labels) -> stage / payment status:
  pending -> awaiting payment / unpaid; on-hold -> awaiting payment / unpaid;
  processing -> ready / paid (cash on delivery: to be collected); completed -> completed / paid;
  cancelled -> cancelled / unpaid; refunded -> cancelled / refunded; failed -> cancelled / unpaid;
  checkout-draft -> new / unpaid.
An empty Item SKU uses the item name as the SKU (the order is kept and flagged for attention).
The channel is --channel, else "shop"."""

from __future__ import annotations

from decimal import Decimal

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
    q2,
)

STATUSES: dict[str, tuple[str, str]] = {
    "pending": (Stage.AWAITING_PAYMENT, PaymentStatus.UNPAID),
    "on-hold": (Stage.AWAITING_PAYMENT, PaymentStatus.UNPAID),
    "processing": (Stage.READY, PaymentStatus.PAID),
    "completed": (Stage.COMPLETED, PaymentStatus.PAID),
    "cancelled": (Stage.CANCELLED, PaymentStatus.UNPAID),
    "refunded": (Stage.CANCELLED, PaymentStatus.REFUNDED),
    "failed": (Stage.CANCELLED, PaymentStatus.UNPAID),
    "checkout-draft": (Stage.NEW, PaymentStatus.UNPAID),
}
STATUS_ALIASES = {
    "pending payment": "pending",
    "on hold": "on-hold",
    "draft": "checkout-draft",
    "oczekujące na płatność": "pending",
    "oczekuje na płatność": "pending",
    "wstrzymane (oczekujące)": "on-hold",
    "wstrzymane": "on-hold",
    "w trakcie realizacji": "processing",
    "zrealizowane": "completed",
    "anulowane": "cancelled",
    "zwrócone": "refunded",
    "nieudane": "failed",
    "szkic": "checkout-draft",
}


def _cols() -> dict[str, tuple[str, ...]]:
    cols: dict[str, tuple[str, ...]] = {
        "order_id": ("Order ID", "order_id", "id zamówienia"),
        "order_number": ("Order Number", "order_number", "numer zamówienia"),
        "order_date": ("Order Date", "order_date", "date created", "data zamówienia"),
        "order_status": ("Order Status", "order_status", "status zamówienia"),
        "date_modified": ("Order Modified Date", "date modified", "order_modified_date"),
        "date_paid": ("Paid Date", "date paid", "order paid date", "date_paid"),
        "currency": ("Order Currency", "currency", "order_currency"),
        "customer_email": ("Customer Email", "billing email", "email (billing)", "billing_email"),
        "customer_note": ("Customer Note", "customer_note"),
        "payment_method_title": ("Payment Method Title", "payment method", "payment_method_title"),
        "shipping_method_title": ("Shipping Method Title", "shipping method", "shipping_method_title"),
        "order_shipping": ("Order Shipping", "shipping total", "order shipping amount", "shipping_total"),
        "order_shipping_tax": ("Order Shipping Tax", "shipping tax", "shipping_tax_total"),
        "cart_discount": ("Cart Discount", "discount total", "cart discount amount", "discount_total"),
        "cart_discount_tax": ("Cart Discount Tax", "discount tax", "discount_tax"),
        "order_total": ("Order Total", "order total amount", "order_total"),
        "item_id": ("Item ID", "line item id", "item_id"),
        "item_sku": ("Item SKU", "sku", "item_sku"),
        "item_name": ("Item Name", "product name", "item_name"),
        "item_quantity": ("Item Quantity", "quantity", "qty", "item_quantity"),
        "item_cost": ("Item Cost", "item price", "item_cost"),
        "item_tax": ("Item Tax", "item tax total", "item_tax"),
        "billing_nip": ("Billing NIP", "nip", "vat number", "billing vat number", "billing_nip"),
    }
    parts = {
        "first_name": "First Name",
        "last_name": "Last Name",
        "company": "Company",
        "address_1": "Address 1",
        "address_2": "Address 2",
        "city": "City",
        "postcode": "Postcode",
        "country": "Country",
        "phone": "Phone",
    }
    for kind in ("Billing", "Shipping"):
        for key, label in parts.items():
            cols[f"{kind.lower()}_{key}"] = (f"{kind} {label}", f"{label} ({kind})", f"{kind.lower()}_{key}")
    return cols


class WooCommerceFormat(OrderFormat):
    name = "woocommerce"
    label = "WooCommerce"
    columns = _cols()
    required = ("order_id", "order_date", "order_status", "item_sku", "item_quantity", "item_cost")
    signature = ("order_id", "order_status", "item_quantity")
    field_columns = {
        "external_id": "order_id",
        "number": "order_number",
        "placed_at": "order_date",
        "updated_at": "date_modified",
        "paid_at": "date_paid",
        "currency": "currency",
        "email": "customer_email",
        "phone": "billing_phone",
        "customer_name": "billing_first_name",
        "company": "billing_company",
        "nip": "billing_nip",
        "notes": "customer_note",
        "shipping_cost": "order_shipping",
        "discount": "cart_discount",
        "total_gross": "order_total",
        "stage": "order_status",
        "lines.sku": "item_sku",
        "lines.name": "item_name",
        "lines.quantity": "item_quantity",
        "lines.unit_price_gross": "item_cost",
        "lines.external_id": "item_id",
        "billing_address.postcode": "billing_postcode",
        "billing_address.country": "billing_country",
        "billing_address.city": "billing_city",
        "billing_address.street": "billing_address_1",
        "billing_address.phone": "billing_phone",
        "billing_address.name": "billing_first_name",
        "shipping_address.postcode": "shipping_postcode",
        "shipping_address.country": "shipping_country",
        "shipping_address.city": "shipping_city",
        "shipping_address.street": "shipping_address_1",
        "shipping_address.phone": "shipping_phone",
        "shipping_address.name": "shipping_first_name",
    }

    def group_key(self, row: Row) -> str:
        return row.get("order_id")

    def group_column(self) -> str:
        return self.column("order_id")

    def _address(self, row: Row, kind: str) -> dict[str, str] | None:
        g = lambda part: row.get(f"{kind}_{part}")  # noqa: E731
        return address(
            {
                "name": " ".join(p for p in (g("first_name"), g("last_name")) if p),
                "company": g("company"),
                "street": " ".join(p for p in (g("address_1"), g("address_2")) if p),
                "postcode": g("postcode"),
                "city": g("city"),
                "country": g("country").upper(),
                "phone": g("phone"),
            }
        )

    def build(self, rows: list[Row]) -> Built:
        first = rows[0]
        c = Collector(self)
        placed_at = c.datetime(first, "order_date", required=True)
        updated_at = c.datetime(first, "date_modified")
        paid_at = c.datetime(first, "date_paid")
        raw_status = first.get("order_status").lower().removeprefix("wc-")
        status = STATUS_ALIASES.get(raw_status, raw_status)
        if status not in STATUSES:
            c.error(
                first,
                "order_status",
                _("unknown WooCommerce status %(value)r; expected one of %(choices)s")
                % {"value": first.get("order_status"), "choices": ", ".join(STATUSES)},
            )
            stage, pay_status = Stage.NEW, PaymentStatus.UNPAID
        else:
            stage, pay_status = STATUSES[status]
        method = payment_method(first.get("payment_method_title"))
        if method == PaymentMethod.COD and status == "processing":
            pay_status = PaymentStatus.COD
        lines, line_rows = [], []
        for row in rows:
            quantity = c.quantity(row, "item_quantity")
            cost = c.money(row, "item_cost", required=True)
            tax = c.money(row, "item_tax")
            sku, name = row.get("item_sku"), row.get("item_name")
            if not sku and not name:
                c.error(row, "item_sku", _("the line has neither a SKU nor a name"))
            unit = cost
            if cost is not None and tax and quantity:
                unit = q2(cost + tax / quantity)
            line = {"sku": (sku or name)[:64], "name": name, "quantity": quantity, "unit_price_gross": unit}
            if row.get("item_id"):
                line["external_id"] = row.get("item_id")
            lines.append(line)
            line_rows.append(row.line)
        shipping_cost = (c.money(first, "order_shipping") or Decimal(0)) + (
            c.money(first, "order_shipping_tax") or Decimal(0)
        )
        discount = (c.money(first, "cart_discount") or Decimal(0)) + (
            c.money(first, "cart_discount_tax") or Decimal(0)
        )
        total = c.money(first, "order_total")
        if c.errors:
            return Built(None, c.errors)
        billing = self._address(first, "billing")
        shipping = self._address(first, "shipping")
        payload = {
            "channel": self.channel or DEFAULT_CHANNEL,
            "external_id": first.get("order_id"),
            "number": first.get("order_number") or first.get("order_id"),
            "placed_at": placed_at,
            "updated_at": updated_at,
            "paid_at": paid_at,
            "stage": stage,
            "payment_status": pay_status,
            "payment_method": method,
            "delivery_method": delivery_method(first.get("shipping_method_title")),
            "customer_name": (billing or {}).get("name", "") or (shipping or {}).get("name", ""),
            "email": first.get("customer_email"),
            "phone": first.get("billing_phone") or first.get("shipping_phone"),
            "company": first.get("billing_company"),
            "nip": first.get("billing_nip"),
            "billing_address": billing,
            "shipping_address": shipping,
            "notes": first.get("customer_note"),
            "shipping_cost": shipping_cost,
            "discount": discount,
            "lines": lines,
        }
        if payload["nip"]:
            payload["customer_type"] = "business"
        if total is not None:
            payload["total_gross"] = total
        if first.get("currency"):
            payload["currency"] = first.get("currency")
        return Built(payload, [], line_rows)
