"""Settings screens: order statuses and sales channels."""

from __future__ import annotations

import re

from django.urls import reverse

from zaplecze.core.models import AuditEntry
from zaplecze.orders.models import Channel, OrderStatus

STATUSES = reverse("orders:statuses")
CHANNELS = reverse("orders:channels")


def status_data(**overrides) -> dict:
    data = {
        "code": "on_hold",
        "name_pl": "Wstrzymane",
        "name_en": "On hold",
        "stage": "ready",
        "colour": "#AA3300",
        "position": "35",
    }
    data.update(overrides)
    return data


def test_status_list_and_add(admin_client, admin_user):
    html = admin_client.get(STATUSES).content.decode()
    assert "<code>awaiting_payment</code>" in html and "Oczekuje na płatność" in html
    response = admin_client.post(STATUSES, status_data(), follow=True)
    assert response.redirect_chain == [(STATUSES, 302)]
    assert "Status “on_hold” saved." in response.content.decode()
    status = OrderStatus.objects.get(code="on_hold")
    assert (status.name_pl, status.name_en, status.stage, status.colour, status.position) == (
        "Wstrzymane",
        "On hold",
        "ready",
        "#aa3300",
        35,
    )
    assert AuditEntry.objects.filter(
        object_type="orders.status", object_id=str(status.pk), action="created", actor=admin_user
    ).exists()


def test_adding_an_existing_code_is_refused(admin_client, db):
    response = admin_client.post(STATUSES, status_data(code="new"))
    assert response.status_code == 400
    assert "A status with this code already exists." in response.content.decode()
    assert OrderStatus.objects.get(code="new").name_en == "New"


def test_edit_status_names_and_colour_keeps_the_code(admin_client, db):
    html = admin_client.get(STATUSES, {"edit": "packed"}).content.decode()
    assert "Edit status “packed”" in html
    assert re.search(r'name="code" value="packed"[^>]* disabled', html)
    response = admin_client.post(
        STATUSES,
        status_data(
            editing="packed",
            code="hacked",
            name_pl="Zapakowane",
            name_en="Boxed",
            stage="in_fulfilment",
            colour="#123456",
        ),
    )
    assert response.status_code == 302
    status = OrderStatus.objects.get(code="packed")
    assert (status.name_pl, status.name_en, status.colour) == ("Zapakowane", "Boxed", "#123456")
    assert not OrderStatus.objects.filter(code="hacked").exists()


def test_stage_of_a_status_in_use_cannot_change(admin_client, ingest):
    ingest()  # a "ready" order
    response = admin_client.post(
        STATUSES,
        status_data(
            editing="ready",
            code="ready",
            name_pl="Do realizacji",
            name_en="Ready",
            stage="new",
            colour="#10b981",
        ),
    )
    assert response.status_code == 400
    assert "The stage of a status in use cannot change; create a new status" in response.content.decode()
    assert OrderStatus.objects.get(code="ready").stage == "ready"


def test_bad_status_input(admin_client, db):
    response = admin_client.post(STATUSES, status_data(colour="red", code="Bad Code!"))
    assert response.status_code == 400
    html = response.content.decode()
    assert "Enter a valid value." in html  # colour
    assert "Enter a valid “slug”" in html
    assert not OrderStatus.objects.filter(name_en="On hold").exists()


def test_channels_add_and_edit(admin_client):
    response = admin_client.post(
        CHANNELS,
        {
            "code": "empik",
            "name": "Empik Marketplace",
            "kind": "other",
            "ship_within_hours": "48",
            "active": "on",
        },
    )
    assert response.status_code == 302
    channel = Channel.objects.get(code="empik")
    assert (channel.name, channel.kind, channel.ship_within_hours, channel.active) == (
        "Empik Marketplace",
        "other",
        48,
        True,
    )
    response = admin_client.post(
        CHANNELS, {"editing": "empik", "name": "Empik", "kind": "other", "ship_within_hours": "24"}
    )
    assert response.status_code == 302
    channel.refresh_from_db()
    assert (channel.name, channel.ship_within_hours, channel.active) == ("Empik", 24, False)
    html = admin_client.get(CHANNELS).content.decode()
    assert "<code>empik</code>" in html


def test_channel_bad_code_and_duplicate(admin_client, db):
    response = admin_client.post(
        CHANNELS, {"code": "Big Shop", "name": "X", "kind": "other", "ship_within_hours": "24"}
    )
    assert response.status_code == 400
    response = admin_client.post(
        CHANNELS, {"code": "shop", "name": "X", "kind": "other", "ship_within_hours": "24"}
    )
    assert response.status_code == 400
    assert "A channel with this code already exists." in response.content.decode()
    assert Channel.objects.get(code="shop").name == "Sklep internetowy"


def test_settings_need_permission(client, make_user, db):
    for role in ("warehouse", "service", "marketing", "readonly"):
        client.force_login(make_user(role))
        assert client.get(STATUSES).status_code == 403
        assert client.post(STATUSES, status_data()).status_code == 403
        assert (
            client.post(
                CHANNELS, {"code": "x", "name": "X", "kind": "other", "ship_within_hours": "1"}
            ).status_code
            == 403
        )
    assert not OrderStatus.objects.filter(code="on_hold").exists()
    assert not Channel.objects.filter(code="x").exists()
    client.force_login(make_user("organiser"))
    assert client.get(STATUSES).status_code == 200
    assert client.get(CHANNELS).status_code == 200


def test_status_edit_page_shows_the_status_history(admin_client):
    from zaplecze.orders.services import status_save

    status_save(code="vip_pack", name_pl="Pakowanie VIP", name_en="VIP packing", stage="in_fulfilment")
    status_save(
        code="vip_pack",
        name_pl="Pakowanie VIP",
        name_en="VIP packing",
        stage="in_fulfilment",
        colour="#112233",
    )

    html = admin_client.get("/orders/settings/statuses/", {"edit": "vip_pack"}).content.decode()

    assert html.count("data-audit") == 2
    assert "colour: #6b7280 → #112233" in html
