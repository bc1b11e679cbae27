"""Declared permission per API operation: `@allow("orders.view")` on every endpoint (deny by default)."""

from __future__ import annotations

import functools

from zaplecze.core.errors import PermissionDenied
from zaplecze.core.permissions import PERMISSIONS, user_has


def allow(permission: str):
    if permission not in PERMISSIONS:
        raise KeyError(f"Unknown permission {permission!r}")

    def decorator(func):
        @functools.wraps(func)
        def wrapped(request, *args, **kwargs):
            if not user_has(request.auth, permission):
                raise PermissionDenied(f"Your role may not do this ({permission})")
            return func(request, *args, **kwargs)

        wrapped.required_permission = permission
        return wrapped

    return decorator
