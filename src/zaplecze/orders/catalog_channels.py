"""Sales channels for the catalog's offers (the catalog sits below orders and asks through the extension
point "catalog.channels"; registered from OrdersConfig.ready())."""

from __future__ import annotations


def channel_choices() -> list[tuple[str, str]]:
    from .models import Channel

    return list(Channel.objects.order_by("name").values_list("code", "name"))
