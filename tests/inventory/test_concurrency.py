"""Stock under concurrency, with real threads, each on its own database connection.

On PostgreSQL (tests marked `postgres`, run by the PostgreSQL pass of `make test`) the threads really
overlap: row locks and conditional UPDATEs are what keeps the numbers right. The same scenarios run on
SQLite too, where writers are serialised (IMMEDIATE transactions, 30 s busy timeout): there they
prove the code is correct when transactions queue instead of overlapping."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, connections
from django.db.models import Sum

from zaplecze.core.errors import DomainError
from zaplecze.inventory.models import Reservation, StockLevel, StockMovement
from zaplecze.inventory.services import stock_adjust, stock_release, stock_reserve, warehouse_default


def run_concurrently(fns: list[Callable[[], Any]], timeout: float = 60) -> list[Any]:
    """Run each function in its own thread, all released at once by a barrier. Returns each result,
    or the exception it raised. Every thread closes its own database connection."""
    barrier = threading.Barrier(len(fns))
    results: list[Any] = [None] * len(fns)

    def work(i: int, fn: Callable[[], Any]) -> None:
        try:
            barrier.wait(timeout=timeout)
            results[i] = fn()
        except BaseException as exc:  # noqa: BLE001 - reported to the test as the result
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(i, fn), daemon=True) for i, fn in enumerate(fns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    assert not any(t.is_alive() for t in threads), "a thread did not finish"
    return results


@pytest.fixture
def threaded_db(transactional_db, tmp_path):
    """The database the threads share: on PostgreSQL the test database itself. On SQLite the in-memory
    test database is copied to a file opened the way production opens it (WAL, IMMEDIATE transactions,
    30 s busy timeout): a shared-cache in-memory database answers "table is locked" at once instead of
    waiting, which is not how Zaplecze runs."""
    if connection.vendor != "sqlite" or not connection.is_in_memory_db():
        yield
        return
    assert connection.settings_dict is connections.settings[connection.alias]
    connection.ensure_connection()
    path = tmp_path / "threads.sqlite3"
    target = sqlite3.connect(path)
    connection.connection.backup(target)
    target.close()
    memory, name = connection.connection, connection.settings_dict["NAME"]
    connection.connection = None  # set aside, not closed: closing would drop the in-memory database
    connection.settings_dict["NAME"] = str(path)
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict["NAME"] = name
        connection.connection = memory


def backends():
    """Each scenario runs on the suite's database (SQLite in the main pass) and, marked `postgres`, in the
    PostgreSQL pass, where the threads really overlap."""
    return [
        pytest.param("suite-db", id="suite-db"),
        pytest.param("postgresql", marks=pytest.mark.postgres, id="postgresql"),
    ]


def on(backend: str) -> None:
    if backend == "postgresql":
        assert connection.vendor == "postgresql"
    elif connection.vendor == "sqlite":
        assert connection.settings_dict["NAME"].endswith("threads.sqlite3")


def _level(variant) -> StockLevel:
    return StockLevel.objects.get(variant=variant, warehouse=warehouse_default())


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("backend", backends())
@pytest.mark.usefixtures("threaded_db")
def test_twenty_reservations_for_seven_units_reserve_exactly_seven(backend, product_factory):
    on(backend)
    variant = product_factory(sku="HOT-1", stock=7)

    results = run_concurrently(
        [
            lambda i=i: stock_reserve(variant_id=variant.pk, quantity=1, reference=f"ref-{i}")
            for i in range(20)
        ]
    )

    assert [r for r in results if isinstance(r, BaseException)] == []
    assert sorted((r.reserved, r.short) for r in results) == [(0, 1)] * 13 + [(1, 0)] * 7
    level = _level(variant)
    assert (level.on_hand, level.reserved) == (7, 7)
    assert Reservation.objects.filter(variant=variant, state=Reservation.State.ACTIVE).count() == 7


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("backend", backends())
@pytest.mark.usefixtures("threaded_db")
def test_last_unit_goes_to_exactly_one_of_many(backend, product_factory):
    on(backend)
    variant = product_factory(sku="LAST-1", stock=1)

    results = run_concurrently(
        [
            lambda i=i: stock_reserve(variant_id=variant.pk, quantity=1, reference=f"last-{i}")
            for i in range(10)
        ]
    )

    assert sum(r.reserved for r in results) == 1
    level = _level(variant)
    assert (level.on_hand, level.reserved) == (1, 1)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("backend", backends())
@pytest.mark.usefixtures("threaded_db")
def test_concurrent_removals_stop_at_the_reserved_stock(backend, product_factory):
    on(backend)
    variant = product_factory(sku="ADJ-1", stock=10)
    warehouse = warehouse_default()
    assert stock_reserve(variant_id=variant.pk, quantity=3, reference="held").reserved == 3

    results = run_concurrently(
        [
            lambda: stock_adjust(variant=variant, warehouse=warehouse, delta=-1, reason="damaged")
            for _ in range(12)
        ]
    )

    refused = [r for r in results if isinstance(r, DomainError)]
    assert len(refused) == 5 and {e.code for e in refused} == {"insufficient_stock"}
    assert all(isinstance(r, StockMovement) for r in results if r not in refused)
    level = _level(variant)
    assert (level.on_hand, level.reserved) == (3, 3)
    removed = StockMovement.objects.filter(variant=variant, kind=StockMovement.Kind.ADJUSTMENT)
    assert removed.count() == 7 and removed.aggregate(s=Sum("quantity"))["s"] == -7
    assert sorted(removed.values_list("on_hand_after", flat=True)) == [3, 4, 5, 6, 7, 8, 9]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("backend", backends())
@pytest.mark.usefixtures("threaded_db")
def test_reservations_and_removals_mixed_never_break_the_invariants(backend, product_factory):
    on(backend)
    variant = product_factory(sku="MIX-1", stock=12)
    warehouse = warehouse_default()
    reserve = [
        lambda i=i: stock_reserve(variant_id=variant.pk, quantity=2, reference=f"mix-{i}") for i in range(8)
    ]
    remove = [
        lambda: stock_adjust(variant=variant, warehouse=warehouse, delta=-1, reason="count") for _ in range(8)
    ]

    results = run_concurrently([f for pair in zip(reserve, remove, strict=True) for f in pair])

    reserved_units = sum(r.reserved for r in results[0::2])
    removed_units = sum(1 for r in results[1::2] if isinstance(r, StockMovement))
    assert all(isinstance(r, StockMovement | DomainError) for r in results[1::2])
    level = _level(variant)
    assert level.on_hand == 12 - removed_units >= 0
    assert level.reserved == reserved_units <= level.on_hand
    assert reserved_units + removed_units <= 12
    assert Reservation.objects.filter(variant=variant).aggregate(s=Sum("quantity"))["s"] == reserved_units


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("backend", backends())
@pytest.mark.usefixtures("threaded_db")
def test_releasing_one_reservation_from_many_threads_releases_it_once(backend, product_factory):
    on(backend)
    variant = product_factory(sku="REL-1", stock=5)
    stock_reserve(variant_id=variant.pk, quantity=4, reference="order-line:1")

    results = run_concurrently([lambda: stock_release(reference="order-line:1") for _ in range(6)])

    assert sorted(results) == [0, 0, 0, 0, 0, 4]
    level = _level(variant)
    assert (level.on_hand, level.reserved) == (5, 0)
