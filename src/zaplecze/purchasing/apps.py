from django.apps import AppConfig


class PurchasingConfig(AppConfig):
    name = "zaplecze.purchasing"
    label = "purchasing"
    verbose_name = "Purchasing"
