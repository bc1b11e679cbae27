from django.apps import AppConfig


class ShippingConfig(AppConfig):
    name = "zaplecze.shipping"
    label = "shipping"
    verbose_name = "Shipping"

    def ready(self) -> None:
        from . import automation, links, returns

        returns.register()
        automation.register()
        links.register()
