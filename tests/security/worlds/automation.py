"""URL parameters of order automation for the security walk: one rule."""

from __future__ import annotations


def build(world) -> dict:
    from zaplecze.orders.automation_services import rule_create

    rule = rule_create(
        name="Security walk rule",
        trigger="order_created",
        conditions=[{"type": "channel", "channels": ["shop"]}],
        actions=[{"type": "add_tag", "tag": "walk"}],
        actor=None,
    )
    return {"rule_id": rule.pk}
