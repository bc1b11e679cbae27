"""The HTTP probe of a storefront check (no Django): one GET with timeouts, the status, the response time,
the expected text in the body (decoded by its charset) and the days left on the HTTPS certificate.

Decisions (docs/monitoring.md repeats them):

* the whole probe (connect, TLS, redirects, reading the body) has one deadline of `timeout` seconds;
  name resolution is the operating system's and is not interruptible (in practice it is quick or fails);
* redirects are followed (at most 5), except when the expected status is itself a redirect (3xx);
* the certificate's notAfter is read from the last HTTPS connection of the chain. An untrusted certificate
  (self-signed, wrong host name, expired) is a *failure* when `verify_tls` is on (the default), because the
  customers' browsers refuse that page; its expiry is still read (a second, unverified handshake) so the
  warning about days left works too. With `verify_tls` off the certificate is not checked, only dated;
* the body is read up to 2 MB; the expected text is searched case-insensitively in the decoded text.
"""

from __future__ import annotations

import datetime as dt
import http.client
import re
import socket
import ssl
import time
import zlib
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

USER_AGENT = "ZapleczeMonitor/1.0 (+shop back office uptime check)"
MAX_BODY = 2 * 1024 * 1024
MAX_REDIRECTS = 5
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_.:-]+)""", re.IGNORECASE)


@dataclass
class ProbeResult:
    ok: bool
    status_code: int | None = None
    response_ms: int | None = None
    error: str = ""
    tls_days: int | None = None
    tls_expires_at: dt.datetime | None = None


class _Timeout(Exception):
    pass


def probe(
    url: str,
    *,
    expected_status: int = 200,
    expected_text: str = "",
    timeout: float = 10,
    verify_tls: bool = True,
    cafile: str | None = None,
    now: dt.datetime | None = None,
) -> ProbeResult:
    """Fetch `url` once and judge it. Never raises: every problem is a failed result with an `error`.
    `cafile` adds trusted roots (tests use it for their own certificate)."""
    started = time.monotonic()
    deadline = started + timeout
    result = ProbeResult(ok=False)
    follow = not 300 <= expected_status < 400
    try:
        status, headers, body = _fetch(url, deadline, follow, verify_tls, cafile, result, now)
    except _Timeout:
        result.error = f"timed out after {timeout:g} s"
    except ssl.SSLCertVerificationError as exc:
        result.error = f"TLS certificate not trusted: {exc.verify_message or exc.reason or exc}"[:300]
    except ssl.SSLError as exc:
        result.error = f"TLS error: {exc.reason or exc}"[:300]
    except TimeoutError:
        result.error = f"timed out after {timeout:g} s"
    except OSError as exc:
        result.error = f"connection failed: {exc.strerror or exc}"[:300]
    except http.client.HTTPException as exc:
        result.error = f"invalid HTTP response: {type(exc).__name__} {exc}"[:300]
    except _Problem as exc:
        result.error = str(exc)[:300]
    except Exception as exc:  # noqa: BLE001 - a probe never takes the worker down
        result.error = f"unexpected error: {type(exc).__name__}: {exc}"[:300]
    else:
        result.status_code = status
        if status != expected_status:
            result.error = f"HTTP {status}, expected {expected_status}"
        elif expected_text and expected_text.casefold() not in _decode(body, headers).casefold():
            result.error = f"expected text not found: {expected_text[:80]}"
        else:
            result.ok = True
    result.response_ms = max(0, round((time.monotonic() - started) * 1000))
    return result


class _Problem(Exception):
    pass


def _fetch(url, deadline, follow, verify_tls, cafile, result, now):
    seen = []
    for _hop in range(MAX_REDIRECTS + 1):
        seen.append(url)
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise _Problem(f"not an http(s) address: {url[:200]}")
        status, headers, body = _once(parts, deadline, verify_tls, cafile, result, now)
        location = headers.get("location", "")
        if follow and status in (301, 302, 303, 307, 308) and location:
            url = urljoin(url, location)
            if url in seen:
                raise _Problem(f"redirect loop at {url[:200]}")
            continue
        return status, headers, body
    raise _Problem(f"more than {MAX_REDIRECTS} redirects")


def _left(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise _Timeout
    return left


def _context(verify_tls: bool, cafile: str | None) -> ssl.SSLContext:
    if not verify_tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx
    ctx = ssl.create_default_context()
    if cafile:
        ctx.load_verify_locations(cafile)
    return ctx


def _once(parts, deadline, verify_tls, cafile, result, now):
    host = parts.hostname
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    if parts.scheme == "https":
        port = parts.port or 443
        try:
            conn = http.client.HTTPSConnection(
                host, port, timeout=_left(deadline), context=_context(verify_tls, cafile)
            )
            conn.connect()
        except ssl.SSLCertVerificationError:
            # Date the certificate anyway (unverified handshake), then report the failure.
            _read_expiry_unverified(host, port, deadline, result, now)
            raise
        _record_expiry(conn.sock, result, now)
    else:
        conn = http.client.HTTPConnection(host, parts.port or 80, timeout=_left(deadline))
    try:
        host_header = parts.netloc.rsplit("@", 1)[-1]
        conn.putrequest("GET", path, skip_host=True, skip_accept_encoding=True)
        conn.putheader("Host", host_header)
        conn.putheader("User-Agent", USER_AGENT)
        conn.putheader("Accept", "text/html,application/xhtml+xml,*/*;q=0.8")
        conn.putheader("Accept-Encoding", "gzip, identity")
        conn.putheader("Connection", "close")
        conn.endheaders()
        sock = conn.sock  # getresponse() may hand the socket over to the response and forget it
        sock.settimeout(_left(deadline))
        response = conn.getresponse()
        headers = {k.lower(): v for k, v in response.getheaders()}
        chunks, size = [], 0
        while True:
            sock.settimeout(_left(deadline))
            chunk = response.read1(65536)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
            if size >= MAX_BODY:
                break
        body = b"".join(chunks)[:MAX_BODY]
        if headers.get("content-encoding", "").lower() == "gzip":
            try:
                body = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(body, MAX_BODY)
            except zlib.error as exc:
                raise _Problem(f"broken gzip body: {exc}") from None
        return response.status, headers, body
    except TimeoutError:
        raise _Timeout from None
    finally:
        conn.close()


def _record_expiry(sock, result: ProbeResult, now) -> None:
    cert = sock.getpeercert() if sock else None
    not_after = (cert or {}).get("notAfter")
    if not_after:
        _set_expiry(result, dt.datetime.fromtimestamp(ssl.cert_time_to_seconds(not_after), tz=dt.UTC), now)
    elif sock is not None:
        # Unverified context: the parsed form is empty, read the DER certificate instead.
        der = sock.getpeercert(binary_form=True)
        if der:
            _set_expiry(result, _der_not_after(der), now)


def _read_expiry_unverified(host, port, deadline, result, now) -> None:
    try:
        ctx = _context(False, None)
        with socket.create_connection((host, port), timeout=_left(deadline)) as raw:
            with ctx.wrap_socket(raw, server_hostname=host) as tls:
                der = tls.getpeercert(binary_form=True)
        if der:
            _set_expiry(result, _der_not_after(der), now)
    except (OSError, ValueError, _Timeout):
        pass


def _der_not_after(der: bytes) -> dt.datetime:
    from cryptography import x509

    return x509.load_der_x509_certificate(der).not_valid_after_utc


def _set_expiry(result: ProbeResult, expires: dt.datetime, now) -> None:
    now = now or dt.datetime.now(dt.UTC)
    result.tls_expires_at = expires
    # Whole days left, rounded down (a certificate expiring in 6 days 23 hours has 6 days left).
    result.tls_days = max(-32768, min(32767, (expires - now) // dt.timedelta(days=1)))


def _charset(headers: dict[str, str], body: bytes) -> str:
    match = re.search(r"charset\s*=\s*[\"']?([A-Za-z0-9_.:-]+)", headers.get("content-type", ""), re.I)
    if match:
        return match.group(1)
    meta = _META_CHARSET.search(body[:4096])
    if meta:
        return meta.group(1).decode("ascii", "replace")
    return "utf-8"


def _decode(body: bytes, headers: dict[str, str]) -> str:
    charset = _charset(headers, body)
    try:
        return body.decode(charset, errors="replace")
    except LookupError:
        return body.decode("utf-8", errors="replace")
