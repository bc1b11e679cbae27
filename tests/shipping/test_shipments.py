"""Shipments through the services: create and submit (idempotent), errors kept and retried, labels,
tracking, the order following its shipments, manual carriers, cancelling, webhooks."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from huey.contrib.djhuey import HUEY

from zaplecze.core.errors import DomainError, IllegalTransition
from zaplecze.orders.models import Order, Stage
from zaplecze.shipping import selectors, services
from zaplecze.shipping.carriers import (
    CarrierBadResponse,
    CarrierRejected,
    CarrierTimeout,
    CarrierUnavailable,
    ParcelSpec,
    TrackingInfo,
    TrackingUpdate,
)
from zaplecze.shipping.models import Shipment, ShipmentStatus, Submission, TrackingEvent
from zaplecze.shipping.tasks import shipment_submit_task

from .fakeshipx import sample

pytestmark = pytest.mark.usefixtures("media")


def utc(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


def test_a_locker_shipment_is_created_sent_and_gets_its_label(
    shipx, order_factory, admin_user, django_capture_on_commit_callbacks
):
    order = order_factory()
    with django_capture_on_commit_callbacks(execute=True):
        shipment = services.shipment_create(order_id=order.pk, actor=admin_user)
    assert shipment.reference == f"5001-S{shipment.pk}"
    shipment.refresh_from_db()
    assert shipx.calls("create") == 1
    body = shipx.requests[0][2]
    assert body["service"] == "inpost_locker_standard"
    assert body["custom_attributes"] == {"target_point": "KRA01M", "sending_method": "dispatch_order"}
    assert body["parcels"] == [{"template": "small"}]
    assert body["receiver"] == {
        "first_name": "Anna",
        "last_name": "Kowalska",
        "email": "anna@example.com",
        "phone": "600100200",
    }
    assert body["reference"] == shipment.reference
    assert shipment.submission == Submission.DONE
    assert shipment.status == ShipmentStatus.LABEL_READY
    assert shipment.raw_status == "confirmed"
    assert shipment.external_id == "4257799"
    assert shipment.tracking_number == "602677439331630337653846"
    assert shipment.parcels.get().tracking_number == "602677439331630337653846"
    with shipment.label.open("rb") as fh:
        assert fh.read() == shipx.label_pdf
    assert list(shipment.events.values_list("raw_status", "status")) == [
        ("created", "created"),
        ("confirmed", "label_ready"),
    ]
    assert shipment.items.get().quantity == 2
    # sending again is a no-op
    services.shipment_submit(shipment_id=shipment.pk)
    assert shipx.calls("create") == 1


def test_a_retry_after_a_timeout_never_creates_a_second_parcel(shipx, order_factory, admin_user):
    order = order_factory()
    shipment = services.shipment_create(order_id=order.pk, actor=admin_user, submit=False)
    shipx.fail("create", "timeout", 1.0)  # ShipX creates the shipment, the answer comes too late
    with pytest.raises(CarrierTimeout):
        services.shipment_submit(shipment_id=shipment.pk)
    shipment.refresh_from_db()
    assert len(shipx.shipments) == 1
    assert shipment.submission == Submission.FAILED
    assert shipment.external_id == ""
    assert "did not answer within 0.3 s" in shipment.last_error
    assert shipment.attempts == 1
    assert shipment.next_attempt_at is not None
    # the retry looks the reference up first and adopts the parcel ShipX already has
    services.shipment_submit(shipment_id=shipment.pk)
    shipment.refresh_from_db()
    assert len(shipx.shipments) == 1
    assert shipx.calls("create") == 1
    assert shipx.calls("search") == 1
    assert shipment.external_id == str(next(iter(shipx.shipments)))
    assert shipment.submission == Submission.DONE
    assert shipment.last_error == ""
    assert shipment.label


def test_server_error_and_malformed_answers_are_kept_and_retried(shipx, order_factory, admin_user):
    order = order_factory()
    shipment = services.shipment_create(order_id=order.pk, actor=admin_user, submit=False)
    shipx.fail("create", "500")
    with pytest.raises(CarrierUnavailable):
        services.shipment_submit(shipment_id=shipment.pk)
    shipx.fail("create", "malformed")
    with pytest.raises(CarrierBadResponse):
        services.shipment_submit(shipment_id=shipment.pk)
    shipment.refresh_from_db()
    assert shipment.submission == Submission.FAILED
    assert shipment.attempts == 2
    assert "malformed" in shipment.last_error
    assert Shipment.objects.count() == 1  # the shipment is not lost
    services.shipment_submit(shipment_id=shipment.pk)
    shipment.refresh_from_db()
    assert shipment.submission == Submission.DONE
    assert len(shipx.shipments) == 1


def test_a_label_that_is_not_a_pdf_is_not_stored_and_is_fetched_again(shipx, order_factory, admin_user):
    order = order_factory()
    shipment = services.shipment_create(order_id=order.pk, actor=admin_user, submit=False)
    shipx.fail("label", "not_pdf")
    with pytest.raises(CarrierBadResponse):
        services.shipment_submit(shipment_id=shipment.pk)
    shipment.refresh_from_db()
    assert not shipment.label
    assert shipment.external_id and shipment.tracking_number
    assert "not a PDF" in shipment.last_error
    services.shipment_submit(shipment_id=shipment.pk)
    shipment.refresh_from_db()
    assert shipment.label and shipment.submission == Submission.DONE
    assert len(shipx.shipments) == 1


def test_the_worker_task_retries_with_backoff_and_gives_up_on_rejected_data(shipx, order_factory, admin_user):
    order = order_factory()
    shipment = services.shipment_create(order_id=order.pk, actor=admin_user, submit=False)
    HUEY.flush()
    shipx.fail("create", "500")
    shipment_submit_task(shipment.pk)
    scheduled = HUEY.scheduled()
    assert len(scheduled) == 1
    assert scheduled[0].args == (shipment.pk,)
    assert scheduled[0].retries == 7  # one used
    assert scheduled[0].retry_delay == 60  # 30 s now, doubled for the next one
    shipment.refresh_from_db()
    assert shipment.submission == Submission.FAILED
    HUEY.flush()
    # a refused locker code: retrying cannot help, the shipment waits for a person with the error
    bad = services.shipment_create(
        order_id=order_factory().pk, target_point="XXX000", actor=admin_user, submit=False
    )
    shipment_submit_task(bad.pk)
    assert HUEY.scheduled() == []
    bad.refresh_from_db()
    assert bad.submission == Submission.GAVE_UP
    assert "does_not_exist" in bad.last_error
    with pytest.raises(CarrierRejected):
        services.shipment_submit(shipment_id=bad.pk)


def test_retry_requeues_a_given_up_shipment(
    shipx, order_factory, admin_user, django_capture_on_commit_callbacks
):
    order = order_factory()
    shipment = services.shipment_create(order_id=order.pk, actor=admin_user, submit=False)
    services.shipment_give_up(shipment_id=shipment.pk, reason="retries exhausted")
    with django_capture_on_commit_callbacks(execute=True):
        services.shipment_retry(shipment_id=shipment.pk, actor=admin_user)
    shipment.refresh_from_db()
    assert shipment.submission == Submission.DONE and shipment.label


def test_asynchronous_confirmation_waits_for_the_label(shipx, order_factory, admin_user):
    from zaplecze.shipping.carriers import CarrierNotReady

    shipx.confirm_after_gets = 2
    shipment = services.shipment_create(order_id=order_factory().pk, actor=admin_user, submit=False)
    with pytest.raises(CarrierNotReady):
        services.shipment_submit(shipment_id=shipment.pk)
    shipment.refresh_from_db()
    assert shipment.submission == Submission.SUBMITTED and shipment.status == ShipmentStatus.CREATED
    assert shipment.last_error == "" and shipment.next_attempt_at is not None
    assert shipment.raw_status == "created"
    services.shipment_submit(shipment_id=shipment.pk)
    shipment.refresh_from_db()
    assert shipment.status == ShipmentStatus.LABEL_READY and shipment.label
    assert shipx.calls("create") == 1


def test_courier_shipment_with_parcels_cod_and_insurance(shipx, order_factory, admin_user):
    order = order_factory(
        delivery_method="inpost_courier", pickup_point="", payment_method="cod", payment_status="cod"
    )
    shipment = services.shipment_create(
        order_id=order.pk,
        actor=admin_user,
        submit=False,
        insurance_amount=Decimal("300"),
        parcels=[ParcelSpec(length_mm=300, width_mm=200, height_mm=100, weight_kg=Decimal("1.2"))],
    )
    services.shipment_submit(shipment_id=shipment.pk)
    body = shipx.requests[0][2]
    assert body["service"] == "inpost_courier_standard"
    assert body["cod"] == {"amount": float(order.total_gross), "currency": "PLN"}
    assert body["insurance"] == {"amount": 300.0, "currency": "PLN"}
    assert body["receiver"]["address"] == {
        "street": "ul. Długa",
        "building_number": "5",
        "city": "Kraków",
        "post_code": "30-001",
        "country_code": "PL",
    }
    assert body["parcels"] == [
        {
            "id": "parcel-1",
            "dimensions": {"length": "300", "width": "200", "height": "100", "unit": "mm"},
            "weight": {"amount": "1.2", "unit": "kg"},
            "is_non_standard": False,
        }
    ]
    assert "custom_attributes" not in body


def test_bad_shipment_input_names_the_field(order_factory, admin_user):
    order = order_factory(delivery_method="inpost_courier", pickup_point="")
    with pytest.raises(DomainError) as exc:
        services.shipment_create(order_id=order.pk, actor=admin_user, submit=False, parcels=[ParcelSpec()])
    assert exc.value.field == "parcels[0].dimensions"
    with pytest.raises(DomainError) as exc:
        services.shipment_create(
            order_id=order.pk, service="inpost_locker_standard", actor=admin_user, submit=False
        )
    assert exc.value.field == "target_point"
    with pytest.raises(DomainError) as exc:
        services.shipment_create(order_id=order.pk, carrier_code="ups", actor=admin_user, submit=False)
    assert exc.value.field == "carrier"
    with pytest.raises(DomainError) as exc:
        services.shipment_create(
            order_id=order.pk,
            carrier_code="dpd",
            service="inpost_locker_standard",
            actor=admin_user,
            submit=False,
        )
    assert exc.value.field == "service"
    assert Shipment.objects.count() == 0


def at(minutes: int) -> dt.datetime:
    """A carrier event time: `minutes` from now, whole seconds (as ShipX sends them)."""
    from django.utils import timezone

    return (timezone.now() + dt.timedelta(minutes=minutes)).replace(microsecond=0)


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone(dt.timedelta(hours=1))).isoformat(timespec="milliseconds")


def test_tracking_moves_the_shipment_and_the_order_follows(shipx, order_factory, admin_user):
    order = order_factory()
    assert order.stage == Stage.READY
    shipment = services.shipment_create(order_id=order.pk, actor=admin_user, submit=False)
    services.shipment_submit(shipment_id=shipment.pk)
    shipment.refresh_from_db()
    number = shipment.tracking_number
    confirmed, collected = at(-1), at(60)
    history = [("confirmed", iso(confirmed)), ("collected_from_sender", iso(collected))]
    shipx.set_tracking(number, history)
    assert services.shipment_sync(shipment_id=shipment.pk) is True
    shipment.refresh_from_db()
    order.refresh_from_db()
    assert shipment.status == ShipmentStatus.HANDED_OVER
    assert shipment.handed_over_at == collected
    assert order.stage == Stage.SHIPPED
    assert order.shipped_at is not None
    # polling again with nothing new changes nothing
    assert services.shipment_sync(shipment_id=shipment.pk) is False
    delivered = at(60 * 24)
    shipx.set_tracking(
        number,
        [
            *history,
            ("out_for_delivery", iso(at(60 * 20))),
            ("ready_to_pickup", iso(at(60 * 22))),
            ("delivered", iso(delivered)),
        ],
    )
    report = services.shipments_sync()
    assert (report.checked, report.changed, report.failed) == (1, 1, 0)
    shipment.refresh_from_db()
    order.refresh_from_db()
    assert shipment.status == ShipmentStatus.DELIVERED and shipment.raw_status == "delivered"
    assert shipment.delivered_at == delivered
    assert order.stage == Stage.DELIVERED
    assert order.delivered_at is not None
    line = order.lines.get()
    assert selectors.order_lines_delivered_at(order.pk) == {line.pk: delivered}
    # "confirmed" is in the timeline once although both the shipment and its tracking reported it
    assert list(shipment.events.order_by("at", "id").values_list("raw_status", flat=True)) == [
        "created",
        "confirmed",
        "collected_from_sender",
        "out_for_delivery",
        "ready_to_pickup",
        "delivered",
    ]
    # delivered shipments are no longer polled
    assert selectors.shipments_to_sync() == []


def test_an_older_or_unknown_carrier_status_never_moves_the_shipment_back(order_factory, admin_user):
    order = order_factory(delivery_method="dpd")
    shipment = services.shipment_create(order_id=order.pk, actor=admin_user, tracking_number="DPD123")
    services.shipment_transition(
        shipment_id=shipment.pk, status="delivered", actor=admin_user, at=utc(2025, 12, 22, 12)
    )
    from zaplecze.shipping.carriers.inpost import InPostConnector

    info = TrackingInfo(
        "DPD123",
        "in_transit",
        [
            TrackingUpdate("sent_from_sorting_center", utc(2025, 12, 22, 13)),
            TrackingUpdate("mystery_status", utc(2025, 12, 22, 14)),
        ],
    )
    assert (
        services.shipment_apply_tracking(
            shipment_id=shipment.pk, info=info, connector=InPostConnector(base_url="http://127.0.0.1:9")
        )
        is False
    )
    shipment.refresh_from_db()
    assert shipment.status == ShipmentStatus.DELIVERED
    unknown = shipment.events.get(raw_status="mystery_status")
    assert unknown.status == ""


def test_a_manual_carrier_with_a_typed_in_tracking_number(order_factory, admin_user):
    order = order_factory(delivery_method="dpd", pickup_point="")
    shipment = services.shipment_create(
        order_id=order.pk, actor=admin_user, tracking_number=" 0000123456789 "
    )
    assert shipment.carrier.code == "dpd" and shipment.service == "standard"
    assert shipment.tracking_number == "0000123456789"
    assert shipment.submission == Submission.DONE
    assert shipment.tracking_link == "https://tracktrace.dpd.com.pl/parcelDetails?typ=1&p1=0000123456789"
    services.shipment_transition(shipment_id=shipment.pk, status="handed_over", actor=admin_user)
    order.refresh_from_db()
    assert order.stage == Stage.SHIPPED
    with pytest.raises(IllegalTransition):
        services.shipment_transition(shipment_id=shipment.pk, status="created", actor=admin_user)
    services.shipment_transition(shipment_id=shipment.pk, status="delivered", actor=admin_user)
    order.refresh_from_db()
    assert order.stage == Stage.DELIVERED
    services.shipment_set_tracking_number(shipment_id=shipment.pk, tracking_number="NEW-1", actor=admin_user)
    assert Shipment.objects.get(pk=shipment.pk).tracking_number == "NEW-1"


def test_an_order_with_two_shipments_is_delivered_when_both_are(order_factory, admin_user):
    order = order_factory(delivery_method="gls", pickup_point="")
    a = services.shipment_create(order_id=order.pk, actor=admin_user, tracking_number="A1")
    b = services.shipment_create(order_id=order.pk, actor=admin_user, tracking_number="B1")
    services.shipment_transition(shipment_id=a.pk, status="delivered", actor=admin_user)
    assert Order.objects.get(pk=order.pk).stage == Stage.SHIPPED
    services.shipment_transition(shipment_id=b.pk, status="delivered", actor=admin_user)
    assert Order.objects.get(pk=order.pk).stage == Stage.DELIVERED


def test_cancelling_before_and_after_the_shipment_is_bought(shipx, order_factory, admin_user):
    shipx.confirm_after_gets = 99
    first = services.shipment_create(order_id=order_factory().pk, actor=admin_user, submit=False)
    with pytest.raises(DomainError):
        services.shipment_submit(shipment_id=first.pk)  # not confirmed yet
    services.shipment_cancel(shipment_id=first.pk, actor=admin_user, reason="wrong size")
    first.refresh_from_db()
    assert first.status == ShipmentStatus.CANCELLED and first.cancelled_at is not None
    assert shipx.shipments[int(first.external_id)]["status"] == "canceled"
    shipx.confirm_after_gets = 1
    second = services.shipment_create(order_id=order_factory().pk, actor=admin_user, submit=False)
    services.shipment_submit(shipment_id=second.pk)
    with pytest.raises(CarrierRejected) as exc:
        services.shipment_cancel(shipment_id=second.pk, actor=admin_user)
    assert "cannot be cancelled" in exc.value.message
    second.refresh_from_db()
    assert second.status == ShipmentStatus.LABEL_READY
    services.shipment_transition(shipment_id=second.pk, status="in_transit", actor=admin_user)
    with pytest.raises(IllegalTransition):
        services.shipment_cancel(shipment_id=second.pk, actor=admin_user)


def test_a_lost_create_answer_is_cancelled_at_the_carrier_too(shipx, order_factory, admin_user):
    shipx.confirm_after_gets = 99
    shipment = services.shipment_create(order_id=order_factory().pk, actor=admin_user, submit=False)
    shipx.fail("create", "timeout", 1.0)
    with pytest.raises(CarrierTimeout):
        services.shipment_submit(shipment_id=shipment.pk)
    services.shipment_cancel(shipment_id=shipment.pk, actor=admin_user)
    assert [s["status"] for s in shipx.shipments.values()] == ["canceled"]


def test_webhooks_apply_once_and_ignore_strangers(shipx, order_factory, admin_user, settings):
    settings.INPOST_ORGANIZATION_ID = "1234"
    shipment = services.shipment_create(order_id=order_factory().pk, actor=admin_user, submit=False)
    services.shipment_submit(shipment_id=shipment.pk)
    shipment.refresh_from_db()
    hook = sample("webhook-shipment-status-changed.json")
    hook["payload"]["shipment_id"] = int(shipment.external_id)
    hook["payload"]["tracking_number"] = shipment.tracking_number
    delivered = at(90)
    hook["event_ts"] = delivered.astimezone(dt.timezone(dt.timedelta(hours=2))).strftime(
        "%Y-%m-%d %H:%M:%S %z"
    )
    result = services.inpost_webhook_receive(body=hook, organization_id="1234")
    assert (result.outcome, result.shipment_id) == ("applied", shipment.pk)
    shipment.refresh_from_db()
    assert shipment.status == ShipmentStatus.DELIVERED
    assert shipment.delivered_at == delivered
    ev = shipment.events.get(raw_status="delivered")
    assert ev.source == TrackingEvent.Source.WEBHOOK
    assert services.inpost_webhook_receive(body=hook, organization_id="1234").outcome == "duplicate"
    stranger = sample("webhook-shipment-status-changed.json")
    stranger["payload"]["shipment_id"], stranger["payload"]["tracking_number"] = 1, "999"
    assert services.inpost_webhook_receive(body=stranger, organization_id="1234").outcome == "ignored"
    with pytest.raises(DomainError):
        services.inpost_webhook_receive(body=hook, organization_id="9999")
    with pytest.raises(DomainError):
        services.inpost_webhook_receive(body={"event": "x"}, organization_id="1234")


def test_sync_retries_due_failed_submissions_and_reports_errors_per_shipment(
    shipx, order_factory, admin_user
):
    a = services.shipment_create(order_id=order_factory().pk, actor=admin_user, submit=False)
    b = services.shipment_create(order_id=order_factory().pk, actor=admin_user, submit=False)
    for s in (a, b):
        shipx.fail("create", "500")
        with pytest.raises(CarrierUnavailable):
            services.shipment_submit(shipment_id=s.pk)
    Shipment.objects.update(next_attempt_at=utc(2020, 1, 1))
    shipx.fail("create", "500")
    report = services.shipments_sync()
    assert (report.checked, report.failed) == (2, 1)
    assert report.errors[0]["code"] == "carrier_unavailable"
    assert sorted(Shipment.objects.values_list("submission", flat=True)) == ["done", "failed"]
