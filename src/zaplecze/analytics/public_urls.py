"""Public, unauthenticated analytics endpoints (the tracking script, /collect, the pixel)."""

from django.urls import path

from . import collector_views

app_name = "analytics_public"
urlpatterns = [
    path("z.js", collector_views.script, name="script"),
    path("collect", collector_views.collect, name="collect"),
    path("collect.gif", collector_views.pixel, name="pixel"),
]
