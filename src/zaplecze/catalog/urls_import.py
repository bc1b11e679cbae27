"""Catalog URLs of the import area (names are in the catalog: namespace), under /products/import/."""

from django.urls import path

from . import views_import as views

urlpatterns = [
    path("", views.upload, name="import"),
    path("history/", views.history, name="import_history"),
    path("export/", views.export, name="import_export"),
    path("<int:bulk_id>/", views.preview, name="import_preview"),
    path("<int:bulk_id>/rows/<int:import_row>/", views.row, name="import_row"),
    path("<int:bulk_id>/apply/", views.apply, name="import_apply"),
    path("<int:bulk_id>/discard/", views.discard, name="import_discard"),
    path("<int:bulk_id>/undo/", views.undo, name="import_undo"),
]
