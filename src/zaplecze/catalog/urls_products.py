"""Catalog URLs of the products area (names are in the catalog: namespace; mounted at /products/)."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.product_list, name="products"),
    path("bulk/", views.products_bulk, name="products_bulk"),
    path("new/", views.product_create, name="product_create"),
    path("<int:product_id>/", views.product_detail, name="product"),
    path("<int:product_id>/edit/", views.product_edit, name="product_edit"),
    path("<int:product_id>/description/", views.product_description, name="product_description"),
    path("<int:product_id>/description/preview/", views.description_preview, name="description_preview"),
    path("<int:product_id>/variants/", views.variant_add, name="variant_add"),
    path("<int:product_id>/variants/<int:product_variant_id>/", views.variant_edit, name="variant_edit"),
    path(
        "<int:product_id>/variants/<int:product_variant_id>/remove/",
        views.variant_remove,
        name="variant_remove",
    ),
    path("<int:product_id>/offers/", views.offer_save, name="offer_save"),
    path("<int:product_id>/images/upload/", views.image_upload, name="image_upload"),
    path("<int:product_id>/images/url/", views.image_url, name="image_url"),
    path("<int:product_id>/images/<int:product_image_id>/", views.image_action, name="image_action"),
    path("<int:product_id>/panels/<slug:panel_name>/", views.panel_post, name="product_panel"),
    path("images/<int:product_image_id>/file/", views.image_file, name="image_file"),
    path("manufacturers/", views.manufacturer_list, name="manufacturers"),
    path("manufacturers/new/", views.manufacturer_create, name="manufacturer_create"),
    path("manufacturers/<int:manufacturer_id>/", views.manufacturer_edit, name="manufacturer"),
    path("categories/", views.category_list, name="categories"),
    path("categories/action/", views.category_action, name="category_action"),
]
