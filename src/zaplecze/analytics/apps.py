from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "zaplecze.analytics"
    label = "analytics"
    verbose_name = "Analytics"
