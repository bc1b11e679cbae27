"""Exceptions of shop health for the Today page (see `core/today.py`): an open storefront incident (a
checked page down, or its TLS certificate about to expire). Quick action: open a ticket in the IT queue."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop

from zaplecze.core import today

from .models import Incident, IncidentKind, IncidentState


def detect_incidents(*, now: dt.datetime, ids: list[int] | None = None) -> Iterable[today.Found]:
    qs = Incident.objects.filter(state=IncidentState.OPEN).select_related("check_ref")
    if ids is not None:
        qs = qs.filter(pk__in=ids)
    for inc in qs:
        down = inc.kind == IncidentKind.DOWN
        yield today.Found(
            subject_id=inc.pk,
            label=(gettext_noop("Check %(name)s"), {"name": inc.check_ref.name}),
            why=(
                gettext_noop("Down since %(when)s: %(cause)s")
                if down
                else gettext_noop("TLS certificate expiring (since %(when)s): %(cause)s"),
                {"when": inc.opened_at.isoformat(), "cause": inc.cause},
            ),
            url=reverse("monitoring:check", args=[inc.check_ref_id]),
            due_at=inc.opened_at + (dt.timedelta(minutes=30) if down else dt.timedelta(days=3)),
            severity="critical" if down else "normal",
            data={"ticket": inc.ticket_id},
        )


def _ticket(*, subject_id: int, actor) -> str:
    from django.utils.translation import gettext

    from .services import incident_open_ticket

    incident = incident_open_ticket(incident_id=subject_id, actor=actor)
    return gettext("IT ticket %(number)s opened.") % {"number": incident.ticket.number}


today.register(
    today.Kind(
        code="monitoring.incident",
        area="monitoring",
        label=_("Storefront check failing"),
        subject_type="incident",
        detect=detect_incidents,
        severity="critical",
        permission="monitoring.view",
        every_minutes=1,
        actions=(
            today.QuickAction(
                code="ticket", label=_("Open an IT ticket"), run=_ticket, permission="monitoring.manage"
            ),
        ),
    )
)
