"""Purchase order documents: the PDF for the supplier (WeasyPrint, in the supplier's language, Polish or
English), the CSV of its lines, and the e-mail text that carries the PDF."""

from __future__ import annotations

import csv
import io
import logging

from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext as _

from zaplecze.core.businesstime import local_date
from zaplecze.core.formatting import format_money

from . import selectors
from .models import PurchaseOrder

for _name in ("weasyprint", "weasyprint.progress", "fontTools"):
    logging.getLogger(_name).setLevel(logging.WARNING)

CSV_HEADER = [
    "po_number",
    "supplier",
    "line",
    "sku",
    "supplier_sku",
    "ean",
    "name",
    "quantity",
    "unit_cost_net",
    "vat_rate",
    "net",
    "vat",
    "gross",
    "currency",
    "received_qty",
    "expected_date",
]


def _shop() -> dict[str, str]:
    from zaplecze.service.emails import shop

    return shop()


def pdf_filename(po: PurchaseOrder) -> str:
    return po.number.replace("/", "-") + ".pdf"


def csv_filename(po: PurchaseOrder) -> str:
    return po.number.replace("/", "-") + ".csv"


def po_html(po: PurchaseOrder) -> str:
    lines = selectors.po_lines(po)
    locale = "pl_PL" if po.language == "pl" else "en_GB"
    with translation.override(po.language or "pl"):
        rows = [
            {
                "n": i,
                "line": line,
                "unit": format_money(line.unit_cost, po.currency, locale),
                "net": format_money(line.net, po.currency, locale),
            }
            for i, line in enumerate(lines, 1)
        ]
        totals = selectors.po_totals(lines)
        return render_to_string(
            "purchasing/documents/purchase_order.html",
            {
                "po": po,
                "supplier": po.supplier,
                "rows": rows,
                "by_rate": [
                    (label, format_money(net, po.currency, locale), format_money(vat, po.currency, locale))
                    for label, net, vat in totals.by_rate
                ],
                "net": format_money(totals.net, po.currency, locale),
                "vat": format_money(totals.vat, po.currency, locale),
                "gross": format_money(totals.gross, po.currency, locale),
                "shop": _shop(),
                "issued": local_date(po.sent_at or po.created_at),
                "language": po.language or "pl",
            },
        )


def po_pdf(po: PurchaseOrder) -> bytes:
    from weasyprint import HTML

    return HTML(string=po_html(po)).write_pdf()


def po_csv(po: PurchaseOrder) -> str:
    """One row per line; amounts with a dot as the decimal separator (machine-readable)."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(CSV_HEADER)
    for i, line in enumerate(selectors.po_lines(po), 1):
        w.writerow(
            [
                po.number,
                po.supplier.name,
                i,
                line.sku,
                line.supplier_sku,
                line.ean,
                line.name,
                line.quantity,
                f"{line.unit_cost:.2f}",
                line.vat_rate,
                f"{line.net:.2f}",
                f"{line.vat:.2f}",
                f"{line.gross:.2f}",
                po.currency,
                line.received_qty,
                po.expected_date.isoformat() if po.expected_date else "",
            ]
        )
    return buf.getvalue()


def email_body(po: PurchaseOrder, message: str = "") -> str:
    """The e-mail text, in the active language (the caller overrides it to the supplier's)."""
    shop = _shop()
    parts = [
        _("Good day,"),
        "",
        _("please find attached our purchase order %(n)s.") % {"n": po.number},
    ]
    if po.expected_date:
        parts.append(_("We expect the delivery by %(d)s.") % {"d": po.expected_date.isoformat()})
    if message:
        parts += ["", message]
    parts += [
        "",
        _("Please confirm the order and quote its number on the delivery note and invoice."),
        "",
        _("Kind regards,"),
        shop["name"],
        shop["email"],
    ]
    return "\n".join(parts)
