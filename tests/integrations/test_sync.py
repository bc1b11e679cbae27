"""The sync engine with the WooCommerce connector against the fake API: intake through ingest_order,
the cursor committed per page, resuming after a crash, the lock, stale and out-of-order versions,
unknown statuses, auth failures and kept errors with their retry."""

from __future__ import annotations

import datetime as dt

import pytest

from zaplecze.integrations import services, sync
from zaplecze.integrations.models import Connection, ExternalOrder, SyncError, SyncRun
from zaplecze.orders.models import Order

from .fake_woo import woo_order


def _import(conn, **kw):
    return services.connection_sync(connection_id=conn.pk, **kw)


def test_first_import_creates_the_orders_and_a_second_run_changes_nothing(fake_woo, woo_connection):
    fake_woo.orders = [woo_order(i) for i in range(1, 151)]

    run = _import(woo_connection)

    assert (run.outcome, run.pages, run.fetched, run.created, run.errors) == ("ok", 2, 150, 150, 0)
    assert Order.objects.filter(channel__code="shop").count() == 150
    order = Order.objects.get(external_id="1001")
    assert order.stage == "ready" and order.number == "1001" and order.currency == "PLN"
    assert order.source_updated_at == dt.datetime(2026, 11, 20, 8, 1, 6, tzinfo=dt.UTC)
    conn = Connection.objects.get(pk=woo_connection.pk)
    assert conn.cursor == "2026-11-20T10:30:06+00:00" and conn.status == "ok"
    assert conn.last_success_at is not None and conn.lock_token == ""

    again = _import(woo_connection)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 1)  # the overlap re-reads the last one
    assert fake_woo.calls("/orders")[-1]["modified_after"] == "2026-11-20T10:29:06"


def test_a_crash_mid_import_resumes_at_the_last_committed_page(fake_woo, woo_connection, waits):
    fake_woo.orders = [woo_order(i) for i in range(1, 251)]
    real = fake_woo.handle
    state = {"n": 0}

    def down_on_page_2(method, path, q, body):
        if q.get("page") == "2":
            state["n"] += 1
            return 500, {"code": "internal_server_error"}, {}
        return real(method, path, q, body)

    fake_woo.handle = down_on_page_2
    run = _import(woo_connection)

    assert run.outcome == "failed" and "gave up" in run.error
    assert Order.objects.count() == 100  # page 1 committed
    conn = Connection.objects.get(pk=woo_connection.pk)
    assert conn.cursor == "#2#2026-11-20T09:40:06+00:00" and conn.status == "failing"

    fake_woo.handle = real
    run = _import(woo_connection)

    assert run.outcome == "ok" and run.created == 150
    assert [q["page"] for q in fake_woo.calls("/orders")][-2:] == ["2", "3"]
    assert Order.objects.count() == 250
    assert Connection.objects.get(pk=woo_connection.pk).cursor == "2026-11-20T12:10:06+00:00"


def test_a_second_run_while_one_holds_the_lock_is_skipped(fake_woo, woo_connection):
    token = sync.lock_acquire(woo_connection.pk)
    assert token and sync.lock_acquire(woo_connection.pk) is None

    run = _import(woo_connection)

    assert run.outcome == "skipped" and fake_woo.calls("/orders") == []
    sync.lock_release(woo_connection.pk, token)
    assert _import(woo_connection).outcome == "ok"


def test_an_expired_lock_of_a_crashed_run_is_taken_over(fake_woo, woo_connection):
    Connection.objects.filter(pk=woo_connection.pk).update(
        lock_token="dead", lock_until=dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    )
    assert _import(woo_connection).outcome == "ok"


def test_an_older_version_never_overwrites_a_newer_one(fake_woo, woo_connection):
    newer = woo_order(1, status="completed", modified=dt.datetime(2026, 11, 21, 12, 0))
    fake_woo.orders = [newer]
    _import(woo_connection)
    assert Order.objects.get(external_id="1001").stage == "completed"

    older = woo_order(1, status="processing", modified=dt.datetime(2026, 11, 21, 9, 0))
    run = _import(woo_connection, kind="reconcile", since=dt.datetime(2026, 11, 1, tzinfo=dt.UTC))
    fake_woo.orders = [older]
    run = _import(woo_connection, kind="reconcile", since=dt.datetime(2026, 11, 1, tzinfo=dt.UTC))

    assert run.updated == 0 and run.unchanged == 1
    assert Order.objects.get(external_id="1001").stage == "completed"
    assert ExternalOrder.objects.get(external_id="1001").modified_at == dt.datetime(
        2026, 11, 21, 12, 0, tzinfo=dt.UTC
    )


def test_an_unchanged_platform_status_leaves_the_staff_move_alone(fake_woo, woo_connection):
    from zaplecze.orders.services import order_transition

    fake_woo.orders = [woo_order(1, status="processing")]
    _import(woo_connection)
    order = Order.objects.get(external_id="1001")
    order_transition(order_id=order.pk, status_code="picking", actor=None)

    # the customer changes the note in the shop: same platform status, newer version
    fake_woo.orders = [
        woo_order(
            1, status="processing", modified=dt.datetime(2026, 11, 20, 9, 0), customer_note="Ring twice"
        )
    ]
    run = _import(woo_connection)

    order.refresh_from_db()
    assert run.updated == 1 and order.notes == "Ring twice"
    assert order.status.code == "picking"

    # the shop cancels it: a platform status change is applied
    fake_woo.orders = [woo_order(1, status="cancelled", modified=dt.datetime(2026, 11, 20, 10, 0))]
    _import(woo_connection)
    order.refresh_from_db()
    assert order.stage == "cancelled"


def test_an_unknown_status_is_imported_and_flagged_not_dropped(fake_woo, woo_connection):
    fake_woo.orders = [woo_order(1, status="wc-partial-shipped")]

    run = _import(woo_connection)

    order = Order.objects.get(external_id="1001")
    assert run.created == 1 and run.errors == 0
    assert order.needs_attention is True
    assert {
        "code": "unknown_channel_status",
        "message": "WooCommerce status 'wc-partial-shipped' is not known to Zaplecze",
    } in order.attention_reasons


def test_checkout_drafts_are_not_orders(fake_woo, woo_connection):
    fake_woo.orders = [woo_order(1, status="checkout-draft"), woo_order(2)]
    run = _import(woo_connection)
    assert run.created == 1 and list(Order.objects.values_list("external_id", flat=True)) == ["1002"]


def test_401_marks_the_connection_and_alerts_staff_once(fake_woo, woo_connection, make_user):
    from zaplecze.service.models import OutboxEmail

    admin = make_user("admin")
    admin.email, admin.language = "boss@example.com", "en"
    admin.save(update_fields=["email", "language"])
    fake_woo.secret = "cs_rotated_in_the_shop"

    first = _import(woo_connection)
    second = _import(woo_connection)

    conn = Connection.objects.get(pk=woo_connection.pk)
    assert first.outcome == second.outcome == "failed"
    assert conn.status == "auth_failed" and "401" in conn.last_error
    emails = list(OutboxEmail.objects.filter(kind="integrations_alert"))
    assert len(emails) == 1 and emails[0].to == "boss@example.com"
    assert "refused the credentials" in emails[0].subject
    assert "cs_" not in emails[0].body


def test_a_refused_order_is_kept_with_its_payload_and_the_retry_takes_it_in(fake_woo, woo_connection):
    bad = woo_order(2)
    bad["billing"]["email"] = "not-an-email"
    fake_woo.orders = [woo_order(1), bad]

    run = _import(woo_connection)

    assert (run.outcome, run.created, run.errors) == ("partial", 1, 1)
    assert Connection.objects.get(pk=woo_connection.pk).status == "needs_attention"
    error = SyncError.objects.get()
    assert error.external_id == "1002" and "e-mail" in error.message
    assert '"not-an-email"' in error.payload

    # the import runs again: still one open error, with two attempts
    Connection.objects.filter(pk=woo_connection.pk).update(cursor="")
    _import(woo_connection)
    error.refresh_from_db()
    assert SyncError.objects.count() == 1 and error.attempts == 2

    # fixed by hand in the kept payload (or after a mapping fix): Retry takes it in
    SyncError.objects.filter(pk=error.pk).update(
        payload=error.payload.replace("not-an-email", "ok@example.com")
    )
    retried = services.sync_error_retry(error_id=error.pk, actor=None)
    assert retried.state == "resolved"
    assert Order.objects.filter(external_id="1002").exists()


def test_a_malformed_page_becomes_an_error_whose_retry_reconciles(fake_woo, woo_connection, waits):
    fake_woo.orders = [woo_order(1)]
    fake_woo.script("/orders", 200, "Fatal error: Allowed memory size exhausted")
    fake_woo.script("/orders", 200, "Fatal error: Allowed memory size exhausted")

    run = _import(woo_connection)

    assert run.outcome == "partial" and Order.objects.count() == 0
    error = SyncError.objects.get()
    assert error.external_id == "" and error.payload.startswith("Fatal error")
    retried = services.sync_error_retry(error_id=error.pk, actor=None)
    assert retried.state == "resolved" and Order.objects.count() == 1
    assert SyncRun.objects.filter(kind="reconcile", outcome="ok").count() == 1


def test_reconciliation_reads_a_window_back_and_leaves_the_cursor(fake_woo, woo_connection):
    Connection.objects.filter(pk=woo_connection.pk).update(cursor="2030-01-01T00:00:00+00:00")
    fake_woo.orders = [woo_order(1)]

    run = _import(woo_connection, kind="reconcile", since=dt.datetime(2026, 11, 20, tzinfo=dt.UTC))

    assert run.created == 1
    assert Connection.objects.get(pk=woo_connection.pk).cursor == "2030-01-01T00:00:00+00:00"


def test_first_import_window(fake_woo, woo_connection):
    Connection.objects.filter(pk=woo_connection.pk).update(
        first_import_since=dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.UTC)
    )
    fake_woo.orders = [woo_order(1), woo_order(90)]
    run = _import(woo_connection)
    assert fake_woo.calls("/orders")[0]["modified_after"] == "2026-11-20T09:00:00"
    assert run.created == 1


def test_stale_connection_alert(woo_connection, make_user):
    now = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    Connection.objects.filter(pk=woo_connection.pk).update(last_success_at=now - dt.timedelta(minutes=90))
    assert services.connections_stale_alert(stale_after=dt.timedelta(minutes=60), now=now) == [
        woo_connection.pk
    ]
    Connection.objects.filter(pk=woo_connection.pk).update(last_success_at=now - dt.timedelta(minutes=5))
    assert services.connections_stale_alert(stale_after=dt.timedelta(minutes=60), now=now) == []


@pytest.mark.parametrize("kind", ["status", "tracking"])
def test_push_back_to_the_shop(fake_woo, woo_connection, kind):
    fake_woo.orders = [woo_order(1)]
    _import(woo_connection)
    order = Order.objects.get(external_id="1001")
    if kind == "status":
        from zaplecze.orders.services import order_transition

        order_transition(order_id=order.pk, status_code="shipped", actor=None)
        assert services.order_push_status(order_id=order.pk) == "completed"
        assert ExternalOrder.objects.get(external_id="1001").platform_status == "completed"
    else:
        assert (
            services.order_push_tracking(order_id=order.pk, carrier="InPost", tracking_number="680001")
            is True
        )
        assert (
            services.order_push_tracking(order_id=order.pk, carrier="InPost", tracking_number="680001")
            is False
        )
        assert len([b for b in fake_woo.bodies if b[1].endswith("/notes")]) == 1


def test_automation_actions_send_status_and_tracking_after_commit(
    fake_woo, woo_connection, django_capture_on_commit_callbacks
):
    from zaplecze.core import extensions
    from zaplecze.orders.automation import ACTION_POINT, ActionContext
    from zaplecze.orders.services import order_transition

    fake_woo.orders = [woo_order(1)]
    _import(woo_connection)
    order = Order.objects.get(external_id="1001")
    order_transition(order_id=order.pk, status_code="cancelled", actor=None)
    order.refresh_from_db()
    action = extensions.get(ACTION_POINT, "channel_push_status")

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert str(action.run(ActionContext(order=order, rule=None, run=None, index=0), {})) == (
            "status queued for the shop"
        )
    assert fake_woo.bodies == []  # nothing sent before the commit
    for callback in callbacks:
        callback()
    assert fake_woo.bodies == [("PUT", "/wp-json/wc/v3/orders/1001", {"status": "cancelled"})]
    assert extensions.get(ACTION_POINT, "channel_push_tracking") is not None


def test_error_jump_alert(woo_connection):
    now = dt.datetime(2030, 1, 1, 12, 0, tzinfo=dt.UTC)
    for i in range(24):  # one error an hour the day before
        SyncError.objects.create(connection=woo_connection, message="x", at=now - dt.timedelta(hours=2 + i))
    for i in range(9):
        SyncError.objects.create(connection=woo_connection, message="y", at=now - dt.timedelta(minutes=5 + i))
    assert services.connections_error_jump_alert(now=now) == []  # 9 < 10
    SyncError.objects.create(connection=woo_connection, message="z", at=now - dt.timedelta(minutes=1))
    assert services.connections_error_jump_alert(now=now) == [woo_connection.pk]


def test_the_periodic_import_runs_enabled_connections_only(fake_woo, woo_connection):
    from zaplecze.integrations import tasks

    fake_woo.orders = [woo_order(1)]
    Connection.objects.filter(pk=woo_connection.pk).update(enabled=False)
    tasks.import_periodic.call_local()
    assert SyncRun.objects.count() == 0

    Connection.objects.filter(pk=woo_connection.pk).update(enabled=True)
    tasks.import_periodic.call_local()
    tasks.reconcile_periodic.call_local()
    assert list(SyncRun.objects.order_by("id").values_list("kind", "outcome")) == [
        ("import", "ok"),
        ("reconcile", "ok"),
    ]
    assert Order.objects.count() == 1
