from __future__ import annotations

from django import template

register = template.Library()

_COLOURS = {
    "requested": "#3b82f6",
    "received": "#8b5cf6",
    "accepted": "#10b981",
    "rejected": "#ef4444",
    "refunded": "#0ea5e9",
    "closed": "#6b7280",
    "deemed_accepted": "#f59e0b",
    "resolved": "#14b8a6",
    "pending": "#f59e0b",
    "processing": "#8b5cf6",
    "awaiting_confirmation": "#f97316",
    "done": "#10b981",
    "failed": "#ef4444",
    "sending": "#8b5cf6",
    "sent": "#10b981",
}


@register.filter
def state_colour(state: str) -> str:
    return _COLOURS.get(state, "#6b7280")


@register.filter
def days_left(due, today) -> int | None:
    """Days from `today` until `due` (negative when overdue)."""
    if not due or not today:
        return None
    return (due - today).days


@register.filter
def state_change(event) -> str:
    """ "Requested → Accepted" for a case event, with the labels of the case's own states."""
    from zaplecze.service.models import ComplaintState, ReturnState

    labels = dict(ReturnState.choices if event.return_case_id else ComplaintState.choices)
    parts = [str(labels.get(s, s)) for s in (event.from_state, event.to_state) if s]
    return " → ".join(parts)
