from django.urls import path

from . import views

app_name = "monitoring"
urlpatterns = [
    path("", views.index, name="index"),
    path("incidents/", views.incidents, name="incidents"),
    path("checks/new/", views.check_new, name="check_new"),
    path("checks/<int:monitor_check_id>/", views.check_detail, name="check"),
    path("checks/<int:monitor_check_id>/edit/", views.check_edit, name="check_edit"),
    path("checks/<int:monitor_check_id>/run/", views.check_run, name="check_run"),
    path("checks/<int:monitor_check_id>/delete/", views.check_delete, name="check_delete"),
    path("incidents/<int:monitor_incident_id>/ticket/", views.incident_ticket, name="incident_ticket"),
    path("incidents/<int:monitor_incident_id>/close/", views.incident_close, name="incident_close"),
]
