from django.urls import path

from . import views

app_name = "shipping"
urlpatterns = [
    path("", views.shipment_list, name="list"),
    path("sync/", views.sync_all, name="sync_all"),
    path("due/", views.due, name="due"),
    path("bulk/", views.bulk, name="bulk"),
    path("bulk/<int:job_id>/", views.bulk_job, name="bulk_job"),
    path("bulk/<int:job_id>/labels.pdf", views.bulk_labels, name="bulk_labels"),
    path("performance/", views.performance, name="performance"),
    path("promises/", views.promises, name="promises"),
    path("orders/<int:order_id>/", views.order_panel, name="order_panel"),
    path("orders/<int:order_id>/create/", views.order_create_shipment, name="order_create"),
    path("<int:shipment_id>/", views.shipment_detail, name="detail"),
    path("<int:shipment_id>/label.pdf", views.label, name="label"),
    path("<int:shipment_id>/cancel/", views.cancel, name="cancel"),
    path("<int:shipment_id>/retry/", views.retry, name="retry"),
    path("<int:shipment_id>/sync/", views.sync, name="sync"),
    path("<int:shipment_id>/status/", views.change_status, name="change_status"),
    path("<int:shipment_id>/tracking-number/", views.set_tracking_number, name="tracking_number"),
    path("webhooks/inpost/<str:secret>/", views.inpost_webhook, name="inpost_webhook"),
]
