"""Catalog URLs of the prices area (names are in the catalog: namespace), under /products/prices/."""

from django.urls import path

from . import views_prices

urlpatterns = [
    path("", views_prices.prices_index, name="prices"),
    path("reprice/", views_prices.reprice_create, name="reprice_create"),
    path("reprice/<int:reprice_id>/", views_prices.reprice_detail, name="reprice"),
    path("reprice/<int:reprice_id>/apply/", views_prices.reprice_apply, name="reprice_apply"),
    path("reprice/<int:reprice_id>/undo/", views_prices.reprice_undo, name="reprice_undo"),
    path("reprice/<int:reprice_id>/discard/", views_prices.reprice_discard, name="reprice_discard"),
    path("variants/<int:price_variant_id>/", views_prices.variant_history, name="price_history"),
    path("variants/<int:price_variant_id>/set/", views_prices.variant_price_set, name="price_set"),
]
