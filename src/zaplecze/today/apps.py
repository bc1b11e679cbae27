from importlib import import_module

from django.apps import AppConfig

# Modules whose `today.py` registers exception kinds (a module that does not exist yet contributes nothing).
DETECTOR_MODULES = (
    "zaplecze.orders.today",
    "zaplecze.inventory.today",
    "zaplecze.purchasing.today",
    "zaplecze.shipping.today",
    "zaplecze.service.today",
    "zaplecze.catalog.today",
    "zaplecze.integrations.today",
    "zaplecze.monitoring.today",
    "zaplecze.promotions.today",
    "zaplecze.reports.today",
)


class TodayConfig(AppConfig):
    name = "zaplecze.today"
    label = "today"
    verbose_name = "Today"

    def ready(self) -> None:
        from zaplecze.core import extensions, today

        for mod in DETECTOR_MODULES:
            try:
                import_module(mod)
            except ModuleNotFoundError as exc:
                if exc.name != mod:
                    raise
        from .services import touched

        extensions.register(today.TOUCH, "today", touched)
