"""Catalog URLs of the feeds area (names are in the catalog: namespace), under /products/feeds/."""

from django.urls import path

from . import views_feeds as views

urlpatterns = [
    path("", views.feed_list, name="feeds"),
    path("new/", views.feed_new, name="feed_new"),
    path("<int:feed_id>/", views.feed_detail, name="feed"),
    path("<int:feed_id>/edit/", views.feed_edit, name="feed_edit"),
    path("<int:feed_id>/rebuild/", views.feed_rebuild, name="feed_rebuild"),
    path("<int:feed_id>/token/", views.feed_token, name="feed_token"),
    path("<int:feed_id>/download/", views.feed_download, name="feed_download"),
    path("<int:feed_id>/excluded.csv", views.feed_exclusions_csv, name="feed_exclusions_csv"),
]
