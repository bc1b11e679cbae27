"""Operations endpoints at the site root: /healthz, /readyz, /metrics (no login; see monitoring/ops.py)."""

from django.urls import path

from . import ops

app_name = "ops"
urlpatterns = [
    path("healthz", ops.healthz, name="healthz"),
    path("readyz", ops.readyz, name="readyz"),
    path("metrics", ops.metrics, name="metrics"),
]
