from __future__ import annotations

import io

import pytest


@pytest.fixture
def main_wh(db):
    from zaplecze.inventory.services import warehouse_default

    return warehouse_default()


@pytest.fixture
def second_wh(db):
    from zaplecze.inventory.services import warehouse_create

    return warehouse_create(code="FUL", name="Fulfilment", priority=50)


def csv_bytes(text: str) -> bytes:
    return text.strip().replace("\n", "\r\n").encode("utf-8") + b"\r\n"


def xlsx_bytes(rows: list[list]) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def level(variant, warehouse) -> tuple[int, int]:
    from zaplecze.inventory.models import StockLevel

    lv = StockLevel.objects.filter(variant=variant, warehouse=warehouse).first()
    return (lv.on_hand, lv.reserved) if lv else (0, 0)
