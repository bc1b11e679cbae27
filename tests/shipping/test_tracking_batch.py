"""Tracking updates applied in batches (`shipments_apply_tracking`, what polling uses) write exactly the rows
that applying them one shipment at a time writes: events, statuses, times, audit, the order following its
shipments (status events, stock issued), versions."""

from __future__ import annotations

import datetime as dt

import pytest

from zaplecze.core.models import AuditEntry
from zaplecze.inventory.models import StockLevel, StockMovement
from zaplecze.orders.models import Order, OrderEvent, Stage
from zaplecze.shipping import services
from zaplecze.shipping.carriers import TrackingInfo, TrackingUpdate
from zaplecze.shipping.carriers.inpost import InPostConnector
from zaplecze.shipping.models import Shipment, TrackingEvent

pytestmark = pytest.mark.usefixtures("media")
# after the shipments are created (their "created" event is stamped now)
T0 = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(hours=1)
MAPPING = InPostConnector(base_url="http://127.0.0.1:9")  # status mapping only: no request is made


def history(*steps: tuple[str, int]) -> TrackingInfo:
    return TrackingInfo(
        "", steps[-1][0], [TrackingUpdate(raw, T0 + dt.timedelta(hours=h), "WAW") for raw, h in steps]
    )


DELIVERED = history(("collected_from_sender", 0), ("out_for_delivery", 14), ("delivered", 20))
IN_TRANSIT = history(("collected_from_sender", 1), ("sent_from_sorting_center", 5))


def build(order_factory, admin_user, tag: str) -> dict[str, list[int]]:
    """Four orders: one shipment delivered; two shipments (one delivered, one in transit); one shipment
    whose history repeats in the same batch; one order already shipped by hand. Returns shipments by name."""
    out: dict[str, list[int]] = {}
    for name, n in (("single", 1), ("split", 2), ("repeat", 1), ("by_hand", 1)):
        order = order_factory(external_id=f"{tag}-{name}", delivery_method="dpd", pickup_point="")
        out[name] = [
            services.shipment_create(
                order_id=order.pk, actor=admin_user, tracking_number=f"{tag}{name}{i}"
            ).pk
            for i in range(n)
        ]
    services.shipment_transition(shipment_id=out["by_hand"][0], status="handed_over", actor=admin_user)
    return out


def updates(ids: dict[str, list[int]]) -> list[tuple[int, TrackingInfo]]:
    return [
        (ids["single"][0], DELIVERED),
        (ids["split"][0], DELIVERED),
        (ids["split"][1], IN_TRANSIT),
        (ids["repeat"][0], IN_TRANSIT),
        (ids["by_hand"][0], DELIVERED),
        (ids["repeat"][0], DELIVERED),  # a second answer for the same shipment in one batch
    ]


def tracked(value):
    """A time from the tracking histories, or "-" for one stamped while building (differs between builds)."""
    return value if value is not None and T0 <= value <= T0 + dt.timedelta(days=1) else "-"


def snapshot(ids: dict[str, list[int]]) -> dict:
    out = {}
    for name, sids in ids.items():
        shipments = [Shipment.objects.get(pk=sid) for sid in sids]
        order = Order.objects.select_related("status").get(pk=shipments[0].order_id)
        out[name] = {
            "shipments": [
                (
                    s.status,
                    s.raw_status,
                    tracked(s.status_at),
                    tracked(s.handed_over_at),
                    tracked(s.delivered_at),
                    s.last_polled_at is not None,
                )
                for s in shipments
            ],
            "events": [
                [
                    (raw, st, tracked(at), source)
                    for raw, st, at, source in TrackingEvent.objects.filter(shipment_id=sid)
                    .order_by("at", "id")
                    .values_list("raw_status", "status", "at", "source")
                ]
                for sid in sids
            ],
            "shipment_audit": [
                list(
                    AuditEntry.objects.filter(
                        object_type="shipping.shipment", object_id=str(sid), action="status_changed"
                    )
                    .order_by("id")
                    .values_list("action", "changes", "actor_label")
                )
                for sid in sids
            ],
            "order": (
                order.stage,
                order.status.code,
                order.version,
                order.shipped_at is not None,
                order.delivered_at is not None,
            ),
            "order_events": list(
                OrderEvent.objects.filter(order=order)
                .order_by("id")
                .values_list("kind", "from_stage", "to_stage", "actor_label", "message", "data")
            ),
            "order_audit": list(
                AuditEntry.objects.filter(
                    object_type="orders.order", object_id=str(order.pk), action="status_changed"
                )
                .order_by("id")
                .values_list("action", "changes", "actor_label", "reason")
            ),
            "sales": [
                (quantity, reason == f"order {order.number}", after is not None)
                for quantity, reason, after in StockMovement.objects.filter(
                    kind="sale",
                    reference__in=[f"order-line:{pk}" for pk in order.lines.values_list("pk", flat=True)],
                ).values_list("quantity", "reason", "on_hand_after")
            ],
        }
    return out


def test_a_batch_writes_what_one_by_one_writes(order_factory, admin_user):
    one_by_one, batched = build(order_factory, admin_user, "a"), build(order_factory, admin_user, "b")

    moved_single = {}
    for sid, info in updates(one_by_one):
        moved_single[sid] = services.shipment_apply_tracking(
            shipment_id=sid, info=info, connector=MAPPING
        ) or moved_single.get(sid, False)
    moved_batch = services.shipments_apply_tracking(updates=updates(batched), connector=MAPPING)

    assert list(moved_batch.values()) == list(moved_single.values())
    got, want = snapshot(batched), snapshot(one_by_one)
    assert {(n, k): v for n in got for k, v in got[n].items() if v != want[n][k]} == {
        (n, k): v for n in want for k, v in want[n].items() if v != got[n][k]
    }
    result = snapshot(batched)
    assert result["single"]["order"][0] == Stage.DELIVERED
    assert result["split"]["order"][0] == Stage.SHIPPED  # one parcel still on its way
    assert result["repeat"]["order"][0] == Stage.DELIVERED
    assert result["by_hand"]["order"][0] == Stage.DELIVERED
    assert [e[0] for e in result["single"]["order_events"]][-3:] == ["status", "stock_issued", "status"]
    # created, then collected once (both answers have it at other times: each time is a new event), sorting,
    # out for delivery, delivered
    assert [e[0] for e in result["repeat"]["events"][0]] == [
        "created",
        "collected_from_sender",
        "collected_from_sender",
        "sent_from_sorting_center",
        "out_for_delivery",
        "delivered",
    ]
    assert StockLevel.objects.get().reserved == 0


def test_a_batch_again_changes_nothing(order_factory, admin_user):
    ids = build(order_factory, admin_user, "c")
    services.shipments_apply_tracking(updates=updates(ids), connector=MAPPING)
    before = snapshot(ids)
    counts = (
        TrackingEvent.objects.count(),
        OrderEvent.objects.count(),
        AuditEntry.objects.count(),
        StockMovement.objects.count(),
    )

    again = services.shipments_apply_tracking(updates=updates(ids), connector=MAPPING)

    assert not any(again.values())
    assert snapshot(ids) == before
    assert (
        TrackingEvent.objects.count(),
        OrderEvent.objects.count(),
        AuditEntry.objects.count(),
        StockMovement.objects.count(),
    ) == counts


def test_unknown_shipments_are_left_out_of_a_batch_and_refused_alone(order_factory, admin_user):
    ids = build(order_factory, admin_user, "d")

    result = services.shipments_apply_tracking(
        updates=[(999999, DELIVERED), (ids["single"][0], DELIVERED)], connector=MAPPING
    )

    assert result == {ids["single"][0]: True}
    from zaplecze.core.errors import NotFound

    with pytest.raises(NotFound):
        services.shipment_apply_tracking(shipment_id=999999, info=DELIVERED, connector=MAPPING)


def test_batches_span_several_transactions(order_factory, admin_user, monkeypatch):
    monkeypatch.setattr(services, "TRACKING_BATCH", 2)
    ids = build(order_factory, admin_user, "e")

    result = services.shipments_apply_tracking(updates=updates(ids), connector=MAPPING)

    assert sum(result.values()) == 5
    assert Order.objects.filter(stage=Stage.DELIVERED).count() == 3
