"""Report data -> files: JSON, CSV, XLSX (a summary sheet and data sheets), HTML and PDF (WeasyPrint).

Every format is made from the same data dict (analytics.sales.sales_report or reports.operations), so the
JSON totals are the numbers the PDF shows."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from decimal import Decimal
from typing import Any

from django.template.loader import render_to_string
from django.utils.translation import gettext as _

from . import charts

CONTENT_TYPES = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "html": "text/html; charset=utf-8",
    "pdf": "application/pdf",
}


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def to_json(data: dict) -> bytes:
    return json.dumps(_plain(data), ensure_ascii=False, indent=2).encode("utf-8")


# --- tables: one definition of each table's columns, shared by CSV, XLSX and HTML ---------------------


def _span(row: dict) -> str:
    """A week or month row's days inside the period, e.g. "2026-11-16 – 2026-11-22"."""
    return f"{row['from'].isoformat()} – {row['to'].isoformat()}"


def _sales_tables(data: dict) -> list[tuple[str, list[str], list[list]]]:
    def group(rows):
        return [[r["name"] or r["key"] or "—", r["orders"], r["revenue_gross"], r["share"]] for r in rows]

    head = [_("Name"), _("Orders"), _("Revenue (gross)"), _("Share")]
    return [
        (
            _("By day"),
            [_("Day"), _("Orders"), _("Revenue (gross)"), _("Units")],
            [[r["day"], r["orders"], r["revenue_gross"], r["units"]] for r in data["by_day"]],
        ),
        (
            _("By week"),
            [_("Week"), _("Orders"), _("Revenue (gross)"), _("Units")],
            [[_span(r), r["orders"], r["revenue_gross"], r["units"]] for r in data.get("by_week", [])],
        ),
        (
            _("By month"),
            [_("Month"), _("Orders"), _("Revenue (gross)"), _("Units")],
            [[_span(r), r["orders"], r["revenue_gross"], r["units"]] for r in data.get("by_month", [])],
        ),
        (_("By channel"), head, group(data["by_channel"])),
        (_("By payment method"), head, group(data["by_payment_method"])),
        (_("By delivery method"), head, group(data["by_delivery_method"])),
        (_("By customer type"), head, group(data["by_customer_type"])),
        (_("By region"), head, group(data.get("by_region", []))),
        (
            _("By category"),
            [_("Category"), _("Revenue (gross)"), _("Units"), _("Share"), _("Margin")],
            [_product_group(r) for r in data["by_category"]],
        ),
        (
            _("By brand"),
            [_("Brand"), _("Revenue (gross)"), _("Units"), _("Share"), _("Margin")],
            [_product_group(r) for r in data["by_brand"]],
        ),
        (
            _("Top products"),
            ["SKU", _("Name"), _("Units"), _("Revenue (gross)")],
            [[r["sku"], r["name"], r["units"], r["revenue_gross"]] for r in data["top_products"]],
        ),
    ]


def _product_group(r: dict) -> list:
    margin = r["margin"]
    if margin is not None and not r["margin_complete"]:
        margin = f"{margin} ({_('incomplete')})"
    return [r["name"] or "—", r["revenue_gross"], r["units"], r["share"], margin]


def _operations_tables(data: dict) -> list[tuple[str, list[str], list[list]]]:
    return [
        (
            _("Backlog"),
            [_("Stage"), _("Orders"), _("Oldest placed")],
            [[r["name"], r["orders"], r["oldest_placed_at"]] for r in data["backlog"]],
        ),
        (
            _("Late orders"),
            [_("Order"), _("Channel"), _("Stage"), _("Ship by"), _("Hours late")],
            [[r["number"], r["channel"], r["stage"], r["ship_by"], r["hours_late"]] for r in data["late"]],
        ),
        (
            _("Returns due"),
            [_("Return"), _("Order"), _("Refund due"), _("Overdue")],
            [[r["number"], r["order"], r["refund_due"], r["overdue"]] for r in data["returns_due"]],
        ),
        (
            _("Complaints due"),
            [_("Complaint"), _("Order"), _("Response due"), _("Overdue")],
            [[r["number"], r["order"], r["response_due"], r["overdue"]] for r in data["complaints_due"]],
        ),
        (
            _("Stock at risk"),
            ["SKU", _("Name"), _("Warehouse"), _("Available"), _("On order"), _("Reorder point")],
            [
                [r["sku"], r["name"], r["warehouse"], r["available"], r["on_order"], r["reorder_point"]]
                for r in data["at_risk"]
            ],
        ),
    ]


def summary_rows(kind: str, data: dict) -> list[dict]:
    """The headline figures: {label, key, value, money, and for sales: prev, change, last_year, ly_change}."""
    if kind == "operations":
        keys = [
            ("open_orders", _("Open orders")),
            ("late_orders", _("Late against ship-by")),
            ("needs_attention", _("Need attention")),
            ("returns_due_today", _("Returns: refund due today")),
            ("returns_overdue", _("Returns: refund overdue")),
            ("complaints_due_today", _("Complaints: reply due today")),
            ("complaints_overdue", _("Complaints: reply overdue")),
            ("refunds_awaiting_confirmation", _("Refunds awaiting confirmation")),
            ("stock_at_risk", _("Stock at risk")),
        ]
        return [{"label": label, "key": k, "value": data[k], "money": False} for k, label in keys]
    prev, ly = data["previous_period"], data["same_period_last_year"]
    cp, cl = data["change_vs_previous"], data["change_vs_last_year"]
    rows = [
        (_("Orders"), "orders", False),
        (_("Revenue (gross)"), "revenue_gross", True),
        (_("Refunds"), "refunds", True),
        (_("Revenue (net of refunds)"), "revenue_net", True),
        (_("Average order value"), "aov", True),
        (_("Units"), "units", False),
        (_("Return rate (orders with a return)"), "return_rate", "pct"),
    ]
    out = [
        {
            "label": label,
            "key": k,
            "value": data[k],
            "money": money is True,
            "pct": money == "pct",
            "prev": prev.get(k),
            "change": cp.get(k),
            "last_year": ly.get(k),
            "ly_change": cl.get(k),
        }
        for label, k, money in rows
    ]
    plain = dict.fromkeys(("prev", "change", "last_year", "ly_change"))
    out += [
        {"label": _("Margin"), "key": "margin", "value": data["margin"], "money": True, **plain},
        {
            "label": _("New customers"),
            "key": "new_customers",
            "value": data["new_customers"],
            "money": False,
            **plain,
        },
        {
            "label": _("Returning customers"),
            "key": "returning_customers",
            "value": data["returning_customers"],
            "money": False,
            **plain,
        },
    ]
    return out


def tables(kind: str, data: dict) -> list[tuple[str, list[str], list[list]]]:
    return _operations_tables(data) if kind == "operations" else _sales_tables(data)


def _cell(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone().strftime("%Y-%m-%d %H:%M")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value  # never a formula in a spreadsheet
    return value


def to_csv(kind: str, data: dict) -> bytes:
    """The main table as CSV: sales by day, or the late orders (operations). UTF-8 with BOM, `;`."""
    title, head, rows = tables(kind, data)[0 if kind == "sales" else 1]
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=";", lineterminator="\r\n")
    writer.writerow(head)
    for row in rows:
        writer.writerow(["" if v is None else _cell(v) for v in row])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def to_xlsx(kind: str, data: dict) -> bytes:
    import xlsxwriter

    buf = io.BytesIO()
    book = xlsxwriter.Workbook(
        buf, {"in_memory": True, "strings_to_formulas": False, "remove_timezone": True}
    )
    bold = book.add_format({"bold": True})
    money = book.add_format({"num_format": "#,##0.00"})
    pct = book.add_format({"num_format": "0.0%"})
    sheet = book.add_worksheet(_("Summary")[:31])
    sheet.write_row(0, 0, [_("Report"), _title(kind, data)], bold)
    header = [_("Figure"), _("Value")]
    if kind == "sales":
        header += [_("Previous period"), _("Change"), _("Same period last year"), _("Change")]
    sheet.write_row(2, 0, header, bold)
    for i, row in enumerate(summary_rows(kind, data), start=3):
        sheet.write(i, 0, row["label"])
        cells = [row["value"], row.get("prev"), row.get("change"), row.get("last_year"), row.get("ly_change")]
        for j, value in enumerate(cells, start=1):
            if value is None:
                continue
            fmt = pct if j in (3, 5) or row.get("pct") else (money if row["money"] else None)
            sheet.write_number(i, j, float(value), fmt)
    sheet.set_column(0, 0, 34)
    sheet.set_column(1, 5, 16)
    for title, head, rows in tables(kind, data):
        ws = book.add_worksheet(title[:31])
        ws.write_row(0, 0, head, bold)
        for i, row in enumerate(rows, start=1):
            for j, value in enumerate(row):
                if value is None:
                    continue
                if isinstance(value, Decimal):
                    ws.write_number(i, j, float(value), money)
                elif isinstance(value, int | float) and not isinstance(value, bool):
                    ws.write_number(i, j, value)
                else:
                    ws.write_string(i, j, str(_cell(value)))
        ws.set_column(0, len(head) - 1, 16)
    book.close()
    return buf.getvalue()


def _title(kind: str, data: dict) -> str:
    if kind == "operations":
        return _("Operations report, %(when)s") % {
            "when": data["as_of"].astimezone().strftime("%Y-%m-%d %H:%M")
        }
    return _("Sales report %(start)s – %(end)s") % {"start": data["from"], "end": data["to"]}


def context(kind: str, data: dict, *, svg: bool = False) -> dict:
    """Template context; `svg`: charts drawn as inline SVG (PDF, downloaded HTML), else Vega specs (page)."""
    ctx: dict[str, Any] = {
        "kind": kind,
        "data": data,
        "title": _title(kind, data),
        "summary": summary_rows(kind, data),
        "tables": tables(kind, data),
        "svg": svg,
    }
    if kind == "sales":
        specs = {
            "revenue_by_day": charts.revenue_by_day(data["by_day"], width=640 if svg else "container"),
            "by_channel": charts.share_by(data["by_channel"], width=640 if svg else "container"),
        }
        ctx["charts"] = {k: charts.to_svg(v) for k, v in specs.items()} if svg else specs
    return ctx


def to_html(kind: str, data: dict) -> bytes:
    return render_to_string("reports/document.html", context(kind, data, svg=True)).encode()


def to_pdf(kind: str, data: dict) -> bytes:
    from weasyprint import HTML

    return HTML(string=render_to_string("reports/document.html", context(kind, data, svg=True))).write_pdf()


def render(kind: str, data: dict, fmt: str) -> bytes:
    if fmt == "json":
        return to_json(data)
    if fmt == "csv":
        return to_csv(kind, data)
    if fmt == "xlsx":
        return to_xlsx(kind, data)
    if fmt == "html":
        return to_html(kind, data)
    if fmt == "pdf":
        return to_pdf(kind, data)
    raise ValueError(fmt)
