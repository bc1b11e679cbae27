"""Purchasing API (mounted at /api/v1/purchasing)."""

from ninja import Router

router = Router()
