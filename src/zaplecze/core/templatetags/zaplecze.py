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


@register.filter
def attention_text(reason: dict) -> str:
    """A needs-attention reason in the reader's language (reasons are stored with a stable code)."""
    from django.utils.translation import gettext as _

    code = reason.get("code", "") if isinstance(reason, dict) else ""
    sku = reason.get("sku", "") if isinstance(reason, dict) else ""
    texts = {
        "unknown_sku": _("Unknown SKU %(sku)s: map it to a product or fix the line.") % {"sku": sku},
        "stock_short": _("Not enough stock of %(sku)s: some units are not reserved.") % {"sku": sku},
        "total_mismatch": _("The order total differs from lines + shipping − discount."),
        "illegal_channel_status": _("The channel reported a status this order cannot move to."),
    }
    if code in texts:
        return texts[code]
    return reason.get("message", code) if isinstance(reason, dict) else str(reason)
