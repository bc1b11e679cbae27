"""Exceptions of customer service for the Today page (see `core/today.py`).

* complaint answer due: a complaint without a reply whose statutory answer date is within `WARN_DAYS` (a
  consumer complaint not answered in 14 days counts as accepted);
* refund due: a return whose refund must go out within `WARN_DAYS` (14 days from the withdrawal, or from
  the goods or proof of sending coming back);
* ticket SLA breached: an open ticket past its first-response or resolution target (business hours).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop

from zaplecze.core import today
from zaplecze.core.businesstime import local_date, tz

from .models import RETURN_OPEN_STATES, TICKET_OPEN_STATUSES, Complaint, ComplaintState, Return, Ticket

WARN_DAYS = 2


def _end_of(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(23, 59), tzinfo=tz())


def _severity(due: dt.date, today_: dt.date) -> str:
    return "critical" if due < today_ else ("high" if due == today_ else "normal")


def detect_complaints(*, now: dt.datetime, ids: list[int] | None = None) -> Iterable[today.Found]:
    day = local_date(now)
    qs = Complaint.objects.filter(
        state=ComplaintState.RECEIVED,
        responded_at__isnull=True,
        response_due__lte=day + dt.timedelta(WARN_DAYS),
    ).order_by()
    if ids is not None:
        qs = qs.filter(pk__in=ids)
    for pk, due, order_number in qs.values_list("pk", "response_due", "order__number"):
        number = f"C-{pk:06d}"
        yield today.Found(
            subject_id=pk,
            label=(
                gettext_noop("Complaint %(number)s (order %(order)s)"),
                {"number": number, "order": order_number},
            ),
            why=(gettext_noop("The answer is due by %(day)s."), {"day": due.isoformat()}),
            url=reverse("service:complaint", args=[pk]),
            due_at=_end_of(due),
            severity=_severity(due, day),
        )


def detect_refunds(*, now: dt.datetime, ids: list[int] | None = None) -> Iterable[today.Found]:
    day = local_date(now)
    qs = Return.objects.filter(
        state__in=RETURN_OPEN_STATES, refund_due__lte=day + dt.timedelta(WARN_DAYS)
    ).order_by()
    if ids is not None:
        qs = qs.filter(pk__in=ids)
    rows = qs.values_list("pk", "refund_due", "order__number", "goods_received_at", "proof_of_sending_at")
    for pk, due, order_number, received, proof in rows:
        number = f"R-{pk:06d}"
        held = received is None and proof is None
        why = (
            gettext_noop("The refund is due by %(day)s; the goods have not come back yet (it may be held).")
            if held
            else gettext_noop("The refund is due by %(day)s.")
        )
        yield today.Found(
            subject_id=pk,
            label=(
                gettext_noop("Return %(number)s (order %(order)s)"),
                {"number": number, "order": order_number},
            ),
            why=(why, {"day": due.isoformat()}),
            url=reverse("service:return", args=[pk]),
            due_at=_end_of(due),
            severity="normal" if held else _severity(due, day),
        )


def detect_tickets(*, now: dt.datetime, ids: list[int] | None = None) -> Iterable[today.Found]:
    from .selectors import sla_status

    qs = Ticket.objects.filter(status__in=TICKET_OPEN_STATUSES, sla_since__isnull=False)
    if ids is not None:
        qs = qs.filter(pk__in=ids)
    for t in qs.only(
        "pk", "subject", "priority", "sla_seconds", "sla_since", "first_response_at", "first_response_sla_seconds",
        "resolution_sla_seconds", "status",
    ).iterator(chunk_size=2000):  # fmt: skip
        sla = sla_status(t, now)
        if not sla["breached"]:
            continue
        first = sla["first_response_breached"] and t.first_response_at is None
        yield today.Found(
            subject_id=t.pk,
            label=(
                gettext_noop("Ticket %(number)s: %(subject)s"),
                {"number": t.number, "subject": t.subject[:80]},
            ),
            why=(
                gettext_noop("No first reply within the target time.")
                if first
                else gettext_noop("Not solved within the target time."),
                {},
            ),
            url=reverse("service:ticket", args=[t.pk]),
            due_at=now,
            severity="high" if t.priority in ("high", "urgent") else "normal",
        )


today.register(
    today.Kind(
        code="service.complaint_due",
        area="service",
        label=_("Complaint answer due"),
        subject_type="complaint",
        detect=detect_complaints,
        severity="high",
        owner_role="service",
        permission="service.view",
    )
)
today.register(
    today.Kind(
        code="service.refund_due",
        area="service",
        label=_("Refund due"),
        subject_type="return",
        detect=detect_refunds,
        severity="high",
        owner_role="service",
        permission="service.view",
    )
)
today.register(
    today.Kind(
        code="service.ticket_sla",
        area="service",
        label=_("Ticket past its SLA"),
        subject_type="ticket",
        detect=detect_tickets,
        owner_role="service",
        permission="service.view",
    )
)
