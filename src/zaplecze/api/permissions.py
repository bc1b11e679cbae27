"""API authentication and the declared permission of every operation (deny by default).

Every endpoint carries `@allow("orders.view")` (placed *below* the `@router.<method>` decorator). It does two
things:

* it makes the operation authenticate with a bearer token *and* check the role's permission before Ninja
  reads any input, so a caller without the permission gets 403 whatever it sends, and nothing is parsed;
* it marks the view function with `required_permission`, which the security tests walk, and checks the
  permission again when the view runs (defence in depth).
"""

from __future__ import annotations

import functools
import logging

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja.security import HttpBearer
from ninja.utils import contribute_operation_callback

from zaplecze.core.errors import PermissionDenied
from zaplecze.core.permissions import PERMISSIONS, user_has
from zaplecze.core.services import token_authenticate

log = logging.getLogger("zaplecze.api")


class BearerToken(HttpBearer):
    """`Authorization: Bearer zpl_...`: a personal token (see `zaplecze token create USERNAME`). With a
    `permission`, the token's user must also hold it, or the answer is 403 before any input is read.

    The header value is never logged (Ninja's own HttpBearer logs unexpected values in DEBUG)."""

    def __init__(self, permission: str | None = None) -> None:
        super().__init__()
        self.permission = permission

    def __call__(self, request: HttpRequest):
        value = request.headers.get(self.header) or ""
        scheme, _, token = value.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        return self.authenticate(request, token.strip())

    def authenticate(self, request: HttpRequest, token: str):
        user = token_authenticate(token)
        if user is None:
            return None
        request.user = user
        if self.permission is not None and not user_has(user, self.permission):
            log.info(
                "api permission denied: user=%s permission=%s path=%s", user.pk, self.permission, request.path
            )
            raise PermissionDenied(
                _("Your role may not do this (%(permission)s)") % {"permission": self.permission}
            )
        return user


def allow(permission: str):
    """Declare the permission an API operation needs. Unknown permission codes fail at import time."""
    if permission not in PERMISSIONS:
        raise KeyError(f"Unknown permission {permission!r}")

    def bind(operation) -> None:
        operation.auth_param = [BearerToken(permission)]
        operation._set_auth(operation.auth_param)

    def decorator(func):
        @functools.wraps(func)
        def wrapped(request, *args, **kwargs):
            if not user_has(request.auth, permission):
                raise PermissionDenied(
                    _("Your role may not do this (%(permission)s)") % {"permission": permission}
                )
            return func(request, *args, **kwargs)

        wrapped.required_permission = permission
        contribute_operation_callback(wrapped, bind)
        return wrapped

    return decorator
