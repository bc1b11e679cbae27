"""Deny by default, for every URL of the project (derived from the resolver, so new views are covered):
every view declares a permission; as each role it answers 403 exactly when the role lacks it; anonymous
users are sent to the login page; a denied request changes nothing in the database."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from zaplecze.core.access import PUBLIC
from zaplecze.core.permissions import Role, role_has

from .support import db_state
from .urlwalk import api_operations, walk

pytestmark = pytest.mark.django_db

ROLES: list[str | None] = [*Role.values, None]  # None: anonymous


def test_the_walk_finds_the_views_we_know():
    routes = {ep.route for ep in walk()}
    assert {
        "",
        "orders/",
        "orders/<int:order_id>/",
        "jobs/<int:job_id>/",
        "login/",
        "logout/",
        "account/",
        "account/password/",
        "api/v1/openapi.json",
        "api/v1/orders",
        "api/v1/orders/<int:order_id>",
    } <= routes
    assert not any(r.startswith("django-admin/") for r in routes)


def test_every_view_declares_a_permission():
    missing = [ep.route for ep in walk() if ep.path_view is None and ep.required_permission is None]
    assert missing == []


def test_every_api_view_is_ninja_operations_that_each_declare_a_permission():
    api_routes = [ep for ep in walk() if ep.route.startswith("api/")]
    # The API's URL patterns are Ninja operations, or the OpenAPI document and its viewer (public).
    assert [ep.route for ep in api_routes if ep.path_view is None and ep.required_permission != PUBLIC] == []
    missing = [op.label for op in api_operations() if op.required_permission is None]
    assert missing == []
    assert len(api_operations()) >= 15


@pytest.fixture
def as_role(world):
    """as_role(role) -> a test client signed in as that role (None: anonymous). One client per role: a new
    client loads the middleware again, which is slow; it signs in again only when a request ended the session
    (a POST to /logout/)."""
    clients: dict[str | None, Client] = {}

    def _client(role: str | None) -> Client:
        client = clients.setdefault(role, Client())
        cookie = client.cookies.get(settings.SESSION_COOKIE_NAME)
        if role is not None and (cookie is None or not cookie.value):
            client.force_login(world.users[role])
        return client

    return _client


def test_every_view_as_every_role(world, as_role):
    login_url = reverse("login")
    failures = []
    checked = 0
    for ep in walk():
        if ep.path_view is not None:  # API operations: tests/security/test_api_permissions.py
            continue
        permission = ep.required_permission

        def allowed(role: str | None, permission: str = permission) -> bool:
            return permission == PUBLIC or (role is not None and role_has(role, permission))

        # Denied callers first, with the database compared before and after them all.
        before = db_state()
        for role in [r for r in ROLES if not allowed(r)]:
            url = ep.url(world.values(role))
            for method in ("get", "post"):
                response = getattr(as_role(role), method)(url)
                checked += 1
                status = response.status_code
                where = f"{method.upper()} {url} as {role or 'anonymous'} ({permission})"
                if role is None:
                    to_login = status == 302 and response["Location"].startswith(login_url)
                    if not (to_login or status == 405):
                        failures.append(f"{where}: {status}, expected a redirect to the login page")
                elif status not in (403, 405):
                    failures.append(f"{where}: {status}, expected 403")
        if db_state() != before:
            failures.append(f"/{ep.route}: denied requests changed the database")
        for role in [r for r in ROLES if allowed(r)]:
            url = ep.url(world.values(role))
            for method in ("get", "post"):
                # logged in afresh each time: a POST to /logout/ ends the session
                response = getattr(as_role(role), method)(url)
                checked += 1
                if response.status_code == 403:
                    failures.append(f"{method.upper()} {url} as {role or 'anonymous'}: 403 although allowed")
    assert failures == []
    assert checked > 100


def test_a_denied_method_check_never_hides_the_permission_check(world, as_role):
    # Each non-public view must answer a role without the permission with 403 on at least one of GET/POST
    # (a 405 alone would mean the view was never asked who is calling).
    failures = []
    for ep in walk():
        if ep.path_view is not None or ep.required_permission == PUBLIC:
            continue
        denied = [r for r in Role.values if not role_has(r, ep.required_permission)]
        if not denied:
            continue
        role = denied[0]
        codes = {
            m: getattr(as_role(role), m)(ep.url(world.values(role))).status_code for m in ("get", "post")
        }
        if 403 not in codes.values():
            failures.append(f"/{ep.route} as {role}: {codes}")
    assert failures == []


def test_jobs_of_another_user_are_not_found(world, as_role):
    client = as_role(Role.WAREHOUSE)
    own = client.get(reverse("web:job", args=[world.job_ids[Role.WAREHOUSE]]))
    other = client.get(reverse("web:job", args=[world.job_ids[Role.SERVICE]]))
    assert own.status_code == 200
    assert other.status_code == 404
    admin = as_role(Role.ADMIN).get(reverse("web:job", args=[world.job_ids[Role.SERVICE]]))
    assert admin.status_code == 200


def test_a_user_cannot_revoke_another_users_token_from_the_account_page(world, as_role):
    from zaplecze.core.models import ApiToken

    victim_token = ApiToken.objects.get(pk=world.spare_token_ids[Role.SERVICE])
    client = as_role(Role.WAREHOUSE)
    client.post(reverse("account"), {"action": "revoke", "token_id": victim_token.pk})
    victim_token.refresh_from_db()
    assert victim_token.revoked_at is None
    page = client.get(reverse("account")).content.decode()
    assert victim_token.prefix not in page
