from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "zaplecze.catalog"
    label = "catalog"
    verbose_name = "Catalog"

    def ready(self) -> None:
        # Panels of the product page (see catalog/panels.py), one module per area.
        from . import panels_audit, panels_feeds, panels_prices, panels_sitecheck  # noqa: F401
