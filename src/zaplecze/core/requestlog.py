"""Request ids, structured (JSON) logs and per-request metrics.

* `RequestLogMiddleware` (first in MIDDLEWARE) takes the request id from an incoming `X-Request-ID` header
  when it is valid (8-128 characters of `A-Za-z0-9._:-`), otherwise generates one; echoes it in the
  response's `X-Request-ID`; keeps it (and the request) in context variables for the request's duration;
  counts the request and its latency (`core/opsmetrics.py`); and writes one access line per request to the
  `zaplecze.request` logger.
* `RequestContextFilter` (on the log handlers) copies the request id, method, path and user id onto every
  log record made while the request is handled, and the task name/id onto records made inside a worker task.
* `JsonFormatter` writes one JSON object per line (ZAPLECZE_LOG_FORMAT=json).

Never logged: query strings, headers (Authorization, cookies), request bodies; URL parameters that carry a
secret (webhook, feed and image tokens: any captured parameter whose name contains token/secret/sig/key) are
masked in the logged path; `redact()` masks `key=value` credentials and bearer tokens in messages.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
import re
import time
import traceback
import uuid

from django.conf import settings
from django.core.signals import request_finished
from django.urls import Resolver404, resolve
from django.utils.functional import SimpleLazyObject, empty

REQUEST_ID_HEADER = "X-Request-ID"
_VALID_ID = re.compile(r"^[A-Za-z0-9._:\-]{8,128}$")
_SECRET_PARAM = re.compile(r"token|secret|sig|key|password", re.IGNORECASE)
_REDACT = [
    # key=value pairs in URLs and messages (query auth of shop platforms, passwords in DSNs written as params)
    (
        re.compile(
            r"((?:consumer_key|consumer_secret|access_token|refresh_token|client_secret|api_key|apikey|"
            r"token|secret|password|passwd|signature|sig|ws_key|key)=)[^&\s\"']+",
            re.IGNORECASE,
        ),
        r"\1***",
    ),
    (re.compile(r"((?:Bearer|Basic|Token)\s+)[A-Za-z0-9._~+/=\-]{6,}", re.IGNORECASE), r"\1***"),
    (re.compile(r"(://[^:/@\s]+:)[^@\s]+@"), r"\1***@"),  # passwords in URLs (scheme://user:pass@host)
]

_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("zaplecze_request_id", default=None)
_request: contextvars.ContextVar[object | None] = contextvars.ContextVar("zaplecze_request", default=None)
_task: contextvars.ContextVar[tuple[str, str] | None] = contextvars.ContextVar("zaplecze_task", default=None)

access_log = logging.getLogger("zaplecze.request")
QUIET_VIEWS = frozenset({"ops:healthz", "ops:readyz", "ops:metrics"})


def redact(text: str) -> str:
    """Mask credentials in free text (messages, exception text)."""
    for pattern, replacement in _REDACT:
        text = pattern.sub(replacement, text)
    return text


def new_request_id() -> str:
    return uuid.uuid4().hex


def valid_request_id(value: str | None) -> bool:
    return bool(value) and _VALID_ID.match(value) is not None


def current_request_id() -> str | None:
    return _request_id.get()


def set_task(name: str | None, task_id: str | None = None) -> None:
    """Mark log records made from now on in this thread as belonging to a worker task (None: no task)."""
    _task.set((name, task_id or "") if name else None)


def _user_id(request) -> int | None:
    """The signed-in user's id, only when something already loaded the user (never a query of its own)."""
    user = request.__dict__.get("user")
    if user is None:
        return None
    if isinstance(user, SimpleLazyObject):
        wrapped = user.__dict__.get("_wrapped", empty)
        if wrapped is empty:
            return None
        user = wrapped
    if getattr(user, "is_authenticated", False):
        return user.pk
    return None


def _path_secrets(request) -> set[str]:
    """Values of the URL parameters that carry a secret (webhook, feed, image tokens). A path that did not
    resolve (the slash-appending redirect, say) is resolved here with a trailing slash added."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        cached = request.__dict__.get("_zpl_path_match", empty)
        if cached is empty:
            cached = None
            path = request.path_info
            try:
                cached = resolve(path if path.endswith("/") else path + "/")
            except (Resolver404, ValueError):
                pass
            request.__dict__["_zpl_path_match"] = cached
        match = cached
    if match is None:
        return set()
    return {
        value
        for name, value in (match.kwargs or {}).items()
        if isinstance(value, str) and len(value) >= 4 and _SECRET_PARAM.search(name)
    }


def safe_path(request) -> str:
    """The request path without its query string, with URL parameters that carry a secret masked."""
    path = request.path
    secrets = _path_secrets(request)
    if secrets:
        path = "/".join("***" if part in secrets else part for part in path.split("/"))
    return redact(path[:300])


def view_label(request) -> str:
    """A bounded label for metrics: the URL name (`app:name`), `static`, or `unresolved`."""
    match = getattr(request, "resolver_match", None)
    if match is not None:
        if match.view_name:
            return match.view_name[:100]
        return (match.route or "unnamed")[:100]
    if request.path.startswith(settings.STATIC_URL):
        return "static"
    return "unresolved"


class RequestContextFilter(logging.Filter):
    """Attach the request's id, method, path, user id and the worker task (when there is one) to the record."""

    def filter(self, record: logging.LogRecord) -> bool:
        request = _request.get()
        record.request_id = _request_id.get() or getattr(record, "request_id", None) or "-"
        if request is not None:
            secrets = _path_secrets(request)
            if secrets:
                # e.g. Django's "Unauthorized: /hooks/woocommerce/<token>/": mask it for every handler
                message = record.getMessage()
                if any(secret in message for secret in secrets):
                    for secret in secrets:
                        message = message.replace(secret, "***")
                    record.msg, record.args = message, None
            record.method = getattr(record, "method", None) or request.method
            record.path = getattr(record, "path", None) or safe_path(request)
            if getattr(record, "user_id", None) is None:
                record.user_id = _user_id(request)
        task = _task.get()
        if task is not None:
            record.task, record.task_id = task
        return True


_EXTRA_FIELDS = ("method", "path", "status", "duration_ms", "user_id", "view", "task", "task_id")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (ISO 8601 UTC), level, logger, message, request_id, and when known
    method, path, status, duration_ms, user_id, view, task, task_id, exc (the traceback)."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, object] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
            "request_id": getattr(record, "request_id", None) or "-",
        }
        for name in _EXTRA_FIELDS:
            value = getattr(record, name, None)
            if value is not None and value != "":
                data[name] = value
        if record.exc_info:
            data["exc"] = redact("".join(traceback.format_exception(*record.exc_info)).rstrip())
        elif record.exc_text:
            data["exc"] = redact(record.exc_text)
        if record.stack_info:
            data["stack"] = redact(record.stack_info)
        return json.dumps(data, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """The plain format with the request id; credentials masked as in the JSON format."""

    def format(self, record: logging.LogRecord) -> str:
        if not hasattr(record, "request_id"):
            record.request_id = "-"
        return redact(super().format(record))


def _request_finished(**kwargs) -> None:
    _request_id.set(None)
    _request.set(None)


request_finished.connect(_request_finished, dispatch_uid="zaplecze.requestlog.finished")


class RequestLogMiddleware:
    """Request id in and out, the access log line, and the request counters. Put it first in MIDDLEWARE."""

    def __init__(self, get_response):
        self.get_response = get_response
        from . import opsmetrics

        self.metrics = opsmetrics
        opsmetrics.install_task_hooks()

    def __call__(self, request):
        incoming = request.headers.get(REQUEST_ID_HEADER)
        request_id = incoming if valid_request_id(incoming) else new_request_id()
        request.request_id = request_id
        # Kept until the response is closed (`request_finished`), not just until this middleware returns:
        # Django logs 4xx/5xx responses after the middleware chain, and those lines need the id too.
        _request_id.set(request_id)
        _request.set(request)
        started = time.perf_counter()
        status = 500
        try:
            response = self.get_response(request)
            status = response.status_code
            response[REQUEST_ID_HEADER] = request_id
            return response
        finally:
            elapsed = time.perf_counter() - started
            view = view_label(request)
            self.metrics.request_observe(
                view=view, method=request.method or "", status=status, seconds=elapsed
            )
            if view in QUIET_VIEWS:
                # probes and scrapes every few seconds: not worth a line each; "not ready" is a warning
                level = logging.DEBUG if status < 400 else logging.WARNING
            elif status >= 500:
                level = logging.ERROR
            else:
                level = logging.INFO
            path = safe_path(request)
            duration_ms = round(elapsed * 1000, 1)
            access_log.log(
                level,
                "%s %s %s %.1fms",
                request.method,
                path,
                status,
                duration_ms,
                extra={
                    "method": request.method,
                    "path": path,
                    "status": status,
                    "duration_ms": duration_ms,
                    "view": view,
                    "user_id": _user_id(request),
                },
            )
