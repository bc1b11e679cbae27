"""Each automation action: what it does to the order, what it writes to the order's history and the rule log.
Rules are run directly through `automation.event_process` (what the worker job calls)."""

from __future__ import annotations

import pytest
from django.core import mail

from zaplecze.core.models import AuditEntry
from zaplecze.orders import automation
from zaplecze.orders.automation_services import rule_create
from zaplecze.orders.models import AutomationRun, Order, OrderEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def order(ingest, product_factory):
    product_factory(sku="SKU-0001", stock=100)
    return ingest().order


def run_rule(order, actions, conditions=()):
    rule = rule_create(
        name="Test rule",
        trigger="order_created",
        conditions=list(conditions),
        actions=actions,
        enabled=True,
        actor=None,
    )
    automation.event_process(event="order_created", order_ids=[order.pk])
    return rule, AutomationRun.objects.filter(rule=rule).order_by("-id").first()


def test_set_status_moves_the_order_through_order_transition(order):
    rule, run = run_rule(order, [{"type": "set_status", "status": "picking"}])
    order = Order.objects.get(pk=order.pk)
    assert (order.status.code, order.stage) == ("picking", "in_fulfilment")
    status_event = OrderEvent.objects.get(order=order, kind="status")
    assert (status_event.from_status, status_event.to_status, status_event.actor_label) == (
        "ready",
        "picking",
        "automation",
    )
    assert status_event.message == "Automation rule “Test rule”"
    assert run.result == "done"
    assert run.actions_done == [{"type": "set_status", "message": "Status set to “Picking”"}]
    assert OrderEvent.objects.get(order=order, kind="automation").message == (
        "Rule “Test rule”: Status set to “Picking”"
    )


def test_add_and_remove_tag(order):
    run_rule(order, [{"type": "add_tag", "tag": "VIP-check"}, {"type": "remove_tag", "tag": "legacy"}])
    assert set(order.tags.values_list("name", flat=True)) == {"VIP-check"}
    run = AutomationRun.objects.get(order=order)
    assert [a["message"] for a in run.actions_done] == ["Tag “VIP-check” added", "Tag “legacy” was not there"]
    rule2 = rule_create(
        name="Untag",
        trigger="order_paid",
        actions=[{"type": "remove_tag", "tag": "VIP-check"}],
        enabled=True,
        actor=None,
    )
    automation.event_process(event="order_paid", order_ids=[order.pk])
    assert set(order.tags.values_list("name", flat=True)) == set()
    assert OrderEvent.objects.filter(order=order, kind="tag_removed", actor_label="automation").count() == 1
    assert AutomationRun.objects.get(rule=rule2).result == "done"


def test_assign_warehouse_records_it_on_the_order_with_history_and_audit(order):
    from zaplecze.inventory.models import Warehouse

    Warehouse.objects.create(code="WRO", name="Wrocław", priority=20)
    _rule, run = run_rule(order, [{"type": "assign_warehouse", "warehouse": "WRO"}])
    order = Order.objects.get(pk=order.pk)
    assert order.warehouse.code == "WRO"
    assert run.actions_done == [{"type": "assign_warehouse", "message": "Warehouse “Wrocław” assigned"}]
    edited = OrderEvent.objects.get(order=order, kind="edited")
    assert (edited.message, edited.actor_label) == ("Warehouse: Wrocław", "automation")
    audit = AuditEntry.objects.get(
        object_type="orders.order", object_id=str(order.pk), action="warehouse_assigned"
    )
    assert audit.changes == {"warehouse": [None, "WRO"]}


def test_create_shipment_with_the_carrier_of_the_delivery_method_and_never_twice(ingest, product_factory):
    from zaplecze.shipping.models import Shipment

    product_factory(sku="SKU-0001", stock=100)
    order = ingest(delivery_method="dpd", pickup_point="").order
    rule, run = run_rule(order, [{"type": "create_shipment"}])
    shipment = Shipment.objects.get(order=order)
    assert (shipment.carrier.code, shipment.submission) == ("dpd", "done")
    assert shipment.comments == "Automation rule “Test rule”"
    assert run.actions_done == [
        {"type": "create_shipment", "message": f"Shipment {shipment.reference} created (DPD)"}
    ]
    automation.event_process(event="order_created", order_ids=[order.pk])  # the same event again
    assert Shipment.objects.filter(order=order).count() == 1
    second = AutomationRun.objects.filter(rule=rule).order_by("-id").first()
    assert second.actions_done[0]["message"] == (
        f"The order already has shipment {shipment.reference}; no second one was created"
    )


def test_create_shipment_with_a_chosen_carrier(order):
    from zaplecze.shipping.models import Shipment

    run_rule(order, [{"type": "create_shipment", "carrier": "gls"}])
    assert Shipment.objects.get(order=order).carrier.code == "gls"


def test_send_email_is_written_to_the_outbox_and_sent_only_after_commit(
    order, django_capture_on_commit_callbacks
):
    from django.utils import translation

    from zaplecze.service.automation import BUILTIN
    from zaplecze.service.models import OutboxEmail

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        _rule, run = run_rule(order, [{"type": "send_email", "template": "payment_reminder"}])
        email = OutboxEmail.objects.get()
        assert (email.to, email.kind, email.language, email.state) == (
            "anna@example.com",
            "automation",
            "pl",
            "pending",
        )
        assert email.key == f"automation:{run.pk}:0"
        with translation.override("pl"):  # the order's language (whatever the Polish catalogue says)
            subject = str(BUILTIN["payment_reminder"][1]).format(order_number="#1001")
            greeting = str(BUILTIN["payment_reminder"][2]).split(",")[0].format(customer_name="Anna Kowalska")
        assert email.subject == subject
        assert email.body.startswith(greeting) and "#1001" in email.body
        assert mail.outbox == []  # nothing leaves before the commit
    for callback in callbacks:
        callback()
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["anna@example.com"]
    assert OutboxEmail.objects.get().state == "sent"
    assert run.actions_done == [
        {
            "type": "send_email",
            "message": f"E-mail “{subject}” queued to anna@example.com",
        }
    ]


def test_send_email_is_in_english_for_a_foreign_address_and_a_canned_reply_fills_variables(
    ingest, product_factory
):
    from zaplecze.service.models import OutboxEmail
    from zaplecze.service.services import canned_save

    product_factory(sku="SKU-0001", stock=100)
    canned_save(
        name="Thanks",
        language="pl",
        body="Dziękujemy, {customer_name}! Zamówienie {order_number}.",
        actor=None,
    )
    canned_save(
        name="Thanks", language="en", body="Thank you, {customer_name}! Order {order_number}.", actor=None
    )
    order = ingest(
        shipping_address={
            "name": "Max",
            "street": "Hauptstr. 1",
            "postcode": "10115",
            "city": "Berlin",
            "country": "DE",
        }
    ).order
    run_rule(
        order,
        [
            {"type": "send_email", "template": "canned:Thanks"},
            {"type": "send_email", "template": "payment_reminder"},
        ],
    )
    canned, builtin = OutboxEmail.objects.order_by("id")
    assert (canned.language, builtin.language) == ("en", "en")
    assert canned.subject == "Your order #1001"
    assert canned.body.startswith("Thank you, Anna Kowalska! Order #1001.")
    assert builtin.subject == "Order #1001 is waiting for your payment"
    assert builtin.body.startswith("Hello Anna Kowalska,")


def test_send_email_without_an_address_sends_nothing_and_says_so(ingest, product_factory):
    from zaplecze.service.models import OutboxEmail

    product_factory(sku="SKU-0001", stock=100)
    order = ingest(email="").order
    _rule, run = run_rule(order, [{"type": "send_email", "template": "order_confirmation"}])
    assert OutboxEmail.objects.count() == 0
    assert run.result == "done"
    assert run.actions_done[0]["message"] == "No e-mail address on the order: nothing was sent"


def test_a_failing_action_rolls_back_the_rules_earlier_actions_and_is_logged(order):
    # ready -> delivered is not an allowed move: the tag added before it is rolled back.
    _rule, run = run_rule(
        order, [{"type": "add_tag", "tag": "first"}, {"type": "set_status", "status": "delivered"}]
    )
    assert order.tags.count() == 0
    assert Order.objects.get(pk=order.pk).status.code == "ready"
    assert run.result == "failed" and run.matched is True
    assert "cannot go from" in run.error
    assert run.actions_done == [
        {"type": "add_tag", "message": "Tag “first” added", "rolled_back": True},
        {"type": "set_status", "error": run.error},
    ]
    event = OrderEvent.objects.get(order=order, kind="automation")
    assert event.message.startswith(
        "Rule “Test rule” failed, nothing was changed: Order #1001 cannot go from"
    )
    assert event.data["failed"] is True
    assert not OrderEvent.objects.filter(order=order, kind="tag_added").exists()
