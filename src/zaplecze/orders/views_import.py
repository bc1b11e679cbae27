"""CSV/XLSX order import screen: upload -> background job -> progress -> per-row report."""

from __future__ import annotations

from django.http import HttpResponse

from zaplecze.core.access import require


@require("orders.import")
def upload(request):  # replaced by the import pipeline work
    return HttpResponse("not yet", status=501)
