"""Staff actions for the parcel of a return: create a carrier label, download it, or record a tracking
number typed in by hand (mounted under /service/returns/)."""

from django.urls import path

from . import views_return_labels

app_name = "service_return_label"
urlpatterns = [
    path("<int:return_id>/label/", views_return_labels.create, name="create"),
    path("<int:return_id>/label.pdf", views_return_labels.download, name="download"),
    path("<int:return_id>/tracking/", views_return_labels.tracking, name="tracking"),
]
