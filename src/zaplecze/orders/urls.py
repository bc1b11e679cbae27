from django.urls import path

from . import views, views_import

app_name = "orders"
urlpatterns = [
    path("", views.queue, name="queue"),
    path("export/", views.export, name="export"),
    path("bulk/", views.bulk, name="bulk"),
    path("new/", views.create, name="create"),
    path("import/", views_import.upload, name="import"),
    path("<int:order_id>/", views.detail, name="detail"),
    path("<int:order_id>/status/", views.change_status, name="change_status"),
    path("<int:order_id>/note/", views.add_note, name="add_note"),
    path("<int:order_id>/edit/", views.edit, name="edit"),
    path("<int:order_id>/attention/", views.resolve_attention, name="resolve_attention"),
    path("settings/statuses/", views.statuses, name="statuses"),
    path("settings/channels/", views.channels, name="channels"),
]
