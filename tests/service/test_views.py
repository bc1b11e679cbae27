"""Screens: the public return page and the staff pages (lists, case pages, actions, letter, calculator)."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from zaplecze.core.businesstime import local_today
from zaplecze.inventory.models import StockMovement
from zaplecze.service import services
from zaplecze.service.models import Complaint, Refund, Return, ReturnState

from .conftest import at

pytestmark = pytest.mark.django_db

START = "/zwrot/"
CHOOSE = "/zwrot/wybor/"
NOT_FOUND = "We could not find an order with this number and e-mail address. Check both and try again."


def _body(response) -> str:
    return response.content.decode()


# --- the public return page ---------------------------------------------------------------------------


def test_the_customer_files_a_return_and_gets_a_receipt(delivered_order, django_capture_on_commit_callbacks):
    order = delivered_order()
    a, b = order.lines.order_by("id")
    client = Client()
    page = client.get(START)
    assert page.status_code == 200
    assert '<label for="id_number">Order number</label>' in _body(page)
    response = client.post(START, {"number": "S1", "email": "ANNA@example.com "})
    assert response.status_code == 302 and response["Location"] == CHOOSE
    choose = client.get(CHOOSE)
    assert f'id="qty_{a.pk}"' in _body(choose) and 'max="2"' in _body(choose)
    with django_capture_on_commit_callbacks(execute=True):
        receipt = client.post(
            CHOOSE, {f"qty_{a.pk}": "1", f"qty_{b.pk}": "", "reason": "Za duży", "confirm": "on"}
        )
    assert receipt.status_code == 200
    ret = Return.objects.get()
    assert (ret.source, ret.reason, ret.email) == ("public", "Za duży", "anna@example.com")
    assert f"Your return number is <strong data-return-number>{ret.number}</strong>" in _body(receipt)
    assert [m.subject for m in mail.outbox] == [f"Your return {ret.number}: statement received"]
    assert client.get(CHOOSE).status_code == 302  # the verified order is forgotten after filing


def test_a_wrong_email_or_number_gets_the_same_answer_and_reveals_nothing(delivered_order):
    delivered_order()
    client = Client()
    wrong_email = client.post(START, {"number": "S1", "email": "someone@example.com"})
    no_such_order = client.post(START, {"number": "S999", "email": "anna@example.com"})
    for response in (wrong_email, no_such_order):
        assert response.status_code == 400
        assert NOT_FOUND in _body(response)
        assert "#S1" not in _body(response)

    def bare(response):  # the page without the CSRF token and the values typed in
        return re.sub(r'value="[^"]*"|"X-CSRFToken": "[^"]*"', "", _body(response))

    assert bare(wrong_email) == bare(no_such_order)
    assert client.get(CHOOSE).status_code == 302


def test_after_the_deadline_the_customer_is_told_the_date(delivered_order):
    delivered_order(delivered_at=at(2025, 12, 10))
    response = Client().post(START, {"number": "#S1", "email": "anna@example.com"})
    assert response.status_code == 400
    assert "The withdrawal period for order #S1 ended on Mon 29.12.2025." in _body(response)


def test_repeated_failed_lookups_are_throttled(delivered_order):
    from django.core.cache import cache

    cache.clear()
    delivered_order()
    client = Client()
    for _ in range(10):
        assert client.post(START, {"number": "S1", "email": "x@example.com"}).status_code == 400
    response = client.post(START, {"number": "S1", "email": "anna@example.com"})  # even the right one now
    assert response.status_code == 429
    assert "Too many attempts" in _body(response)
    cache.clear()


def test_too_many_items_or_no_confirmation_is_refused_without_a_return(delivered_order):
    order = delivered_order()
    a = order.lines.order_by("id").first()
    client = Client()
    client.post(START, {"number": "S1", "email": "anna@example.com"})
    too_many = client.post(CHOOSE, {f"qty_{a.pk}": "3", "confirm": "on"})
    assert too_many.status_code == 400
    assert "Kubek: at most 2 can be returned (bought 2, already returned 0)." in _body(too_many)
    unconfirmed = client.post(CHOOSE, {f"qty_{a.pk}": "1"})
    assert "Confirm the statement of withdrawal to send it." in _body(unconfirmed)
    garbage = client.post(CHOOSE, {f"qty_{a.pk}": "many", "confirm": "on"})
    assert garbage.status_code == 400
    assert Return.objects.count() == 0


def test_another_customers_order_cannot_be_reached_through_the_second_step(delivered_order):
    order, other = delivered_order(), delivered_order(email="jan@example.com")
    client = Client()
    client.post(START, {"number": "S1", "email": "anna@example.com"})
    foreign_line = other.lines.order_by("id").first()
    response = client.post(CHOOSE, {f"qty_{foreign_line.pk}": "1", "confirm": "on"})
    assert response.status_code == 400  # only the verified order's lines are read: nothing chosen
    assert Return.objects.count() == 0
    assert order.pk != other.pk


def test_public_pages_have_labels_for_every_input(delivered_order):
    order = delivered_order()
    client = Client()
    pages = [client.get(START)]
    client.post(START, {"number": "S1", "email": "anna@example.com"})
    pages.append(client.get(CHOOSE))
    for page in pages:
        html = _body(page)
        assert '<html lang="en">' in html
        ids = re.findall(r'<(?:input|textarea|select)(?![^>]*type="hidden")[^>]*\bid="([^"]+)"', html)
        labels = set(re.findall(r'<label[^>]*\bfor="([^"]+)"', html))
        assert ids and set(ids) <= labels, set(ids) - labels
    assert order


# --- staff pages ----------------------------------------------------------------------------------------


@pytest.fixture
def staff_client(staff):
    client = Client()
    client.force_login(staff)
    return client


def test_staff_walk_a_return_through_the_pages(
    delivered_order, staff_client, django_capture_on_commit_callbacks
):
    order = delivered_order()
    a, b = order.lines.order_by("id")
    new = staff_client.get(reverse("service:return_new"), {"order": "S1"})
    assert new.status_code == 200 and f'name="qty_{a.pk}"' in _body(new)
    with django_capture_on_commit_callbacks(execute=True):
        created = staff_client.post(reverse("service:return_new"), {"order_id": order.pk, f"qty_{a.pk}": "2"})
    ret = Return.objects.get()
    assert created["Location"] == reverse("service:return", args=[ret.pk])
    url = reverse("service:return", args=[ret.pk])
    with django_capture_on_commit_callbacks(execute=True):
        staff_client.post(reverse("service:return_accept", args=[ret.pk]), {"version": "1", "note": "OK"})
    line = ret.lines.get()
    with django_capture_on_commit_callbacks(execute=True):
        staff_client.post(
            reverse("service:return_receive", args=[ret.pk]),
            {f"resellable_{line.pk}": "2", f"damaged_{line.pk}": "0", f"missing_{line.pk}": "0"},
        )
    page = staff_client.get(url)
    key = page.context["refund_key"]
    with django_capture_on_commit_callbacks(execute=True):
        staff_client.post(
            reverse("service:return_refund", args=[ret.pk]),
            {"idempotency_key": key, "method": "original", "amount": "99.98"},
        )
        staff_client.post(
            reverse("service:return_refund", args=[ret.pk]),  # double click: same key
            {"idempotency_key": key, "method": "original", "amount": "99.98"},
        )
    refund = Refund.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        staff_client.post(reverse("service:refund_confirm", args=[refund.pk]), {"reference": "T-1"})
    staff_client.post(reverse("service:return_close", args=[ret.pk]))
    ret.refresh_from_db()
    assert ret.state == ReturnState.CLOSED
    assert StockMovement.objects.filter(kind="return").get().quantity == 2
    html = _body(staff_client.get(url))
    for text in (
        "Accepted",
        "Goods inspected",
        "Back in stock",
        "Refund of 99.98 PLN sent.",
        "E-mail sent",
        "Closed",
    ):
        assert text in html, text
    assert [m.subject for m in mail.outbox] == [
        f"Your return {ret.number}: statement received",
        f"Your return {ret.number} has been accepted",
        "Refund for order #S1 sent",
    ]


def test_an_action_refused_by_the_rules_shows_the_message_and_changes_nothing(delivered_order, staff_client):
    order = delivered_order()
    ret = services.return_request(order_id=order.pk, lines={order.lines.first().pk: 1}, actor=None)
    response = staff_client.post(reverse("service:return_close", args=[ret.pk]), follow=True)
    assert "cannot go from “Requested” to “Closed”" in _body(response)
    ret.refresh_from_db()
    assert ret.state == "requested"


def test_lists_filter_due_today_and_overdue_with_a_fixed_number_of_queries(
    delivered_order, staff_client, django_assert_max_num_queries
):
    order = delivered_order()
    a, b = order.lines.order_by("id")
    today = local_today()
    r1 = services.return_request(order_id=order.pk, lines={a.pk: 1}, actor=None)
    r2 = services.return_request(order_id=order.pk, lines={b.pk: 1}, actor=None)
    Return.objects.filter(pk=r1.pk).update(refund_due=today - dt.timedelta(days=3))
    for _ in range(4):
        other = delivered_order()
        services.return_request(order_id=other.pk, lines={other.lines.first().pk: 1}, actor=None)
    Return.objects.exclude(pk__in=[r1.pk, r2.pk]).update(refund_due=today - dt.timedelta(days=1))
    with django_assert_max_num_queries(8):
        overdue = staff_client.get(reverse("service:returns"), {"due": "overdue"})
    assert len(overdue.context["page"].items) == 5
    with django_assert_max_num_queries(8):
        overdue = staff_client.get(reverse("service:returns"), {"due": "overdue", "q": "S1"})
    assert [r.pk for r in overdue.context["page"].items] == [r1.pk]
    assert r2.pk not in [r.pk for r in overdue.context["page"].items]
    overview = staff_client.get(reverse("service:overview"))
    assert 'data-count="returns-overdue">5<' in _body(overview)


def test_complaint_pages_decide_and_serve_the_letter(
    delivered_order, staff_client, django_capture_on_commit_callbacks, settings, tmp_path
):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path},
        },
    }
    from django.core.files.uploadedfile import SimpleUploadedFile

    order = delivered_order()
    line = order.lines.order_by("id").first()
    photo = SimpleUploadedFile("crack.png", b"\x89PNG\r\n\x1a\n" + b"0" * 100, content_type="image/png")
    response = staff_client.post(
        reverse("service:complaint_new"),
        {
            "order_id": order.pk,
            "order_line": line.pk,
            "quantity": 1,
            "defect": "Cracked handle",
            "requested_remedy": "replacement",
            "language": "en",
            "photos": photo,
        },
    )
    c = Complaint.objects.get()
    assert response["Location"] == reverse("service:complaint", args=[c.pk])
    assert c.photos.count() == 1
    photo_url = reverse("service:complaint_photo_file", args=[c.pk, c.photos.get().pk])
    served = staff_client.get(photo_url)
    assert (served.status_code, served["Content-Type"]) == (200, "image/png")
    assert (
        staff_client.get(reverse("service:complaint_letter", args=[c.pk])).status_code == 404
    )  # not decided
    with django_capture_on_commit_callbacks(execute=True):
        staff_client.post(
            reverse("service:complaint_decide", args=[c.pk]),
            {"accept": "1", "remedy": "", "reason": "", "text": "New one on its way", "version": "1"},
        )
    c.refresh_from_db()
    assert c.state == "accepted" and c.responded_at is not None
    letter = staff_client.get(reverse("service:complaint_letter", args=[c.pk]))
    assert letter["Content-Type"] == "application/pdf"
    assert letter.content == mail.outbox[-1].attachments[0][1]  # the copy that was sent
    page = _body(staff_client.get(reverse("service:complaint", args=[c.pk])))
    assert "Deadline: " in page and "E-mail sent" in page


def test_the_calculator_page_shows_the_steps(staff_client):
    response = staff_client.get(reverse("service:calculator"), {"kind": "withdrawal", "start": "2025-12-10"})
    assert 'data-deadline="2025-12-29"' in _body(response)
    assert "Christmas Eve" in _body(response)


def test_roles_warehouse_receives_but_does_not_decide_marketing_sees_nothing(delivered_order, make_user):
    order = delivered_order()
    ret = services.return_request(order_id=order.pk, lines={order.lines.first().pk: 1}, actor=None)
    warehouse, marketing = Client(), Client()
    warehouse.force_login(make_user("warehouse", "wh"))
    marketing.force_login(make_user("marketing", "mk"))
    assert warehouse.get(reverse("service:return", args=[ret.pk])).status_code == 200
    assert warehouse.post(reverse("service:return_accept", args=[ret.pk])).status_code == 403
    assert marketing.get(reverse("service:returns")).status_code == 403
    ret.refresh_from_db()
    assert ret.state == "requested"


def test_exclusion_flags_are_set_on_the_exclusions_page(delivered_order, staff_client):
    order = delivered_order()
    product_id = order.lines.first().variant.product_id
    staff_client.post(
        reverse("service:exclusions"), {"product_id": product_id, "kind": "custom_made", "q": "A-1"}
    )
    page = staff_client.get(reverse("service:exclusions"))
    assert "Made to the customer" in _body(page)
