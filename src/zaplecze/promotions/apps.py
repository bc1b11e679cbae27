from django.apps import AppConfig


class PromotionsConfig(AppConfig):
    name = "zaplecze.promotions"
    label = "promotions"
    verbose_name = "Promotions"
