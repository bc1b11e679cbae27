from pathlib import Path

from zaplecze.orders.csvio import zaplecze

DOC = Path(__file__).resolve().parents[2] / "docs" / "csv-format.md"


def test_the_documented_column_table_is_the_one_export_writes():
    assert zaplecze.columns_markdown() in DOC.read_text(encoding="utf-8")


def test_the_module_docstring_lists_every_column():
    doc = zaplecze.__doc__
    assert all(f"`{name}`" in doc for name in zaplecze.COLUMN_NAMES)
    assert doc.index("`order_number`") < doc.index("`line_external_id`")
