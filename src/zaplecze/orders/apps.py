from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "zaplecze.orders"
    label = "orders"
    verbose_name = "Orders"

    def ready(self) -> None:
        from zaplecze.core import extensions

        from .catalog_channels import channel_choices

        # The catalog's offers per channel pick channels through this point.
        extensions.register("catalog.channels", "orders", channel_choices)
