"""Transfers between warehouses: atomic transfer_out + transfer_in with one reference, never more than available."""

from __future__ import annotations

import pytest

from zaplecze.core.errors import DomainError, IllegalTransition
from zaplecze.inventory import services
from zaplecze.inventory.models import StockMovement, Transfer
from zaplecze.inventory.services import stock_reserve

from .conftest import level

pytestmark = pytest.mark.django_db


def test_an_immediate_transfer_moves_stock_with_a_shared_reference(
    product_factory, main_wh, second_wh, admin_user
):
    v = product_factory(sku="KUB-01", stock=10)

    t = services.stock_transfer(
        variant=v, source=main_wh, destination=second_wh, quantity=4, actor=admin_user
    )

    assert level(v, main_wh) == (6, 0)
    assert level(v, second_wh) == (4, 0)
    moves = list(
        StockMovement.objects.filter(reference=t.number)
        .order_by("id")
        .values_list("warehouse__code", "kind", "quantity", "on_hand_after")
    )
    assert moves == [("MAIN", "transfer_out", -4, 6), ("FUL", "transfer_in", 4, 4)]
    assert Transfer.objects.get(pk=t.pk).status == "received"


def test_more_than_available_is_refused_and_nothing_moves(product_factory, main_wh, second_wh):
    v = product_factory(sku="KUB-01", stock=5)
    w = product_factory(sku="KUB-02", stock=5)
    stock_reserve(variant_id=v.pk, quantity=3, reference="order-line:1")

    with pytest.raises(DomainError) as exc:
        services.transfer_create(
            source=main_wh, destination=second_wh, lines=[(w, 2), (v, 3)], send=True, receive=True
        )

    assert exc.value.code == "insufficient_stock"
    assert "KUB-01: wants 3, only 2 available in MAIN (on hand 5, reserved 3)" in exc.value.message
    assert level(v, main_wh) == (5, 3) and level(w, main_wh) == (5, 0)
    assert StockMovement.objects.filter(kind__startswith="transfer").count() == 0
    assert Transfer.objects.count() == 0  # the whole document rolled back


def test_draft_send_receive_and_in_transit(product_factory, main_wh, second_wh):
    v = product_factory(sku="KUB-01", stock=10)
    t = services.transfer_create(source=main_wh, destination=second_wh, lines=[(v, 2), (v, 1)])
    assert list(t.lines.values_list("quantity", flat=True)) == [3]  # one line per product

    services.transfer_line_set(transfer_id=t.pk, variant=v, quantity=5)
    services.transfer_send(transfer_id=t.pk)
    assert level(v, main_wh) == (5, 0) and level(v, second_wh) == (0, 0)  # in transit
    with pytest.raises(IllegalTransition):
        services.transfer_line_set(transfer_id=t.pk, variant=v, quantity=1)

    services.transfer_receive(transfer_id=t.pk)
    assert level(v, second_wh) == (5, 0)
    with pytest.raises(IllegalTransition):
        services.transfer_cancel(transfer_id=t.pk)


def test_cancelling_in_transit_returns_the_goods(product_factory, main_wh, second_wh):
    v = product_factory(sku="KUB-01", stock=10)
    t = services.transfer_create(source=main_wh, destination=second_wh, lines=[(v, 4)], send=True)

    services.transfer_cancel(transfer_id=t.pk, reason="truck broke down")

    assert level(v, main_wh) == (10, 0)
    assert level(v, second_wh) == (0, 0)
    back = StockMovement.objects.filter(reference=t.number).order_by("id").last()
    assert (back.kind, back.quantity, back.warehouse.code) == ("transfer_in", 4, "MAIN")
    assert "truck broke down" in back.reason


def test_the_same_warehouse_twice_is_refused(product_factory, main_wh):
    v = product_factory(sku="KUB-01", stock=10)
    with pytest.raises(DomainError) as exc:
        services.stock_transfer(variant=v, source=main_wh, destination=main_wh, quantity=1)
    assert exc.value.field == "destination"
