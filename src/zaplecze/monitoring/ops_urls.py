"""Operations endpoints at the site root: /healthz, /readyz, /metrics (no login; see monitoring/ops.py)."""

from django.urls import path  # noqa: F401

urlpatterns: list = []
