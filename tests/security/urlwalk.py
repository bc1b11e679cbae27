"""Walk every URL pattern of the project and every operation of the API, derived from the resolver, so
the security tests keep covering views as they are added."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RoutePattern
from ninja.operation import PathView

# Not walked, on purpose:
# - the Django admin: it has its own staff-only check (is_staff, set only for administrators) and its own
#   login page; it is not one of our views.
# - static files: served by WhiteNoise before URL resolution; no URL pattern exists for them.
EXCLUDED_PREFIXES = ("django-admin/", "static/")
# Ninja's API root view serves nothing (it always answers 404); it exists so Ninja can reverse its base path.
EXCLUDED_NAMES = {"api:api-root"}

_PARAM = re.compile(r"<(?:(?P<conv>[^>:]+):)?(?P<name>[^>]+)>")


@dataclass
class Endpoint:
    route: str  # e.g. "orders/<int:order_id>/"
    name: str  # namespaced, e.g. "orders:detail"
    callback: Any
    path_view: PathView | None = None  # set for the API's operation views
    params: dict[str, str] = field(default_factory=dict)  # name -> converter name

    @property
    def required_permission(self) -> str | None:
        return getattr(self.callback, "required_permission", None)

    def url(self, values: dict[str, Any]) -> str:
        return "/" + fill(self.route, values)


def fill(route: str, values: dict[str, Any]) -> str:
    """Put a value into each <conv:name> of a route: the given one, else a harmless default by converter."""

    def value(m: re.Match) -> str:
        name, conv = m.group("name"), m.group("conv") or "str"
        if name in values:
            return str(values[name])
        return {"int": "1", "uuid": str(uuid.UUID(int=0)), "slug": "x", "path": "x"}.get(conv, "x")

    return _PARAM.sub(value, route)


def _path_view(callback) -> PathView | None:
    for cell in getattr(callback, "__closure__", None) or ():
        if isinstance(cell.cell_contents, PathView):
            return cell.cell_contents
    return None


def walk(patterns=None, prefix: str = "", namespace: str = "") -> list[Endpoint]:
    """Every URL pattern (deduplicated by route), with the excluded ones left out."""
    if patterns is None:
        patterns = get_resolver().url_patterns
    out: dict[str, Endpoint] = {}
    for p in patterns:
        if not isinstance(p.pattern, RoutePattern):
            route = prefix + str(p.pattern)
            if route.startswith(EXCLUDED_PREFIXES):
                continue
            raise AssertionError(f"{route!r} is a regex pattern: teach tests/security/urlwalk.py to fill it")
        route = prefix + str(p.pattern)
        if route.startswith(EXCLUDED_PREFIXES):
            continue
        if isinstance(p, URLResolver):
            ns = ":".join(x for x in (namespace, p.namespace or "") if x)
            for ep in walk(p.url_patterns, route, ns):
                out.setdefault(ep.route, ep)
        elif isinstance(p, URLPattern):
            name = ":".join(x for x in (namespace, p.name or "") if x)
            if name in EXCLUDED_NAMES:
                continue
            params = {m.group("name"): m.group("conv") or "str" for m in _PARAM.finditer(route)}
            out.setdefault(route, Endpoint(route, name, p.callback, _path_view(p.callback), params))
    return list(out.values())


@dataclass
class ApiOperation:
    method: str
    endpoint: Endpoint
    operation: Any  # ninja Operation

    @property
    def required_permission(self) -> str | None:
        return getattr(self.operation.view_func, "required_permission", None)

    @property
    def label(self) -> str:
        return f"{self.method} /{self.endpoint.route}"


def api_operations() -> list[ApiOperation]:
    """Every (method, path) operation of the API, from the project's URL patterns."""
    out = []
    for ep in walk():
        if ep.path_view is None:
            continue
        for op in ep.path_view.operations:
            for method in op.methods:
                out.append(ApiOperation(method, ep, op))
    return out
