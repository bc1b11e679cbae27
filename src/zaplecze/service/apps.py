from django.apps import AppConfig


class ServiceConfig(AppConfig):
    name = "zaplecze.service"
    label = "service"
    verbose_name = "Customer service"

    def ready(self) -> None:
        from . import automation, notify

        automation.register()
        notify.register()

        from zaplecze.catalog.panels import register as register_panel

        from .catalog_panel import exclusion_panel

        register_panel("return_exclusion", exclusion_panel)
