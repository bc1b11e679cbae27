from django.apps import AppConfig


class ShippingConfig(AppConfig):
    name = "zaplecze.shipping"
    label = "shipping"
    verbose_name = "Shipping"
