from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "zaplecze.reports"
    label = "reports"
    verbose_name = "Reports"
