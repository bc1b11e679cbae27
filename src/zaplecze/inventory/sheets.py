"""Count sheets and stock files: reading CSV or XLSX rows (sku or ean, quantity, optional location and
reason) with per-row errors that name the row and the column, and writing a blank count sheet.

Row numbers are the spreadsheet's: the header is row 1, the first data row is row 2. Reading never writes
anything; the services decide what to apply, and apply nothing when any row has an error."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.utils.translation import gettext as _

from zaplecze.core.errors import DomainError

MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_ROWS = 100_000

# Accepted header names (lower case, spaces collapsed) -> our column.
HEADERS = {
    "sku": "sku",
    "ean": "ean",
    "gtin": "ean",
    "code": "code",
    "quantity": "quantity",
    "qty": "quantity",
    "count": "quantity",
    "counted": "quantity",
    "ilość": "quantity",
    "ilosc": "quantity",
    "location": "location",
    "bin": "location",
    "lokalizacja": "location",
    "reason": "reason",
    "powód": "reason",
    "powod": "reason",
}


class SheetError(DomainError):
    """The file as a whole cannot be used (unreadable, wrong columns). Nothing was applied."""

    code = "bad_file"


@dataclass
class RowError:
    row: int
    column: str
    message: str

    def as_dict(self) -> dict:
        return {"row": self.row, "column": self.column, "message": self.message}

    def __str__(self) -> str:
        return _("row %(row)s, column %(column)s: %(message)s") % {
            "row": self.row,
            "column": self.column or "-",
            "message": self.message,
        }


@dataclass
class SheetRow:
    row: int
    code: str  # the SKU or EAN as written
    code_column: str  # "sku" or "ean"
    quantity: int | None  # None: left empty (not counted)
    location: str = ""
    reason: str = ""
    ean: str = ""  # an EAN given beside the SKU, checked to match


@dataclass
class Sheet:
    rows: list[SheetRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)


def _norm(name) -> str:
    return " ".join(str(name or "").replace("\ufeff", "").strip().lower().split())


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _read_csv(data: bytes) -> list[list[str]]:
    if data.startswith(b"\xef\xbb\xbf"):
        text = data[3:].decode("utf-8", errors="replace")
    else:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = data.decode("cp1250", errors="replace")
    first = text.split("\n", 1)[0]
    delimiter = max((";", ",", "\t"), key=first.count) if first else ","
    return list(csv.reader(io.StringIO(text), delimiter=delimiter))


def _read_xlsx(data: bytes) -> list[list[str]]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - any failure means the file is not a workbook we can read
        raise SheetError(_("The XLSX file cannot be read: %(error)s") % {"error": exc}, field="file")
    try:
        sheet = book.worksheets[0]
        rows = []
        for i, values in enumerate(sheet.iter_rows(values_only=True)):
            if i > MAX_ROWS + 1:
                break
            rows.append([_cell(v) for v in values])
        return rows
    finally:
        book.close()


def read_table(data: bytes, filename: str = "") -> list[list[str]]:
    """The file's rows as lists of strings (CSV in UTF-8 or Windows-1250 with , ; or tab; or XLSX)."""
    if len(data) > MAX_FILE_BYTES:
        raise SheetError(_("The file is larger than 20 MB."), field="file")
    name = filename.lower()
    if data.startswith(b"PK\x03\x04") or name.endswith(".xlsx"):
        return _read_xlsx(data)
    if data.startswith(b"\xd0\xcf\x11\xe0") or name.endswith(".xls"):
        raise SheetError(
            _("Old Excel .xls files are not supported: save the sheet as .xlsx or CSV."), field="file"
        )
    if data.startswith(b"%PDF") or b"\x00" in data[:4096]:
        raise SheetError(_("This is not a CSV or XLSX file."), field="file")
    return _read_csv(data)


def parse_quantity(raw: str) -> tuple[int | None, str]:
    """(quantity, error message). Empty is (None, "")."""
    text = raw.replace("\xa0", "").replace(" ", "").replace(",", ".")
    if not text:
        return None, ""
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None, _("%(value)r is not a number") % {"value": raw}
    if not value.is_finite() or value != value.to_integral_value():
        return None, _("%(value)r is not a whole number") % {"value": raw}
    if value < 0:
        return None, _("must not be negative (%(value)s)") % {"value": raw}
    if value > 10_000_000:
        return None, _("%(value)s is too large") % {"value": raw}
    return int(value), ""


def parse_sheet(data: bytes, filename: str = "", *, require_reason: bool = False) -> Sheet:
    """Rows of a count sheet or stock file. Columns: sku or ean (or code), quantity; optional location, reason;
    other columns (name, expected...) are ignored. A row with an empty quantity is kept with quantity None."""
    table = read_table(data, filename)
    while table and not any(c.strip() for c in table[0]):
        table.pop(0)
    if not table:
        raise SheetError(_("The file is empty."), field="file")
    header = [_norm(h) for h in table[0]]
    index: dict[str, int] = {}
    for i, name in enumerate(header):
        column = HEADERS.get(name)
        if column and column not in index:
            index[column] = i
    found = ", ".join(h for h in header if h) or _("none")
    if not ({"sku", "ean", "code"} & index.keys()):
        raise SheetError(
            _(
                "The file has no sku or ean column (columns found: %(found)s). Expected: sku or ean, quantity, "
                "optional location."
            )
            % {"found": found},
            field="file",
        )
    if "quantity" not in index:
        raise SheetError(
            _(
                "The file has no quantity column (columns found: %(found)s). Expected: sku or ean, quantity, "
                "optional location."
            )
            % {"found": found},
            field="file",
        )
    if len(table) - 1 > MAX_ROWS:
        raise SheetError(_("The file has more than %(n)s rows.") % {"n": MAX_ROWS}, field="file")

    def get(cells: list[str], column: str) -> str:
        i = index.get(column)
        return cells[i].strip() if i is not None and i < len(cells) else ""

    sheet = Sheet(columns=[c for c in ("sku", "ean", "code", "quantity", "location", "reason") if c in index])
    for n, cells in enumerate(table[1:], start=2):
        if not any(c.strip() for c in cells):
            continue
        sku, ean, code = get(cells, "sku"), get(cells, "ean"), get(cells, "code")
        if sku:
            value, column = sku, "sku"
        elif code:
            value, column = code, "code"
        elif ean:
            value, column = ean, "ean"
        else:
            sheet.errors.append(RowError(n, "sku" if "sku" in index else "ean", _("no SKU or EAN given")))
            continue
        if len(value) > 64:
            sheet.errors.append(RowError(n, column, _("longer than 64 characters")))
            continue
        quantity, problem = parse_quantity(get(cells, "quantity"))
        if problem:
            sheet.errors.append(RowError(n, "quantity", problem))
            continue
        location = get(cells, "location")
        if len(location) > 40:
            sheet.errors.append(RowError(n, "location", _("longer than 40 characters")))
            continue
        reason = get(cells, "reason")
        if require_reason and not reason:
            sheet.errors.append(RowError(n, "reason", _("no reason given")))
            continue
        sheet.rows.append(
            SheetRow(
                row=n,
                code=value,
                code_column=column,
                quantity=quantity,
                location=location,
                reason=reason[:200],
                ean=ean if column != "ean" else "",
            )
        )
    return sheet


# --- writing ----------------------------------------------------------------------------------------------

SHEET_COLUMNS = ["sku", "ean", "name", "location", "quantity"]


def count_sheet_csv(rows: list[dict]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";")
    writer.writerow(SHEET_COLUMNS)
    for r in rows:
        writer.writerow([r.get(c, "") if r.get(c) is not None else "" for c in SHEET_COLUMNS])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def count_sheet_xlsx(rows: list[dict], title: str = "Count sheet") -> bytes:
    import xlsxwriter

    buf = io.BytesIO()
    book = xlsxwriter.Workbook(buf, {"in_memory": True})
    sheet = book.add_worksheet(title[:31])
    bold = book.add_format({"bold": True})
    text = book.add_format({"num_format": "@"})
    for c, name in enumerate(SHEET_COLUMNS):
        sheet.write_string(0, c, name, bold)
    for r, row in enumerate(rows, start=1):
        for c, name in enumerate(SHEET_COLUMNS):
            value = row.get(name)
            if value is None or value == "":
                continue
            if isinstance(value, int):
                sheet.write_number(r, c, value)
            else:
                sheet.write_string(r, c, str(value), text)
    sheet.set_column(0, 1, 18, text)
    sheet.set_column(2, 2, 40)
    sheet.set_column(3, 4, 12)
    sheet.freeze_panes(1, 0)
    book.close()
    return buf.getvalue()
