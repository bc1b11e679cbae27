from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "zaplecze.web"
    label = "web"
    verbose_name = "Web"
