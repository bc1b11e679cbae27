"""Order intake and status changes under concurrency, with real threads on their own connections
(PostgreSQL in the `postgres` pass; SQLite, file-backed as in production, in the main pass)."""

from __future__ import annotations

import importlib
from collections import Counter

import pytest
from django.db.models import Sum

from tests.conftest import order_data
from tests.inventory.test_concurrency import backends, on, run_concurrently, threaded_db  # noqa: F401
from zaplecze.core.errors import IllegalTransition
from zaplecze.core.models import AuditEntry
from zaplecze.inventory.models import Reservation, StockLevel, StockMovement
from zaplecze.orders.models import Order, OrderEvent, OrderLine, Stage
from zaplecze.orders.schemas import OrderIn
from zaplecze.orders.services import ingest_order, ingest_orders_batch, order_transition

concurrent_db = pytest.mark.django_db(transaction=True)


@pytest.fixture
def order_defaults():
    """The default statuses and channels (a data migration's rows): another transactional test's flush
    may have removed them, so put them back the way the migration does (get_or_create)."""
    from django.apps import apps

    importlib.import_module("zaplecze.orders.migrations.0002_defaults").forwards(apps, None)


def _order(n: int, sku: str = "HOT-1", quantity: int = 1, **extra) -> OrderIn:
    return OrderIn.model_validate(
        order_data(
            external_id=f"C-{n}",
            number=f"#C-{n}",
            email=f"buyer{n}@example.com",
            phone=f"+48 600 000 {n:03d}",
            lines=[{"sku": sku, "quantity": quantity, "unit_price_gross": "19.99"}],
            **extra,
        )
    )


@concurrent_db
@pytest.mark.parametrize("backend", backends())
@pytest.mark.usefixtures("threaded_db", "order_defaults")
def test_twenty_concurrent_orders_for_seven_units_reserve_seven_and_flag_thirteen(backend, product_factory):
    on(backend)
    variant = product_factory(sku="HOT-1", stock=7)

    results = run_concurrently([lambda n=n: ingest_order(_order(n), source="test") for n in range(20)])

    assert [r for r in results if isinstance(r, BaseException)] == []
    assert Counter(r.outcome for r in results) == {"created": 20}
    level = StockLevel.objects.get(variant=variant)
    assert (level.on_hand, level.reserved) == (7, 7)
    short = Order.objects.filter(needs_attention=True)
    assert short.count() == 13
    assert all([r["code"] for r in o.attention_reasons] == ["stock_short"] for o in short)
    held = Reservation.objects.filter(variant=variant, state=Reservation.State.ACTIVE)
    assert held.count() == 7 and held.aggregate(s=Sum("quantity"))["s"] == 7
    lines_held = set(held.values_list("reference", flat=True))
    assert lines_held == {
        f"order-line:{pk}"
        for pk in OrderLine.objects.filter(order__needs_attention=False).values_list("pk", flat=True)
    }


@concurrent_db
@pytest.mark.parametrize("backend", backends())
@pytest.mark.usefixtures("threaded_db", "order_defaults")
def test_the_same_order_imported_concurrently_is_one_order(backend, product_factory):
    on(backend)
    variant = product_factory(sku="HOT-1", stock=10)

    results = run_concurrently([lambda: ingest_order(_order(1, quantity=3), source="test") for _ in range(8)])

    assert [r for r in results if isinstance(r, BaseException)] == []
    assert Counter(r.outcome for r in results) == {"created": 1, "unchanged": 7}
    order = Order.objects.get()
    assert {r.order.pk for r in results} == {order.pk}
    assert order.lines.count() == 1
    assert list(order.events.values_list("kind", flat=True)) == [OrderEvent.Kind.CREATED]
    assert AuditEntry.objects.filter(object_type="orders.order", action="created").count() == 1
    assert StockLevel.objects.get(variant=variant).reserved == 3
    assert Reservation.objects.filter(state=Reservation.State.ACTIVE).count() == 1


@concurrent_db
@pytest.mark.parametrize("backend", backends())
@pytest.mark.usefixtures("threaded_db", "order_defaults")
def test_two_concurrent_batch_imports_of_the_same_orders_make_each_order_once(backend, product_factory):
    on(backend)
    variant = product_factory(sku="HOT-1", stock=100)
    batch = [_order(n, quantity=2) for n in range(12)]

    results = run_concurrently([lambda: ingest_orders_batch(batch, source="csv") for _ in range(2)])

    assert [r for r in results if isinstance(r, BaseException)] == []
    outcomes = Counter(r.outcome for run in results for r in run)
    assert outcomes == {"created": 12, "unchanged": 12}
    assert Order.objects.count() == 12 and OrderLine.objects.count() == 12
    assert OrderEvent.objects.filter(kind=OrderEvent.Kind.CREATED).count() == 12
    assert StockLevel.objects.get(variant=variant).reserved == 24
    assert Reservation.objects.filter(state=Reservation.State.ACTIVE).count() == 12


@concurrent_db
@pytest.mark.parametrize("backend", backends())
@pytest.mark.usefixtures("threaded_db", "order_defaults")
def test_cancel_and_ship_at_the_same_time_exactly_one_wins(backend, product_factory):
    on(backend)
    variant = product_factory(sku="HOT-1", stock=5)
    order = ingest_order(_order(1, quantity=2), source="test").order
    assert order.stage == Stage.READY

    results = run_concurrently(
        [
            lambda: order_transition(order_id=order.pk, status_code="cancelled", actor=None, source="test"),
            lambda: order_transition(order_id=order.pk, status_code="shipped", actor=None, source="test"),
        ]
    )

    winners = [r for r in results if isinstance(r, Order)]
    losers = [r for r in results if isinstance(r, IllegalTransition)]
    assert len(winners) == 1 and len(losers) == 1
    order.refresh_from_db()
    level = StockLevel.objects.get(variant=variant)
    sales = StockMovement.objects.filter(kind=StockMovement.Kind.SALE)
    if order.stage == Stage.CANCELLED:
        assert (level.on_hand, level.reserved, sales.count()) == (5, 0, 0)
        assert Reservation.objects.get().state == Reservation.State.RELEASED
    else:
        assert order.stage == Stage.SHIPPED
        assert (level.on_hand, level.reserved, sales.count()) == (3, 0, 1)
        assert Reservation.objects.get().state == Reservation.State.ISSUED
    assert order.events.filter(kind=OrderEvent.Kind.STATUS).count() == 1
