"""Transfers and stocktake posting under concurrency (real threads, own connections; see test_concurrency)."""

from __future__ import annotations

import pytest

from zaplecze.core.errors import DomainError, IllegalTransition
from zaplecze.inventory import services
from zaplecze.inventory.models import StockLevel, StockMovement, Transfer

from .test_concurrency import backends, on, run_concurrently, threaded_db  # noqa: F401 - the fixture


def _on_hand(variant, warehouse) -> int:
    return StockLevel.objects.get(variant=variant, warehouse=warehouse).on_hand


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("backend", backends())
@pytest.mark.usefixtures("threaded_db")
def test_concurrent_transfers_never_move_more_than_available(backend, product_factory):
    on(backend)
    variant = product_factory(sku="TRF-1", stock=5)
    source = services.warehouse_default()
    destination = services.warehouse_create(code="FUL", name="Fulfilment")

    results = run_concurrently(
        [
            lambda: services.stock_transfer(
                variant=variant, source=source, destination=destination, quantity=2
            )
            for _ in range(5)
        ]
    )

    moved = [r for r in results if isinstance(r, Transfer)]
    refused = [r for r in results if isinstance(r, DomainError)]
    assert (len(moved), len(refused)) == (2, 3)
    assert {e.code for e in refused} == {"insufficient_stock"}
    assert (_on_hand(variant, source), _on_hand(variant, destination)) == (1, 4)
    assert StockMovement.objects.filter(kind="transfer_out").count() == 2
    assert Transfer.objects.count() == 2  # refused documents were rolled back whole


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("backend", backends())
@pytest.mark.usefixtures("threaded_db")
def test_a_stocktake_posted_from_many_threads_posts_once(backend, product_factory):
    on(backend)
    variant = product_factory(sku="CNT-1", stock=10)
    wh = services.warehouse_default()
    st = services.stocktake_create(warehouse=wh)
    services.stocktake_transition(stocktake_id=st.pk, to="counting")
    services.stocktake_count(stocktake_id=st.pk, code="CNT-1", quantity=7, mode="set")
    services.stocktake_transition(stocktake_id=st.pk, to="review")

    results = run_concurrently([lambda: services.stocktake_post(stocktake_id=st.pk) for _ in range(4)])

    assert sum(1 for r in results if isinstance(r, IllegalTransition)) == 3
    assert _on_hand(variant, wh) == 7
    assert StockMovement.objects.filter(reference=st.number).count() == 1
