"""The public collector: the tracking script, `POST /collect` and the `GET /collect.gif` pixel.

Answers fast (the pipeline runs in memory; the spool append is one fsynced write), never with a 5xx for bad
input: malformed JSON, wrong types, oversized bodies and unknown sites are 4xx; floods are 429.
"""

from __future__ import annotations

import base64
import json
import logging

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt

from zaplecze.core.access import public

from . import pipeline, services

log = logging.getLogger("zaplecze.analytics")
MAX_BATCH = 20
_GIF = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")


def client_ip(request) -> str:
    if settings.ANALYTICS_TRUSTED_PROXY:
        forwarded = request.headers.get("X-Forwarded-For", "")
        if forwarded:
            return forwarded.split(",")[0].strip()[:64]
    return (request.META.get("REMOTE_ADDR") or "")[:64]


def _cors(request, response):
    origin = request.headers.get("Origin", "")
    if origin and _origin_allowed(origin):
        response["Access-Control-Allow-Origin"] = origin
        response["Access-Control-Allow-Methods"] = "POST, OPTIONS"
        response["Access-Control-Allow-Headers"] = "Content-Type"
        response["Access-Control-Max-Age"] = "86400"
        response["Vary"] = "Origin"
    return response


def _origin_allowed(origin: str) -> bool:
    origin = origin.rstrip("/").lower()
    for domain in pipeline._site_map().values():
        if origin in domain["origins"]:
            return True
    return False


def _error(request, status: int, code: str, message: str, **extra):
    return _cors(request, JsonResponse({"code": code, "message": message, **extra}, status=status))


@csrf_exempt
@public
def collect(request):
    """POST one event (a JSON object) or a batch (a list of up to 20). Content type may be text/plain (no
    CORS preflight). 202 {"accepted": n}; 400 with the refused events; 413, 429, 503."""
    if request.method == "OPTIONS":
        return _cors(request, HttpResponse(status=204))
    if request.method != "POST":
        return HttpResponse(status=405, headers={"Allow": "POST, OPTIONS"})
    length = request.META.get("CONTENT_LENGTH") or "0"
    if not length.isdigit() or int(length) > settings.ANALYTICS_MAX_BODY:
        services.drop_record(step="collector", reason="too_large")
        return _error(request, 413, "too_large", f"body: at most {settings.ANALYTICS_MAX_BODY} bytes")
    body = request.body
    if len(body) > settings.ANALYTICS_MAX_BODY:
        services.drop_record(step="collector", reason="too_large")
        return _error(request, 413, "too_large", f"body: at most {settings.ANALYTICS_MAX_BODY} bytes")
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        services.drop_record(step="collector", reason="bad_json")
        return _error(request, 400, "bad_json", "body: not valid JSON")
    events = data if isinstance(data, list) else [data]
    if not events or len(events) > MAX_BATCH:
        return _error(request, 400, "bad_batch", f"body: an event object or a list of 1-{MAX_BATCH} events")
    return _run(request, events, pixel=False)


def _run(request, events: list, *, pixel: bool):
    ip = client_ip(request)
    if not services.rate_limiter().allow(ip, cost=len(events)):
        services.drop_record(step="collector", reason="rate_limited")
        if pixel:
            return HttpResponse(_GIF, content_type="image/gif", status=429)
        return _error(
            request, 429, "rate_limited", "too many events from this address; try again in a minute"
        )
    try:
        result = services.collect(
            events=events, ip=ip, user_agent=request.headers.get("User-Agent", "")[:1000]
        )
    except OSError:
        log.exception("analytics spool write failed")
        return _error(request, 503, "unavailable", "the collector cannot store events right now; retry")
    if pixel:
        return HttpResponse(
            _GIF, content_type="image/gif", status=result.status, headers={"Cache-Control": "no-store"}
        )
    payload = {"accepted": result.accepted}
    if result.errors:
        payload.update({"code": "invalid", "message": result.errors[0]["message"], "errors": result.errors})
    return _cors(request, JsonResponse(payload, status=result.status))


@public
def pixel(request):
    """The no-script fallback: `<img src="/collect.gif?site=shop.example&url=...&ref=...">`."""
    q = request.GET
    event = {
        "event": q.get("event", "pageview"),
        "site": q.get("site", ""),
        "url": q.get("url", "") or request.headers.get("Referer", ""),
        "referrer": q.get("ref", ""),
    }
    for key in ("id", "sku", "order", "value", "currency", "name"):
        if q.get(key):
            event[key] = q[key]
    return _run(request, [event], pixel=True)


@public
def script(request):
    """The tracking script (about 2 KB). Paste `<script defer src="https://zaplecze.example/z.js"
    data-site="shop.example"></script>` into the shop's theme."""
    body = render_to_string(
        "analytics/z.js", {"collect_url": request.build_absolute_uri(reverse("analytics_public:collect"))}
    )
    return HttpResponse(
        body,
        content_type="application/javascript; charset=utf-8",
        headers={"Cache-Control": "public, max-age=3600", "Access-Control-Allow-Origin": "*"},
    )
