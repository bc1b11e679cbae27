"""The connector interface every platform implements, and the HTTP client they share.

A connector translates: platform payloads -> `OrderIn` (and the platform's status, modified time), our
status and tracking -> platform calls. It holds no database state; the sync engine (`integrations.sync`)
owns cursors, locks, the run log and errors.
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import logging
import random
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

from zaplecze.orders.schemas import OrderIn

log = logging.getLogger("zaplecze.integrations")

USER_AGENT = "Zaplecze/1 (+https://github.com/zaplecze)"


# --- errors -------------------------------------------------------------------------------------------


class ConnectorError(Exception):
    """The platform could not be reached or answered wrongly (after retries)."""

    def __init__(self, message: str, *, status: int | None = None, body: str = ""):
        super().__init__(message)
        self.status = status
        self.body = body


class AuthFailed(ConnectorError):
    """401/403: the credentials were refused. The connection is marked and staff alerted."""


class PayloadError(ConnectorError):
    """The platform answered 2xx with a body we cannot read (not JSON, wrong shape). Kept as a SyncError."""


class SignatureError(Exception):
    """A webhook whose signature does not match: refused with 401, nothing stored."""


# --- what connectors produce --------------------------------------------------------------------------


@dataclass
class Needs:
    """Something the mapping could not decide, to be shown on the order (e.g. an unknown platform status)."""

    code: str
    message: str


@dataclass
class MappedOrder:
    """One platform order, ready for `ingest_order`. `stage` None: the platform status is unknown."""

    external_id: str
    platform_status: str
    modified_at: dt.datetime | None
    order: OrderIn | None  # None: the status says "not an order yet" (e.g. checkout-draft); skip it
    stage: str | None = None
    payment_status: str | None = None
    attention: list[Needs] = field(default_factory=list)
    raw: Any = None  # the platform's payload, kept with an error so it can be retried


@dataclass
class RecordError:
    """A record in a page that could not be mapped: kept with its payload, the page goes on."""

    external_id: str
    message: str
    payload: str


@dataclass
class OrderPage:
    items: list[MappedOrder]
    errors: list[RecordError]
    cursor: str  # resume point after this page is committed
    page: int
    total_pages: int | None = None
    total: int | None = None


@dataclass
class WebhookEvent:
    delivery_id: str
    topic: str
    ping: bool = False


@dataclass
class Offer:
    external_id: str
    sku: str
    name: str
    price: str
    stock: int | None
    parent_id: str = ""


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name.lower(), default)

    def json(self) -> Any:
        try:
            return json.loads(self.body or b"null")
        except ValueError as exc:
            raise PayloadError(
                f"The platform's answer is not JSON ({exc})", status=self.status, body=self.text()
            ) from None

    def text(self, limit: int = 200_000) -> str:
        return self.body[:limit].decode("utf-8", "replace")


# --- HTTP -----------------------------------------------------------------------------------------------


class HttpClient:
    """urllib with timeouts and retries: 5xx, timeouts and connection errors are retried with exponential
    backoff and full jitter; 429 waits for Retry-After (seconds or an HTTP date, capped); 401/403 raise
    AuthFailed at once; other 4xx raise ConnectorError. `sleep` is injectable (tests replace `_sleep`)."""

    def __init__(
        self,
        base_url: str,
        *,
        headers: dict[str, str] | None = None,
        auth: Callable[[urllib.request.Request], None] | None = None,
        timeout: float = 20.0,
        retries: int = 4,
        backoff: float = 0.5,
        max_wait: float = 60.0,
        sleep: Callable[[float], None] | None = None,
    ):
        self.base_url = base_url.rstrip("/")
        self.headers = headers or {}
        self.auth = auth
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.max_wait = max_wait
        self.sleep = sleep
        self.calls = 0

    def url(self, path: str, params: dict[str, Any] | None = None) -> str:
        url = path if path.startswith(("http://", "https://")) else f"{self.base_url}/{path.lstrip('/')}"
        if params:
            query = urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})
            url = f"{url}{'&' if '?' in url else '?'}{query}"
        return url

    def request(
        self, method: str, path: str, *, params: dict[str, Any] | None = None, json_body: Any = None
    ) -> Response:
        url = self.url(path, params)
        data = json.dumps(json_body).encode() if json_body is not None else None
        attempt = 0
        while True:
            attempt += 1
            req = urllib.request.Request(url, data=data, method=method)  # noqa: S310 - http(s) only, checked
            req.add_header("User-Agent", USER_AGENT)
            req.add_header("Accept", "application/json")
            if data is not None:
                req.add_header("Content-Type", "application/json")
            for k, v in self.headers.items():
                req.add_header(k, v)
            if self.auth:
                self.auth(req)
            wait: float | None = None
            self.calls += 1
            try:
                with urllib.request.urlopen(req, timeout=self.timeout) as resp:  # noqa: S310
                    return Response(resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read())
            except urllib.error.HTTPError as exc:
                body = exc.read() if exc.fp else b""
                headers = {k.lower(): v for k, v in (exc.headers or {}).items()}
                response = Response(exc.code, headers, body)
                if exc.code in (401, 403):
                    raise AuthFailed(
                        f"{method} {_path(url)}: {exc.code} — the platform refused the credentials",
                        status=exc.code,
                        body=response.text(2000),
                    ) from None
                if exc.code == 429:
                    wait = _retry_after(response.header("retry-after")) or self._backoff(attempt)
                elif exc.code >= 500:
                    wait = self._backoff(attempt)
                else:
                    raise ConnectorError(
                        f"{method} {_path(url)}: {exc.code} {_short(response.text(500))}",
                        status=exc.code,
                        body=response.text(),
                    ) from None
                problem = f"{exc.code}"
            except (TimeoutError, urllib.error.URLError, http.client.HTTPException, OSError) as exc:
                reason = getattr(exc, "reason", exc)
                wait = self._backoff(attempt)
                problem = f"{type(reason).__name__}: {reason}"
            if attempt > self.retries:
                raise ConnectorError(f"{method} {_path(url)}: gave up after {attempt} attempts ({problem})")
            wait = min(wait, self.max_wait)
            log.info("%s %s: %s, retrying in %.1fs", method, _path(url), problem, wait)
            (self.sleep or _sleep)(wait)

    def _backoff(self, attempt: int) -> float:
        # Full jitter: uniform in [0, base * 2^(attempt-1)] (AWS architecture blog), at least a little.
        return max(0.05, random.uniform(0, self.backoff * 2 ** (attempt - 1)))  # noqa: S311 - not crypto

    def get(self, path: str, **params: Any) -> Response:
        return self.request("GET", path, params=params)


def _sleep(seconds: float) -> None:
    time.sleep(seconds)


def _retry_after(value: str) -> float | None:
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))  # seconds; Shopify sends e.g. "2.0"
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - dt.datetime.now(dt.UTC)).total_seconds())


def _path(url: str) -> str:
    """The URL without its query (query auth carries secrets: never in messages or logs)."""
    return urllib.parse.urlsplit(url).path


def _short(text: str) -> str:
    return " ".join(text.split())[:200]


# --- the interface ------------------------------------------------------------------------------------


class Connector:
    """One platform. Subclasses set `platform`, `credential_fields` and implement what they support."""

    platform: str = ""
    credential_fields: tuple[tuple[str, str], ...] = ()  # (name, label)
    supports_stock = False
    supports_prices = False

    def __init__(
        self,
        *,
        base_url: str,
        credentials: dict[str, str],
        channel: str,
        http=None,
        on_credentials: Callable[[dict[str, str]], None] | None = None,
    ):
        self.base_url = base_url.rstrip("/")
        self.credentials = credentials
        self.channel = channel
        # Called with the whole new credentials dict when the connector renews them itself (an OAuth token
        # refresh): the caller stores them encrypted at once, so a refreshed token is never lost.
        self.on_credentials = on_credentials
        self.http = http or self.make_http()

    def credentials_changed(self, values: dict[str, str]) -> None:
        self.credentials = dict(values)
        if self.on_credentials is not None:
            self.on_credentials(dict(values))

    def make_http(self) -> HttpClient:
        raise NotImplementedError

    # reading
    def test(self) -> str:
        """One cheap authenticated call; returns a short description ("WooCommerce 9.0, 120 orders")."""
        raise NotImplementedError

    def orders_since(self, cursor: str, *, since: dt.datetime | None = None) -> Iterator[OrderPage]:
        """Pages of orders modified after `cursor` (or `since`), oldest modification first."""
        raise NotImplementedError

    def map_order(self, payload: dict, *, current_stage: str | None = None) -> MappedOrder:
        raise NotImplementedError

    def offers(self) -> Iterator[Offer]:
        raise NotImplementedError

    # webhooks
    def verify_webhook(self, *, headers: dict[str, str], body: bytes) -> WebhookEvent:
        """Check the signature on the raw body (constant time); raise SignatureError when it fails."""
        raise NotImplementedError

    def webhook_orders(self, *, topic: str, body: bytes) -> list[dict]:
        """The order payloads a verified delivery carries (empty: nothing for us)."""
        raise NotImplementedError

    # writing back
    def push_status(self, *, external_id: str, stage: str) -> str:
        raise NotImplementedError

    def push_tracking(self, *, external_id: str, carrier: str, tracking_number: str, url: str = "") -> None:
        raise NotImplementedError

    def push_stock(self, *, sku: str, quantity: int) -> bool:
        raise NotImplementedError

    def push_price(self, *, sku: str, regular: str, sale: str | None = None) -> bool:
        raise NotImplementedError
