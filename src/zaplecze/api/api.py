"""The REST API at /api/v1: per-user bearer tokens, one error shape, routers mounted from each module."""

from __future__ import annotations

import logging

from django.http import HttpRequest
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.security import HttpBearer

from zaplecze.core.errors import DomainError
from zaplecze.core.services import token_authenticate

log = logging.getLogger("zaplecze.api")


class TokenAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str):
        user = token_authenticate(token)
        if user is not None:
            request.user = user
        return user


api = NinjaAPI(
    title="Zaplecze API",
    version="1",
    urls_namespace="api",
    auth=TokenAuth(),
    docs_url="/docs",
)


def _loc(loc) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "data", "payload")]
    out = ""
    for p in parts:
        out += f"[{p}]" if p.isdigit() else (f".{p}" if out else p)
    return out


@api.exception_handler(ValidationError)
def on_validation_error(request, exc: ValidationError):
    errors = [
        {"field": _loc(e.get("loc", ())), "message": e.get("msg", "invalid"), "type": e.get("type", "")}
        for e in exc.errors
    ]
    return api.create_response(
        request, {"code": "validation_error", "message": "Invalid input", "errors": errors}, status=422
    )


@api.exception_handler(DomainError)
def on_domain_error(request, exc: DomainError):
    return api.create_response(request, exc.as_dict(), status=exc.status)


@api.exception_handler(AuthenticationError)
def on_auth_error(request, exc):
    return api.create_response(
        request, {"code": "unauthorized", "message": "Missing or invalid API token (Authorization: Bearer ...)"},
        status=401,
    )


@api.exception_handler(HttpError)
def on_http_error(request, exc: HttpError):
    return api.create_response(request, {"code": "error", "message": str(exc)}, status=exc.status_code)


def mount() -> None:
    from zaplecze.orders.api import router as orders_router

    api.add_router("/orders", orders_router, tags=["orders"])
    try:
        from zaplecze.catalog.api import router as catalog_router

        api.add_router("/", catalog_router, tags=["catalog"])
    except ImportError:  # pragma: no cover - module may not exist yet
        pass


mount()
