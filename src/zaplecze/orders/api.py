"""Orders API (thin: validation and orchestration only; writes go through services)."""

from __future__ import annotations

from ninja import Router

from zaplecze.api.permissions import allow

router = Router()


@router.get("/ping", response=dict)
@allow("orders.view")
def ping(request):
    return {"ok": True}
