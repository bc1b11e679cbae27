from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "zaplecze.analytics"
    label = "analytics"
    verbose_name = "Analytics"

    def ready(self) -> None:
        from . import privacy

        privacy.register()
