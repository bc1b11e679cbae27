from django.apps import AppConfig


class InventoryConfig(AppConfig):
    name = "zaplecze.inventory"
    label = "inventory"
    verbose_name = "Inventory"

    def ready(self) -> None:
        from zaplecze.core import extensions

        from .selectors import available_by_variant

        # The catalog (audit, feeds, storefront check) asks for stock through this point.
        extensions.register("catalog.stock", "available", available_by_variant)

        from zaplecze.catalog.panels import register as register_panel

        from .catalog_panel import stock_panel

        register_panel("stock", stock_panel)
