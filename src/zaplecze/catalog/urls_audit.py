"""Catalog URLs of the audit area (names are in the catalog: namespace), under /products/audit/."""

from django.urls import path

from . import views_audit

urlpatterns = [
    path("", views_audit.audit_list, name="audit"),
    path("rules/", views_audit.audit_rules, name="audit_rules"),
    path("run/", views_audit.audit_run_now, name="audit_run"),
]
