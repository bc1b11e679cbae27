"""Historical orders from other systems: a generic column mapping (CSV, whitespace-separated or fixed-width
files, optionally gzip-compressed) and a bulk intake for closed orders.

This is a different door from `services.ingest_order()`: the orders are history, already delivered or
cancelled, so nothing is reserved, no automation runs, unknown SKUs are not flagged (lines keep their SKU,
name and price without a variant) and there is no line limit. Orders are inserted in batches, each batch in
one transaction; the import is idempotent by (channel, external id): a re-run skips the orders already
there. A bad row fails only its order, with an error naming the row and the column; the import goes on.

Definitions (docs/history-import.md):
- an order is the rows with the same order number (they must follow each other in the file, or at least
  lie within `KEEP_OPEN` orders of each other); a file without an order column has one order per row;
- an order whose number starts with the mapping's cancellation prefix (Online Retail: `C`) is stored as
  its own order in the cancelled stage (quantities as positive numbers), so it never counts in the sales
  figures; the invoice it cancels keeps its value (the file does not say which invoice that was);
- a negative quantity on a row of an ordinary order is, by the mapping's `negative_quantity`: an error,
  a row left out (`skip`), or a cancellation (`cancel`: an order whose rows are all negative is a
  cancelled order);
- a line's gross value is quantity x unit price rounded to the cent (half up), or the line total column
  when the mapping gives one; an order's total is the sum of its lines;
- placed_at is the earliest date of the order's rows, read in the mapping's time zone (a date without a
  time is taken as 12:00 there).
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import json
import re
import time
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db import IntegrityError, transaction
from django.utils import timezone

from zaplecze.catalog.models import Variant, VatRate
from zaplecze.core.errors import DomainError
from zaplecze.core.services import audit_record

from .intake import _insert, _insert_returning
from .models import (
    Channel,
    Customer,
    CustomerExternalId,
    CustomerType,
    Order,
    OrderLine,
    OrderSearchToken,
    PaymentMethod,
    PaymentStatus,
    Stage,
)
from .services import status_for

CENT = Decimal("0.01")
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
BATCH_ORDERS = 2000  # orders per insert batch (one transaction each)
KEEP_OPEN = 200  # the most recent orders kept open when a batch is written (rows of one order may interleave)
MAX_ERRORS_KEPT = 1000
FIELDS = (
    "order", "date", "sku", "name", "quantity", "unit_price", "line_total", "customer_id", "email", "country",
    "postcode", "currency",
)  # fmt: skip
NEGATIVE_RULES = ("error", "skip", "cancel")

PRESETS: dict[str, dict[str, Any]] = {
    # UCI "Online Retail" (a UK gift-ware shop, 2010-2011): one row per invoice line.
    "online-retail": {
        "format": "csv",
        "delimiter": ",",
        "header": True,
        "columns": {
            "order": "InvoiceNo",
            "date": "InvoiceDate",
            "sku": "StockCode",
            "name": "Description",
            "quantity": "Quantity",
            "unit_price": "UnitPrice",
            "customer_id": "CustomerID",
            "country": "Country",
        },
        "date_format": "%Y-%m-%d %H:%M:%S",
        "timezone": "Europe/London",
        "currency": "GBP",
        "vat_rate": "0",
        # C-invoices cancel lines; negative quantities elsewhere are stock write-offs at price 0 (damaged,
        # lost, "?"), not sales; A-invoices are three bad-debt adjustments, not sales.
        "cancellation": {"order_prefix": "C", "negative_quantity": "skip"},
        "skip_order_prefixes": ["A"],
    },
    # CDNOW (Fader & Hardie): one row per purchase, whitespace-separated, no order number and no products.
    "cdnow": {
        "format": "whitespace",
        "header": True,
        "columns": {
            "date": "date",
            "sku": {"value": "CD"},
            "name": {"value": "CDs"},
            "quantity": "number_of_cds",
            "line_total": "dollar_value",
            "customer_id": "customer_id",
        },
        "date_format": "%Y%m%d",
        "timezone": "America/New_York",
        "currency": "USD",
        "vat_rate": "0",
    },
}


class MappingError(DomainError):
    """The mapping itself is wrong (names the mapping key), or the file does not fit it (names the column)."""


@dataclass(frozen=True)
class Col:
    """Where a field comes from: a header name, a column number (1 = first) or a constant value."""

    name: str | None = None
    number: int | None = None
    value: str | None = None

    def label(self) -> str:
        if self.value is not None:
            return f"(constant {self.value!r})"
        return self.name if self.name is not None else f"column {self.number}"


@dataclass
class Mapping:
    columns: dict[str, Col]
    format: str = "csv"
    delimiter: str = ","
    header: bool = True
    encoding: str = "utf-8"
    widths: list[int] = field(default_factory=list)
    date_format: str = "%Y-%m-%d %H:%M:%S"
    timezone: str = ""
    currency: str = "PLN"
    vat_rate: str = VatRate.R23
    decimal_comma: bool = False
    cancel_prefix: str = ""
    negative_quantity: str = "error"
    skip_prefixes: tuple[str, ...] = ()

    def zone(self) -> ZoneInfo:
        from zaplecze.core.businesstime import tz

        return ZoneInfo(self.timezone) if self.timezone else tz()


def _col(key: str, spec: Any) -> Col:
    if isinstance(spec, bool):
        raise MappingError(
            f"columns.{key}: give a header name, a column number or {{'value': ...}}", field=key
        )
    if isinstance(spec, int):
        if spec < 1:
            raise MappingError(f"columns.{key}: column numbers start at 1", field=key)
        return Col(number=spec)
    if isinstance(spec, str) and spec.strip():
        return Col(name=spec.strip())
    if isinstance(spec, dict) and set(spec) == {"value"} and isinstance(spec["value"], str | int):
        return Col(value=str(spec["value"]))
    raise MappingError(f"columns.{key}: give a header name, a column number or {{'value': ...}}", field=key)


def mapping_from_dict(raw: dict[str, Any]) -> Mapping:
    """Validate a mapping (as read from JSON/TOML); errors name the mapping key."""
    if not isinstance(raw, dict):
        raise MappingError("The mapping must be an object", field="mapping")
    known = {
        "format", "delimiter", "header", "encoding", "widths", "columns", "date_format", "timezone", "currency",
        "vat_rate", "decimal_comma", "cancellation", "skip_order_prefixes", "description",
    }  # fmt: skip
    unknown = sorted(set(raw) - known)
    if unknown:
        raise MappingError(f"Unknown mapping key(s): {', '.join(unknown)}", field=unknown[0])
    cols = raw.get("columns")
    if not isinstance(cols, dict) or not cols:
        raise MappingError(
            "columns: map fields (order, date, sku, quantity, ...) to columns", field="columns"
        )
    bad = sorted(set(cols) - set(FIELDS))
    if bad:
        raise MappingError(
            f"columns: unknown field(s) {', '.join(bad)}; known: {', '.join(FIELDS)}", field=bad[0]
        )
    columns = {k: _col(k, v) for k, v in cols.items() if v is not None}
    for need in ("date", "quantity"):
        if need not in columns:
            raise MappingError(f"columns.{need} is required", field=need)
    if "unit_price" not in columns and "line_total" not in columns:
        raise MappingError("columns: give unit_price or line_total", field="unit_price")
    if "sku" not in columns and "name" not in columns:
        raise MappingError("columns: give sku (or at least name)", field="sku")
    fmt = raw.get("format", "csv")
    if fmt not in ("csv", "whitespace", "fixed"):
        raise MappingError("format: csv, whitespace or fixed", field="format")
    widths = raw.get("widths") or []
    if fmt == "fixed" and (not widths or not all(isinstance(w, int) and w > 0 for w in widths)):
        raise MappingError("widths: a fixed-width file needs the width of each column", field="widths")
    header = bool(raw.get("header", True))
    if not header and any(c.name is not None for c in columns.values()):
        raise MappingError("A file without a header row needs column numbers, not names", field="header")
    delimiter = raw.get("delimiter", ",")
    if fmt == "csv" and (not isinstance(delimiter, str) or len(delimiter) != 1):
        raise MappingError("delimiter: one character", field="delimiter")
    tzname = raw.get("timezone", "") or ""
    if tzname:
        try:
            ZoneInfo(tzname)
        except (ZoneInfoNotFoundError, ValueError):
            raise MappingError(f"timezone: unknown time zone {tzname!r}", field="timezone") from None
    currency = str(raw.get("currency", "PLN")).upper()
    if not re.fullmatch(r"[A-Z]{3}", currency):
        raise MappingError("currency: a three-letter ISO code", field="currency")
    vat = str(raw.get("vat_rate", VatRate.R23))
    if vat not in VatRate.values:
        raise MappingError(f"vat_rate: one of {', '.join(VatRate.values)}", field="vat_rate")
    cancel = raw.get("cancellation") or {}
    if not isinstance(cancel, dict) or set(cancel) - {"order_prefix", "negative_quantity"}:
        raise MappingError("cancellation: {order_prefix, negative_quantity}", field="cancellation")
    negative = cancel.get("negative_quantity", "error")
    if negative not in NEGATIVE_RULES:
        raise MappingError(
            f"cancellation.negative_quantity: {', '.join(NEGATIVE_RULES)}", field="negative_quantity"
        )
    if cancel.get("order_prefix") and "order" not in columns:
        raise MappingError("cancellation.order_prefix needs an order column", field="order_prefix")
    skip = raw.get("skip_order_prefixes") or []
    if not isinstance(skip, list) or not all(isinstance(s, str) and s for s in skip):
        raise MappingError("skip_order_prefixes: a list of prefixes", field="skip_order_prefixes")
    date_format = raw.get("date_format", "%Y-%m-%d %H:%M:%S")
    if not isinstance(date_format, str) or "%" not in date_format:
        raise MappingError("date_format: a strftime format such as %Y-%m-%d %H:%M:%S", field="date_format")
    return Mapping(
        columns=columns,
        format=fmt,
        delimiter=delimiter,
        header=header,
        encoding=str(raw.get("encoding", "utf-8")),
        widths=list(widths),
        date_format=date_format,
        timezone=tzname,
        currency=currency,
        vat_rate=vat,
        decimal_comma=bool(raw.get("decimal_comma", False)),
        cancel_prefix=str(cancel.get("order_prefix") or ""),
        negative_quantity=negative,
        skip_prefixes=tuple(skip),
    )


def mapping_load(*, path: Path | None = None, preset: str = "") -> Mapping:
    """A mapping from a .json or .toml file, or a built-in preset."""
    if preset:
        if preset not in PRESETS:
            raise MappingError(f"Unknown preset {preset!r}: {', '.join(PRESETS)}", field="preset")
        return mapping_from_dict(PRESETS[preset])
    if path is None:
        raise MappingError("Give a mapping file or a preset", field="mapping")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise MappingError(f"Cannot read the mapping {path}: {exc.strerror}", field="mapping") from None
    try:
        raw = tomllib.loads(text) if path.suffix.lower() == ".toml" else json.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise MappingError(
            f"The mapping {path.name} is not valid {path.suffix[1:] or 'JSON'}: {exc}", field="mapping"
        ) from None
    return mapping_from_dict(raw)


# --- reading ----------------------------------------------------------------------------------------------


def _open_text(path: Path, encoding: str) -> io.TextIOBase:
    with open(path, "rb") as fh:
        magic = fh.read(2)
    raw = gzip.open(path, "rb") if magic == b"\x1f\x8b" else open(path, "rb")  # noqa: SIM115
    try:
        return io.TextIOWrapper(raw, encoding=encoding, newline="")
    except LookupError:
        raw.close()
        raise


def _records(fh: io.TextIOBase, m: Mapping) -> Iterator[tuple[int, list[str]]]:
    """(physical line number, cells) of every non-empty record."""
    if m.format == "csv":
        reader = csv.reader(fh, delimiter=m.delimiter)
        for cells in reader:
            if cells and any(c.strip() for c in cells):
                yield reader.line_num, cells
        return
    for n, line in enumerate(fh, start=1):
        line = line.rstrip("\r\n")
        if not line.strip():
            continue
        if m.format == "whitespace":
            yield n, line.split()
        else:
            cells, pos = [], 0
            for w in m.widths:
                cells.append(line[pos : pos + w].strip())
                pos += w
            yield n, cells


_COUNTRY_ALIASES = {
    "uk": "GB", "great britain": "GB", "england": "GB", "eire": "IE", "usa": "US", "united states": "US",
    "rsa": "ZA", "czech republic": "CZ", "hong kong": "HK", "polska": "PL", "deutschland": "DE",
}  # fmt: skip


def _country_table() -> dict[str, str]:
    from babel import Locale

    table = {}
    for code, name in Locale("en").territories.items():
        if len(code) == 2 and code.isalpha():
            table[name.lower()] = code
            table[code.lower()] = code
    table.update(_COUNTRY_ALIASES)
    return table


@dataclass
class Line:
    row: int
    sku: str
    name: str
    quantity: int
    unit_price: Decimal
    total: Decimal


@dataclass
class PendingOrder:
    key: str
    number: str
    first_row: int
    placed_at: dt.datetime
    customer_ref: str = ""
    email: str = ""
    country: str = ""
    country_name: str = ""
    postcode: str = ""
    currency: str = ""
    cancelled: bool = False
    negative: list[bool] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)
    nets: list[Decimal] = field(default_factory=list)
    failed: bool = False


@dataclass
class HistoryReport:
    rows: int = 0
    orders: int = 0
    created: int = 0
    existing: int = 0
    failed: int = 0
    cancelled: int = 0
    customers_created: int = 0
    lines: int = 0
    skipped_rows: int = 0
    skipped_reasons: dict[str, int] = field(default_factory=dict)
    errors: list[dict] = field(default_factory=list)
    errors_omitted: int = 0
    seconds: float = 0.0

    def error(self, row: int, column: str, message: str) -> None:
        if len(self.errors) < MAX_ERRORS_KEPT:
            self.errors.append({"row": row, "column": column, "message": message})
        else:
            self.errors_omitted += 1

    def skip(self, reason: str) -> None:
        self.skipped_rows += 1
        self.skipped_reasons[reason] = self.skipped_reasons.get(reason, 0) + 1

    def as_json(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


class _RowError(Exception):
    def __init__(self, column: str, message: str):
        self.column, self.message = column, message


class _Parser:
    """Turns a record into checked values; knows the column positions once the header is read."""

    def __init__(self, m: Mapping, header: list[str] | None, currency: str):
        self.m = m
        self.zone = m.zone()
        self.currency = currency
        self.date_only = not any(d in m.date_format for d in ("%H", "%I", "%M", "%S", "%X", "%c"))
        self.pos: dict[str, int | None] = {}
        self.labels: dict[str, str] = {}
        self.const: dict[str, str] = {}
        for key, col in m.columns.items():
            self.labels[key] = col.label()
            if col.value is not None:
                self.const[key] = col.value
            elif col.name is not None:
                names = [h.strip().lstrip("\ufeff") for h in (header or [])]
                if col.name not in names:
                    raise MappingError(
                        f"columns.{key}: the file has no column {col.name!r} (it has: {', '.join(names)})",
                        field=key,
                    )
                self.pos[key] = names.index(col.name)
            else:
                self.pos[key] = (col.number or 1) - 1
        self.countries = _country_table() if "country" in m.columns else {}
        self.dates: dict[str, dt.datetime] = {}  # rows of one order mostly share their date

    def text(self, cells: list[str], key: str) -> str:
        i = self.pos.get(key)
        if i is None:
            return self.const.get(key, "")
        try:
            return cells[i].strip()
        except IndexError:
            raise _RowError(
                self.labels[key], f"the row has {len(cells)} columns, this is column {i + 1}"
            ) from None

    def decimal(self, cells: list[str], key: str) -> Decimal:
        raw = self.text(cells, key)
        value = raw.replace(" ", "").replace("\u00a0", "") if " " in raw or "\u00a0" in raw else raw
        if self.m.decimal_comma:
            value = value.replace(".", "").replace(",", ".")
        try:
            d = Decimal(value)
        except InvalidOperation:
            raise _RowError(self.labels[key], f"{raw!r} is not a number") from None
        if not d.is_finite():
            raise _RowError(self.labels[key], f"{raw!r} is not a number")
        return d

    def quantity(self, cells: list[str]) -> int:
        d = self.decimal(cells, "quantity")
        if d != d.to_integral_value():
            raise _RowError(self.labels["quantity"], f"{d} is not a whole number")
        return int(d)

    def placed(self, cells: list[str]) -> dt.datetime:
        raw = self.text(cells, "date")
        hit = self.dates.get(raw)
        if hit is not None:
            return hit
        if len(self.dates) > 50_000:
            self.dates.clear()
        self.dates[raw] = value = self._placed(raw)
        return value

    def _placed(self, raw: str) -> dt.datetime:
        try:
            naive = dt.datetime.strptime(raw, self.m.date_format)  # noqa: DTZ007 - the zone is set below
        except ValueError:
            raise _RowError(
                self.labels["date"], f"{raw!r} is not a date in the format {self.m.date_format}"
            ) from None
        if self.date_only:
            naive = naive.replace(hour=12)
        return naive.replace(tzinfo=self.zone).astimezone(dt.UTC)

    def country(self, cells: list[str]) -> tuple[str, str]:
        raw = self.text(cells, "country")
        return self.countries.get(raw.lower(), ""), raw


def _q2(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _net(gross: Decimal, rate: str) -> Decimal:
    divisor = 1 + VatRate.fraction(rate)
    return gross if divisor == 1 else _q2(gross / divisor)


# --- the import -------------------------------------------------------------------------------------------


def history_import(
    *,
    path: Path,
    mapping: Mapping,
    channel: str,
    currency: str = "",
    actor=None,
    progress: Callable[[int, int], None] | None = None,
    batch_orders: int = BATCH_ORDERS,
    keep_open: int = KEEP_OPEN,
) -> HistoryReport:
    """Import the closed orders of a history file into `channel` (its code). Returns the report; errors in
    rows are in `report.errors`, never raised. Raises MappingError when the file does not fit the mapping."""
    started = time.perf_counter()
    ch = Channel.objects.filter(code=channel).first()
    if ch is None:
        raise MappingError(f"No channel {channel!r}", field="channel")
    cur = (currency or mapping.currency).upper()
    if not re.fullmatch(r"[A-Z]{3}", cur):
        raise MappingError("currency: a three-letter ISO code", field="currency")
    report = HistoryReport()
    writer = _Writer(ch, mapping, report, actor=actor, source=path.name)
    pending: dict[str, PendingOrder] = {}
    closed: set[str] = set()
    repeats: dict[str, int] = {}
    has_order = "order" in mapping.columns
    size = path.stat().st_size
    try:
        fh = _open_text(path, mapping.encoding)
    except OSError as exc:
        raise MappingError(f"Cannot read {path}: {exc.strerror}", field="file") from None
    except LookupError:
        raise MappingError(f"encoding: unknown encoding {mapping.encoding!r}", field="encoding") from None
    with fh:
        compressed = getattr(fh.buffer, "fileobj", None) or fh.buffer  # type: ignore[attr-defined]
        records = _records(fh, mapping)
        header = None
        try:
            if mapping.header:
                first = next(records, None)
                if first is None:
                    raise MappingError("The file is empty", field="file")
                header = first[1]
            parser = _Parser(mapping, header, cur)
            for row, cells in records:
                report.rows += 1
                _take_row(row, cells, parser, mapping, report, pending, closed, repeats, has_order)
                if len(pending) >= batch_orders + keep_open:
                    keys = list(pending)[:batch_orders]
                    writer.write([pending.pop(k) for k in keys])
                    closed.update(keys)
                    if progress is not None:
                        progress(compressed.tell(), size)
        except UnicodeDecodeError as exc:
            raise MappingError(
                f'The file is not {mapping.encoding} (near byte {exc.start}): set "encoding" in the mapping',
                field="encoding",
            ) from None
        writer.write(list(pending.values()))
        if progress is not None:
            progress(size, size)
    writer.finish()
    report.seconds = round(time.perf_counter() - started, 2)
    return report


def _take_row(
    row, cells, parser: _Parser, m: Mapping, report: HistoryReport, pending, closed, repeats, has_order
):
    number = parser.text(cells, "order") if has_order else ""
    if has_order and not number:
        report.error(row, parser.labels["order"], "the order number is empty")
        return
    if number and m.skip_prefixes and number.startswith(m.skip_prefixes):
        report.skip("order prefix skipped")
        return
    try:
        placed = parser.placed(cells)
        customer_ref = parser.text(cells, "customer_id") if "customer_id" in m.columns else ""
        if customer_ref.endswith(".0") and customer_ref[:-2].isdigit():
            customer_ref = customer_ref[:-2]  # ids written as floats by spreadsheets
        email = parser.text(cells, "email").lower() if "email" in m.columns else ""
        if email and ("@" not in email or len(email) > 254):
            raise _RowError(parser.labels["email"], f"{email!r} is not an e-mail address")
    except _RowError as exc:
        report.error(row, exc.column, exc.message)
        if not has_order:
            report.failed += 1  # one row, one order
        elif number in pending:
            pending[number].failed = True
        elif number not in closed:  # later rows of this order must not make half an order
            pending[number] = PendingOrder(
                key=number, number=number, first_row=row, placed_at=EPOCH, failed=True
            )
        return
    if not has_order:
        base = f"{customer_ref or email or 'row'}-{placed.astimezone(parser.zone):%Y%m%d}"
        n = repeats[base] = repeats.get(base, 0) + 1
        number = f"{base}-{n}"
    order = pending.get(number)
    if order is None:
        if number in closed:
            report.error(
                row,
                parser.labels.get("order", "order"),
                f"order {number} was already written: rows of one order must follow each other",
            )
            return
        order = pending[number] = PendingOrder(
            key=number,
            number=number,
            first_row=row,
            placed_at=placed,
            customer_ref=customer_ref,
            email=email,
            currency=parser.currency,
            cancelled=bool(m.cancel_prefix) and number.startswith(m.cancel_prefix),
        )
    try:
        _fill(order, row, cells, parser, m, placed, customer_ref, email, report)
    except _RowError as exc:
        order.failed = True
        report.error(row, exc.column, exc.message)


def _fill(order: PendingOrder, row, cells, parser: _Parser, m: Mapping, placed, customer_ref, email, report):
    if customer_ref != order.customer_ref and not order.failed:
        raise _RowError(
            parser.labels["customer_id"],
            f"customer {customer_ref or '(none)'} differs from {order.customer_ref or '(none)'} on row "
            f"{order.first_row} of order {order.number}",
        )
    if email and order.email and email != order.email:
        raise _RowError(parser.labels["email"], f"e-mail differs from row {order.first_row} of the order")
    order.email = order.email or email
    if placed < order.placed_at:
        order.placed_at = placed
    quantity = parser.quantity(cells)
    if quantity == 0:
        raise _RowError(parser.labels["quantity"], "the quantity is 0")
    negative = quantity < 0
    if negative and not order.cancelled:
        if m.negative_quantity == "error":
            raise _RowError(
                parser.labels["quantity"],
                f"negative quantity {quantity} in an order that is not a cancellation",
            )
        if m.negative_quantity == "skip":
            report.skip("negative quantity")
            return
    quantity = abs(quantity)
    if "unit_price" in m.columns:
        unit = parser.decimal(cells, "unit_price")
        if unit < 0:
            raise _RowError(parser.labels["unit_price"], f"negative price {unit}")
        total = _q2(unit * quantity)
        if "line_total" in m.columns:
            total = abs(parser.decimal(cells, "line_total"))
    else:
        total = abs(parser.decimal(cells, "line_total"))
        unit = total / quantity
    sku = parser.text(cells, "sku") if "sku" in m.columns else ""
    name = parser.text(cells, "name") if "name" in m.columns else ""
    sku = sku or name[:64]
    if not sku:
        raise _RowError(parser.labels.get("sku", "sku"), "the SKU is empty")
    if len(sku) > 64:
        raise _RowError(parser.labels["sku"], f"the SKU is longer than 64 characters ({len(sku)})")
    if "country" in m.columns and not order.country_name:
        order.country, order.country_name = parser.country(cells)
    if "postcode" in m.columns and not order.postcode:
        order.postcode = parser.text(cells, "postcode")[:12]
    if "currency" in m.columns:
        cur = parser.text(cells, "currency").upper() or parser.currency
        if not re.fullmatch(r"[A-Z]{3}", cur):
            raise _RowError(parser.labels["currency"], f"{cur!r} is not a currency code")
        if order.lines and cur != order.currency:
            raise _RowError(
                parser.labels["currency"], f"currency {cur} differs from {order.currency} in the order"
            )
        order.currency = cur
    order.negative.append(negative)
    order.lines.append(Line(row, sku, (name or sku)[:300], quantity, unit, total))


_ORDER_FIELDS = (
    "channel_id", "external_id", "number", "status_id", "stage", "customer_id", "customer_type", "email",
    "shipping_address", "shipping_postcode", "shipping_country", "payment_method", "payment_status", "paid_at",
    "currency", "total_net", "total_vat", "total_gross", "placed_at", "internal_notes", "source_hash",
    "created_at", "updated_at",
)  # fmt: skip
_LINE_FIELDS = (
    "order_id", "position", "variant_id", "sku", "name", "quantity", "unit_price_gross", "vat_rate", "total_net", "total_gross",
    "external_id",
)  # fmt: skip


class _Writer:
    """Writes batches of finished orders: one transaction per batch, existing orders skipped."""

    def __init__(self, channel: Channel, m: Mapping, report: HistoryReport, *, actor, source: str):
        self.channel, self.m, self.report, self.actor, self.source = channel, m, report, actor, source
        self.delivered = status_for(stage=Stage.DELIVERED)
        self.cancelled = status_for(stage=Stage.CANCELLED)

    def write(self, orders: list[PendingOrder]) -> None:
        ready = []
        for o in orders:
            if o.failed:
                self.report.failed += 1
                continue
            if not o.lines:
                continue  # every row left out (skipped), nothing to record
            if not o.cancelled and m_cancel_all(self.m, o):
                o.cancelled = True
            elif not o.cancelled and any(o.negative):
                first = o.lines[o.negative.index(True)].row
                self.report.error(
                    first,
                    self.m.columns["quantity"].label(),
                    "a negative quantity in an order with positive ones",
                )
                self.report.failed += 1
                continue
            ready.append(o)
        self.report.orders += len(ready)
        if not ready:
            return
        for attempt in (1, 2):
            try:
                with transaction.atomic():
                    self._insert(ready)
                return
            except IntegrityError:
                if attempt == 2:
                    raise  # not a concurrent duplicate: a real fault

    def _insert(self, orders: list[PendingOrder]) -> None:
        ch = self.channel
        existing = set()
        keys = [o.key for o in orders]
        for start in range(0, len(keys), 900):
            existing.update(
                Order.objects.filter(channel=ch, external_id__in=keys[start : start + 900])
                .order_by()
                .values_list("external_id", flat=True)
            )
        new = [o for o in orders if o.key not in existing]
        self.report.existing += len(orders) - len(new)
        if not new:
            return
        customers = self._customers(new)
        now = timezone.now()
        rows = []
        for o in new:
            gross = sum((ln.total for ln in o.lines), Decimal(0))
            nets = [_net(ln.total, self.m.vat_rate) for ln in o.lines]
            o.nets = nets
            net = sum(nets, Decimal(0))
            status = self.cancelled if o.cancelled else self.delivered
            address = (
                {"country": o.country or "", "postcode": o.postcode} if (o.country or o.postcode) else {}
            )
            if o.country_name and not o.country:
                address["country_name"] = o.country_name
            rows.append(
                (
                    ch.pk, o.key, o.number[:60], status.pk, status.stage,
                    customers.get(("r", o.customer_ref)) if o.customer_ref else customers.get(("e", o.email)),
                    CustomerType.CONSUMER, o.email, address, o.postcode, o.country, PaymentMethod.OTHER,
                    PaymentStatus.UNPAID if o.cancelled else PaymentStatus.PAID,
                    None if o.cancelled else o.placed_at, o.currency, _q2(net), _q2(gross - net), _q2(gross),
                    o.placed_at, f"Imported from {self.source}, row {o.first_row}", "history", now, now,
                )
            )  # fmt: skip
        ids = _insert_returning(Order, _ORDER_FIELDS, rows, key=("channel_id", "external_id"))
        variants = self._variants({ln.sku for o in new for ln in o.lines})
        lines, tokens = [], []
        for order_id, o in zip(ids, new, strict=True):
            for pos, (ln, net) in enumerate(zip(o.lines, o.nets, strict=True)):
                lines.append(
                    (order_id, min(pos, 32767), variants.get(ln.sku), ln.sku, ln.name, ln.quantity, _q2(ln.unit_price), self.m.vat_rate,
                     net, ln.total, f"row {ln.row}")
                )  # fmt: skip
            tokens.append((order_id, o.number.lower()[:64]))
            if o.customer_ref:
                tokens.append((order_id, o.customer_ref.lower()[:64]))
            self.report.lines += len(o.lines)
            self.report.cancelled += o.cancelled
        _insert(OrderLine, _LINE_FIELDS, lines)
        _insert(OrderSearchToken, ("order_id", "token"), list(set(tokens)))
        self.report.created += len(new)

    def _variants(self, skus: set[str]) -> dict[str, int]:
        """Known SKUs link their lines to the variant (for category, brand and margin figures); nothing else
        happens to the variant: no stock is reserved or issued for history."""
        out: dict[str, int] = {}
        codes = sorted(skus)
        for start in range(0, len(codes), 900):
            out.update(
                Variant.objects.filter(sku__in=codes[start : start + 900]).order_by().values_list("sku", "id")
            )
        return out

    def _customers(self, orders: list[PendingOrder]) -> dict[tuple[str, str], int]:
        """Customer ids by ("r", external id) and ("e", e-mail); missing customers are created."""
        ch = self.channel
        refs = {o.customer_ref for o in orders if o.customer_ref}
        emails = {o.email for o in orders if o.email and not o.customer_ref}
        out: dict[tuple[str, str], int] = {}
        ref_list = sorted(refs)
        for start in range(0, len(ref_list), 900):
            for ext, cid in (
                CustomerExternalId.objects.filter(channel=ch, external_id__in=ref_list[start : start + 900])
                .order_by()
                .values_list("external_id", "customer_id")
            ):
                out[("r", ext)] = cid
        email_list = sorted(emails)
        for start in range(0, len(email_list), 900):
            for email, cid in (
                Customer.objects.filter(email__in=email_list[start : start + 900])
                .order_by("-id")
                .values_list("email", "id")
            ):
                out[("e", email)] = cid  # the oldest customer with the address wins (ordered by -id)
        ref_email = {o.customer_ref: o.email for o in orders if o.customer_ref}
        missing_refs = [r for r in ref_list if ("r", r) not in out]
        missing_emails = [e for e in email_list if ("e", e) not in out]
        now = timezone.now()
        made = Customer.objects.bulk_create(
            [Customer(email=ref_email.get(r, ""), created_at=now) for r in missing_refs]
            + [Customer(email=e, created_at=now) for e in missing_emails],
            batch_size=500,
        )
        for r, c in zip(missing_refs, made[: len(missing_refs)], strict=True):
            out[("r", r)] = c.pk
        for e, c in zip(missing_emails, made[len(missing_refs) :], strict=True):
            out[("e", e)] = c.pk
        CustomerExternalId.objects.bulk_create(
            [CustomerExternalId(channel=ch, external_id=r, customer_id=out[("r", r)]) for r in missing_refs],
            batch_size=500,
        )
        self.report.customers_created += len(made)
        return out

    def finish(self) -> None:
        r = self.report
        audit_record(
            obj_type="orders.history_import",
            obj_id=self.channel.code,
            action="imported",
            actor=self.actor,
            changes={"file": self.source, "created": r.created, "existing": r.existing, "failed": r.failed},
        )


def m_cancel_all(m: Mapping, o: PendingOrder) -> bool:
    """`negative_quantity: cancel`: an order whose rows are all negative is a cancellation."""
    return m.negative_quantity == "cancel" and bool(o.negative) and all(o.negative)
