"""URL parameters of the catalog audit: a rule code for /api/v1/catalog/audit/rules/{audit_rule}."""

from __future__ import annotations


def build(world) -> dict:
    return {"audit_rule": "ean_missing"}
