"""Storefront check: read the live shop's sitemap (or a list of URLs), fetch the product pages politely,
and compare each page with the catalog (issue #6 point 5). docs/storefront-check.md explains it all.

The module has four layers, top to bottom:

* fetching (no Django): `Fetcher` over http.client with a per-host rate limiter, robots.txt
  (urllib.robotparser), connect/read timeouts, a redirect limit with loop detection, a response size
  limit, retries with backoff for 5xx/timeouts and 429 Retry-After;
* sitemaps: `collect_urls` reads sitemap.xml, sitemap index files, gzip sitemaps and plain-text lists;
* page parsing (no Django): `parse_page` reads schema.org Product JSON-LD (``@graph``, arrays,
  ProductGroup/hasVariant, offers, priceSpecification) and OpenGraph/product meta tags; broken data is
  a problem on the page, never an exception;
* the run (Django): `site_check_start` queues a run, `site_check_execute` runs it (worker threads fetch
  and parse, the calling thread matches pages to variants, compares and writes results in batches),
  and the selectors read runs, results and per-product history.
"""

from __future__ import annotations

import datetime as dt
import http.client
import io
import json
import re
import ssl
import threading
import time
import zlib
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from decimal import Decimal, InvalidOperation
from email.utils import parsedate_to_datetime
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit
from urllib.robotparser import RobotFileParser
from xml.etree import ElementTree

USER_AGENT = "ZapleczeBot/1.0 (+shop back office)"
JOB_KIND = "catalog.site_check"

# --- problem codes ------------------------------------------------------------------------------------
# Each result row holds a list of {"code", "expected", "found"}. The severity follows from the code:
# "failed" = the page could not be checked, "problem" = the page disagrees with the catalog,
# "info" = worth knowing, not a mismatch.
FETCH_FAILED = "fetch_failed"  # timeout, redirect loop, too large, connection refused...
HTTP_STATUS = "http_status"  # answered, but not 200
ROBOTS = "robots_disallowed"  # robots.txt forbids us this page: not fetched
NO_PRODUCT_DATA = "no_product_data"  # neither Product JSON-LD nor product meta tags
JSONLD_INVALID = "jsonld_invalid"  # a JSON-LD block that is not valid JSON or not usable
UNKNOWN_PRODUCT = "unknown_product"  # no SKU/GTIN/URL of the catalog on the page
NAME = "name"
PRICE = "price"
CURRENCY = "currency"
AVAILABILITY = "availability"
IMAGE_MISSING = "image_missing"
IMAGE_BROKEN = "image_broken"
OMNIBUS_MISSING = "omnibus_missing"  # a reduced price without the lowest price of the 30 days before
OMNIBUS_PRICE = "omnibus_price"  # a "lowest price" label with another amount than the catalog's

FAILED_CODES = frozenset({FETCH_FAILED, HTTP_STATUS, ROBOTS})
INFO_CODES = frozenset({UNKNOWN_PRODUCT})
ALL_CODES = (
    FETCH_FAILED,
    HTTP_STATUS,
    ROBOTS,
    NO_PRODUCT_DATA,
    JSONLD_INVALID,
    UNKNOWN_PRODUCT,
    NAME,
    PRICE,
    CURRENCY,
    AVAILABILITY,
    IMAGE_MISSING,
    IMAGE_BROKEN,
    OMNIBUS_MISSING,
    OMNIBUS_PRICE,
)


def severity(code: str) -> str:
    if code in FAILED_CODES:
        return "failed"
    if code in INFO_CODES:
        return "info"
    return "problem"


def code_labels() -> dict[str, str]:
    from django.utils.translation import gettext as _

    return {
        FETCH_FAILED: _("Page not fetched"),
        HTTP_STATUS: _("HTTP status"),
        ROBOTS: _("Blocked by robots.txt"),
        NO_PRODUCT_DATA: _("No product data"),
        JSONLD_INVALID: _("Invalid JSON-LD"),
        UNKNOWN_PRODUCT: _("Unknown product"),
        NAME: _("Name"),
        PRICE: _("Price"),
        CURRENCY: _("Currency"),
        AVAILABILITY: _("Availability"),
        IMAGE_MISSING: _("No image"),
        IMAGE_BROKEN: _("Image does not load"),
        OMNIBUS_MISSING: _("Lowest 30-day price not shown"),
        OMNIBUS_PRICE: _("Lowest 30-day price differs"),
    }


def fixed_texts() -> dict[str, str]:
    """The fixed English values stored in problems (kept in English in the data, the API and the CSV),
    translated for the screens by `for_display`."""
    from django.utils.translation import gettext as _

    return {
        "valid JSON": _("valid JSON"),
        "Product with name and offers": _("Product with name and offers"),
        "empty Product": _("empty Product"),
        "readable HTML": _("readable HTML"),
        "schema.org Product or product meta tags": _("schema.org Product or product meta tags"),
        "lowest price of the 30 days before the reduction": _(
            "lowest price of the 30 days before the reduction"
        ),
        "allowed": _("allowed"),
        "Disallow": _("Disallow"),
        "HTTP 200": _("HTTP 200"),
        "an image": _("an image"),
        "SKU, GTIN or listing URL of the catalog": _("SKU, GTIN or listing URL of the catalog"),
        "InStock": _("in stock"),
        "OutOfStock": _("out of stock"),
        "timeout": _("timeout"),
    }


def for_display(problems: list[dict]) -> list[dict]:
    """Copies of `problems` with a label for the code and translated fixed values, for templates."""
    labels, texts = code_labels(), fixed_texts()
    return [
        {
            **p,
            "label": labels.get(p.get("code", ""), p.get("code", "")),
            "expected": texts.get(p.get("expected", ""), p.get("expected", "")),
            "found": texts.get(p.get("found", ""), p.get("found", "")),
        }
        for p in problems or []
        if isinstance(p, dict)
    ]


def problem(code: str, expected: Any = "", found: Any = "") -> dict[str, str]:
    return {"code": code, "expected": _short(expected), "found": _short(found)}


def _short(value: Any, limit: int = 300) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- fetching -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Politeness:
    """How we treat the shop's server. `rate` is requests per second per host (0 = no limit)."""

    rate: float = 2.0
    concurrency: int = 4
    connect_timeout: float = 5.0
    read_timeout: float = 15.0
    total_timeout: float = 60.0  # one response, all of its body
    max_redirects: int = 5
    max_bytes: int = 5_000_000
    retries: int = 2  # extra attempts after a 5xx, a timeout, a dropped connection or a 429
    backoff: float = 1.0  # seconds before the first retry, doubled for each next one
    max_retry_after: float = 60.0  # a 429/503 asking to wait longer than this is not retried
    images_per_page: int = 3
    user_agent: str = USER_AGENT


@dataclass
class Fetched:
    url: str
    final_url: str = ""
    status: int | None = None
    content_type: str = ""
    body: bytes = b""
    error: str = (
        ""  # "" or: timeout, connection, redirect_loop, too_many_redirects, too_large, robots, bad_url
    )
    detail: str = ""
    ms: int = 0
    attempts: int = 0
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.error and self.status == 200


class _TooLarge(Exception):
    pass


class HostLimiter:
    """At most one request per `interval` seconds per host, across threads (a reservation per request).

    `defer` pushes a host's next slot back (429 Retry-After); `slow_down` raises a host's interval
    (robots.txt Crawl-delay)."""

    def __init__(self, rate: float):
        self.interval = 1.0 / rate if rate and rate > 0 else 0.0
        self._next: dict[str, float] = {}
        self._floor: dict[str, float] = {}
        self._lock = threading.Lock()

    def slow_down(self, host: str, interval: float) -> None:
        with self._lock:
            self._floor[host] = max(self._floor.get(host, 0.0), interval)

    def defer(self, host: str, seconds: float) -> None:
        with self._lock:
            self._next[host] = max(self._next.get(host, 0.0), time.monotonic() + seconds)

    def wait(self, host: str) -> None:
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next.get(host, 0.0))
            self._next[host] = slot + max(self.interval, self._floor.get(host, 0.0))
        if slot > now:
            time.sleep(slot - now)


def normalise_url(url: str) -> str:
    """Comparable form of a URL: lower-case scheme and host, no default port, no fragment, sorted query,
    no trailing slash (except the root)."""
    try:
        parts = urlsplit(url.strip())
        host = (parts.hostname or "").lower()
        port = parts.port
    except ValueError:
        return url.strip()
    scheme = parts.scheme.lower()
    if port and not ((scheme == "http" and port == 80) or (scheme == "https" and port == 443)):
        host = f"{host}:{port}"
    path = parts.path or "/"
    if len(path) > 1:
        path = path.rstrip("/")
    query = urlencode(sorted(parse_qsl(parts.query, keep_blank_values=True)))
    return urlunsplit((scheme, host, path, query, ""))


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


class Robots:
    """robots.txt per origin, fetched once (RFC 9309: a 4xx answer allows everything; a 5xx or no answer
    disallows everything). Rules for "ZapleczeBot" apply, else those for "*"."""

    def __init__(self, fetcher: Fetcher):
        self.fetcher = fetcher
        self._parsers: dict[str, RobotFileParser] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    def parser(self, origin: str) -> RobotFileParser:
        with self._lock:
            lock = self._locks.setdefault(origin, threading.Lock())
        with lock:
            if origin not in self._parsers:
                self._parsers[origin] = self._load(origin)
            return self._parsers[origin]

    def _load(self, origin: str) -> RobotFileParser:
        parser = RobotFileParser(origin + "/robots.txt")
        got = self.fetcher.fetch(origin + "/robots.txt", check_robots=False, max_bytes=500_000)
        if got.status is not None and 400 <= got.status < 500:
            parser.allow_all = True
        elif got.error or got.status != 200:
            parser.disallow_all = True
        else:
            parser.parse(_decode(got.body, got.content_type).splitlines())
        parser.modified()  # can_fetch() answers False until the parser knows when it was read
        delay = None
        try:
            delay = parser.crawl_delay(self.fetcher.politeness.user_agent)
        except (AttributeError, ValueError):
            delay = None
        if delay:
            host = urlsplit(origin).netloc.lower()
            self.fetcher.limiter.slow_down(host, float(delay))
        return parser

    def allowed(self, url: str) -> bool:
        return self.parser(_origin(url)).can_fetch(self.fetcher.politeness.user_agent, url)

    def sitemaps(self, origin: str) -> list[str]:
        return list(self.parser(origin).site_maps() or [])


class Fetcher:
    """GET/HEAD over http.client: one connection per request ("Connection: close"), the politeness rules
    above, never an exception (errors come back in `Fetched.error`)."""

    REDIRECTS = (301, 302, 303, 307, 308)

    def __init__(self, politeness: Politeness | None = None, *, sleep: Callable[[float], None] = time.sleep):
        self.politeness = politeness or Politeness()
        self.limiter = HostLimiter(self.politeness.rate)
        self.robots = Robots(self)
        self.sleep = sleep
        self.requests = 0  # counted for the report (approximate under threads is fine)

    def fetch(
        self, url: str, *, method: str = "GET", check_robots: bool = True, max_bytes: int | None = None
    ) -> Fetched:
        p = self.politeness
        started = time.monotonic()
        result = Fetched(url=url)
        seen: set[str] = set()
        current = url
        for _hop in range(p.max_redirects + 1):
            key = normalise_url(current)
            if key in seen:
                return self._done(result, started, error="redirect_loop", detail=current)
            seen.add(key)
            parts = urlsplit(current)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                return self._done(result, started, error="bad_url", detail=current)
            if check_robots and not self.robots.allowed(current):
                return self._done(result, started, error="robots", detail=current)
            self._attempt(result, parts, method, max_bytes or p.max_bytes)
            result.final_url = current
            if result.error:
                return self._done(result, started)
            location = result.headers.get("location", "")
            if result.status in self.REDIRECTS and location:
                current = urljoin(current, location.strip())
                if result.status == 303:
                    method = "GET" if method != "HEAD" else "HEAD"
                continue
            return self._done(result, started)
        return self._done(result, started, error="too_many_redirects", detail=current)

    def _done(self, result: Fetched, started: float, *, error: str = "", detail: str = "") -> Fetched:
        if error:
            result.error, result.detail, result.body = error, detail, b""
        result.ms = int((time.monotonic() - started) * 1000)
        return result

    def _attempt(self, result: Fetched, parts, method: str, max_bytes: int) -> None:
        p = self.politeness
        host = parts.netloc.lower()
        for attempt in range(p.retries + 1):
            self.limiter.wait(host)
            result.attempts += 1
            self.requests += 1
            result.error = result.detail = ""
            try:
                status, headers, body = self._once(parts, method, max_bytes)
            except _TooLarge:
                result.error, result.detail = "too_large", f"> {max_bytes} bytes"
                return
            except TimeoutError:
                result.error, result.detail = "timeout", ""
            except (OSError, http.client.HTTPException, ssl.SSLError) as exc:
                result.error, result.detail = "connection", f"{type(exc).__name__}: {exc}"[:200]
            else:
                result.status, result.headers, result.body = status, headers, body
                result.content_type = headers.get("content-type", "")
                last = attempt >= p.retries
                if status == 429 or (status == 503 and "retry-after" in headers):
                    wait = _retry_after(headers.get("retry-after", ""))
                    if wait is None:
                        wait = p.backoff * 2**attempt
                    if last or wait > p.max_retry_after:
                        return
                    self.limiter.defer(host, wait)  # every thread waits for this host, not only this one
                    continue
                if 500 <= status < 600 and not last:
                    self.sleep(p.backoff * 2**attempt)
                    continue
                return
            if attempt < p.retries:
                self.sleep(p.backoff * 2**attempt)

    def _once(self, parts, method: str, max_bytes: int) -> tuple[int, dict[str, str], bytes]:
        p = self.politeness
        host = parts.hostname
        port = parts.port
        if parts.scheme == "https":
            conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                host, port, timeout=p.connect_timeout, context=ssl.create_default_context()
            )
        else:
            conn = http.client.HTTPConnection(host, port, timeout=p.connect_timeout)
        deadline = time.monotonic() + p.total_timeout
        try:
            conn.connect()
            conn.sock.settimeout(p.read_timeout)
            target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            conn.putrequest(method, target, skip_accept_encoding=True)
            conn.putheader("User-Agent", p.user_agent)
            conn.putheader("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
            conn.putheader("Accept-Encoding", "gzip")
            conn.putheader("Connection", "close")
            conn.endheaders()
            response = conn.getresponse()
            headers = {k.lower(): v for k, v in response.getheaders()}
            length = headers.get("content-length", "")
            if length.isdigit() and int(length) > max_bytes:
                raise _TooLarge
            chunks: list[bytes] = []
            size = 0
            if method != "HEAD":
                while True:
                    chunk = response.read(65536)
                    if not chunk:
                        break
                    size += len(chunk)
                    if size > max_bytes:
                        raise _TooLarge
                    chunks.append(chunk)
                    if time.monotonic() > deadline:
                        raise TimeoutError
            body = b"".join(chunks)
            if headers.get("content-encoding", "").lower() in ("gzip", "x-gzip") and body:
                body = _gunzip(body, max_bytes)
            return response.status, headers, body
        finally:
            conn.close()


def _retry_after(value: str) -> float | None:
    value = value.strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - dt.datetime.now(dt.UTC)).total_seconds())


def _gunzip(data: bytes, max_bytes: int) -> bytes:
    """Decompress at most `max_bytes` (a gzip bomb is "too large", not a full memory)."""
    decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = decompressor.decompress(data, max_bytes + 1)
    except zlib.error as exc:
        raise ValueError(f"broken gzip data: {exc}") from exc
    if len(out) > max_bytes:
        raise _TooLarge
    return out


def _decode(body: bytes, content_type: str = "") -> str:
    match = re.search(r"charset=[\"']?([\w.:-]+)", content_type or "", re.I)
    charset = match.group(1) if match else ""
    if not charset:
        head = body[:2048].decode("ascii", "replace")
        meta = re.search(r"<meta[^>]+charset=[\"']?([\w.:-]+)", head, re.I)
        charset = meta.group(1) if meta else "utf-8"
    try:
        return body.decode(charset, "replace")
    except LookupError:
        return body.decode("utf-8", "replace")


# --- sitemaps -----------------------------------------------------------------------------------------


class SiteCheckError(Exception):
    """The run cannot go on (e.g. the sitemap does not load). The message is for people."""


MAX_SITEMAP_FILES = 50
MAX_SITEMAP_BYTES = 50_000_000  # the sitemaps.org limit for one file, uncompressed


def parse_sitemap(body: bytes) -> tuple[str, list[str]]:
    """("index" | "urlset" | "text", locations). Raises ValueError for anything else."""
    if body[:2] == b"\x1f\x8b":
        body = _gunzip(body, MAX_SITEMAP_BYTES)
    head = body[:4096].lstrip()
    if head.startswith(b"<") or head.startswith(b"\xef\xbb\xbf<"):
        if b"<!DOCTYPE" in body[:4096].upper() or b"<!ENTITY" in body.upper():
            raise ValueError("sitemaps with a DOCTYPE or entities are refused")
        locs: list[str] = []
        root_tag = ""
        try:
            # DOCTYPE/entities are refused above, so no entity expansion: S314 does not apply
            for event, element in ElementTree.iterparse(io.BytesIO(body), events=("start", "end")):  # noqa: S314
                tag = element.tag.rsplit("}", 1)[-1]
                if event == "start":
                    if not root_tag:
                        root_tag = tag
                    continue
                if tag == "loc" and element.text:
                    locs.append(element.text.strip())
                elif tag in ("url", "sitemap"):
                    element.clear()
        except ElementTree.ParseError as exc:
            raise ValueError(f"not valid XML: {exc}") from exc
        if root_tag == "sitemapindex":
            return "index", locs
        if root_tag == "urlset":
            return "urlset", locs
        raise ValueError(f"unknown sitemap root element <{root_tag}>")
    lines = [line.strip() for line in body.decode("utf-8", "replace").splitlines()]
    urls = [line for line in lines if line.startswith(("http://", "https://"))]
    if not urls:
        raise ValueError("neither a sitemap XML nor a list of URLs")
    return "text", urls


def collect_urls(
    fetcher: Fetcher,
    *,
    base_url: str,
    sitemap_url: str = "",
    urls: Iterable[str] = (),
    limit: int,
) -> tuple[list[str], list[str]]:
    """The product page URLs to check (at most `limit`) and notes about what was skipped.

    An explicit list wins; else the given sitemap; else the sitemaps robots.txt names; else
    /sitemap.xml. Only http(s) URLs on the base URL's or the sitemap's host are kept."""
    notes: list[str] = []
    hosts = {urlsplit(u).netloc.lower() for u in (base_url, sitemap_url) if u}
    out: list[str] = []
    seen: set[str] = set()

    def keep(candidates: Iterable[str], any_host: bool = False) -> None:
        skipped = 0
        for raw in candidates:
            url = raw.strip()
            if not url:
                continue
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not (any_host or parts.netloc.lower() in hosts):
                skipped += 1
                continue
            key = normalise_url(url)
            if key in seen:
                continue
            if len(out) >= limit:
                break
            seen.add(key)
            out.append(url)
        if skipped:
            notes.append(f"{skipped} URL(s) on other hosts or with other schemes skipped")

    listed = [u for u in urls if u.strip()]
    if listed:  # the person listed them: any host
        keep(listed, any_host=True)
        return out, notes
    if sitemap_url:
        roots = [sitemap_url]
    else:
        origin = _origin(base_url)
        roots = fetcher.robots.sitemaps(origin) or [origin + "/sitemap.xml"]
        hosts |= {urlsplit(u).netloc.lower() for u in roots}
    queue = list(roots)
    files = 0
    visited: set[str] = set()
    while queue and len(out) < limit:
        url = queue.pop(0)
        key = normalise_url(url)
        if key in visited:
            continue
        visited.add(key)
        files += 1
        if files > MAX_SITEMAP_FILES:
            notes.append(f"more than {MAX_SITEMAP_FILES} sitemap files: the rest were not read")
            break
        got = fetcher.fetch(url, max_bytes=MAX_SITEMAP_BYTES)
        is_root = url in roots
        if not got.ok:
            reason = _fetch_error_text(got) if got.error else f"HTTP {got.status}"
            if is_root and not out and not queue:
                raise SiteCheckError(f"The sitemap {url} could not be read ({reason}).")
            notes.append(f"sitemap {url} not read ({reason})")
            continue
        try:
            kind, locs = parse_sitemap(got.body)
        except (ValueError, _TooLarge) as exc:
            if is_root and not out and not queue:
                raise SiteCheckError(f"The sitemap {url} could not be read: {exc}.") from exc
            notes.append(f"sitemap {url} not read: {exc}")
            continue
        if kind == "index":
            queue.extend(loc for loc in locs if urlsplit(loc).netloc.lower() in hosts)
        else:
            keep(locs)
    return out, notes


# --- page parsing -------------------------------------------------------------------------------------


class _PageParser(HTMLParser):
    BREAKS = frozenset(
        "p div br li td th tr dd dt h1 h2 h3 h4 h5 h6 section article aside header footer span".split()
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ld: list[str] = []
        self.meta: dict[str, list[str]] = {}
        self.text: list[str] = []
        self.canonical = ""
        self.title: list[str] = []
        self._mode = ""  # "ld", "skip", "title"
        self._buf: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = {k.lower(): (v or "") for k, v in attrs}
        if tag == "script":
            kind = a.get("type", "").split(";")[0].strip().lower()
            self._mode = "ld" if kind == "application/ld+json" else "skip"
            self._buf = []
        elif tag in ("style", "template"):
            self._mode = "skip"
        elif tag == "title" and not self._mode:
            self._mode = "title"
        elif tag == "meta":
            key = (a.get("property") or a.get("name") or a.get("itemprop") or "").strip().lower()
            if key and "content" in a:
                self.meta.setdefault(key, []).append(a["content"].strip())
        elif tag == "link" and "canonical" in a.get("rel", "").lower().split():
            self.canonical = a.get("href", "").strip()
        elif tag in self.BREAKS:
            self.text.append(" ")

    def handle_endtag(self, tag):
        if tag == "script" and self._mode == "ld":
            self.ld.append("".join(self._buf))
            self._mode = ""
        elif (tag in ("script", "style", "template") and self._mode == "skip") or (
            tag == "title" and self._mode == "title"
        ):
            self._mode = ""
        elif tag in self.BREAKS:
            self.text.append(" ")

    def handle_data(self, data):
        if self._mode == "ld":
            self._buf.append(data)
        elif self._mode == "title":
            self.title.append(data)
        elif not self._mode:
            self.text.append(data)


@dataclass
class Candidate:
    """What a page says about one product (one offer): from JSON-LD, or from meta tags."""

    source: str  # "json-ld" | "meta"
    name: str = ""
    skus: list[str] = field(default_factory=list)
    gtins: list[str] = field(default_factory=list)
    price: Decimal | None = None
    price_raw: str = ""
    currency: str = ""
    availability: str = ""  # schema.org term: InStock, OutOfStock, ...
    regular_price: Decimal | None = None  # a higher "was" price shown beside the price
    sale_signal: bool = False  # the page marks the price as a sale (og sale tags, a strikethrough price)
    images: list[str] = field(default_factory=list)


@dataclass
class ParsedPage:
    url: str
    candidates: list[Candidate]
    problems: list[dict]
    text: str  # the visible text, whitespace collapsed (for the Omnibus label)
    canonical: str = ""


_SPACES = re.compile(r"[\s\u00a0\u202f\u2007]+")


def _clean(text: str) -> str:
    return _SPACES.sub(" ", text or "").strip()


def _type_names(node: dict) -> set[str]:
    raw = node.get("@type", [])
    items = raw if isinstance(raw, list) else [raw]
    names = set()
    for item in items:
        if isinstance(item, str):
            names.add(re.sub(r"^(https?://schema\.org/|schema:)", "", item.strip(), flags=re.I))
    return names


def _term(value: Any) -> str:
    """A schema.org enumeration value: "https://schema.org/InStock" -> "InStock"."""
    if isinstance(value, dict):
        value = value.get("@id") or value.get("name") or ""
    if not isinstance(value, str):
        return ""
    return value.strip().rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1]


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _text_value(value: Any) -> str:
    if isinstance(value, dict):
        value = value.get("@value") or value.get("name") or ""
    if isinstance(value, list):
        value = next((v for v in value if isinstance(v, str | int | float)), "")
    return _clean(str(value)) if isinstance(value, str | int | float) and not isinstance(value, bool) else ""


def parse_amount(value: Any) -> Decimal | None:
    """A price from JSON-LD or a meta tag: 129.99, "129.99", "129,99", "1 299,99 zł", "1.299,99"."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        try:
            return Decimal(str(value)).quantize(Decimal("0.01"))
        except InvalidOperation:
            return None
    if not isinstance(value, str):
        return None
    text = re.sub(r"[^\d.,-]", "", value.replace("\u00a0", "").replace(" ", ""))
    if not re.search(r"\d", text):
        return None
    if "," in text and "." in text:
        decimal_sep = "," if text.rfind(",") > text.rfind(".") else "."
        thousands = "." if decimal_sep == "," else ","
        text = text.replace(thousands, "").replace(decimal_sep, ".")
    elif "," in text:
        whole, _sep, frac = text.rpartition(",")
        text = (whole.replace(",", "") + "." + frac) if len(frac) <= 2 else text.replace(",", "")
    elif text.count(".") > 1:
        whole, _sep, frac = text.rpartition(".")
        text = whole.replace(".", "") + ("." + frac if len(frac) <= 2 else frac)
    try:
        amount = Decimal(text).quantize(Decimal("0.01"))
    except InvalidOperation:
        return None
    return amount if amount.is_finite() and amount >= 0 else None


def _image_urls(value: Any, page_url: str) -> list[str]:
    out = []
    for item in _as_list(value):
        if isinstance(item, dict):
            item = item.get("url") or item.get("contentUrl") or item.get("@id") or ""
        if isinstance(item, str) and item.strip():
            out.append(urljoin(page_url, item.strip()))
    return out


def _identifiers(node: dict) -> tuple[list[str], list[str]]:
    skus = [s for s in (_text_value(v) for v in _as_list(node.get("sku"))) if s]
    gtins = []
    for key in ("gtin13", "gtin", "gtin8", "gtin12", "gtin14", "ean"):
        for v in _as_list(node.get(key)):
            digits = re.sub(r"\D", "", _text_value(v))
            if digits:
                gtins.append(digits)
    product_id = _text_value(node.get("productID"))
    if re.match(r"^(ean|gtin\d*|upc):", product_id, re.I):
        gtins.append(re.sub(r"\D", "", product_id))
    return skus, gtins


def _offer_nodes(offers: Any) -> list[dict]:
    """Offers flattened: an AggregateOffer's own offers replace it when present."""
    out = []
    for offer in _as_list(offers):
        if not isinstance(offer, dict):
            continue
        inner = [o for o in _as_list(offer.get("offers")) if isinstance(o, dict)]
        if "AggregateOffer" in _type_names(offer) and inner:
            out.extend(inner)
        else:
            out.append(offer)
    return out


def _apply_offer(cand: Candidate, offer: dict) -> None:
    types = _type_names(offer)
    raw = offer.get("price")
    if raw is None and "AggregateOffer" in types:
        low, high = parse_amount(offer.get("lowPrice")), parse_amount(offer.get("highPrice"))
        if low is not None and (high is None or high == low):
            raw = offer.get("lowPrice")
    specs = [s for s in _as_list(offer.get("priceSpecification")) if isinstance(s, dict)]
    for spec in specs:
        kind = _term(spec.get("priceType"))
        if kind in ("StrikethroughPrice", "ListPrice", "SRP", "MSRP"):
            regular = parse_amount(spec.get("price"))
            if regular is not None:
                cand.regular_price = regular
                cand.sale_signal = cand.sale_signal or kind == "StrikethroughPrice"
        elif raw is None and spec.get("price") is not None:
            raw = spec.get("price")
            cand.currency = cand.currency or _text_value(spec.get("priceCurrency")).upper()
    if raw is not None:
        cand.price_raw = _text_value(raw)
        cand.price = parse_amount(raw)
    cand.currency = _text_value(offer.get("priceCurrency")).upper() or cand.currency
    cand.availability = _term(offer.get("availability")) or cand.availability


def _candidates_from_product(
    node: dict, page_url: str, inherited: Candidate | None = None
) -> list[Candidate]:
    base = Candidate(source="json-ld")
    if inherited:
        base.name, base.images = inherited.name, list(inherited.images)
    base.name = _text_value(node.get("name")) or base.name
    base.images = _image_urls(node.get("image"), page_url) or base.images
    base.skus, base.gtins = _identifiers(node)
    offers = _offer_nodes(node.get("offers"))
    with_ids = [o for o in offers if any(_identifiers(o))]
    if len(offers) > 1 and len(with_ids) == len(offers):
        out = []
        for offer in offers:  # one offer per variant, each with its own SKU/GTIN
            cand = Candidate(source="json-ld", name=base.name, images=list(base.images))
            skus, gtins = _identifiers(offer)
            cand.skus, cand.gtins = skus or base.skus, gtins or base.gtins
            _apply_offer(cand, offer)
            out.append(cand)
        return out
    if offers:
        priced = next((o for o in offers if o.get("price") is not None), offers[0])
        skus, gtins = _identifiers(priced)
        base.skus, base.gtins = base.skus or skus, base.gtins or gtins
        _apply_offer(base, priced)
    return [base]


def _find_products(node: Any, out: list[dict], depth: int = 0) -> None:
    if depth > 12:
        return
    if isinstance(node, list):
        for item in node:
            _find_products(item, out, depth + 1)
        return
    if not isinstance(node, dict):
        return
    types = _type_names(node)
    if types & {"Product", "ProductGroup", "IndividualProduct", "ProductModel", "Vehicle", "Book"}:
        out.append(node)
        return
    for key in ("@graph", "mainEntity", "mainEntityOfPage"):
        if key in node:
            _find_products(node[key], out, depth + 1)


def _jsonld_candidates(blocks: list[str], page_url: str) -> tuple[list[Candidate], list[dict]]:
    problems = []
    products: list[dict] = []
    for number, block in enumerate(blocks, start=1):
        text = block.strip()
        if not text:
            continue
        if text.startswith("<!--"):  # old pages wrap the script content in an HTML comment
            text = text.removeprefix("<!--").removesuffix("-->").strip()
        try:
            data = json.loads(text)
        except (ValueError, RecursionError) as exc:
            problems.append(problem(JSONLD_INVALID, "valid JSON", f"block {number}: {exc}"))
            continue
        _find_products(data, products)
    candidates: list[Candidate] = []
    for node in products:
        variants = [v for v in _as_list(node.get("hasVariant")) if isinstance(v, dict)]
        if "ProductGroup" in _type_names(node) and variants:
            group = Candidate(
                source="json-ld",
                name=_text_value(node.get("name")),
                images=_image_urls(node.get("image"), page_url),
            )
            for variant in variants:
                candidates.extend(_candidates_from_product(variant, page_url, group))
        else:
            candidates.extend(_candidates_from_product(node, page_url))
    if products and not any(c.name or c.price is not None or c.skus or c.gtins for c in candidates):
        problems.append(problem(JSONLD_INVALID, "Product with name and offers", "empty Product"))
    return candidates, problems


_IN_STOCK_WORDS = {"instock", "in stock", "in_stock", "available", "limitedavailability", "onlineonly"}
_OUT_WORDS = {"outofstock", "out of stock", "out_of_stock", "oos", "soldout", "discontinued"}


def _meta_availability(value: str) -> str:
    word = _term(value).lower() if value.startswith("http") else value.strip().lower()
    if word in _IN_STOCK_WORDS:
        return "InStock"
    if word in _OUT_WORDS:
        return "OutOfStock"
    mapping = {"preorder": "PreOrder", "pre-order": "PreOrder", "backorder": "BackOrder"}
    return mapping.get(word, _term(value))


def _meta_candidate(meta: dict[str, list[str]], page_url: str) -> Candidate | None:
    def first(*keys: str) -> str:
        for key in keys:
            for value in meta.get(key, []):
                if value:
                    return value
        return ""

    price_raw = first("product:price:amount", "og:price:amount", "price")
    sale_raw = first("product:sale_price:amount", "og:sale_price:amount")
    original_raw = first("product:original_price:amount")
    sku = first("product:retailer_item_id", "product:sku", "sku")
    gtin = re.sub(r"\D", "", first("product:gtin", "product:ean", "gtin13", "gtin"))
    is_product = first("og:type").lower() in ("product", "og:product", "product.item")
    if not (price_raw or sale_raw or sku or gtin or is_product):
        return None
    cand = Candidate(source="meta", name=_clean(first("og:title", "name")))
    cand.skus = [sku] if sku else []
    cand.gtins = [gtin] if gtin else []
    cand.currency = first("product:price:currency", "og:price:currency", "pricecurrency").upper()
    cand.availability = _meta_availability(first("product:availability", "og:availability", "availability"))
    if sale_raw:
        cand.price_raw, cand.price = sale_raw, parse_amount(sale_raw)
        cand.regular_price = parse_amount(price_raw) if price_raw else None
        cand.sale_signal = True
        cand.currency = cand.currency or first("product:sale_price:currency").upper()
    elif price_raw:
        cand.price_raw, cand.price = price_raw, parse_amount(price_raw)
    if original_raw:
        cand.regular_price = parse_amount(original_raw)
    images = meta.get("og:image", []) + meta.get("og:image:secure_url", []) + meta.get("og:image:url", [])
    cand.images = list(dict.fromkeys(urljoin(page_url, u) for u in images if u))
    return cand


def parse_page(url: str, html: str) -> ParsedPage:
    """Read a product page; everything wrong with its data becomes a problem in the result."""
    parser = _PageParser()
    try:
        parser.feed(html)
        parser.close()
    except Exception as exc:  # noqa: BLE001 - html.parser is lenient; anything left is reported
        return ParsedPage(url, [], [problem(NO_PRODUCT_DATA, "readable HTML", str(exc))], "")
    candidates, problems = _jsonld_candidates(parser.ld, url)
    meta = _meta_candidate(parser.meta, url)
    if meta is not None:
        if not candidates:
            candidates = [meta]
        elif len(candidates) == 1:
            c = candidates[0]  # meta tags fill in what the JSON-LD left out
            c.name = c.name or meta.name
            c.skus = c.skus or meta.skus
            c.gtins = c.gtins or meta.gtins
            if c.price is None and meta.price is not None:
                c.price, c.price_raw, c.currency = meta.price, meta.price_raw, c.currency or meta.currency
            c.regular_price = c.regular_price if c.regular_price is not None else meta.regular_price
            c.sale_signal = c.sale_signal or meta.sale_signal
            c.availability = c.availability or meta.availability
            c.images = c.images or meta.images
    if not candidates:
        problems.append(problem(NO_PRODUCT_DATA, "schema.org Product or product meta tags", ""))
    text = _clean("".join(parser.text))[:2_000_000]
    return ParsedPage(
        url, candidates, problems, text, urljoin(url, parser.canonical) if parser.canonical else ""
    )


# --- the Omnibus label --------------------------------------------------------------------------------

# Words that, near an amount, label it as the lowest price of the 30 days before the reduction.
OMNIBUS_PHRASES = re.compile(
    r"najni[żz]sz\w*\s+cen\w*|cena\s+najni[żz]sz\w*|lowest\s+price|omnibus|30\s+dni|30\s+days"
    r"|niedrigste\w*\s+preis|prix\s+le\s+plus\s+bas",
    re.I,
)
NEAR = 150  # characters before or after the label
_AMOUNT = re.compile(
    r"(?<![\d.,])\d{1,3}(?:[ .,]\d{3})*(?:[.,]\d{1,2})?(?![\d])|(?<![\d.,])\d+(?:[.,]\d{1,2})?(?!\d)"
)


def amount_spellings(amount: Decimal) -> list[str]:
    """How a shop may print `amount`: "1 299,99", "1299,99", "1.299,99", "1,299.99", "1299.99"; whole
    amounts also without decimals ("129", "129,00")."""
    q = amount.quantize(Decimal("0.01"))
    whole, frac = f"{q:.2f}".split(".")
    groups = f"{int(whole):,}"
    forms = {
        f"{whole},{frac}",
        f"{whole}.{frac}",
        f"{groups.replace(',', ' ')},{frac}",
        f"{groups.replace(',', '.')},{frac}",
        f"{groups}.{frac}",
    }
    if frac == "00":
        forms |= {whole, groups.replace(",", " "), groups.replace(",", ".")}
    return sorted(forms, key=len, reverse=True)


def _amount_in(text: str, amount: Decimal) -> list[int]:
    """Offsets in `text` where `amount` is printed as a whole number (not part of a longer one)."""
    offsets = []
    for form in amount_spellings(amount):
        for match in re.finditer(r"(?<![\d.,])" + re.escape(form) + r"(?![\d]|[.,]\d)", text):
            offsets.append(match.start())
    return offsets


def omnibus_check(text: str, reference: Decimal | None) -> dict | None:
    """None when the page shows the lowest 30-day price; else the problem.

    The label must be one of OMNIBUS_PHRASES, and the reference amount must be printed within NEAR
    characters of it. Without a reference from the catalog, a label alone is accepted."""
    labels = [m.start() for m in OMNIBUS_PHRASES.finditer(text)]
    if reference is None:
        return (
            None
            if labels
            else problem(OMNIBUS_MISSING, "lowest price of the 30 days before the reduction", "")
        )
    spots = _amount_in(text, reference)
    for label in labels:
        if any(abs(spot - label) <= NEAR for spot in spots):
            return None
    if labels:  # a label, but with another amount: say which
        label = labels[0]
        window = text[label : label + NEAR]
        amounts = [a for a in (parse_amount(m.group(0)) for m in _AMOUNT.finditer(window)) if a is not None]
        amounts = [a for a in amounts if a != Decimal(30)]
        if amounts:
            return problem(OMNIBUS_PRICE, f"{reference}", amounts[0])
        return problem(OMNIBUS_MISSING, f"{reference}", _short(window, 80))
    return problem(OMNIBUS_MISSING, f"{reference}", "")


# --- one page, in a worker thread ---------------------------------------------------------------------


@dataclass
class PageOutcome:
    url: str
    fetched: Fetched
    parsed: ParsedPage | None = None
    images: dict[str, str] = field(default_factory=dict)  # url -> "" (loads) or what is wrong
    problems: list[dict] = field(default_factory=list)


class ImageChecker:
    """HEAD (GET when HEAD is refused) of each image URL, once per run."""

    def __init__(self, fetcher: Fetcher):
        self.fetcher = fetcher
        self._cache: dict[str, str] = {}
        self._pending: dict[str, threading.Event] = {}
        self._lock = threading.Lock()

    def check(self, url: str) -> str:
        with self._lock:
            if url in self._cache:
                return self._cache[url]
            waiting = self._pending.get(url)
            if waiting is None:
                self._pending[url] = threading.Event()
        if waiting is not None:  # another page is fetching this image: its answer is ours
            waiting.wait()
            with self._lock:
                return self._cache.get(url, "")
        try:
            verdict = self._fetch(url)
        except Exception as exc:  # noqa: BLE001 - waiting threads must be released whatever happens
            verdict = f"{type(exc).__name__}: {exc}"
        with self._lock:
            self._cache[url] = verdict
            self._pending.pop(url).set()
        return verdict

    def _fetch(self, url: str) -> str:
        got = self.fetcher.fetch(url, method="HEAD")
        if not got.error and got.status in (405, 501):
            got = self.fetcher.fetch(url, method="GET", max_bytes=self.fetcher.politeness.max_bytes)
        if got.error == "robots":
            verdict = ""  # not ours to fetch: not reported as broken
        elif got.error:
            verdict = got.error
        elif got.status != 200:
            verdict = f"HTTP {got.status}"
        elif not got.content_type.lower().startswith("image/"):
            verdict = got.content_type.split(";")[0] or "no content type"
        else:
            verdict = ""
        return verdict


def check_page(url: str, fetcher: Fetcher, images: ImageChecker) -> PageOutcome:
    """Fetch and parse one page and check its images (no database)."""
    got = fetcher.fetch(url)
    outcome = PageOutcome(url=url, fetched=got)
    if got.error == "robots":
        outcome.problems.append(problem(ROBOTS, "allowed", "Disallow"))
        return outcome
    if got.error:
        outcome.problems.append(problem(FETCH_FAILED, "HTTP 200", _fetch_error_text(got)))
        return outcome
    if got.status != 200:
        outcome.problems.append(problem(HTTP_STATUS, 200, got.status))
        return outcome
    outcome.parsed = parse_page(got.final_url or url, _decode(got.body, got.content_type))
    got.body = b""  # the text is kept in `parsed`; the bytes are not needed any more
    outcome.problems.extend(outcome.parsed.problems)
    seen: list[str] = []
    for cand in outcome.parsed.candidates:
        for image in cand.images:
            if image not in seen:
                seen.append(image)
    for image in seen[: fetcher.politeness.images_per_page]:
        outcome.images[image] = images.check(image)
    return outcome


def _fetch_error_text(got: Fetched) -> str:
    labels = {
        "timeout": "timeout",
        "connection": "connection failed",
        "redirect_loop": "redirect loop",
        "too_many_redirects": "too many redirects",
        "too_large": "response too large",
        "bad_url": "not an http(s) URL",
        "robots": "disallowed by robots.txt",
    }
    text = labels.get(got.error, got.error)
    return f"{text}: {got.detail}" if got.detail and got.error != "timeout" else text


# --- comparison with the catalog ----------------------------------------------------------------------


@dataclass
class Expected:
    """What the catalog says about one variant on the checked channel."""

    variant_id: int
    names: list[str]
    price: Decimal
    currency: str
    on_sale: bool = False
    reference: Decimal | None = None
    stock: int | None = None  # None = unknown


def _norm_name(name: str) -> str:
    return _clean(name).casefold()


_IN_STOCK = {"InStock", "LimitedAvailability", "OnlineOnly", "InStoreOnly"}
_OUT_OF_STOCK = {"OutOfStock", "SoldOut", "Discontinued"}


def compare(cand: Candidate, expected: Expected, text: str, images: dict[str, str]) -> list[dict]:
    """Problems of one page candidate against the catalog's view of its variant."""
    problems = []
    if cand.name and _norm_name(cand.name) not in {_norm_name(n) for n in expected.names if n}:
        problems.append(problem(NAME, expected.names[0], cand.name))
    elif not cand.name:
        problems.append(problem(NAME, expected.names[0], ""))
    if cand.price is None:
        problems.append(problem(PRICE, expected.price, cand.price_raw))
    elif cand.price != expected.price.quantize(Decimal("0.01")):
        problems.append(problem(PRICE, expected.price, cand.price))
    if cand.currency and cand.currency != expected.currency.upper():
        problems.append(problem(CURRENCY, expected.currency, cand.currency))
    if expected.stock is not None:
        want = "InStock" if expected.stock > 0 else "OutOfStock"
        have = cand.availability
        if not have:
            problems.append(problem(AVAILABILITY, want, ""))
        elif (have in _IN_STOCK and want == "OutOfStock") or (have in _OUT_OF_STOCK and want == "InStock"):
            problems.append(problem(AVAILABILITY, want, have))
    if not cand.images:
        problems.append(problem(IMAGE_MISSING, "an image", ""))
    for url, verdict in images.items():
        if verdict and url in cand.images:
            problems.append(problem(IMAGE_BROKEN, url, verdict))
    reduced = (
        expected.on_sale
        or cand.sale_signal
        or (cand.regular_price is not None and cand.price is not None and cand.regular_price > cand.price)
    )
    if reduced:
        found = omnibus_check(text, expected.reference)
        if found:
            problems.append(found)
    return problems


def gtin_key(value: str) -> str:
    digits = re.sub(r"\D", "", value or "")
    return digits.zfill(14) if digits else ""


def _gtin_forms(value: str) -> set[str]:
    digits = re.sub(r"\D", "", value or "").lstrip("0")
    return {digits.zfill(n) for n in (8, 12, 13, 14) if len(digits) <= n} if digits else set()


# --- runs (Django) ------------------------------------------------------------------------------------


@dataclass
class CheckParams:
    base_url: str
    sitemap_url: str = ""
    urls: list[str] = field(default_factory=list)
    channel: str = ""
    max_pages: int = 500
    rate: float = 2.0
    concurrency: int = 4
    connect_timeout: float = 5.0
    read_timeout: float = 15.0
    retries: int = 2
    backoff: float = 1.0
    max_retry_after: float = 60.0
    images_per_page: int = 3
    nightly: bool = False  # repeat this check every night (tasks_sitecheck)

    def politeness(self) -> Politeness:
        return Politeness(
            rate=self.rate,
            concurrency=self.concurrency,
            connect_timeout=self.connect_timeout,
            read_timeout=self.read_timeout,
            total_timeout=max(self.read_timeout * 4, 10.0),
            retries=self.retries,
            backoff=self.backoff,
            max_retry_after=self.max_retry_after,
            images_per_page=self.images_per_page,
        )

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> CheckParams:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


MAX_PAGES_LIMIT = 50_000
MAX_URLS_LISTED = 5_000


def validate_params(params: CheckParams) -> CheckParams:
    """Clean the parameters or raise DomainError naming the field."""
    from django.core.exceptions import ValidationError
    from django.core.validators import URLValidator
    from django.utils.translation import gettext as _

    from zaplecze.core.errors import DomainError

    check = URLValidator(schemes=["http", "https"])

    def url_ok(value: str, field_name: str) -> str:
        value = (value or "").strip()
        try:
            check(value)
        except ValidationError:
            raise DomainError(_("Enter a full http:// or https:// address."), field=field_name) from None
        return value

    params.urls = [u.strip() for u in params.urls if u and u.strip()]
    if len(params.urls) > MAX_URLS_LISTED:
        raise DomainError(_("At most %(n)s URLs can be listed.") % {"n": MAX_URLS_LISTED}, field="urls")
    for number, url in enumerate(params.urls, start=1):
        try:
            check(url)
        except ValidationError:
            raise DomainError(
                _("Line %(n)s is not a full http:// or https:// address: %(url)s")
                % {"n": number, "url": url[:100]},
                field="urls",
            ) from None
    if not params.base_url and params.urls:
        params.base_url = _origin(params.urls[0]) + "/"
    params.base_url = url_ok(params.base_url, "base_url")
    if params.sitemap_url:
        params.sitemap_url = url_ok(params.sitemap_url, "sitemap_url")
    params.channel = (params.channel or "").strip()
    if len(params.channel) > 40:
        raise DomainError(_("A channel code has at most 40 characters."), field="channel")
    if not 1 <= int(params.max_pages) <= MAX_PAGES_LIMIT:
        raise DomainError(
            _("The page cap must be between 1 and %(n)s.") % {"n": MAX_PAGES_LIMIT}, field="max_pages"
        )
    if not 0 <= float(params.rate) <= 100:
        raise DomainError(_("The rate must be between 0 (no limit) and 100 requests/s."), field="rate")
    if not 1 <= int(params.concurrency) <= 32:
        raise DomainError(_("Concurrency must be between 1 and 32."), field="concurrency")
    return params


def site_check_start(*, params: CheckParams, actor=None, queue: bool = True):
    """Create a queued run (with its core Job for progress) and, with `queue`, hand it to the worker after
    the commit. Returns the run."""
    from django.db import transaction
    from django.utils.translation import gettext as _

    from zaplecze.core.services import job_create

    from .models import SiteCheckRun

    params = validate_params(params)
    owner = actor if getattr(actor, "pk", None) else None
    with transaction.atomic():
        run = SiteCheckRun.objects.create(base_url=params.base_url[:500], created_by=owner)
        job_create(
            kind=JOB_KIND,
            title=_("Storefront check of %(url)s") % {"url": params.base_url},
            owner=owner,
            params={"run_id": run.pk, **params.as_dict()},
        )
        if queue:
            from .tasks_sitecheck import site_check_job

            run_id = run.pk
            transaction.on_commit(lambda: site_check_job(run_id))
    return run


def run_job(run_id: int):
    from zaplecze.core.models import Job

    return Job.objects.filter(kind=JOB_KIND, params__run_id=run_id).order_by("-id").first()


def run_params(run) -> CheckParams:
    job = run_job(run.pk)
    return CheckParams.from_dict({"base_url": run.base_url, **((job.params if job else {}) or {})})


def _effective(variant_ids: list[int], channel: str, at) -> dict[int, tuple[Decimal, bool, Decimal | None]]:
    """{variant_id: (price, reduced, reference price)} at `at` on `channel` from the price history
    (catalog.omnibus). A price is "reduced" when a promotion is in effect or the price is a cut that has
    a reference price (the lowest of the 30 days before it)."""
    from .omnibus import effective_prices

    out: dict[int, tuple[Decimal, bool, Decimal | None]] = {}
    for vid, ep in effective_prices(variant_ids, channel, at).items():
        reference = ep.reference.price if ep.reference is not None else None
        out[vid] = (ep.price, ep.sale_price is not None or reference is not None, reference)
    return out


class _Runner:
    """Matches fetched pages to variants, compares and writes results, a batch at a time."""

    BATCH = 25

    def __init__(self, run, params: CheckParams):
        self.run = run
        self.params = params
        self._offer_urls: dict[str, int] | None = None
        self.counts = {"ok": 0, "mismatched": 0, "failed": 0, "unknown": 0}

    def offer_urls(self) -> dict[str, int]:
        if self._offer_urls is None:
            from .models import Offer

            rows = Offer.objects.exclude(url="")
            if self.params.channel:
                rows = rows.filter(channel=self.params.channel)
            self._offer_urls = {normalise_url(u): vid for u, vid in rows.values_list("url", "variant_id")}
        return self._offer_urls

    def store(self, outcomes: list[PageOutcome]) -> None:
        from django.db import transaction
        from django.db.models import F, Q
        from django.utils import timezone

        from .models import SiteCheckPage, SiteCheckRun, Variant
        from .stock import available

        skus: set[str] = set()
        gtins: set[str] = set()
        for o in outcomes:
            for c in o.parsed.candidates if o.parsed else []:
                skus.update(s[:64] for s in c.skus)
                for g in c.gtins:
                    gtins |= _gtin_forms(g)
        by_sku: dict[str, Variant] = {}
        by_gtin: dict[str, Variant] = {}
        if skus or gtins:
            query = Variant.objects.select_related("product").filter(Q(sku__in=skus) | Q(ean__in=gtins))
            for v in query:
                by_sku[v.sku] = v
                if v.ean:
                    by_gtin[gtin_key(v.ean)] = v
        matches: list[tuple[PageOutcome, Candidate | None, Variant | None]] = []
        url_ids: dict[int, int] = {}  # id(outcome) -> variant id
        for o in outcomes:
            if not o.parsed or not o.parsed.candidates:
                matches.append((o, None, None))
                continue
            found = []
            for c in o.parsed.candidates:
                v = next((by_sku[s] for s in c.skus if s in by_sku), None) or next(
                    (by_gtin[gtin_key(g)] for g in c.gtins if gtin_key(g) in by_gtin), None
                )
                if v is not None and all(v.pk != f[2].pk for f in found):
                    found.append((o, c, v))
            if found:
                matches.extend(found)
                continue
            keys = [normalise_url(u) for u in (o.url, o.fetched.final_url, o.parsed.canonical) if u]
            vid = next((self.offer_urls()[k] for k in keys if k in self.offer_urls()), None)
            if vid is not None:
                url_ids[id(o)] = vid
            matches.append((o, o.parsed.candidates[0], None))
        if url_ids:
            fetched = Variant.objects.select_related("product").in_bulk(set(url_ids.values()))
            matches = [
                (o, c, v if v is not None else fetched.get(url_ids.get(id(o), 0))) for o, c, v in matches
            ]
        ids = sorted({v.pk for _o, _c, v in matches if v is not None})
        prices = _effective(ids, self.params.channel, timezone.now()) if ids else {}
        stock = available(ids) if ids else None
        rows = []
        counts = {"ok": 0, "mismatched": 0, "failed": 0, "unknown": 0}
        for o, cand, v in matches:
            problems = list(o.problems)
            if v is not None and cand is not None and v.pk in prices:
                price, on_sale, reference = prices[v.pk]
                expected = Expected(
                    variant_id=v.pk,
                    names=[v.name, v.product.name],
                    price=price,
                    currency=v.currency,
                    on_sale=on_sale,
                    reference=reference,
                    stock=None if stock is None else stock.get(v.pk, 0),
                )
                problems += compare(cand, expected, o.parsed.text if o.parsed else "", o.images)
            elif cand is not None:
                ids_seen = ", ".join([*cand.skus, *cand.gtins]) or (cand.name or "")
                problems.append(problem(UNKNOWN_PRODUCT, "SKU, GTIN or listing URL of the catalog", ids_seen))
            counts[row_state(problems)] += 1
            rows.append(
                SiteCheckPage(
                    run=self.run,
                    url=o.url[:1000],
                    variant=v,
                    http_status=o.fetched.status,
                    problems=problems,
                    fetch_ms=o.fetched.ms,
                )
            )
        with transaction.atomic():
            SiteCheckPage.objects.bulk_create(rows)
            SiteCheckRun.objects.filter(pk=self.run.pk).update(
                pages=F("pages") + len(outcomes),
                ok=F("ok") + counts["ok"],
                mismatched=F("mismatched") + counts["mismatched"],
                failed=F("failed") + counts["failed"],
            )
        for key, value in counts.items():
            self.counts[key] += value


def site_check_execute(
    *,
    run_id: int,
    params: CheckParams | None = None,
    progress: Callable[[int, int], None] | None = None,
    fetcher: Fetcher | None = None,
):
    """Run a queued run to its end (DONE or FAILED with the reason). Idempotent: a run that is not
    queued is left alone. `progress(done, total)` is called after each batch; the run's core Job gets the
    same progress."""
    from django.utils import timezone

    from zaplecze.core.services import job_progress, job_start

    from .models import SiteCheckRun

    claimed = SiteCheckRun.objects.filter(pk=run_id, state=SiteCheckRun.State.QUEUED).update(
        state=SiteCheckRun.State.RUNNING, started_at=timezone.now()
    )
    run = SiteCheckRun.objects.get(pk=run_id)
    if not claimed:
        return run
    job = run_job(run_id)
    params = params or run_params(run)
    if job:
        job_start(job_id=job.pk)
    fetcher = fetcher or Fetcher(params.politeness())
    runner = _Runner(run, params)
    notes: list[str] = []
    total = 0
    try:
        urls, notes = collect_urls(
            fetcher,
            base_url=params.base_url,
            sitemap_url=params.sitemap_url,
            urls=params.urls,
            limit=params.max_pages,
        )
        total = len(urls)
        if job:
            job_progress(job_id=job.pk, done=0, total=total)
        if progress:
            progress(0, total)
        images = ImageChecker(fetcher)
        done = 0
        batch: list[PageOutcome] = []
        with ThreadPoolExecutor(
            max_workers=max(1, params.concurrency), thread_name_prefix="sitecheck"
        ) as pool:
            futures = {pool.submit(_safe_check, url, fetcher, images): url for url in urls}
            for future in as_completed(futures):
                batch.append(future.result())
                done += 1
                if len(batch) >= runner.BATCH or done == total:
                    runner.store(batch)
                    batch = []
                    if job:
                        job_progress(job_id=job.pk, done=done, total=total)
                    if progress:
                        progress(done, total)
        if batch:
            runner.store(batch)
    except SiteCheckError as exc:
        return _finish(run, job, error=str(exc))
    except Exception as exc:  # the run must end in a state a person can see
        import logging

        logging.getLogger("zaplecze.catalog").exception("storefront check %s failed", run_id)
        return _finish(run, job, error=f"{type(exc).__name__}: {exc}")
    result = {"pages": total, **runner.counts, "requests": fetcher.requests}
    if notes:
        result["notes"] = "; ".join(notes)
    return _finish(run, job, result=result)


def _safe_check(url: str, fetcher: Fetcher, images: ImageChecker) -> PageOutcome:
    try:
        return check_page(url, fetcher, images)
    except Exception as exc:  # noqa: BLE001 - one odd page must not end the run
        outcome = PageOutcome(url=url, fetched=Fetched(url=url, error="internal"))
        outcome.problems.append(problem(FETCH_FAILED, "HTTP 200", f"{type(exc).__name__}: {exc}"))
        return outcome


def _finish(run, job, *, error: str = "", result: dict | None = None):
    from django.utils import timezone

    from zaplecze.core.services import job_finish

    from .models import SiteCheckRun

    state = SiteCheckRun.State.FAILED if error else SiteCheckRun.State.DONE
    SiteCheckRun.objects.filter(pk=run.pk).update(state=state, finished_at=timezone.now(), error=error[:5000])
    if job:
        job_finish(job_id=job.pk, result=result or {}, error=error)
    run.refresh_from_db()
    return run


# --- reads --------------------------------------------------------------------------------------------


def runs():
    from .models import SiteCheckRun

    return SiteCheckRun.objects.select_related("created_by").order_by("-created_at", "-id")


def access_run(run_id: int):
    from django.utils.translation import gettext as _

    from zaplecze.core.errors import NotFound

    from .models import SiteCheckRun

    run = SiteCheckRun.objects.select_related("created_by").filter(pk=run_id).first()
    if run is None:
        raise NotFound(_("No such storefront check"))
    return run


def run_total(run) -> int | None:
    """Pages to check in this run (known once the sitemap is read)."""
    job = run_job(run.pk)
    return job.progress_total if job else None


def run_results(run_id: int, *, code: str = "", problems_only: bool = False, q: str = ""):
    """Result rows of a run grouped by product (unmatched pages last); `code` keeps rows with that problem."""
    from django.db.models import F, Q

    from .models import SiteCheckPage

    rows = SiteCheckPage.objects.filter(run_id=run_id).select_related("variant", "variant__product")
    if code in ALL_CODES:
        # problems is a JSON list of {"code": ...}; its text form holds `"code": "<code>"` on SQLite and PG
        rows = rows.filter(problems__icontains=f'"code": "{code}"')
    elif problems_only:
        rows = rows.exclude(problems=[])
    if q:
        rows = rows.filter(
            Q(url__icontains=q) | Q(variant__sku__iexact=q) | Q(variant__product__name__icontains=q)
        )
    return rows.order_by(F("variant__product__name").asc(nulls_last=True), "variant__sku", "url", "id")


def run_code_counts(run_id: int) -> dict[str, int]:
    """How many result rows of the run have each problem code, in ALL_CODES order."""
    from .models import SiteCheckPage

    counts = dict.fromkeys(ALL_CODES, 0)
    for problems in SiteCheckPage.objects.filter(run_id=run_id).values_list("problems", flat=True).iterator():
        for code in {p.get("code") for p in problems or [] if isinstance(p, dict)}:
            if code in counts:
                counts[code] += 1
    return {k: v for k, v in counts.items() if v}


def run_row_count(run_id: int) -> int:
    from .models import SiteCheckPage

    return SiteCheckPage.objects.filter(run_id=run_id).count()


def row_state(problems: list[dict]) -> str:
    kinds = {severity(p.get("code", "")) for p in problems or []}
    for kind, state in (("failed", "failed"), ("problem", "mismatched"), ("info", "unknown")):
        if kind in kinds:
            return state
    return "ok"


def product_checks(product_id: int, *, runs_back: int = 10) -> dict:
    """The latest storefront result of each variant of a product and the trend over its last runs:
    {"latest": [SiteCheckPage], "trend": [{"run": run, "pages": n, "problems": n, "state": ...}]}."""
    from .models import SiteCheckPage

    rows = list(
        SiteCheckPage.objects.filter(variant__product_id=product_id)
        .select_related("run", "variant")
        .order_by("-run__created_at", "-run_id", "-id")[:500]
    )
    latest: dict[int, SiteCheckPage] = {}
    trend: dict[int, dict] = {}
    for row in rows:
        latest.setdefault(row.variant_id, row)
        entry = trend.get(row.run_id)
        if entry is None:
            if len(trend) >= runs_back:
                continue
            entry = trend[row.run_id] = {"run": row.run, "pages": 0, "problems": 0, "codes": set()}
        entry["pages"] += 1
        real = [p for p in row.problems or [] if severity(p.get("code", "")) != "info"]
        entry["problems"] += len(real)
        entry["codes"] |= {p.get("code") for p in real}
    for row in latest.values():
        row.state = row_state(row.problems)
    ordered = sorted(latest.values(), key=lambda r: r.variant.sku)
    return {"latest": ordered, "trend": list(trend.values())}


CSV_HEADER = ["run", "url", "sku", "product", "http_status", "fetch_ms", "code", "expected", "found"]


def export_rows(run_id: int, *, code: str = "", problems_only: bool = False, q: str = ""):
    """CSV rows of a run's report: one row per problem (a page without problems: one row, empty code)."""
    yield CSV_HEADER
    for row in run_results(run_id, code=code, problems_only=problems_only, q=q).iterator(chunk_size=500):
        base = [
            run_id,
            row.url,
            row.variant.sku if row.variant else "",
            row.variant.product.name if row.variant else "",
            row.http_status or "",
            row.fetch_ms if row.fetch_ms is not None else "",
        ]
        problems = [p for p in row.problems or [] if not code or p.get("code") == code]
        if not problems:
            yield [*base, "", "", ""]
        for p in problems:
            yield [*base, p.get("code", ""), p.get("expected", ""), p.get("found", "")]


def repeat_nightly(*, actor=None) -> list:
    """Start again every check whose latest run asked to be repeated nightly (one per shop and channel)."""
    from zaplecze.core.models import Job

    latest: dict[tuple, dict] = {}
    for params in Job.objects.filter(kind=JOB_KIND).order_by("-id").values_list("params", flat=True)[:500]:
        key = (params.get("base_url"), params.get("sitemap_url", ""), params.get("channel", ""))
        latest.setdefault(key, params)
    started = []
    for params in latest.values():
        if params.get("nightly"):
            started.append(site_check_start(params=CheckParams.from_dict(params), actor=actor))
    return started
