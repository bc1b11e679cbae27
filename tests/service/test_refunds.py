"""Refunds: never more than paid minus refunded, idempotency keys, IBAN checks, connectors and retries."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone

from zaplecze.core.errors import Conflict, DomainError, IllegalTransition
from zaplecze.core.models import AuditEntry
from zaplecze.orders.models import Order
from zaplecze.service import connectors, selectors, services
from zaplecze.service.models import Refund, RefundState

pytestmark = pytest.mark.django_db

IBAN = "PL61109010140000071219812874"


class FakeProvider:
    """A payment provider that pays each idempotency key at most once, and can be told to fail."""

    code = "fakepay"

    def __init__(self):
        self.calls: list[str] = []
        self.paid: dict[str, Decimal] = {}
        self.fail_next: list[Exception] = []

    def send(self, request):
        self.calls.append(request.idempotency_key)
        if self.fail_next:
            raise self.fail_next.pop(0)
        self.paid.setdefault(request.idempotency_key, request.amount)
        return connectors.RefundResult(status="done", reference=f"fp-{len(self.paid)}")


@pytest.fixture
def provider(monkeypatch):
    p = FakeProvider()
    connectors.register(p)
    monkeypatch.setitem(connectors.BY_PAYMENT_METHOD, "card", "fakepay")
    yield p
    connectors.unregister("fakepay")


def test_refund_never_exceeds_paid_minus_refunded(delivered_order, staff):
    order = delivered_order()  # paid by card, 142.97
    services.refund_create(
        order_id=order.pk, amount="100.00", method="original", idempotency_key="key-0000001", actor=staff
    )
    with pytest.raises(DomainError) as exc:
        services.refund_create(
            order_id=order.pk, amount="42.98", method="original", idempotency_key="key-0000002", actor=staff
        )
    assert (exc.value.code, exc.value.field) == ("over_refund", "amount")
    assert exc.value.message == (
        "At most 42.97 PLN can be refunded for order #S1 (paid 142.97, already refunded 100.00)."
    )
    services.refund_create(
        order_id=order.pk, amount="42.97", method="original", idempotency_key="key-0000003", actor=staff
    )
    assert selectors.refundable_amount(order) == Decimal("0.00")
    assert Refund.objects.count() == 2


def test_an_unpaid_order_cannot_be_refunded(ingest, product_factory, staff):
    product_factory(sku="SKU-0001")
    order = ingest(payment_status="unpaid", payment_method="transfer").order
    with pytest.raises(DomainError) as exc:
        services.refund_create(
            order_id=order.pk, amount="1.00", method="original", idempotency_key="key-unpaid-1", actor=staff
        )
    assert exc.value.code == "over_refund"


def test_a_cancelled_refund_frees_its_amount(delivered_order, staff):
    order = delivered_order()
    refund = services.refund_create(
        order_id=order.pk, amount="142.97", method="original", idempotency_key="key-cancel-1", actor=staff
    )
    services.refund_cancel(refund_id=refund.pk, actor=staff, reason="Wrong amount")
    assert selectors.refundable_amount(order) == Decimal("142.97")
    with pytest.raises(IllegalTransition):
        services.refund_cancel(refund_id=refund.pk, actor=staff, reason="again")


def test_the_same_idempotency_key_returns_the_same_refund(delivered_order, staff):
    order = delivered_order()
    first = services.refund_create(
        order_id=order.pk, amount="10.00", method="original", idempotency_key="retry-key-1", actor=staff
    )
    again = services.refund_create(
        order_id=order.pk, amount="10.00", method="original", idempotency_key="retry-key-1", actor=staff
    )
    assert again.pk == first.pk
    assert Refund.objects.count() == 1
    assert AuditEntry.objects.filter(object_type="service.refund").count() == 1
    with pytest.raises(Conflict) as exc:
        services.refund_create(
            order_id=order.pk, amount="11.00", method="original", idempotency_key="retry-key-1", actor=staff
        )
    assert exc.value.code == "idempotency_key_reused"


@pytest.mark.parametrize("key", ["", "short", "a" * 81, "spaces are bad 1", "zażółć-1234"])
def test_malformed_idempotency_keys_are_refused(delivered_order, staff, key):
    order = delivered_order()
    with pytest.raises(DomainError) as exc:
        services.refund_create(
            order_id=order.pk, amount="1.00", method="original", idempotency_key=key, actor=staff
        )
    assert exc.value.field == "idempotency_key"


@pytest.mark.parametrize("amount", ["0", "-5", "1.001", "abc", "NaN", "Infinity", "1e20"])
def test_bad_amounts_are_refused(delivered_order, staff, amount):
    order = delivered_order()
    with pytest.raises(DomainError) as exc:
        services.refund_create(
            order_id=order.pk, amount=amount, method="original", idempotency_key="amount-key-1", actor=staff
        )
    assert exc.value.field == "amount"
    assert Refund.objects.count() == 0


def test_bank_transfer_needs_a_valid_iban(delivered_order, staff):
    order = delivered_order()
    for bad, code in [
        ("", "required"),
        ("PL61109010140000071219812875", "invalid_iban"),
        ("DE00", "invalid_iban"),
    ]:
        with pytest.raises(DomainError) as exc:
            services.refund_create(
                order_id=order.pk,
                amount="5.00",
                method="bank_transfer",
                iban=bad,
                idempotency_key="iban-key-01",
                actor=staff,
            )
        assert (exc.value.field, exc.value.code) == ("iban", code)
    refund = services.refund_create(
        order_id=order.pk,
        amount="5.00",
        method="bank_transfer",
        iban="61 1090 1014 0000 0712 1981 2874",
        idempotency_key="iban-key-01",
        actor=staff,
    )
    assert refund.iban == IBAN


def test_cash_on_delivery_is_refunded_by_transfer(delivered_order, staff):
    order = delivered_order(payment_method="cod", payment_status="cod")
    assert selectors.paid_amount(order) == order.total_gross  # collected on delivery
    with pytest.raises(DomainError) as exc:
        services.refund_create(
            order_id=order.pk, amount="5.00", method="original", idempotency_key="cod-key-01", actor=staff
        )
    assert exc.value.code == "method_unavailable"


def test_manual_refund_waits_for_confirmation_then_emails_the_customer(
    delivered_order, staff, django_capture_on_commit_callbacks
):
    order = delivered_order()
    with django_capture_on_commit_callbacks(execute=True):
        refund = services.refund_create(
            order_id=order.pk,
            amount="20.00",
            method="bank_transfer",
            iban=IBAN,
            idempotency_key="manual-key-1",
            actor=staff,
        )
    refund.refresh_from_db()
    assert (refund.state, refund.connector, refund.attempts) == ("awaiting_confirmation", "manual", 1)
    assert mail.outbox == []
    with django_capture_on_commit_callbacks(execute=True):
        services.refund_confirm(refund_id=refund.pk, actor=staff, reference="przelew 2026/11/1")
        services.refund_confirm(refund_id=refund.pk, actor=staff)  # twice: nothing more happens
    refund.refresh_from_db()
    assert (refund.state, refund.provider_reference) == ("done", "przelew 2026/11/1")
    assert len(mail.outbox) == 1
    assert "PL61 1090 1014 0000 0712 1981 2874" in mail.outbox[0].body
    order.refresh_from_db()
    assert order.payment_status == "partially_refunded"


def test_a_provider_refund_goes_out_once_even_when_sent_again(
    delivered_order, staff, provider, django_capture_on_commit_callbacks
):
    order = delivered_order()
    with django_capture_on_commit_callbacks(execute=True):
        refund = services.refund_create(
            order_id=order.pk, amount="142.97", method="original", idempotency_key="prov-key-1", actor=staff
        )
    refund.refresh_from_db()
    assert (refund.state, refund.connector, refund.provider_reference) == ("done", "fakepay", "fp-1")
    # the worker's retry pass, a duplicate task, a repeated request: nothing is sent again
    assert services.refund_send(refund_id=refund.pk) is None
    assert services.refunds_retry_due() == 0
    services.refund_create(
        order_id=order.pk, amount="142.97", method="original", idempotency_key="prov-key-1", actor=staff
    )
    assert provider.calls == ["prov-key-1"]
    order.refresh_from_db()
    assert order.payment_status == "refunded"


def test_a_temporary_provider_failure_is_retried_with_the_same_key(
    delivered_order, staff, provider, django_capture_on_commit_callbacks
):
    order = delivered_order()
    provider.fail_next = [connectors.TemporaryFailure("timeout")]
    with django_capture_on_commit_callbacks(execute=True):
        refund = services.refund_create(
            order_id=order.pk, amount="30.00", method="original", idempotency_key="temp-key-1", actor=staff
        )
    refund.refresh_from_db()
    assert (refund.state, refund.last_error) == ("pending", "timeout")
    assert services.refunds_retry_due() == 1
    refund.refresh_from_db()
    assert refund.state == "done"
    assert provider.calls == ["temp-key-1", "temp-key-1"]
    assert provider.paid == {"temp-key-1": Decimal("30.00")}


def test_a_crash_during_the_call_resends_with_the_same_key_and_the_provider_pays_once(
    delivered_order, staff, provider
):
    order = delivered_order()
    refund = services.refund_create(
        order_id=order.pk, amount="30.00", method="original", idempotency_key="crash-key-1", actor=staff
    )
    # The provider paid, then the worker died before recording it: the row is stuck "processing".
    provider.paid["crash-key-1"] = Decimal("30.00")
    Refund.objects.filter(pk=refund.pk).update(
        state=RefundState.PROCESSING, processing_since=timezone.now() - dt.timedelta(minutes=11)
    )
    assert services.refunds_retry_due() == 1
    refund.refresh_from_db()
    assert refund.state == "done"
    assert provider.calls == ["crash-key-1"]
    assert provider.paid == {"crash-key-1": Decimal("30.00")}


def test_a_recent_processing_refund_is_left_alone(delivered_order, staff, provider):
    order = delivered_order()
    refund = services.refund_create(
        order_id=order.pk, amount="30.00", method="original", idempotency_key="busy-key-1", actor=staff
    )
    Refund.objects.filter(pk=refund.pk).update(state=RefundState.PROCESSING, processing_since=timezone.now())
    assert services.refunds_retry_due() == 0
    assert provider.calls == []


def test_a_refused_refund_fails_and_frees_the_amount(delivered_order, staff, provider):
    order = delivered_order()
    provider.fail_next = [connectors.Refused("card expired")]
    refund = services.refund_create(
        order_id=order.pk, amount="30.00", method="original", idempotency_key="refused-key1", actor=staff
    )
    services.refund_send(refund_id=refund.pk)
    refund.refresh_from_db()
    assert (refund.state, refund.last_error) == ("failed", "card expired")
    assert selectors.refundable_amount(order) == order.total_gross


def test_paid_amount_rules(delivered_order):
    order = delivered_order()
    assert selectors.paid_amount(order) == Decimal("142.97")
    Order.objects.filter(pk=order.pk).update(payment_status="unpaid", paid_at=None)
    order.refresh_from_db()
    assert selectors.paid_amount(order) == Decimal("0.00")
