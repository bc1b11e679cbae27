"""The doors into service.privacy: the customer pages (search, page, export, erase with confirmation), the API
and the CLI `zaplecze customers export|erase`. Who may do what: customers.privacy (admin, organiser)."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from click.testing import CliRunner
from django.test import Client

from zaplecze.core.models import AuditEntry
from zaplecze.core.services import token_create
from zaplecze.orders.models import Customer, Order
from zaplecze.service import services

pytestmark = pytest.mark.django_db


@pytest.fixture
def organiser(make_user):
    return make_user("organiser", "org")


def _client(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def test_service_staff_find_the_customer_but_may_not_export_or_erase(delivered_order, staff):
    order = delivered_order()
    customer = Customer.objects.get(email="anna@example.com")
    client = _client(staff)
    listing = client.get("/service/customers/", {"q": "kowalska"}).content.decode()
    assert f'href="/service/customers/{customer.pk}/"' in listing
    page = client.get(f"/service/customers/{customer.pk}/").content.decode()
    assert (
        order.number in page and 'data-action="erase"' not in page and 'data-action="export-json"' not in page
    )
    assert client.post("/service/customers/export/", {"subject": "anna@example.com"}).status_code == 403
    assert (
        client.post(
            "/service/customers/erase/", {"subject": "anna@example.com", "confirm": "anna@example.com"}
        ).status_code
        == 403
    )
    assert Order.objects.get().email == "anna@example.com"
    assert not AuditEntry.objects.filter(object_type="service.privacy").exists()


def test_an_organiser_exports_and_erases_from_the_customer_page(delivered_order, organiser):
    order = delivered_order()
    customer = Customer.objects.get(email="anna@example.com")
    client = _client(organiser)
    page = client.get(f"/service/customers/{customer.pk}/").content.decode()
    assert 'data-erasure="allowed"' in page and "To confirm, type anna@example.com" in page

    exported = client.post("/service/customers/export/", {"subject": f"#{customer.pk}", "format": "json"})
    assert exported.status_code == 200 and exported["Content-Type"].startswith("application/json")
    assert "attachment;" in exported["Content-Disposition"]
    doc = json.loads(exported.content)
    assert doc["orders"][0]["number"] == order.number
    zipped = client.post("/service/customers/export/", {"subject": "anna@example.com", "format": "zip"})
    assert zipfile.ZipFile(io.BytesIO(zipped.content)).namelist() == ["export.json"]
    assert (
        AuditEntry.objects.filter(object_type="service.privacy", action="exported", actor=organiser).count()
        == 2
    )

    wrong = client.post(
        "/service/customers/erase/", {"subject": f"#{customer.pk}", "confirm": "anna@example"}, follow=True
    )
    assert "Type anna@example.com to confirm the erasure." in wrong.content.decode()
    assert Order.objects.get().email == "anna@example.com"

    done = client.post(
        "/service/customers/erase/",
        {"subject": f"#{customer.pk}", "confirm": "anna@example.com"},
        follow=True,
    )
    assert "The personal data was erased" in done.content.decode()
    order.refresh_from_db()
    assert (order.email, order.customer_name) == ("", "[erased]")
    assert AuditEntry.objects.get(object_type="service.privacy", action="erased").actor == organiser


def test_the_page_explains_why_the_erasure_is_refused(delivered_order, organiser, staff):
    order = delivered_order()
    ret = services.return_request(order_id=order.pk, lines={order.lines.first().pk: 1}, actor=staff)
    client = _client(organiser)
    page = client.get(
        "/service/customers/person/", {"email": "anna@example.com"}, follow=True
    ).content.decode()
    assert 'data-erasure="blocked"' in page and ret.number in page and 'data-erasure="allowed"' not in page
    refused = client.post(
        "/service/customers/erase/",
        {"subject": "anna@example.com", "confirm": "anna@example.com"},
        follow=True,
    )
    assert "The data cannot be erased yet" in refused.content.decode()
    assert Order.objects.get().email == "anna@example.com"


def test_the_api_exports_plans_and_erases(delivered_order, organiser, staff):
    order = delivered_order()
    api = Client(HTTP_AUTHORIZATION=f"Bearer {token_create(user=organiser, name='t')}")
    exported = api.post(
        "/api/v1/service/privacy/export", {"subject": "anna@example.com"}, content_type="application/json"
    )
    assert exported.status_code == 200 and exported.json()["orders"][0]["number"] == order.number
    plan = api.post(
        "/api/v1/service/privacy/erasure-plan",
        {"subject": "anna@example.com"},
        content_type="application/json",
    ).json()
    assert (
        plan["allowed"] is True
        and plan["confirm_with"] == "anna@example.com"
        and plan["counts"]["orders"] == 1
    )
    wrong = api.post(
        "/api/v1/service/privacy/erase",
        {"subject": "anna@example.com", "confirm": "x@example.com"},
        content_type="application/json",
    )
    assert wrong.status_code == 400 and wrong.json()["code"] == "confirm_mismatch"
    unknown = api.post(
        "/api/v1/service/privacy/export", {"subject": "nobody@example.com"}, content_type="application/json"
    )
    assert unknown.status_code == 404
    done = api.post(
        "/api/v1/service/privacy/erase",
        {"subject": "anna@example.com", "confirm": "anna@example.com"},
        content_type="application/json",
    )
    assert done.status_code == 200 and done.json()["counts"]["orders"] == 1
    assert Order.objects.get().email == ""
    service_api = Client(HTTP_AUTHORIZATION=f"Bearer {token_create(user=staff, name='s')}")
    assert (
        service_api.post(
            "/api/v1/service/privacy/export", {"subject": "#1"}, content_type="application/json"
        ).status_code
        == 403
    )


def _cli(*args):
    from zaplecze.cli import main

    return CliRunner().invoke(main, ["customers", *args], catch_exceptions=False)


def test_the_cli_exports_to_a_file_and_erases(delivered_order, staff, tmp_path):
    order = delivered_order()
    out = tmp_path / "anna.json"
    result = _cli("export", "anna@example.com", "-o", str(out))
    assert result.exit_code == 0
    assert json.loads(out.read_text(encoding="utf-8"))["orders"][0]["number"] == order.number
    assert AuditEntry.objects.get(object_type="service.privacy", action="exported").actor_label == "cli"

    ret = services.return_request(order_id=order.pk, lines={order.lines.first().pk: 1}, actor=staff)
    refused = _cli("erase", "anna@example.com", "--yes")
    assert refused.exit_code == 2 and ret.number in refused.output and "REFUSED" in refused.output
    services.return_reject(return_id=ret.pk, reason="Too late", actor=staff)
    services.return_close(return_id=ret.pk, actor=staff)

    erased = _cli("erase", "anna@example.com", "--yes", "--json")
    assert erased.exit_code == 0
    assert json.loads(erased.output)["counts"]["returns"] == 1
    assert Order.objects.get().email == ""
    missing = _cli("export", "anna@example.com")
    assert missing.exit_code == 1 and "Nothing is stored about anna@example.com" in missing.output
