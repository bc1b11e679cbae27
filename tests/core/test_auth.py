"""Login, logout, password change, login throttling (django-axes), session fixation, idle timeout, tokens."""

import logging
from types import SimpleNamespace

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse

from zaplecze.core import middleware
from zaplecze.core.services import token_create, token_revoke

pytestmark = pytest.mark.django_db

PASSWORD = "Correct-Horse-9"


def login(client, username, password=PASSWORD):
    return client.post(reverse("login"), {"username": username, "password": password})


def logged_in_user_id(client):
    return client.session.get("_auth_user_id")


def test_login_with_the_right_password(make_user):
    user = make_user("organiser")
    client = Client()

    response = login(client, user.username)

    assert response.status_code == 302
    assert response["Location"] == reverse("today:index")
    assert logged_in_user_id(client) == str(user.pk)


def test_login_with_a_wrong_password_is_refused(make_user):
    user = make_user("organiser")
    client = Client()
    response = login(client, user.username, "wrong-password")
    assert response.status_code == 200
    assert logged_in_user_id(client) is None


def test_five_failures_lock_the_login_even_with_the_right_password(make_user):
    user = make_user("organiser")
    client = Client()
    for _ in range(5):
        login(client, user.username, "wrong-password")

    response = login(client, user.username)

    assert response.status_code == 429
    assert logged_in_user_id(client) is None


def test_a_success_resets_the_failure_count(make_user):
    user = make_user("organiser")
    client = Client()
    for _ in range(4):
        login(client, user.username, "wrong-password")
    assert login(client, user.username).status_code == 302
    client.post(reverse("logout"))
    for _ in range(4):
        login(client, user.username, "wrong-password")

    response = login(client, user.username)

    assert response.status_code == 302
    assert logged_in_user_id(client) == str(user.pk)


def test_login_gives_a_new_session_id(make_user):
    user = make_user("organiser")
    client = Client()
    session = client.session
    session["planted"] = "by an attacker"
    session.save()
    client.cookies[settings.SESSION_COOKIE_NAME] = session.session_key
    planted = session.session_key

    login(client, user.username)

    assert client.cookies[settings.SESSION_COOKIE_NAME].value != planted
    assert not Session.objects.filter(session_key=planted).exists()


def test_logout_needs_post_and_ends_the_server_session(make_user):
    user = make_user("organiser")
    client = Client()
    login(client, user.username)
    key = client.cookies[settings.SESSION_COOKIE_NAME].value

    assert client.get(reverse("logout")).status_code == 405
    assert logged_in_user_id(client) == str(user.pk)
    response = client.post(reverse("logout"))

    assert response.status_code == 302
    assert not Session.objects.filter(session_key=key).exists()
    replay = Client()
    replay.cookies[settings.SESSION_COOKIE_NAME] = key  # the old cookie, e.g. copied before logout
    assert replay.get(reverse("web:dashboard")).status_code == 302


def test_password_change_keeps_this_session_and_ends_the_others(make_user):
    user = make_user("organiser")
    here, elsewhere = Client(), Client()
    login(here, user.username)
    login(elsewhere, user.username)

    response = here.post(
        reverse("password_change"),
        {"old_password": PASSWORD, "new_password1": "Another-Horse-77", "new_password2": "Another-Horse-77"},
    )

    assert response.status_code == 302
    assert here.get(reverse("web:dashboard")).status_code == 200
    assert elsewhere.get(reverse("web:dashboard")).status_code == 302
    user.refresh_from_db()
    assert user.check_password("Another-Horse-77")


def test_password_change_needs_the_old_password(make_user):
    user = make_user("organiser")
    client = Client()
    login(client, user.username)
    response = client.post(
        reverse("password_change"),
        {"old_password": "guess", "new_password1": "Another-Horse-77", "new_password2": "Another-Horse-77"},
    )
    assert response.status_code == 200
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_an_idle_session_is_logged_out(make_user, settings, monkeypatch):
    settings.IDLE_TIMEOUT_SECONDS = 60
    clock = SimpleNamespace(now=1_000_000.0)
    monkeypatch.setattr(middleware, "time", SimpleNamespace(time=lambda: clock.now))
    user = make_user("organiser")
    client = Client()
    client.force_login(user)

    assert client.get(reverse("web:dashboard")).status_code == 200
    clock.now += 59
    assert client.get(reverse("web:dashboard")).status_code == 200  # activity moves the idle window
    clock.now += 61
    response = client.get(reverse("web:dashboard"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    assert logged_in_user_id(client) is None


# --- API tokens -------------------------------------------------------------------------------------


def test_a_revoked_token_is_refused(make_user):
    user = make_user("organiser")
    raw = token_create(user=user)
    client = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert client.get("/api/v1/me").status_code == 200

    token_revoke(token_id=user.api_tokens.get().pk, actor=user)

    assert client.get("/api/v1/me").status_code == 401


def test_a_deactivated_users_token_is_refused(make_user):
    user = make_user("organiser")
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token_create(user=user)}")
    user.is_active = False
    user.save(update_fields=["is_active"])
    assert client.get("/api/v1/me").status_code == 401


def test_only_a_hash_of_the_token_is_stored(make_user):
    user = make_user("organiser")
    raw = token_create(user=user)
    stored = user.api_tokens.get()
    assert raw not in (stored.digest, stored.prefix, stored.name)
    assert len(raw) > 40


def test_tokens_are_never_logged(make_user, settings, caplog):
    settings.DEBUG = True  # the noisiest setting: Ninja's bearer auth logs odd headers in DEBUG
    caplog.set_level(logging.DEBUG)
    user = make_user("warehouse")
    raw = token_create(user=user)

    for header in (f"Bearer {raw}", f"Token {raw}", f"bearer {raw}x", raw):
        client = Client(HTTP_AUTHORIZATION=header)
        client.get("/api/v1/me")
        client.post(
            "/api/v1/orders/tags", data={"order_ids": [1], "add": ["x"]}, content_type="application/json"
        )
        client.get("/api/v1/orders/999")

    assert caplog.records  # the requests were logged (401/403/404), just not the token
    logged = "\n".join(f"{r.getMessage()} {r.args!r} {r.__dict__!r}" for r in caplog.records)
    assert raw not in logged
    assert raw[12:] not in logged


def test_a_token_from_the_cli_works_for_its_user_only(make_user):
    from click.testing import CliRunner

    from zaplecze.cli import main

    user = make_user("warehouse")
    result = CliRunner().invoke(main, ["token", "create", user.username])

    assert result.exit_code == 0, result.output
    raw = result.output.strip()
    assert result.output == raw + "\n"  # only the token on stdout
    me = Client(HTTP_AUTHORIZATION=f"Bearer {raw}").get("/api/v1/me")
    assert (me.status_code, me.json()["username"], me.json()["role"]) == (200, user.username, "warehouse")
