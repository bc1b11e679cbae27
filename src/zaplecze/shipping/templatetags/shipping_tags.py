from __future__ import annotations

from django import template

register = template.Library()

COLOURS = {
    "created": "#6b7280",
    "label_ready": "#2563eb",
    "handed_over": "#0891b2",
    "in_transit": "#0891b2",
    "out_for_delivery": "#7c3aed",
    "ready_for_pickup": "#7c3aed",
    "delivered": "#059669",
    "returned": "#b45309",
    "exception": "#dc2626",
    "cancelled": "#9ca3af",
}


@register.filter
def status_colour(status: str) -> str:
    return COLOURS.get(status, "#6b7280")
