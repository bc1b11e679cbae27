"""Delivery promises: ship-by from handling time and cut-off in Europe/Warsaw with Polish holidays."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from zaplecze.core.businesstime import ship_by_promise
from zaplecze.orders.models import Channel, OrderEvent
from zaplecze.shipping import selectors, services

WAW = ZoneInfo("Europe/Warsaw")
CUTOFF = dt.time(14, 0)


def waw(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=WAW)


def test_paid_friday_after_cutoff_ships_by_monday():
    # Friday 19.12.2025 15:00, cut-off 14:00, 1 working day -> Monday 22.12.2025 (end of the working day)
    assert ship_by_promise(waw(2025, 12, 19, 15, 0), handling_days=1, cutoff=CUTOFF) == waw(
        2025, 12, 22, 16, 0
    )


def test_paid_before_christmas_eve_after_cutoff_ships_after_the_holidays():
    # Tuesday 23.12.2025 15:00: 24 (holiday from 2025), 25, 26 holidays, 27-28 weekend -> Monday 29.12.2025
    assert ship_by_promise(waw(2025, 12, 23, 15, 0), handling_days=1, cutoff=CUTOFF) == waw(
        2025, 12, 29, 16, 0
    )


def test_paid_by_the_cutoff_ships_the_same_day_and_the_cutoff_minute_itself_counts():
    assert ship_by_promise(waw(2025, 12, 19, 13, 59), handling_days=1, cutoff=CUTOFF) == waw(
        2025, 12, 19, 16, 0
    )
    assert ship_by_promise(waw(2025, 12, 19, 14, 0), handling_days=1, cutoff=CUTOFF) == waw(
        2025, 12, 19, 16, 0
    )
    assert ship_by_promise(waw(2025, 12, 19, 14, 0, 1), handling_days=1, cutoff=CUTOFF) == waw(
        2025, 12, 22, 16, 0
    )


def test_weekend_payment_counts_from_the_next_working_day_and_handling_days_add_working_days():
    saturday = waw(2025, 12, 20, 9, 0)
    assert ship_by_promise(saturday, handling_days=1, cutoff=CUTOFF) == waw(2025, 12, 22, 16, 0)
    assert ship_by_promise(saturday, handling_days=2, cutoff=CUTOFF) == waw(2025, 12, 23, 16, 0)
    assert ship_by_promise(saturday, handling_days=3, cutoff=CUTOFF) == waw(2025, 12, 29, 16, 0)


def test_no_cutoff_means_any_time_of_a_working_day_counts_and_result_is_utc():
    result = ship_by_promise(waw(2025, 12, 19, 23, 30), handling_days=1, cutoff=None)
    assert result == waw(2025, 12, 19, 16, 0)
    assert result.tzinfo == dt.UTC
    # a cut-off later than the end of the working day moves the deadline to the cut-off
    assert ship_by_promise(waw(2025, 12, 19, 17, 0), handling_days=1, cutoff=dt.time(18, 0)) == waw(
        2025, 12, 19, 18
    )


def test_the_payment_time_is_read_in_warsaw_not_utc():
    # 13:30 UTC on 19.12.2025 is 14:30 in Warsaw: after the cut-off
    assert ship_by_promise(
        dt.datetime(2025, 12, 19, 13, 30, tzinfo=dt.UTC), handling_days=1, cutoff=CUTOFF
    ) == waw(2025, 12, 22, 16, 0)


@pytest.fixture
def shop(db):
    return Channel.objects.get(code="shop")


def test_the_most_specific_active_promise_wins(shop):
    general = services.promise_save(
        channel_id=None, delivery_method="", handling_days=3, cutoff=None, actor=None
    )
    by_method = services.promise_save(
        channel_id=None, delivery_method="inpost_locker", handling_days=2, cutoff=CUTOFF, actor=None
    )
    by_channel = services.promise_save(
        channel_id=shop.pk, delivery_method="", handling_days=1, cutoff=CUTOFF, actor=None
    )
    exact = services.promise_save(
        channel_id=shop.pk,
        delivery_method="inpost_locker",
        handling_days=1,
        cutoff=dt.time(12, 0),
        actor=None,
    )
    assert selectors.promise_for(shop.pk, "inpost_locker") == exact
    assert selectors.promise_for(shop.pk, "dpd") == by_channel
    other = Channel.objects.create(code="other-shop", name="Other", kind="other")
    assert selectors.promise_for(other.pk, "inpost_locker") == by_method
    assert selectors.promise_for(other.pk, "dpd") == general
    services.promise_save(
        channel_id=shop.pk,
        delivery_method="inpost_locker",
        handling_days=1,
        cutoff=None,
        active=False,
        actor=None,
    )
    assert selectors.promise_for(shop.pk, "inpost_locker") == by_channel


def test_saving_the_same_pair_twice_updates_one_promise(shop):
    services.promise_save(
        channel_id=shop.pk, delivery_method="dpd", handling_days=1, cutoff=CUTOFF, actor=None
    )
    services.promise_save(channel_id=shop.pk, delivery_method="dpd", handling_days=2, cutoff=None, actor=None)
    services.promise_save(channel_id=None, delivery_method="dpd", handling_days=4, cutoff=None, actor=None)
    services.promise_save(channel_id=None, delivery_method="dpd", handling_days=5, cutoff=None, actor=None)
    rows = sorted(selectors.promises().values_list("channel_id", "handling_days", "cutoff"), key=str)
    assert rows == sorted([(shop.pk, 2, None), (None, 5, None)], key=str)


def test_bad_promise_input_names_the_field(shop):
    from zaplecze.core.errors import DomainError

    with pytest.raises(DomainError) as exc:
        services.promise_save(
            channel_id=shop.pk, delivery_method="pigeon", handling_days=1, cutoff=None, actor=None
        )
    assert exc.value.field == "delivery_method"
    with pytest.raises(DomainError) as exc:
        services.promise_save(
            channel_id=shop.pk, delivery_method="", handling_days=99, cutoff=None, actor=None
        )
    assert exc.value.field == "handling_days"


def test_an_order_paid_friday_afternoon_gets_monday_as_ship_by(shop, ingest, product_factory, admin_user):
    product_factory(sku="SKU-0001")
    Channel.objects.filter(pk=shop.pk).update(ship_within_hours=48)  # intake's rule: Tuesday 23.12
    services.promise_save(
        channel_id=shop.pk, delivery_method="inpost_locker", handling_days=1, cutoff=CUTOFF, actor=None
    )
    order = ingest(
        placed_at=waw(2025, 12, 19, 9, 0).isoformat(), paid_at=waw(2025, 12, 19, 15, 0).isoformat()
    ).order
    version = order.version
    assert order.ship_by == waw(2025, 12, 23, 16, 0)
    updated = services.order_ship_by_update(order_id=order.pk, actor=admin_user)
    assert updated.ship_by == waw(2025, 12, 22, 16, 0)
    assert updated.version == version + 1
    edit = OrderEvent.objects.filter(order=order, kind=OrderEvent.Kind.EDITED).get()
    assert edit.data == {"fields": ["ship_by"]}
    # recomputing again changes nothing and records nothing
    again = services.order_ship_by_update(order_id=order.pk, actor=admin_user)
    assert again.version == version + 1
    assert OrderEvent.objects.filter(order=order, kind=OrderEvent.Kind.EDITED).count() == 1


def test_unpaid_and_cod_orders_count_from_placing_and_no_promise_keeps_the_channel_hours(
    shop, ingest, product_factory
):
    product_factory(sku="SKU-0001")
    order = ingest(
        external_id="cod-1",
        payment_method="cod",
        payment_status="cod",
        placed_at=waw(2025, 12, 23, 10, 0).isoformat(),
    ).order
    before = order.ship_by
    assert services.order_ship_by_compute(order) == before  # no promise: the channel's 24 h rule as at intake
    services.promise_save(channel_id=None, delivery_method="", handling_days=1, cutoff=CUTOFF, actor=None)
    order.refresh_from_db()
    assert services.order_ship_by_compute(order) == waw(2025, 12, 23, 16, 0)


def test_refresh_recomputes_open_orders_only(shop, ingest, product_factory):
    product_factory(sku="SKU-0001")
    open_order = ingest(
        external_id="o1",
        paid_at=waw(2025, 12, 19, 15, 0).isoformat(),
        placed_at=waw(2025, 12, 19, 14, 0).isoformat(),
    ).order
    done = ingest(
        external_id="o2",
        stage="delivered",
        paid_at=waw(2025, 12, 19, 15, 0).isoformat(),
        placed_at=waw(2025, 12, 19, 14, 0).isoformat(),
    ).order
    done_ship_by = done.ship_by
    assert open_order.ship_by == waw(2025, 12, 22, 16, 0)  # intake: the channel's 24 h
    services.promise_save(channel_id=shop.pk, delivery_method="", handling_days=2, cutoff=CUTOFF, actor=None)
    assert services.orders_ship_by_refresh() == 1
    open_order.refresh_from_db()
    done.refresh_from_db()
    assert open_order.ship_by == waw(2025, 12, 23, 16, 0)
    assert done.ship_by == done_ship_by


def test_late_and_at_risk_lists(shop, ingest, product_factory):
    from zaplecze.orders.services import order_edit

    product_factory(sku="SKU-0001", stock=50)
    now = waw(2025, 12, 22, 12, 0)
    late = ingest(external_id="late").order
    soon = ingest(external_id="soon").order
    later = ingest(external_id="later").order
    closed = ingest(external_id="closed", stage="delivered").order
    for order, due in (
        (late, now - dt.timedelta(hours=1)),
        (soon, now + dt.timedelta(hours=3)),
        (later, now + dt.timedelta(hours=30)),
        (closed, now - dt.timedelta(hours=5)),
    ):
        order_edit(order_id=order.pk, expected_version=order.version, changes={"ship_by": due}, actor=None)
    assert [o.external_id for o in selectors.orders_late(now)] == ["late"]
    assert [o.external_id for o in selectors.orders_at_risk(now, hours=4)] == ["soon"]
    assert [o.external_id for o in selectors.orders_at_risk(now, hours=48)] == ["soon", "later"]
