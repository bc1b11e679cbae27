"""Public pages for customers (no login): the return (withdrawal) form at /zwrot/; the contact form is
mounted at /kontakt/ (contact_urls)."""

from django.urls import path

from . import views_public

app_name = "service_public"
urlpatterns = [
    path("", views_public.start, name="start"),
    path("wybor/", views_public.choose, name="choose"),
]
