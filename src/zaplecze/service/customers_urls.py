"""Staff pages of customers' personal data (GDPR): search, a customer's page, export and erasure."""

from django.urls import path

from . import views_privacy

app_name = "service_customers"
urlpatterns = [
    path("", views_privacy.customers, name="list"),
    path("<int:customer_id>/", views_privacy.customer_detail, name="detail"),
    path("person/", views_privacy.person, name="person"),
    path("export/", views_privacy.export, name="export"),
    path("erase/", views_privacy.erase, name="erase"),
]
