"""The stock lifecycle through the services: reserved at intake, released on cancel, issued at shipment,
reserved again on re-open; the ledger and the database constraints that keep levels sane."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction
from django.db.models import F

from zaplecze.core.errors import DomainError
from zaplecze.inventory.models import Reservation, StockLevel, StockMovement, Warehouse
from zaplecze.inventory.services import stock_adjust, stock_reserve, warehouse_default
from zaplecze.orders.models import OrderEvent, Stage
from zaplecze.orders.services import order_transition

pytestmark = pytest.mark.django_db


def _level(variant, warehouse=None):
    level = StockLevel.objects.get(variant=variant, warehouse=warehouse or warehouse_default())
    return level.on_hand, level.reserved


def _line_ref(order):
    return order.lines.get().reservation_ref


def test_intake_reserves_the_lines(product_factory, ingest):
    variant = product_factory(sku="SKU-0001", stock=5)

    order = ingest().order  # 2 units, paid: ready to fulfil

    assert _level(variant) == (5, 2)
    reservation = Reservation.objects.get()
    assert (reservation.reference, reservation.quantity, reservation.state) == (_line_ref(order), 2, "active")
    assert StockMovement.objects.filter(kind=StockMovement.Kind.SALE).count() == 0


def test_cancel_releases_the_reservation(product_factory, ingest):
    variant = product_factory(sku="SKU-0001", stock=5)
    order = ingest().order

    order_transition(order_id=order.pk, status_code="cancelled", actor=None, reason="customer changed mind")

    assert _level(variant) == (5, 0)
    assert Reservation.objects.get().state == Reservation.State.RELEASED
    released = order.events.get(kind=OrderEvent.Kind.STOCK_RELEASED)
    assert released.data == {"units": 2}
    assert StockMovement.objects.exclude(kind=StockMovement.Kind.RECEIPT).count() == 0


def test_shipment_issues_the_stock_with_a_sale_movement(product_factory, ingest, admin_user):
    variant = product_factory(sku="SKU-0001", stock=5)
    order = ingest().order

    order_transition(order_id=order.pk, status_code="picking", actor=admin_user)
    assert _level(variant) == (5, 2)  # still held while it is being picked
    order_transition(order_id=order.pk, status_code="shipped", actor=admin_user)

    assert _level(variant) == (3, 0)
    sale = StockMovement.objects.get(kind=StockMovement.Kind.SALE)
    assert (sale.quantity, sale.on_hand_after, sale.reference, sale.actor) == (
        -2,
        3,
        _line_ref(order),
        admin_user,
    )
    assert Reservation.objects.get().state == Reservation.State.ISSUED
    assert order.events.get(kind=OrderEvent.Kind.STOCK_ISSUED).data == {"units": 2}
    order_transition(order_id=order.pk, status_code="delivered", actor=admin_user)
    assert _level(variant) == (3, 0)
    assert StockMovement.objects.filter(kind=StockMovement.Kind.SALE).count() == 1


def test_reopening_a_cancelled_order_reserves_again(product_factory, ingest):
    variant = product_factory(sku="SKU-0001", stock=5)
    order = ingest().order
    order_transition(order_id=order.pk, status_code="cancelled", actor=None)

    reopened = order_transition(
        order_id=order.pk, status_code="new", actor=None, reason="customer called back"
    )

    assert reopened.stage == Stage.NEW
    assert _level(variant) == (5, 2)
    assert list(Reservation.objects.order_by("id").values_list("state", flat=True)) == ["released", "active"]
    assert order.events.filter(kind=OrderEvent.Kind.STOCK_RESERVED).count() == 1
    assert reopened.needs_attention is False


def test_reopening_when_the_stock_is_gone_flags_the_order(product_factory, ingest):
    variant = product_factory(sku="SKU-0001", stock=2)
    order = ingest().order
    order_transition(order_id=order.pk, status_code="cancelled", actor=None)
    stock_adjust(variant=variant, warehouse=warehouse_default(), delta=-1, reason="broken")

    reopened = order_transition(order_id=order.pk, status_code="new", actor=None)

    assert _level(variant) == (1, 0)
    assert reopened.needs_attention is True
    assert [r["code"] for r in reopened.attention_reasons] == ["stock_short"]


def test_a_shipped_order_cannot_be_cancelled_so_its_stock_stays_issued(product_factory, ingest):
    variant = product_factory(sku="SKU-0001", stock=5)
    order = ingest().order
    order_transition(order_id=order.pk, status_code="shipped", actor=None)

    with pytest.raises(DomainError):
        order_transition(order_id=order.pk, status_code="cancelled", actor=None)

    assert _level(variant) == (3, 0)


def test_removal_below_the_reserved_stock_is_refused_and_changes_nothing(product_factory):
    variant = product_factory(sku="SKU-0001", stock=5)
    stock_reserve(variant_id=variant.pk, quantity=4, reference="held")

    with pytest.raises(DomainError) as exc:
        stock_adjust(variant=variant, warehouse=warehouse_default(), delta=-2, reason="count")

    assert exc.value.code == "insufficient_stock"
    assert _level(variant) == (5, 4)
    assert StockMovement.objects.filter(kind=StockMovement.Kind.ADJUSTMENT).count() == 0
    stock_adjust(variant=variant, warehouse=warehouse_default(), delta=-1, reason="count")
    assert _level(variant) == (4, 4)


def test_a_line_is_reserved_whole_in_the_first_warehouse_that_has_it(product_factory):
    variant = product_factory(sku="SKU-0001", stock=3)
    second = Warehouse.objects.create(code="FUL", name="Fulfilment", priority=50)
    stock_adjust(variant=variant, warehouse=second, delta=10, kind="receipt")

    small = stock_reserve(variant_id=variant.pk, quantity=2, reference="a")
    big = stock_reserve(variant_id=variant.pk, quantity=4, reference="b")
    too_big = stock_reserve(variant_id=variant.pk, quantity=11, reference="c")

    assert (small.reserved, big.reserved, too_big.short) == (2, 4, 11)
    assert _level(variant) == (3, 2)
    assert _level(variant, second) == (10, 4)
    assert dict(Reservation.objects.values_list("reference", "warehouse__code")) == {"a": "MAIN", "b": "FUL"}


@pytest.mark.parametrize(
    "change",
    [
        {"on_hand": -1, "reserved": 0},  # negative stock
        {"reserved": -1},  # negative reservation
        {"reserved": F("on_hand") + 1},  # more reserved than on hand
    ],
    ids=["on_hand<0", "reserved<0", "reserved>on_hand"],
)
def test_database_constraints_refuse_impossible_levels_even_if_code_tried(product_factory, change):
    variant = product_factory(sku="SKU-0001", stock=5)

    with pytest.raises(IntegrityError), transaction.atomic():
        StockLevel.objects.filter(variant=variant).update(**change)

    assert _level(variant) == (5, 0)
