"""Storefront checks (HTTP probes of the shop's own pages), their results and incidents."""

from __future__ import annotations
