"""The public complaint form at /reklamacja/ (no login); see views_complaint_public."""

from django.urls import path

from . import views_complaint_public

app_name = "service_complaint"
urlpatterns = [
    path("", views_complaint_public.start, name="start"),
    path("formularz/", views_complaint_public.complaint_form, name="form"),
]
