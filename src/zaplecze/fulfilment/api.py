"""Fulfilment API (mounted at /api/v1/fulfilment)."""

from ninja import Router

router = Router()
