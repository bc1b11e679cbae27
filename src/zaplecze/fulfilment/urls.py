from __future__ import annotations

from django.urls import path

from . import views

app_name = "fulfilment"
urlpatterns = [
    path("", views.index, name="index"),
    path("picklists/create/", views.create, name="create"),
    path("picklists/<int:picklist_id>/", views.picklist_detail, name="picklist"),
    path("picklists/<int:picklist_id>/pdf/", views.picklist_pdf, name="picklist_pdf"),
    path("picklists/<int:picklist_id>/mark/", views.picklist_mark, name="picklist_mark"),
    path("picklists/<int:picklist_id>/status/", views.picklist_status, name="picklist_status"),
    path("pack/", views.pack_lookup, name="pack_lookup"),
    path("pack/<int:order_id>/", views.pack, name="pack"),
    path("pack/<int:order_id>/scan/", views.pack_scan, name="pack_scan"),
    path("pack/<int:order_id>/undo/", views.pack_undo, name="pack_undo"),
]
