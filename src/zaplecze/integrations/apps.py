from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "zaplecze.integrations"
    label = "integrations"
    verbose_name = "Integrations"

    def ready(self) -> None:
        from zaplecze.core import extensions

        from . import automation, push

        automation.register()
        # Stock and price changes from the lower modules become pending pushes (after commit).
        extensions.register("inventory.stock_changed", "integrations.push", push.on_stock_changed)
        extensions.register("catalog.prices_changed", "integrations.push", push.on_prices_changed)
