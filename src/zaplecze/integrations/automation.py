"""Automation actions offered by integrations (registered at "automation.action"): send an order's status
or tracking number back to its shop. The call to the platform runs in the worker after the rule's
transaction commits (never inside it); both are idempotent (a status PUT; tracking sent once per number)."""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from zaplecze.core import extensions
from zaplecze.orders.automation import ACTION_POINT, ActionContext, ActionType

from .models import Connection


def _connected(ctx: ActionContext) -> bool:
    return Connection.objects.filter(channel_id=ctx.order.channel_id, enabled=True).exists()


def action_push_status(ctx: ActionContext, params: dict) -> str:
    from .tasks import order_push_status_task

    if not _connected(ctx):
        return _("channel has no connection: nothing sent")
    order_id = ctx.order.pk
    transaction.on_commit(lambda: order_push_status_task(order_id))
    return _("status queued for the shop")


def action_push_tracking(ctx: ActionContext, params: dict) -> str:
    from .tasks import order_push_tracking_task

    if not _connected(ctx):
        return _("channel has no connection: nothing sent")
    order_id = ctx.order.pk
    transaction.on_commit(lambda: order_push_tracking_task(order_id))
    return _("tracking queued for the shop")


PUSH_STATUS = ActionType(
    "channel_push_status", gettext_lazy("Send the status to the shop"), (), action_push_status
)
PUSH_TRACKING = ActionType(
    "channel_push_tracking", gettext_lazy("Send the tracking number to the shop"), (), action_push_tracking
)


def register() -> None:
    extensions.register(ACTION_POINT, PUSH_STATUS.code, PUSH_STATUS)
    extensions.register(ACTION_POINT, PUSH_TRACKING.code, PUSH_TRACKING)
