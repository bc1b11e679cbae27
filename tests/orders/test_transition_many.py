"""`order_transition_many` (bulk status change, orders following their shipments) writes what
`order_transition` writes order by order, and refuses the same moves with the same messages."""

from __future__ import annotations

import pytest

from zaplecze.core.models import AuditEntry
from zaplecze.inventory.models import Reservation, StockLevel, StockMovement
from zaplecze.orders import services
from zaplecze.orders.models import Order, OrderEvent

pytestmark = pytest.mark.django_db


def two_lines():
    return [
        {"sku": "SKU-A", "quantity": 2, "unit_price_gross": "10.00"},
        {"sku": "SKU-B", "quantity": 1, "unit_price_gross": "5.00"},
    ]


def build(ingest, tag: str) -> list[int]:
    ready = [
        ingest(external_id=f"{tag}{i}", number=f"{tag}-{i}", lines=two_lines()).order.pk for i in range(3)
    ]
    shipped = ingest(external_id=f"{tag}s", number=f"{tag}-s", stage="shipped").order.pk
    return [*ready, shipped]


def snapshot(order_id: int) -> dict:
    order = Order.objects.select_related("status").get(pk=order_id)
    refs = [f"order-line:{pk}" for pk in order.lines.values_list("pk", flat=True)]
    return {
        "order": (order.status.code, order.stage, order.version, order.shipped_at is not None),
        "events": list(
            OrderEvent.objects.filter(order=order)
            .exclude(kind="created")
            .order_by("id")
            .values_list(
                "kind", "from_status", "to_status", "from_stage", "to_stage", "actor_label", "message", "data"
            )
        ),
        "audit": list(
            AuditEntry.objects.filter(
                object_type="orders.order", object_id=str(order.pk), action="status_changed"
            )
            .order_by("id")
            .values_list("changes", "actor_label", "reason")
        ),
        "reservations": sorted(
            Reservation.objects.filter(reference__in=refs).values_list("quantity", "state")
        ),
        "sales": sorted(
            StockMovement.objects.filter(kind="sale", reference__in=refs).values_list("quantity", "actor")
        ),
    }


def test_many_at_once_is_one_by_one(ingest, product_factory, admin_user):
    a, b = product_factory(sku="SKU-A", stock=100), product_factory(sku="SKU-B", stock=100)
    product_factory(sku="SKU-0001", stock=100)
    one, many = build(ingest, "x"), build(ingest, "y")

    failed_one = {}
    for oid in one:
        try:
            services.order_transition(
                order_id=oid, status_code="picking", actor=admin_user, reason="r", source="bulk"
            )
        except services.DomainError as exc:
            failed_one[oid] = str(exc.message)
    result = services.order_transition_many(
        order_ids=many, status_code="picking", actor=admin_user, reason="r", source="bulk"
    )
    for oid in one[:3]:
        services.order_transition(order_id=oid, status_code="shipped", actor=admin_user, source="bulk")
    result_shipped = services.order_transition_many(
        order_ids=many[:3], status_code="shipped", actor=admin_user, source="bulk"
    )

    assert result.ok == many[:3] and result_shipped.ok == many[:3]
    assert list(result.failed.values()) == [m.replace("x-s", "y-s") for m in failed_one.values()]
    assert [snapshot(oid) for oid in many] == [snapshot(oid) for oid in one]
    assert snapshot(many[0])["sales"] == [(-2, admin_user.pk), (-1, admin_user.pk)]
    for variant in (a, b):
        level = StockLevel.objects.get(variant=variant)
        assert level.reserved == 0
        assert level.on_hand == 100 - 6 * (2 if variant == a else 1)
        # the ledger reads as if issued one by one: each row's on-hand figure follows from the one before
        afters = list(
            StockMovement.objects.filter(variant=variant)
            .order_by("at", "id")
            .values_list("quantity", "on_hand_after")
        )
        running = 0
        for quantity, after in afters:
            running += quantity
            assert after == running


def test_refusals_name_the_order_and_nothing_is_written(ingest, product_factory, admin_user):
    product_factory(sku="SKU-0001", stock=10)
    shipped = ingest(external_id="s1", number="S-1", stage="shipped").order
    before = OrderEvent.objects.count()

    result = services.order_transition_many(
        order_ids=[shipped.pk, 999999], status_code="picking", actor=admin_user
    )
    unknown = services.order_transition_many(order_ids=[shipped.pk], status_code="nope", actor=admin_user)

    assert result.ok == []
    assert result.failed[shipped.pk].startswith("Order S-1 cannot go from")
    assert result.failed[999999] == "Order not found"
    assert unknown.failed == {shipped.pk: "Unknown status nope"}
    assert OrderEvent.objects.count() == before
    assert Order.objects.get(pk=shipped.pk).version == shipped.version
