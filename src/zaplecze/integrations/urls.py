"""Integration screens, mounted under /integrations/ (names in the integrations: namespace)."""

from django.urls import path

from . import views

app_name = "integrations"
urlpatterns = [
    path("", views.connections, name="connections"),
    path("new/", views.connection_new, name="connection_new"),
    path("<int:connection_id>/", views.connection_detail, name="connection"),
    path("<int:connection_id>/edit/", views.connection_edit, name="connection_edit"),
    path("<int:connection_id>/test/", views.connection_test, name="connection_test"),
    path("<int:connection_id>/sync/", views.connection_sync, name="connection_sync"),
    path("<int:connection_id>/authorize/", views.connection_authorize, name="connection_authorize"),
    path(
        "<int:connection_id>/authorize/check/",
        views.connection_authorize_check,
        name="connection_authorize_check",
    ),
    path("<int:connection_id>/push/", views.connection_push, name="connection_push"),
    path("errors/<int:error_id>/retry/", views.error_retry, name="error_retry"),
    path("deliveries/<int:delivery_id>/retry/", views.delivery_retry, name="delivery_retry"),
]
