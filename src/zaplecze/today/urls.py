"""The Today page, mounted at /today/."""

from django.urls import path

from . import views

app_name = "today"
urlpatterns = [
    path("", views.index, name="index"),
    path("history/", views.history, name="history"),
    path("settings/", views.kind_settings, name="settings"),
    path("refresh/", views.refresh, name="refresh"),
    path("digest/", views.digest, name="digest"),
    path("<int:exception_id>/snooze/", views.snooze, name="snooze"),
    path("<int:exception_id>/unsnooze/", views.unsnooze, name="unsnooze"),
    path("<int:exception_id>/resolve/", views.resolve, name="resolve"),
    path("<int:exception_id>/take/", views.take, name="take"),
    path("<int:exception_id>/act/<slug:action>/", views.act, name="act"),
]
