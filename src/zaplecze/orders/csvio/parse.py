"""From a CSV source to validated orders: detect the format, group consecutive rows into orders
(streaming: only the current order's rows are held), skip duplicated rows, validate with `OrderIn`,
and name the physical line and the column of every problem."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from django.utils.translation import gettext as _
from pydantic import ValidationError

from ..schemas import OrderIn
from .base import OrderFormat, Row, RowError
from .reader import CsvSource, ImportFileError
from .shopify import ShopifyFormat
from .woocommerce import WooCommerceFormat
from .zaplecze import ZapleczeFormat

FORMATS: dict[str, type[OrderFormat]] = {
    "zaplecze": ZapleczeFormat,
    "shopify": ShopifyFormat,
    "woocommerce": WooCommerceFormat,
}
MAX_LINES_PER_ORDER = 500


def known_columns_score(header: list[str]) -> int:
    return max(f.score(header) for f in FORMATS.values())


def detect_format(header: list[str], fmt: str = "auto") -> type[OrderFormat]:
    if fmt != "auto":
        if fmt not in FORMATS:
            raise ImportFileError(
                _("Unknown format %(fmt)s; choose auto, %(choices)s")
                % {"fmt": fmt, "choices": ", ".join(FORMATS)},
                field="format",
            )
        return FORMATS[fmt]
    candidates = [f for f in FORMATS.values() if f.matches(header)]
    if not candidates:
        candidates = [f for f in FORMATS.values() if f.score(header) >= 2]
    if not candidates:
        shown = ", ".join(h.strip() for h in header[:12] if h.strip()) or "—"
        if len(header) == 1 and header[0].strip():
            hint = _(" The header is a single column: is the delimiter something other than “,” or “;”?")
        else:
            hint = ""
        raise ImportFileError(
            _(
                "Cannot tell the format of this file from its header (%(columns)s).%(hint)s Expected Zaplecze's CSV "
                "(external_id, placed_at, sku, quantity, unit_price_gross...), Shopify's “Export orders” CSV (Name, "
                "Created at, Lineitem quantity, Lineitem price...) or a WooCommerce order export (Order ID, Order "
                "Date, Order Status, Item SKU, Item Quantity, Item Cost...)."
            )
            % {"columns": shown, "hint": hint},
            field="header",
        )
    return max(candidates, key=lambda f: f.score(header))


@dataclass
class ParsedOrder:
    """One order's rows after parsing: either `data` (valid) or `errors`."""

    key: str
    first_line: int
    rows: int
    data: OrderIn | None = None
    errors: list[RowError] = field(default_factory=list)
    duplicates: int = 0
    line_rows: list[int] = field(default_factory=list)


def _validation_errors(
    exc: ValidationError, fmt: OrderFormat, first_line: int, line_rows: list[int]
) -> list[RowError]:
    out = []
    for err in exc.errors(include_url=False):
        loc = tuple(err.get("loc", ()))
        line = first_line
        if len(loc) >= 2 and loc[0] == "lines" and isinstance(loc[1], int) and loc[1] < len(line_rows):
            line = line_rows[loc[1]]
        message = err.get("msg", "invalid value")
        message = message.removeprefix("Value error, ")
        if (
            err.get("type") not in ("missing", "value_error")
            and "input" in err
            and not isinstance(err["input"], dict | list)
        ):
            message = f"{message} (got {err['input']!r})"
        out.append(RowError(line, fmt.column_for_field(loc) if loc else "", message))
    return out


class OrderParser:
    """Iterates a CSV source as ParsedOrder objects (one per group of consecutive rows of one order)."""

    def __init__(self, source: CsvSource, fmt_class: type[OrderFormat], *, channel: str | None, tz: ZoneInfo):
        self.source = source
        self.fmt = fmt_class(source.header, tz, channel)
        self.channel = channel
        self.rows_read = 0
        self.duplicates = 0
        missing = self.fmt.missing_columns()
        if missing:
            raise ImportFileError(
                _("Missing required columns for the %(format)s format: %(columns)s")
                % {"format": self.fmt.label, "columns": ", ".join(missing)},
                field="header",
                columns=missing,
            )

    def _finish(
        self, key: str, rows: list[Row], overflow: int, dups: int, problems: list[RowError]
    ) -> ParsedOrder:
        parsed = ParsedOrder(
            key=key, first_line=rows[0].line, rows=len(rows) + overflow + dups, duplicates=dups
        )
        errors = list(problems)
        for row in rows:
            if row.problem:
                errors.append(RowError(row.line, "", row.problem))
        if overflow:
            errors.append(
                RowError(
                    rows[0].line,
                    self.fmt.group_column(),
                    _("the order has %(n)s lines; at most %(max)s are allowed")
                    % {"n": len(rows) + overflow, "max": MAX_LINES_PER_ORDER},
                )
            )
        if errors:
            parsed.errors = errors
            return parsed
        built = self.fmt.build(rows)
        if built.errors or built.payload is None:
            parsed.errors = built.errors
            return parsed
        try:
            parsed.data = OrderIn.model_validate(built.payload)
        except ValidationError as exc:
            parsed.errors = _validation_errors(exc, self.fmt, parsed.first_line, built.line_rows)
        parsed.line_rows = built.line_rows
        return parsed

    def __iter__(self) -> Iterator[ParsedOrder]:
        fmt = self.fmt
        key: str | None = None
        rows: list[Row] = []
        identities: dict[tuple, list[str]] = {}
        overflow = dups = 0
        problems: list[RowError] = []
        for record in self.source.records():
            self.rows_read += 1
            row = fmt.row(record.line, record.fields, record.problem)
            row_key = fmt.group_key(row) if record.fields else ""
            if not row_key:
                if rows:
                    yield self._finish(key or "", rows, overflow, dups, problems)
                    key, rows, identities, overflow, dups, problems = None, [], {}, 0, 0, []
                message = record.problem or _("empty: every row needs the order's id")
                yield ParsedOrder(
                    key="",
                    first_line=record.line,
                    rows=1,
                    errors=[RowError(record.line, "" if record.problem else fmt.group_column(), message)],
                )
                continue
            if row_key != key:
                if rows:
                    yield self._finish(key or "", rows, overflow, dups, problems)
                key, rows, identities, overflow, dups, problems = row_key, [], {}, 0, 0, []
            identity = fmt.line_identity(row)
            previous = identities.get(identity)
            if previous is not None:
                if previous == record.fields:
                    dups += 1
                    self.duplicates += 1
                else:
                    problems.append(
                        RowError(
                            row.line,
                            fmt.column("line_no"),
                            _("line %(no)s of this order appears twice with different values")
                            % {"no": identity[1]},
                        )
                    )
                continue
            if len(rows) >= MAX_LINES_PER_ORDER:
                overflow += 1
                continue
            identities[identity] = record.fields
            rows.append(row)
        if rows:
            yield self._finish(key or "", rows, overflow, dups, problems)
