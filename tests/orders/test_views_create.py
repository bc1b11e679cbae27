"""The manual (phone) order form: builds an OrderIn and calls ingest_order; errors next to the fields."""

from __future__ import annotations

import re
from decimal import Decimal

from django.urls import reverse

from zaplecze.orders.models import Order, OrderEvent

CREATE = reverse("orders:create")


def form_data(**overrides) -> dict:
    data = {
        "external_id": "M-20261120-AB12",
        "channel": "manual",
        "customer_type": "consumer",
        "customer_name": "Jan Kowalski",
        "email": "jan@example.com",
        "phone": "+48 601 222 333",
        "company": "",
        "nip": "",
        "shipping_name": "Jan Kowalski",
        "shipping_company": "",
        "shipping_street": "ul. Polna 1",
        "shipping_postcode": "00-001",
        "shipping_city": "Warszawa",
        "shipping_country": "PL",
        "shipping_phone": "",
        "billing_same": "on",
        "payment_method": "cod",
        "payment_status": "",
        "delivery_method": "inpost_locker",
        "pickup_point": "WAW01M",
        "shipping_cost": "12,99",
        "discount": "0",
        "notes": "",
        "line-TOTAL_FORMS": "3",
        "line-INITIAL_FORMS": "0",
        "line-MIN_NUM_FORMS": "0",
        "line-MAX_NUM_FORMS": "200",
        "line-0-sku": "MUG-1",
        "line-0-quantity": "2",
        "line-0-unit_price_gross": "",
        "line-0-vat_rate": "",
        "line-1-sku": "",
        "line-1-quantity": "1",
        "line-1-unit_price_gross": "",
        "line-1-vat_rate": "",
        "line-2-sku": "",
        "line-2-quantity": "1",
        "line-2-unit_price_gross": "",
        "line-2-vat_rate": "",
    }
    for key in [k for k in overrides if k.startswith("billing_") and k != "billing_same"]:
        data.setdefault(key, "")
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def test_form_offers_variants_and_a_manual_external_id(admin_client, product_factory):
    product_factory(sku="MUG-1", price="39.90", name="Mug")
    html = admin_client.get(CREATE).content.decode()
    assert re.search(r'name="external_id" value="M-\d{8}-[A-Z2-9]{4}"', html)
    assert '<option value="MUG-1" data-price="39.90" label="Mug · PLN39.90">' in html
    assert re.search(r'<option value="manual" selected>', html)


def test_manual_order_is_created_through_ingest(admin_client, admin_user, product_factory):
    product_factory(sku="MUG-1", price="39.90", stock=5)
    response = admin_client.post(CREATE, form_data())
    order = Order.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("orders:detail", args=[order.pk])
    assert (order.channel.code, order.external_id, order.number) == (
        "manual",
        "M-20261120-AB12",
        "M-20261120-AB12",
    )
    assert (order.payment_method, order.payment_status, order.stage) == ("cod", "cod", "ready")
    assert order.shipping_cost == Decimal("12.99")
    assert order.total_gross == Decimal("92.79")  # 2 x 39.90 (catalogue price) + 12.99
    assert order.billing_address == order.shipping_address
    assert order.shipping_address["city"] == "Warszawa"
    line = order.lines.get()
    assert (line.sku, line.quantity, line.unit_price_gross, line.variant_id is not None) == (
        "MUG-1",
        2,
        Decimal("39.90"),
        True,
    )
    created = OrderEvent.objects.get(order=order, kind="created")
    assert (created.actor, created.actor_label) == (admin_user, "admin")
    assert not order.needs_attention


def test_sending_the_same_form_twice_makes_one_order(admin_client, product_factory):
    product_factory(sku="MUG-1")
    admin_client.post(CREATE, form_data())
    response = admin_client.post(CREATE, form_data(customer_name="Changed"), follow=True)
    assert "This order was already saved." in response.content.decode()
    assert Order.objects.count() == 1
    assert Order.objects.get().customer_name == "Jan Kowalski"


def test_invalid_email_is_shown_at_the_field_and_nothing_is_saved(admin_client, product_factory):
    product_factory(sku="MUG-1")
    response = admin_client.post(CREATE, form_data(email="not-an-email"))
    assert response.status_code == 400
    html = response.content.decode()
    assert "The order was not saved." in html
    assert re.search(
        r'name="email"[^>]*value="not-an-email".*?&#x27;not-an-email&#x27; is not an e-mail address',
        html,
        re.S,
    )
    assert Order.objects.count() == 0


def test_business_customer_needs_nip(admin_client, product_factory):
    product_factory(sku="MUG-1")
    response = admin_client.post(CREATE, form_data(customer_type="business", company="Firma"))
    assert response.status_code == 400
    assert re.search(r'name="nip".*?a business customer needs a NIP', response.content.decode(), re.S)
    response = admin_client.post(
        CREATE, form_data(customer_type="business", company="Firma", nip="526-025-02-74")
    )
    assert response.status_code == 302
    assert Order.objects.get().nip == "5260250274"


def test_line_errors_are_shown_at_the_line(admin_client, product_factory):
    product_factory(sku="MUG-1")
    response = admin_client.post(CREATE, form_data(**{"line-0-quantity": "0"}))
    assert response.status_code == 400
    assert re.search(
        r'name="line-0-quantity".*?Input should be greater than 0', response.content.decode(), re.S
    )
    response = admin_client.post(CREATE, form_data(**{"line-1-sku": "NEW-THING"}))
    assert response.status_code == 400
    assert "Enter the price: NEW-THING is not in the catalogue." in response.content.decode()
    response = admin_client.post(CREATE, form_data(**{"line-0-sku": ""}))
    assert response.status_code == 400
    assert "Add at least one line with an SKU." in response.content.decode()
    response = admin_client.post(CREATE, form_data(shipping_cost="abc"))
    assert response.status_code == 400
    assert re.search(
        r'name="shipping_cost".*?Input should be a valid decimal', response.content.decode(), re.S
    )
    assert Order.objects.count() == 0


def test_unknown_sku_with_a_price_is_saved_and_flagged(admin_client, product_factory):
    product_factory(sku="MUG-1")
    response = admin_client.post(
        CREATE,
        form_data(
            **{
                "line-1-sku": "CUSTOM-ENGRAVING",
                "line-1-quantity": "1",
                "line-1-unit_price_gross": "25,00",
                "line-1-vat_rate": "8",
            }
        ),
        follow=True,
    )
    order = Order.objects.get()
    assert order.needs_attention
    assert [a["code"] for a in order.attention_reasons] == ["unknown_sku"]
    line = order.lines.get(sku="CUSTOM-ENGRAVING")
    assert (line.unit_price_gross, line.vat_rate) == (Decimal("25.00"), "8")
    assert "it needs attention: Unknown SKU CUSTOM-ENGRAVING (line 2)" in response.content.decode()


def test_separate_billing_address(admin_client, product_factory):
    product_factory(sku="MUG-1")
    admin_client.post(
        CREATE,
        form_data(
            billing_same=None,
            billing_name="Firma X",
            billing_street="ul. Biurowa 2",
            billing_postcode="02-222",
            billing_city="Warszawa",
            billing_country="pl",
        ),
    )
    order = Order.objects.get()
    assert order.billing_address["name"] == "Firma X"
    assert order.billing_address["country"] == "PL"
    assert order.shipping_address["street"] == "ul. Polna 1"


def test_tampered_external_id_is_refused(admin_client, product_factory):
    product_factory(sku="MUG-1")
    response = admin_client.post(CREATE, form_data(external_id="1001"))
    assert response.status_code == 400
    assert "The form is damaged; reload the page." in response.content.decode()
    assert Order.objects.count() == 0


def test_create_needs_permission(client, make_user, product_factory):
    product_factory(sku="MUG-1")
    client.force_login(make_user("warehouse"))
    assert client.get(CREATE).status_code == 403
    assert client.post(CREATE, form_data()).status_code == 403
    assert Order.objects.count() == 0
    client.force_login(make_user("service"))
    assert client.post(CREATE, form_data()).status_code == 302
    assert Order.objects.count() == 1


def test_all_mistakes_are_reported_at_once(admin_client, product_factory):
    product_factory(sku="MUG-1")
    response = admin_client.post(
        CREATE,
        form_data(
            email="nope", **{"line-0-quantity": "0", "line-1-sku": "NEW-THING", "line-1-quantity": "1"}
        ),
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "&#x27;nope&#x27; is not an e-mail address" in html
    assert "Input should be greater than 0" in html
    assert "Enter the price: NEW-THING is not in the catalogue." in html
    assert Order.objects.count() == 0
