"""The REST API at /api/v1: per-user bearer tokens, one error shape, routers mounted from each module.

Every answer that is not a success has the shape `{"code": ..., "message": ..., "field"?: ..., "details"?: ...}`;
invalid input is `{"code": "validation_error", "message": ..., "errors": [{"field": "lines[0].quantity",
"message": ..., "type": ...}]}` with status 422. See docs/api.md.
"""

from __future__ import annotations

import functools
import logging
import re
from typing import Any

from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.db import DataError
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import path
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from pydantic import BaseModel

from zaplecze.core.access import public
from zaplecze.core.errors import DomainError

from .permissions import BearerToken

log = logging.getLogger("zaplecze.api")


class ZapleczeAPI(NinjaAPI):
    """Ninja's API object with the OpenAPI document built once per process (building it takes ~0.1 s)."""

    _openapi_cache: dict[str, Any]

    def get_openapi_schema(self, *, path_prefix: str | None = None, path_params: dict | None = None):
        if path_prefix is None:
            path_prefix = self.get_root_path(path_params or {})
        cache = self.__dict__.setdefault("_openapi_cache", {})
        if path_prefix not in cache:
            cache[path_prefix] = super().get_openapi_schema(path_prefix=path_prefix)
        return cache[path_prefix]

    def _get_urls(self):
        """Ninja's URL patterns, with the API root and every URL under it that matches no operation answered
        by `not_found` (the API's JSON error shape) instead of Django's HTML 404 page. The root keeps its
        name: Ninja reverses "api-root" to find its base path."""
        urls = [u for u in super()._get_urls() if getattr(u, "name", None) != "api-root"]
        urls.append(path("", not_found, name="api-root"))
        urls.append(path("<path:rest>", not_found, name="not-found"))
        return urls


api = ZapleczeAPI(
    title="Zaplecze API",
    version="1",
    description="Orders, products and stock of Zaplecze. Authenticate with `Authorization: Bearer <token>` "
    "(create one with `zaplecze token create USERNAME` or on the account page).",
    urls_namespace="api",
    auth=BearerToken(),
    docs_url="/docs",
    # The OpenAPI document and its viewer describe the API, they hold no data: readable without a token.
    docs_decorator=public,
)

# Where Ninja puts a parameter; the first element (and the parameter's name for bodies) is not part of the
# field path a client sees.
_SOURCES = {"body", "query", "path", "header", "cookie", "form", "file"}


def field_path(loc, params: tuple[str, ...] = ()) -> str:
    """("body", "payload", "lines", 0, "quantity") -> "lines[0].quantity"."""
    parts = list(loc)
    if parts and parts[0] in _SOURCES:
        parts = parts[1:]
        if parts and parts[0] in params:
            parts = parts[1:]
    out = ""
    for p in parts:
        if isinstance(p, int) or (isinstance(p, str) and p.isdigit()):
            out += f"[{p}]"
        else:
            out += f".{p}" if out else str(p)
    return out


_BODY_PARAMS = ("payload", "filters", "query")


@api.exception_handler(ValidationError)
def on_validation_error(request, exc: ValidationError):
    errors = [
        {
            "field": field_path(e.get("loc", ()), _BODY_PARAMS),
            "message": e.get("msg", "invalid"),
            "type": e.get("type", ""),
        }
        for e in exc.errors
    ]
    return api.create_response(
        request, {"code": "validation_error", "message": _("Invalid input"), "errors": errors}, status=422
    )


@api.exception_handler(DomainError)
def on_domain_error(request, exc: DomainError):
    return api.create_response(request, exc.as_dict(), status=exc.status)


@api.exception_handler(AuthenticationError)
def on_auth_error(request, exc):
    return api.create_response(
        request,
        {"code": "unauthorized", "message": _("Missing or invalid API token (Authorization: Bearer ...)")},
        status=401,
    )


@api.exception_handler(HttpError)
def on_http_error(request, exc: HttpError):
    code = {400: "bad_request", 405: "method_not_allowed", 429: "throttled"}.get(exc.status_code, "error")
    return api.create_response(request, {"code": code, "message": str(exc)}, status=exc.status_code)


@api.exception_handler(Http404)
def on_not_found(request, exc):
    return api.create_response(request, {"code": "not_found", "message": _("Not found")}, status=404)


@csrf_exempt
@public
def not_found(request: HttpRequest, rest: str = "") -> HttpResponse:
    """Any method on a URL under /api/v1/ that no operation serves: a JSON 404 naming the path."""
    return api.create_response(
        request,
        {
            "code": "not_found",
            "message": _("No API endpoint at %(path)s (see the OpenAPI document at openapi.json)")
            % {"path": request.path},
        },
        status=404,
    )


@api.exception_handler(RequestDataTooBig)
def on_too_big(request, exc):
    return api.create_response(
        request, {"code": "too_large", "message": _("The request body is too large")}, status=413
    )


@api.exception_handler(DataError)
def on_data_error(request, exc):
    # A last line of defence: the schemas bound every value to its column, so this means a bound is missing.
    log.warning("api input out of storage range: %s %s: %s", request.method, request.path, exc)
    return api.create_response(
        request,
        {"code": "out_of_range", "message": _("A value is too long or too large to be stored")},
        status=422,
    )


@api.exception_handler(TooManyFieldsSent)
def on_too_many_fields(request, exc):
    return api.create_response(
        request, {"code": "bad_request", "message": _("Too many parameters")}, status=400
    )


# --- input hygiene: text that no database stores ----------------------------------------------------------

# NUL is refused by PostgreSQL; lone surrogates cannot be encoded as UTF-8 by any backend.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _unstorable(value, path: tuple) -> list[dict]:
    if isinstance(value, str):
        if _UNSTORABLE.search(value):
            return [
                {
                    "loc": path,
                    "msg": _("Text must not contain NUL or unpaired surrogate characters"),
                    "type": "string_unstorable",
                }
            ]
        return []
    if isinstance(value, BaseModel):
        value = {name: getattr(value, name) for name in type(value).model_fields}
    if isinstance(value, dict):
        return [e for k, v in value.items() for e in (_unstorable(k, path) + _unstorable(v, (*path, k)))]
    if isinstance(value, list | tuple):
        return [e for i, v in enumerate(value) for e in _unstorable(v, (*path, i))]
    return []


def reject_unstorable_text(view):
    """Every operation: validated input with characters no database can store is a 422 naming the field."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs):
        problems = [e for name, value in kwargs.items() for e in _unstorable(value, ("body", name))]
        if problems:
            raise ValidationError(problems)
        return view(request, *args, **kwargs)

    return wrapped


api.add_decorator(reject_unstorable_text, mode="operation")


def mount() -> None:
    from zaplecze.analytics.api import router as analytics_router
    from zaplecze.catalog.api import router as catalog_router
    from zaplecze.catalog.api_audit import router as catalog_audit_router
    from zaplecze.catalog.api_feeds import router as catalog_feeds_router
    from zaplecze.catalog.api_import import router as catalog_import_router
    from zaplecze.catalog.api_prices import router as catalog_prices_router
    from zaplecze.catalog.api_sitecheck import router as catalog_sitecheck_router
    from zaplecze.fulfilment.api import router as fulfilment_router
    from zaplecze.integrations.api import router as integrations_router
    from zaplecze.inventory.api import router as stock_router
    from zaplecze.monitoring.api import router as monitoring_router
    from zaplecze.orders.api import router as orders_router
    from zaplecze.orders.api_automation import router as automation_router
    from zaplecze.promotions.api import router as promotions_router
    from zaplecze.purchasing.api import router as purchasing_router
    from zaplecze.reports.api import router as reports_router
    from zaplecze.service.api import router as service_router
    from zaplecze.shipping.api import router as shipments_router
    from zaplecze.today.api import router as today_router

    from .account import router as account_router

    api.add_router("/orders", orders_router, tags=["orders"])
    api.add_router("/products", catalog_router, tags=["products"])
    api.add_router("/catalog/prices", catalog_prices_router, tags=["catalog"])
    api.add_router("/catalog/imports", catalog_import_router, tags=["catalog"])
    api.add_router("/catalog/audit", catalog_audit_router, tags=["catalog"])
    api.add_router("/catalog/feeds", catalog_feeds_router, tags=["catalog"])
    api.add_router("/catalog/site-checks", catalog_sitecheck_router, tags=["catalog"])
    api.add_router("/stock", stock_router, tags=["stock"])
    api.add_router("/shipments", shipments_router, tags=["shipments"])
    api.add_router("/service", service_router, tags=["service"])
    api.add_router("/automation", automation_router, tags=["automation"])
    api.add_router("/purchasing", purchasing_router, tags=["purchasing"])
    api.add_router("/fulfilment", fulfilment_router, tags=["fulfilment"])
    api.add_router("/analytics", analytics_router, tags=["analytics"])
    api.add_router("/integrations", integrations_router, tags=["integrations"])
    api.add_router("/reports", reports_router, tags=["reports"])
    api.add_router("/promotions", promotions_router, tags=["promotions"])
    api.add_router("/monitoring", monitoring_router, tags=["monitoring"])
    api.add_router("/today", today_router, tags=["today"])
    api.add_router("", account_router, tags=["account"])


mount()
