"""Automation rules end to end: events from the order services -> worker job -> rules -> actions, logged."""

from __future__ import annotations

import datetime as dt

import pytest

from zaplecze.orders import automation
from zaplecze.orders.automation_services import rule_create, rule_move, rule_set_enabled
from zaplecze.orders.models import AutomationRule, AutomationRun, Order, OrderEvent
from zaplecze.orders.services import order_edit, order_tags_change, order_transition

pytestmark = pytest.mark.django_db


@pytest.fixture
def rule():
    def _make(name="R", trigger="order_created", conditions=(), actions=(), enabled=True, **kw):
        return rule_create(
            name=name,
            trigger=trigger,
            conditions=list(conditions),
            actions=list(actions) or [{"type": "add_tag", "tag": "auto"}],
            enabled=enabled,
            actor=None,
            **kw,
        )

    return _make


@pytest.fixture
def new_order(ingest, product_factory, django_capture_on_commit_callbacks):
    """new_order(**overrides) -> the order after its events were processed (callbacks run)."""
    state = {"n": 0}
    product_factory(sku="SKU-0001", stock=100)

    def _make(**overrides):
        state["n"] += 1
        overrides.setdefault("external_id", f"A-{state['n']}")
        overrides.setdefault("number", f"#A{state['n']}")
        with django_capture_on_commit_callbacks(execute=True):
            order = ingest(**overrides).order
        return Order.objects.get(pk=order.pk)

    return _make


def tags(order) -> set[str]:
    return set(order.tags.values_list("name", flat=True))


def test_a_created_rule_tags_the_new_order_and_logs_it_on_the_order_and_in_the_rule_log(rule, new_order):
    r = rule(name="Tag all", actions=[{"type": "add_tag", "tag": "auto"}])

    order = new_order()

    assert tags(order) == {"auto"}
    run = AutomationRun.objects.get(rule=r, order=order)
    assert (run.result, run.matched, run.trigger) == ("done", True, "order_created")
    assert run.actions_done == [{"type": "add_tag", "message": "Tag “auto” added"}]
    event = OrderEvent.objects.get(order=order, kind="automation")
    assert event.message == "Rule “Tag all”: Tag “auto” added"
    assert event.data == {"rule_id": r.pk, "run_id": run.pk, "action": "add_tag"}
    added = OrderEvent.objects.get(order=order, kind="tag_added")
    assert added.actor_label == "automation"


def test_rules_run_in_order_and_stop_processing_ends_the_pass(rule, new_order):
    first = rule(name="one", actions=[{"type": "add_tag", "tag": "one"}])
    second = rule(name="two", actions=[{"type": "add_tag", "tag": "two"}], stop_processing=True)
    third = rule(name="three", actions=[{"type": "add_tag", "tag": "three"}])

    order = new_order()

    assert tags(order) == {"one", "two"}
    assert not AutomationRun.objects.filter(rule=third).exists()
    added = list(
        OrderEvent.objects.filter(order=order, kind="tag_added")
        .order_by("id")
        .values_list("message", flat=True)
    )
    assert added == ["one", "two"]

    rule_move(rule_id=third.pk, direction="up", actor=None)
    rule_move(rule_id=third.pk, direction="up", actor=None)
    assert list(
        AutomationRule.objects.filter(enabled=True).order_by("position").values_list("name", flat=True)
    ) == [
        "three",
        "one",
        "two",
    ]
    order = new_order()
    added = list(
        OrderEvent.objects.filter(order=order, kind="tag_added")
        .order_by("id")
        .values_list("message", flat=True)
    )
    assert added == ["three", "one", "two"]
    assert first.pk and second.pk


def test_a_later_rule_sees_what_an_earlier_rule_did(rule, new_order):
    rule(name="tagger", actions=[{"type": "add_tag", "tag": "x"}])
    follower = rule(
        name="follower",
        conditions=[{"type": "has_tag", "tag": "x"}],
        actions=[{"type": "add_tag", "tag": "y"}],
    )
    order = new_order()
    assert tags(order) == {"x", "y"}
    assert AutomationRun.objects.get(rule=follower).result == "done"


def test_a_disabled_rule_is_ignored(rule, new_order):
    off = rule(name="off", enabled=False, actions=[{"type": "add_tag", "tag": "off"}])
    order = new_order()
    assert tags(order) == set()
    assert not AutomationRun.objects.filter(rule=off).exists()
    rule_set_enabled(rule_id=off.pk, enabled=True, actor=None)
    assert tags(new_order()) == {"off"}


def test_a_rule_whose_conditions_fail_is_logged_with_the_failing_condition(rule, new_order):
    r = rule(conditions=[{"type": "payment_method", "methods": ["cod"]}])
    order = new_order()
    run = AutomationRun.objects.get(rule=r, order=order)
    assert (run.result, run.matched) == ("no_match", False)
    assert run.error == "Condition not met: Payment method is: Cash on delivery"
    assert tags(order) == set()


def test_status_changed_to_a_given_status_fires_only_for_that_status(
    rule, new_order, django_capture_on_commit_callbacks
):
    r = rule(
        trigger="status_changed",
        trigger_params={"status": "packed"},
        actions=[{"type": "add_tag", "tag": "packed"}],
    )
    order = new_order()
    with django_capture_on_commit_callbacks(execute=True):
        order_transition(order_id=order.pk, status_code="picking", actor=None)
    assert tags(order) == set()
    with django_capture_on_commit_callbacks(execute=True):
        order_transition(order_id=order.pk, status_code="packed", actor=None)
    assert tags(order) == {"packed"}
    assert AutomationRun.objects.get(rule=r).trigger == "status_changed"


def test_tag_added_fires_for_the_given_tag_only(rule, new_order, django_capture_on_commit_callbacks):
    rule(
        trigger="tag_added",
        trigger_params={"tag": "urgent"},
        actions=[{"type": "set_status", "status": "picking"}],
    )
    order = new_order()
    with django_capture_on_commit_callbacks(execute=True):
        order_tags_change(order_ids=[order.pk], add=["other"], actor=None)
    assert Order.objects.get(pk=order.pk).status.code == "ready"
    with django_capture_on_commit_callbacks(execute=True):
        order_tags_change(order_ids=[order.pk], add=["Urgent"], actor=None)
    assert Order.objects.get(pk=order.pk).status.code == "picking"


def test_paid_fires_when_staff_mark_the_order_paid_and_when_the_channel_says_so(
    rule, new_order, django_capture_on_commit_callbacks, ingest
):
    r = rule(trigger="order_paid", actions=[{"type": "add_tag", "tag": "paid"}])
    unpaid = new_order(payment_method="transfer", payment_status="unpaid")
    assert unpaid.stage == "awaiting_payment" and tags(unpaid) == set()
    with django_capture_on_commit_callbacks(execute=True):
        order_edit(
            order_id=unpaid.pk,
            expected_version=unpaid.version,
            changes={"payment_status": "paid"},
            actor=None,
        )
    assert tags(unpaid) == {"paid"}
    other = new_order(payment_method="transfer", payment_status="unpaid", external_id="C-1", number="#C1")
    with django_capture_on_commit_callbacks(execute=True):
        ingest(
            payment_method="transfer",
            payment_status="paid",
            external_id="C-1",
            number="#C1",
            updated_at=dt.datetime(2026, 11, 21, tzinfo=dt.UTC).isoformat(),
        )
    assert tags(other) == {"paid"}
    assert AutomationRun.objects.filter(rule=r, result="done").count() == 2


def test_orders_arriving_paid_fire_created_and_paid(rule, new_order):
    created = rule(name="c", actions=[{"type": "add_tag", "tag": "c"}])
    paid = rule(name="p", trigger="order_paid", actions=[{"type": "add_tag", "tag": "p"}])
    order = new_order()  # arrives paid
    assert tags(order) == {"c", "p"}
    assert AutomationRun.objects.filter(rule__in=[created, paid], order=order).count() == 2


def test_a_batch_import_fires_created_for_each_new_order(
    rule, product_factory, django_capture_on_commit_callbacks
):
    from tests.conftest import order_data
    from zaplecze.orders.schemas import OrderIn
    from zaplecze.orders.services import ingest_orders_batch

    product_factory(sku="SKU-0001", stock=100)
    r = rule(actions=[{"type": "add_tag", "tag": "imported"}])
    items = [OrderIn.model_validate(order_data(external_id=f"B-{i}", number=f"#B{i}")) for i in range(3)]
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        results = ingest_orders_batch(items, source="import")
    assert [res.outcome for res in results] == ["created"] * 3
    assert all(tags(res.order) == {"imported"} for res in results)
    assert AutomationRun.objects.filter(rule=r).count() == 3
    # The intake's events are grouped: one "created" and one "paid" job for the whole batch. (The rule's own
    # tag events queue nothing: no rule listens to "tag added".)
    assert len(callbacks) == 2


def test_loop_guard_never_runs_a_rule_twice_for_an_order_in_one_chain(
    rule, new_order, django_capture_on_commit_callbacks
):
    to_packed = rule(
        name="picking -> packed",
        trigger="status_changed",
        trigger_params={"status": "picking"},
        actions=[{"type": "set_status", "status": "packed"}],
    )
    to_picking = rule(
        name="packed -> picking",
        trigger="status_changed",
        trigger_params={"status": "packed"},
        actions=[{"type": "set_status", "status": "picking"}],
    )
    order = new_order()
    with django_capture_on_commit_callbacks(execute=True):
        order_transition(order_id=order.pk, status_code="picking", actor=None)
    runs = list(
        AutomationRun.objects.filter(order=order).order_by("id").values_list("rule_id", "result", "depth")
    )
    assert runs == [(to_packed.pk, "done", 0), (to_picking.pk, "done", 1), (to_packed.pk, "skipped", 2)]
    assert Order.objects.get(pk=order.pk).status.code == "picking"
    skipped = AutomationRun.objects.get(result="skipped")
    assert skipped.error == "Not run: this rule already ran for this order in the same chain of events"


def test_loop_guard_caps_the_depth_of_a_chain(
    rule, new_order, django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.setattr(automation, "MAX_DEPTH", 1)
    rule(
        name="a",
        trigger="status_changed",
        trigger_params={"status": "picking"},
        actions=[{"type": "set_status", "status": "packed"}],
    )
    second = rule(
        name="b",
        trigger="status_changed",
        trigger_params={"status": "packed"},
        actions=[{"type": "add_tag", "tag": "b"}],
    )
    order = new_order()
    with django_capture_on_commit_callbacks(execute=True):
        order_transition(order_id=order.pk, status_code="picking", actor=None)
    run = AutomationRun.objects.get(rule=second)
    assert (run.result, run.depth) == ("skipped", 1)
    assert run.error == "Not run: 1 rules in a row were caused by each other"
    assert tags(order) == set()


def test_in_status_for_n_hours_fires_once_per_entry_into_the_status(rule, new_order):
    from django.utils import timezone

    from zaplecze.orders.automation import due_run

    r = rule(
        name="remind",
        trigger="in_status_for",
        trigger_params={"status": "awaiting_payment", "hours": 72},
        actions=[{"type": "add_tag", "tag": "reminded"}],
    )
    order = new_order(payment_method="transfer", payment_status="unpaid")
    now = timezone.now()
    assert due_run(now=now + dt.timedelta(hours=71)).orders == 0
    report = due_run(now=now + dt.timedelta(hours=73))
    assert (report.orders, report.matched) == (1, 1)
    assert tags(order) == {"reminded"}
    assert due_run(now=now + dt.timedelta(hours=80)).orders == 0  # once per entry
    assert AutomationRun.objects.filter(rule=r).count() == 1

    # Leaves the status and enters it again: a new entry, due 72 h after it.
    order_transition(order_id=order.pk, status_code="new", actor=None)
    order_transition(order_id=order.pk, status_code="awaiting_payment", actor=None)
    order_tags_change(order_ids=[order.pk], remove=["reminded"], actor=None)
    later = timezone.now()
    assert due_run(now=later + dt.timedelta(hours=71)).orders == 0
    assert due_run(now=later + dt.timedelta(hours=73)).matched == 1
    assert tags(order) == {"reminded"}
    assert AutomationRun.objects.filter(rule=r, result="done").count() == 2


def test_in_status_for_ignores_orders_due_before_the_rule_was_switched_on(rule, new_order):
    from django.utils import timezone

    from zaplecze.orders.automation import due_run

    order = new_order(payment_method="transfer", payment_status="unpaid")
    OrderEvent.objects.filter(order=order).update(at=timezone.now() - dt.timedelta(days=30))
    rule(trigger="in_status_for", trigger_params={"status": "awaiting_payment", "hours": 72})
    assert due_run().orders == 0
    assert tags(order) == set()


def test_becoming_paid_recomputes_the_ship_by_time_from_the_delivery_promise(
    new_order, django_capture_on_commit_callbacks
):
    from zaplecze.core.businesstime import ship_by_promise
    from zaplecze.shipping.services import promise_save

    promise_save(channel_id=None, delivery_method="", handling_days=1, cutoff=dt.time(14, 0), actor=None)
    order = new_order(payment_method="transfer", payment_status="unpaid")
    paid_at = dt.datetime(2025, 12, 19, 14, 0, tzinfo=dt.UTC)  # Friday 15:00 in Warsaw, after the cut-off
    with django_capture_on_commit_callbacks(execute=True):
        order_edit(
            order_id=order.pk,
            expected_version=order.version,
            changes={"payment_status": "paid", "paid_at": paid_at},
            actor=None,
        )
    order = Order.objects.get(pk=order.pk)
    assert order.ship_by == ship_by_promise(paid_at, handling_days=1, cutoff=dt.time(14, 0))
    assert order.ship_by.date() == dt.date(2025, 12, 22)  # Monday
    assert OrderEvent.objects.filter(order=order, kind="edited", data__fields=["ship_by"]).exists()


def test_dry_run_lists_matching_open_orders_without_changing_anything(rule, new_order):
    from zaplecze.orders.automation import dry_run

    r = rule(
        name="big",
        enabled=False,
        conditions=[{"type": "total_at_least", "amount": "200"}],
        actions=[{"type": "set_status", "status": "picking"}, {"type": "add_tag", "tag": "big"}],
    )
    line = {"sku": "SKU-0001", "name": "Kubek", "quantity": 5, "unit_price_gross": "49.99", "vat_rate": "23"}
    big = new_order(lines=[line])
    new_order()  # 112.97: too small
    shipped = new_order(lines=[line])
    order_transition(order_id=shipped.pk, status_code="shipped", actor=None)  # not open any more
    before = list(Order.objects.order_by("pk").values_list("pk", "version", "status_id", "updated_at"))
    events_before = OrderEvent.objects.count()

    result = dry_run(rule_id=r.pk, actor=None)

    assert [m.order.pk for m in result.matches] == [big.pk]
    assert (result.checked, result.matched, result.truncated) == (2, 1, False)
    assert result.actions == ["Set status: Picking", "Add tag: big"]
    assert (
        list(Order.objects.order_by("pk").values_list("pk", "version", "status_id", "updated_at")) == before
    )
    assert OrderEvent.objects.count() == events_before
    assert tags(big) == set()
    log = AutomationRun.objects.get(rule=r)
    assert (log.dry_run, log.result, log.order_id) == (True, "dry_run", None)
    assert log.actions_done == [{"checked": 2, "matched": 1, "order_ids": [big.pk]}]


def test_dry_run_of_a_time_based_rule_lists_orders_long_enough_in_the_status(rule, new_order):
    from django.utils import timezone

    from zaplecze.orders.automation import dry_run

    r = rule(
        trigger="in_status_for", trigger_params={"status": "awaiting_payment", "hours": 24}, enabled=False
    )
    old = new_order(payment_method="transfer", payment_status="unpaid")
    OrderEvent.objects.filter(order=old).update(at=timezone.now() - dt.timedelta(hours=30))
    new_order(payment_method="transfer", payment_status="unpaid")  # only just entered
    result = dry_run(rule_id=r.pk, record=False)
    assert [(m.order.pk, m.note) for m in result.matches] == [(old.pk, "in this status for 30 h")]
    assert not AutomationRun.objects.exists()


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"name": " "}, "name", "Give the rule a name"),
        ({"trigger": "sometimes"}, "trigger", "Unknown trigger sometimes"),
        (
            {"conditions": [{"type": "moon_phase"}]},
            "conditions[0].type",
            "conditions[0]: unknown condition type moon_phase",
        ),
        (
            {
                "conditions": [
                    {"type": "channel", "channels": ["shop"]},
                    {"type": "total_at_least", "amount": "1k"},
                ]
            },
            "conditions[1].amount",
            "conditions[1].amount: 1k is not an amount",
        ),
        (
            {"conditions": [{"type": "payment_method", "methods": ["barter"]}]},
            "conditions[0].methods",
            "conditions[0].methods: unknown value barter",
        ),
        (
            {"conditions": [{"type": "shipping_country", "countries": "Poland"}]},
            "conditions[0].countries",
            "conditions[0].countries: give two-letter country codes such as PL, DE",
        ),
        ({"actions": []}, "actions", "Give at least one action"),
        (
            {"actions": [{"type": "set_status", "status": "limbo"}]},
            "actions[0].status",
            "actions[0].status: unknown value limbo",
        ),
        ({"actions": [{"type": "add_tag"}]}, "actions[0].tag", "actions[0]: tag is required"),
        (
            {"actions": [{"type": "add_tag", "tag": "x", "colour": "red"}]},
            "actions[0].colour",
            "actions[0]: unknown parameter colour",
        ),
        (
            {"trigger": "in_status_for", "trigger_params": {"status": "new"}},
            "trigger_params.hours",
            "trigger_params: hours is required",
        ),
        (
            {"trigger": "in_status_for", "trigger_params": {"status": "new", "hours": "0"}},
            "trigger_params.hours",
            "trigger_params.hours: give 1 to 2160 hours",
        ),
    ],
)
def test_bad_rule_definitions_are_refused_naming_the_place(changes, field, message):
    from zaplecze.core.errors import DomainError

    fields = {
        "name": "R",
        "trigger": "order_created",
        "conditions": [],
        "actions": [{"type": "add_tag", "tag": "x"}],
    }
    fields.update(changes)
    with pytest.raises(DomainError) as err:
        rule_create(**fields, actor=None)
    assert (err.value.field, err.value.message) == (field, message)
    assert not AutomationRule.objects.filter(name="R").exists()


def test_default_rules_ship_switched_off():
    names = list(AutomationRule.objects.order_by("position").values_list("name", "enabled"))
    assert names == [
        ("Opłacone i wszystko na stanie → Do realizacji", False),
        ("Za pobraniem → Do realizacji", False),
        ("Zamówienie powyżej 1000 zł → tag VIP-check", False),
        ("Oczekuje na płatność 72 h → przypomnienie e-mail", False),
    ]
    from zaplecze.orders.automation_services import rule_clean

    for r in AutomationRule.objects.all():  # each is a valid definition
        rule_clean(
            name=r.name,
            trigger=r.trigger,
            trigger_params=r.trigger_params,
            conditions=r.conditions,
            actions=r.actions,
        )


def test_a_bulk_status_change_fires_status_changed_for_each_order(
    rule, new_order, django_capture_on_commit_callbacks
):
    from zaplecze.orders.services import order_bulk_transition

    rule(
        trigger="status_changed",
        trigger_params={"status": "picking"},
        actions=[{"type": "add_tag", "tag": "bulk"}],
    )
    orders = [new_order(), new_order()]
    with django_capture_on_commit_callbacks(execute=True):
        result = order_bulk_transition(order_ids=[o.pk for o in orders], status_code="picking", actor=None)
    assert sorted(result.ok) == sorted(o.pk for o in orders)
    assert all(tags(o) == {"bulk"} for o in orders)
