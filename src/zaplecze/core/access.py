"""Permission declarations for views. Every URL's view must carry one (a test walks them all)."""

from __future__ import annotations

import functools

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied

from .permissions import PERMISSIONS, user_has

PUBLIC = "public"


def require(permission: str):
    """Decorate a view: anonymous users go to the login page, others need `permission` or get 403."""
    if permission != PUBLIC and permission not in PERMISSIONS:
        raise KeyError(f"Unknown permission {permission!r}")

    def decorator(view):
        @functools.wraps(view)
        def wrapped(request, *args, **kwargs):
            if permission != PUBLIC:
                if not request.user.is_authenticated:
                    return redirect_to_login(request.get_full_path())
                if not user_has(request.user, permission):
                    raise PermissionDenied(permission)
            return view(request, *args, **kwargs)

        wrapped.required_permission = permission
        return wrapped

    return decorator


def public(view):
    return require(PUBLIC)(view)
