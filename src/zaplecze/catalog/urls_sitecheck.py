"""Catalog URLs of the storefront check (names are in the catalog: namespace), under /products/site-check/."""

from django.urls import path

from . import views_sitecheck as views

urlpatterns = [
    path("", views.index, name="sitecheck"),
    path("start/", views.start, name="sitecheck_start"),
    path("<int:sc_run_id>/", views.run_detail, name="sitecheck_run"),
    path("<int:sc_run_id>/csv/", views.run_csv, name="sitecheck_csv"),
    path("product/<int:sc_product_id>/", views.product_history, name="sitecheck_product"),
]
