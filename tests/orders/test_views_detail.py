"""The order page: what it shows, status change (version check, illegal moves), notes, attention, edit."""

from __future__ import annotations

import re

from django.urls import reverse

from zaplecze.core.models import AuditEntry
from zaplecze.orders.models import Order, OrderEvent
from zaplecze.orders.services import order_edit, order_transition


def url(name: str, order: Order) -> str:
    return reverse(f"orders:{name}", args=[order.pk])


def status_options(html: str) -> list[str]:
    form = re.search(r'action="/orders/\d+/status/".*?</form>', html, re.S).group(0)
    return re.findall(r'<option value="([^"]+)">', form)


def test_detail_shows_lines_customer_delivery_payment_and_history(admin_client, ingest, product_factory):
    product_factory(sku="SKU-0001", name="Kubek")
    order = ingest(
        customer_type="business",
        company="Kubki Sp. z o.o.",
        nip="5260250274",
        lines=[
            {"sku": "SKU-0001", "quantity": 2, "unit_price_gross": "49.99", "vat_rate": "23"},
            {
                "sku": "GHOST-1",
                "name": "Old mug",
                "quantity": 1,
                "unit_price_gross": "10.00",
                "vat_rate": "8",
            },
        ],
    ).order
    response = admin_client.get(url("detail", order))
    assert response.status_code == 200
    html = response.content.decode()
    for text in (
        "Order #1001",
        "Kubki Sp. z o.o.",
        "5260250274",
        "Business",
        "anna@example.com",
        "+48 600 100 200",
        "InPost Paczkomat",
        "<code>KRA01M</code>",
        "ul. Długa 5",
        "30-001 Kraków",
        "Card",
        "Paid",
        "PLN122.97",
        "Old mug",
        "8%",
        "Unknown SKU GHOST-1 (line 2)",
        "Mark resolved",
    ):
        assert text in html, text
    # A known SKU links to its stock; an unknown one is flagged.
    assert '<a href="/stock/?q=SKU-0001"' in html
    assert 'GHOST-1 <span class="pill pill-attention"' in html
    assert '<span class="ev-kind">Created</span>' in html


def test_detail_404_for_missing_order(admin_client, db):
    assert admin_client.get("/orders/999999/").status_code == 404


def test_only_allowed_statuses_are_offered(admin_client, ingest):
    ready = ingest().order
    shipped = ingest(external_id="2", number="#2", stage="shipped").order
    assert status_options(admin_client.get(url("detail", ready)).content.decode()) == [
        "awaiting_payment",
        "picking",
        "packed",
        "shipped",
        "cancelled",
    ]
    assert status_options(admin_client.get(url("detail", shipped)).content.decode()) == [
        "delivered",
        "returned",
    ]


def test_status_change_is_recorded_and_shown_in_history(admin_client, ingest, admin_user):
    order = ingest().order
    response = admin_client.post(
        url("change_status", order),
        {"status": "picking", "version": order.version, "reason": "started picking"},
        follow=True,
    )
    assert response.redirect_chain == [(url("detail", order), 302)]
    order.refresh_from_db()
    assert (order.status.code, order.stage, order.version) == ("picking", "in_fulfilment", 2)
    event = OrderEvent.objects.get(order=order, kind="status")
    assert (event.from_status, event.to_status, event.actor, event.message) == (
        "ready",
        "picking",
        admin_user,
        "started picking",
    )
    html = response.content.decode()
    assert "Status changed." in html
    timeline = html[html.index("data-timeline") :]
    assert re.search(r"Ready to fulfil</span> → <span[^>]*>Picking</span>", timeline)
    assert "(Ready to fulfil → In fulfilment)" in timeline
    assert "started picking" in timeline


def test_stale_version_is_refused_with_409_and_nothing_changes(admin_client, ingest, admin_user):
    order = ingest().order
    seen_version = order.version
    order_transition(order_id=order.pk, status_code="picking", actor=admin_user)  # someone else, meanwhile
    response = admin_client.post(
        url("change_status", order), {"status": "cancelled", "version": seen_version}
    )
    assert response.status_code == 409
    html = response.content.decode()
    assert "was changed by someone else in the meantime (version 2, yours 1)" in html
    order.refresh_from_db()
    assert order.status.code == "picking"
    # The re-shown form carries the current version, so a deliberate retry works.
    assert f'name="version" value="{order.version}"' in html


def test_illegal_transition_shows_the_message(admin_client, ingest):
    order = ingest(stage="shipped").order
    response = admin_client.post(url("change_status", order), {"status": "new", "version": order.version})
    assert response.status_code == 409
    assert "Order #1001 cannot go from “Shipped” (Shipped) to “New” (New)." in response.content.decode()
    order.refresh_from_db()
    assert order.status.code == "shipped"


def test_status_change_without_status_is_a_400(admin_client, ingest):
    order = ingest().order
    response = admin_client.post(url("change_status", order), {"version": order.version})
    assert response.status_code == 400
    assert "Choose the new status." in response.content.decode()


def test_status_change_denied_for_read_only_and_button_hidden(client, make_user, ingest):
    order = ingest().order
    client.force_login(make_user("readonly"))
    html = client.get(url("detail", order)).content.decode()
    assert "/status/" not in html
    assert url("edit", order) not in html
    assert "Add note" not in html
    response = client.post(url("change_status", order), {"status": "picking", "version": order.version})
    assert response.status_code == 403
    order.refresh_from_db()
    assert order.status.code == "ready"


def test_warehouse_may_change_status_but_not_edit(client, make_user, ingest):
    order = ingest().order
    client.force_login(make_user("warehouse"))
    html = client.get(url("detail", order)).content.decode()
    assert "/status/" in html
    assert url("edit", order) not in html
    assert client.get(url("edit", order)).status_code == 403
    assert client.post(url("add_note", order), {"text": "hi"}).status_code == 403
    assert not OrderEvent.objects.filter(kind="note").exists()


def test_audit_log_visible_only_with_permission(client, make_user, ingest):
    order = ingest().order
    client.force_login(make_user("organiser"))
    html = client.get(url("detail", order)).content.decode()
    assert 'id="audit"' in html and "<code>number</code>" in html
    client.force_login(make_user("service"))
    assert 'id="audit"' not in client.get(url("detail", order)).content.decode()


def test_add_note(admin_client, ingest, admin_user):
    order = ingest().order
    response = admin_client.post(url("add_note", order), {"text": "Customer called: leave at the door"})
    assert response.status_code == 302
    assert response["Location"] == url("detail", order) + "#history"
    note = OrderEvent.objects.get(order=order, kind="note")
    assert (note.message, note.actor) == ("Customer called: leave at the door", admin_user)
    response = admin_client.post(url("add_note", order), {"text": "   "})
    assert response.status_code == 400
    assert OrderEvent.objects.filter(order=order, kind="note").count() == 1


def test_mark_attention_resolved(admin_client, ingest):
    order = ingest(lines=[{"sku": "GHOST", "quantity": 1, "unit_price_gross": "1.00"}]).order
    assert order.needs_attention
    response = admin_client.post(url("resolve_attention", order), {"note": "mapped to MUG-1"})
    assert response.status_code == 302
    order.refresh_from_db()
    assert (order.needs_attention, order.attention_reasons) == (False, [])
    assert OrderEvent.objects.filter(order=order, kind="note", message="mapped to MUG-1").exists()


# --- edit ------------------------------------------------------------------------------------------


def edit_post(order: Order, **changes) -> dict:
    data = {
        "version": order.version,
        "customer_name": order.customer_name,
        "company": order.company,
        "nip": order.nip,
        "email": order.email,
        "phone": order.phone,
        "payment_method": order.payment_method,
        "payment_status": order.payment_status,
        "paid_at": "",
        "delivery_method": order.delivery_method,
        "pickup_point": order.pickup_point,
        "ship_by": "",
        "notes": order.notes,
        "internal_notes": order.internal_notes,
    }
    for prefix in ("shipping", "billing"):
        address = getattr(order, f"{prefix}_address") or {}
        for part in ("name", "company", "street", "postcode", "city", "country", "phone"):
            data[f"{prefix}_{part}"] = address.get(part, "")
    if order.ship_by:
        from django.utils import timezone

        data["ship_by"] = timezone.localtime(order.ship_by).strftime("%Y-%m-%dT%H:%M")
    data.update(changes)
    return data


def test_edit_form_shows_current_values(admin_client, ingest):
    order = ingest().order
    html = admin_client.get(url("edit", order)).content.decode()
    assert 'name="pickup_point" value="KRA01M"' in html
    assert 'name="shipping_street" value="ul. Długa 5"' in html
    assert f'name="version" value="{order.version}"' in html


def test_edit_saves_only_what_changed(admin_client, ingest, admin_user):
    order = ingest().order
    response = admin_client.post(
        url("edit", order),
        edit_post(order, pickup_point="WAW22A", shipping_city="Warszawa", internal_notes="fragile"),
    )
    assert response.status_code == 302
    order.refresh_from_db()
    assert order.pickup_point == "WAW22A"
    assert order.shipping_address["city"] == "Warszawa"
    assert order.internal_notes == "fragile"
    assert order.version == 2
    event = OrderEvent.objects.get(order=order, kind="edited")
    assert event.data == {"fields": ["internal_notes", "pickup_point", "shipping_address"]}
    entry = AuditEntry.objects.get(object_type="orders.order", object_id=str(order.pk), action="edited")
    assert entry.changes["pickup_point"] == ["KRA01M", "WAW22A"]


def test_edit_without_changes_saves_nothing(admin_client, ingest):
    order = ingest().order
    response = admin_client.post(url("edit", order), edit_post(order), follow=True)
    assert "Nothing was changed." in response.content.decode()
    order.refresh_from_db()
    assert order.version == 1


def test_stale_edit_is_refused_and_keeps_the_users_input(admin_client, ingest, admin_user):
    order = ingest().order
    mine = edit_post(order, phone="+48 500 500 500", pickup_point="POZ01M")
    order_edit(order_id=order.pk, expected_version=1, changes={"pickup_point": "GDA07N"}, actor=admin_user)
    response = admin_client.post(url("edit", order), mine)
    assert response.status_code == 409
    html = response.content.decode()
    assert "was changed by someone else in the meantime" in html
    assert 'name="phone" value="+48 500 500 500"' in html  # my input is still there
    assert 'name="pickup_point" value="POZ01M"' in html
    assert "Now: <b>GDA07N</b>" in html  # and the value someone else saved is shown beside it
    assert 'name="version" value="2"' in html
    order.refresh_from_db()
    assert (order.pickup_point, order.phone, order.version) == ("GDA07N", "+48 600 100 200", 2)


def test_edit_with_an_invalid_nip_shows_the_error_at_the_field(admin_client, ingest):
    order = ingest().order
    response = admin_client.post(url("edit", order), edit_post(order, nip="123"))
    assert response.status_code == 400
    html = response.content.decode()
    assert re.search(r'name="nip".*?NIP 123 is not valid', html, re.S)
    order.refresh_from_db()
    assert order.nip == "" and order.version == 1
