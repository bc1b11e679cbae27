"""Webhook receivers (no login: the platform's signature is the key), mounted at /hooks/."""

from django.urls import path

from . import views

app_name = "hooks"
urlpatterns = [
    path("<slug:hook_platform>/<str:hook_token>/", views.webhook, name="receive"),
]
