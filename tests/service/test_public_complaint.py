"""The public complaint page /reklamacja/: the same non-revealing look-up as the return page, the defect with
photos (size and type checked, clear errors), the statutory order of remedies, a receipt on screen and by
e-mail, the complaint in the staff list with its reply deadline; the language switch."""

from __future__ import annotations

import pytest
from django.core import mail
from django.test import Client

from zaplecze.service.models import Complaint, ComplaintPhoto, OutboxEmail

pytestmark = pytest.mark.django_db

START = "/reklamacja/"
FORM = "/reklamacja/formularz/"
NOT_FOUND = "We could not find an order with this number and e-mail address. Check both and try again."
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 100
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 100


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path)},
        },
    }


def _upload(name: str, content: bytes, ctype: str):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, content, content_type=ctype)


def _verified(order) -> Client:
    client = Client()
    response = client.post(START, {"number": order.number.lstrip("#"), "email": "anna@example.com"})
    assert response.status_code == 302 and response["Location"] == FORM
    return client


def test_the_customer_files_a_complaint_with_photos_and_gets_a_receipt(
    delivered_order, staff, django_capture_on_commit_callbacks
):
    order = delivered_order()
    a, b = order.lines.order_by("id")
    client = _verified(order)
    page = client.get(FORM)
    assert page.status_code == 200
    assert f'value="{a.pk}"' in page.content.decode() and 'type="file"' in page.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            FORM,
            {
                "line": str(b.pk),
                "quantity": "1",
                "defect": "The glaze is cracked",
                "noticed_on": "",
                "remedy": "replacement",
                "statutory_reason": "",
                "photos": [_upload("crack.png", PNG, "image/png"), _upload("box.jpg", JPEG, "image/jpeg")],
            },
        )
    assert response.status_code == 200, response.content.decode()[:2000]
    c = Complaint.objects.get()
    assert (c.source, c.order_line_id, c.requested_remedy, c.email) == (
        "public",
        b.pk,
        "replacement",
        "anna@example.com",
    )
    assert c.defect == "The glaze is cracked"
    assert sorted(ComplaintPhoto.objects.values_list("filename", "content_type")) == [
        ("box.jpg", "image/jpeg"),
        ("crack.png", "image/png"),
    ]
    body = response.content.decode()
    assert f"<strong data-complaint-number>{c.number}</strong>" in body
    assert [m.subject for m in mail.outbox] == [f"Your complaint {c.number}: received"]
    assert mail.outbox[0].to == ["anna@example.com"]
    assert OutboxEmail.objects.get().complaint_id == c.pk
    assert client.get(FORM).status_code == 302  # the verified order is forgotten after filing

    # Staff see it in the complaints list with the reply deadline.
    staff_client = Client()
    staff_client.force_login(staff)
    listing = staff_client.get("/service/complaints/").content.decode()
    assert c.number in listing
    from zaplecze.core.formatting import format_date

    row = listing.split(f'data-id="{c.pk}"', 1)[1].split("</tr>", 1)[0]
    assert f'<td class="nowrap">{format_date(c.response_due, locale="en_GB")}</td>' in row


def test_another_customers_order_is_refused_without_revealing_it(delivered_order):
    order = delivered_order()
    client = Client()
    wrong_email = client.post(START, {"number": order.number, "email": "someone@example.com"})
    no_order = client.post(START, {"number": "NO-SUCH-1", "email": "anna@example.com"})
    assert wrong_email.status_code == no_order.status_code == 400
    assert NOT_FOUND in wrong_email.content.decode() and NOT_FOUND in no_order.content.decode()
    assert order.number not in wrong_email.content.decode().replace(f'value="{order.number}"', "")
    assert client.get(FORM).status_code == 302


def test_an_undelivered_order_is_refused_with_the_reason(ingest, product_factory):
    product_factory(sku="SKU-0001", stock=10)
    order = ingest().order
    response = Client().post(START, {"number": order.number, "email": "anna@example.com"})
    assert response.status_code == 400
    assert "has not been delivered" in response.content.decode()


def test_withdrawal_needs_a_statutory_reason_and_nothing_is_stored_without_it(delivered_order):
    order = delivered_order()
    line = order.lines.first()
    client = _verified(order)
    response = client.post(
        FORM, {"line": str(line.pk), "quantity": "1", "defect": "Broken", "remedy": "withdrawal"}
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "Choose the reason, or ask for a repair or replacement." in body
    assert 'aria-describedby="reason-error"' in body
    assert Complaint.objects.count() == 0
    ok = client.post(
        FORM,
        {
            "line": str(line.pk),
            "quantity": "1",
            "defect": "Broken",
            "remedy": "withdrawal",
            "statutory_reason": "serious",
        },
    )
    assert ok.status_code == 200
    assert Complaint.objects.get().statutory_reason == "serious"


def test_bad_files_are_refused_with_their_names_and_nothing_is_stored(delivered_order, monkeypatch):
    from zaplecze.service import services

    monkeypatch.setattr(services, "MAX_PHOTO_BYTES", 1024 * 1024)
    order = delivered_order()
    line = order.lines.first()
    client = _verified(order)
    response = client.post(
        FORM,
        {
            "line": str(line.pk),
            "quantity": "1",
            "defect": "Broken",
            "remedy": "repair",
            "photos": [
                _upload("virus.exe", b"MZ\x90\x00" + b"\x00" * 50, "image/png"),
                _upload("huge.png", PNG + b"\x00" * (1024 * 1024), "image/png"),
            ],
        },
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "virus.exe is not a JPEG or PNG photo or a PDF file." in body
    assert "huge.png is larger than 1 MB." in body
    assert 'aria-describedby="photos-help photos-error"' in body
    assert Complaint.objects.count() == 0 and ComplaintPhoto.objects.count() == 0


def test_too_many_pieces_and_missing_fields_are_named(delivered_order):
    order = delivered_order()
    a = order.lines.order_by("id").first()  # bought 2
    client = _verified(order)
    response = client.post(FORM, {"line": str(a.pk), "quantity": "3", "defect": "x", "remedy": "repair"})
    assert response.status_code == 400
    assert "You bought 2 of this item." in response.content.decode()
    empty = client.post(FORM, {})
    body = empty.content.decode()
    assert (
        "Choose the item." in body and "Describe the defect." in body and "Choose what you ask for." in body
    )
    assert Complaint.objects.count() == 0


def test_the_language_switch_sets_the_language_of_the_public_pages(db):
    client = Client()
    response = client.get("/jezyk/", {"lang": "en", "next": START})
    assert response.status_code == 302 and response["Location"] == START
    assert '<html lang="en">' in client.get(START).content.decode()
    client.get("/jezyk/", {"lang": "pl", "next": START})
    page = client.get(START).content.decode()
    assert '<html lang="pl">' in page
    assert 'hreflang="en"' in page
    # An outside address is never followed.
    assert client.get("/jezyk/", {"lang": "en", "next": "https://evil.example/"})["Location"] == "/"
