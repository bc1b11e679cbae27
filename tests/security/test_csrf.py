"""CSRF: every cookie-authenticated change needs the token; API calls authenticate with a bearer token and
send no cookies, so they need none (and a browser session is not accepted by the API)."""

import pytest
from django.test import Client
from django.urls import reverse

from zaplecze.core.permissions import Role

from .support import db_state
from .urlwalk import walk

pytestmark = pytest.mark.django_db

# Machine-to-machine endpoints (carrier webhooks): no browser or session is involved and they authenticate
# with a secret in their address, so CSRF does not apply. Each one is listed here on purpose.
# Endpoints called by machines without a session (a carrier's webhook, the tracking script's beacon), and the
# API's catch-all that only ever answers a JSON 404 and changes nothing.
# hooks:receive - shop/marketplace webhooks: no cookie session; the HMAC signature on the raw body is checked
# before anything is written (integrations.services.webhook_receive).
MACHINE_ENDPOINTS = {"shipping:inpost_webhook", "analytics_public:collect", "api:not-found", "hooks:receive"}


def test_no_browser_view_is_csrf_exempt():
    exempt = [
        ep.route
        for ep in walk()
        if ep.path_view is None
        and getattr(ep.callback, "csrf_exempt", False)
        and ep.name not in MACHINE_ENDPOINTS
    ]
    assert exempt == []


def test_every_browser_post_without_the_csrf_token_is_refused(world):
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.users[Role.ADMIN])
    failures = []
    for ep in walk():
        if ep.path_view is not None or ep.name in MACHINE_ENDPOINTS:
            continue
        before = db_state()
        response = client.post(ep.url(world.values(Role.ADMIN)), {"action": "language", "language": "en"})
        if response.status_code != 403:
            failures.append(f"POST /{ep.route}: {response.status_code}")
        if db_state() != before:
            failures.append(f"POST /{ep.route}: the database changed")
    assert failures == []
    assert client.get(reverse("web:dashboard")).status_code == 200  # still logged in: even logout was refused


def test_a_post_with_the_csrf_token_goes_through(make_user):
    user = make_user("organiser")
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    client.get(reverse("account"))
    token = client.cookies["csrftoken"].value

    response = client.post(
        reverse("account"), {"action": "language", "language": "en", "csrfmiddlewaretoken": token}
    )

    assert response.status_code == 302
    user.refresh_from_db()
    assert user.language == "en"


def test_login_without_the_csrf_token_is_refused(make_user):
    user = make_user("organiser")
    client = Client(enforce_csrf_checks=True)
    response = client.post(reverse("login"), {"username": user.username, "password": "Correct-Horse-9"})
    assert response.status_code == 403
    assert "_auth_user_id" not in client.session


def test_api_calls_with_a_token_need_no_csrf_token(world):
    client = Client(enforce_csrf_checks=True, HTTP_AUTHORIZATION=f"Bearer {world.tokens[Role.ADMIN]}")
    response = client.post(
        f"/api/v1/orders/{world.order.pk}/notes",
        data={"text": "from a script"},
        content_type="application/json",
    )
    assert response.status_code == 201


def test_api_ignores_the_session_cookie(world):
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.users[Role.ADMIN])
    response = client.post(
        f"/api/v1/orders/{world.order.pk}/notes", data={"text": "forged"}, content_type="application/json"
    )
    assert response.status_code == 401
    assert not world.order.events.filter(kind="note").exists()
