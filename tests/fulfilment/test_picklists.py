"""Pick lists: grouping by warehouse and bin in pick-walk order with totals per SKU, lines without a bin or a
reservation, which orders may be picked, moving orders to "picking", the PDF, the screens."""

from __future__ import annotations

import pytest
from django.urls import reverse

from zaplecze.core.errors import DomainError, NotFound
from zaplecze.fulfilment import pdf, selectors, services
from zaplecze.fulfilment.models import PickList, PickListOrder
from zaplecze.orders.models import Order
from zaplecze.orders.services import order_transition
from zaplecze.shipping.pdfmerge import page_count

from .conftest import line


@pytest.fixture
def two_orders(stocked, make_order):
    stocked("MUG", "5901234123457", "A-05")
    stocked("TEA", "5900000000015", "B-01")
    stocked("PEN", "", "C-09")
    one = make_order("#101", [line("MUG", 2), line("TEA", 1)])
    two = make_order("#102", [line("MUG", 1), line("PEN", 3)])
    return one, two


def _layout(sheet):
    return [
        (
            g.warehouse_code,
            g.location_code,
            [(r.sku, r.quantity, [(o.number, o.quantity) for o in r.orders]) for r in g.rows],
        )
        for g in sheet.groups
    ]


def test_lines_are_grouped_by_bin_in_walk_order_with_totals_and_orders_per_sku(two_orders, admin_user):
    one, two = two_orders
    pl = services.picklist_create(order_ids=[one.pk, two.pk], actor=admin_user)
    sheet = selectors.picklist_sheet(pl)
    assert pl.number == f"PL-{pl.pk:06d}"
    # B-01 has sort order 10; A-05 and C-09 share 20 and go by code.
    assert _layout(sheet) == [
        ("MAIN", "B-01", [("TEA", 1, [("#101", 1)])]),
        ("MAIN", "A-05", [("MUG", 3, [("#101", 2), ("#102", 1)])]),
        ("MAIN", "C-09", [("PEN", 3, [("#102", 3)])]),
    ]
    assert [(t.sku, t.quantity) for t in sheet.totals] == [("MUG", 3), ("PEN", 3), ("TEA", 1)]
    assert sheet.units == 7
    assert sheet.unreserved == 0
    assert [(o.number, o.lines, o.units) for o in sheet.orders] == [("#101", 2, 3), ("#102", 2, 4)]
    assert list(pl.entries.values_list("order_id", flat=True)) == [one.pk, two.pk]


def test_lines_without_a_bin_or_a_reservation_are_listed_last(
    stocked, product_factory, make_order, admin_user
):
    stocked("MUG", "", "A-05")
    stocked("LOOSE", "", None)  # in stock, no bin assigned
    product_factory(sku="GONE", stock=0)  # nothing to reserve
    order = make_order("#201", [line("GONE", 1), line("LOOSE", 2), line("MUG", 1)])
    sheet = selectors.pick_sheet([order.pk])
    assert _layout(sheet) == [
        ("MAIN", "A-05", [("MUG", 1, [("#201", 1)])]),
        ("MAIN", "", [("LOOSE", 2, [("#201", 2)])]),
        ("", "", [("GONE", 1, [("#201", 1)])]),
    ]
    assert sheet.unreserved == 1
    data = sheet.as_dict()
    assert [(g["warehouse"], g["location"]) for g in data["groups"]] == [
        ("MAIN", "A-05"),
        ("MAIN", None),
        (None, None),
    ]


def test_a_line_reserved_in_a_second_warehouse_is_picked_there(product_factory, make_order, bins, admin_user):
    from zaplecze.inventory.models import Location, StockLevel, Warehouse
    from zaplecze.inventory.services import stock_adjust

    far = Warehouse.objects.create(code="FAR", name="Far away", priority=500)
    shelf = Location.objects.create(warehouse=far, code="Z-1")
    near = product_factory(sku="NEAR", stock=5)
    StockLevel.objects.filter(variant=near).update(location=bins["B-01"])
    only_far = product_factory(sku="FARONLY", stock=0)
    stock_adjust(variant=only_far, warehouse=far, delta=4, kind="receipt", reason="test")
    StockLevel.objects.filter(variant=only_far, warehouse=far).update(location=shelf)
    order = make_order("#301", [line("FARONLY", 2), line("NEAR", 1)])
    sheet = selectors.pick_sheet([order.pk])
    assert _layout(sheet) == [
        ("MAIN", "B-01", [("NEAR", 1, [("#301", 1)])]),
        ("FAR", "Z-1", [("FARONLY", 2, [("#301", 2)])]),
    ]


def test_only_ready_or_in_fulfilment_orders_are_picked_and_nothing_is_written_otherwise(
    two_orders, admin_user
):
    one, two = two_orders
    order_transition(order_id=two.pk, status_code="cancelled", actor=admin_user)
    with pytest.raises(DomainError) as exc:
        services.picklist_create(order_ids=[one.pk, two.pk], actor=admin_user, move_to_picking=True)
    assert exc.value.code == "not_pickable"
    assert "#102" in exc.value.message
    with pytest.raises(NotFound) as missing:
        services.picklist_create(order_ids=[one.pk, 999999], actor=admin_user)
    assert "999999" in missing.value.message
    with pytest.raises(DomainError):
        services.picklist_create(order_ids=[], actor=admin_user)
    assert PickList.objects.count() == 0
    assert PickListOrder.objects.count() == 0
    assert Order.objects.get(pk=one.pk).status.code == "ready"


def test_moving_to_picking_moves_only_ready_orders(two_orders, admin_user):
    one, two = two_orders
    order_transition(order_id=two.pk, status_code="packed", actor=admin_user)
    pl = services.picklist_create(order_ids=[one.pk, two.pk], actor=admin_user, move_to_picking=True)
    assert Order.objects.get(pk=one.pk).status.code == "picking"
    assert Order.objects.get(pk=two.pk).status.code == "packed"
    event = Order.objects.get(pk=one.pk).events.filter(kind="status").last()
    assert event.to_status == "picking"
    assert event.message == f"Pick list {pl.number}"


def test_a_role_that_may_not_change_statuses_cannot_move_orders(two_orders, make_user):
    from zaplecze.core.errors import PermissionDenied

    one, _ = two_orders
    with pytest.raises(PermissionDenied):
        services.picklist_create(order_ids=[one.pk], actor=make_user("readonly"), move_to_picking=True)
    assert PickList.objects.count() == 0


def test_ready_orders_filter_by_channel_delivery_carrier_and_open_lists(stocked, make_order, admin_user):
    stocked("MUG", "", "A-05")
    locker = make_order("#401", [line("MUG", 1)], channel="allegro", delivery_method="inpost_locker")
    dpd = make_order("#402", [line("MUG", 1)], channel="shop", delivery_method="dpd", pickup_point="")
    listed = make_order("#403", [line("MUG", 1)], channel="shop", delivery_method="inpost_courier")
    services.picklist_create(order_ids=[listed.pk], actor=admin_user)

    def numbers(**kw):
        return sorted(o.number for o in selectors.orders_ready(selectors.ReadyFilter(**kw)))

    assert numbers() == ["#401", "#402"]
    assert numbers(include_listed=True) == ["#401", "#402", "#403"]
    assert numbers(channel="allegro") == ["#401"]
    assert numbers(delivery_method="dpd") == ["#402"]
    assert numbers(carrier="inpost", include_listed=True) == ["#401", "#403"]
    assert locker.pk and dpd.pk


def test_resolve_orders_by_number_with_or_without_hash_and_by_id(two_orders):
    one, two = two_orders
    assert selectors.resolve_orders(["101", "#102", str(one.pk), "nope"]) == ([one.pk, two.pk], ["nope"])


def test_the_pdf_is_a_pdf_with_the_bins(two_orders, admin_user):
    one, two = two_orders
    pl = services.picklist_create(order_ids=[one.pk, two.pk], actor=admin_user)
    html = pdf.picklist_html(pl)
    assert html.index("B-01") < html.index("A-05") < html.index("C-09")
    assert "#101 × 2, #102 × 1" in html
    data = pdf.picklist_pdf(pl)
    assert data.startswith(b"%PDF-")
    assert page_count(data) == 1


def test_ticking_rows_off_and_marking_done(two_orders, admin_user):
    one, two = two_orders
    pl = services.picklist_create(order_ids=[one.pk, two.pk], actor=admin_user)
    key = selectors.picklist_sheet(pl).groups[0].rows[0].key
    services.picklist_mark(pick_list_id=pl.pk, key=key, picked=True, actor=admin_user)
    sheet = selectors.picklist_sheet(PickList.objects.get(pk=pl.pk))
    assert [r.picked for g in sheet.groups for r in g.rows] == [True, False, False]
    with pytest.raises(DomainError):
        services.picklist_mark(pick_list_id=pl.pk, key="9:9:NOPE", picked=True, actor=admin_user)
    services.picklist_transition(pick_list_id=pl.pk, status="done", actor=admin_user)
    with pytest.raises(DomainError):
        services.picklist_mark(pick_list_id=pl.pk, key=key, picked=False, actor=admin_user)
    pl.refresh_from_db()
    assert (pl.status, pl.picked) == ("done", [key])
    assert pl.done_at is not None


# --- screens ------------------------------------------------------------------------------------------


def test_create_from_the_order_queue_selection(two_orders, admin_client):
    one, two = two_orders
    queue = admin_client.get(reverse("orders:queue")).content.decode()
    assert 'formaction="/fulfilment/picklists/create/"' in queue
    response = admin_client.post(
        reverse("fulfilment:create"), {"ids": [one.pk, two.pk], "action": "", "status": "", "tag": ""}
    )
    pl = PickList.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("fulfilment:picklist", args=[pl.pk])
    page = admin_client.get(response["Location"]).content.decode()
    assert page.index('data-location="B-01"') < page.index('data-location="A-05"')
    assert "#101 × 2" in page


def test_create_from_all_ready_with_filters_and_move_to_picking(stocked, make_order, admin_client):
    stocked("MUG", "", "A-05")
    a = make_order("#501", [line("MUG", 1)], channel="allegro")
    b = make_order("#502", [line("MUG", 1)], channel="shop")
    index = admin_client.get(reverse("fulfilment:index")).content.decode()
    assert "#501" in index and "#502" in index
    admin_client.post(
        reverse("fulfilment:create"), {"all_ready": "1", "channel": "allegro", "move_to_picking": "1"}
    )
    pl = PickList.objects.get()
    assert list(pl.orders.values_list("number", flat=True)) == ["#501"]
    assert Order.objects.get(pk=a.pk).status.code == "picking"
    assert Order.objects.get(pk=b.pk).status.code == "ready"
    index = admin_client.get(reverse("fulfilment:index")).content.decode()
    assert "#501" not in index.split('id="open-lists"')[0]  # on an open list: not offered again


def test_create_with_nothing_chosen_says_so(db, admin_client):
    response = admin_client.post(reverse("fulfilment:create"), {}, follow=True)
    assert "Choose at least one order for the pick list." in response.content.decode()
    assert PickList.objects.count() == 0


def test_screen_pdf_and_tick_off_as_warehouse(two_orders, warehouse_user, client):
    one, two = two_orders
    pl = services.picklist_create(order_ids=[one.pk, two.pk], actor=warehouse_user)
    client.force_login(warehouse_user)
    response = client.get(reverse("fulfilment:picklist_pdf", args=[pl.pk]))
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")
    key = selectors.picklist_sheet(pl).groups[1].rows[0].key
    response = client.post(
        reverse("fulfilment:picklist_mark", args=[pl.pk]), {"key": key, "picked": "1"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 204
    assert PickList.objects.get(pk=pl.pk).picked == [key]
    client.post(reverse("fulfilment:picklist_status", args=[pl.pk]), {"status": "done"})
    assert PickList.objects.get(pk=pl.pk).status == "done"


def test_a_role_without_fulfilment_pick_is_refused(two_orders, make_user, client):
    one, _ = two_orders
    client.force_login(make_user("service"))
    assert client.get(reverse("fulfilment:index")).status_code == 403
    assert client.post(reverse("fulfilment:create"), {"ids": [one.pk]}).status_code == 403
    assert PickList.objects.count() == 0


def test_a_sku_picked_from_two_warehouses_gets_a_combined_total(
    product_factory, make_order, bins, admin_user
):
    from zaplecze.inventory.models import Warehouse
    from zaplecze.inventory.services import stock_adjust

    far = Warehouse.objects.create(code="FAR", name="Far away", priority=500)
    split = product_factory(sku="SPLIT", stock=1)
    stock_adjust(variant=split, warehouse=far, delta=4, kind="receipt", reason="test")
    a = make_order("#311", [line("SPLIT", 1)])  # the last unit in MAIN
    b = make_order("#312", [line("SPLIT", 2)])  # reserved in FAR
    pl = services.picklist_create(order_ids=[a.pk, b.pk], actor=admin_user)
    sheet = selectors.picklist_sheet(pl)
    assert _layout(sheet) == [
        ("MAIN", "", [("SPLIT", 1, [("#311", 1)])]),
        ("FAR", "", [("SPLIT", 2, [("#312", 2)])]),
    ]
    assert [(t.sku, t.quantity) for t in sheet.split_totals] == [("SPLIT", 3)]
    assert "Totals of SKUs picked from more than one place" in pdf.picklist_html(pl, sheet)
