"""The Allegro connector against the fake Allegro (API and authorization server on loopback): the device
flow, token renewal stored encrypted, the first import by checkout-form pages, the event-journal imports,
status / tracking / stock / price pushes, unknown statuses, retries and kept errors; the screens, API and
CLI doors."""

from __future__ import annotations

import datetime as dt
import json
import logging
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from zaplecze.cli import main
from zaplecze.core.services import token_create
from zaplecze.integrations import crypto, services
from zaplecze.integrations.connectors import allegro as allegro_module
from zaplecze.integrations.connectors.allegro import Allegro, auth_base, carrier_code, map_status
from zaplecze.integrations.models import Connection, ExternalOrder, SyncError, SyncRun, WebhookDelivery
from zaplecze.orders.models import Order

from .fake_allegro import CLIENT_ID, CLIENT_SECRET, MEDIA, TEMPLATE, FakeAllegro, allegro_form, form_id

SAMPLES = Path("/work/shared/samples/allegro")
API = "/api/v1/integrations"


@pytest.fixture
def fake():
    server = FakeAllegro().start()
    yield server
    server.stop()


@pytest.fixture
def new_connection(db, fake, waits):
    """An Allegro connection as saved on the connect form: client id and secret, not authorized yet."""
    return services.connection_create(
        channel_code="allegro",
        platform="allegro",
        base_url=fake.url,
        credentials={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
        actor=None,
    )


@pytest.fixture
def conn(new_connection, fake):
    """An authorized connection (the tokens the device flow would have stored)."""
    Connection.objects.filter(pk=new_connection.pk).update(
        credentials_encrypted=crypto.encrypt(fake.credentials())
    )
    return new_connection


def _stored(connection) -> dict:
    return crypto.decrypt(Connection.objects.get(pk=connection.pk).credentials_encrypted)


def _import(connection, **kw) -> SyncRun:
    return services.connection_sync(connection_id=connection.pk, **kw)


def _later(monkeypatch, seconds: int) -> None:
    moved = timezone.now() + dt.timedelta(seconds=seconds)
    monkeypatch.setattr("zaplecze.integrations.services.timezone.now", lambda: moved)


# --- the device flow ------------------------------------------------------------------------------------


def test_device_flow_pending_then_granted_stores_the_tokens_encrypted(new_connection, fake, monkeypatch):
    started = services.connection_authorize_start(connection_id=new_connection.pk, actor=None)

    assert (started.state, started.user_code, started.interval) == ("pending", "cbt3zdu4g", 5)
    assert started.verification_uri_complete == "https://allegro.pl/skojarz-aplikacje?code=cbt3zdu4g"
    device = [q for m, p, q in fake.requests if p == "/auth/oauth/device"]
    assert len(device) == 1 and device[0] == {}  # the client id travels in the body, not the URL
    assert "device_code" in _stored(new_connection)

    assert services.connection_authorize_check(connection_id=new_connection.pk, actor=None).state == "pending"
    fake.grant()
    # asked again within the interval Allegro set: not sent at all
    assert services.connection_authorize_check(connection_id=new_connection.pk, actor=None).state == "pending"
    assert len(fake.calls("/auth/oauth/token", "POST")) == 1

    _later(monkeypatch, 6)
    granted = services.connection_authorize_check(connection_id=new_connection.pk, actor=None)

    assert granted.state == "granted" and granted.token_expires_at is not None
    stored = _stored(new_connection)
    assert stored["access_token"].startswith("eyJhbGciOiJSUzI1NiJ9.FAKE-ACCESS.signature.")
    assert stored["refresh_token"] in fake.refresh_tokens
    assert not [k for k in stored if k.startswith("device_")]
    raw = Connection.objects.get(pk=new_connection.pk)
    assert stored["access_token"] not in raw.credentials_encrypted
    assert raw.credentials_hint == "•••• 8f90"  # the client id's, not a token's
    assert (
        services.connection_test(connection_id=new_connection.pk, actor=None).message == "Allegro: 0 orders"
    )


def test_device_flow_denied_and_expired_drop_the_code(new_connection, fake, monkeypatch):
    services.connection_authorize_start(connection_id=new_connection.pk, actor=None)
    fake.deny()
    denied = services.connection_authorize_check(connection_id=new_connection.pk, actor=None)
    assert denied.state == "denied" and "refused" in denied.message
    assert "device_code" not in _stored(new_connection)
    with pytest.raises(services.DomainError) as exc:
        services.connection_authorize_check(connection_id=new_connection.pk, actor=None)
    assert exc.value.code == "not_started"

    services.connection_authorize_start(connection_id=new_connection.pk, actor=None)
    fake.expire()
    assert services.connection_authorize_check(connection_id=new_connection.pk, actor=None).state == "expired"

    # past the code's lifetime: expired without asking Allegro
    services.connection_authorize_start(connection_id=new_connection.pk, actor=None)
    asked = len(fake.calls("/auth/oauth/token", "POST"))
    _later(monkeypatch, 3601)
    assert services.connection_authorize_check(connection_id=new_connection.pk, actor=None).state == "expired"
    assert len(fake.calls("/auth/oauth/token", "POST")) == asked


def test_slow_down_widens_the_interval(new_connection, fake):
    services.connection_authorize_start(connection_id=new_connection.pk, actor=None)
    fake.slow_down_next = 1
    state = services.connection_authorize_check(connection_id=new_connection.pk, actor=None)
    assert (state.state, state.interval) == ("pending", 10)


def test_wrong_client_credentials_are_a_clear_error(new_connection, fake):
    fake.client_secret = "rotated"
    with pytest.raises(services.DomainError) as exc:
        services.connection_authorize_start(connection_id=new_connection.pk, actor=None)
    assert exc.value.code == "auth_failed" and "client ID and secret" in exc.value.message


def test_an_unauthorized_connection_says_so_without_alarming_anyone(new_connection, fake):
    result = services.connection_test(connection_id=new_connection.pk, actor=None)
    assert not result.ok and "not authorized yet" in result.message
    assert Connection.objects.get(pk=new_connection.pk).status == "new"
    assert fake.requests == []


# --- tokens ------------------------------------------------------------------------------------------------


def test_an_expired_access_token_is_renewed_once_and_stored_encrypted(conn, fake, caplog):
    before = _stored(conn)
    fake.forms = [allegro_form(1)]
    fake.expire_access()
    caplog.set_level(logging.DEBUG)

    run = _import(conn)

    assert (run.outcome, run.created) == ("ok", 1)
    after = _stored(conn)
    assert after["access_token"] != before["access_token"] and after["access_token"] in fake.access_tokens
    assert after["refresh_token"] != before["refresh_token"]  # rotated, and the new one kept
    assert after["client_secret"] == CLIENT_SECRET
    grants = [m for m, p, q in fake.requests if p == "/auth/oauth/token"]
    assert grants == ["POST"]
    text = caplog.text + Connection.objects.get(pk=conn.pk).last_error
    for secret in (before["access_token"], after["access_token"], after["refresh_token"], CLIENT_SECRET):
        assert secret not in text
    assert all("FAKE-" not in json.dumps(q) for _m, _p, q in fake.requests)  # never in a URL


def test_a_token_about_to_expire_is_renewed_before_the_call(conn, fake):
    values = _stored(conn)
    values["expires_at"] = (timezone.now() + dt.timedelta(minutes=2)).isoformat(timespec="seconds")
    Connection.objects.filter(pk=conn.pk).update(credentials_encrypted=crypto.encrypt(values))

    assert services.connection_test(connection_id=conn.pk, actor=None).ok

    assert fake.requests[0][1] == "/auth/oauth/token"
    assert dt.datetime.fromisoformat(_stored(conn)["expires_at"]) > timezone.now() + dt.timedelta(hours=11)


def test_a_refused_renewal_marks_the_connection_and_alerts(conn, fake, make_user):
    from zaplecze.service.models import OutboxEmail

    admin = make_user("admin")
    admin.email, admin.language = "boss@example.com", "en"
    admin.save(update_fields=["email", "language"])
    fake.expire_access()
    fake.refuse_refresh = True

    run = _import(conn)

    assert run.outcome == "failed" and "authorize the connection again" in run.error
    assert Connection.objects.get(pk=conn.pk).status == "auth_failed"
    assert OutboxEmail.objects.filter(kind="integrations_alert").count() == 1
    client = Client()
    client.force_login(admin)
    html = client.get(reverse("integrations:connection", args=[conn.pk])).content.decode()
    assert "Allegro refused the stored access: authorize again." in html

    fake.refuse_refresh = False
    services.connection_authorize_start(connection_id=conn.pk, actor=admin)
    fake.grant()
    assert services.connection_authorize_check(connection_id=conn.pk, actor=admin).state == "granted"
    assert Connection.objects.get(pk=conn.pk).status == "new"
    assert _import(conn).outcome == "ok"


# --- import ------------------------------------------------------------------------------------------------


def test_first_import_pages_the_checkout_forms_and_then_follows_the_journal(conn, fake):
    fake.forms = [allegro_form(i) for i in range(1, 251)]
    fake.forms += [allegro_form(300, status="BOUGHT"), allegro_form(301, status="FILLED_IN")]
    for form in fake.forms[:3]:
        fake.event(form)
    latest = fake.events[-1]["id"]

    run = _import(conn)

    assert (run.outcome, run.pages, run.created, run.unchanged) == ("ok", 3, 250, 2)
    assert Order.objects.filter(channel__code="allegro").count() == 250
    paths = [p for m, p, q in fake.requests if p.startswith("/order")]
    assert paths[0] == "/order/event-stats"  # the journal position is taken before the pages are read
    pages = fake.calls("/order/checkout-forms")
    assert [(q["offset"], q["limit"], q["sort"]) for q in pages] == [
        ("0", "100", "updatedAt"),
        ("100", "100", "updatedAt"),
        ("200", "100", "updatedAt"),
    ]
    cursor = Connection.objects.get(pk=conn.pk).cursor
    assert cursor == f"{fake.events[-1]['occurredAt']}#ev#{latest}"
    assert all(h.get("Accept") == MEDIA for h in fake.headers_seen if "Bearer" in h.get("Authorization", ""))

    again = _import(conn)  # nothing happened on Allegro since
    assert (again.outcome, again.fetched) == ("ok", 0)
    assert fake.calls("/order/events")[-1] == {"from": latest, "limit": "100"}


def test_the_journal_brings_only_the_changed_orders(conn, fake):
    fake.forms = [allegro_form(i) for i in range(1, 6)]
    _import(conn)
    fake.requests.clear()
    shipped, cancelled = fake.forms[2], fake.forms[4]
    fake.change(shipped, fulfillment="SENT")
    fake.change(cancelled, kind="BUYER_CANCELLED", status="CANCELLED")
    new = allegro_form(6, updated=dt.datetime(2026, 11, 21, tzinfo=dt.UTC))
    fake.forms += [new, allegro_form(7, status="BOUGHT")]
    fake.event(fake.forms[-1], "BOUGHT")
    fake.event(new, "READY_FOR_PROCESSING")
    fake.events.append(dict(fake.events[0]))  # a duplicate delivery of an older event
    fake.events[-1]["id"] = str(fake.next_event)
    fake.next_event += 1

    run = _import(conn)

    assert (run.outcome, run.created, run.updated) == ("ok", 1, 2)
    fetched = [p.rsplit("/", 1)[1] for m, p, q in fake.requests if p.startswith("/order/checkout-forms/")]
    assert fetched == [shipped["id"], cancelled["id"], new["id"]]  # once each, never the BOUGHT one
    assert "/order/checkout-forms" not in [p for m, p, q in fake.requests]  # no list read
    stages = dict(Order.objects.values_list("external_id", "stage"))
    assert stages[shipped["id"]] == "shipped" and stages[cancelled["id"]] == "cancelled"
    assert stages[new["id"]] == "ready" and form_id(7) not in stages
    assert Connection.objects.get(pk=conn.pk).cursor.endswith(f"#ev#{fake.events[-1]['id']}")

    # an event arriving late for a version already taken in changes nothing
    fake.event(shipped, "READY_FOR_PROCESSING")
    late = _import(conn)
    assert (late.updated, late.unchanged) == (0, 1)


def test_a_crash_mid_first_import_resumes_at_the_last_committed_page(conn, fake, waits):
    fake.forms = [allegro_form(i) for i in range(1, 251)]
    fake.event(fake.forms[0])
    real = fake.handle

    def down_at_offset_100(method, path, q, body):
        if path == "/order/checkout-forms" and q.get("offset") == "100":
            return 500, {"errors": [{"code": "INTERNAL"}]}, {}
        return real(method, path, q, body)

    fake.handle = down_at_offset_100
    run = _import(conn)

    assert run.outcome == "failed" and "gave up" in run.error
    assert Order.objects.count() == 100
    cursor = Connection.objects.get(pk=conn.pk).cursor
    assert cursor == f"#100#{fake.events[0]['id']}"

    fake.handle = real
    run = _import(conn)

    assert (run.outcome, run.created) == ("ok", 150)
    assert [q["offset"] for q in fake.calls("/order/checkout-forms")][-2:] == ["100", "200"]
    assert Order.objects.count() == 250
    assert Connection.objects.get(pk=conn.pk).cursor.endswith(f"#ev#{fake.events[0]['id']}")


def test_a_crash_in_the_journal_keeps_the_cursor_at_the_last_committed_event(conn, fake, waits):
    fake.forms = [allegro_form(i) for i in range(1, 4)]
    _import(conn)
    cursor = Connection.objects.get(pk=conn.pk).cursor
    fake.change(fake.forms[0], fulfillment="PROCESSING")
    for _ in range(5):
        fake.script(f"/order/checkout-forms/{fake.forms[0]['id']}", 503, "Service Unavailable")

    run = _import(conn)

    assert run.outcome == "failed" and Connection.objects.get(pk=conn.pk).cursor == cursor
    run = _import(conn)
    assert (run.outcome, run.updated) == ("ok", 1)
    assert Order.objects.get(external_id=fake.forms[0]["id"]).stage == "in_fulfilment"


def test_past_offset_10000_the_window_moves_on(conn, fake, monkeypatch):
    monkeypatch.setattr(allegro_module, "OFFSET_LIMIT", 200)
    fake.forms = [allegro_form(i) for i in range(1, 451)]

    run = _import(conn)

    assert (run.outcome, run.created) == ("ok", 450)
    calls = [(q["offset"], q.get("updatedAt.gte")) for q in fake.calls("/order/checkout-forms")]
    assert calls[:2] == [("0", None), ("100", None)]
    assert calls[2] == ("0", fake.forms[199]["updatedAt"])  # from the newest read, offset from 0 again
    assert all(int(o) + 100 <= 200 for o, _ in calls)


def test_the_sample_checkout_form_maps(waits):
    mapped = Allegro(base_url="https://api.allegro.pl", credentials={}, channel="allegro").map_order(TEMPLATE)
    order = mapped.order

    assert (mapped.platform_status, mapped.stage) == ("READY_FOR_PROCESSING/SENT", "shipped")
    assert mapped.modified_at == dt.datetime(2011, 12, 3, 10, 15, 30, 133000, tzinfo=dt.UTC)
    assert (order.external_id, order.currency) == ("29738e61-7f6a-11e8-ac45-09db60ede9d6", "PLN")
    assert (order.customer_name, order.email, order.phone) == (
        "Jan Kowalski",
        "user-email@allegro.pl",
        "123123123",
    )
    assert (order.company, order.nip, order.customer_type) == ("Udix Sp. z o.o.", "1111111111", "business")
    assert order.shipping_address.street == "Grunwaldzka 182" and order.shipping_address.postcode == "60-166"
    assert (order.delivery_method, order.pickup_point) == ("inpost_locker", "POZ08A")
    assert (order.payment_method, order.payment_status) == ("marketplace", "paid")
    assert order.paid_at == dt.datetime(2018, 10, 12, 10, 12, 32, 321000, tzinfo=dt.UTC)
    line = order.lines[0]
    assert (line.sku, line.quantity, line.unit_price_gross, line.vat_rate) == (
        "AH-129834",
        1,
        Decimal("123.45"),
        "23",
    )
    # delivery 123.45 + the carry-in service 123.45; the buyer paid 123.45 in all
    assert (order.shipping_cost, order.total_gross) == (Decimal("246.90"), Decimal("123.45"))
    assert order.computed_total() == order.total_gross
    assert order.placed_at == dt.datetime(2018, 1, 1, 10, 23, 43, 123000, tzinfo=dt.UTC)
    assert "red color" in order.notes and "POZ08A" in order.notes


@pytest.mark.parametrize(
    ("status", "fulfilment", "stage"),
    [
        ("READY_FOR_PROCESSING", "NEW", "ready"),
        ("READY_FOR_PROCESSING", None, "ready"),
        ("READY_FOR_PROCESSING", "PROCESSING", "in_fulfilment"),
        ("READY_FOR_PROCESSING", "READY_FOR_SHIPMENT", "in_fulfilment"),
        ("READY_FOR_PROCESSING", "SENT", "shipped"),
        ("READY_FOR_PROCESSING", "PICKED_UP", "delivered"),
        ("READY_FOR_PROCESSING", "CANCELLED", "cancelled"),
        ("READY_FOR_PROCESSING", "SUSPENDED", None),
        ("CANCELLED", "NEW", "cancelled"),
        ("BOUGHT", None, None),
        ("FILLED_IN", None, None),
    ],
)
def test_status_mapping(status, fulfilment, stage):
    assert map_status(status, fulfilment) == stage


def test_unknown_statuses_are_imported_and_flagged(conn, fake):
    fake.forms = [allegro_form(1, fulfillment="TELEPORTED"), allegro_form(2, status="ON_THE_MOON")]

    run = _import(conn)

    assert (run.outcome, run.created) == ("ok", 2)
    for order in Order.objects.all():
        assert order.needs_attention
        assert "unknown_channel_status" in [r["code"] for r in order.attention_reasons]
    assert (
        ExternalOrder.objects.get(external_id=form_id(1)).platform_status == "READY_FOR_PROCESSING/TELEPORTED"
    )


def test_429_and_5xx_are_retried(conn, fake, waits):
    fake.forms = [allegro_form(1)]
    fake.script(
        "/order/checkout-forms", 429, '{"errors":[{"code":"TOO_MANY_REQUESTS"}]}', {"Retry-After": "3"}
    )
    fake.script("/order/checkout-forms", 502, "Bad Gateway")

    run = _import(conn)

    assert (run.outcome, run.created) == ("ok", 1)
    assert waits[0] == 3.0 and len(waits) == 2


def test_a_malformed_page_is_kept_with_its_body_and_the_retry_reconciles(conn, fake, waits):
    fake.forms = [allegro_form(1)]
    fake.script("/order/checkout-forms", 200, '{"checkoutForms": [{"id": "29738e61-')
    fake.script("/order/checkout-forms", 200, '{"checkoutForms": [{"id": "29738e61-')

    run = _import(conn)

    assert run.outcome == "partial" and Order.objects.count() == 0
    error = SyncError.objects.get()
    assert error.external_id == "" and error.payload == '{"checkoutForms": [{"id": "29738e61-'
    assert "not JSON" in error.message
    retried = services.sync_error_retry(error_id=error.pk, actor=None)
    assert retried.state == "resolved" and Order.objects.count() == 1


def test_a_form_that_cannot_be_taken_in_is_kept_with_its_payload(conn, fake):
    bad = allegro_form(2)
    bad["buyer"]["email"] = "not-an-email"
    fake.forms = [allegro_form(1), bad]

    run = _import(conn)

    assert (run.outcome, run.created, run.errors) == ("partial", 1, 1)
    error = SyncError.objects.get()
    assert error.external_id == bad["id"] and '"not-an-email"' in error.payload
    SyncError.objects.filter(pk=error.pk).update(
        payload=error.payload.replace("not-an-email", "ok@example.com")
    )
    assert services.sync_error_retry(error_id=error.pk, actor=None).state == "resolved"


# --- pushing back ------------------------------------------------------------------------------------------


def test_status_push_sends_the_fulfillment_with_the_revision(conn, fake):
    fake.forms = [allegro_form(1)]
    _import(conn)
    order = Order.objects.get()
    Order.objects.filter(pk=order.pk).update(stage="in_fulfilment")
    fake.script("/fulfillment", 409, '{"errors":[{"code":"CONFLICT","message":"Revision mismatch"}]}')

    pushed = services.order_push_status(order_id=order.pk)

    assert pushed == "READY_FOR_PROCESSING/PROCESSING"
    sample = json.loads((SAMPLES / "fulfillment-put-request.json").read_text())
    method, path, body = fake.bodies[-1]
    assert (method, path) == ("PUT", f"/order/checkout-forms/{order.external_id}/fulfillment")
    assert body == sample  # {"status": "PROCESSING", "shipmentSummary": {"lineItemsSent": "NONE"}}
    assert fake.calls("/fulfillment", "PUT")[-1] == {"checkoutForm.revision": fake.forms[0]["revision"]}
    assert fake.forms[0]["fulfillment"]["status"] == "PROCESSING"

    # the journal reports our own change: the order is left as it is here
    Order.objects.filter(pk=order.pk).update(stage="ready")
    run = _import(conn)
    assert run.outcome == "ok" and Order.objects.get(pk=order.pk).stage == "ready"

    Order.objects.filter(pk=order.pk).update(stage="shipped")
    assert services.order_push_status(order_id=order.pk) == "READY_FOR_PROCESSING/SENT"
    assert fake.bodies[-1][2] == {"status": "SENT", "shipmentSummary": {"lineItemsSent": "ALL"}}


def test_tracking_push_matches_the_sample_request(conn, fake):
    fake.forms = [allegro_form(1)]
    _import(conn)
    order = Order.objects.get()

    assert services.order_push_tracking(order_id=order.pk, carrier="InPost", tracking_number="AD-1239134")
    assert not services.order_push_tracking(order_id=order.pk, carrier="InPost", tracking_number="AD-1239134")

    sample = json.loads((SAMPLES / "shipment-add-request.json").read_text())
    method, path, body = fake.bodies[-1]
    assert (method, path) == ("POST", f"/order/checkout-forms/{order.external_id}/shipments")
    assert set(body) == set(sample) - {"carrierName"}
    assert body == {
        "carrierId": "INPOST",
        "waybill": "AD-1239134",
        "lineItems": [{"id": fake.forms[0]["lineItems"][0]["id"]}],
    }
    services.order_push_tracking(order_id=order.pk, carrier="Kurier Janek", tracking_number="JN-1")
    assert fake.bodies[-1][2]["carrierId"] == "OTHER" and fake.bodies[-1][2]["carrierName"] == "Kurier Janek"


def test_carrier_codes():
    assert [carrier_code(c) for c in ("InPost", "DPD Polska", "Pocztex", "GLS", "Allegro One", "")] == [
        "INPOST",
        "DPD",
        "POCZTA_POLSKA",
        "GLS",
        "ALLEGRO",
        "OTHER",
    ]


def test_offers_stock_and_price(conn, fake):
    fake.offers = [
        {
            "id": "7777777777",
            "name": "Black shoes 41",
            "external": {"id": "AH-129834"},
            "sellingMode": {"price": {"amount": "99.00", "currency": "PLN"}},
            "stock": {"available": 3, "sold": 1},
        },
        {"id": "8888888888", "name": "No signature", "external": None, "stock": {"available": 1}},
    ]
    connector = services.connector_for(Connection.objects.get(pk=conn.pk))
    assert [(o.external_id, o.sku, o.price, o.stock) for o in connector.offers()] == [
        ("7777777777", "AH-129834", "99.00", 3),
        ("8888888888", "", "", 1),
    ]

    assert services.stock_push(connection_id=conn.pk, quantities={"AH-129834": 7, "NOPE": 1}) == {
        "AH-129834": True,
        "NOPE": False,
    }
    assert fake.bodies[-1] == ("PATCH", "/sale/product-offers/7777777777", {"stock": {"available": 7}})
    assert services.price_push(connection_id=conn.pk, prices={"AH-129834": ("120.00", "109.9")}) == {
        "AH-129834": True
    }
    assert fake.bodies[-1][2] == {"sellingMode": {"price": {"amount": "109.90", "currency": "PLN"}}}
    assert fake.offers[0]["stock"]["available"] == 7
    patches = [h for h in fake.headers_seen if h.get("Content-Type") == MEDIA]
    assert len(patches) == 2


# --- webhooks, hosts --------------------------------------------------------------------------------------


def test_a_webhook_for_allegro_is_refused_and_nothing_is_stored(client, conn):
    url = reverse("hooks:receive", args=["allegro", conn.webhook_token])
    response = client.post(url, data=b'{"id": "1"}', content_type="application/json")
    assert response.status_code == 401 and response.json() == {"outcome": "rejected"}
    assert WebhookDelivery.objects.count() == 0
    assert Connection.objects.get(pk=conn.pk).rejected_deliveries == 1


def test_the_authorization_host_follows_the_api_host():
    assert auth_base("https://api.allegro.pl") == "https://allegro.pl"
    assert auth_base("https://api.allegro.pl.allegrosandbox.pl") == "https://allegro.pl.allegrosandbox.pl"
    assert auth_base("http://127.0.0.1:8123") == "http://127.0.0.1:8123"


# --- screens, API, CLI --------------------------------------------------------------------------------------


def test_the_connection_page_runs_the_device_flow(new_connection, fake, make_user, monkeypatch):
    client = Client()
    client.force_login(make_user("organiser"))
    page = reverse("integrations:connection", args=[new_connection.pk])
    start = reverse("integrations:connection_authorize", args=[new_connection.pk])
    check = reverse("integrations:connection_authorize_check", args=[new_connection.pk])

    html = client.get(page).content.decode()
    assert 'data-auth-state="none"' in html and "Authorize on Allegro" in html
    assert "Allegro sends no webhooks" in html

    assert client.post(start).status_code == 302
    html = client.get(page).content.decode()
    assert "cbt3zdu4g" in html and "https://allegro.pl/skojarz-aplikacje?code=cbt3zdu4g" in html
    assert f'hx-post="{check}"' in html and "every 5s" in html

    pending = client.post(check, HTTP_HX_REQUEST="true")
    assert pending.status_code == 200 and 'data-auth-state="pending"' in pending.content.decode()
    fake.grant()
    _later(monkeypatch, 6)
    granted = client.post(check, HTTP_HX_REQUEST="true").content.decode()
    assert 'data-auth-state="granted"' in granted and "access granted" in granted
    assert "FAKE-ACCESS" not in granted and "FAKE-ACCESS" not in client.get(page).content.decode()

    client.post(start)
    fake.deny()
    _later(monkeypatch, 20)
    response = client.post(check, follow=True)
    assert "refused on Allegro" in response.content.decode()


def test_device_flow_views_refuse_other_platforms_and_other_roles(fake_woo, woo_connection, make_user):
    client = Client()
    client.force_login(make_user("organiser"))
    start = reverse("integrations:connection_authorize", args=[woo_connection.pk])
    response = client.post(start, follow=True)
    assert "Only Allegro connections" in response.content.decode()
    assert fake_woo.requests == []

    client.force_login(make_user("warehouse"))
    assert client.post(start).status_code == 403


def test_api_connects_and_authorizes(make_user, fake, waits, monkeypatch):
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token_create(user=make_user('admin'))}")
    body = {
        "channel": "allegro",
        "platform": "allegro",
        "base_url": fake.url,
        "credentials": {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
    }
    created = client.post(f"{API}/connections", data=body, content_type="application/json")
    assert created.status_code == 201, created.content
    cid = created.json()["id"]
    assert CLIENT_SECRET not in created.content.decode()

    started = client.post(f"{API}/connections/{cid}/authorize", data={}, content_type="application/json")
    assert started.status_code == 200 and started.json()["user_code"] == "cbt3zdu4g"
    fake.grant()
    checked = client.post(
        f"{API}/connections/{cid}/authorize/check", data={}, content_type="application/json"
    )
    assert checked.json()["state"] == "granted" and "FAKE" not in checked.content.decode()
    again = client.post(f"{API}/connections/{cid}/authorize/check", data={}, content_type="application/json")
    assert again.status_code == 400 and again.json()["code"] == "not_started"

    fake.forms = [allegro_form(1)]
    run = client.post(f"{API}/connections/{cid}/sync", data={}, content_type="application/json").json()
    assert (run["outcome"], run["created"]) == ("ok", 1)


def test_cli_test_and_sync(conn, fake):
    fake.forms = [allegro_form(1), allegro_form(2)]
    runner = CliRunner()
    result = runner.invoke(main, ["channels", "test", "allegro"])
    assert result.exit_code == 0 and "allegro: OK — Allegro: 2 orders" in result.output

    result = runner.invoke(main, ["channels", "sync", "allegro", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["created"] == 2

    fake.expire_access()
    fake.refuse_refresh = True
    result = runner.invoke(main, ["channels", "test", "allegro"])
    assert result.exit_code == 1 and "refused" in result.output


@pytest.mark.django_db(transaction=True)
def test_stock_and_price_changes_reach_the_allegro_offer_in_one_patch(fake, waits, product_factory):
    from zaplecze.catalog.prices import price_set
    from zaplecze.integrations.models import PendingPush
    from zaplecze.inventory.services import stock_adjust, warehouse_default

    connection = services.connection_create(
        channel_code="allegro",
        platform="allegro",
        base_url=fake.url,
        credentials={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
        actor=None,
    )
    Connection.objects.filter(pk=connection.pk).update(
        credentials_encrypted=crypto.encrypt(fake.credentials())
    )
    fake.offers = [
        {
            "id": "7777777777",
            "external": {"id": "MUG-1"},
            "sellingMode": {"price": {"amount": "49.99", "currency": "PLN"}},
            "stock": {"available": 10},
        }
    ]
    mug = product_factory(sku="MUG-1", price="49.99", stock=10)
    PendingPush.objects.all().delete()

    stock_adjust(variant=mug, warehouse=warehouse_default(), delta=-3, reason="broken")
    price_set(mug, price=Decimal("39.99"))
    run = services.connection_push(connection_id=connection.pk)

    assert (run.kind, run.outcome, run.updated) == ("push", "ok", 1)
    patches = [b for m, p, b in fake.bodies if m == "PATCH"]
    assert patches == [
        {"stock": {"available": 7}, "sellingMode": {"price": {"amount": "39.99", "currency": "PLN"}}}
    ]
    assert fake.calls("/sale/offers") == [{"external.id": "MUG-1", "limit": "1000"}]
