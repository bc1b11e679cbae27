"""A stock level's own page: ledger, reservations, audit, and adjustments that never go below reserved."""

from __future__ import annotations

import re

import pytest

from zaplecze.core.models import AuditEntry
from zaplecze.inventory.models import StockLevel, StockMovement

pytestmark = pytest.mark.django_db


def test_level_page_shows_ledger_reservations_and_audit(admin_client, product_factory, ingest):
    variant = product_factory(sku="SKU-0001", stock=5)
    ingest()  # reserves 2
    level = StockLevel.objects.get(variant=variant)

    html = admin_client.get(f"/stock/{level.pk}/").content.decode()

    assert re.search(r'data-figure="on-hand">5<', html)
    assert re.search(r'data-figure="reserved">2<', html)
    assert re.search(r'data-figure="available">3<', html)
    assert html.count("data-movement") == 1  # the receipt
    assert "order-line:" in html  # the open reservation
    assert html.count("data-audit") == 1


def test_adjustment_is_posted_to_the_ledger_and_audit(admin_client, product_factory):
    variant = product_factory(sku="SKU-0001", stock=5)
    level = StockLevel.objects.get(variant=variant)

    response = admin_client.post(
        f"/stock/{level.pk}/adjust/", {"kind": "adjustment", "delta": "-2", "reason": "broken in storage"}
    )

    assert response.status_code == 302
    level.refresh_from_db()
    assert level.on_hand == 3
    movement = StockMovement.objects.filter(kind="adjustment").get()
    assert (movement.quantity, movement.on_hand_after, movement.reason) == (-2, 3, "broken in storage")
    assert AuditEntry.objects.filter(object_type="inventory.stocklevel", action="adjustment").count() == 1


def test_adjustment_below_reserved_or_without_reason_is_refused_and_changes_nothing(
    admin_client, product_factory, ingest
):
    variant = product_factory(sku="SKU-0001", stock=3)
    ingest()  # reserves 2: one unit is free
    level = StockLevel.objects.get(variant=variant)

    too_many = admin_client.post(
        f"/stock/{level.pk}/adjust/", {"kind": "adjustment", "delta": "-2", "reason": "x"}
    )
    no_reason = admin_client.post(
        f"/stock/{level.pk}/adjust/", {"kind": "adjustment", "delta": "1", "reason": ""}
    )
    not_a_number = admin_client.post(f"/stock/{level.pk}/adjust/", {"delta": "two", "reason": "x"})

    assert (too_many.status_code, no_reason.status_code, not_a_number.status_code) == (409, 400, 400)
    assert "Not enough free stock" in too_many.content.decode()
    level.refresh_from_db()
    assert (level.on_hand, level.reserved) == (3, 2)
    assert StockMovement.objects.count() == 1


def test_read_only_role_sees_the_page_but_cannot_adjust(client, make_user, product_factory):
    variant = product_factory(sku="SKU-0001", stock=5)
    level = StockLevel.objects.get(variant=variant)
    client.force_login(make_user("readonly"))

    page = client.get(f"/stock/{level.pk}/").content.decode()
    denied = client.post(f"/stock/{level.pk}/adjust/", {"kind": "adjustment", "delta": "1", "reason": "x"})

    assert "Adjust stock" not in page
    assert denied.status_code == 403
    level.refresh_from_db()
    assert level.on_hand == 5
