import datetime as dt
from decimal import Decimal

import pytest

from zaplecze.core.models import AuditEntry
from zaplecze.inventory.models import StockLevel
from zaplecze.orders.models import Order, OrderEvent, Stage

pytestmark = pytest.mark.django_db


def test_new_order_is_created_with_totals_reservation_event_and_audit(product_factory, ingest):
    variant = product_factory(sku="SKU-0001", stock=5)

    result = ingest()

    order = result.order
    assert result.outcome == "created"
    assert order.stage == Stage.READY  # paid
    assert order.total_gross == Decimal("112.97")  # 2 x 49.99 + 12.99
    assert order.total_net == Decimal("81.28") + Decimal("10.56")  # 99.98/1.23, 12.99/1.23
    assert order.total_vat == order.total_gross - order.total_net
    assert order.lines.get().variant == variant
    level = StockLevel.objects.get(variant=variant)
    assert (level.on_hand, level.reserved) == (5, 2)
    assert list(order.events.values_list("kind", flat=True)) == [OrderEvent.Kind.CREATED]
    assert (
        AuditEntry.objects.filter(
            object_type="orders.order", object_id=str(order.pk), action="created"
        ).count()
        == 1
    )
    assert order.ship_by is not None and order.ship_by > order.placed_at


def test_same_order_twice_is_one_order(product_factory, ingest):
    product_factory(sku="SKU-0001")
    ingest()
    second = ingest()
    assert second.outcome == "unchanged"
    assert Order.objects.count() == 1
    assert StockLevel.objects.get().reserved == 2


def test_newer_version_updates_and_older_never_overwrites(product_factory, ingest):
    product_factory(sku="SKU-0001")
    t0 = dt.datetime(2026, 11, 20, 10, tzinfo=dt.UTC)
    ingest(updated_at=(t0).isoformat())
    newer = ingest(
        updated_at=(t0 + dt.timedelta(hours=2)).isoformat(),
        notes="Please ring twice",
        lines=[{"sku": "SKU-0001", "quantity": 3, "unit_price_gross": "49.99"}],
    )
    older = ingest(updated_at=(t0 + dt.timedelta(hours=1)).isoformat(), notes="old note")

    assert newer.outcome == "updated"
    assert older.outcome == "stale"
    order = Order.objects.get()
    assert order.notes == "Please ring twice"
    assert order.lines.get().quantity == 3
    assert StockLevel.objects.get().reserved == 3
    kinds = list(order.events.values_list("kind", flat=True))
    assert kinds == ["created", "updated", "stale_ignored"]
    audit = AuditEntry.objects.get(object_type="orders.order", action="updated")
    assert audit.changes["notes"] == ["", "Please ring twice"]


def test_unknown_sku_keeps_order_and_flags_it(ingest):
    result = ingest(lines=[{"sku": "NOPE-1", "quantity": 1, "unit_price_gross": "10.00"}])
    assert result.order.needs_attention is True
    assert result.order.attention_reasons[0]["code"] == "unknown_sku"


def test_insufficient_stock_flags_order_without_negative_stock(product_factory, ingest):
    product_factory(sku="SKU-0001", stock=1)
    result = ingest()  # wants 2
    level = StockLevel.objects.get()
    assert (level.on_hand, level.reserved) == (1, 0)
    assert result.order.needs_attention
    assert result.order.attention_reasons[0]["code"] == "stock_short"


def test_channel_update_keeps_a_stock_shortage_flag_that_still_holds(product_factory, ingest):
    product_factory(sku="SKU-0001", stock=1)
    ingest()  # wants 2, only 1 on hand -> short
    updated = ingest(notes="Leave at the door")  # same lines, new note

    assert updated.outcome == "updated"
    assert updated.order.needs_attention is True
    assert [r["code"] for r in updated.order.attention_reasons] == ["stock_short"]


def test_attention_cleared_by_hand_is_not_brought_back_by_an_unrelated_update(product_factory, ingest):
    from zaplecze.orders.services import order_resolve_attention

    ingest(lines=[{"sku": "NOPE-1", "quantity": 1, "unit_price_gross": "10.00"}])
    order = Order.objects.get()
    order_resolve_attention(order_id=order.pk, actor=None, note="mapped by hand")
    # the channel sends the same order again with a note; the unknown SKU is still unknown: flagged again
    again = ingest(lines=[{"sku": "NOPE-1", "quantity": 1, "unit_price_gross": "10.00"}], notes="x")
    assert [r["code"] for r in again.order.attention_reasons] == ["unknown_sku"]


def test_discount_above_order_value_is_refused():
    from pydantic import ValidationError

    from tests.conftest import order_data
    from zaplecze.orders.schemas import OrderIn

    with pytest.raises(ValidationError, match="discount"):
        OrderIn.model_validate(order_data(discount="500.00"))
