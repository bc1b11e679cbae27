from __future__ import annotations

from django import template

from zaplecze.core import formatting
from zaplecze.core.permissions import user_has

register = template.Library()


@register.filter
def money(value, currency=None):
    return formatting.format_money(value, currency)


@register.filter
def num(value, decimals=None):
    return formatting.format_number(value, decimals=None if decimals is None else int(decimals))


@register.filter
def pct(value):
    return formatting.format_percent(value)


@register.filter
def dtime(value):
    return formatting.format_datetime(value)


@register.filter
def ddate(value):
    return formatting.format_date(value)


@register.simple_tag(takes_context=True)
def can(context, permission):
    return user_has(context["request"].user, permission)


@register.simple_tag(takes_context=True)
def query_with(context, **changes):
    """The current query string with some parameters replaced (None/'' removes them)."""
    params = context["request"].GET.copy()
    for key, value in changes.items():
        if value in (None, ""):
            params.pop(key, None)
        else:
            params[key] = value
    return "?" + params.urlencode() if params else "?"


@register.filter
def item(mapping, key):
    """`{{ mapping|item:key }}`: a dict value by a variable key ('' when missing)."""
    try:
        return mapping.get(key, "")
    except AttributeError:
        return ""


@register.filter
def split(value, sep=None):
    """`"a b c"|split`: a list of words (for short literal lists in templates)."""
    return str(value).split(sep)


@register.filter
def field(form, name):
    """`form|field:name`: the bound field of a form by a variable name."""
    return form[name]
