"""Small helpers shared by the modules' server-rendered views."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import Http404

from .errors import DomainError, NotFound


def or_404(fn: Callable[..., Any], *args: Any) -> Any:
    """Call a selector; its NotFound becomes the page's 404."""
    try:
        return fn(*args)
    except NotFound:
        raise Http404 from None


def form_error(form, exc: DomainError, *, aliases: dict[str, str] | None = None) -> None:
    """Show a service's DomainError on the form: on the field it names (`lines[2].sku` -> `lines`, or through
    `aliases` when the service's name differs from the form's), else at the top of the form."""
    field = (exc.field or "").split("[")[0].split(".")[0]
    field = (aliases or {}).get(exc.field or "", (aliases or {}).get(field, field))
    form.add_error(field if field in form.fields else None, exc.message)
