from __future__ import annotations

from django.urls import path

from . import views

app_name = "purchasing"
urlpatterns = [
    path("", views.index, name="index"),
    path("suppliers/", views.supplier_list, name="suppliers"),
    path("suppliers/new/", views.supplier_new, name="supplier_new"),
    path("suppliers/<int:supplier_id>/", views.supplier_detail, name="supplier"),
    path("suppliers/<int:supplier_id>/edit/", views.supplier_edit, name="supplier_edit"),
    path("reorder/", views.reorder, name="reorder"),
    path("reorder/create/", views.reorder_create, name="reorder_create"),
    path("reorder/recompute/", views.recompute, name="recompute"),
    path("parameters/", views.parameter_list, name="parameters"),
    path("parameters/<int:param_id>/", views.parameter_detail, name="parameter"),
    path("settings/", views.settings_view, name="settings"),
    path("orders/", views.po_list, name="po_list"),
    path("orders/new/", views.po_new, name="po_new"),
    path("orders/<int:po_id>/", views.po_detail, name="po"),
    path("orders/<int:po_id>/edit/", views.po_edit, name="po_edit"),
    path("orders/<int:po_id>/send/", views.po_send, name="po_send"),
    path("orders/<int:po_id>/cancel/", views.po_cancel, name="po_cancel"),
    path("orders/<int:po_id>/receive/", views.po_receive, name="po_receive"),
    path("orders/<int:po_id>/pdf/", views.po_pdf, name="po_pdf"),
    path("orders/<int:po_id>/csv/", views.po_csv, name="po_csv"),
]
