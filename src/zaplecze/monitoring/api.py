"""monitoring API (mounted at /api/v1/monitoring)."""

from ninja import Router

router = Router()
