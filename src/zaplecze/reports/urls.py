"""Report screens, mounted under /reports/."""

from django.urls import path

from . import insights_views, views

app_name = "reports"
urlpatterns = [
    path("", views.index, name="index"),
    path("download/", views.download, name="download"),
    path("process/", views.process, name="process"),
    path("customers/", views.customers, name="customers"),
    path("alerts/", views.alerts, name="alerts"),
    path("insights/", insights_views.index, name="insights"),
    path("insights/refresh/", insights_views.refresh, name="insights_refresh"),
    path("insights/<int:insight_id>/state/", insights_views.state, name="insight_state"),
    path("alerts/<int:anomaly_id>/dismiss/", views.alert_dismiss, name="alert_dismiss"),
    path("runs/", views.runs, name="runs"),
    path("runs/<int:run_id>/", views.run_download, name="run_download"),
    path("schedules/", views.schedules, name="schedules"),
    path("schedules/new/", views.schedule_create, name="schedule_create"),
    path("schedules/<int:schedule_id>/", views.schedule_edit, name="schedule_edit"),
    path("schedules/<int:schedule_id>/delete/", views.schedule_delete, name="schedule_delete"),
]
