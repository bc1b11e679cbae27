"""Reads for the mailbox status screen: where each message source stands, and what became of its messages.

A mailbox is healthy when its last run ended without an error and that run is recent (the worker fetches
every minute); it is failing when the last run ended with an error; and it is stale when nothing ran for
`STALE_AFTER` (the worker is down, or the mailbox was configured and never read)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from .models import InboundMail, InboundMailOutcome, MailboxState

STALE_AFTER = dt.timedelta(minutes=15)
PAGE = 100


@dataclass
class MailboxStatus:
    state: MailboxState
    health: str  # ok, failing, stale, running
    outcomes_7d: dict[str, int]


def _health(state: MailboxState, now: dt.datetime) -> str:
    if state.running_since and now - state.running_since < STALE_AFTER:
        return "running"
    if state.last_error and (
        state.last_ok_at is None or state.last_run_at and state.last_run_at > state.last_ok_at
    ):
        return "failing"
    if state.last_run_at is None or now - state.last_run_at > STALE_AFTER:
        return "stale"
    return "ok"


def mailboxes(*, now: dt.datetime | None = None) -> list[MailboxStatus]:
    now = now or timezone.now()
    since = now - dt.timedelta(days=7)
    counts: dict[int, dict[str, int]] = {}
    rows = (
        InboundMail.objects.filter(received_at__gte=since)
        .values("mailbox_id", "outcome")
        .annotate(n=Count("id"))
        .order_by()
    )
    for r in rows:
        counts.setdefault(r["mailbox_id"], {})[r["outcome"]] = r["n"]
    return [
        MailboxStatus(state=s, health=_health(s, now), outcomes_7d=counts.get(s.pk, {}))
        for s in MailboxState.objects.order_by("key")
    ]


def configured() -> bool:
    return bool(getattr(settings, "IMAP_HOST", ""))


def inbound_messages(
    *, outcome: str = "", mailbox_id: int | None = None, q: str = "", before: int | None = None
) -> tuple[list[InboundMail], int | None]:
    """Messages newest first, a page at a time (keyset on id); returns the page and the next cursor."""
    qs: QuerySet[InboundMail] = InboundMail.objects.select_related("mailbox", "ticket").order_by("-id")
    if outcome in InboundMailOutcome.values:
        qs = qs.filter(outcome=outcome)
    elif outcome == "problems":
        qs = qs.filter(outcome__in=[InboundMailOutcome.FAILED, InboundMailOutcome.REFUSED])
    if mailbox_id:
        qs = qs.filter(mailbox_id=mailbox_id)
    if q:
        qs = qs.filter(Q(sender__icontains=q) | Q(subject__icontains=q) | Q(message_id__icontains=q))
    if before:
        qs = qs.filter(id__lt=before)
    page = list(qs[: PAGE + 1])
    more = len(page) > PAGE
    page = page[:PAGE]
    return page, (page[-1].pk if more else None)
