"""promotions API (mounted at /api/v1/promotions)."""

from ninja import Router

router = Router()
