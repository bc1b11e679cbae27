"""Product images: uploads checked with Pillow (real PNG, a text file named .jpg, a decompression-bomb
header, an oversized file), URL images read by the worker against a loopback HTTP server (200 image, 404,
not an image, too slow), alt text, order, removal and serving the file."""

from __future__ import annotations

import io
import struct
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.files.storage import default_storage
from django.urls import reverse
from PIL import Image

from zaplecze.catalog import images, services
from zaplecze.catalog.models import ProductImage
from zaplecze.core.errors import DomainError

pytestmark = pytest.mark.django_db


def png(w=32, h=24, colour="blue") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (w, h), colour).save(buf, "PNG")
    return buf.getvalue()


def bomb_png(w=100_000, h=100_000) -> bytes:
    """A valid tiny PNG whose header declares a huge canvas (IHDR rewritten, CRC fixed)."""
    data = bytearray(png(1, 1))
    ihdr = struct.pack(">II", w, h) + bytes(data[24:29])
    data[16:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + ihdr) & 0xFFFFFFFF)
    return bytes(data)


@pytest.fixture
def product():
    return services.product_create(name="Kubek", variants=[{"sku": "KUB-1", "price": "10"}])


def test_upload_a_real_png_stores_it_with_its_size(product):
    image = images.image_upload(
        product_id=product.pk, file=png(32, 24), filename="kubek.png", alt="Kubek", actor=None
    )
    assert (image.width, image.height, image.content_type, image.alt) == (32, 24, "image/png", "Kubek")
    assert image.file.name.endswith(".png") and "kubek" not in image.file.name
    assert default_storage.exists(image.file.name)
    assert image.size_bytes == len(png(32, 24))


def test_a_text_file_named_jpg_is_refused_and_nothing_is_stored(product):
    with pytest.raises(DomainError) as exc:
        images.image_upload(product_id=product.pk, file=b"hello, I am text", filename="photo.jpg", actor=None)
    assert exc.value.code == "not_image" and exc.value.field == "file"
    assert ProductImage.objects.count() == 0


def test_a_decompression_bomb_header_is_refused(product):
    with pytest.raises(DomainError) as exc:
        images.image_upload(product_id=product.pk, file=bomb_png(), filename="bomb.png", actor=None)
    assert exc.value.code == "too_many_pixels"
    with pytest.raises(DomainError) as exc:  # below Pillow's own limit but above ours
        images.inspect_bytes(bomb_png(10_000, 6_000))
    assert exc.value.code == "too_many_pixels"
    assert ProductImage.objects.count() == 0


def test_an_oversized_file_is_refused(product, monkeypatch):
    monkeypatch.setattr(images, "MAX_BYTES", 1000)
    noisy = Image.effect_noise((200, 200), 90).convert("RGB")
    buf = io.BytesIO()
    noisy.save(buf, "PNG")
    assert len(buf.getvalue()) > 1000
    with pytest.raises(DomainError) as exc:
        images.image_upload(
            product_id=product.pk, file=io.BytesIO(buf.getvalue()), filename="big.png", actor=None
        )
    assert exc.value.code == "too_large"
    assert ProductImage.objects.count() == 0
    small = images.image_upload(product_id=product.pk, file=png(4, 4), actor=None)  # a small one still fits
    assert ProductImage.objects.get() == small


def test_damaged_and_unsupported_images_are_refused():
    with pytest.raises(DomainError) as exc:
        images.inspect_bytes(png()[:60])
    assert exc.value.code in ("damaged", "not_image")
    buf = io.BytesIO()
    Image.new("RGB", (4, 4)).save(buf, "BMP")
    with pytest.raises(DomainError) as exc:
        images.inspect_bytes(buf.getvalue())
    assert exc.value.code == "format"


def test_alt_reorder_and_delete(product, django_capture_on_commit_callbacks):
    a = images.image_upload(product_id=product.pk, file=png(), actor=None)
    b = images.image_upload(product_id=product.pk, file=png(), actor=None)
    c = images.image_upload(product_id=product.pk, file=png(), actor=None)
    images.images_reorder(product_id=product.pk, image_ids=[c.pk, a.pk], actor=None)
    assert list(ProductImage.objects.order_by("position").values_list("pk", flat=True)) == [c.pk, a.pk, b.pk]
    images.image_move(image_id=b.pk, offset=-1, actor=None)
    assert list(ProductImage.objects.order_by("position").values_list("pk", flat=True)) == [c.pk, b.pk, a.pk]
    images.image_update(image_id=a.pk, alt="Side view", actor=None)
    assert ProductImage.objects.get(pk=a.pk).alt == "Side view"
    name = a.file.name
    with django_capture_on_commit_callbacks(execute=True):
        images.image_delete(image_id=a.pk, actor=None)
    assert not default_storage.exists(name)
    with pytest.raises(DomainError):
        images.images_reorder(product_id=product.pk, image_ids=[a.pk], actor=None)


# --- URL images read by the worker ----------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.path == "/ok.png":
            body, ctype = png(64, 48), "image/png"
        elif self.path == "/text.jpg":
            body, ctype = b"<html>not an image</html>", "image/jpeg"
        elif self.path == "/slow.png":
            time.sleep(1.0)
            body, ctype = png(), "image/png"
        else:
            self.send_response(404)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    httpd.block_on_close = False  # do not wait for the slow handler
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_url_images_are_stored_at_once_and_checked_by_the_worker(
    product, server, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        ok = images.image_add_url(product_id=product.pk, url=f"{server}/ok.png", actor=None)
    queued = [cb for cb in callbacks if cb.__qualname__.startswith("queue_url_check")]
    assert ok.width is None and len(queued) == 1  # queued for the worker, after commit
    checked = images.image_url_check(ok.pk, timeout=5)
    assert (checked.width, checked.height, checked.content_type, checked.error) == (64, 48, "image/png", "")
    assert checked.checked_at is not None

    missing = images.image_add_url(product_id=product.pk, url=f"{server}/gone.png", actor=None)
    assert images.image_url_check(missing.pk, timeout=5).error == "HTTP 404"

    text = images.image_add_url(product_id=product.pk, url=f"{server}/text.jpg", actor=None)
    assert "not an image" in images.image_url_check(text.pk, timeout=5).error

    slow = images.image_add_url(product_id=product.pk, url=f"{server}/slow.png", actor=None)
    result = images.image_url_check(slow.pk, timeout=0.2)
    assert result.error.startswith("timed out") and result.width is None


def test_the_url_task_checks_each_image_and_survives_bad_ones(product, server):
    from zaplecze.catalog.tasks_images import image_urls_check

    ok = images.image_add_url(product_id=product.pk, url=f"{server}/ok.png", actor=None)
    gone = images.image_add_url(product_id=product.pk, url=f"{server}/gone.png", actor=None)
    image_urls_check.call_local([gone.pk, 999999, ok.pk])
    assert ProductImage.objects.get(pk=ok.pk).width == 64
    assert ProductImage.objects.get(pk=gone.pk).error == "HTTP 404"


def test_url_validation_and_size_cap(product, server):
    for bad in ("ftp://x/y.png", "javascript:alert(1)", "not a url", ""):
        with pytest.raises(DomainError) as exc:
            images.image_add_url(product_id=product.pk, url=bad, actor=None)
        assert exc.value.field == "url"
    capped = images.image_add_url(product_id=product.pk, url=f"{server}/ok.png", actor=None)
    assert images.image_url_check(capped.pk, timeout=5, limit=100).error.startswith("larger than")


# --- screens --------------------------------------------------------------------------------------------


def test_upload_screen_shows_errors_and_serves_the_file(admin_client, product, make_user):
    from django.core.files.uploadedfile import SimpleUploadedFile

    url = reverse("catalog:image_upload", args=[product.pk])
    bad = admin_client.post(url, {"file": SimpleUploadedFile("x.jpg", b"text", "image/jpeg")})
    assert bad.status_code == 400
    assert "not an image" in bad.content.decode()
    good = admin_client.post(url, {"file": SimpleUploadedFile("x.png", png(), "image/png"), "alt": "Front"})
    assert good.status_code == 302
    image = ProductImage.objects.get()
    served = admin_client.get(reverse("catalog:image_file", args=[image.pk]))
    assert served.status_code == 200 and served["Content-Type"] == "image/png"
    assert served["X-Content-Type-Options"] == "nosniff"
    assert b"".join(served.streaming_content) == png()
    page = admin_client.get(reverse("catalog:product", args=[product.pk])).content.decode()
    assert "32 × 24 px" in page and 'alt="Front"' in page
