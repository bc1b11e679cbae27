from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "zaplecze.catalog"
    label = "catalog"
    verbose_name = "Catalog"
