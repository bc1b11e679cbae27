"""Product images: uploaded files (checked with Pillow before anything is stored) and image URLs (stored at
once, their pixel size read by the worker), alt text, order and removal.

Uploaded files live in the default storage (``<data dir>/media/catalog/images/YYYY/MM/``) under a random
name with the extension of the format Pillow found — never the name the browser sent. They are served by
``catalog:image_file`` to signed-in users (permission ``catalog.view``), so no public media URL is needed.
"""

from __future__ import annotations

import io
import logging
import secrets
import urllib.error
import urllib.request
import warnings
from dataclasses import dataclass
from typing import IO, Any

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _
from PIL import Image, UnidentifiedImageError

from zaplecze.core.errors import DomainError, NotFound
from zaplecze.core.services import audit_record

from .models import Product, ProductImage, Variant

log = logging.getLogger("zaplecze.catalog.images")

MAX_BYTES = 10 * 1024 * 1024  # an uploaded or fetched image file
MAX_PIXELS = 50_000_000  # width x height; more is refused as a possible decompression bomb
MAX_IMAGES = 50  # per product
FETCH_TIMEOUT = 10.0  # seconds, for connecting and for each read
FORMATS = {"JPEG": ("jpg", "image/jpeg"), "PNG": ("png", "image/png"), "GIF": ("gif", "image/gif"),
           "WEBP": ("webp", "image/webp")}  # fmt: skip


@dataclass
class ImageInfo:
    format: str
    width: int
    height: int
    size_bytes: int

    @property
    def content_type(self) -> str:
        return FORMATS[self.format][1]

    @property
    def extension(self) -> str:
        return FORMATS[self.format][0]


def _mb(n: int) -> str:
    return f"{n / 1024 / 1024:.0f} MB"


def inspect_bytes(data: bytes, *, field: str = "file", max_pixels: int | None = None) -> ImageInfo:
    """Read format and pixel size with Pillow; refuse what is not a supported image, is damaged, or has more
    pixels than the cap (a small file can declare a huge canvas: a decompression bomb)."""
    max_pixels = max_pixels or MAX_PIXELS
    if not data:
        raise DomainError(_("The file is empty."), field=field, code="empty")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                fmt, (width, height) = img.format, img.size
                if width * height > max_pixels:
                    raise DomainError(
                        _(
                            "The image is %(w)s × %(h)s pixels; at most %(max)s million pixels are accepted "
                            "(it may be a decompression bomb)."
                        )
                        % {"w": width, "h": height, "max": max_pixels // 1_000_000},
                        field=field,
                        code="too_many_pixels",
                    )
                if fmt not in FORMATS:
                    raise DomainError(
                        _("%(fmt)s images are not accepted; use JPEG, PNG, GIF or WebP.") % {"fmt": fmt},
                        field=field,
                        code="format",
                    )
                img.verify()  # checks the file's structure without decoding every pixel
    except DomainError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise DomainError(
            _("The image has too many pixels (it may be a decompression bomb)."),
            field=field,
            code="too_many_pixels",
        )
    except UnidentifiedImageError:
        raise DomainError(
            _("The file is not an image (or not one we can read)."), field=field, code="not_image"
        )
    except Exception as exc:  # truncated or damaged files raise OSError, SyntaxError, ValueError ...
        raise DomainError(
            _("The image is damaged and cannot be read (%(why)s).") % {"why": str(exc)[:80]},
            field=field,
            code="damaged",
        )
    return ImageInfo(fmt, width, height, len(data))


def read_limited(stream: IO[bytes], *, limit: int, field: str = "file") -> bytes:
    """Read at most `limit` bytes; a longer stream is refused."""
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise DomainError(
            _("The file is larger than %(max)s.") % {"max": _mb(limit)}, field=field, code="too_large"
        )
    return data


def _product(product_id: int) -> Product:
    product = Product.objects.select_for_update().filter(pk=product_id).first()
    if product is None:
        raise NotFound(_("Product not found"))
    if ProductImage.objects.filter(product=product).count() >= MAX_IMAGES:
        raise DomainError(_("A product has at most %(n)s images.") % {"n": MAX_IMAGES}, code="too_many")
    return product


def _variant(product: Product, variant_id: int | None) -> Variant | None:
    if not variant_id:
        return None
    variant = Variant.objects.filter(pk=variant_id, product=product).first()
    if variant is None:
        raise DomainError(_("The variant is not one of this product's."), field="variant")
    return variant


def _alt(value: Any) -> str:
    alt = str(value or "").strip()
    if len(alt) > 300:
        raise DomainError(_("At most %(n)s characters.") % {"n": 300}, field="alt")
    if "\x00" in alt or alt.encode("utf-8", "replace").decode("utf-8") != alt:
        raise DomainError(_("The text contains characters that cannot be stored."), field="alt")
    return alt


def _next_position(product: Product) -> int:
    top = ProductImage.objects.filter(product=product).aggregate(m=Max("position"))["m"]
    return 0 if top is None else top + 1


def _touch(product_id: int) -> None:
    from . import audit

    Product.objects.filter(pk=product_id).update(updated_at=timezone.now())
    audit.audit_soon([product_id])


def image_upload(
    *,
    product_id: int,
    file: IO[bytes] | bytes,
    filename: str = "",
    alt: str = "",
    variant_id: int | None = None,
    actor,
) -> ProductImage:
    """Check an uploaded file (size cap, Pillow: a real image of an accepted format and pixel count) and
    store it. Nothing is stored when the file is refused."""
    data = file if isinstance(file, bytes) else read_limited(file, limit=MAX_BYTES)
    if len(data) > MAX_BYTES:
        raise DomainError(
            _("The file is larger than %(max)s.") % {"max": _mb(MAX_BYTES)}, field="file", code="too_large"
        )
    info = inspect_bytes(data)
    alt = _alt(alt)
    name = f"catalog/images/{timezone.now():%Y/%m}/{secrets.token_hex(12)}.{info.extension}"
    with transaction.atomic():
        product = _product(product_id)
        variant = _variant(product, variant_id)
        stored = default_storage.save(name, ContentFile(data))
        try:
            image = ProductImage.objects.create(
                product=product,
                variant=variant,
                file=stored,
                width=info.width,
                height=info.height,
                size_bytes=info.size_bytes,
                content_type=info.content_type,
                alt=alt,
                position=_next_position(product),
                checked_at=timezone.now(),
            )
            audit_record(
                obj_type="catalog.product",
                obj_id=product.pk,
                action="image_added",
                actor=actor,
                changes={"image": [None, f"{(filename or '')[:100]} {info.width}×{info.height}".strip()]},
            )
            _touch(product.pk)
        except Exception:
            default_storage.delete(stored)
            raise
    return image


def _valid_url(url: str) -> str:
    from django.core.exceptions import ValidationError
    from django.core.validators import URLValidator

    url = (url or "").strip()
    if not url:
        raise DomainError(_("This field is required."), field="url", code="required")
    if len(url) > 1000:
        raise DomainError(_("At most %(n)s characters.") % {"n": 1000}, field="url")
    try:
        URLValidator(schemes=["http", "https"])(url)
    except ValidationError:
        raise DomainError(_("%(url)s is not a valid http(s) address.") % {"url": url[:100]}, field="url")
    return url


def image_add_url(
    *, product_id: int, url: str, alt: str = "", variant_id: int | None = None, actor
) -> ProductImage:
    """Store an image URL at once; the worker fetches it and records its pixel size (or why it failed)."""
    url = _valid_url(url)
    alt = _alt(alt)
    with transaction.atomic():
        product = _product(product_id)
        variant = _variant(product, variant_id)
        if ProductImage.objects.filter(product=product, source_url=url).exists():
            raise DomainError(_("This product has that image already."), field="url", code="exists")
        image = ProductImage.objects.create(
            product=product, variant=variant, source_url=url, alt=alt, position=_next_position(product)
        )
        audit_record(
            obj_type="catalog.product",
            obj_id=product.pk,
            action="image_added",
            actor=actor,
            changes={"image": [None, url[:200]]},
        )
        _touch(product.pk)
        queue_url_check([image.pk])
    return image


def queue_url_check(image_ids) -> None:
    """Read the pixel size of these URL images in the worker, after the current transaction commits.

    For the import: call it with the ids of the URL images an import created."""
    ids = [int(i) for i in image_ids]
    if not ids:
        return

    def enqueue() -> None:
        from .tasks_images import image_urls_check

        for start in range(0, len(ids), 200):
            image_urls_check(ids[start : start + 200])

    transaction.on_commit(enqueue)


def image_update(*, image_id: int, actor, alt: str | None = None) -> ProductImage:
    with transaction.atomic():
        image = ProductImage.objects.select_for_update().filter(pk=image_id).first()
        if image is None:
            raise NotFound(_("Image not found"))
        if alt is not None:
            new = _alt(alt)
            if new != image.alt:
                audit_record(
                    obj_type="catalog.product",
                    obj_id=image.product_id,
                    action="image_updated",
                    actor=actor,
                    changes={"alt": [image.alt, new]},
                )
                image.alt = new
                image.save(update_fields=["alt"])
                _touch(image.product_id)
    return image


def images_reorder(*, product_id: int, image_ids: list[int], actor) -> None:
    """Put the product's images in this order (ids not given keep their order after the given ones)."""
    with transaction.atomic():
        current = list(
            ProductImage.objects.select_for_update().filter(product_id=product_id).order_by("position", "id")
        )
        by_id = {i.pk: i for i in current}
        unknown = [i for i in image_ids if i not in by_id]
        if unknown:
            raise DomainError(
                _("Image %(id)s is not one of this product's.") % {"id": unknown[0]}, field="order"
            )
        ordered = [by_id[i] for i in dict.fromkeys(image_ids)] + [i for i in current if i.pk not in image_ids]
        before = [i.pk for i in current]
        for pos, image in enumerate(ordered):
            if image.position != pos:
                image.position = pos
                image.save(update_fields=["position"])
        after = [i.pk for i in ordered]
        if before != after:
            audit_record(
                obj_type="catalog.product",
                obj_id=product_id,
                action="images_reordered",
                actor=actor,
                changes={"images": [before, after]},
            )
            _touch(product_id)


def image_move(*, image_id: int, offset: int, actor) -> None:
    """Move an image one place up (-1) or down (+1)."""
    image = ProductImage.objects.filter(pk=image_id).first()
    if image is None:
        raise NotFound(_("Image not found"))
    ids = list(
        ProductImage.objects.filter(product_id=image.product_id)
        .order_by("position", "id")
        .values_list("pk", flat=True)
    )
    i = ids.index(image.pk)
    j = max(0, min(len(ids) - 1, i + offset))
    ids[i], ids[j] = ids[j], ids[i]
    images_reorder(product_id=image.product_id, image_ids=ids, actor=actor)


def image_delete(*, image_id: int, actor) -> None:
    """Remove an image; an uploaded file is deleted from storage after the transaction commits."""
    with transaction.atomic():
        image = ProductImage.objects.select_for_update().filter(pk=image_id).first()
        if image is None:
            raise NotFound(_("Image not found"))
        name = image.file.name if image.file else ""
        audit_record(
            obj_type="catalog.product",
            obj_id=image.product_id,
            action="image_removed",
            actor=actor,
            changes={"image": [image.source_url or name, None]},
        )
        product_id = image.product_id
        image.delete()
        _touch(product_id)
        if name:
            transaction.on_commit(lambda: default_storage.delete(name))


# --- reading URL images (the worker) --------------------------------------------------------------------


class _NoRedirectLoops(urllib.request.HTTPRedirectHandler):
    max_redirections = 5


def fetch_limited(url: str, *, timeout: float, limit: int) -> tuple[bytes, str]:
    """GET `url` with a timeout and a size cap; returns (body, content type). Errors are DomainErrors with
    a short reason fit for ProductImage.error."""
    opener = urllib.request.build_opener(_NoRedirectLoops())
    if not url.lower().startswith(("http://", "https://")):
        raise DomainError(_("not an http(s) address"), code="unreachable")
    request = urllib.request.Request(  # noqa: S310 - http(s) only, checked above
        url, headers={"User-Agent": "Zaplecze image check", "Accept": "image/*"}
    )
    try:
        with opener.open(request, timeout=timeout) as response:  # noqa: S310 - http(s) only (validated)
            length = response.headers.get("Content-Length")
            if length and length.isdigit() and int(length) > limit:
                raise DomainError(_("larger than %(max)s") % {"max": _mb(limit)}, code="too_large")
            chunks, total = [], 0
            while True:
                chunk = response.read(64 * 1024)
                if not chunk:
                    break
                total += len(chunk)
                if total > limit:
                    raise DomainError(_("larger than %(max)s") % {"max": _mb(limit)}, code="too_large")
                chunks.append(chunk)
            return b"".join(chunks), response.headers.get_content_type()
    except DomainError:
        raise
    except urllib.error.HTTPError as exc:
        raise DomainError(_("HTTP %(code)s") % {"code": exc.code}, code="http")
    except TimeoutError:
        raise DomainError(_("timed out after %(s)s s") % {"s": f"{timeout:g}"}, code="timeout")
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, TimeoutError):
            raise DomainError(_("timed out after %(s)s s") % {"s": f"{timeout:g}"}, code="timeout")
        raise DomainError(_("unreachable: %(why)s") % {"why": str(reason)[:120]}, code="unreachable")
    except (OSError, ValueError) as exc:
        raise DomainError(_("unreachable: %(why)s") % {"why": str(exc)[:120]}, code="unreachable")


def image_url_check(
    image_id: int, *, timeout: float | None = None, limit: int | None = None
) -> ProductImage | None:
    """Fetch one URL image and record its pixel size, type and size, or the error. Idempotent."""
    image = ProductImage.objects.filter(pk=image_id).exclude(source_url="").first()
    if image is None:
        return None
    values: dict[str, Any] = {"checked_at": timezone.now()}
    try:
        data, content_type = fetch_limited(
            image.source_url, timeout=timeout or FETCH_TIMEOUT, limit=limit or MAX_BYTES
        )
        info = inspect_bytes(data, field="url")
        values.update(
            width=info.width,
            height=info.height,
            size_bytes=info.size_bytes,
            content_type=info.content_type,
            error="",
        )
    except DomainError as exc:
        values.update(width=None, height=None, error=str(exc.message)[:300])
    ProductImage.objects.filter(pk=image.pk).update(**values)
    if values.get("error") != image.error or values.get("width") != image.width:
        _touch(image.product_id)
    image.refresh_from_db()
    return image
