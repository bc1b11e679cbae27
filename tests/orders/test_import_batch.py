"""The batch intake writes exactly what `ingest_order` one by one writes, in far fewer queries."""

import datetime as dt

import pytest
from django.db import IntegrityError, transaction

from zaplecze.core.errors import DomainError
from zaplecze.core.models import AuditEntry
from zaplecze.inventory.models import Reservation, StockLevel
from zaplecze.orders import intake
from zaplecze.orders.models import Customer, Order, OrderEvent, OrderLine, OrderSearchToken
from zaplecze.orders.schemas import OrderIn
from zaplecze.orders.services import ingest_order, ingest_orders_batch

from ..conftest import order_data

pytestmark = pytest.mark.django_db
T0 = dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.UTC)


def _in(**overrides) -> OrderIn:
    return OrderIn.model_validate(order_data(**overrides))


def _line(sku, qty=1, price="10.00", **extra):
    return {"sku": sku, "quantity": qty, "unit_price_gross": price, **extra}


def _batch_inputs() -> list[OrderIn]:
    """Orders whose outcome depends on the order they are taken in: shared customers, scarce stock,
    repeated and pre-existing orders, refusals."""
    return [
        _in(
            external_id="1",
            email="ola@example.com",
            customer_name="Ola",
            phone="+48 600 000 001",
            lines=[_line("A", 2)],
            tags=["vip"],
        ),
        _in(
            external_id="2",
            email="ola@example.com",
            customer_name="Aleksandra",
            phone="+48 600 000 002",
            company="Ola sp.j.",
            lines=[_line("A", 2), _line("B", 1)],
        ),  # A: only 1 left -> short
        _in(
            external_id="3",
            email="",
            phone="+48 600 000 002",
            customer_name="Phone-only",
            lines=[_line("A", 1)],
            payment_method="transfer",
            payment_status=None,
        ),
        _in(external_id="4", email="", phone="+48 700 000 000", lines=[_line("NOPE")], tags=["vip", "new"]),
        _in(
            external_id="1",
            email="ola@example.com",
            customer_name="Ola",
            phone="+48 600 000 001",
            lines=[_line("A", 2)],
            tags=["vip"],
        ),  # the same again: unchanged
        _in(external_id="old", notes="changed by the channel", lines=[_line("B", 1)]),  # exists: update
        _in(external_id="5", channel="nowhere"),  # refused: unknown channel
        _in(external_id="6", status="no-such-status"),  # refused: unknown status
        _in(
            external_id="7",
            channel="allegro",
            status="shipped",
            lines=[_line("B", 5)],
            placed_at=(T0 + dt.timedelta(days=3)).isoformat(),
        ),  # shipped: no reservation
        _in(external_id="8", status="cancelled", email="ewa@example.com", lines=[_line("B", 1)]),
        _in(
            external_id="9",
            email="ewa@example.com",
            customer_type="business",
            nip="5260250274",
            company="Ewa SA",
            lines=[_line("B", 2, vat_rate="8"), _line("A", 1)],
            total_gross="1.00",
        ),
    ]


def _setup(product_factory):
    product_factory(sku="A", stock=3)
    product_factory(sku="B", stock=10)
    ingest_order(_in(external_id="old", lines=[_line("B", 1)]), source="test")


def _snapshot() -> dict:
    def order_key(order_id):
        o = Order.objects.select_related("channel").get(pk=order_id)
        return (o.channel.code, o.external_id)

    line_keys = {ln.pk: (order_key(ln.order_id), ln.position) for ln in OrderLine.objects.all()}
    customers = {c.pk: (c.email, c.phone, c.name, c.company, c.type, c.nip) for c in Customer.objects.all()}
    orders = {}
    skip = {"id", "created_at", "updated_at", "customer", "ship_by"}
    for o in Order.objects.select_related("channel", "status").prefetch_related("tags"):
        row = {f.attname: getattr(o, f.attname) for f in Order._meta.concrete_fields if f.name not in skip}
        row["customer"] = customers.get(o.customer_id)
        row["tags"] = sorted(t.name for t in o.tags.all())
        row["ship_by"] = o.ship_by
        orders[(o.channel.code, o.external_id)] = row
    return {
        "orders": orders,
        "lines": sorted(
            (
                line_keys[ln.pk],
                ln.sku,
                ln.variant_id,
                ln.quantity,
                ln.unit_price_gross,
                ln.total_net,
                ln.total_gross,
                ln.vat_rate,
                ln.name,
                ln.ean,
            )
            for ln in OrderLine.objects.all()
        ),
        "customers": sorted(customers.values()),
        "reservations": sorted(
            (line_keys.get(int(r.reference.split(":")[1])), r.variant_id, r.warehouse_id, r.quantity, r.state)
            for r in Reservation.objects.all()
        ),
        "levels": sorted(StockLevel.objects.values_list("variant_id", "warehouse_id", "on_hand", "reserved")),
        "events": sorted(
            (
                order_key(e.order_id),
                e.kind,
                e.actor_label,
                e.from_status,
                e.to_status,
                e.from_stage,
                e.to_stage,
                e.message,
                str(e.data),
            )
            for e in OrderEvent.objects.all()
        ),
        "audit": sorted(
            (a.object_type, order_key(int(a.object_id)), a.action, a.actor_label, str(a.changes))
            for a in AuditEntry.objects.filter(object_type="orders.order")
        ),
        "tokens": sorted((order_key(t.order_id), t.token) for t in OrderSearchToken.objects.all()),
    }


def _outcome(result):
    if isinstance(result, DomainError):
        return ("error", result.field, str(result.message))
    return (result.outcome, result.order.external_id, [a["code"] for a in result.attention])


def test_batch_and_one_by_one_write_identical_rows(product_factory):
    _setup(product_factory)
    items = _batch_inputs()
    with transaction.atomic():
        single = []
        for data in items:
            try:
                single.append(ingest_order(data, source="import"))
            except DomainError as exc:
                single.append(exc)
        expected = _snapshot()
        transaction.set_rollback(True)

    batch = ingest_orders_batch(items, source="import")

    assert [_outcome(r) for r in batch] == [_outcome(r) for r in single]
    assert [_outcome(r)[0] for r in batch] == [
        "created",
        "created",
        "created",
        "created",
        "unchanged",
        "updated",
        "error",
        "error",
        "created",
        "created",
        "created",
    ]
    assert _snapshot() == expected
    # The part that depends on the sequence: order 2 found only 1 unit of A left.
    assert [a["code"] for a in Order.objects.get(external_id="2").attention_reasons] == ["stock_short"]
    # Order 2 gave Ola's customer a new phone; order 3 (phone only) then found that customer by it.
    ola = Customer.objects.get(email="ola@example.com")
    assert (ola.phone, ola.name, ola.company) == ("+48 600 000 002", "Phone-only", "Ola sp.j.")
    assert Order.objects.get(external_id="3").customer_id == ola.pk


def test_a_failing_bulk_run_rolls_back_and_falls_back_to_one_by_one(product_factory, monkeypatch):
    _setup(product_factory)
    items = [_in(external_id=str(i), lines=[_line("A", 1)]) for i in range(1, 4)]
    with transaction.atomic():
        for data in items:
            ingest_order(data, source="import")
        expected = _snapshot()
        transaction.set_rollback(True)
    calls = {"n": 0}
    real_insert = intake._insert

    def failing_insert(model, attnames, rows):
        calls["n"] += 1
        if model is OrderSearchToken:  # late in the run: orders and lines are already inserted
            raise IntegrityError("simulated failure")
        return real_insert(model, attnames, rows)

    monkeypatch.setattr(intake, "_insert", failing_insert)

    results = ingest_orders_batch(items, source="import")

    assert calls["n"] > 0
    assert [r.outcome for r in results] == ["created"] * 3
    assert _snapshot() == expected  # nothing of the failed bulk run is left, everything written once


def test_new_orders_take_a_bounded_number_of_queries(product_factory, django_assert_max_num_queries):
    product_factory(sku="A", stock=100)
    items = [
        _in(external_id=str(i), email=f"c{i}@example.com", lines=[_line("A", 1)], tags=["x"])
        for i in range(60)
    ]
    with django_assert_max_num_queries(25):
        results = ingest_orders_batch(items, source="import")
    assert {r.outcome for r in results} == {"created"}
    assert StockLevel.objects.get().reserved == 60
    assert OrderEvent.objects.count() == AuditEntry.objects.filter(object_type="orders.order").count() == 60


def test_an_existing_order_with_the_same_fingerprint_is_unchanged_without_writes(
    product_factory, django_assert_num_queries
):
    product_factory(sku="A")
    data = _in(external_id="1", lines=[_line("A", 1)])
    ingest_order(data)
    with django_assert_num_queries(4):  # channel, status, existing id, the existing order
        [result] = ingest_orders_batch([data])
    assert result.outcome == "unchanged"
