"""Screens, API and CLI of integrations; credentials encrypted at rest and never shown again."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from django.test import Client
from django.urls import reverse

from zaplecze.cli import main
from zaplecze.core.services import token_create
from zaplecze.integrations import crypto
from zaplecze.integrations.models import Connection, SyncError, SyncRun
from zaplecze.orders.models import Order

from .conftest import WEBHOOK_SECRET
from .fake_woo import KEY, SECRET, woo_order

API = "/api/v1/integrations"


def test_credentials_are_encrypted_at_rest_and_only_the_last_4_are_shown(woo_connection, admin_client):
    stored = Connection.objects.get(pk=woo_connection.pk).credentials_encrypted
    assert KEY not in stored and SECRET not in stored and WEBHOOK_SECRET not in stored
    assert crypto.decrypt(stored) == {
        "consumer_key": KEY,
        "consumer_secret": SECRET,
        "webhook_secret": WEBHOOK_SECRET,
    }
    for url in (
        reverse("integrations:connections"),
        reverse("integrations:connection", args=[woo_connection.pk]),
        reverse("integrations:connection_edit", args=[woo_connection.pk]),
    ):
        html = admin_client.get(url).content.decode()
        assert SECRET not in html and KEY not in html and WEBHOOK_SECRET not in html
    assert (
        "•••• cdef"
        in admin_client.get(reverse("integrations:connection", args=[woo_connection.pk])).content.decode()
    )


def test_a_key_from_the_environment_is_used_and_a_wrong_one_is_a_clear_error(settings, woo_connection):
    from cryptography.fernet import Fernet

    crypto._fernet.cache_clear()
    try:
        settings.CREDENTIALS_KEY = Fernet.generate_key().decode()
        token = crypto.encrypt({"a": "b"})
        assert crypto.decrypt(token) == {"a": "b"}
        with pytest.raises(Exception, match="cannot be decrypted"):
            crypto.decrypt(Connection.objects.get(pk=woo_connection.pk).credentials_encrypted)
        # rotation: the new key first, the old one still decrypts
        old = settings.CREDENTIALS_KEY
        settings.CREDENTIALS_KEY = f"{Fernet.generate_key().decode()},{old}"
        crypto._fernet.cache_clear()
        assert crypto.decrypt(token) == {"a": "b"}
    finally:
        crypto._fernet.cache_clear()


def test_connect_form_saves_and_the_test_button_reports(admin_client, fake_woo, waits):
    response = admin_client.post(
        reverse("integrations:connection_new"),
        {
            "channel": "shop",
            "platform": "woocommerce",
            "base_url": fake_woo.url,
            "consumer_key": KEY,
            "consumer_secret": SECRET,
            "webhook_secret": WEBHOOK_SECRET,
            "window": "7",
            "enabled": "on",
        },
    )
    conn = Connection.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "integrations:connection", args=[conn.pk]
    )
    assert conn.first_import_since is not None

    fake_woo.orders = [woo_order(1)]
    page = admin_client.post(reverse("integrations:connection_test", args=[conn.pk]), follow=True)
    assert "WooCommerce: 1 orders" in page.content.decode()
    assert Connection.objects.get().status == "ok"


def test_connect_form_errors_name_the_field(admin_client):
    response = admin_client.post(
        reverse("integrations:connection_new"),
        {"channel": "shop", "platform": "woocommerce", "base_url": "http://shop.example", "window": "7"},
    )
    assert response.status_code == 200
    assert "must start with https://" in response.content.decode()
    response = admin_client.post(
        reverse("integrations:connection_new"),
        {"channel": "shop", "platform": "woocommerce", "base_url": "https://shop.example", "window": "7"},
    )
    assert "Consumer key is required" in response.content.decode()
    assert Connection.objects.count() == 0


def test_editing_with_empty_secrets_keeps_them(admin_client, woo_connection):
    admin_client.post(
        reverse("integrations:connection_edit", args=[woo_connection.pk]),
        {"base_url": woo_connection.base_url, "consumer_secret": "cs_new_value_9999", "enabled": ""},
    )
    conn = Connection.objects.get()
    assert crypto.decrypt(conn.credentials_encrypted)["consumer_key"] == KEY
    assert crypto.decrypt(conn.credentials_encrypted)["consumer_secret"] == "cs_new_value_9999"
    assert conn.enabled is False


def test_panel_shows_health_and_the_error_retry_button_works(
    admin_client, fake_woo, woo_connection, django_assert_max_num_queries
):
    bad = woo_order(2)
    bad["billing"]["email"] = "broken"
    fake_woo.orders = [woo_order(1), bad]
    admin_client.post(reverse("integrations:connection_sync", args=[woo_connection.pk]))
    assert Order.objects.count() == 1

    with django_assert_max_num_queries(15):
        html = admin_client.get(reverse("integrations:connections")).content.decode()
    assert "Sklep internetowy" in html and "data-connection-id" in html
    errors = admin_client.get(reverse("integrations:connection", args=[woo_connection.pk]) + "?tab=errors")
    assert "broken" in errors.content.decode() and "Retry" in errors.content.decode()

    error = SyncError.objects.get()
    SyncError.objects.filter(pk=error.pk).update(
        payload=error.payload.replace('"broken"', '"fixed@example.com"')
    )
    admin_client.post(reverse("integrations:error_retry", args=[error.pk]))
    assert SyncError.objects.get().state == "resolved" and Order.objects.count() == 2


@pytest.mark.parametrize("role", ["warehouse", "service", "readonly", "marketing"])
def test_other_roles_cannot_see_or_change_connections(role, make_user, woo_connection):
    client = Client()
    client.force_login(make_user(role))
    assert client.get(reverse("integrations:connections")).status_code == 403
    assert client.post(reverse("integrations:connection_sync", args=[woo_connection.pk])).status_code == 403
    assert SyncRun.objects.count() == 0


def test_api_connect_test_sync_runs_errors(make_user, fake_woo, waits):
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token_create(user=make_user('admin'))}")
    body = {
        "channel": "shop",
        "platform": "woocommerce",
        "base_url": fake_woo.url,
        "credentials": {"consumer_key": KEY, "consumer_secret": SECRET},
    }
    created = client.post(f"{API}/connections", data=body, content_type="application/json")
    assert created.status_code == 201, created.content
    out = created.json()
    assert out["credentials"] == "•••• cdef" and SECRET not in created.content.decode()
    cid = out["id"]

    fake_woo.orders = [woo_order(1), woo_order(2)]
    test = client.post(f"{API}/connections/{cid}/test", data={}, content_type="application/json")
    assert test.json() == {"ok": True, "message": "WooCommerce: 2 orders"}
    run = client.post(f"{API}/connections/{cid}/sync", data={}, content_type="application/json").json()
    assert (run["outcome"], run["created"]) == ("ok", 2)
    runs = client.get(f"{API}/connections/{cid}/runs").json()
    assert [r["kind"] for r in runs] == ["import", "test"]
    assert client.get(f"{API}/connections/{cid}/errors").json() == []
    listed = client.get(f"{API}/connections").json()
    assert listed[0]["imported_today"] == 2 and listed[0]["status"] == "ok"

    dup = client.post(f"{API}/connections", data=body, content_type="application/json")
    assert dup.status_code == 400 and dup.json()["field"] == "channel"
    extra = client.post(f"{API}/connections", data={**body, "token": "x"}, content_type="application/json")
    assert extra.status_code == 422


def test_api_refuses_a_readonly_token(make_user, woo_connection):
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token_create(user=make_user('readonly'))}")
    assert client.get(f"{API}/connections").status_code == 403
    assert (
        client.post(
            f"{API}/connections/{woo_connection.pk}/sync", data={}, content_type="application/json"
        ).status_code
        == 403
    )


def test_cli_sync_and_test(fake_woo, woo_connection):
    fake_woo.orders = [woo_order(1)]
    runner = CliRunner()
    result = runner.invoke(main, ["channels", "test", "shop"])
    assert result.exit_code == 0 and "shop: OK — WooCommerce: 1 orders" in result.output

    result = runner.invoke(main, ["channels", "sync", "shop", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["created"] == 1

    result = runner.invoke(main, ["channels", "sync", "shop", "--since", "2026-11-01"])
    assert result.exit_code == 0 and "unchanged 1" in result.output
    assert fake_woo.calls("/orders")[-1]["modified_after"] == "2026-11-01T00:00:00"

    assert runner.invoke(main, ["channels", "sync", "nope"]).exit_code == 1
    assert "is not a date" in runner.invoke(main, ["channels", "sync", "shop", "--since", "yesterday"]).output

    fake_woo.secret = "rotated"
    result = runner.invoke(main, ["channels", "test", "shop"])
    assert result.exit_code == 1 and "refused the credentials" in result.output
