from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "zaplecze.core"
    label = "core"
    verbose_name = "Core"
