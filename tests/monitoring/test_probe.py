"""The HTTP probe against a local shop: status, expected text by charset, timeouts, redirects and the TLS
certificate's expiry (trusted, untrusted, expired)."""

from __future__ import annotations

import datetime as dt
import socket
import time

from zaplecze.monitoring.probe import probe

from .conftest import https_shop


def test_a_healthy_page_is_ok_with_status_and_time(shop):
    r = probe(shop.url + "/", expected_text="witamy w SKLEPIE")
    assert (r.ok, r.status_code, r.error, r.tls_days) == (True, 200, "", None)
    assert 0 <= r.response_ms < 2000
    assert shop.hits == ["/"]


def test_wrong_status_fails_naming_both(shop):
    r = probe(shop.url + "/status/503")
    assert (r.ok, r.status_code, r.error) == (False, 503, "HTTP 503, expected 200")
    r = probe(shop.url + "/nowhere")
    assert (r.ok, r.status_code, r.error) == (False, 404, "HTTP 404, expected 200")
    assert probe(shop.url + "/status/204", expected_status=204).ok


def test_missing_expected_text_fails(shop):
    r = probe(shop.url + "/", expected_text="Dodaj do koszyka")
    assert (r.ok, r.status_code, r.error) == (False, 200, "expected text not found: Dodaj do koszyka")


def test_expected_text_is_decoded_by_the_charset(shop):
    # ISO-8859-2 from the Content-Type header; windows-1250 from a <meta charset>; a gzip body.
    assert probe(shop.url + "/latin2", expected_text="źdźbło ŻÓŁĆ").ok
    assert probe(shop.url + "/meta-charset", expected_text="zamówienie święte").ok
    assert probe(shop.url + "/gzip", expected_text="Witamy").ok


def test_a_slow_page_times_out_within_the_timeout(shop):
    shop.slow_seconds = 3
    started = time.monotonic()
    r = probe(shop.url + "/slow", timeout=1)
    elapsed = time.monotonic() - started
    assert (r.ok, r.status_code, r.error) == (False, None, "timed out after 1 s")
    assert elapsed < 2
    assert 900 <= r.response_ms < 2000


def test_connection_refused_is_a_failure_not_an_exception():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    r = probe(f"http://127.0.0.1:{port}/")
    assert r.ok is False
    assert r.error.startswith("connection failed")


def test_redirects_are_followed_unless_a_redirect_is_expected(shop):
    r = probe(shop.url + "/redirect", expected_text="Witamy")
    assert (r.ok, r.status_code) == (True, 200)
    assert shop.hits == ["/redirect", "/"]
    r = probe(shop.url + "/redirect", expected_status=302)
    assert (r.ok, r.status_code) == (True, 302)
    loop = probe(shop.url + "/loop")
    assert loop.ok is False
    assert "redirect loop" in loop.error


def test_not_http_is_refused_by_the_probe():
    r = probe("ftp://127.0.0.1/file")
    assert r.ok is False
    assert r.error == "not an http(s) address: ftp://127.0.0.1/file"


def test_trusted_certificate_gives_days_left(tls_shop):
    # The certificate is trusted here (cafile): the ssl module's parsed notAfter is used.
    r = probe(tls_shop.url + "/", cafile=tls_shop.cafile, expected_text="Witamy")
    assert (r.ok, r.status_code, r.error) == (True, 200, "")
    assert r.tls_days == 10
    assert abs(r.tls_expires_at - (dt.datetime.now(dt.UTC) + dt.timedelta(days=10, hours=1))) < dt.timedelta(
        minutes=2
    )


def test_an_untrusted_certificate_is_a_failure_but_still_dated(tls_shop):
    r = probe(tls_shop.url + "/")
    assert r.ok is False
    assert r.error.startswith("TLS certificate not trusted: ")
    assert "self-signed" in r.error or "self signed" in r.error
    assert r.status_code is None
    assert r.tls_days == 10


def test_verification_off_accepts_a_self_signed_certificate_and_dates_it(tls_shop):
    r = probe(tls_shop.url + "/", verify_tls=False)
    assert (r.ok, r.status_code, r.tls_days) == (True, 200, 10)


def test_an_expired_certificate(tmp_path):
    server, _cert = https_shop(tmp_path, days=-3, hours=1)  # expired 2 days and 23 hours ago
    try:
        r = probe(server.url + "/", cafile=_cert)
        assert r.ok is False
        assert "expired" in r.error
        assert r.tls_days == -3
        assert probe(server.url + "/", verify_tls=False).tls_days == -3
    finally:
        server.stop()
