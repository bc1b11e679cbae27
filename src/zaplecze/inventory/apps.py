from django.apps import AppConfig


class InventoryConfig(AppConfig):
    name = "zaplecze.inventory"
    label = "inventory"
    verbose_name = "Inventory"
