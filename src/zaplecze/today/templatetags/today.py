"""Show an exception's label and reason in the reader's language, its times in their locale."""

from __future__ import annotations

import datetime as dt

from django import template
from django.utils.translation import gettext

from zaplecze.core import today as registry
from zaplecze.core.formatting import format_date, format_datetime

register = template.Library()


def _localise(values: dict) -> dict:
    out = {}
    for k, v in (values or {}).items():
        if isinstance(v, str) and (k.startswith("when") or k == "day"):
            try:
                parsed = dt.datetime.fromisoformat(v) if k.startswith("when") else dt.date.fromisoformat(v)
            except ValueError:
                out[k] = v
                continue
            out[k] = format_datetime(parsed) if isinstance(parsed, dt.datetime) else format_date(parsed)
        else:
            out[k] = v
    return out


def _text(exc, field: str) -> str:
    msg = (exc.data or {}).get(f"{field}_msg")
    if msg:
        return registry.render([msg[0], _localise(msg[1] if len(msg) > 1 else {})], gettext)
    return getattr(exc, field)


@register.filter
def exc_label(exc) -> str:
    return _text(exc, "label")


@register.filter
def exc_why(exc) -> str:
    return _text(exc, "why")


@register.filter
def dtime_local(value) -> str:
    return format_datetime(value) if value else ""
