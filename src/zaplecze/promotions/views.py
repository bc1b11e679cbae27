"""Screens of promotions."""

from __future__ import annotations

from django.shortcuts import render

from zaplecze.core.access import require


@require("promotions.view")
def index(request):
    return render(request, "promotions/index.html", {})
