"""Set-based stock changes (`stock_adjust_many`): the same ledger as one `stock_adjust` per line, all or
nothing, in a bounded number of queries."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from zaplecze.core.errors import DomainError
from zaplecze.core.models import AuditEntry
from zaplecze.inventory.models import StockLevel, StockMovement
from zaplecze.inventory.services import Adjustment, stock_adjust_many, stock_reserve

pytestmark = pytest.mark.django_db


def test_lines_apply_in_order_and_the_ledger_follows(product_factory, main_wh):
    a = product_factory(sku="ADJ-A", stock=10)
    b = product_factory(sku="ADJ-B", stock=0)
    moves = stock_adjust_many(
        [Adjustment(a, -3, "broken"), Adjustment(b, 5, "found"), Adjustment(a, 2, "recount")],
        warehouse=main_wh,
        reference="ST-1",
    )
    assert [(m.variant.sku, m.quantity, m.on_hand_after, m.reason) for m in moves] == [
        ("ADJ-A", -3, 7, "broken"),
        ("ADJ-B", 5, 5, "found"),
        ("ADJ-A", 2, 9, "recount"),
    ]
    assert StockLevel.objects.get(variant=a, warehouse=main_wh).on_hand == 9
    assert StockLevel.objects.get(variant=b, warehouse=main_wh).on_hand == 5  # level created on the way
    stored = StockMovement.objects.filter(reference="ST-1").order_by("pk")
    assert [(m.quantity, m.on_hand_after) for m in stored] == [(-3, 7), (5, 5), (2, 9)]
    audits = AuditEntry.objects.filter(object_type="inventory.stocklevel", action="adjustment").order_by("pk")
    assert [e.changes["on_hand"] for e in audits.filter(reason__in=["broken", "found", "recount"])] == [
        [10, 7],
        [0, 5],
        [7, 9],
    ]


def test_a_line_below_reserved_refuses_the_whole_set_naming_it(product_factory, main_wh):
    a = product_factory(sku="ADJ-R", stock=4)
    b = product_factory(sku="ADJ-S", stock=4)
    assert stock_reserve(variant_id=a.pk, quantity=3, reference="order-1").reserved == 3
    with pytest.raises(DomainError) as err:
        stock_adjust_many([Adjustment(b, -1), Adjustment(a, -2)], warehouse=main_wh, reference="X")
    assert "ADJ-R (2 of 1 free)" in err.value.message and "ADJ-S" not in err.value.message
    assert StockLevel.objects.get(variant=b, warehouse=main_wh).on_hand == 4  # nothing half-written
    assert not StockMovement.objects.filter(reference="X").exists()


def test_zero_lines_are_skipped_and_an_unknown_kind_is_refused(product_factory, main_wh):
    a = product_factory(sku="ADJ-Z", stock=1)
    assert stock_adjust_many([Adjustment(a, 0)], warehouse=main_wh) == []
    with pytest.raises(DomainError):
        stock_adjust_many([Adjustment(a, 1)], warehouse=main_wh, kind="magic")


def test_the_number_of_queries_does_not_grow_with_the_lines(product_factory, main_wh):
    variants = [product_factory(sku=f"ADJ-Q{i:03}", stock=1) for i in range(60)]

    def queries(n: int) -> int:
        with CaptureQueriesContext(connection) as ctx:
            stock_adjust_many([Adjustment(v, 1) for v in variants[:n]], warehouse=main_wh)
        return len(ctx.captured_queries)

    assert queries(60) == queries(5)
