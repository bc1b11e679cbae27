"""URL parameters of Today: one open exception (the world's order, late) and an action name."""

from __future__ import annotations


def build(world) -> dict:
    import datetime as dt

    from zaplecze.today.models import OpsException

    exc = OpsException.objects.create(
        kind="orders.late", area="orders", subject_type="order", subject_id=world.order.pk,
        label=f"Order {world.order.number}", why="late", due_at=dt.datetime(2026, 11, 21, tzinfo=dt.UTC),
        owner_role="warehouse",
    )  # fmt: skip
    return {"exception_id": exc.pk, "action": "none"}
