"""Returns (withdrawals): request checks, states and transitions, inspection and restocking, e-mails."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone

from zaplecze.core.errors import DomainError, IllegalTransition
from zaplecze.core.models import AuditEntry
from zaplecze.inventory.models import StockLevel, StockMovement
from zaplecze.orders.models import Order
from zaplecze.service import selectors, services
from zaplecze.service.models import CaseEvent, OutboxEmail, ProductReturnExclusion, Return, ReturnState

from .conftest import at

pytestmark = pytest.mark.django_db


def _lines(order):
    return list(order.lines.order_by("position", "id"))


def _on_hand(sku):
    return StockLevel.objects.get(variant__sku=sku).on_hand


def test_a_return_records_lines_deadlines_event_audit_and_a_receipt_email(
    delivered_order, staff, django_capture_on_commit_callbacks
):
    order = delivered_order(delivered_at=at(2025, 12, 10))
    a, b = _lines(order)
    with django_capture_on_commit_callbacks(execute=True):
        ret = services.return_request(
            order_id=order.pk,
            lines={a.pk: 1},
            reason="Za mały",
            statement_sent_at=at(2025, 12, 20),
            statement_received_at=at(2025, 12, 22),
            actor=staff,
            language="en",
        )
    ret.refresh_from_db()
    assert ret.state == ReturnState.REQUESTED
    assert ret.withdrawal_deadline == dt.date(2025, 12, 29)
    assert (ret.refund_due, ret.refund_warn_on) == (
        dt.date(2026, 1, 5),
        dt.date(2026, 1, 1),
    )  # 22.12 + 14 = 05.01
    assert [(ln.order_line_id, ln.quantity) for ln in ret.lines.all()] == [(a.pk, 1)]
    assert list(ret.events.values_list("kind", flat=True)) == ["created", "email_queued", "email_sent"]
    assert (
        AuditEntry.objects.filter(
            object_type="service.return", object_id=str(ret.pk), action="created"
        ).count()
        == 1
    )
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["anna@example.com"]
    assert mail.outbox[0].subject == f"Your return {ret.number}: statement received"
    assert "Kubek (A-1) × 1" in mail.outbox[0].body
    assert OutboxEmail.objects.get().state == OutboxEmail.State.SENT


def test_sending_on_the_last_day_is_enough(delivered_order, staff):
    order = delivered_order(delivered_at=at(2025, 12, 10))
    a, _ = _lines(order)
    ret = services.return_request(
        order_id=order.pk,
        lines={a.pk: 1},
        actor=staff,
        statement_sent_at=at(2025, 12, 29, 23),
        statement_received_at=at(2026, 1, 2),
    )
    assert ret.pk is not None


def test_a_statement_sent_after_the_deadline_is_refused_with_the_date(delivered_order, staff):
    order = delivered_order(delivered_at=at(2025, 12, 10))
    a, _ = _lines(order)
    with pytest.raises(DomainError) as exc:
        services.return_request(
            order_id=order.pk, lines={a.pk: 1}, actor=staff, statement_sent_at=at(2025, 12, 30)
        )
    assert exc.value.code == "deadline_passed"
    assert exc.value.message == "The withdrawal period for order #S1 ended on Mon 29.12.2025."
    assert exc.value.details == {"deadline": "2025-12-29"}
    assert Return.objects.count() == 0


def test_without_a_record_of_information_the_period_is_twelve_months_longer(delivered_order, staff):
    from zaplecze.service.models import WithdrawalNotice

    order = delivered_order(delivered_at=at(2025, 12, 10))
    WithdrawalNotice.objects.all().delete()
    a, _ = _lines(order)
    ret = services.return_request(
        order_id=order.pk, lines={a.pk: 1}, actor=staff, statement_sent_at=at(2026, 6, 1)
    )
    assert ret.withdrawal_deadline == dt.date(2026, 12, 29)


def test_an_order_level_notice_after_delivery_gives_fourteen_days_from_it(delivered_order, staff):
    from zaplecze.service.models import WithdrawalNotice

    order = delivered_order(delivered_at=at(2025, 12, 10))
    WithdrawalNotice.objects.all().delete()
    services.withdrawal_notice_record(
        order_id=order.pk, informed_at=at(2026, 2, 1), how="e-mail", actor=staff
    )
    assert selectors.withdrawal_for_order(order).deadline == dt.date(2026, 2, 16)


def test_quantities_above_bought_minus_already_returned_are_refused(delivered_order, staff):
    order = delivered_order()
    a, b = _lines(order)
    with pytest.raises(DomainError) as exc:
        services.return_request(order_id=order.pk, lines={a.pk: 3}, actor=staff)
    assert (exc.value.code, exc.value.field) == ("too_many", "lines[0].quantity")
    assert exc.value.message == "Kubek: at most 2 can be returned (bought 2, already returned 0)."
    services.return_request(order_id=order.pk, lines={a.pk: 1}, actor=staff)
    with pytest.raises(DomainError) as exc:
        services.return_request(order_id=order.pk, lines={b.pk: 1, a.pk: 2}, actor=staff)
    assert exc.value.message == "Kubek: at most 1 can be returned (bought 2, already returned 1)."
    assert Return.objects.count() == 1
    services.return_request(order_id=order.pk, lines={a.pk: 1, b.pk: 1}, actor=staff)
    assert selectors.returned_quantities(order.pk) == {a.pk: 2, b.pk: 1}


def test_a_rejected_return_frees_its_quantities(delivered_order, staff):
    order = delivered_order()
    a, _ = _lines(order)
    ret = services.return_request(order_id=order.pk, lines={a.pk: 2}, actor=staff)
    services.return_reject(return_id=ret.pk, reason="Opened hygiene product", actor=staff)
    again = services.return_request(order_id=order.pk, lines={a.pk: 2}, actor=staff)
    assert again.pk != ret.pk


def test_a_line_of_another_order_is_refused(delivered_order, staff):
    order, other = delivered_order(), delivered_order()
    with pytest.raises(DomainError) as exc:
        services.return_request(order_id=order.pk, lines={_lines(other)[0].pk: 1}, actor=staff)
    assert exc.value.code == "wrong_line"


def test_no_lines_zero_or_negative_quantities_are_refused(delivered_order, staff):
    order = delivered_order()
    a, _ = _lines(order)
    for lines in ({}, {a.pk: 0}):
        with pytest.raises(DomainError) as exc:
            services.return_request(order_id=order.pk, lines=lines, actor=staff)
        assert exc.value.code == "no_lines"
    with pytest.raises(DomainError) as exc:
        services.return_request(order_id=order.pk, lines={a.pk: -1}, actor=staff)
    assert exc.value.field == "lines[0].quantity"


def test_an_unshipped_order_or_a_business_customer_cannot_return(
    ingest, product_factory, delivered_order, staff
):
    product_factory(sku="SKU-0001")
    open_order = ingest().order
    with pytest.raises(DomainError) as exc:
        services.return_request(order_id=open_order.pk, lines={open_order.lines.get().pk: 1}, actor=staff)
    assert exc.value.code == "not_shipped"
    b2b = delivered_order(customer_type="business")
    with pytest.raises(DomainError) as exc:
        services.return_request(order_id=b2b.pk, lines={_lines(b2b)[0].pk: 1}, actor=staff)
    assert exc.value.code == "no_right"


def test_excluded_products_are_refused_and_conditional_ones_allowed(delivered_order, staff):
    order = delivered_order()
    a, b = _lines(order)
    services.product_exclusion_set(product_id=a.variant.product_id, kind="perishable", actor=staff)
    services.product_exclusion_set(product_id=b.variant.product_id, kind="sealed_hygiene", actor=staff)
    with pytest.raises(DomainError) as exc:
        services.return_request(order_id=order.pk, lines={a.pk: 1}, actor=staff)
    assert exc.value.code == "excluded"
    assert (
        exc.value.message == "Kubek cannot be returned: Perishable or with a short shelf life (art. 38 pkt 4)"
    )
    assert services.return_request(order_id=order.pk, lines={b.pk: 1}, actor=staff).pk
    services.product_exclusion_set(product_id=a.variant.product_id, kind=None, actor=staff)
    assert not ProductReturnExclusion.objects.filter(product_id=a.variant.product_id).exists()


def test_the_full_path_restocks_resellable_units_once_and_refunds(
    delivered_order, staff, django_capture_on_commit_callbacks
):
    order = delivered_order()
    a, b = _lines(order)
    before_a, before_b = _on_hand("A-1"), _on_hand("B-1")
    with django_capture_on_commit_callbacks(execute=True):
        ret = services.return_request(order_id=order.pk, lines={a.pk: 2, b.pk: 1}, actor=staff, language="en")
        services.return_accept(return_id=ret.pk, actor=staff, note="Send it with InPost")
    line_a, line_b = ret.lines.order_by("id")
    with django_capture_on_commit_callbacks(execute=True):
        services.return_receive(
            return_id=ret.pk,
            actor=staff,
            inspection={line_a.pk: {"resellable": 1, "damaged": 1}, line_b.pk: {"missing": 1}},
        )
    assert (_on_hand("A-1"), _on_hand("B-1")) == (before_a + 1, before_b)
    movement = StockMovement.objects.get(kind="return")
    assert (movement.quantity, movement.reference) == (1, f"return-line:{line_a.pk}")
    ret.refresh_from_db()
    assert ret.state == ReturnState.RECEIVED
    # The 2 x 49.99 line (1 resellable + 1 damaged) is refunded in full, the missing plate is not (it did not come
    # back), and the delivery cost (12.99) is, since the customer withdrew from the whole order.
    assert services.return_refund_suggestion(ret) == Decimal("112.97")
    with django_capture_on_commit_callbacks(execute=True):
        refund = services.return_refund(
            return_id=ret.pk, actor=staff, idempotency_key="ui-refund-0001", method="original"
        )
    refund.refresh_from_db()
    assert (refund.amount, refund.state) == (Decimal("112.97"), "awaiting_confirmation")
    with django_capture_on_commit_callbacks(execute=True):
        services.refund_confirm(refund_id=refund.pk, actor=staff, reference="bank 123")
    ret.refresh_from_db()
    assert ret.state == ReturnState.REFUNDED
    services.return_close(return_id=ret.pk, actor=staff)
    ret.refresh_from_db()
    assert ret.state == ReturnState.CLOSED
    kinds = list(ret.events.values_list("kind", "to_state"))
    assert [k for k in kinds if k[0] == "state"] == [
        ("state", "accepted"),
        ("state", "received"),
        ("state", "refunded"),
        ("state", "closed"),
    ]
    assert [m.subject for m in mail.outbox] == [
        f"Your return {ret.number}: statement received",
        f"Your return {ret.number} has been accepted",
        f"Refund for order {order.number} sent",
    ]
    order.refresh_from_db()
    assert order.payment_status == "partially_refunded"
    assert order.stage == "returned"  # withdrawn from as a whole
    with pytest.raises(IllegalTransition):
        services.return_receive(return_id=ret.pk, actor=staff, inspection={})


def test_a_whole_order_returned_refunds_shipping_and_marks_the_order_returned(delivered_order, staff):
    order = delivered_order()
    a, b = _lines(order)
    ret = services.return_request(order_id=order.pk, lines={a.pk: 2, b.pk: 1}, actor=staff)
    services.return_accept(return_id=ret.pk, actor=staff)
    la, lb = ret.lines.order_by("id")
    services.return_receive(
        return_id=ret.pk, actor=staff, inspection={la.pk: {"resellable": 2}, lb.pk: {"resellable": 1}}
    )
    assert services.return_refund_suggestion(ret) == order.total_gross == Decimal("142.97")
    refund = services.return_refund(
        return_id=ret.pk, actor=staff, idempotency_key="whole-order-1", method="original"
    )
    services.refund_confirm(refund_id=refund.pk, actor=staff)
    services.return_close(return_id=ret.pk, actor=staff)
    order.refresh_from_db()
    assert (order.stage, order.payment_status) == ("returned", "refunded")


def test_inspection_must_add_up_and_cover_every_line(delivered_order, staff):
    order = delivered_order()
    a, b = _lines(order)
    ret = services.return_request(order_id=order.pk, lines={a.pk: 2, b.pk: 1}, actor=staff)
    services.return_accept(return_id=ret.pk, actor=staff)
    la, lb = ret.lines.order_by("id")
    with pytest.raises(DomainError) as exc:
        services.return_receive(
            return_id=ret.pk, actor=staff, inspection={la.pk: {"resellable": 1}, lb.pk: {"missing": 1}}
        )
    assert exc.value.code == "inspection_sum"
    with pytest.raises(DomainError) as exc:
        services.return_receive(return_id=ret.pk, actor=staff, inspection={la.pk: {"resellable": 2}})
    assert exc.value.code == "not_inspected"
    assert StockMovement.objects.filter(kind="return").count() == 0
    ret.refresh_from_db()
    assert ret.goods_received_at is None


def test_the_transitions_table_refuses_illegal_moves_and_changes_nothing(delivered_order, staff):
    order = delivered_order()
    ret = services.return_request(order_id=order.pk, lines={_lines(order)[0].pk: 1}, actor=staff)
    for target in ("received", "refunded", "closed", "requested"):
        with pytest.raises(IllegalTransition):
            services.return_transition(return_id=ret.pk, to_state=target, actor=staff)
    with pytest.raises(IllegalTransition):
        services.return_receive(return_id=ret.pk, actor=staff, inspection={})
    with pytest.raises(IllegalTransition):
        services.return_refund(
            return_id=ret.pk, actor=staff, idempotency_key="too-early-1", method="original"
        )
    ret.refresh_from_db()
    assert (ret.state, ret.version) == ("requested", 1)
    services.return_reject(return_id=ret.pk, reason="No", actor=staff)
    with pytest.raises(IllegalTransition):
        services.return_accept(return_id=ret.pk, actor=staff)


def test_a_stale_version_is_a_conflict(delivered_order, staff):
    from zaplecze.core.errors import Conflict

    order = delivered_order()
    ret = services.return_request(order_id=order.pk, lines={_lines(order)[0].pk: 1}, actor=staff)
    services.return_accept(return_id=ret.pk, actor=staff, expected_version=1)
    with pytest.raises(Conflict):
        services.return_reject(return_id=ret.pk, reason="x", actor=staff, expected_version=1)


def test_rejection_needs_a_reason_and_emails_it(delivered_order, staff, django_capture_on_commit_callbacks):
    order = delivered_order()
    ret = services.return_request(
        order_id=order.pk, lines={_lines(order)[0].pk: 1}, actor=staff, language="en"
    )
    with pytest.raises(DomainError) as exc:
        services.return_reject(return_id=ret.pk, reason="  ", actor=staff)
    assert exc.value.field == "reason"
    with django_capture_on_commit_callbacks(execute=True):
        services.return_reject(return_id=ret.pk, reason="The seal was broken", actor=staff)
    assert mail.outbox[-1].subject == f"Your return {ret.number} has been rejected"
    assert "Reason: The seal was broken" in mail.outbox[-1].body


def test_refund_before_the_goods_needs_proof_of_sending(delivered_order, staff):
    order = delivered_order()
    ret = services.return_request(order_id=order.pk, lines={_lines(order)[0].pk: 1}, actor=staff)
    services.return_accept(return_id=ret.pk, actor=staff)
    with pytest.raises(IllegalTransition):
        services.return_refund(
            return_id=ret.pk, actor=staff, idempotency_key="proof-first-1", method="original"
        )
    services.return_record_proof_of_sending(return_id=ret.pk, actor=staff, note="InPost 123")
    refund = services.return_refund(
        return_id=ret.pk, actor=staff, idempotency_key="proof-first-1", method="original"
    )
    assert refund.amount == Decimal("49.99")
    ret.refresh_from_db()
    assert ret.state == ReturnState.REFUNDED
    with pytest.raises(IllegalTransition):  # the goods are not back yet
        services.return_close(return_id=ret.pk, actor=staff)
    line = ret.lines.get()
    services.return_receive(return_id=ret.pk, actor=staff, inspection={line.pk: {"resellable": 1}})
    ret.refresh_from_db()
    assert ret.state == ReturnState.REFUNDED
    assert ret.goods_received_at is not None
    services.return_close(return_id=ret.pk, actor=staff)


def test_due_lists_today_overdue_and_warning(delivered_order, staff):
    order = delivered_order()
    a, b = _lines(order)
    now = timezone.now()
    r1 = services.return_request(order_id=order.pk, lines={a.pk: 1}, actor=staff)
    r2 = services.return_request(order_id=order.pk, lines={b.pk: 1}, actor=staff)
    Return.objects.filter(pk=r1.pk).update(
        refund_due=dt.date(2026, 3, 10), refund_warn_on=dt.date(2026, 3, 6)
    )
    Return.objects.filter(pk=r2.pk).update(
        refund_due=dt.date(2026, 3, 12), refund_warn_on=dt.date(2026, 3, 8)
    )
    f = selectors.CaseFilter
    today = dt.date(2026, 3, 10)
    assert [r.pk for r in selectors.returns_list(f(due="today"), today=today).items] == [r1.pk]
    assert [r.pk for r in selectors.returns_list(f(due="overdue"), today=dt.date(2026, 3, 11)).items] == [
        r1.pk
    ]
    assert [r.pk for r in selectors.returns_list(f(due="warning"), today=today).items] == [r2.pk, r1.pk]
    counts = selectors.due_counts(today)
    assert (counts.returns_today, counts.returns_overdue, counts.returns_warning) == (1, 0, 2)
    data = selectors.due_cases(dt.date(2026, 3, 12))
    assert [(r["number"], r["overdue"]) for r in data["returns"]] == [(r1.number, True), (r2.number, False)]
    services.return_reject(return_id=r1.pk, reason="no", actor=staff)
    assert [r.pk for r in selectors.returns_list(f(due="overdue"), today=dt.date(2026, 3, 13)).items] == [
        r2.pk
    ]
    assert now  # the lists use the given day, not the clock


def test_keyset_pages_and_search(delivered_order, staff):
    order = delivered_order()
    a, _ = _lines(order)
    ids = [services.return_request(order_id=order.pk, lines={a.pk: 1}, actor=staff).pk]
    Return.objects.filter(pk=ids[0]).update(state="rejected")
    ids.append(services.return_request(order_id=order.pk, lines={a.pk: 1}, actor=staff).pk)
    Return.objects.filter(pk=ids[1]).update(state="rejected")
    ids.append(services.return_request(order_id=order.pk, lines={a.pk: 1}, actor=staff).pk)
    page = selectors.returns_list(selectors.CaseFilter(), limit=2)
    assert [r.pk for r in page.items] == [ids[2], ids[1]]
    page2 = selectors.returns_list(selectors.CaseFilter(), limit=2, cursor=page.next_cursor)
    assert ([r.pk for r in page2.items], page2.next_cursor) == ([ids[0]], None)
    found = selectors.returns_list(selectors.CaseFilter(q=f"R-{ids[1]:06d}"))
    assert [r.pk for r in found.items] == [ids[1]]
    assert len(selectors.returns_list(selectors.CaseFilter(q="S1")).items) == 3
    assert selectors.returns_list(selectors.CaseFilter(q="nobody@example.com")).items == []


def test_concurrent_requests_are_serialised_by_the_order_lock(delivered_order, staff):
    # On SQLite the IMMEDIATE transaction serialises writers; the check and the insert happen under the
    # order's row lock on PostgreSQL (tests/service/test_postgres.py runs it with real threads).
    order = delivered_order()
    a, _ = _lines(order)
    services.return_request(order_id=order.pk, lines={a.pk: 2}, actor=staff)
    with pytest.raises(DomainError):
        services.return_request(order_id=order.pk, lines={a.pk: 1}, actor=staff)
    assert Order.objects.get(pk=order.pk).version == order.version  # locking does not edit the order


def test_case_notes_go_to_the_timeline(delivered_order, staff):
    order = delivered_order()
    ret = services.return_request(order_id=order.pk, lines={_lines(order)[0].pk: 1}, actor=staff)
    services.case_add_note(return_id=ret.pk, text="Customer called", actor=staff)
    assert CaseEvent.objects.filter(return_case=ret, kind="note").get().message == "Customer called"
    with pytest.raises(DomainError):
        services.case_add_note(return_id=ret.pk, text="", actor=staff)
