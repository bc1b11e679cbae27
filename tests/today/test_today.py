"""Today: exceptions found by the modules' detectors, opened, updated and cleared by the refresh; snoozed,
resolved by hand, taken; quick actions; the page, API, CLI, digest and history."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from click.testing import CliRunner
from django.core import mail  # noqa: F401 - the outbox is the service module's, checked through its model
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from zaplecze.core import extensions
from zaplecze.core import today as registry
from zaplecze.orders.models import Order, Stage
from zaplecze.orders.services import order_transition
from zaplecze.today import selectors, services
from zaplecze.today.models import OpsException

pytestmark = pytest.mark.django_db
UTC = dt.UTC
PLACED = dt.datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def _late_order(ingest, product_factory, n=1, **kw):
    product_factory(sku=f"SKU-{n:04d}", stock=10)
    result = ingest(
        external_id=str(n),
        number=f"#{n}",
        lines=[
            {
                "sku": f"SKU-{n:04d}",
                "name": "Kubek",
                "quantity": 1,
                "unit_price_gross": "49.99",
                "vat_rate": "23",
            }
        ],
        **kw,
    )
    order = result.order
    Order.objects.filter(pk=order.pk).update(
        ship_by=PLACED + dt.timedelta(hours=24), updated_at=timezone.now()
    )
    return Order.objects.get(pk=order.pk)


def _open(kind=None):
    qs = OpsException.objects.exclude(state="resolved")
    return list(qs.filter(kind=kind) if kind else qs)


def test_a_late_order_opens_an_exception_that_clears_when_it_ships(ingest, product_factory, admin_user):
    order = _late_order(ingest, product_factory)
    now = PLACED + dt.timedelta(days=2)
    report = services.exceptions_refresh(kinds=["orders.late"], now=now)
    [exc] = _open("orders.late")
    assert report.opened == 1 and exc.subject_id == order.pk and exc.due_at == order.ship_by
    assert exc.owner_role == "warehouse" and exc.severity == "critical"  # 24 h and more behind
    assert exc.url == reverse("orders:detail", args=[order.pk])

    again = services.exceptions_refresh(kinds=["orders.late"], now=now)
    assert again.opened == 0 and len(_open("orders.late")) == 1  # found again: the same row

    for status in ("packed", "shipped"):
        order_transition(order_id=order.pk, status_code=status, actor=admin_user)
    cleared = services.exceptions_refresh(kinds=["orders.late"], now=now)
    exc.refresh_from_db()
    assert cleared.resolved == 1 and exc.state == "resolved" and exc.resolved_how == "cleared"


def test_snoozed_is_hidden_until_its_time(ingest, product_factory, admin_user):
    _late_order(ingest, product_factory)
    now = timezone.now()
    services.exceptions_refresh(kinds=["orders.late"], now=now)
    [exc] = _open("orders.late")
    until = now + dt.timedelta(hours=2)
    services.exception_snooze(exception_id=exc.pk, until=until, actor=admin_user)
    f = selectors.TodayFilter()
    assert selectors.page(admin_user, f, now=now)["total"] == 0
    assert selectors.page(admin_user, selectors.TodayFilter(show="snoozed"), now=now)["total"] == 1
    later = until + dt.timedelta(minutes=1)
    assert selectors.page(admin_user, f, now=later)["total"] == 1  # back on the page when the time comes
    services.exceptions_refresh(kinds=["orders.late"], now=later)
    exc.refresh_from_db()
    assert exc.state == "open" and exc.snoozed_until is None


def test_bad_snoozes_are_refused(ingest, product_factory, admin_user):
    from zaplecze.core.errors import DomainError

    _late_order(ingest, product_factory)
    services.exceptions_refresh(kinds=["orders.late"])
    [exc] = _open()
    with pytest.raises(DomainError) as past:
        services.exception_snooze(
            exception_id=exc.pk, until=timezone.now() - dt.timedelta(minutes=1), actor=admin_user
        )
    assert past.value.field == "until"
    with pytest.raises(DomainError):
        services.exception_snooze(
            exception_id=exc.pk, until=timezone.now() + dt.timedelta(days=200), actor=admin_user
        )


def test_resolved_by_hand_holds_until_the_deadline_changes(ingest, product_factory, admin_user):
    from zaplecze.core.errors import DomainError

    order = _late_order(ingest, product_factory)
    now = PLACED + dt.timedelta(days=2)
    services.exceptions_refresh(kinds=["orders.late"], now=now)
    [exc] = _open()
    with pytest.raises(DomainError):
        services.exception_resolve(exception_id=exc.pk, note="  ", actor=admin_user)
    services.exception_resolve(exception_id=exc.pk, note="Customer agreed to wait", actor=admin_user)
    services.exceptions_refresh(kinds=["orders.late"], now=now)
    assert _open() == []  # still late, but handled: stays resolved
    Order.objects.filter(pk=order.pk).update(ship_by=order.ship_by + dt.timedelta(hours=12))
    services.exceptions_refresh(kinds=["orders.late"], now=now)
    [reopened] = _open()
    assert reopened.pk != exc.pk  # a new deadline is a new exception; the old row is history
    exc.refresh_from_db()
    assert exc.note == "Customer agreed to wait" and exc.resolved_by == admin_user


def test_quick_action_cancels_an_unpaid_order_and_the_exception_goes(ingest, product_factory, admin_user):
    product_factory(sku="SKU-0001", stock=10)
    order = ingest(payment_status="unpaid", payment_method="transfer").order
    assert order.stage == Stage.AWAITING_PAYMENT
    services.exceptions_refresh(kinds=["orders.unpaid"], now=PLACED + dt.timedelta(days=4))
    [exc] = _open("orders.unpaid")
    message = services.exception_act(exception_id=exc.pk, action="cancel", actor=admin_user)
    order.refresh_from_db()
    exc.refresh_from_db()
    assert order.stage == Stage.CANCELLED and "#1001" in message
    assert exc.state == "resolved" and exc.resolved_how == "cleared"


def test_cash_on_delivery_never_waits_for_payment(ingest, product_factory):
    product_factory(sku="SKU-0001", stock=10)
    ingest(payment_status="unpaid", payment_method="cod")
    services.exceptions_refresh(kinds=["orders.unpaid"], now=PLACED + dt.timedelta(days=10))
    assert _open("orders.unpaid") == []


def test_a_failing_detector_is_reported_and_leaves_its_rows_alone(ingest, product_factory):
    _late_order(ingest, product_factory)
    services.exceptions_refresh(kinds=["orders.late"])
    late = registry.kinds()["orders.late"]

    def broken(**kw):
        raise RuntimeError("database on fire")

    try:
        extensions.register(
            registry.POINT, "orders.late", registry.Kind(**{**late.__dict__, "detect": broken})
        )
        report = services.exceptions_refresh()
    finally:
        extensions.register(registry.POINT, "orders.late", late)
    assert report.failed == {"orders.late": "database on fire"}
    assert len(_open("orders.late")) == 1  # not resolved because its detector failed


def test_exceptions_of_kinds_a_role_may_not_see_are_hidden(make_user):
    from zaplecze.integrations.models import Connection
    from zaplecze.orders.models import Channel

    channel = Channel.objects.get(code="shop")
    conn = Connection.objects.create(channel=channel, platform="woocommerce", base_url="https://shop.example",
                                     webhook_token="t" * 40, created_at=timezone.now() - dt.timedelta(hours=3))  # fmt: skip
    services.exceptions_refresh(kinds=["integrations.not_synced"])
    [exc] = _open("integrations.not_synced")
    assert exc.subject_id == conn.pk and "Never synced" in exc.why
    organiser, warehouse = make_user("organiser"), make_user("warehouse")
    assert selectors.page(organiser, selectors.TodayFilter())["total"] == 1
    assert selectors.page(warehouse, selectors.TodayFilter())["total"] == 0
    c = Client()
    c.force_login(warehouse)
    assert c.post(reverse("today:resolve", args=[exc.pk]), {"note": "x"}).status_code == 403


def test_mine_is_mine_or_my_roles_unassigned(ingest, product_factory, make_user):
    _late_order(ingest, product_factory, 1)
    _late_order(ingest, product_factory, 2)
    services.exceptions_refresh(kinds=["orders.late"])
    a, b = sorted(_open(), key=lambda e: e.pk)
    packer, other = make_user("warehouse", "packer"), make_user("warehouse", "other")
    services.exception_assign(exception_id=b.pk, user_id=other.pk, actor=packer)
    mine = selectors.exceptions_list(packer, selectors.TodayFilter(owner="mine"))
    assert [e.pk for e in mine] == [a.pk]
    assert {e.pk for e in selectors.exceptions_list(other, selectors.TodayFilter(owner="mine"))} == {
        a.pk,
        b.pk,
    }


def test_the_page_groups_by_area_and_acts(admin_client, ingest, product_factory, admin_user):
    _late_order(ingest, product_factory)
    services.exceptions_refresh()
    body = admin_client.get(reverse("today:index")).content.decode()
    assert 'data-area="orders"' in body and "Order #1" in body and 'data-figure="orders"' in body
    [exc] = _open("orders.late")
    r = admin_client.post(reverse("today:snooze", args=[exc.pk]), {"until": "tomorrow", "next": "/today/"})
    assert r.status_code == 302 and r["Location"] == "/today/"
    exc.refresh_from_db()
    assert (
        exc.state == "snoozed" and exc.snoozed_until.astimezone(dt.timezone(dt.timedelta(hours=1))).hour == 8
    )
    assert f'data-exception="{exc.pk}"' not in admin_client.get(reverse("today:index")).content.decode()
    r = admin_client.post(reverse("today:snooze", args=[exc.pk]), {"until": "next tuesday"}, follow=True)
    assert "is not a time" in r.content.decode()
    r = admin_client.post(reverse("today:resolve", args=[exc.pk]), {"note": "Called the courier"})
    exc.refresh_from_db()
    assert exc.state == "resolved" and exc.note == "Called the courier"
    assert admin_client.get(reverse("today:history")).status_code == 200


def test_api_and_cli(make_user, ingest, product_factory):
    from zaplecze.cli import main
    from zaplecze.core.services import token_create

    _late_order(ingest, product_factory)
    services.exceptions_refresh()
    user = make_user("organiser", "org")
    api = Client(HTTP_AUTHORIZATION=f"Bearer {token_create(user=user)}")
    rows = api.get("/api/v1/today/").json()
    [row] = [r for r in rows if r["kind"] == "orders.late"]
    assert row["label"] == "Order #1" and row["severity"] in ("high", "critical")
    bad = api.post(f"/api/v1/today/{row['id']}/resolve", {"note": ""}, content_type="application/json")
    assert bad.status_code == 422
    until = (timezone.now() + dt.timedelta(hours=3)).isoformat()
    r = api.post(f"/api/v1/today/{row['id']}/snooze", {"until": until}, content_type="application/json")
    assert r.status_code == 200 and r.json()["state"] == "snoozed"
    assert (
        api.post("/api/v1/today/999999/resolve", {"note": "x"}, content_type="application/json").status_code
        == 404
    )

    out = CliRunner().invoke(main, ["today", "--json", "--user", "org"])
    assert out.exit_code == 0, out.output
    assert [r for r in json.loads(out.output) if r["kind"] == "orders.late"] == []  # snoozed: not on the list


def test_morning_digest_in_the_persons_language_and_switchable(ingest, product_factory, make_user):
    from zaplecze.service.models import OutboxEmail

    _late_order(ingest, product_factory)
    services.exceptions_refresh(kinds=["orders.late"])
    packer = make_user("warehouse", "packer")
    packer.email, packer.language = "packer@shop.example", "pl"
    packer.save()
    assert services.digests_send() >= 1
    email = OutboxEmail.objects.get(to="packer@shop.example")
    assert "Zamówienie #1" in email.body or "Order #1" in email.body
    assert services.digests_send() >= 0 and OutboxEmail.objects.filter(to="packer@shop.example").count() == 1
    services.preference_set(user=packer, digest=False)
    OutboxEmail.objects.all().delete()
    services.digests_send()
    assert not OutboxEmail.objects.filter(to="packer@shop.example").exists()


def test_history_counts_and_median_time_to_resolve(ingest, product_factory, admin_user):
    now = timezone.now()
    _late_order(ingest, product_factory, 1)
    _late_order(ingest, product_factory, 2)
    services.exceptions_refresh(kinds=["orders.late"], now=now - dt.timedelta(hours=6))
    a, b = sorted(_open(), key=lambda e: e.pk)
    OpsException.objects.filter(pk=a.pk).update(state="resolved", resolved_at=now - dt.timedelta(hours=4))
    OpsException.objects.filter(pk=b.pk).update(state="resolved", resolved_at=now)
    data = selectors.history(days=7, now=now)
    assert sum(d["opened"] for d in data["days"]) == 2 and sum(d["resolved"] for d in data["days"]) == 2
    [k] = data["kinds"]
    assert k["kind"] == "orders.late" and k["median_hours"] == 4.0  # 2 h and 6 h


def test_a_stock_change_looks_at_that_variant_again(
    product_factory, make_user, django_capture_on_commit_callbacks
):
    from zaplecze.inventory.models import Warehouse
    from zaplecze.inventory.services import Adjustment, stock_adjust_many
    from zaplecze.purchasing.models import ReorderParameter
    from zaplecze.today.models import TouchedSubject

    with django_capture_on_commit_callbacks(execute=True):  # announcements of the set-up fire here
        variant = product_factory(sku="SKU-RISK", stock=5)
    TouchedSubject.objects.all().delete()
    wh = Warehouse.objects.order_by("id").first()
    ReorderParameter.objects.create(variant=variant, warehouse=wh, reorder_point=3, lead_time_days=5)
    services.exceptions_refresh(kinds=["purchasing.stock_risk"])
    assert _open("purchasing.stock_risk") == []
    with django_capture_on_commit_callbacks(execute=True):
        stock_adjust_many([Adjustment(variant=variant, delta=-4, reason="broken")], warehouse=wh,
                          reference="test", actor=make_user("warehouse"))  # fmt: skip
    assert TouchedSubject.objects.filter(subject_type="variant", subject_id=variant.pk).exists()
    services.touched_refresh()
    [exc] = _open("purchasing.stock_risk")
    assert exc.subject_id == variant.pk and "1 available" in exc.why
    assert not TouchedSubject.objects.exists()


def test_owner_settings_route_new_exceptions_and_switch_kinds_off(
    admin_client, ingest, product_factory, make_user
):
    packer = make_user("warehouse", "packer")
    r = admin_client.post(
        reverse("today:settings"),
        {"orders.late:enabled": "1", "orders.late:role": "organiser", "orders.late:owner": str(packer.pk)},
    )
    assert r.status_code == 302
    _late_order(ingest, product_factory)
    services.exceptions_refresh(kinds=["orders.late", "orders.stuck"])
    [exc] = _open("orders.late")
    assert exc.owner_role == "organiser" and exc.owner == packer
    # every other kind was saved as switched off (its box was not ticked)
    assert _open("orders.stuck") == []
    page = admin_client.get(reverse("today:settings")).content.decode()
    assert 'data-kind="orders.late"' in page
    bad = admin_client.post(
        reverse("today:settings"), {"orders.late:enabled": "1", "orders.late:role": "pilot"}, follow=True
    )
    assert "Unknown role pilot" in bad.content.decode()


def test_every_module_registers_its_kinds():
    codes = set(registry.kinds())
    for expected in (
        "orders.late", "orders.stuck", "orders.unpaid", "orders.attention", "shipping.exception",
        "service.complaint_due", "service.refund_due", "service.ticket_sla", "purchasing.stock_risk",
        "purchasing.po_overdue", "integrations.not_synced", "integrations.sync_errors",
        "integrations.webhook_failures", "catalog.feed", "catalog.audit_errors", "monitoring.incident",
        "promotions.clash", "reports.anomaly", "reports.insight",
    ):  # fmt: skip
        assert expected in codes
    services.exceptions_refresh()  # every detector runs on an empty shop without failing
    assert services.exceptions_refresh().failed == {}
