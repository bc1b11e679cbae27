from django.apps import AppConfig


class ServiceConfig(AppConfig):
    name = "zaplecze.service"
    label = "service"
    verbose_name = "Customer service"

    def ready(self) -> None:
        from . import automation, notify

        automation.register()
        notify.register()
