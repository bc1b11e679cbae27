from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "zaplecze.api"
    label = "api"
    verbose_name = "API"
