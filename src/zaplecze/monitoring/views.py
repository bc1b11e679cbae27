"""Screens of monitoring."""

from __future__ import annotations

from django.shortcuts import render

from zaplecze.core.access import require


@require("monitoring.view")
def index(request):
    return render(request, "monitoring/index.html", {})
