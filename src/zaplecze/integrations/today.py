"""Exceptions of the shop and marketplace connections for the Today page (see `core/today.py`).

* channel not synced: an enabled connection with no successful sync for `STALE_MINUTES` (or whose keys the
  platform refused);
* sync errors: a connection with records that could not be taken in (kept with their payload, retryable);
* webhook failures: webhook deliveries of the last day that could not be processed, or that were refused for a
  bad signature (a wrong secret in the shop's settings, or someone probing the address).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.db.models import Count, Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop

from zaplecze.core import today

from .models import Connection, ConnectionStatus, SyncError, WebhookDelivery

STALE_MINUTES = 60


def detect_not_synced(*, now: dt.datetime, ids: list[int] | None = None) -> Iterable[today.Found]:
    cutoff = now - dt.timedelta(minutes=STALE_MINUTES)
    qs = Connection.objects.filter(enabled=True).filter(
        Q(status=ConnectionStatus.AUTH_FAILED)
        | Q(last_success_at__lt=cutoff)
        | Q(last_success_at__isnull=True, created_at__lt=cutoff)
    )
    if ids is not None:
        qs = qs.filter(pk__in=ids)
    for c in qs.select_related("channel"):
        refused = c.status == ConnectionStatus.AUTH_FAILED
        if refused:
            why = (gettext_noop("The platform refused the credentials: enter new keys."), {})
        elif c.last_success_at:
            why = (
                gettext_noop("No successful sync since %(when)s."),
                {"when": c.last_success_at.isoformat()},
            )
        else:
            why = (gettext_noop("Never synced since it was connected."), {})
        yield today.Found(
            subject_id=c.pk,
            label=(gettext_noop("Channel %(name)s"), {"name": c.channel.name}),
            why=why,
            url=reverse("integrations:connection", args=[c.pk]),
            due_at=(c.last_success_at or c.created_at) + dt.timedelta(minutes=STALE_MINUTES),
            severity="critical" if refused else "high",
        )


def detect_sync_errors(*, now: dt.datetime, ids: list[int] | None = None) -> Iterable[today.Found]:
    qs = SyncError.objects.filter(state=SyncError.State.OPEN)
    if ids is not None:
        qs = qs.filter(connection_id__in=ids)
    rows = qs.values("connection_id", "connection__channel__name").annotate(n=Count("id")).order_by()
    for r in rows:
        first = SyncError.objects.filter(
            connection_id=r["connection_id"], state=SyncError.State.OPEN
        ).order_by("at")
        oldest = first.values_list("at", flat=True).first()
        yield today.Found(
            subject_id=r["connection_id"],
            label=(gettext_noop("Channel %(name)s"), {"name": r["connection__channel__name"]}),
            why=(
                gettext_noop("%(n)s records could not be taken in (kept with their payload)."),
                {"n": r["n"]},
            ),
            url=reverse("integrations:connection", args=[r["connection_id"]]),
            due_at=oldest + dt.timedelta(hours=4) if oldest else now,
            severity="high" if r["n"] >= 10 else "normal",
            data={"errors": r["n"]},
        )


def detect_webhook_failures(*, now: dt.datetime, ids: list[int] | None = None) -> Iterable[today.Found]:
    since = now - dt.timedelta(days=1)
    failed = dict(
        WebhookDelivery.objects.filter(state=WebhookDelivery.State.FAILED, received_at__gte=since)
        .values_list("connection_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    refused = Connection.objects.filter(last_rejected_at__gte=since)
    conns = Connection.objects.filter(pk__in=set(failed) | set(refused.values_list("pk", flat=True)))
    if ids is not None:
        conns = conns.filter(pk__in=ids)
    for c in conns.select_related("channel"):
        n_failed = failed.get(c.pk, 0)
        rejected = c.last_rejected_at is not None and c.last_rejected_at >= since
        yield today.Found(
            subject_id=c.pk,
            label=(gettext_noop("Channel %(name)s"), {"name": c.channel.name}),
            why=(
                gettext_noop(
                    "%(failed)s webhook deliveries failed in the last day; deliveries with a bad signature were "
                    "refused."
                )
                if rejected
                else gettext_noop("%(failed)s webhook deliveries failed in the last day."),
                {"failed": n_failed},
            ),
            url=reverse("integrations:connection", args=[c.pk]),
            due_at=now + dt.timedelta(hours=4),
            severity="high" if n_failed >= 10 or rejected else "normal",
        )


def _sync_now(*, subject_id: int, actor) -> str:
    from django.utils.translation import gettext

    from .tasks import connection_sync_task

    connection_sync_task(subject_id, "import")
    return gettext("Sync started; the exception goes away when it succeeds.")


today.register(
    today.Kind(
        code="integrations.not_synced",
        area="integrations",
        label=_("Channel not synced"),
        subject_type="connection",
        detect=detect_not_synced,
        severity="high",
        permission="settings.integrations",
        actions=(
            today.QuickAction(
                code="sync", label=_("Sync now"), run=_sync_now, permission="settings.integrations"
            ),
        ),
    )
)
today.register(
    today.Kind(
        code="integrations.sync_errors",
        area="integrations",
        label=_("Records a channel could not take in"),
        subject_type="connection",
        detect=detect_sync_errors,
        permission="settings.integrations",
    )
)
today.register(
    today.Kind(
        code="integrations.webhook_failures",
        area="integrations",
        label=_("Webhook deliveries failing"),
        subject_type="connection",
        detect=detect_webhook_failures,
        permission="settings.integrations",
        every_minutes=15,
    )
)
