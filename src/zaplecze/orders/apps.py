from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "zaplecze.orders"
    label = "orders"
    verbose_name = "Orders"
