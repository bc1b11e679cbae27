"""Shipping screens: list, shipment page (label, timeline, errors), the order panel, late/at-risk, bulk,
promises, performance, and the ShipX webhook endpoint."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.test import Client
from django.urls import reverse

from zaplecze.core.models import Job
from zaplecze.shipping import services
from zaplecze.shipping.carriers import CarrierUnavailable
from zaplecze.shipping.models import DeliveryPromise, Shipment, ShipmentStatus

from .fakeshipx import sample

pytestmark = pytest.mark.usefixtures("media")


@pytest.fixture
def warehouse(make_user):
    client = Client()
    client.force_login(make_user("warehouse"))
    return client


@pytest.fixture
def marketing(make_user):
    client = Client()
    client.force_login(make_user("marketing"))
    return client


def _shipment(shipx, order_factory, user, **kw):
    shipment = services.shipment_create(order_id=order_factory(**kw).pk, actor=user, submit=False)
    services.shipment_submit(shipment_id=shipment.pk)
    return Shipment.objects.get(pk=shipment.pk)


def test_list_filters_and_links(
    shipx, order_factory, admin_user, admin_client, django_assert_max_num_queries
):
    a = _shipment(shipx, order_factory, admin_user)
    b = services.shipment_create(
        order_id=order_factory(delivery_method="dpd", pickup_point="").pk,
        actor=admin_user,
        tracking_number="DPD-1",
    )
    with django_assert_max_num_queries(12):
        page = admin_client.get(reverse("shipping:list")).content.decode()
    assert f'data-shipment-id="{a.pk}"' in page and f'data-shipment-id="{b.pk}"' in page
    only_dpd = admin_client.get(reverse("shipping:list"), {"carrier": "dpd"}).content.decode()
    assert f'data-shipment-id="{b.pk}"' in only_dpd and f'data-shipment-id="{a.pk}"' not in only_dpd
    by_number = admin_client.get(reverse("shipping:list"), {"q": a.tracking_number}).content.decode()
    assert f'data-shipment-id="{a.pk}"' in by_number and f'data-shipment-id="{b.pk}"' not in by_number
    by_status = admin_client.get(reverse("shipping:list"), {"status": "label_ready"}).content.decode()
    assert f'data-shipment-id="{a.pk}"' in by_status and f'data-shipment-id="{b.pk}"' not in by_status


def test_shipment_page_shows_label_and_timeline_and_serves_the_pdf(
    shipx, order_factory, admin_user, admin_client
):
    s = _shipment(shipx, order_factory, admin_user)
    page = admin_client.get(reverse("shipping:detail", args=[s.pk])).content.decode()
    assert s.tracking_number in page
    assert reverse("shipping:label", args=[s.pk]) in page
    assert 'data-shipment-status="label_ready"' in page
    assert "<code>confirmed</code>" in page
    response = admin_client.get(reverse("shipping:label", args=[s.pk]))
    assert response["Content-Type"] == "application/pdf"
    assert b"".join(response.streaming_content) == shipx.label_pdf


def test_a_carrier_error_is_shown_with_a_retry_button(shipx, order_factory, admin_user, admin_client):
    s = services.shipment_create(order_id=order_factory().pk, actor=admin_user, submit=False)
    shipx.fail("create", "500")
    with pytest.raises(CarrierUnavailable):
        services.shipment_submit(shipment_id=s.pk)
    page = admin_client.get(reverse("shipping:detail", args=[s.pk])).content.decode()
    assert "data-shipment-error" in page and "InPost answered 500" in page
    assert reverse("shipping:retry", args=[s.pk]) in page
    assert 'hx-trigger="every 3s"' in page  # the state refreshes itself while the worker retries


def test_order_panel_creates_a_shipment(
    shipx, order_factory, admin_user, admin_client, django_capture_on_commit_callbacks
):
    order = order_factory()
    panel = admin_client.get(reverse("shipping:order_panel", args=[order.pk])).content.decode()
    assert "No shipment yet." in panel and 'value="KRA01M"' in panel
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("shipping:order_create", args=[order.pk]),
            {
                "carrier": "inpost",
                "service": "inpost_locker_standard",
                "target_point": "KRA01M",
                "template": "medium",
            },
        )
    s = Shipment.objects.get(order=order)
    assert response.status_code == 302 and response["Location"] == reverse("shipping:detail", args=[s.pk])
    assert s.status == ShipmentStatus.LABEL_READY
    assert shipx.requests[0][2]["parcels"] == [{"template": "medium"}]
    panel = admin_client.get(reverse("shipping:order_panel", args=[order.pk])).content.decode()
    assert s.tracking_number in panel


def test_order_panel_shows_the_error_and_creates_nothing(order_factory, admin_client):
    order = order_factory(delivery_method="inpost_courier", pickup_point="")
    response = admin_client.post(
        reverse("shipping:order_create", args=[order.pk]),
        {"carrier": "inpost", "service": "inpost_courier_standard"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 400
    assert "give length, width and height in mm" in response.content.decode()
    assert not Shipment.objects.exists()


def test_manual_carrier_actions(order_factory, admin_user, warehouse):
    s = services.shipment_create(
        order_id=order_factory(delivery_method="dpd", pickup_point="").pk, actor=admin_user
    )
    warehouse.post(reverse("shipping:tracking_number", args=[s.pk]), {"tracking_number": "0123"})
    warehouse.post(reverse("shipping:change_status", args=[s.pk]), {"status": "handed_over"})
    s.refresh_from_db()
    assert (s.tracking_number, s.status) == ("0123", "handed_over")
    assert s.order.stage == "shipped"
    page = warehouse.get(reverse("shipping:detail", args=[s.pk])).content.decode()
    assert "https://tracktrace.dpd.com.pl/parcelDetails?typ=1&amp;p1=0123" in page


def test_roles_without_manage_can_look_but_not_act(order_factory, admin_user, marketing):
    s = services.shipment_create(
        order_id=order_factory(delivery_method="gls", pickup_point="").pk,
        actor=admin_user,
        tracking_number="G1",
    )
    assert marketing.get(reverse("shipping:detail", args=[s.pk])).status_code == 200
    assert marketing.post(reverse("shipping:cancel", args=[s.pk])).status_code == 403
    s.refresh_from_db()
    assert s.status == ShipmentStatus.CREATED
    assert marketing.get(reverse("shipping:promises")).status_code == 403


def test_due_page_lists_late_and_at_risk(order_factory, admin_client):
    from django.utils import timezone

    from zaplecze.orders.services import order_edit

    late = order_factory()
    soon = order_factory()
    now = timezone.now()
    order_edit(
        order_id=late.pk,
        expected_version=late.version,
        changes={"ship_by": now - dt.timedelta(hours=2)},
        actor=None,
    )
    order_edit(
        order_id=soon.pk,
        expected_version=soon.version,
        changes={"ship_by": now + dt.timedelta(hours=1)},
        actor=None,
    )
    page = admin_client.get(reverse("shipping:due")).content.decode()
    late_part, risk_part = page.split('id="at-risk"')
    assert f'data-order="{late.number}"' in late_part and f'data-order="{soon.number}"' in risk_part


def test_promises_screen_saves_and_recomputes(order_factory, admin_client):
    response = admin_client.post(
        reverse("shipping:promises"),
        {
            "action": "save",
            "channel": "",
            "delivery_method": "inpost_locker",
            "handling_days": "2",
            "cutoff": "14:00",
            "active": "on",
        },
    )
    assert response.status_code == 302
    p = DeliveryPromise.objects.get()
    assert (p.channel_id, p.delivery_method, p.handling_days, p.cutoff) == (
        None,
        "inpost_locker",
        2,
        dt.time(14),
    )
    bad = admin_client.post(reverse("shipping:promises"), {"action": "save", "handling_days": "99"})
    assert bad.status_code == 400
    order_factory()
    admin_client.post(reverse("shipping:promises"), {"action": "refresh"})
    admin_client.post(reverse("shipping:promises"), {"action": "delete", "promise_id": str(p.pk)})
    assert not DeliveryPromise.objects.exists()


def test_bulk_screen_runs_a_job_and_offers_the_merged_pdf(
    shipx, order_factory, admin_client, django_capture_on_commit_callbacks
):
    a, b = order_factory(), order_factory()
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("shipping:bulk"),
            {"order_numbers": f"{a.number}\n{b.number.lstrip('#')}", "template": "small"},
        )
    job = Job.objects.get(kind="shipping.bulk_labels")
    assert response["Location"] == reverse("shipping:bulk_job", args=[job.pk])
    page = admin_client.get(response["Location"]).content.decode()
    assert "data-merged-labels" in page
    pdf = admin_client.get(reverse("shipping:bulk_labels", args=[job.pk]))
    assert pdf["Content-Type"] == "application/pdf"
    unknown = admin_client.post(reverse("shipping:bulk"), {"order_numbers": "NOPE-1"})
    assert unknown.status_code == 400 and "Unknown orders: NOPE-1" in unknown.content.decode()


def test_performance_page_shows_rates_and_a_chart(order_factory, admin_user, admin_client):
    from django.utils import timezone

    s = services.shipment_create(
        order_id=order_factory(delivery_method="dpd", pickup_point="").pk,
        actor=admin_user,
        tracking_number="D1",
    )
    now = timezone.now()
    services.shipment_transition(
        shipment_id=s.pk, status="handed_over", at=now - dt.timedelta(hours=30), actor=admin_user
    )
    services.shipment_transition(
        shipment_id=s.pk, status="delivered", at=now - dt.timedelta(hours=6), actor=admin_user
    )
    page = admin_client.get(reverse("shipping:performance")).content.decode()
    assert "chart-transit" in page and ">DPD<" in page and "24.0" in page


def test_webhook_endpoint_needs_the_secret_and_applies_events(shipx, order_factory, admin_user, settings):
    s = _shipment(shipx, order_factory, admin_user)
    url = reverse("shipping:inpost_webhook", args=["s3cret-value"])
    hook = sample("webhook-shipment-status-changed.json")
    hook["payload"].update(shipment_id=int(s.external_id), tracking_number=s.tracking_number)
    hook["event_ts"] = "2099-01-01 10:00:00 +0100"
    client = Client(enforce_csrf_checks=True)
    assert (
        client.post(url, json.dumps(hook), content_type="application/json").status_code == 404
    )  # not configured
    settings.INPOST_WEBHOOK_SECRET = "s3cret-value"
    settings.INPOST_ORGANIZATION_ID = "1234"
    wrong = reverse("shipping:inpost_webhook", args=["guess"])
    assert client.post(wrong, json.dumps(hook), content_type="application/json").status_code == 404
    assert client.post(url, b"{not json", content_type="application/json").status_code == 400
    response = client.post(url, json.dumps(hook), content_type="application/json")
    assert response.status_code == 200 and response.json() == {"outcome": "applied"}
    s.refresh_from_db()
    assert s.status == ShipmentStatus.DELIVERED
    assert client.post(url, json.dumps(hook), content_type="application/json").json() == {
        "outcome": "duplicate"
    }
    assert client.get(url).status_code == 405
