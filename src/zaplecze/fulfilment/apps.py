from django.apps import AppConfig


class FulfilmentConfig(AppConfig):
    name = "zaplecze.fulfilment"
    label = "fulfilment"
    verbose_name = "Fulfilment"
