from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "zaplecze.integrations"
    label = "integrations"
    verbose_name = "Integrations"

    def ready(self) -> None:
        from . import automation

        automation.register()
