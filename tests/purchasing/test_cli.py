"""`zaplecze purchasing forecast|reorder|overdue|pdf`."""

from __future__ import annotations

import datetime as dt
import json

from click.testing import CliRunner

from zaplecze.cli import main
from zaplecze.core.businesstime import local_today
from zaplecze.purchasing.models import PurchaseOrder, ReorderParameter


def test_forecast_and_reorder_json(item_factory, sales):
    mug = item_factory(sku="MUG-1", moq=10, stock=0)
    today = local_today()
    sales(mug, {today - dt.timedelta(days=i): 3 for i in range(1, 15)})
    result = CliRunner().invoke(main, ["purchasing", "forecast", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert (report["computed"], report["by_method"]) == (1, {"ses": 1})
    p = ReorderParameter.objects.get(variant=mug)
    assert p.reorder_point > 0 and float(p.daily_rate) == 3.0
    result = CliRunner().invoke(
        main, ["purchasing", "reorder", "--supplier", "hurtownia kubek sp. z o.o.", "--json"]
    )
    assert result.exit_code == 0, result.output
    [row] = json.loads(result.output)
    # position 0 <= reorder point; (rop - 0) + 3/day × 14 days review
    assert row["sku"] == "MUG-1" and row["quantity"] == p.reorder_point + 42
    assert row["explanation"][-1] == f"Suggested quantity: {row['quantity']}."
    unknown = CliRunner().invoke(main, ["purchasing", "forecast", "--sku", "NOPE"])
    assert unknown.exit_code != 0 and "Unknown SKU: NOPE" in unknown.output


def test_overdue_exit_status_and_pdf(sent_po, tmp_path):
    result = CliRunner().invoke(main, ["purchasing", "overdue", "--json"])
    assert result.exit_code == 0 and json.loads(result.output) == []
    PurchaseOrder.objects.filter(pk=sent_po.pk).update(expected_date=local_today() - dt.timedelta(days=1))
    result = CliRunner().invoke(main, ["purchasing", "overdue", "--json", "--alert"])
    assert result.exit_code == 1
    [row] = json.loads(result.output)
    assert (row["number"], row["days_late"]) == (sent_po.number, 1)
    assert sent_po.events.filter(kind="overdue").count() == 1
    out = tmp_path / "po.pdf"
    result = CliRunner().invoke(main, ["purchasing", "pdf", sent_po.number, "-o", str(out)])
    assert result.exit_code == 0 and out.read_bytes().startswith(b"%PDF-")
