"""Product files: reading CSV and XLSX into rows of cell strings, and writing the same columns back out.

Reading never writes anything to the database; `catalog.bulk` validates the rows and builds the preview.

* CSV: UTF-8 (with or without a BOM), Windows-1250 or ISO-8859-2 (detected with charset-normalizer),
  separated by `;` `,` or tab (the header decides: the delimiter under which most column names are known).
* XLSX: the first sheet, read with openpyxl in read-only mode. Cells holding a formula are not computed
  by openpyxl, so they are refused: the row gets an error naming the cell (paste values instead).
* Row numbers are the spreadsheet's: the header is row 1, the first data row is row 2 (a CSV value spanning
  several lines is still one row, as in a spreadsheet).
* Limits: 20 MB and 100,000 data rows; larger files are refused as a whole with a clear message.

Writing (export) uses the import's columns, so an exported file imports back with no changes. Text cells
starting with = + - @ (or a tab or carriage return) are written with a leading apostrophe so that a
spreadsheet never runs them as formulas; reading strips that apostrophe again.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal

from django.utils.translation import gettext as _

from zaplecze.core.errors import DomainError

MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_ROWS = 100_000
DELIMITERS = (";", ",", "\t")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

# Columns of the product file, in the order export writes them (attr:* and price:* follow).
COLUMNS = [
    "product_key",
    "sku",
    "product_name",
    "variant_name",
    "ean",
    "price",
    "vat_rate",
    "cost_price",
    "status",
    "category",
    "brand",
    "manufacturer",
    "mpn",
    "weight_kg",
    "length_cm",
    "width_cm",
    "height_cm",
    "perishable",
    "safety_info",
    "image_urls",
    "description_html",
]
ATTR_PREFIX = "attr:"
PRICE_PREFIX = "price:"

# Other spellings accepted in headers (lower case, spaces/hyphens as underscores) -> our column.
ALIASES = {
    "product": "product_name",
    "name": "product_name",
    "title": "product_name",
    "nazwa": "product_name",
    "nazwa_produktu": "product_name",
    "variant": "variant_name",
    "wariant": "variant_name",
    "gtin": "ean",
    "vat": "vat_rate",
    "stawka_vat": "vat_rate",
    "cena": "price",
    "price_gross": "price",
    "cost": "cost_price",
    "purchase_price": "cost_price",
    "category_path": "category",
    "kategoria": "category",
    "marka": "brand",
    "producent": "manufacturer",
    "weight": "weight_kg",
    "waga": "weight_kg",
    "length": "length_cm",
    "width": "width_cm",
    "height": "height_cm",
    "description": "description_html",
    "opis": "description_html",
    "images": "image_urls",
    "image_url": "image_urls",
    "zdjecia": "image_urls",
    "zdjęcia": "image_urls",
    "safety_information": "safety_info",
}
_CHANNEL_CODE = re.compile(r"^[A-Za-z0-9_.-]{1,40}$")


class FileProblem(DomainError):
    """The file as a whole cannot be used (unreadable, too large, no SKU column). Nothing was read."""

    code = "bad_file"


@dataclass
class Row:
    number: int  # spreadsheet row number (header = 1)
    cells: list[str]
    problem: str = ""  # the row as a whole could not be read (wrong number of values)
    formulas: dict[int, str] = field(default_factory=dict)  # column index -> "D5: =SUM(A1:A3)"


@dataclass
class Table:
    header: list[str]
    rows: list[Row]
    format: str  # "csv" or "xlsx"
    encoding: str = ""
    delimiter: str = ""


# --- columns ----------------------------------------------------------------------------------------------


def column_key(name: str) -> str | None:
    """Our column for a header cell, or None when unknown. attr:<name> keeps the attribute's spelling;
    price:<channel code> keeps the code."""
    raw = (name or "").replace("\ufeff", "").strip()
    lower = raw.lower()
    for prefix in (ATTR_PREFIX, PRICE_PREFIX):
        if lower.startswith(prefix):
            rest = raw[len(prefix) :].strip()
            if not rest:
                return None
            if prefix == PRICE_PREFIX and not _CHANNEL_CODE.match(rest):
                return None
            return prefix + rest
    norm = re.sub(r"[\s\-]+", "_", lower)
    if norm in COLUMNS:
        return norm
    return ALIASES.get(norm)


def unescape(value: str) -> str:
    """Strip the apostrophe export puts before a text starting with = + - @."""
    if len(value) > 1 and value[0] == "'" and value[1] in FORMULA_START:
        return value[1:]
    return value


def escape(value: str) -> str:
    """A text cell as written to a file: a leading apostrophe before = + - @ (no formula injection)."""
    if value and value[0] in FORMULA_START:
        return "'" + value
    return value


# --- reading ----------------------------------------------------------------------------------------------


def _refuse_binary(data: bytes, name: str) -> None:
    head = data[:8]
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise FileProblem(
            _("Old Excel .xls files are not supported: save the sheet as .xlsx or CSV."), field="file"
        )
    if head.startswith(b"%PDF"):
        raise FileProblem(_("This is a PDF file, not a CSV or XLSX file."), field="file")
    if head.startswith((b"\x89PNG", b"\xff\xd8\xff", b"GIF8")):
        raise FileProblem(_("This is an image, not a CSV or XLSX file."), field="file")
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise FileProblem(
            _("The file is UTF-16 encoded. Save it as CSV UTF-8 (or Windows-1250) and import it again."),
            field="file",
        )
    sample = data[:65536]
    if b"\x00" in data:  # NUL is never in CSV text (and cannot be stored in PostgreSQL)
        raise FileProblem(_("This is a binary file, not CSV text or an XLSX workbook."), field="file")
    controls = sum(1 for b in sample if b < 32 and b not in (9, 10, 13))
    if controls > max(3, len(sample) // 200):
        raise FileProblem(_("This is a binary file, not CSV text or an XLSX workbook."), field="file")


def detect_encoding(data: bytes) -> str:
    """utf-8-sig (BOM), utf-8, or the likelier of cp1250 and ISO-8859-2 (charset-normalizer)."""
    if data.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        data.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    sample = data[:262144]
    best = from_bytes(sample, cp_isolation=["cp1250", "iso8859_2"]).best()
    if best is None:
        raise FileProblem(
            _("The file's text encoding cannot be recognised. Save it as CSV UTF-8 and import it again."),
            field="file",
        )
    # For Polish text the two differ in a few letters only: bytes 0x80-0x9F are letters (Ś ś Ź ź „ ”) in
    # Windows-1250 and unused control codes in ISO-8859-2, whose Ą ą Ś ś Ź ź are at 0xA1 0xB1 0xA6 0xB6 0xAC 0xBC.
    if any(0x80 <= b <= 0x9F for b in sample):
        return "cp1250"
    if any(b in _ISO_ONLY for b in sample):
        return "iso8859_2"
    return "iso8859_2" if best.encoding == "iso8859_2" else "cp1250"


_ISO_ONLY = frozenset({0xA1, 0xA6, 0xAC, 0xB1, 0xB6, 0xBC})


def _choose_delimiter(first_line: str) -> str:
    best, best_score, best_width = ",", -1, 0
    for delimiter in DELIMITERS:
        header = next(csv.reader([first_line], delimiter=delimiter), [])
        score = sum(1 for h in header if column_key(h))
        if score > best_score or (score == best_score and len(header) > best_width):
            best, best_score, best_width = delimiter, score, len(header)
    return best


def _read_csv(data: bytes) -> Table:
    encoding = detect_encoding(data)
    text = data.decode(encoding, errors="replace")
    if encoding == "utf-8-sig":
        text = text.removeprefix("\ufeff")
    first = next((line for line in text.splitlines() if line.strip()), "")
    delimiter = _choose_delimiter(first)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header: list[str] | None = None
    rows: list[Row] = []
    number = 0
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            number += 1
            rows.append(
                Row(number, [], problem=_("the row cannot be read as CSV: %(error)s") % {"error": exc})
            )
            continue
        if header is None:
            if not any(c.strip() for c in cells):
                continue
            header = cells
            number = 1
            continue
        number += 1
        if not any(c.strip() for c in cells):
            continue
        if len(rows) >= MAX_ROWS:
            raise FileProblem(_("The file has more than %(n)s rows.") % {"n": f"{MAX_ROWS:,}"}, field="file")
        rows.append(Row(number, cells))
    if header is None:
        raise FileProblem(_("The file is empty."), field="file")
    return Table(header=header, rows=rows, format="csv", encoding=encoding, delimiter=delimiter)


def _xlsx_cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return format(Decimal(repr(value)).normalize(), "f")
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value)


def _read_xlsx(data: bytes) -> Table:
    from openpyxl import load_workbook
    from openpyxl.utils import get_column_letter

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except Exception as exc:  # noqa: BLE001 - any failure means this is not a workbook we can read
        raise FileProblem(_("The XLSX file cannot be read: %(error)s") % {"error": exc}, field="file")
    try:
        if not book.worksheets:
            raise FileProblem(_("The workbook has no sheets."), field="file")
        sheet = book.worksheets[0]
        header: list[str] | None = None
        rows: list[Row] = []
        for number, cells in enumerate(sheet.iter_rows(), start=1):
            values: list[str] = []
            formulas: dict[int, str] = {}
            for i, cell in enumerate(cells):
                value = getattr(cell, "value", None)
                if getattr(cell, "data_type", None) == "f" or (
                    not isinstance(value, str)
                    and value.__class__.__name__ in {"ArrayFormula", "DataTableFormula"}
                ):
                    text = value if isinstance(value, str) else getattr(value, "text", "") or "="
                    formulas[i] = f"{get_column_letter(i + 1)}{number}: {text}"
                    values.append("")
                else:
                    values.append(_xlsx_cell(value))
            if header is None:
                if not any(v.strip() for v in values):
                    continue
                header = values
                continue
            if not any(v.strip() for v in values) and not formulas:
                continue
            if len(rows) >= MAX_ROWS:
                raise FileProblem(
                    _("The file has more than %(n)s rows.") % {"n": f"{MAX_ROWS:,}"}, field="file"
                )
            rows.append(Row(number, values, formulas=formulas))
        if header is None:
            raise FileProblem(_("The first sheet of the workbook is empty."), field="file")
        while header and not header[-1].strip():
            header.pop()
        return Table(header=header, rows=rows, format="xlsx")
    finally:
        book.close()


def read_table(data: bytes, filename: str = "") -> Table:
    """The file's header and rows (cells as strings). Raises FileProblem when it cannot be read at all."""
    if len(data) > MAX_FILE_BYTES:
        raise FileProblem(
            _("The file is larger than %(mb)s MB; split it into smaller files.")
            % {"mb": MAX_FILE_BYTES // 2**20},
            field="file",
        )
    if not data.strip():
        raise FileProblem(_("The file is empty."), field="file")
    name = (filename or "").lower()
    if data.startswith(b"PK\x03\x04"):
        if name.endswith(".ods") or b"opendocument" in data[:200]:
            raise FileProblem(
                _("OpenDocument (.ods) files are not supported: save as .xlsx or CSV."), field="file"
            )
        return _read_xlsx(data)
    if name.endswith(".xlsx"):
        raise FileProblem(_("The file is named .xlsx but is not an XLSX workbook."), field="file")
    _refuse_binary(data, name)
    return _read_csv(data)


# --- writing ----------------------------------------------------------------------------------------------


def _csv_value(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Decimal):
        return format(value, "f").replace(".", ",")
    return escape(str(value))


class _Echo:
    def write(self, value: str) -> str:
        return value


def write_csv(columns: list[str], rows: Iterable[dict]) -> Iterator[bytes]:
    """CSV for Excel: UTF-8 with a BOM, `;` between values, decimal commas; yielded in chunks (streamable)."""
    writer = csv.writer(_Echo(), delimiter=";", lineterminator="\r\n")
    buffer = ["\ufeff" + writer.writerow(columns)]
    size = 0
    for row in rows:
        line = writer.writerow([_csv_value(row.get(c)) for c in columns])
        buffer.append(line)
        size += len(line)
        if size > 65536:
            yield "".join(buffer).encode("utf-8")
            buffer, size = [], 0
    if buffer:
        yield "".join(buffer).encode("utf-8")


def write_xlsx(columns: list[str], rows: Iterable[dict], out) -> None:
    """XLSX (XlsxWriter, constant memory) to a path or a binary file object. Numbers are numbers, text is
    always a text cell (never a formula), with the same apostrophe rule as CSV."""
    import xlsxwriter

    book = xlsxwriter.Workbook(
        out, {"constant_memory": True, "strings_to_formulas": False, "strings_to_urls": False}
    )
    sheet = book.add_worksheet("products")
    bold = book.add_format({"bold": True})
    money = book.add_format({"num_format": "0.00"})
    for c, name in enumerate(columns):
        sheet.write_string(0, c, name, bold)
    for r, row in enumerate(rows, start=1):
        for c, name in enumerate(columns):
            value = row.get(name)
            if value is None or value == "":
                continue
            if isinstance(value, bool):
                sheet.write_string(r, c, "yes" if value else "no")
            elif isinstance(value, Decimal):
                sheet.write_number(r, c, float(value), money if value.as_tuple().exponent == -2 else None)
            else:
                sheet.write_string(r, c, escape(str(value)))
    sheet.freeze_panes(1, 0)
    book.close()


# --- export -----------------------------------------------------------------------------------------------

EXPORT_CHUNK = 500


@dataclass
class ExportFilter:
    status: str = ""
    category: int | None = None  # the category and everything below it
    brand: str = ""
    q: str = ""

    def queryset(self):
        from django.db.models import Q

        from .models import Product

        qs = Product.objects.all()
        if self.status:
            qs = qs.filter(status=self.status)
        if self.category:
            from .services import category_descendant_ids

            qs = qs.filter(category_id__in=category_descendant_ids(self.category))
        if self.brand:
            qs = qs.filter(brand__iexact=self.brand.strip())
        if self.q:
            q = self.q.strip()
            qs = qs.filter(
                Q(name__icontains=q) | Q(variants__sku__icontains=q) | Q(variants__ean=q)
            ).distinct()
        return qs


def export_columns(flt: ExportFilter) -> list[str]:
    """The import columns plus attr:<name> for every attribute and price:<channel> for every channel price
    found among the exported variants."""
    from .models import Offer, Variant

    ids = flt.queryset().values("pk")
    names: set[str] = set()
    for attributes in (
        Variant.objects.filter(product__in=ids).values_list("attributes", flat=True).iterator(2000)
    ):
        names.update((attributes or {}).keys())
    channels = set(
        Offer.objects.filter(variant__product__in=ids, price__isnull=False)
        .values_list("channel", flat=True)
        .distinct()
    )
    return (
        COLUMNS
        + [ATTR_PREFIX + n for n in sorted(names, key=str.casefold)]
        + [PRICE_PREFIX + c for c in sorted(channels)]
    )


def export_rows(flt: ExportFilter) -> Iterator[dict]:
    """One dict per variant (column -> value), products in id order, read in chunks of 500 products."""
    from django.db.models import Prefetch

    from .models import Category, Offer, ProductImage, Variant

    categories = {c.pk: (c.name, c.parent_id) for c in Category.objects.only("name", "parent_id")}
    paths: dict[int, str] = {}

    def path(pk: int | None) -> str:
        if pk is None:
            return ""
        if pk not in paths:
            names, seen, cur = [], set(), pk
            while cur is not None and cur in categories and cur not in seen:
                seen.add(cur)
                names.append(categories[cur][0])
                cur = categories[cur][1]
            paths[pk] = " > ".join(reversed(names))
        return paths[pk]

    base = flt.queryset().order_by("pk")
    last = 0
    while True:
        chunk = list(
            base.filter(pk__gt=last)
            .select_related("manufacturer")
            .prefetch_related(
                Prefetch(
                    "variants",
                    queryset=Variant.objects.order_by("sku").prefetch_related(
                        Prefetch("offers", queryset=Offer.objects.filter(price__isnull=False))
                    ),
                ),
                Prefetch(
                    "images",
                    queryset=ProductImage.objects.filter(variant__isnull=True, file="")
                    .exclude(source_url="")
                    .order_by("position", "id"),
                ),
            )[:EXPORT_CHUNK]
        )
        if not chunk:
            return
        for product in chunk:
            variants = list(product.variants.all())
            if not variants:
                continue
            common = {
                "product_key": variants[0].sku,
                "product_name": product.name,
                "status": product.status,
                "category": path(product.category_id),
                "brand": product.brand,
                "manufacturer": product.manufacturer.name if product.manufacturer_id else "",
                "description_html": product.description_html,
                "perishable": product.perishable,
                "safety_info": product.safety_info,
                "image_urls": " ".join(img.source_url for img in product.images.all()),
            }
            for v in variants:
                row = {
                    **common,
                    "sku": v.sku,
                    "variant_name": v.name,
                    "ean": v.ean,
                    "price": v.price,
                    "vat_rate": v.vat_rate,
                    "cost_price": v.cost_price,
                    "mpn": v.mpn,
                    "weight_kg": v.weight_kg,
                    "length_cm": v.length_cm,
                    "width_cm": v.width_cm,
                    "height_cm": v.height_cm,
                }
                for name, value in (v.attributes or {}).items():
                    row[ATTR_PREFIX + name] = value
                for offer in v.offers.all():
                    row[PRICE_PREFIX + offer.channel] = offer.price
                yield row
        last = chunk[-1].pk


def export_csv(flt: ExportFilter) -> Iterator[bytes]:
    return write_csv(export_columns(flt), export_rows(flt))


def export_xlsx(flt: ExportFilter, out) -> None:
    write_xlsx(export_columns(flt), export_rows(flt), out)
