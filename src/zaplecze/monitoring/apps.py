from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "zaplecze.monitoring"
    label = "monitoring"
    verbose_name = "Monitoring"
