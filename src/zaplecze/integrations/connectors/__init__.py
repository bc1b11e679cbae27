"""Platform connectors by code. Platforms without a connector yet can be saved but not synced."""

from __future__ import annotations

from .allegro import Allegro  # noqa: F401
from .base import Connector
from .prestashop import PrestaShop  # noqa: F401
from .shopify import Shopify
from .woocommerce import WooCommerce

CONNECTORS: dict[str, type[Connector]] = {
    WooCommerce.platform: WooCommerce,
    Shopify.platform: Shopify,
    PrestaShop.platform: PrestaShop,
    Allegro.platform: Allegro,
}


def connector_class(platform: str) -> type[Connector] | None:
    return CONNECTORS.get(platform)
