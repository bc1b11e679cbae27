"""Worker tasks of product images (exported through catalog/tasks.py; list them in __all__)."""

from __future__ import annotations

import logging

from huey.contrib.djhuey import db_task

log = logging.getLogger("zaplecze.catalog.images")

__all__ = ["image_urls_check"]


@db_task(retries=1, retry_delay=60)
def image_urls_check(image_ids: list[int]) -> None:
    """Fetch URL images (timeout and size cap) and record their pixel size, type and size, or the error."""
    from .images import image_url_check

    for image_id in image_ids:
        try:
            image_url_check(image_id)
        except Exception:  # one bad image must not stop the others
            log.exception("image %s could not be checked", image_id)
