"""Deny by default for every API operation (walked from the URL patterns): anonymous 401, a role without the
operation's permission 403 whatever it sends (and nothing changes), a role with it never 401/403.
Object access: a user sees and revokes only their own tokens, and sees only their own jobs."""

from __future__ import annotations

import pytest
from django.test import Client

from zaplecze.core.models import ApiToken
from zaplecze.core.permissions import Role, role_has

from .support import call, db_state, example_bodies
from .urlwalk import api_operations

pytestmark = pytest.mark.django_db


def test_anonymous_and_bad_tokens_get_401_on_every_operation(world):
    failures = []
    bad_headers = [None, "Bearer", "Bearer zpl_not-a-token", "Token " + world.tokens[Role.ADMIN], "Basic abc"]
    clients = {h: Client(HTTP_AUTHORIZATION=h) if h else Client() for h in bad_headers}
    bodies = example_bodies(world)
    for op in api_operations():
        url = op.endpoint.url(world.values(Role.ADMIN))
        before = db_state()
        for header, client in clients.items():
            response = call(client, op.method, url, bodies.get(f"{op.method} {op.endpoint.route}"))
            if response.status_code != 401 or response.json()["code"] != "unauthorized":
                failures.append(f"{op.label} with {header!r}: {response.status_code}")
        if db_state() != before:
            failures.append(f"{op.label}: unauthenticated calls changed the database")
    assert failures == []


def test_a_browser_session_is_not_an_api_credential(world):
    client = Client()
    client.force_login(world.users[Role.ADMIN])
    assert client.get("/api/v1/orders").status_code == 401


def test_every_operation_as_every_role(world):
    failures = []
    bodies = example_bodies(world)
    for op in api_operations():
        permission = op.required_permission
        denied = [r for r in Role.values if not role_has(r, permission)]
        # Denied callers first, with the database compared before and after them all. They get 403 for an
        # empty body and for a valid one alike: the permission is checked before any input is read.
        before = db_state()
        for role in denied:
            for body in ({}, bodies.get(f"{op.method} {op.endpoint.route}")):
                response = call(world.api_client(role), op.method, op.endpoint.url(world.values(role)), body)
                if response.status_code != 403 or response.json()["code"] != "forbidden":
                    failures.append(
                        f"{op.label} as {role} ({permission}): {response.status_code}, expected 403"
                    )
        if db_state() != before:
            failures.append(f"{op.label}: denied calls changed the database")
        for role in [r for r in Role.values if r not in denied]:
            response = call(world.api_client(role), op.method, op.endpoint.url(world.values(role)), {})
            if response.status_code in (401, 403):
                failures.append(
                    f"{op.label} as {role} ({permission}): {response.status_code} although allowed"
                )
    assert failures == []


def test_the_permission_matrix_is_as_declared(world):
    declared = {op.label: op.required_permission for op in api_operations()}
    assert (
        declared.items()
        >= {
            "GET /api/v1/orders": "orders.view",
            "POST /api/v1/orders": "orders.create",
            "POST /api/v1/orders/tags": "orders.bulk",
            "GET /api/v1/orders/<int:order_id>": "orders.view",
            "PATCH /api/v1/orders/<int:order_id>": "orders.edit",
            "POST /api/v1/orders/<int:order_id>/status": "orders.change_status",
            "POST /api/v1/orders/<int:order_id>/notes": "orders.edit",
            "PUT /api/v1/orders/<channel>/<external_id>": "orders.create",
            "GET /api/v1/products": "catalog.view",
            "POST /api/v1/products": "catalog.edit",
            "GET /api/v1/stock": "stock.view",
            "POST /api/v1/stock/adjustments": "stock.adjust",
            "GET /api/v1/me": "dashboard.view",
            "GET /api/v1/tokens": "dashboard.view",
            "DELETE /api/v1/tokens/<int:token_id>": "dashboard.view",
            "GET /api/v1/jobs": "jobs.view",
            "GET /api/v1/jobs/<int:job_id>": "jobs.view",
        }.items()
    )


def test_a_read_only_user_can_read_but_not_write(world):
    client = world.api_client(Role.READONLY)
    assert client.get("/api/v1/orders").status_code == 200
    assert client.get(f"/api/v1/orders/{world.order.pk}").status_code == 200
    response = call(client, "POST", f"/api/v1/orders/{world.order.pk}/status", {"status": "cancelled"})
    assert response.status_code == 403
    assert response.json() == {
        "code": "forbidden",
        "message": "Your role may not do this (orders.change_status)",
    }
    world.order.refresh_from_db()
    assert world.order.status.code == "ready"


def test_tokens_list_only_the_callers_own(world):
    response = world.api_client(Role.WAREHOUSE).get("/api/v1/tokens")
    own = set(ApiToken.objects.filter(user=world.users[Role.WAREHOUSE]).values_list("pk", flat=True))
    assert response.status_code == 200
    assert {t["id"] for t in response.json()} == own
    assert all("digest" not in t for t in response.json())


def test_revoking_another_users_token_is_not_found_and_changes_nothing(world):
    victim = world.spare_token_ids[Role.SERVICE]
    response = world.api_client(Role.WAREHOUSE).delete(f"/api/v1/tokens/{victim}")
    assert response.status_code == 404
    assert ApiToken.objects.get(pk=victim).revoked_at is None


def test_revoking_an_own_token_ends_its_use(world):
    token_id = ApiToken.objects.get(user=world.users[Role.MARKETING], name="main").pk
    client = world.api_client(Role.MARKETING)
    assert client.delete(f"/api/v1/tokens/{token_id}").status_code == 204
    response = client.get("/api/v1/me")
    assert response.status_code == 401


def test_jobs_are_visible_to_their_owner_and_administrators_only(world):
    other_job = world.job_ids[Role.ORGANISER]
    warehouse = world.api_client(Role.WAREHOUSE)
    assert warehouse.get(f"/api/v1/jobs/{other_job}").status_code == 404
    assert [j["id"] for j in warehouse.get("/api/v1/jobs").json()] == [world.job_ids[Role.WAREHOUSE]]
    assert warehouse.get(f"/api/v1/jobs/{world.job_ids[Role.WAREHOUSE]}").status_code == 200
    assert world.api_client(Role.ADMIN).get(f"/api/v1/jobs/{other_job}").status_code == 200
