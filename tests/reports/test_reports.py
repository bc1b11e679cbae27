"""Report files, the report page, the API, the CLI and schedules: every format made from the same data."""

from __future__ import annotations

import datetime as dt
import io
import json
from decimal import Decimal as D

import pytest
from click.testing import CliRunner
from django.urls import reverse

from zaplecze.core.formatting import format_money
from zaplecze.reports import render, services
from zaplecze.reports.models import ReportRun, ReportSchedule
from zaplecze.reports.sales import Period
from zaplecze.service.models import OutboxEmail

pytestmark = pytest.mark.django_db
WAW = dt.timezone(dt.timedelta(hours=1))
NOV = Period(dt.date(2026, 11, 1), dt.date(2026, 11, 30))


@pytest.fixture
def sales(ingest, product_factory):
    product_factory(sku="SKU-0001", price="100.00", stock=100)
    for n, (day, qty) in enumerate([(3, 1), (3, 2), (10, 4)], start=1):
        ingest(
            external_id=str(n),
            number=f"#{n}",
            placed_at=dt.datetime(2026, 11, day, 12, tzinfo=WAW).isoformat(),
            shipping_cost="10.00",
            lines=[{"sku": "SKU-0001", "name": "Kubek", "quantity": qty, "unit_price_gross": "100.00"}],
        )


def test_json_totals_are_the_numbers_the_pdf_shows(sales):
    data = services.report_data("sales", NOV)
    plain = json.loads(render.to_json(data))
    assert (plain["orders"], plain["revenue_gross"], plain["units"], plain["currency"]) == (
        3,
        730.0,
        7,
        "PLN",
    )
    assert plain["aov"] == 243.33 and plain["revenue_net"] == 730.0
    assert [c["key"] for c in plain["by_channel"]] == ["shop"] and len(plain["by_day"]) == 30
    # The PDF is rendered from this HTML document; the same totals, formatted, are in it.
    html = render.to_html("sales", data).decode()
    for amount in (D("730.00"), D("243.33")):
        assert format_money(amount, "PLN") in html
    pdf = render.to_pdf("sales", data)
    assert pdf.startswith(b"%PDF") and pdf.rstrip().endswith(b"%%EOF")


def test_the_pdf_has_pages_and_the_charts_are_drawn_from_the_page_specs(sales):
    from weasyprint import HTML

    data = services.report_data("sales", NOV)
    ctx = render.context("sales", data, svg=True)
    assert ctx["charts"]["revenue_by_day"].lstrip().startswith("<svg")
    doc = HTML(string=render.to_html("sales", data).decode()).render()
    assert len(doc.pages) >= 1


def test_xlsx_has_a_summary_sheet_and_data_sheets(sales):
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(render.to_xlsx("sales", services.report_data("sales", NOV))))
    assert (
        book.sheetnames[0] == "Summary" and "By day" in book.sheetnames and "Top products" in book.sheetnames
    )
    summary = {row[0]: row[1] for row in book["Summary"].iter_rows(min_row=4, values_only=True) if row[0]}
    assert summary["Orders"] == 3 and summary["Revenue (gross)"] == 730.0
    days = list(book["By day"].iter_rows(min_row=2, values_only=True))
    assert len(days) == 30 and days[2] == ("2026-11-03", 2, 320, 3)


def test_csv_is_the_table_by_day_with_a_bom(sales):
    text = render.to_csv("sales", services.report_data("sales", NOV)).decode("utf-8")
    assert text.startswith("\ufeffDay;Orders;Revenue (gross);Units\r\n")
    assert "2026-11-10;1;410.00;4\r\n" in text


def test_operations_report_lists_late_orders(sales):
    from zaplecze.orders.models import Order

    Order.objects.filter(number="#1").update(ship_by=dt.datetime(2026, 11, 4, 12, tzinfo=WAW))
    data = services.report_data("operations", NOV)
    assert data["late_orders"] >= 1 and "#1" in [r["number"] for r in data["late"]]
    assert render.to_csv("operations", data).decode("utf-8").count("#1;") == 1


def test_the_report_page_drills_down_to_the_orders(admin_client, sales):
    page = admin_client.get(
        reverse("reports:index"), {"kind": "sales", "date_from": "2026-11-01", "date_to": "2026-11-30"}
    )
    assert page.status_code == 200
    body = page.content.decode()
    assert format_money(D("730.00"), "PLN") in body
    orders_link = page.context["summary"][0]["url"]
    assert "date_from=2026-11-01" in orders_link and "date_to=2026-11-30" in orders_link
    queue = admin_client.get(orders_link)
    assert queue.status_code == 200 and all(n in queue.content.decode() for n in ("#1", "#2", "#3"))


def test_bad_period_on_the_page_says_where(admin_client):
    page = admin_client.get(
        reverse("reports:index"), {"kind": "sales", "date_from": "2026-11-30", "date_to": "2026-11-01"}
    )
    assert page.status_code == 200 and "The end is before the start." in page.content.decode()
    bad = admin_client.get(
        reverse("reports:download"),
        {"kind": "sales", "date_from": "x", "date_to": "2026-11-01", "format": "pdf"},
    )
    assert bad.status_code == 400 and b"date_from" in bad.content


def test_download_keeps_the_run_and_it_can_be_downloaded_again(admin_client, sales):
    params = {"kind": "sales", "date_from": "2026-11-01", "date_to": "2026-11-30", "format": "xlsx"}
    first = admin_client.get(reverse("reports:download"), params)
    assert first.status_code == 200 and first["Content-Type"].startswith("application/vnd.openxml")
    run = ReportRun.objects.get()
    again = admin_client.get(reverse("reports:run_download", args=[run.pk]))
    assert b"".join(again.streaming_content) == first.content


def test_api_sales_and_file(make_user, sales):
    from django.test import Client

    from zaplecze.core.services import token_create

    api = Client(HTTP_AUTHORIZATION=f"Bearer {token_create(user=make_user('organiser'))}")
    r = api.get("/api/v1/reports/sales", {"from": "2026-11-01", "to": "2026-11-30"})
    assert r.status_code == 200 and r.json()["revenue_gross"] == 730.0
    bad = api.get("/api/v1/reports/sales", {"from": "2026-11-30", "to": "2026-11-01"})
    assert (
        bad.status_code == 400 and "before it starts" in bad.json()["message"] and bad.json()["field"] == "to"
    )
    f = api.get("/api/v1/reports/file", {"from": "2026-11-01", "to": "2026-11-30", "format": "csv"})
    assert f.status_code == 200 and f.content.startswith("\ufeffDay".encode())
    assert make_user("warehouse", "w").role == "warehouse"
    denied = Client(HTTP_AUTHORIZATION=f"Bearer {token_create(user=make_user('warehouse', 'w2'))}")
    assert denied.get("/api/v1/reports/sales", {"from": "2026-11-01", "to": "2026-11-30"}).status_code == 403


def test_cli_json_and_refusals(sales, tmp_path):
    from zaplecze.cli import main

    out = CliRunner().invoke(main, ["report", "sales", "--from", "2026-11-01", "--to", "2026-11-30"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["orders"] == 3
    pdf = tmp_path / "r.pdf"
    out = CliRunner().invoke(
        main,
        ["report", "sales", "--from", "2026-11-01", "--to", "2026-11-30", "--format", "pdf", "-o", str(pdf)],
    )
    assert out.exit_code == 0 and pdf.read_bytes().startswith(b"%PDF")
    out = CliRunner().invoke(main, ["report", "sales", "--format", "pdf"])
    assert out.exit_code == 2 and "-o FILE" in out.output
    out = CliRunner().invoke(main, ["report", "sales", "--channel", "nope"])
    assert out.exit_code == 2 and "no channel 'nope'" in out.output


def test_schedule_periods():
    s = ReportSchedule(frequency="daily")
    assert services.schedule_period(s, dt.date(2026, 11, 27)) == Period(
        dt.date(2026, 11, 26), dt.date(2026, 11, 26)
    )
    s = ReportSchedule(frequency="weekly", weekday=0)
    assert services.schedule_period(s, dt.date(2026, 11, 27)) is None  # a Friday
    assert services.schedule_period(s, dt.date(2026, 11, 30)) == Period(
        dt.date(2026, 11, 23), dt.date(2026, 11, 29)
    )
    s = ReportSchedule(frequency="monthly", day_of_month=1)
    assert services.schedule_period(s, dt.date(2026, 3, 1)) == Period(
        dt.date(2026, 2, 1), dt.date(2026, 2, 28)
    )


def test_a_due_schedule_emails_the_report_once_and_keeps_it(sales, django_capture_on_commit_callbacks):
    schedule = services.schedule_save(
        values={"name": "Monthly", "kind": "sales", "frequency": "monthly", "day_of_month": 1, "hour": 7,
                "format": "pdf", "recipients": "szef@example.com, ops@example.com", "language": "en", "active": True},
    )  # fmt: skip
    at = dt.datetime(2026, 12, 1, 8, 0, tzinfo=WAW)
    runs = services.schedules_run_due(now=at)
    assert len(runs) == 1 and (runs[0].period_from, runs[0].period_to) == (NOV.start, NOV.end)
    mails = OutboxEmail.objects.filter(kind="report").order_by("to")
    assert [m.to for m in mails] == ["ops@example.com", "szef@example.com"]
    attachment = mails[0].attachments.get()
    assert attachment.filename.endswith(".pdf") and bytes(attachment.content).startswith(b"%PDF")
    assert services.schedules_run_due(now=at + dt.timedelta(hours=2)) == []  # never twice for one period
    schedule.refresh_from_db()
    assert schedule.last_period_end == NOV.end


def test_schedule_validation_names_the_field():
    from zaplecze.core.errors import DomainError

    with pytest.raises(DomainError) as err:
        services.schedule_save(values={"name": "X", "kind": "sales", "frequency": "daily", "format": "pdf",
                                       "recipients": "not-an-address"})  # fmt: skip
    assert err.value.field == "recipients" and "not-an-address" in err.value.message
    with pytest.raises(DomainError) as err:
        services.schedule_save(values={"name": "X", "kind": "sales", "frequency": "monthly", "day_of_month": 31,
                                       "format": "pdf", "recipients": "a@example.com"})  # fmt: skip
    assert err.value.field == "day_of_month"
