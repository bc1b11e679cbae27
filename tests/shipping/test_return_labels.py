"""Return labels through the carrier connector (issue 4, point 5), against the fake ShipX: an accepted return
gets an InPost shipment with the customer as sender and the shop as receiver; the label PDF is stored on the
return, downloadable from the staff page and e-mailed to the customer. A lost answer is retried without
buying a second parcel. Without a configured connector the button is hidden and staff type the tracking
number by hand."""

from __future__ import annotations

import pytest
from django.core import mail
from django.test import Client

from zaplecze.core.errors import DomainError, IllegalTransition
from zaplecze.core.models import AuditEntry
from zaplecze.service import return_labels, services
from zaplecze.service.models import CaseEvent, OutboxEmail, ReturnLabel

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(make_user):
    return make_user("service", "ola")


@pytest.fixture
def accepted_return(order_factory, staff, media):
    """A delivered order with an accepted return of one line."""
    from zaplecze.orders.services import order_transition
    from zaplecze.shipping.models import Carrier

    Carrier.objects.update_or_create(
        code="inpost", defaults={"name": "InPost", "connector": "inpost", "active": True}
    )
    order = order_factory(delivery_method="inpost_courier")
    order_transition(order_id=order.pk, status_code="shipped", actor=None)
    order_transition(order_id=order.pk, status_code="delivered", actor=None)
    ret = services.return_request(order_id=order.pk, lines={order.lines.get().pk: 1}, actor=staff)
    return services.return_accept(return_id=ret.pk, actor=staff)


def test_the_label_is_created_at_shipx_stored_and_emailed(
    shipx, accepted_return, staff, django_capture_on_commit_callbacks
):
    ret = accepted_return
    assert list(return_labels.available_providers()) == ["inpost"]
    with django_capture_on_commit_callbacks(execute=True):
        label = return_labels.return_label_create(return_id=ret.pk, actor=staff)

    [shipment] = shipx.created()
    body = shipment["_body"]
    assert body["reference"] == f"return-{ret.number}"
    assert body["service"] == "inpost_courier_standard"
    assert body["sender"]["first_name"] == "Anna" and body["sender"]["last_name"] == "Kowalska"
    assert body["sender"]["address"] == {
        "street": "ul. Długa",
        "building_number": "5",
        "city": "Kraków",
        "post_code": "30-001",
        "country_code": "PL",
    }
    assert body["receiver"]["company_name"] == "Zaplecze Demo Shop"
    assert body["receiver"]["address"]["post_code"] == "00-001"
    assert body["receiver"]["address"]["city"] == "Warszawa"
    assert body["comments"] == f"Zwrot {ret.number} / {ret.order.number}"

    label.refresh_from_db()
    assert label.state == ReturnLabel.State.READY
    assert label.tracking_number == shipment["tracking_number"] and label.external_id == str(shipment["id"])
    assert label.label.read() == shipx.label_pdf
    assert CaseEvent.objects.filter(return_case=ret, message__contains=label.tracking_number).exists()
    assert AuditEntry.objects.filter(object_type="service.return", action="return_label_created").count() == 1

    email = OutboxEmail.objects.get(kind="return_label")
    assert email.to == "anna@example.com" and label.tracking_number in email.body
    sent = [m for m in mail.outbox if m.subject == email.subject]
    assert len(sent) == 1
    assert sent[0].attachments[0][0] == f"{ret.number}-label.pdf"
    assert sent[0].attachments[0][1] == shipx.label_pdf

    # The staff page offers the download instead of the button; the download is the PDF.
    client = Client()
    client.force_login(staff)
    page = client.get(f"/service/returns/{ret.pk}/").content.decode()
    assert 'data-action="label-download"' in page and 'data-action="create-label"' not in page
    pdf = client.get(f"/service/returns/{ret.pk}/label.pdf")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert b"".join(pdf) == shipx.label_pdf
    # A second label for the same return is refused: one parcel per return.
    with pytest.raises(DomainError) as exc:
        return_labels.return_label_create(return_id=ret.pk, actor=staff)
    assert exc.value.code == "label_exists"
    assert shipx.calls("create") == 1


def test_a_lost_answer_is_retried_without_buying_a_second_parcel(shipx, accepted_return, staff):
    ret = accepted_return
    shipx.fail("create", "timeout", seconds=1.0)  # ShipX creates it, but the answer comes too late
    with pytest.raises(DomainError) as exc:
        return_labels.return_label_create(return_id=ret.pk, actor=staff)
    assert exc.value.code == "carrier_timeout"
    label = ReturnLabel.objects.get()
    assert label.state == ReturnLabel.State.FAILED and "did not answer" in label.last_error
    assert CaseEvent.objects.filter(return_case=ret, message__startswith="Return label not created").exists()

    label = return_labels.return_label_create(return_id=ret.pk, actor=staff)
    assert label.state == ReturnLabel.State.READY and label.attempts == 2
    assert shipx.calls("create") == 1 and shipx.calls("search") == 1
    assert len(shipx.created()) == 1


def test_a_label_needs_an_accepted_return(shipx, order_factory, staff, media):
    from zaplecze.orders.services import order_transition
    from zaplecze.shipping.models import Carrier

    Carrier.objects.update_or_create(code="inpost", defaults={"name": "InPost", "connector": "inpost"})
    order = order_factory()
    order_transition(order_id=order.pk, status_code="shipped", actor=None)
    ret = services.return_request(order_id=order.pk, lines={order.lines.get().pk: 1}, actor=staff)
    with pytest.raises(IllegalTransition):
        return_labels.return_label_create(return_id=ret.pk, actor=staff)
    assert shipx.calls("create") == 0 and not ReturnLabel.objects.exists()


def test_without_a_connector_the_button_is_hidden_and_the_tracking_number_is_typed(
    accepted_return, staff, settings
):
    settings.INPOST_TOKEN = ""
    ret = accepted_return
    assert return_labels.available_providers() == {}
    with pytest.raises(DomainError) as exc:
        return_labels.return_label_create(return_id=ret.pk, actor=staff)
    assert exc.value.code == "no_provider"

    client = Client()
    client.force_login(staff)
    page = client.get(f"/service/returns/{ret.pk}/").content.decode()
    assert 'data-action="create-label"' not in page and 'data-action="save-tracking"' in page
    bad = client.post(f"/service/returns/{ret.pk}/tracking/", {"tracking_number": "a b"})
    assert bad.status_code == 302 and not ReturnLabel.objects.exists()
    client.post(
        f"/service/returns/{ret.pk}/tracking/", {"tracking_number": "PP123456789PL", "carrier": "Poczta"}
    )
    label = ReturnLabel.objects.get()
    assert (label.state, label.tracking_number, label.provider) == ("manual", "PP123456789PL", "Poczta")
    assert "PP123456789PL" in client.get(f"/service/returns/{ret.pk}/").content.decode()
    assert client.get(f"/service/returns/{ret.pk}/label.pdf").status_code == 404


def test_the_button_creates_the_label_from_the_staff_page(shipx, accepted_return, staff):
    client = Client()
    client.force_login(staff)
    page = client.get(f"/service/returns/{accepted_return.pk}/").content.decode()
    assert 'data-action="create-label"' in page
    response = client.post(f"/service/returns/{accepted_return.pk}/label/")
    assert response.status_code == 302
    assert ReturnLabel.objects.get().state == ReturnLabel.State.READY


def test_shipments_are_part_of_the_personal_data(
    shipx, order_factory, admin_user, django_capture_on_commit_callbacks
):
    """Shipping contributes the receiver's address and labels to the GDPR export and erasure, and a shipment on
    its way stops the erasure."""
    import io
    import zipfile
    from pathlib import Path

    from zaplecze.orders.services import order_transition
    from zaplecze.service import privacy
    from zaplecze.shipping import services as shipping
    from zaplecze.shipping.models import Shipment

    order = order_factory()
    with django_capture_on_commit_callbacks(execute=True):
        shipment = shipping.shipment_create(order_id=order.pk, actor=admin_user)
    shipment.refresh_from_db()
    label_path = Path(shipment.label.path)
    assert shipment.receiver["last_name"] == "Kowalska" and label_path.exists()
    order_transition(order_id=order.pk, status_code="shipped", actor=None)
    order_transition(order_id=order.pk, status_code="delivered", actor=None)
    Shipment.objects.filter(pk=shipment.pk).update(status="in_transit")

    subject = privacy.subject_resolve("anna@example.com")
    [exported] = privacy.export_document(subject, actor=admin_user)["shipments"]
    assert exported["receiver"]["last_name"] == "Kowalska"
    assert exported["tracking_number"] == shipment.tracking_number and exported["carrier"] == "inpost"
    files = zipfile.ZipFile(io.BytesIO(privacy.export_zip(subject, actor=admin_user))).namelist()
    assert f"files/shipping/shipment-{shipment.pk}-label.pdf" in files
    plan = privacy.erasure_plan(subject)
    assert [b for b in plan.blockers if shipment.tracking_number in b]

    Shipment.objects.filter(pk=shipment.pk).update(status="delivered")
    with django_capture_on_commit_callbacks(execute=True):
        counts = privacy.erase(subject, actor=admin_user, confirm="anna@example.com")
    assert counts["shipments"] == 1
    shipment.refresh_from_db()
    assert shipment.receiver == {"country_code": "PL"} and not shipment.label
    assert shipment.tracking_number  # the parcel's number is not personal and stays
    assert not label_path.exists()
