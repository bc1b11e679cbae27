"""Automation rules API (mounted at /api/v1/automation)."""

from ninja import Router

router = Router()
