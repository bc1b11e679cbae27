"""Stock and prices out to the channels: inventory and catalog changes become pending pushes after commit
(one per connection, variant and kind), drained in batches to the fake WooCommerce and the fake Shopify.

Transactional tests: the pending pushes are written by after-commit callbacks, so the commits are real."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from click.testing import CliRunner
from django.db import transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from zaplecze.catalog.prices import price_set, prices_apply_due, promotion_set
from zaplecze.integrations import services
from zaplecze.integrations.connectors import shopify as shopify_module
from zaplecze.integrations.models import Connection, PendingPush, SyncError, SyncRun
from zaplecze.inventory.services import stock_adjust, warehouse_default

from .conftest import WEBHOOK_SECRET
from .fake_shopify import PRIMARY_LOCATION, TOKEN, FakeShopify, shopify_product
from .fake_woo import KEY, SECRET, woo_order

pytestmark = pytest.mark.django_db(transaction=True)

WOO_PRODUCT_PATH = "/wp-json/wc/v3/products/501"


@pytest.fixture
def fake_shopify():
    server = FakeShopify().start()
    yield server
    server.stop()


@pytest.fixture
def shops(fake_woo, fake_shopify, waits):
    """Both connections, and one SKU "MUG-1" (10 in stock, 49.99) known to both shops; nothing pending."""
    shopify_module._sku_maps.clear()
    woo = services.connection_create(
        channel_code="shop",
        platform="woocommerce",
        base_url=fake_woo.url,
        credentials={"consumer_key": KEY, "consumer_secret": SECRET, "webhook_secret": WEBHOOK_SECRET},
        actor=None,
    )
    shop = services.connection_create(
        channel_code="other",
        platform="shopify",
        base_url=fake_shopify.url,
        credentials={"access_token": TOKEN},
        actor=None,
    )
    fake_woo.products = [
        {
            "id": 501,
            "sku": "MUG-1",
            "parent_id": 0,
            "type": "simple",
            "manage_stock": True,
            "stock_quantity": 0,
        }
    ]
    fake_shopify.products = [shopify_product(1, ["MUG-1"])]
    yield woo, shop
    shopify_module._sku_maps.clear()


@pytest.fixture
def mug(shops, product_factory):
    variant = product_factory(sku="MUG-1", price="49.99", stock=10)
    PendingPush.objects.all().delete()  # the setup's own receipt is not what these tests are about
    return variant


def _drain(connection, **kw):
    return services.connection_push(connection_id=connection.pk, **kw)


def _woo_puts(fake_woo):
    return [b for m, p, b in fake_woo.bodies if m == "PUT" and p == WOO_PRODUCT_PATH]


def _shopify_sets(fake_shopify):
    return [b for m, p, b in fake_shopify.bodies if p.endswith("inventory_levels/set.json")]


def _shopify_prices(fake_shopify):
    return [b["variant"] for m, p, b in fake_shopify.bodies if "/variants/" in p]


def _pending():
    return sorted(PendingPush.objects.values_list("connection__channel__code", "variant__sku", "what"))


def test_a_stock_adjustment_is_one_batched_push_per_connection(fake_woo, fake_shopify, shops, mug):
    woo, shop = shops
    stock_adjust(variant=mug, warehouse=warehouse_default(), delta=-3, reason="broken")
    assert _pending() == [("other", "MUG-1", "stock"), ("shop", "MUG-1", "stock")]

    woo_run, shop_run = _drain(woo), _drain(shop)

    assert _woo_puts(fake_woo) == [{"manage_stock": True, "stock_quantity": 7}]
    assert _shopify_sets(fake_shopify) == [
        {"location_id": PRIMARY_LOCATION, "inventory_item_id": 800000101, "available": 7}
    ]
    assert _shopify_prices(fake_shopify) == []  # only stock changed
    for run in (woo_run, shop_run):
        assert (run.kind, run.outcome, run.fetched, run.updated, run.errors) == ("push", "ok", 1, 1, 0)
    assert _pending() == []
    assert _drain(woo).fetched == 0 and len(_woo_puts(fake_woo)) == 1  # nothing left, nothing sent again


def test_an_imported_order_reserving_stock_pushes_the_new_available(fake_woo, fake_shopify, shops, mug):
    woo, shop = shops
    fake_woo.orders = [woo_order(1, sku="MUG-1")]  # one MUG-1 (and an unknown line)
    services.connection_sync(connection_id=woo.pk)
    assert _pending() == [("other", "MUG-1", "stock"), ("shop", "MUG-1", "stock")]

    _drain(woo)
    _drain(shop)
    assert _woo_puts(fake_woo) == [{"manage_stock": True, "stock_quantity": 9}]
    assert fake_shopify.levels == {(800000101, PRIMARY_LOCATION): 9}


def test_an_order_taken_in_by_hand_and_cancelled_pushes_each_time(fake_shopify, shops, mug, ingest):
    from zaplecze.orders.services import order_transition

    _woo, shop = shops
    order = ingest(
        channel="manual",
        lines=[{"sku": "MUG-1", "name": "Mug", "quantity": 4, "unit_price_gross": "49.99", "vat_rate": "23"}],
    )
    _drain(shop)
    order_transition(order_id=order.order.pk, status_code="cancelled", actor=None)
    _drain(shop)
    assert [b["available"] for b in _shopify_sets(fake_shopify)] == [6, 10]


def test_a_hundred_movements_of_one_sku_are_one_push(fake_woo, fake_shopify, shops, mug):
    woo, shop = shops
    for _ in range(100):
        stock_adjust(variant=mug, warehouse=warehouse_default(), delta=1, kind="receipt")
    assert PendingPush.objects.count() == 2

    _drain(woo)
    _drain(shop)
    assert _woo_puts(fake_woo) == [{"manage_stock": True, "stock_quantity": 110}]
    assert [b["available"] for b in _shopify_sets(fake_shopify)] == [110]


def test_a_price_change_pushes_the_price(fake_woo, fake_shopify, shops, mug):
    woo, shop = shops
    price_set(mug, price=Decimal("39.99"))
    assert _pending() == [("other", "MUG-1", "price"), ("shop", "MUG-1", "price")]

    _drain(woo)
    _drain(shop)
    assert _woo_puts(fake_woo) == [{"regular_price": "39.99", "sale_price": ""}]
    assert _shopify_prices(fake_shopify) == [{"id": 800000101, "price": "39.99", "compare_at_price": None}]
    assert _shopify_sets(fake_shopify) == []

    price_set(mug, price=Decimal("39.99"))  # the same price again is no change
    assert _pending() == []


def test_a_channel_price_goes_to_that_channel_only(fake_woo, fake_shopify, shops, mug):
    from zaplecze.catalog.models import Offer

    woo, shop = shops
    Offer.objects.create(variant=mug, channel="other")
    price_set(mug, price=Decimal("45.00"), channel="other")
    assert _pending() == [("other", "MUG-1", "price")]
    _drain(shop)
    assert _shopify_prices(fake_shopify) == [{"id": 800000101, "price": "45.00", "compare_at_price": None}]


def test_a_scheduled_promotion_is_pushed_when_it_becomes_due(fake_woo, fake_shopify, shops, mug):
    woo, shop = shops
    start = timezone.now() + dt.timedelta(hours=1)
    end = start + dt.timedelta(days=7)
    promotion_set(mug, price="29.99", start=start, end=end)
    assert _pending() == []  # scheduled, not in effect yet

    due = start + dt.timedelta(minutes=1)
    assert prices_apply_due(now=due) == 1
    assert _pending() == [("other", "MUG-1", "price"), ("shop", "MUG-1", "price")]
    assert prices_apply_due(now=due) == 0  # the worker runs it again: nothing new
    _drain(woo, now=due)
    _drain(shop, now=due)
    assert _woo_puts(fake_woo) == [{"regular_price": "49.99", "sale_price": "29.99"}]
    assert _shopify_prices(fake_shopify) == [{"id": 800000101, "price": "29.99", "compare_at_price": "49.99"}]

    over = end + dt.timedelta(minutes=1)
    prices_apply_due(now=over)  # the promotion ends: the regular price comes back without a strike-through
    _drain(woo, now=over)
    _drain(shop, now=over)
    assert _woo_puts(fake_woo)[-1] == {"regular_price": "49.99", "sale_price": ""}
    assert _shopify_prices(fake_shopify)[-1] == {"id": 800000101, "price": "49.99", "compare_at_price": None}


def test_a_platform_5xx_leaves_the_item_pending_and_a_later_run_sends_it(fake_woo, shops, mug, waits):
    woo, _shop = shops
    stock_adjust(variant=mug, warehouse=warehouse_default(), delta=-1)
    for _ in range(5):  # the client's first try and its 4 retries
        fake_woo.script("/products", 503, '{"code":"unavailable"}')

    run = _drain(woo)
    assert (run.outcome, run.updated, run.errors) == ("partial", 0, 1)
    row = PendingPush.objects.get(connection=woo)
    assert row.attempts == 1 and row.next_try_at > timezone.now() and "503" in row.last_error
    error = SyncError.objects.get(connection=woo)
    assert error.external_id == "sku:MUG-1" and error.state == "open"
    assert _drain(woo).fetched == 0  # backing off: not due yet

    later = timezone.now() + dt.timedelta(minutes=2)
    run = _drain(woo, now=later)
    assert (run.outcome, run.updated) == ("ok", 1)
    assert _woo_puts(fake_woo) == [{"manage_stock": True, "stock_quantity": 9}]
    assert not PendingPush.objects.filter(connection=woo).exists()
    assert SyncError.objects.get(pk=error.pk).state == "resolved"


def test_the_retry_button_of_a_push_error_pushes_again(fake_woo, shops, mug, admin_client, waits):
    woo, _shop = shops
    stock_adjust(variant=mug, warehouse=warehouse_default(), delta=-1)
    for _ in range(5):
        fake_woo.script("/products", 500)
    _drain(woo)
    error = SyncError.objects.get(connection=woo)

    admin_client.post(reverse("integrations:error_retry", args=[error.pk]))
    assert SyncError.objects.get(pk=error.pk).state == "resolved"
    assert _woo_puts(fake_woo)[-1] == {
        "manage_stock": True,
        "stock_quantity": 9,
        "regular_price": "49.99",
        "sale_price": "",
    }


def test_an_unknown_sku_is_reported_once_and_not_retried(fake_woo, fake_shopify, shops, product_factory):
    woo, shop = shops
    ghost = product_factory(sku="GHOST-1", stock=0)
    stock_adjust(variant=ghost, warehouse=warehouse_default(), delta=5)
    for conn in shops:
        run = _drain(conn)
        assert (run.outcome, run.updated, run.errors) == ("partial", 0, 1)
    assert _pending() == []  # dropped, not retried every minute
    errors = SyncError.objects.filter(external_id="sku:GHOST-1", state="open")
    assert errors.count() == 2 and "no product or variant with this SKU" in errors.first().message

    stock_adjust(variant=ghost, warehouse=warehouse_default(), delta=1)  # a later change tries again
    _drain(woo)
    assert SyncError.objects.filter(connection=woo, external_id="sku:GHOST-1").count() == 1
    assert SyncError.objects.get(connection=woo, external_id="sku:GHOST-1").attempts == 2


def test_a_disabled_connection_gets_nothing(fake_woo, fake_shopify, shops, mug):
    from zaplecze.integrations import tasks

    woo, shop = shops
    services.connection_update(connection_id=shop.pk, enabled=False, actor=None)
    stock_adjust(variant=mug, warehouse=warehouse_default(), delta=-2)
    price_set(mug, price=Decimal("44.00"))
    assert _pending() == [("shop", "MUG-1", "price"), ("shop", "MUG-1", "stock")]

    tasks.push_periodic.call_local()
    assert _woo_puts(fake_woo) == [
        {"manage_stock": True, "stock_quantity": 8, "regular_price": "44.00", "sale_price": ""}
    ]
    assert fake_shopify.bodies == []
    assert not SyncRun.objects.filter(connection=shop).exists()


def test_nothing_is_pushed_from_a_rolled_back_transaction(shops, mug):
    with pytest.raises(RuntimeError), transaction.atomic():
        stock_adjust(variant=mug, warehouse=warehouse_default(), delta=-3)
        price_set(mug, price=Decimal("19.99"))
        raise RuntimeError("rolled back")
    assert _pending() == []

    with transaction.atomic():  # a rolled-back savepoint inside a committed transaction
        stock_adjust(variant=mug, warehouse=warehouse_default(), delta=-1)
        try:
            with transaction.atomic():
                price_set(mug, price=Decimal("19.99"))
                raise RuntimeError("savepoint rolled back")
        except RuntimeError:
            pass
    assert _pending() == [("other", "MUG-1", "stock"), ("shop", "MUG-1", "stock")]


def test_the_periodic_task_drains_every_enabled_connection(fake_woo, fake_shopify, shops, mug):
    from zaplecze.integrations import tasks

    stock_adjust(variant=mug, warehouse=warehouse_default(), delta=-4)
    tasks.push_periodic.call_local()
    assert _woo_puts(fake_woo) == [{"manage_stock": True, "stock_quantity": 6}]
    assert [b["available"] for b in _shopify_sets(fake_shopify)] == [6]
    tasks.push_periodic.call_local()  # nothing due: no run at all
    assert SyncRun.objects.filter(kind="push").count() == 2


def test_push_all_from_the_api_the_cli_and_the_screen(
    fake_woo, fake_shopify, shops, mug, make_user, admin_client
):
    woo, shop = shops
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token_create_for(make_user('admin', 'api-admin'))}")
    response = client.post(
        f"/api/v1/integrations/connections/{shop.pk}/push",
        data={"all": True},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    run = response.json()
    assert (run["kind"], run["outcome"], run["fetched"], run["updated"]) == ("push", "ok", 1, 1)
    assert _shopify_sets(fake_shopify)[-1]["available"] == 10
    assert _shopify_prices(fake_shopify)[-1] == {"id": 800000101, "price": "49.99", "compare_at_price": None}

    result = CliRunner().invoke(_cli(), ["channels", "push", "shop", "--all", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) | {"error": ""} == {
        "outcome": "ok",
        "batches": 1,
        "skus": 1,
        "sent": 1,
        "errors": 0,
        "error": "",
        "pending": 0,
    }
    assert _woo_puts(fake_woo) == [
        {"manage_stock": True, "stock_quantity": 10, "regular_price": "49.99", "sale_price": ""}
    ]

    page = admin_client.get(reverse("integrations:connection", args=[woo.pk])).content.decode()
    assert "Push stock and prices now" in page
    assert "0 changes waiting" in page
    response = admin_client.post(reverse("integrations:connection_push", args=[woo.pk]), {"all": "1"})
    assert response.status_code == 302
    assert len(_woo_puts(fake_woo)) == 2  # the task ran (immediate mode in tests)


def test_a_readonly_user_cannot_push(shops, make_user):
    woo, _shop = shops
    client = Client()
    client.force_login(make_user("readonly"))
    assert client.post(reverse("integrations:connection_push", args=[woo.pk])).status_code == 403
    api = Client(HTTP_AUTHORIZATION=f"Bearer {token_create_for(make_user('readonly', 'ro-api'))}")
    assert (
        api.post(
            f"/api/v1/integrations/connections/{woo.pk}/push", data={}, content_type="application/json"
        ).status_code
        == 403
    )
    assert not SyncRun.objects.exists()


def token_create_for(user):
    from zaplecze.core.services import token_create

    return token_create(user=user)


def _cli():
    from zaplecze.cli import main

    return main


def test_credentials_refused_stop_the_push_and_keep_the_items(fake_woo, shops, mug):
    woo, _shop = shops
    stock_adjust(variant=mug, warehouse=warehouse_default(), delta=-1)
    fake_woo.key = "ck_other"
    run = _drain(woo)
    assert run.outcome == "failed"
    assert Connection.objects.get(pk=woo.pk).status == "auth_failed"
    assert _pending() == [("other", "MUG-1", "stock"), ("shop", "MUG-1", "stock")]


def test_after_commit_notices_are_gathered_into_one_call_per_transaction():
    from zaplecze.core import aftercommit, extensions

    calls = []
    extensions.register("test.changed", "spy", lambda ids, *key: calls.append((ids, key)))
    try:
        aftercommit.notify("test.changed", [3])  # autocommit: at once
        assert calls == [([3], ())]
        calls.clear()

        with transaction.atomic():
            for i in (5, 1, 5):
                with transaction.atomic():  # each write in its own savepoint, as the services do
                    aftercommit.notify("test.changed", [i])
            aftercommit.notify("test.changed", [2], "shop")
            assert calls == []  # nothing before the commit
        assert calls == [([1, 5], ()), ([2], ("shop",))]
        calls.clear()

        with pytest.raises(RuntimeError), transaction.atomic():
            aftercommit.notify("test.changed", [7])
            raise RuntimeError
        with transaction.atomic():
            aftercommit.notify("test.changed", [8])
        assert calls == [([8], ())]  # the rolled-back 7 is gone, not carried into the next transaction
    finally:
        extensions._points.pop("test.changed", None)


def test_a_bounded_run_leaves_the_rest_for_the_next_and_the_cli_shows_progress(
    fake_woo, fake_shopify, shops, product_factory, monkeypatch
):
    from zaplecze.integrations import push

    woo, shop = shops
    fake_shopify.products = [shopify_product(1, ["A-1", "A-2", "A-3"])]
    for sku in ("A-1", "A-2", "A-3"):
        product_factory(sku=sku, stock=2)
    monkeypatch.setattr(push, "BATCH", 1)

    run = _drain(shop, max_batches=2)
    assert (run.pages, run.fetched, run.updated) == (2, 2, 2)
    assert PendingPush.objects.filter(connection=shop).count() == 1

    result = CliRunner().invoke(_cli(), ["channels", "push", "other"])
    assert result.exit_code == 0, result.output
    assert "other: 1 pending pushes" in result.output
    assert "  batch 1: sent 1, not found 0, failed 0" in result.output
    assert "other: ok — 1 SKUs in 1 batches, sent 1, errors 0, still due 0" in result.output
    assert sorted(b["inventory_item_id"] for b in _shopify_sets(fake_shopify)) == [
        800000101,
        800000102,
        800000103,
    ]
