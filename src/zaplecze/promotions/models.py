"""Campaigns, their targets, discount codes, pre-launch checks and results."""

from __future__ import annotations
