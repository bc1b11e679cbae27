"""Analytics API (mounted at /api/v1/analytics)."""

from ninja import Router

router = Router()
