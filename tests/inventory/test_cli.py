"""`zaplecze stock import|levels|movements`."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from zaplecze.cli import main
from zaplecze.inventory.models import StockMovement
from zaplecze.inventory.services import location_create

from .conftest import level, xlsx_bytes

pytestmark = pytest.mark.django_db


def _run(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture
def products(product_factory):
    return product_factory(sku="KUB-01", stock=10, ean="5901234123457"), product_factory(
        sku="TAL-01", stock=0
    )


def test_set_mode_posts_differences_as_adjustments(products, main_wh, tmp_path):
    a, b = products
    location_create(warehouse=main_wh, code="A-1")
    path = tmp_path / "stock.csv"
    path.write_text(
        "sku;quantity;location;reason\nKUB-01;7;A-1;\nTAL-01;3;;found on the shelf\n", encoding="utf-8"
    )

    result = _run("stock", "import", str(path), "--json")

    out = json.loads(result.stdout)
    assert result.exit_code == 0
    assert (out["ok"], out["applied"], out["changed"], out["mode"], out["warehouse"]) == (
        True,
        True,
        2,
        "set",
        "MAIN",
    )
    assert level(a, main_wh) == (7, 0) and level(b, main_wh) == (3, 0)
    moves = StockMovement.objects.filter(reference=out["reference"]).order_by("variant__sku")
    assert [(m.variant.sku, m.kind, m.quantity, m.reason) for m in moves] == [
        ("KUB-01", "adjustment", -3, "stock import (set) stock.csv"),
        ("TAL-01", "adjustment", 3, "found on the shelf"),
    ]
    assert a.stock_levels.get().location.code == "A-1"


def test_add_mode_receives_from_xlsx(products, second_wh, tmp_path):
    a, _ = products
    path = tmp_path / "delivery.xlsx"
    path.write_bytes(xlsx_bytes([["ean", "qty"], [5901234123457, 5]]))

    result = _run("stock", "import", str(path), "--mode", "add", "--warehouse", "ful")

    assert result.exit_code == 0, result.output
    assert "1 levels changed" in result.stdout
    assert level(a, second_wh) == (5, 0)
    assert StockMovement.objects.get(warehouse=second_wh).kind == "receipt"


def test_errors_exit_1_with_row_numbers_and_apply_nothing(products, main_wh, tmp_path):
    a, _ = products
    path = tmp_path / "stock.csv"
    path.write_text("sku,quantity\nKUB-01,4\nNOPE,1\nTAL-01,-2\nKUB-01,5\n", encoding="utf-8")

    result = _run("stock", "import", str(path))

    assert result.exit_code == 1
    assert "stock.csv: row 3, column sku: unknown SKU NOPE" in result.stderr
    assert "row 4, column quantity: must not be negative (-2)" in result.stderr
    assert "row 5, column sku: KUB-01 is already on row 2" in result.stderr
    assert level(a, main_wh) == (10, 0)
    assert StockMovement.objects.exclude(reason="test stock").count() == 0


def test_dry_run_changes_nothing(products, main_wh, tmp_path):
    a, _ = products
    path = tmp_path / "stock.csv"
    path.write_text("sku,quantity\nKUB-01,4\n", encoding="utf-8")

    result = _run("stock", "import", str(path), "--dry-run", "--json")

    out = json.loads(result.stdout)
    assert (out["ok"], out["applied"], out["changes"]) == (
        True,
        False,
        [{"row": 2, "sku": "KUB-01", "warehouse": "MAIN", "before": 10, "after": 4, "delta": -6}],
    )
    assert level(a, main_wh) == (10, 0)


def test_set_below_reserved_is_a_row_error(products, main_wh, tmp_path):
    from zaplecze.inventory.services import stock_reserve

    a, _ = products
    stock_reserve(variant_id=a.pk, quantity=6, reference="order-line:1")
    path = tmp_path / "stock.csv"
    path.write_text("sku,quantity\nKUB-01,4\n", encoding="utf-8")

    result = _run("stock", "import", str(path), "--json")

    assert result.exit_code == 1
    assert json.loads(result.stdout)["errors"] == [
        {"row": 2, "column": "quantity", "message": "4 is less than the 6 units reserved for orders"}
    ]


def test_unknown_warehouse_and_missing_file(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("sku,quantity\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["stock", "import", str(path), "--warehouse", "NOPE"])
    assert result.exit_code == 1
    assert "No warehouse with code 'NOPE'" in result.output
    result = CliRunner().invoke(main, ["stock", "import", str(tmp_path / "missing.csv")])
    assert result.exit_code == 2


def test_levels_and_movements_json(products, main_wh):
    result = _run("stock", "levels", "--json")
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert rows == [
        {"sku": "KUB-01", "warehouse": "MAIN", "bin": None, "on_hand": 10, "reserved": 0, "available": 10}
    ]
    result = _run("stock", "movements", "--kind", "receipt", "--sku", "KUB-01", "--json")
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(r["sku"], r["kind"], r["quantity"]) for r in rows] == [("KUB-01", "receipt", 10)]
