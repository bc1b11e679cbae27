"""A small local shop for the storefront checks: an HTTP server and an HTTPS server with a self-signed
certificate made here (cryptography), whose notAfter is a chosen number of days ahead."""

from __future__ import annotations

import datetime as dt
import gzip
import ipaddress
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

HOME = "<!doctype html><html><head><title>Sklep</title></head><body><h1>Witamy w sklepie</h1></body></html>"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # quiet
        pass

    def _send(self, status: int, body: bytes, content_type: str = "text/html; charset=utf-8", **headers):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):  # noqa: N802
        shop = self.server.shop
        shop.hits.append(self.path)
        path = self.path.split("?")[0]
        if path == "/":
            self._send(200, HOME.encode())
        elif path == "/flaky":
            status = shop.flaky_status
            self._send(status, (HOME if status == 200 else "<h1>Błąd serwera</h1>").encode())
        elif path == "/slow":
            time.sleep(shop.slow_seconds)
            self._send(200, HOME.encode())
        elif path == "/latin2":
            self._send(
                200, "<p>Koszyk: źdźbło żółć</p>".encode("iso-8859-2"), "text/html; charset=ISO-8859-2"
            )
        elif path == "/meta-charset":
            body = '<html><head><meta charset="windows-1250"></head><body>Zamówienie ŚWIĘTE</body></html>'
            self._send(200, body.encode("cp1250"), "text/html")
        elif path == "/gzip":
            self._send(200, gzip.compress(HOME.encode()), Content_Encoding="gzip")
        elif path == "/redirect":
            self._send(302, b"", Location="/")
        elif path == "/loop":
            self._send(302, b"", Location="/loop")
        elif path.startswith("/status/"):
            self._send(int(path.rsplit("/", 1)[-1]), b"status page")
        else:
            self._send(404, b"<h1>Nie znaleziono</h1>")


class Shop:
    def __init__(self, tls: ssl.SSLContext | None = None):
        self.hits: list[str] = []
        self.flaky_status = 200
        self.slow_seconds = 3.0
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.shop = self
        self.server.handle_error = lambda request, address: None  # a client that gave up (timeout tests)
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.scheme = "https" if tls else "http"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> Shop:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def make_certificate(
    tmp_path, *, days: float, hours: float = 1, name: str = "shop"
) -> tuple[str, str, dt.datetime]:
    """A self-signed certificate for 127.0.0.1/localhost expiring `days` days (+ `hours`) from now.
    Returns (certificate path, key path, notAfter)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    not_after = now + dt.timedelta(days=days, hours=hours)
    not_before = min(now - dt.timedelta(days=1), not_after - dt.timedelta(days=30))
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path = tmp_path / f"{name}.pem"
    key_path = tmp_path / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return str(cert_path), str(key_path), not_after


def https_shop(tmp_path, days: float, hours: float = 1) -> tuple[Shop, str]:
    cert, key, _not_after = make_certificate(tmp_path, days=days, hours=hours)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    return Shop(tls=ctx).start(), cert


@pytest.fixture
def shop():
    s = Shop().start()
    yield s
    s.stop()


@pytest.fixture
def tls_shop(tmp_path):
    """An HTTPS shop whose self-signed certificate expires in 10 days (and an hour); `.cafile` trusts it."""
    s, cert = https_shop(tmp_path, days=10)
    s.cafile = cert
    yield s
    s.stop()


@pytest.fixture
def staff(make_user):
    """Who gets the incident e-mails: an admin in Polish and an organiser in English (and a warehouse user,
    who does not)."""
    from zaplecze.core.services import user_create

    users = {}
    for role, username, language in (
        ("admin", "ala", "pl"),
        ("organiser", "olek", "en"),
        ("warehouse", "wit", "pl"),
    ):
        users[role], _ = user_create(
            username=username,
            password="Correct-Horse-9",
            role=role,
            email=f"{username}@example.com",
            language=language,
            validate=False,
        )
    return users
