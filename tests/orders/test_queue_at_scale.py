"""The queue's query shapes for big tables (orders.selectors): a multi-value filter or a common search term
that matches many rows is answered by walking the sort index (an unindexable IN, a per-order probe)
instead of sorting every match. Whichever shape is chosen, the pages must be the same: these tests force
the "many rows" shapes with tiny thresholds and compare them with the small-set shapes."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from zaplecze.orders import selectors
from zaplecze.orders.selectors import OrderFilter, order_queue
from zaplecze.orders.services import order_tags_change

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def orders(ingest, product_factory, admin_user):
    """24 orders over three channels and stages; several share a placed_at (ties are broken by id)."""
    product_factory(sku="MUG-1", stock=0)
    product_factory(sku="TEA-2", stock=0)
    made = []
    for n in range(24):
        made.append(
            ingest(
                external_id=f"S-{n}",
                number=f"#S-{n}",
                channel=("shop", "allegro", "erli")[n % 3],
                stage=("ready", "shipped", "delivered", "completed")[n % 4],
                placed_at=(T0 + dt.timedelta(hours=n // 2)).isoformat(),
                customer_name=("Anna Kowalska" if n % 2 else "Jan Nowak"),
                email=f"buyer{n}@example.com",
                lines=[{"sku": "MUG-1" if n % 3 else "TEA-2", "quantity": 1, "unit_price_gross": "10.00"}],
            ).order
        )
    order_tags_change(order_ids=[o.pk for o in made if o.pk % 2], add=["VIP"], actor=admin_user)
    return made


def _all_pages(params: dict, sort: str = "-placed_at", limit: int = 5) -> list[str]:
    f = OrderFilter.from_params(params)
    numbers, cursor = [], None
    for _ in range(50):
        page = order_queue(f, sort=sort, cursor=cursor, limit=limit)
        numbers += [o.number for o in page.items]
        cursor = page.next_cursor
        if cursor is None:
            return numbers
    raise AssertionError("pagination did not end")


CASES = [
    {"stage": "delivered,completed"},
    {"status": "ready,shipped"},
    {"channel": "shop,erli", "stage": "completed,ready"},
    {"q": "kowalska"},
    {"q": "mug-1"},
    {"q": "kowalska mug"},
    {"tag": "VIP"},
    {"tag": "VIP", "channel": "allegro,shop", "q": "nowak"},
    {"late": "true"},
]


@pytest.mark.parametrize("params", CASES, ids=[str(c) for c in CASES])
@pytest.mark.parametrize("sort", ["-placed_at", "placed_at", "-total_gross"])
def test_pages_are_the_same_whichever_query_shape_is_used(orders, monkeypatch, params, sort):
    small_set_shape = _all_pages(params, sort)
    monkeypatch.setattr(selectors, "DENSE_ROWS", 1)
    monkeypatch.setattr(selectors, "SEARCH_ID_LIMIT", 1)

    big_set_shape = _all_pages(params, sort)

    assert big_set_shape == small_set_shape
    expected = [
        o.number
        for o in sorted(
            selectors.orders_filtered(OrderFilter.from_params(params)),
            key=lambda o: (getattr(o, sort.lstrip("-")), o.pk),
            reverse=sort.startswith("-"),
        )
    ]
    assert small_set_shape == expected


def test_the_big_set_shapes_are_really_used(orders, monkeypatch):
    monkeypatch.setattr(selectors, "DENSE_ROWS", 1)
    monkeypatch.setattr(selectors, "SEARCH_ID_LIMIT", 1)

    with CaptureQueriesContext(connection) as ctx:
        order_queue(OrderFilter.from_params({"stage": "delivered,completed", "q": "kowalska", "tag": "VIP"}))

    page_sql = next(q["sql"] for q in ctx.captured_queries if "LIMIT 51" in q["sql"])
    assert page_sql.count("LIMIT 1) IS NOT NULL") == 2  # per-order probes: the search term and the tag
    assert "||" in page_sql or "CONCAT" in page_sql.upper()  # the stage IN, unindexable on purpose
    assert ' "orders_order"."stage" IN' not in page_sql


def test_a_cursor_for_a_page_deep_down_seeks_with_a_range(orders):
    first = order_queue(OrderFilter(), limit=5)

    with CaptureQueriesContext(connection) as ctx:
        second = order_queue(OrderFilter(), cursor=first.next_cursor, limit=5)

    page_sql = next(q["sql"] for q in ctx.captured_queries if "LIMIT 6" in q["sql"])
    assert '"orders_order"."placed_at" <=' in page_sql
    assert [o.number for o in first.items + second.items] == _all_pages({})[:10]
