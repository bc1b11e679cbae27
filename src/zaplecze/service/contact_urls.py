"""The public contact form at /kontakt/ (no login)."""

from django.urls import path

from . import views_public

app_name = "service_contact"
urlpatterns = [path("", views_public.contact, name="contact")]
