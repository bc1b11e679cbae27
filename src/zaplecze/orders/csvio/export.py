"""Export of orders in Zaplecze's CSV format (or the same columns as XLSX), streamed in chunks.

`export_orders(queryset, "csv" | "xlsx", out)` is what the UI's export button and `zaplecze orders
export` call. Orders are written oldest first (placed_at, id); what CSV export writes, import reads back
unchanged (see `csvio.zaplecze` for the columns)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import BinaryIO

from django.db.models import Prefetch, QuerySet

from zaplecze.core.businesstime import tz

from ..models import Order, OrderLine, Tag
from .zaplecze import _ADDRESS, COLUMN_NAMES

CHUNK = 500
# Columns written as numbers in XLSX.
_NUMERIC = {"shipping_cost", "discount", "total_gross", "unit_price_gross", "quantity", "line_no"}


def _iso(value) -> str:
    return value.astimezone(tz()).isoformat() if value is not None else ""


def _money(value: Decimal | None) -> str:
    return "" if value is None else f"{value:.2f}"


def _address(values: dict | None) -> list[str]:
    values = values or {}
    return [str(values.get(p, "") or "") for p in _ADDRESS]


def order_rows(order: Order) -> list[list[str]]:
    """The CSV rows (one per line) of one order, with channel, status, lines and tags loaded."""
    tags = ",".join(sorted(t.name for t in order.tags.all()))
    common = [
        order.number,
        order.channel.code,
        order.external_id,
        order.status.code,
        order.stage,
        _iso(order.placed_at),
        _iso(order.source_updated_at),
        order.currency,
        order.customer_type,
        order.customer_name,
        order.email,
        order.phone,
        order.company,
        order.nip,
        *_address(order.billing_address),
        *_address(order.shipping_address),
        order.payment_method,
        order.payment_status,
        _iso(order.paid_at),
        order.delivery_method,
        order.pickup_point,
        _money(order.shipping_cost),
        _money(order.discount),
        _money(order.total_gross),
        order.notes,
        tags,
    ]
    lines = list(order.lines.all())
    if not lines:
        return [common + [""] * 8]
    return [
        common
        + [
            str(i),
            line.sku,
            line.ean,
            line.name,
            str(line.quantity),
            _money(line.unit_price_gross),
            line.vat_rate,
            line.external_id,
        ]
        for i, line in enumerate(lines, 1)
    ]


def iter_orders(queryset: QuerySet[Order]) -> Iterator[Order]:
    qs = (
        queryset.order_by("placed_at", "id")
        .select_related("channel", "status")
        .prefetch_related(
            Prefetch("lines", queryset=OrderLine.objects.order_by("position", "id")),
            Prefetch("tags", queryset=Tag.objects.order_by("name")),
        )
    )
    return qs.iterator(chunk_size=CHUNK)


def export_orders(
    queryset: QuerySet[Order], fmt: str, out: BinaryIO, progress: Callable[[int], None] | None = None
) -> int:
    """Write the orders of `queryset` to `out` as "csv" or "xlsx"; returns the number of orders written.
    `progress(n)` is called every 500 orders with the count so far."""
    if fmt == "csv":
        return _export_csv(queryset, out, progress)
    if fmt == "xlsx":
        return _export_xlsx(queryset, out, progress)
    raise ValueError(f"Unknown export format {fmt!r}; use csv or xlsx")


def _export_csv(queryset, out: BinaryIO, progress) -> int:
    text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
    try:
        writer = csv.writer(text, lineterminator="\r\n")
        writer.writerow(COLUMN_NAMES)
        n = 0
        for order in iter_orders(queryset):
            writer.writerows(order_rows(order))
            n += 1
            if progress and n % CHUNK == 0:
                progress(n)
        text.flush()
    finally:
        text.detach()
    if progress:
        progress(n)
    return n


def _export_xlsx(queryset, out: BinaryIO, progress) -> int:
    import xlsxwriter

    book = xlsxwriter.Workbook(
        out,
        {
            "constant_memory": True,
            "strings_to_numbers": False,
            "strings_to_formulas": False,
            "strings_to_urls": False,
        },
    )
    sheet = book.add_worksheet("orders")
    bold = book.add_format({"bold": True})
    money = book.add_format({"num_format": "0.00"})
    numeric = [i for i, name in enumerate(COLUMN_NAMES) if name in _NUMERIC]
    for col, name in enumerate(COLUMN_NAMES):
        sheet.write_string(0, col, name, bold)
    row_no, n = 1, 0
    for order in iter_orders(queryset):
        for row in order_rows(order):
            for col, value in enumerate(row):
                if col in numeric and value != "":
                    name = COLUMN_NAMES[col]
                    if name in ("quantity", "line_no"):
                        sheet.write_number(row_no, col, int(value))
                    else:
                        sheet.write_number(row_no, col, float(Decimal(value)), money)
                elif value:
                    sheet.write_string(row_no, col, value)
            row_no += 1
        n += 1
        if progress and n % CHUNK == 0:
            progress(n)
    sheet.freeze_panes(1, 0)
    book.close()
    if progress:
        progress(n)
    return n
