"""The PrestaShop Webservice connector against the fake Webservice: keyset paging and the cursor (page
shifts, a crash mid-import), mapping of the real samples (JSON and XML), states by configuration and by
flags, unknown states, status/tracking/stock pushed back, retries, malformed answers, webhooks refused,
the connect form."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from xml.etree import ElementTree

import pytest
from django.urls import reverse

from zaplecze.core.errors import DomainError
from zaplecze.integrations import services
from zaplecze.integrations.connectors.base import AuthFailed
from zaplecze.integrations.connectors.prestashop import PrestaShop, xml_data
from zaplecze.integrations.models import Connection, ExternalOrder, SyncError, WebhookDelivery
from zaplecze.orders.models import Order

from .fake_presta import KEY, SAMPLES, TEMPLATE, FakePresta, presta_order

UTC = dt.UTC


@pytest.fixture
def fake_presta():
    server = FakePresta().start()
    yield server
    server.stop()


@pytest.fixture
def presta_connection(db, fake_presta, waits):
    return services.connection_create(
        channel_code="shop",
        platform="prestashop",
        base_url=fake_presta.url,
        credentials={"access_token": KEY},
        actor=None,
    )


def _presta(fake, key=KEY) -> PrestaShop:
    return PrestaShop(base_url=fake.url, credentials={"access_token": key}, channel="shop")


def _import(conn, **kw):
    return services.connection_sync(connection_id=conn.pk, **kw)


def _shop_utc(text: str) -> dt.datetime:
    """A shop time (Europe/Warsaw) as UTC."""
    import zoneinfo

    naive = dt.datetime.fromisoformat(text)
    return naive.replace(tzinfo=zoneinfo.ZoneInfo("Europe/Warsaw")).astimezone(UTC)


# --- mapping -------------------------------------------------------------------------------------------------


def test_the_sample_order_maps_the_same_from_json_and_from_xml(fake_presta, waits):
    presta = _presta(fake_presta)
    from_xml = xml_data((SAMPLES / "orders-display-full.xml").read_bytes())["orders"][0]

    json_mapped, xml_mapped = presta.map_order(TEMPLATE), presta.map_order(from_xml)

    assert json_mapped.order == xml_mapped.order
    order = json_mapped.order
    assert (json_mapped.external_id, json_mapped.platform_status) == ("6", "5")
    assert json_mapped.stage == "delivered" and json_mapped.attention == []
    assert order.number == "KBHVCMDMO" and order.currency == "PLN"
    assert order.placed_at == dt.datetime(2020, 2, 2, 20, 34, 47, tzinfo=UTC)  # CET
    assert json_mapped.modified_at == dt.datetime(2020, 10, 13, 17, 54, 39, tzinfo=UTC)  # CEST
    [line] = order.lines
    assert (line.sku, line.ean, line.quantity, line.external_id) == ("734/7", "8427917734071", 1, "8")
    assert line.name == "Chaleco naranja fluoresente Talla : L"
    assert line.unit_price_gross == Decimal("10.00") and line.vat_rate == "23"  # 9.999999 tax incl.
    assert (order.shipping_cost, order.discount, order.total_gross) == (
        Decimal("6.23"),
        Decimal("0.00"),
        Decimal("16.23"),
    )
    assert order.total_gross == order.computed_total()
    assert order.payment_method == "paypal" and order.payment_status == "paid"
    assert order.delivery_method == "inpost_locker"  # carrier "InPost Paczkomaty 24/7"
    assert (order.customer_name, order.email) == ("Anna Kowalska", "anna@example.com")
    assert order.shipping_address.street == "ul. Długa 5 m. 3" and order.shipping_address.country == "PL"
    assert order.shipping_address.phone == "600100200"


def test_lookups_are_batched_and_cached_for_the_run(fake_presta, waits):
    fake_presta.orders = [presta_order(i) for i in range(1, 31)]
    pages = list(_presta(fake_presta).orders_since(""))

    assert len(pages[0].items) == 30
    for resource in ("customers", "addresses", "countries", "carriers", "currencies", "order_states"):
        assert len(fake_presta.calls(f"/api/{resource}")) == 1, resource
    assert fake_presta.calls("/api/addresses")[0]["filter[id]"] == "[12]"


@pytest.mark.parametrize("config_readable", [True, False])
def test_default_states_map_by_configuration_or_by_flags_and_names(fake_presta, waits, config_readable):
    if not config_readable:
        fake_presta.denied.add("configurations")
    presta = _presta(fake_presta)
    stages = {}
    for state in range(1, 14):
        mapped = presta.map_order(presta_order(40 + state, state=state))
        stages[state] = (mapped.stage, mapped.order.payment_status)
    assert stages == {
        1: ("awaiting_payment", None),
        2: ("ready", "paid"),
        3: ("in_fulfilment", "paid"),
        4: ("shipped", "paid"),
        5: ("delivered", "paid"),
        6: ("cancelled", None),
        7: ("cancelled", "refunded"),  # never shipped (no history)
        8: ("awaiting_payment", None),
        9: ("ready", "paid"),
        10: ("awaiting_payment", None),
        11: ("ready", "paid"),
        12: ("awaiting_payment", None),
        13: ("ready", None),
    }
    # Order 6 of order-histories-display-full.xml went through "Shipped": its refund is a return.
    assert presta.map_order(presta_order(6, state=7)).stage == "returned"


def test_a_shop_time_zone_other_than_warsaw_is_read_from_the_configuration(fake_presta, waits):
    fake_presta.tables["configurations"][0]["value"] = "UTC"
    mapped = _presta(fake_presta).map_order(TEMPLATE)
    assert mapped.modified_at == dt.datetime(2020, 10, 13, 19, 54, 39, tzinfo=UTC)


def test_an_order_without_a_state_yet_is_not_an_order(fake_presta, waits):
    mapped = _presta(fake_presta).map_order(presta_order(1, state=0))
    assert mapped.order is None


# --- paging and the cursor -----------------------------------------------------------------------------------


def test_pages_are_read_by_key_oldest_modification_first(fake_presta, waits):
    fake_presta.orders = [presta_order(i) for i in range(1, 251)]
    pages = list(_presta(fake_presta).orders_since(""))

    assert [len(p.items) for p in pages] == [100, 100, 50]
    assert [m.external_id for p in pages for m in p.items] == [str(i) for i in range(1, 251)]
    queries = fake_presta.calls("/api/orders")
    first = queries[0]
    assert first["display"] == "full" and first["sort"] == "[date_upd_ASC,id_ASC]"
    assert first["limit"] == "0,100" and first["output_format"] == "JSON" and "filter[date_upd]" not in first
    # after a full page: the rest of its last second (none here), then the seconds after it
    assert queries[1]["filter[date_upd]"] == "[2026-11-20 10:40:06,2026-11-20 10:40:06]"
    assert queries[1]["filter[id]"] == "[101,2147483647]" and queries[1]["date"] == "1"
    assert queries[2]["filter[date_upd]"] == "[2026-11-20 10:40:07,9999-12-31 23:59:59]"
    # the cursor: UTC time of the last order read (shop time 10:40:06 = 09:40:06 UTC) and its id
    assert pages[0].cursor == "2026-11-20T09:40:06+00:00#100"
    assert pages[-1].cursor == "2026-11-20T12:10:06+00:00#250"


def test_an_order_modified_during_the_import_does_not_shift_another_out(fake_presta, waits):
    fake_presta.orders = [presta_order(i) for i in range(1, 251)]
    pages = _presta(fake_presta).orders_since("")
    seen = [m.external_id for m in next(pages).items]

    # order 10 (already read) and order 150 (not yet) change in the shop: with offset paging order 101
    # would move to offset 99 and be skipped
    for n in (10, 150):
        fake_presta.orders[n - 1]["date_upd"] = "2026-11-21 08:00:00"
    seen += [m.external_id for p in pages for m in p.items]

    assert sorted(set(seen), key=int) == [str(i) for i in range(1, 251)]
    assert seen.count("10") == 2 and seen.count("150") == 1 and seen[-2:] == ["10", "150"]


def test_more_orders_in_one_second_than_a_page_are_all_read_once(fake_presta, waits):
    same = dt.datetime(2026, 11, 20, 12, 0, 0)
    fake_presta.orders = [presta_order(i, updated=same) for i in range(1, 231)]
    pages = list(_presta(fake_presta).orders_since(""))

    ids = [m.external_id for p in pages for m in p.items]
    assert ids == [str(i) for i in range(1, 231)]
    ties = [q for q in fake_presta.calls("/api/orders") if "filter[id]" in q]
    assert [q["filter[id]"].split(",")[0] for q in ties] == ["[101", "[201"]


def test_a_crash_mid_import_resumes_and_nothing_is_lost_or_doubled(fake_presta, presta_connection, waits):
    fake_presta.orders = [presta_order(i) for i in range(1, 251)]
    real = fake_presta.handle

    def down_after_page_1(method, path, q, body):
        if path == "/api/orders" and "filter[date_upd]" in q:
            return 500, ("3:Internal error",), {}
        return real(method, path, q, body)

    fake_presta.handle = down_after_page_1
    run = _import(presta_connection)

    assert run.outcome == "failed" and "gave up" in run.error
    assert Order.objects.count() == 100
    conn = Connection.objects.get(pk=presta_connection.pk)
    assert conn.cursor == "2026-11-20T09:40:06+00:00#100" and conn.status == "failing"

    fake_presta.handle = real
    before = len(fake_presta.calls("/api/orders"))
    run = _import(presta_connection)

    assert run.outcome == "ok" and run.created == 150 and run.errors == 0
    assert Order.objects.count() == 250
    assert sorted(Order.objects.values_list("external_id", flat=True), key=int) == [
        str(i) for i in range(1, 251)
    ]
    # the new run starts a minute before the cursor (late writes): orders 99 and 100 are read again
    resumed = fake_presta.calls("/api/orders")[before]
    assert resumed["filter[date_upd]"] == "[2026-11-20 10:39:06,9999-12-31 23:59:59]"
    assert run.unchanged == 2
    assert Connection.objects.get(pk=presta_connection.pk).cursor == "2026-11-20T12:10:06+00:00#250"

    again = _import(presta_connection)
    assert (again.created, again.updated) == (0, 0) and Order.objects.count() == 250


def test_the_shop_answering_xml_imports_the_same(fake_presta, presta_connection):
    fake_presta.force_xml = True
    fake_presta.orders = [presta_order(1), presta_order(2, state=4)]

    run = _import(presta_connection)

    assert (run.outcome, run.created) == ("ok", 2)
    assert dict(Order.objects.values_list("external_id", "stage")) == {"1": "ready", "2": "shipped"}
    assert Order.objects.get(external_id="1").lines.get().sku == "734/7"


# --- states the shop made up -----------------------------------------------------------------------------------


def test_an_unknown_state_is_imported_and_flagged_not_dropped(fake_presta, presta_connection):
    fake_presta.tables["order_states"].append(
        {
            "id": 31,
            "paid": "0",
            "shipped": "0",
            "delivery": "0",
            "module_name": "",
            "deleted": "0",
            "name": [{"id": "1", "value": "Czeka na decyzję klienta"}],
            "template": [{"id": "1", "value": ""}],
        }
    )
    fake_presta.orders = [presta_order(1, state=31), presta_order(2, state=99)]

    run = _import(presta_connection)

    assert run.created == 2 and run.errors == 0
    first, second = Order.objects.get(external_id="1"), Order.objects.get(external_id="2")
    assert first.needs_attention and second.needs_attention
    assert {
        "code": "unknown_channel_status",
        "message": "PrestaShop order state 31 ('Czeka na decyzję klienta') is not known to Zaplecze",
    } in first.attention_reasons
    assert ExternalOrder.objects.get(external_id="2").platform_status == "99"


def test_a_shops_own_state_is_classified_by_its_flags(fake_presta, waits):
    fake_presta.tables["order_states"].append(
        {"id": 32, "paid": "1", "shipped": "0", "delivery": "1", "module_name": "", "deleted": "0",
         "name": [{"id": "1", "value": "Kompletowanie"}], "template": [{"id": "1", "value": ""}]}
    )  # fmt: skip
    assert _presta(fake_presta).map_order(presta_order(1, state=32)).stage == "in_fulfilment"


# --- pushing back -----------------------------------------------------------------------------------------------


def _canonical(xml: bytes) -> list:
    root = ElementTree.fromstring(xml)  # noqa: S314 - our own test data
    return [(root.tag, [(r.tag, [(f.tag, (f.text or "").strip()) for f in r]) for r in root])]


def _fields(xml: bytes, record: str) -> dict[str, str]:
    root = ElementTree.fromstring(xml)  # noqa: S314 - what the connector sent
    return {f.tag: f.text or "" for f in root.find(record)}


def test_status_push_posts_an_order_history_shaped_like_the_sample(fake_presta, presta_connection):
    from zaplecze.orders.services import order_transition

    fake_presta.orders = [presta_order(6, state=2)]
    _import(presta_connection)
    order = Order.objects.get(external_id="6")
    order_transition(order_id=order.pk, status_code="shipped", actor=None)

    assert services.order_push_status(order_id=order.pk) == "4"

    [(method, path, body)] = fake_presta.bodies
    assert (method, path) == ("POST", "/api/order_histories")
    assert _canonical(body) == _canonical((SAMPLES / "order-history-post-request.xml").read_bytes())
    assert fake_presta.calls("/api/order_histories", "POST")[0]["sendemail"] == "1"
    assert ExternalOrder.objects.get(external_id="6").platform_status == "4"
    assert fake_presta.orders[0]["current_state"] == "4"

    # pushed again: the shop is in that state already, nothing is added
    assert services.order_push_status(order_id=order.pk) == "4"
    assert len(fake_presta.bodies) == 1
    # the next import sees the state it set: no change of status here
    run = _import(presta_connection)
    assert (run.updated, run.unchanged) == (0, 1) and Order.objects.get(pk=order.pk).stage == "shipped"


def test_stages_without_a_state_are_not_pushed(fake_presta, presta_connection):
    fake_presta.orders = [presta_order(6, state=10)]
    _import(presta_connection)
    order = Order.objects.get(external_id="6")
    assert order.stage == "awaiting_payment"
    assert services.order_push_status(order_id=order.pk) == "" and fake_presta.bodies == []


def test_tracking_goes_into_the_order_carrier(fake_presta, presta_connection):
    fake_presta.orders = [presta_order(6)]
    fake_presta.tables["order_carriers"] = [
        {"id": 4, "id_order": "6", "id_carrier": "14", "id_order_invoice": "3", "weight": "0.500000",
         "shipping_cost_tax_excl": "5.150000", "shipping_cost_tax_incl": "6.230000", "tracking_number": "",
         "date_add": "2020-02-02 21:34:48"},
    ]  # fmt: skip
    _import(presta_connection)
    order = Order.objects.get(external_id="6")

    assert services.order_push_tracking(order_id=order.pk, carrier="InPost", tracking_number="6800012345")
    assert not services.order_push_tracking(order_id=order.pk, carrier="InPost", tracking_number="6800012345")

    [(method, path, body)] = fake_presta.bodies
    assert (method, path) == ("PUT", "/api/order_carriers/4")
    sent = _fields(body, "order_carrier")
    assert (
        sent["tracking_number"] == "6800012345" and sent["id_order"] == "6" and sent["weight"] == "0.500000"
    )
    assert fake_presta.tables["order_carriers"][0]["tracking_number"] == "6800012345"


def test_stock_is_set_by_reference_and_prices_are_refused(fake_presta, presta_connection):
    t = fake_presta.tables
    t["products"] = [
        {"id": 121, "reference": "734", "name": [{"id": "1", "value": "Chaleco"}], "price": "8.264462"},
        {"id": 122, "reference": "MUG-1", "name": [{"id": "1", "value": "Kubek"}], "price": "20.000000"},
    ]
    t["combinations"] = [{"id": 521, "id_product": "121", "reference": "734/7", "price": "1.000000"}]
    t["stock_availables"] = [
        {"id": 1, "id_product": "121", "id_product_attribute": "0", "id_shop": "1", "id_shop_group": "0",
         "quantity": "7", "depends_on_stock": "0", "out_of_stock": "2", "location": ""},
        {"id": 2, "id_product": "121", "id_product_attribute": "521", "id_shop": "1", "id_shop_group": "0",
         "quantity": "7", "depends_on_stock": "0", "out_of_stock": "2", "location": ""},
        {"id": 3, "id_product": "122", "id_product_attribute": "0", "id_shop": "1", "id_shop_group": "0",
         "quantity": "1", "depends_on_stock": "0", "out_of_stock": "2", "location": ""},
    ]  # fmt: skip

    result = services.stock_push(
        connection_id=presta_connection.pk, quantities={"734/7": 3, "MUG-1": 12, "NOPE": 1, "A|B": 1}
    )

    assert result == {"734/7": True, "MUG-1": True, "NOPE": False, "A|B": False}
    assert [r["quantity"] for r in t["stock_availables"]] == ["7", "3", "12"]
    assert [p for _m, p, _b in fake_presta.bodies] == ["/api/stock_availables/2", "/api/stock_availables/3"]
    # the push engine sends many SKUs at once (push_items): one lookup per resource for all of them
    fake_presta.requests.clear()
    items = [{"sku": sku, "quantity": 4} for sku in ("734/7", "MUG-1", "NOPE", "A|B")]
    assert _presta(fake_presta).push_items(items) == {
        "734/7": True,
        "MUG-1": True,
        "NOPE": False,
        "A|B": False,
    }
    assert [q["filter[reference]"] for q in fake_presta.calls("/api/combinations")] == ["[734/7|MUG-1|NOPE]"]
    assert [q["filter[reference]"] for q in fake_presta.calls("/api/products")] == ["[MUG-1|NOPE]"]
    assert [q["filter[id_product]"] for q in fake_presta.calls("/api/stock_availables")] == ["[121|122]"]
    sent = _fields(fake_presta.bodies[0][2], "stock_available")
    assert sent == {**{k: str(v) for k, v in t["stock_availables"][1].items()}, "quantity": "3"}
    with pytest.raises(DomainError, match="does not take prices"):
        services.price_push(connection_id=presta_connection.pk, prices={"MUG-1": ("24.60", None)})

    offers = list(_presta(fake_presta).offers())
    assert [(o.external_id, o.sku, o.price, o.stock, o.parent_id) for o in offers] == [
        ("121", "734", "8.26", 7, ""),
        ("122", "MUG-1", "20.00", 4, ""),
        ("521", "734/7", "9.26", 4, "121"),
    ]
    assert offers[0].name == "Chaleco" and offers[2].name == "Chaleco (734/7)"


# --- HTTP: auth, retries, malformed answers -------------------------------------------------------------------


def test_a_wrong_key_is_refused_and_a_missing_permission_is_named(fake_presta, waits):
    with pytest.raises(AuthFailed, match="Authentification key is not active"):
        _presta(fake_presta, key="X" * 32).test()
    fake_presta.denied.update({"customers", "carriers"})
    with pytest.raises(AuthFailed, match="may not read: customers, carriers"):
        _presta(fake_presta).test()
    fake_presta.denied.clear()
    assert _presta(fake_presta).test().startswith("PrestaShop 8.1.7:")


def test_a_key_of_the_wrong_length_is_refused_before_any_call(presta_connection, fake_presta):
    Connection.objects.filter(pk=presta_connection.pk).update(
        credentials_encrypted=__import__("zaplecze.integrations.crypto", fromlist=["x"]).encrypt(
            {"access_token": "SHORTKEY"}
        )
    )
    with pytest.raises(DomainError, match="32 characters"):
        services.connection_test(connection_id=presta_connection.pk, actor=None)
    assert fake_presta.requests == []


def test_401_during_an_import_marks_the_connection(fake_presta, presta_connection):
    fake_presta.key = "ROTATEDKEY0123456789ABCDEFGHIJKL"
    run = _import(presta_connection)
    conn = Connection.objects.get(pk=presta_connection.pk)
    assert run.outcome == "failed" and conn.status == "auth_failed" and "401" in conn.last_error


def test_429_waits_for_retry_after_and_5xx_is_retried(fake_presta, waits):
    fake_presta.orders = [presta_order(1)]
    fake_presta.script("/api/orders?", 429, "", {"Retry-After": "3"})
    fake_presta.script("/api/orders?", 503, "<html>Service Unavailable</html>")

    pages = list(_presta(fake_presta).orders_since(""))

    assert [m.external_id for m in pages[0].items] == ["1"]
    assert waits[0] == 3.0 and len(waits) == 2


def test_a_malformed_page_is_read_order_by_order_and_only_the_broken_order_is_kept(
    fake_presta, presta_connection
):
    fake_presta.orders = [presta_order(i) for i in range(1, 4)]
    broken = '{"orders":[{"id":1,"date_upd":"2026-11-20 09:01:06"<br /><b>Warning</b>: Undefined index'
    fake_presta.script("/api/orders?", 200, broken)
    fake_presta.script("/api/orders?", 200, broken)
    fake_presta.script("/api/orders/2?", 200, '{"order":{"id":2,"reference":"REF0')

    run = _import(presta_connection)

    assert (run.outcome, run.created, run.errors) == ("partial", 2, 1)
    error = SyncError.objects.get()
    assert error.external_id == "2" and "not JSON" in error.message
    assert error.payload == '{"order":{"id":2,"reference":"REF0'
    assert Connection.objects.get(pk=presta_connection.pk).cursor == "2026-11-20T08:03:06+00:00#3"


def test_a_truncated_xml_page_is_kept_as_an_error_and_its_retry_reconciles(fake_presta, presta_connection):
    fake_presta.orders = [presta_order(1)]
    truncated = (SAMPLES / "orders-display-full.xml").read_bytes()[:1500]
    for _ in range(3):  # read twice, then the ids alone: all truncated
        fake_presta.script("/api/orders?", 200, truncated, {"Content-Type": "text/xml"})

    run = _import(presta_connection)

    assert run.outcome == "partial" and Order.objects.count() == 0
    error = SyncError.objects.get()
    assert error.external_id == "" and "not readable XML" in error.message
    assert error.payload.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    assert Connection.objects.get(pk=presta_connection.pk).cursor == ""

    retried = services.sync_error_retry(error_id=error.pk, actor=None)
    assert retried.state == "resolved" and Order.objects.count() == 1


def test_an_order_refused_by_intake_is_kept_with_its_payload_and_retried(fake_presta, presta_connection):
    bad = presta_order(2)
    bad["associations"]["order_rows"] = []
    fake_presta.orders = [presta_order(1), bad]

    run = _import(presta_connection)

    assert (run.outcome, run.created, run.errors) == ("partial", 1, 1)
    error = SyncError.objects.get()
    assert error.external_id == "2" and "lines" in error.message and '"REF000002"' in error.payload
    fixed = error.payload.replace('"order_rows": []', '"order_rows": ' + __import__("json").dumps(
        TEMPLATE["associations"]["order_rows"]))  # fmt: skip
    SyncError.objects.filter(pk=error.pk).update(payload=fixed)
    assert services.sync_error_retry(error_id=error.pk, actor=None).state == "resolved"
    assert Order.objects.filter(external_id="2").exists()


# --- webhooks and screens -----------------------------------------------------------------------------------------


def test_webhooks_are_refused_and_nothing_is_stored(client, presta_connection):
    url = reverse("hooks:receive", args=["prestashop", presta_connection.webhook_token])
    response = client.post(url, data=b'{"id_order": 6}', content_type="application/json")
    assert response.status_code == 401 and WebhookDelivery.objects.count() == 0


def test_the_connect_form_takes_a_prestashop_shop_and_test_connection_works(admin_client, fake_presta, waits):
    response = admin_client.post(
        reverse("integrations:connection_new"),
        {
            "channel": "shop",
            "platform": "prestashop",
            "base_url": fake_presta.url + "/",
            "access_token": KEY,
            "window": "30",
            "enabled": "on",
        },
    )
    conn = Connection.objects.get()
    assert response.status_code == 302 and conn.platform == "prestashop"
    assert KEY not in conn.credentials_encrypted

    page = admin_client.post(reverse("integrations:connection_test", args=[conn.pk]), follow=True)

    assert "PrestaShop 8.1.7: the key reads orders" in page.content.decode()
    assert Connection.objects.get().status == "ok"
    assert fake_presta.calls("/api/orders")[0]["display"] == "[id]"


def test_a_failed_stock_put_fails_only_its_sku(fake_presta, waits):
    t = fake_presta.tables
    t["products"] = [{"id": 122, "reference": "MUG-1"}, {"id": 123, "reference": "MUG-2"}]
    t["stock_availables"] = [
        {"id": 3, "id_product": "122", "id_product_attribute": "0", "quantity": "1"},
        {"id": 4, "id_product": "123", "id_product_attribute": "0", "quantity": "1"},
    ]
    for _ in range(5):  # the first try and the client's 4 retries
        fake_presta.script("/api/stock_availables/3", 500, "")

    result = _presta(fake_presta).push_items(
        [{"sku": "MUG-1", "quantity": 5}, {"sku": "MUG-2", "quantity": 6}]
    )

    assert "gave up" in str(result["MUG-1"]) and result["MUG-2"] is True
    assert [r["quantity"] for r in t["stock_availables"]] == ["1", "6"]


def test_a_stage_the_shop_is_already_in_posts_nothing(fake_presta, waits):
    fake_presta.orders = [presta_order(1, state=13), presta_order(2, state=5), presta_order(3, state=2)]
    presta = _presta(fake_presta)

    assert presta.push_status(external_id="1", stage="ready") == "13"  # cash on delivery: not "paid"
    assert presta.push_status(external_id="2", stage="completed") == "5"  # delivered already
    assert presta.push_status(external_id="3", stage="cancelled") == "6"
    assert [(m, p) for m, p, _b in fake_presta.bodies] == [("POST", "/api/order_histories")]
    assert fake_presta.orders[2]["current_state"] == "6"


def test_a_failed_status_post_is_not_repeated_blindly(fake_presta, waits):
    from zaplecze.integrations.connectors.base import ConnectorError

    fake_presta.orders = [presta_order(1, state=2)]
    fake_presta.script("/api/order_histories", 502, "<html>Bad gateway</html>")
    presta = _presta(fake_presta)

    with pytest.raises(ConnectorError, match="gave up after 1 attempts"):
        presta.push_status(external_id="1", stage="shipped")
    assert len(fake_presta.calls("/api/order_histories", "POST")) == 1 and waits == []
    # the job's retry reads the order's state first and posts once
    assert presta.push_status(external_id="1", stage="shipped") == "4"
    assert len(fake_presta.calls("/api/order_histories", "POST")) == 2
    assert presta.push_status(external_id="1", stage="shipped") == "4"
    assert len(fake_presta.calls("/api/order_histories", "POST")) == 2


def test_unreadable_order_states_fail_the_run_before_anything_is_committed(fake_presta, presta_connection):
    fake_presta.orders = [presta_order(1)]
    fake_presta.script("/api/order_states", 200, '{"order_states":[{"id":1,')

    run = _import(presta_connection)

    assert run.outcome == "failed" and "not JSON" in run.error and Order.objects.count() == 0
    assert Connection.objects.get(pk=presta_connection.pk).cursor == ""
    assert _import(presta_connection).created == 1


def test_an_order_with_a_broken_date_does_not_loop(fake_presta, waits):
    fake_presta.orders = [presta_order(i) for i in range(1, 101)]
    fake_presta.orders[-1]["date_upd"] = "2026-13-45 99:00:00"
    fake_presta.orders.sort(key=lambda o: o["date_upd"])

    pages = list(_presta(fake_presta).orders_since(""))

    assert len(pages) == 1 and len(pages[0].items) == 99
    assert [e.external_id for e in pages[0].errors] == ["100"]
