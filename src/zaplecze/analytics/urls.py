from django.urls import path

from . import views

app_name = "analytics"
urlpatterns = [
    path("", views.index, name="index"),
    path("realtime/", views.realtime, name="realtime"),
    path("export.csv", views.export_csv, name="export"),
    path("sites/", views.sites, name="sites"),
    path("sites/<int:site_id>/toggle/", views.site_toggle, name="site_toggle"),
]
