from __future__ import annotations

import pytest
from django.test import Client


@pytest.fixture
def api_as(make_user):
    """api_as(role) -> a test client that sends that role's bearer token (one user per role)."""
    from zaplecze.core.services import token_create

    clients: dict[str, Client] = {}

    def _client(role: str = "admin") -> Client:
        if role not in clients:
            user = make_user(role)
            client = Client(HTTP_AUTHORIZATION=f"Bearer {token_create(user=user)}")
            client.user = user
            clients[role] = client
        return clients[role]

    return _client


@pytest.fixture
def api(api_as):
    return api_as("admin")


from tests.security.support import world  # noqa: E402, F401  (fixture)
