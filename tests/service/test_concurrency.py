"""Money and quantities under concurrency, with real threads on their own connections: the order row lock
keeps refunds within what was paid and returns within what was bought; one idempotency key is one refund.
On PostgreSQL (marked `postgres`) the threads really overlap; on SQLite writers queue."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.inventory.test_concurrency import backends, on, run_concurrently, threaded_db  # noqa: F401
from zaplecze.core.errors import DomainError
from zaplecze.service import services
from zaplecze.service.models import Refund, ReturnLine

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("threaded_db", "order_defaults"),
]


@pytest.fixture
def order_defaults(request):
    """A transactional test may start after another one flushed the database: put back the default statuses
    and channels (the orders data migration; idempotent). serialized_rollback is not used: reloading the
    snapshot collides with the content types that a flush re-creates."""
    from importlib import import_module

    from django.apps import apps

    request.getfixturevalue("threaded_db")  # the database the threads share, first

    import_module("zaplecze.orders.migrations.0002_defaults").forwards(apps, None)


@pytest.mark.parametrize("backend", backends())
def test_concurrent_refunds_never_exceed_what_was_paid(backend, delivered_order, staff):
    on(backend)
    order = delivered_order()  # paid 142.97
    results = run_concurrently(
        [
            lambda i=i: services.refund_create(
                order_id=order.pk,
                amount="50.00",
                method="original",
                idempotency_key=f"conc-key-{i:03d}",
                actor=staff,
            )
            for i in range(8)
        ]
    )
    refused = [r for r in results if isinstance(r, DomainError)]
    assert [r.code for r in refused] == ["over_refund"] * 6
    assert not [r for r in results if isinstance(r, BaseException) and not isinstance(r, DomainError)]
    assert sum(Refund.objects.filter(order=order).values_list("amount", flat=True)) == Decimal("100.00")


@pytest.mark.parametrize("backend", backends())
def test_one_idempotency_key_sent_by_many_threads_is_one_refund(backend, delivered_order, staff):
    on(backend)
    order = delivered_order()
    results = run_concurrently(
        [
            lambda: services.refund_create(
                order_id=order.pk,
                amount="20.00",
                method="original",
                idempotency_key="same-key-123",
                actor=staff,
            )
            for _ in range(6)
        ]
    )
    assert not [r for r in results if isinstance(r, BaseException)]
    assert {r.pk for r in results} == {Refund.objects.get().pk}


@pytest.mark.parametrize("backend", backends())
def test_concurrent_returns_of_one_line_never_exceed_what_was_bought(backend, delivered_order, staff):
    on(backend)
    order = delivered_order()
    line = order.lines.order_by("id").first()  # bought 2
    results = run_concurrently(
        [
            lambda: services.return_request(order_id=order.pk, lines={line.pk: 1}, actor=staff)
            for _ in range(6)
        ]
    )
    assert sorted(type(r).__name__ for r in results) == ["DomainError"] * 4 + ["Return"] * 2
    assert sum(ReturnLine.objects.filter(order_line=line).values_list("quantity", flat=True)) == 2
