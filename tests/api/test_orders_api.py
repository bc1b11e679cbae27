import base64
import datetime as dt
import json
from decimal import Decimal

import pytest

from tests.conftest import order_data
from zaplecze.core.errors import Conflict
from zaplecze.core.models import AuditEntry
from zaplecze.inventory.models import StockLevel
from zaplecze.orders.models import Order, OrderEvent

pytestmark = pytest.mark.django_db

JSON = "application/json"


def body_without_ids(**overrides):
    return {k: v for k, v in order_data(**overrides).items() if k not in ("channel", "external_id")}


def put(client, channel, external_id, body):
    return client.put(f"/api/v1/orders/{channel}/{external_id}", data=body, content_type=JSON)


# --- create or update -------------------------------------------------------------------------------


def test_put_creates_an_order_from_the_channel_and_external_id_in_the_url(api, product_factory):
    variant = product_factory(sku="SKU-0001", stock=5)

    response = put(api, "shop", "1001", body_without_ids())

    assert response.status_code == 201
    data = response.json()
    assert data["outcome"] == "created"
    assert data["attention"] == []
    order = Order.objects.get()
    assert (order.channel.code, order.external_id, order.number) == ("shop", "1001", "#1001")
    assert data["order"]["id"] == order.pk
    assert data["order"]["total_gross"] == "112.97"
    assert data["order"]["lines"][0]["sku"] == "SKU-0001"
    assert data["order"]["lines"][0]["variant_id"] == variant.pk
    assert data["order"]["events"][0]["kind"] == "created"
    assert data["order"]["events"][0]["actor"] == api.user.username
    assert StockLevel.objects.get(variant=variant).reserved == 2


def test_put_twice_is_one_order_and_a_change_is_an_update(api, product_factory):
    product_factory(sku="SKU-0001")
    assert put(api, "shop", "1001", body_without_ids()).status_code == 201

    again = put(api, "shop", "1001", body_without_ids())
    changed = put(api, "shop", "1001", body_without_ids(customer_name="Anna Nowak"))

    assert (again.status_code, again.json()["outcome"]) == (200, "unchanged")
    assert (changed.status_code, changed.json()["outcome"]) == (200, "updated")
    assert changed.json()["order"]["customer_name"] == "Anna Nowak"
    assert changed.json()["order"]["version"] == 2
    assert Order.objects.count() == 1


def test_an_older_version_never_overwrites_a_newer_one(api, product_factory):
    product_factory(sku="SKU-0001")
    newer = "2026-11-21T10:00:00+00:00"
    older = "2026-11-20T10:00:00+00:00"
    put(api, "shop", "1001", body_without_ids(updated_at=newer, customer_name="Newer"))

    response = put(api, "shop", "1001", body_without_ids(updated_at=older, customer_name="Older"))

    assert (response.status_code, response.json()["outcome"]) == (200, "stale")
    assert Order.objects.get().customer_name == "Newer"


def test_post_takes_the_full_order_schema(api, product_factory):
    product_factory(sku="SKU-0001")
    response = api.post(
        "/api/v1/orders", data=order_data(channel="allegro", external_id="A-77"), content_type=JSON
    )
    assert response.status_code == 201
    assert response.json()["order"]["channel"] == "allegro"
    assert response.json()["order"]["external_id"] == "A-77"


def test_put_refuses_channel_or_external_id_in_the_body(api):
    response = put(api, "shop", "1001", {**body_without_ids(), "channel": "allegro"})
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"field": "channel", "message": "Extra inputs are not permitted", "type": "extra_forbidden"}
    ]
    assert Order.objects.count() == 0


def test_unknown_sku_keeps_the_order_and_flags_it(api):
    response = put(api, "shop", "1001", body_without_ids())
    assert response.status_code == 201
    assert response.json()["order"]["needs_attention"] is True
    assert response.json()["attention"][0]["code"] == "unknown_sku"


def test_unknown_channel_is_refused_naming_the_field(api):
    response = put(api, "nosuch", "1", body_without_ids())
    assert response.status_code == 400
    assert response.json() == {
        "code": "unknown_channel",
        "message": "Unknown channel 'nosuch'",
        "field": "channel",
    }


# --- bad input: 4xx with the field path, nothing written --------------------------------------------


def test_nested_errors_name_the_path(api):
    lines = [
        {"sku": "A", "quantity": 1, "unit_price_gross": "1.00"},
        {"sku": "B", "quantity": 0, "unit_price_gross": "-1"},
    ]
    body = body_without_ids(lines=lines, shipping_address={"postcode": "x" * 13})

    response = put(api, "shop", "1001", body)

    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"
    fields = sorted(e["field"] for e in response.json()["errors"])
    assert fields == ["lines[1].quantity", "lines[1].unit_price_gross", "shipping_address.postcode"]
    assert Order.objects.count() == 0


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"lines": [{"sku": "A", "quantity": "two", "unit_price_gross": "1"}]}, "lines[0].quantity"),
        (
            {"lines": [{"sku": "A", "quantity": 1, "unit_price_gross": "1", "colour": "red"}]},
            "lines[0].colour",
        ),
        ({"lines": []}, "lines"),
        ({"placed_at": "yesterday"}, "placed_at"),
        ({"placed_at": "2026-11-20T10:00:00"}, "placed_at"),  # no UTC offset
        ({"customer_name": "x" * 100_000}, "customer_name"),
        # one past the bound of the database column (PostgreSQL would refuse it: never a 500)
        ({"number": "N" * 61}, "number"),
        ({"customer_name": "x" * 201}, "customer_name"),
        ({"company": "x" * 201}, "company"),
        ({"shipping_address": {"name": "x" * 201}}, "shipping_address.name"),
        (
            {"lines": [{"sku": "A", "quantity": 100_000, "unit_price_gross": "9999999999999999.99"}]},
            "lines[0]",
        ),
        ({"notes": 12}, "notes"),
        ({"tags": ["a"] * 21}, "tags"),
        ({"email": "not-an-address"}, "email"),
        ({"currency": "złoty"}, "currency"),
        ({"shipping_cost": "NaN"}, "shipping_cost"),
        ({"customer_type": "business"}, ""),  # a business needs a NIP: a rule over the whole order
    ],
)
def test_invalid_order_input_is_422_naming_the_field(api, change, field):
    response = put(api, "shop", "1001", {**body_without_ids(), **change})
    assert response.status_code == 422
    assert field in [e["field"] for e in response.json()["errors"]]
    assert Order.objects.count() == 0


def test_text_no_database_can_store_is_refused(api):
    response = put(api, "shop", "1001", body_without_ids(customer_name="Anna\x00Kowalska"))
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "customer_name"
    assert response.json()["errors"][0]["type"] == "string_unstorable"


def test_a_body_that_is_not_json_is_400(api):
    response = api.put("/api/v1/orders/shop/1001", data="{not json", content_type=JSON)
    assert response.status_code == 400
    assert response.json() == {"code": "bad_request", "message": "Cannot parse request body"}


def test_a_body_that_is_not_an_object_is_422(api):
    response = api.put("/api/v1/orders/shop/1001", data="[1, 2]", content_type=JSON)
    assert response.status_code == 422
    assert response.json()["errors"][0]["type"] == "model_attributes_type"


# --- reading ------------------------------------------------------------------------------------------


def test_get_returns_the_full_order(api, product_factory, ingest):
    product_factory(sku="SKU-0001")
    order = ingest(tags=["vip"]).order

    response = api.get(f"/api/v1/orders/{order.pk}")

    assert response.status_code == 200
    data = response.json()
    assert data["number"] == "#1001"
    assert data["status"] == "ready"
    assert data["stage"] == "ready"
    assert data["tags"] == ["vip"]
    assert data["version"] == 1
    assert data["shipping_address"]["city"] == "Kraków"
    assert data["payment_method"] == "card"
    assert data["payment_status"] == "paid"
    assert data["pickup_point"] == "KRA01M"
    assert (data["total_net"], data["total_vat"], data["total_gross"]) == ("91.84", "21.13", "112.97")
    assert [ln["quantity"] for ln in data["lines"]] == [2]
    assert [e["kind"] for e in data["events"]] == ["created"]


def test_unknown_order_is_404(api):
    response = api.get("/api/v1/orders/999")
    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "message": "Order not found"}


def test_an_id_too_large_for_any_column_is_422(api):
    response = api.get("/api/v1/orders/99999999999999999999999999")
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "order_id"


def _orders(ingest, product_factory, n):
    product_factory(sku="SKU-0001", stock=100)
    base = dt.datetime(2026, 11, 1, 10, tzinfo=dt.UTC)
    return [
        ingest(
            external_id=str(2000 + i),
            number=f"#{2000 + i}",
            placed_at=(base + dt.timedelta(hours=i)).isoformat(),
        ).order
        for i in range(n)
    ]


def test_list_pages_with_a_keyset_cursor(api, ingest, product_factory):
    orders = _orders(ingest, product_factory, 5)

    first = api.get("/api/v1/orders?limit=2").json()
    second = api.get(f"/api/v1/orders?limit=2&cursor={first['next_cursor']}").json()
    third = api.get(f"/api/v1/orders?limit=2&cursor={second['next_cursor']}").json()

    newest_first = [o.pk for o in reversed(orders)]
    assert [o["id"] for o in first["items"] + second["items"] + third["items"]] == newest_first
    assert third["next_cursor"] is None


def test_list_uses_the_queue_filters(api, ingest, product_factory):
    product_factory(sku="SKU-0001", stock=100)
    ingest(external_id="1", email="a@example.com", tags=["vip"])
    ingest(
        external_id="2",
        channel="allegro",
        email="b@example.com",
        payment_status="unpaid",
        payment_method="transfer",
    )
    ingest(external_id="3", lines=[{"sku": "NOPE", "quantity": 1, "unit_price_gross": "5"}])

    def ids(query):
        response = api.get(f"/api/v1/orders?{query}")
        assert response.status_code == 200, response.content
        return sorted(o["external_id"] for o in response.json()["items"])

    assert ids("channel=allegro") == ["2"]
    assert ids("channel=shop,allegro") == ["1", "2", "3"]
    assert ids("stage=awaiting_payment") == ["2"]
    assert ids("stage=ready&stage=awaiting_payment") == ["1", "2", "3"]
    assert ids("payment_status=unpaid") == ["2"]
    assert ids("tag=vip") == ["1"]
    assert ids("needs_attention=true") == ["3"]
    assert ids("q=b@example.com") == ["2"]
    assert ids("date_from=2026-11-20&date_to=2026-11-20") == ["1", "2", "3"]
    assert ids("date_from=2026-11-21") == []


@pytest.mark.parametrize(
    ("query", "status", "field"),
    [
        ("stage=bogus", 400, "stage"),
        ("limit=0", 422, "limit"),
        ("limit=501", 422, "limit"),
        ("sort=customer", 422, "sort"),
        ("date_from=31.12.2026", 422, "date_from"),
        ("cursor=not-a-cursor", 400, "cursor"),
        ("q=" + "x" * 201, 422, "q"),
    ],
)
def test_bad_list_parameters_name_the_parameter(api, query, status, field):
    response = api.get(f"/api/v1/orders?{query}")
    assert response.status_code == status
    body = response.json()
    assert field == (body["errors"][0]["field"] if status == 422 else body["field"])


@pytest.mark.parametrize(
    "value",
    [
        ["x", 1],
        [{"t": "2026-01-01T00:00:00"}, 1],
        [{"d": "1"}, 1],
        [{"t": "2026-01-01T00:00:00+00:00"}, 10**30],
    ],
)
def test_a_forged_cursor_is_400_not_500(api, value):
    cursor = base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")
    response = api.get(f"/api/v1/orders?cursor={cursor}")
    assert response.status_code == 400
    assert response.json()["field"] == "cursor"


# --- status, edit, notes, tags ------------------------------------------------------------------------


def test_status_change_records_the_event(api, product_factory, ingest):
    product_factory(sku="SKU-0001")
    order = ingest().order

    response = api.post(
        f"/api/v1/orders/{order.pk}/status",
        data={"status": "picking", "reason": "packing"},
        content_type=JSON,
    )

    assert response.status_code == 200
    assert (response.json()["status"], response.json()["stage"], response.json()["version"]) == (
        "picking",
        "in_fulfilment",
        2,
    )
    event = OrderEvent.objects.get(order=order, kind="status")
    assert (event.from_status, event.to_status, event.actor, event.message) == (
        "ready",
        "picking",
        api.user,
        "packing",
    )


def test_illegal_status_change_is_409_and_changes_nothing(api, product_factory, ingest):
    product_factory(sku="SKU-0001")
    order = ingest().order

    response = api.post(f"/api/v1/orders/{order.pk}/status", data={"status": "delivered"}, content_type=JSON)

    assert response.status_code == 409
    assert response.json()["code"] == "illegal_transition"
    assert response.json()["field"] == "status"
    order.refresh_from_db()
    assert (order.status.code, order.version) == ("ready", 1)


def test_unknown_status_is_400_naming_the_field(api, product_factory, ingest):
    product_factory(sku="SKU-0001")
    order = ingest().order
    response = api.post(f"/api/v1/orders/{order.pk}/status", data={"status": "lost"}, content_type=JSON)
    assert response.status_code == 400
    assert response.json()["field"] == "status"


def test_status_change_with_a_stale_version_is_409(api, product_factory, ingest):
    product_factory(sku="SKU-0001")
    order = ingest().order
    api.post(f"/api/v1/orders/{order.pk}/status", data={"status": "picking", "version": 1}, content_type=JSON)

    response = api.post(
        f"/api/v1/orders/{order.pk}/status", data={"status": "cancelled", "version": 1}, content_type=JSON
    )

    assert response.status_code == 409
    assert response.json()["code"] == "conflict"
    assert response.json()["details"] == {"current_version": 2}
    order.refresh_from_db()
    assert order.status.code == "picking"


def test_patch_edits_editable_fields_and_records_who(api, product_factory, ingest):
    product_factory(sku="SKU-0001")
    order = ingest().order

    response = api.patch(
        f"/api/v1/orders/{order.pk}",
        content_type=JSON,
        data={
            "version": 1,
            "customer_name": "Anna Nowak",
            "shipping_address": {"city": "Gdańsk", "postcode": "80-001"},
            "paid_at": "2026-11-20T12:00:00+01:00",
            "reason": "customer called",
        },
    )

    assert response.status_code == 200, response.content
    data = response.json()
    assert (data["customer_name"], data["shipping_address"]["city"], data["version"]) == (
        "Anna Nowak",
        "Gdańsk",
        2,
    )
    assert data["paid_at"] == "2026-11-20T11:00:00Z"
    entry = AuditEntry.objects.get(object_type="orders.order", object_id=str(order.pk), action="edited")
    assert entry.actor == api.user
    assert entry.changes["customer_name"] == ["Anna Kowalska", "Anna Nowak"]
    assert entry.reason == "customer called"


@pytest.mark.parametrize(
    "field", ["total_gross", "status", "version_", "channel", "external_id", "number", "id"]
)
def test_patch_refuses_fields_that_are_not_editable(api, product_factory, ingest, field):
    product_factory(sku="SKU-0001")
    order = ingest().order

    response = api.patch(f"/api/v1/orders/{order.pk}", data={"version": 1, field: "1"}, content_type=JSON)

    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"field": field, "message": "Extra inputs are not permitted", "type": "extra_forbidden"}
    ]
    order.refresh_from_db()
    assert (order.version, order.total_gross) == (1, Decimal("112.97"))


@pytest.mark.parametrize(
    ("change", "status", "field"),
    [
        ({"email": "nope"}, 422, "email"),
        ({"paid_at": "2026-11-20T12:00:00"}, 422, "paid_at"),
        ({"customer_name": None}, 422, "customer_name"),
        ({"payment_method": "gold"}, 422, "payment_method"),
        ({"nip": "1234567890"}, 400, "nip"),
    ],
)
def test_patch_validates_values(api, product_factory, ingest, change, status, field):
    product_factory(sku="SKU-0001")
    order = ingest().order
    response = api.patch(f"/api/v1/orders/{order.pk}", data={"version": 1, **change}, content_type=JSON)
    assert response.status_code == status
    body = response.json()
    assert field == (body["errors"][0]["field"] if status == 422 else body["field"])


def test_patch_needs_the_version(api, product_factory, ingest):
    product_factory(sku="SKU-0001")
    order = ingest().order
    response = api.patch(f"/api/v1/orders/{order.pk}", data={"customer_name": "X"}, content_type=JSON)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "version"


def test_two_people_editing_one_order_the_second_save_is_refused(api_as, product_factory, ingest):
    product_factory(sku="SKU-0001")
    order = ingest().order
    alice, bob = api_as("organiser"), api_as("service")
    version_alice = alice.get(f"/api/v1/orders/{order.pk}").json()["version"]
    version_bob = bob.get(f"/api/v1/orders/{order.pk}").json()["version"]

    first = alice.patch(
        f"/api/v1/orders/{order.pk}", data={"version": version_alice, "phone": "111"}, content_type=JSON
    )
    second = bob.patch(
        f"/api/v1/orders/{order.pk}", data={"version": version_bob, "phone": "222"}, content_type=JSON
    )

    assert first.status_code == 200
    assert second.status_code == 409
    assert second.json()["code"] == "conflict"
    assert second.json()["details"] == {"current_version": 2}
    order.refresh_from_db()
    assert (order.phone, order.version) == ("111", 2)


def test_the_service_refuses_a_stale_edit(product_factory, ingest, make_user):
    from zaplecze.orders.services import order_edit

    product_factory(sku="SKU-0001")
    order = ingest().order
    user = make_user("organiser")
    order_edit(order_id=order.pk, expected_version=1, changes={"phone": "111"}, actor=user)

    with pytest.raises(Conflict):
        order_edit(order_id=order.pk, expected_version=1, changes={"phone": "222"}, actor=user)

    order.refresh_from_db()
    assert (order.phone, order.version) == ("111", 2)


def test_notes_are_added_to_the_history(api, product_factory, ingest):
    product_factory(sku="SKU-0001")
    order = ingest().order

    response = api.post(
        f"/api/v1/orders/{order.pk}/notes", data={"text": "Customer asked for a call"}, content_type=JSON
    )
    empty = api.post(f"/api/v1/orders/{order.pk}/notes", data={"text": "  "}, content_type=JSON)

    assert response.status_code == 201
    assert (response.json()["kind"], response.json()["message"]) == ("note", "Customer asked for a call")
    assert empty.status_code == 422
    assert empty.json()["errors"][0]["field"] == "text"
    assert OrderEvent.objects.filter(order=order, kind="note").count() == 1


def test_tags_are_added_and_removed_in_bulk(api, product_factory, ingest):
    product_factory(sku="SKU-0001", stock=100)
    a, b = ingest(external_id="1").order, ingest(external_id="2", tags=["old"]).order

    added = api.post(
        "/api/v1/orders/tags", data={"order_ids": [a.pk, b.pk, 9999], "add": ["vip"]}, content_type=JSON
    )
    removed = api.post(
        "/api/v1/orders/tags", data={"order_ids": [b.pk], "remove": ["old"]}, content_type=JSON
    )
    nothing = api.post("/api/v1/orders/tags", data={"order_ids": [a.pk]}, content_type=JSON)

    assert (added.status_code, added.json()) == (200, {"changed": 2})
    assert (removed.status_code, removed.json()) == (200, {"changed": 1})
    assert nothing.status_code == 400
    assert nothing.json()["field"] == "tag"
    assert sorted(b.tags.values_list("name", flat=True)) == ["vip"]


def test_a_body_over_the_upload_limit_is_413(api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = api.put("/api/v1/orders/shop/1001", data=body_without_ids(notes="x" * 2000), content_type=JSON)
    assert response.status_code == 413
    assert response.json()["code"] == "too_large"
