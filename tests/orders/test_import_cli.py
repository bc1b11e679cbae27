"""`zaplecze import orders` and `zaplecze orders export`."""

import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from zaplecze.cli import main
from zaplecze.orders.models import Order

pytestmark = pytest.mark.django_db
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "orders"
GOOD = (
    "channel,external_id,placed_at,sku,quantity,unit_price_gross\nshop,1,2026-03-02T10:00:00+01:00,A,1,10\n"
)


def _run(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_import_json_prints_exactly_one_object_and_exit_0(tmp_path):
    path = tmp_path / "o.csv"
    path.write_text(GOOD)
    result = _run("import", "orders", str(path), "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {
        "created": 1,
        "updated": 0,
        "unchanged": 0,
        "failed": 0,
        "errors": [],
    }
    assert result.stdout.count("\n") == 1
    assert result.stderr == ""  # no progress bar when stderr is not a terminal


def test_import_json_with_row_errors_exits_1(tmp_path):
    path = tmp_path / "o.csv"
    path.write_text(GOOD + "shop,2,2026-03-02T10:00:00+01:00,A,0,10\n")
    result = _run("import", "orders", str(path), "--json", "--format", "zaplecze")
    assert result.exit_code == 1
    assert json.loads(result.stdout) == {
        "created": 1,
        "updated": 0,
        "unchanged": 0,
        "failed": 1,
        "errors": [
            {"line": 3, "field": "quantity", "message": "the quantity must be greater than 0 (got 0)"}
        ],
    }


def test_unreadable_file_exits_2_with_a_clear_message_and_other_files_are_imported(tmp_path):
    good = tmp_path / "good.csv"
    good.write_text(GOOD)
    bad = tmp_path / "bad.csv"
    bad.write_text("foo,bar\n1,2\n")
    result = _run("import", "orders", str(bad), str(tmp_path / "missing.csv"), str(good), "--json")
    assert result.exit_code == 2
    out = json.loads(result.stdout)
    assert (out["created"], out["failed"]) == (1, 0)
    assert [(e["file"], e["line"], e["field"]) for e in out["errors"]] == [
        (str(bad), 1, "header"),
        (str(tmp_path / "missing.csv"), 0, "file"),
    ]
    assert out["errors"][1]["message"] == f"File not found: {tmp_path / 'missing.csv'}"
    assert Order.objects.count() == 1


def test_import_human_output_names_lines_and_fields(tmp_path):
    path = tmp_path / "o.csv"
    path.write_text(GOOD + "shop,2,2026-03-02T10:00:00+01:00,A,1,abc\n")
    result = _run("import", "orders", str(path), "--channel", "allegro")
    assert result.exit_code == 1
    assert "1 created, 0 updated, 0 unchanged, 0 older versions ignored, 1 failed" in result.stdout
    assert "  line 3, unit_price_gross: 'abc' is not a number" in result.stdout
    assert Order.objects.get().channel.code == "allegro"


def test_import_shopify_fixture_with_channel(tmp_path):
    result = _run("import", "orders", str(FIXTURES / "shopify_orders.csv"), "--channel", "other", "--json")
    assert json.loads(result.stdout)["created"] == 5
    assert set(Order.objects.values_list("channel__code", flat=True)) == {"other"}


def test_export_applies_filters_and_writes_csv_that_imports_unchanged(tmp_path):
    _run("import", "orders", str(FIXTURES / "shopify_orders.csv"))
    out = tmp_path / "ready.csv"
    result = _run("orders", "export", "--stage", "ready", "--stage", "awaiting_payment", "-o", str(out))
    assert result.exit_code == 0
    assert result.stdout == f"Exported 2 orders to {out}\n"
    rows = out.read_text(encoding="utf-8").splitlines()
    assert [r.split(",")[0] for r in rows[1:]] == ["#2002", "#2003"]
    again = _run("import", "orders", str(out), "--json")
    assert json.loads(again.stdout) == {"created": 0, "updated": 0, "unchanged": 2, "failed": 0, "errors": []}


def test_export_to_stdout_and_xlsx(tmp_path):
    from openpyxl import load_workbook

    _run("import", "orders", str(FIXTURES / "woocommerce_orders.csv"))
    result = _run("orders", "export", "--q", "PL-1001", "-o", "-")
    assert result.stdout.splitlines()[1].startswith("PL-1001,shop,1001,completed,")
    assert len(result.stdout.splitlines()) == 2
    target = tmp_path / "all.xlsx"
    assert _run("orders", "export", "-o", str(target)).exit_code == 0
    sheet = load_workbook(io.BytesIO(target.read_bytes()), read_only=True)["orders"]
    assert len(list(sheet.iter_rows(values_only=True))) == 1 + 4


def test_export_refuses_a_bad_filter():
    result = CliRunner().invoke(main, ["orders", "export", "--date-from", "yesterday", "-o", "x.csv"])
    assert result.exit_code == 2
    assert "is not a date" in result.stderr
