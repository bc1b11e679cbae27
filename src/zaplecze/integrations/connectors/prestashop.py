"""PrestaShop Webservice connector (to be written)."""

from __future__ import annotations

from .base import Connector


class PrestaShop(Connector):
    platform = "prestashop"
