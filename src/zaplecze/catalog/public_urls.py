"""Feeds at stable secret URLs for Google Merchant Center, Ceneo and others (no login; the token is the key).

Mounted at /feeds/ by the project URLs; names are in the feeds: namespace (one per feed kind, so
``reverse(f"feeds:{feed.kind}", ...)`` gives a feed's address). Uploaded product images are served under
images/ with a signature, so Google and Ceneo can fetch them.
"""

from django.urls import path

from . import views_feeds as views

app_name = "feeds"
urlpatterns = [
    path("images/<int:feed_image_id>/<str:feed_image_sig>", views.public_image, name="image"),
    path("<str:feed_token>/google.xml", views.public_google, name="google"),
    path("<str:feed_token>/ceneo.xml", views.public_ceneo, name="ceneo"),
    path("<str:feed_token>/products.csv", views.public_csv, name="csv"),
]
