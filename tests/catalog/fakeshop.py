"""A small shop site on loopback for the storefront check tests (and the benchmark): threaded http.server
with routes set by the test. Every request is recorded (path, method, user agent, time)."""

from __future__ import annotations

import gzip
import html
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
    b"\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7\x35\x81\x84\x00\x00\x00\x00IEND\xaeB`\x82"
)


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering (a slow shop)


Route = Reply | Callable[["Hit"], Reply]


@dataclass
class Hit:
    path: str
    method: str
    user_agent: str
    at: float


class FakeShop:
    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.hits: list[Hit] = []
        self._lock = threading.Lock()
        shop = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def _answer(self, method: str) -> None:
                path = self.path.split("#")[0]
                hit = Hit(path, method, self.headers.get("User-Agent", ""), time.monotonic())
                with shop._lock:
                    shop.hits.append(hit)
                route = shop.routes.get(path) or shop.routes.get(path.split("?")[0])
                reply = route(hit) if callable(route) else route
                if reply is None:
                    reply = Reply(404, b"<h1>Not found</h1>")
                if reply.delay:
                    time.sleep(reply.delay)
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", reply.content_type)
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.send_header("Connection", "close")
                    for key, value in reply.headers.items():
                        self.send_header(key, value)
                    self.end_headers()
                    if method != "HEAD":
                        self.wfile.write(reply.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                self.close_connection = True

            def do_GET(self):
                self._answer("GET")

            def do_HEAD(self):
                self._answer("HEAD")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    # --- life ---------------------------------------------------------------------------------------
    def start(self) -> FakeShop:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def hits_for(self, path: str) -> list[Hit]:
        with self._lock:
            return [h for h in self.hits if h.path == path]

    # --- content ------------------------------------------------------------------------------------
    def add(self, path: str, route: Route) -> None:
        self.routes[path] = route

    def robots(self, text: str) -> None:
        self.add("/robots.txt", Reply(body=text.encode(), content_type="text/plain"))

    def image(self, path: str, *, status: int = 200, content_type: str = "image/png") -> None:
        self.add(path, Reply(status, PNG, content_type))

    def sitemap(self, path: str, paths: list[str], *, index: bool = False, gz: bool = False) -> None:
        tag, item = ("sitemapindex", "sitemap") if index else ("urlset", "url")
        locs = "".join(f"<{item}><loc>{html.escape(self.url(p))}</loc></{item}>" for p in paths)
        body = (
            f'<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<{tag} xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{locs}</{tag}>'
        ).encode()
        if gz:
            self.add(path, Reply(body=gzip.compress(body), content_type="application/x-gzip"))
        else:
            self.add(path, Reply(body=body, content_type="application/xml"))

    def product(
        self,
        path: str,
        *,
        name: str,
        sku: str = "",
        gtin: str = "",
        price: str = "49.99",
        currency: str = "PLN",
        availability: str = "https://schema.org/InStock",
        images: list[str] | None = None,
        regular_price: str | None = None,
        body_html: str = "",
        jsonld: str | None = None,
        meta_only: bool = False,
    ) -> None:
        """A product page with schema.org Product JSON-LD (or only OpenGraph product tags)."""
        self.add(
            path,
            Reply(
                body=product_html(
                    name=name,
                    sku=sku,
                    gtin=gtin,
                    price=price,
                    currency=currency,
                    availability=availability,
                    images=[self.url(i) for i in (images if images is not None else ["/img/1.png"])],
                    regular_price=regular_price,
                    body_html=body_html,
                    jsonld=jsonld,
                    meta_only=meta_only,
                ).encode()
            ),
        )


def product_html(
    *,
    name: str,
    sku: str = "",
    gtin: str = "",
    price: str = "49.99",
    currency: str = "PLN",
    availability: str = "https://schema.org/InStock",
    images: list[str] = (),
    regular_price: str | None = None,
    body_html: str = "",
    jsonld: str | None = None,
    meta_only: bool = False,
) -> str:
    offer: dict = {
        "@type": "Offer",
        "price": price,
        "priceCurrency": currency,
        "availability": availability,
    }
    if regular_price:
        offer["priceSpecification"] = {
            "@type": "UnitPriceSpecification",
            "priceType": "https://schema.org/StrikethroughPrice",
            "price": regular_price,
            "priceCurrency": currency,
        }
    product: dict = {"@context": "https://schema.org", "@type": "Product", "name": name, "offers": offer}
    if sku:
        product["sku"] = sku
    if gtin:
        product["gtin13"] = gtin
    if images:
        product["image"] = list(images)
    ld = jsonld if jsonld is not None else json.dumps(product, ensure_ascii=False)
    head = [f"<title>{html.escape(name)} | Sklep</title>"]
    if meta_only:
        head += [
            '<meta property="og:type" content="product">',
            f'<meta property="og:title" content="{html.escape(name)}">',
            f'<meta property="product:price:amount" content="{price}">',
            f'<meta property="product:price:currency" content="{currency}">',
            f'<meta property="product:availability" content="{"in stock" if "InStock" in availability else "out of stock"}">',
            f'<meta property="product:retailer_item_id" content="{html.escape(sku)}">',
            *[f'<meta property="og:image" content="{html.escape(i)}">' for i in images],
        ]
    else:
        head.append(f'<script type="application/ld+json">{ld}</script>')
    shown = f"<p class=price>{price.replace('.', ',')} zł</p>"
    if regular_price:
        shown = f"<p><s>{regular_price.replace('.', ',')} zł</s> {shown}</p>"
    return (
        f"<!doctype html><html lang=pl><head><meta charset=utf-8>{''.join(head)}</head>"
        f"<body><h1>{html.escape(name)}</h1>{shown}{body_html}</body></html>"
    )


@pytest.fixture(name="fakeshop")
def fakeshop_fixture():
    shop = FakeShop().start()
    shop.robots("User-agent: *\nAllow: /\n")
    shop.image("/img/1.png")
    try:
        yield shop
    finally:
        shop.stop()
