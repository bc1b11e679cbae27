from django.apps import AppConfig


class ServiceConfig(AppConfig):
    name = "zaplecze.service"
    label = "service"
    verbose_name = "Customer service"
