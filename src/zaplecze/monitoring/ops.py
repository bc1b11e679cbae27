"""Operations endpoints at the site root, for load balancers, orchestrators and Prometheus (no login page):

* `GET /healthz`: liveness. The process answers; no database, no disk. Always 200 `{"status": "ok"}`.
* `GET /readyz`: readiness. The database answers `SELECT 1` within READY_DB_TIMEOUT, the worker's heartbeat
  is fresh, the analytics spool is flushed in time (`ops_checks.py`). 200 when all pass, else 503. Anyone
  gets the status and each check's name and ok; the details (figures, reasons) only a trusted caller.
* `GET /metrics`: Prometheus text format (`ops_metrics.py`), for trusted callers only.

A trusted caller is one of: a request with `Authorization: Bearer <ZAPLECZE_METRICS_TOKEN>` (when that
setting is set); when it is not set, a request from the loopback address that did not come through a proxy
(no X-Forwarded-For / X-Real-IP / Forwarded header); or a signed-in user with the `monitoring.view`
permission. Nothing secret is ever shown: no connection strings, hosts, exception messages or tokens.
"""

from __future__ import annotations

import hmac
import ipaddress

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from prometheus_client import CONTENT_TYPE_LATEST

from zaplecze.core.access import public
from zaplecze.core.permissions import user_has

from . import ops_checks, ops_metrics

PROXY_HEADERS = ("X-Forwarded-For", "X-Real-IP", "Forwarded")


def _bearer(request) -> str:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


def _direct_loopback(request) -> bool:
    if any(name in request.headers for name in PROXY_HEADERS):
        return False
    try:
        return ipaddress.ip_address(request.META.get("REMOTE_ADDR", "")).is_loopback
    except ValueError:
        return False


def trusted(request) -> str | None:
    """How the caller is trusted ("token", "loopback", "session"), or None."""
    token = settings.METRICS_TOKEN
    if token:
        given = _bearer(request)
        if given and hmac.compare_digest(given.encode(), token.encode()):
            return "token"
    elif _direct_loopback(request):
        return "loopback"
    try:
        if user_has(request.user, "monitoring.view"):
            return "session"
    except DatabaseError:  # the session store is the database; when it is down nobody is signed in
        pass
    return None


@public
@require_safe
@never_cache
def healthz(request):
    return JsonResponse({"status": "ok"})


@public
@require_safe
@never_cache
def readyz(request):
    checks = ops_checks.run_all()
    ready = all(c.ok for c in checks)
    detailed = trusted(request) is not None
    body = {
        "status": "ok" if ready else "unavailable",
        "checks": {c.name: (c.full() if detailed else c.public()) for c in checks},
    }
    return JsonResponse(body, status=200 if ready else 503)


@public
@require_safe
@never_cache
def metrics(request):
    if trusted(request) is None:
        if settings.METRICS_TOKEN:
            response = HttpResponse(
                "metrics: a bearer token is required\n", status=401, content_type="text/plain"
            )
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
            return response
        return HttpResponse(
            "metrics: only from this machine, or for a signed-in user with monitoring access\n",
            status=403,
            content_type="text/plain",
        )
    return HttpResponse(ops_metrics.render(), content_type=CONTENT_TYPE_LATEST)
