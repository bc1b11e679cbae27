"""Packing: each scanned EAN/SKU counts one unit of a matching line; unknown codes, items not in the order and
surplus units warn and are not counted; the last unit marks the order packed; undo; state survives a reload."""

from __future__ import annotations

import pytest
from django.urls import reverse

from zaplecze.core.errors import DomainError
from zaplecze.fulfilment import selectors, services
from zaplecze.fulfilment.models import Packing, PackingScan
from zaplecze.orders.models import Order
from zaplecze.orders.services import order_transition

from .conftest import line

MUG = "5901234123457"
TEA = "5900000000015"


@pytest.fixture
def order(stocked, make_order):
    stocked("MUG", MUG, "A-05")
    stocked("TEA", TEA, "B-01")
    stocked("PEN", "5901234123464", None)  # in the catalogue, not in the order
    return make_order("#601", [line("MUG", 2), line("TEA", 1)])


def _counts(order):
    return [(ln.sku, ln.scanned, ln.needed) for ln in selectors.pack_state(order).lines]


def _status(order):
    return Order.objects.get(pk=order.pk).status.code


def test_correct_scans_complete_the_order_and_mark_it_packed(order, warehouse_user):
    r1 = services.packing_scan(order_id=order.pk, code=MUG, actor=warehouse_user)
    assert (r1.outcome, r1.packed_now) == ("counted", False)
    assert r1.message == "MUG Item MUG: 1 of 2"
    services.packing_scan(order_id=order.pk, code="tea", actor=warehouse_user)  # SKU, any case
    assert _counts(order) == [("MUG", 1, 2), ("TEA", 1, 1)]
    assert _status(order) == "ready"
    last = services.packing_scan(order_id=order.pk, code=f"0{MUG}", actor=warehouse_user)  # GTIN-14 form
    assert (last.outcome, last.packed_now, last.state.complete) == ("counted", True, True)
    assert last.message == "Order #601 is packed."
    assert _status(order) == "packed"
    event = Order.objects.get(pk=order.pk).events.filter(kind="status").last()
    assert (event.from_status, event.to_status, event.actor_label) == ("ready", "packed", "magda")
    packing = Packing.objects.get(order=order)
    assert packing.status == "complete" and packing.completed_at is not None


@pytest.mark.parametrize(
    ("code", "outcome", "message"),
    [
        (
            "4006381333931",
            "unknown",
            "Unknown code 4006381333931: no product has this EAN or SKU. Not counted.",
        ),
        ("5901234123464", "not_in_order", "PEN Product PEN is not in order #601. Put it back; not counted."),
        ("pen", "not_in_order", "PEN Product PEN is not in order #601. Put it back; not counted."),
    ],
)
def test_a_wrong_item_or_unknown_code_warns_and_is_not_counted(order, warehouse_user, code, outcome, message):
    result = services.packing_scan(order_id=order.pk, code=code, actor=warehouse_user)
    assert (result.outcome, result.message, result.ok) == (outcome, message, False)
    assert _counts(order) == [("MUG", 0, 2), ("TEA", 0, 1)]
    assert PackingScan.objects.get().outcome == outcome  # recorded for the history


def test_a_surplus_unit_warns_and_is_not_counted(order, warehouse_user):
    services.packing_scan(order_id=order.pk, code=TEA, actor=warehouse_user)
    result = services.packing_scan(order_id=order.pk, code=TEA, actor=warehouse_user)
    assert result.outcome == "surplus"
    assert result.message == "Surplus: order #601 needs only 1 × TEA, all already scanned. Not counted."
    assert _counts(order) == [("MUG", 0, 2), ("TEA", 1, 1)]


def test_undo_takes_back_the_last_counted_scan_and_reopens_a_packed_order(order, warehouse_user):
    with pytest.raises(DomainError):
        services.packing_undo(order_id=order.pk, actor=warehouse_user)
    for code in (MUG, MUG, "nope", TEA):
        services.packing_scan(order_id=order.pk, code=code, actor=warehouse_user)
    assert _status(order) == "packed"
    result = services.packing_undo(order_id=order.pk, actor=warehouse_user)
    assert result.message == "Undone: one unit of TEA."
    assert _counts(order) == [("MUG", 2, 2), ("TEA", 0, 1)]
    assert _status(order) == "picking"
    assert Packing.objects.get(order=order).status == "open"
    services.packing_undo(order_id=order.pk, actor=warehouse_user)  # the warning in between is skipped
    assert _counts(order) == [("MUG", 1, 2), ("TEA", 0, 1)]
    services.packing_scan(order_id=order.pk, code=MUG, actor=warehouse_user)
    services.packing_scan(order_id=order.pk, code=TEA, actor=warehouse_user)
    assert _status(order) == "packed"


def test_an_order_that_is_not_open_cannot_be_packed(order, warehouse_user, admin_user):
    order_transition(order_id=order.pk, status_code="cancelled", actor=admin_user)
    with pytest.raises(DomainError) as exc:
        services.packing_scan(order_id=order.pk, code=MUG, actor=warehouse_user)
    assert exc.value.code == "not_packable"
    assert PackingScan.objects.count() == 0


def test_an_empty_scan_is_refused(order, warehouse_user):
    with pytest.raises(DomainError):
        services.packing_scan(order_id=order.pk, code="   ", actor=warehouse_user)


# --- the screen ---------------------------------------------------------------------------------------


def test_the_screen_scans_with_htmx_and_a_reload_keeps_the_state(order, warehouse_user, client):
    client.force_login(warehouse_user)
    lookup = client.get(reverse("fulfilment:pack_lookup"), {"order": "601"})
    assert lookup["Location"] == reverse("fulfilment:pack", args=[order.pk])
    page = client.get(lookup["Location"]).content.decode()
    assert 'name="code" autofocus' in page
    partial = client.post(
        reverse("fulfilment:pack_scan", args=[order.pk]), {"code": MUG}, HTTP_HX_REQUEST="true"
    )
    html = partial.content.decode()
    assert partial.status_code == 200
    assert html.startswith('<div id="pack-state"')
    assert 'data-scan-alert="ok"' in html
    warn = client.post(
        reverse("fulfilment:pack_scan", args=[order.pk]), {"code": "999"}, HTTP_HX_REQUEST="true"
    )
    assert 'data-scan-alert="warn"' in warn.content.decode()
    assert "Unknown code 999" in warn.content.decode()
    reloaded = client.get(reverse("fulfilment:pack", args=[order.pk])).content.decode()
    assert "<span data-count>1 / 2</span>" in reloaded
    assert "<span data-count>0 / 1</span>" in reloaded


def test_without_javascript_a_scan_redirects_back_with_a_message(order, warehouse_user, client):
    client.force_login(warehouse_user)
    url = reverse("fulfilment:pack_scan", args=[order.pk])
    response = client.post(url, {"code": MUG})
    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    assert "MUG Item MUG: 1 of 2" in page
    client.post(url, {"code": MUG})
    done = client.post(url, {"code": TEA}, follow=True).content.decode()
    assert "Order #601 is packed." in done
    assert "data-packed" in done
    assert reverse("shipping:order_panel", args=[order.pk]) in done  # create the shipment next
    undo = client.post(reverse("fulfilment:pack_undo", args=[order.pk]), follow=True).content.decode()
    assert "Undone: one unit of TEA." in undo
    assert _status(order) == "picking"


def test_the_lookup_says_when_there_is_no_such_order(db, warehouse_user, client):
    client.force_login(warehouse_user)
    response = client.get(reverse("fulfilment:pack_lookup"), {"order": "#nope"})
    assert response.status_code == 404
    assert "No order #nope." in response.content.decode()


def test_the_next_order_of_the_pick_list_is_offered(stocked, make_order, warehouse_user, client):
    stocked("MUG", MUG, "A-05")
    a = make_order("#701", [line("MUG", 1)])
    b = make_order("#702", [line("MUG", 1)])
    pl = services.picklist_create(order_ids=[a.pk, b.pk], actor=warehouse_user)
    client.force_login(warehouse_user)
    html = client.post(
        reverse("fulfilment:pack_scan", args=[a.pk]), {"code": MUG, "pl": pl.pk}, HTTP_HX_REQUEST="true"
    ).content.decode()
    assert f'href="/fulfilment/pack/{b.pk}/?pl={pl.pk}" data-next-order' in html
    assert Packing.objects.get(order=a).pick_list_id == pl.pk
