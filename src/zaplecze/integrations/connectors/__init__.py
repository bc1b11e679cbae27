"""Platform connectors by code. Platforms without a connector yet can be saved but not synced."""

from __future__ import annotations

from .base import Connector
from .shopify import Shopify
from .woocommerce import WooCommerce

CONNECTORS: dict[str, type[Connector]] = {WooCommerce.platform: WooCommerce, Shopify.platform: Shopify}


def connector_class(platform: str) -> type[Connector] | None:
    return CONNECTORS.get(platform)
