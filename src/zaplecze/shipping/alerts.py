"""Alerts for delivery promises (a service module of shipping): orders that became late against their ship-by
time, or are about to (at risk), are reported once per ship-by time in one digest e-mail to the people who
dispatch orders. The lists themselves are on the shipping "Due" page and in the API."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext as _

from zaplecze.core import extensions
from zaplecze.core.formatting import format_datetime
from zaplecze.core.permissions import Role

from . import selectors
from .models import ShipByAlert

NOTIFY_ROLES = (Role.ADMIN, Role.ORGANISER, Role.WAREHOUSE)
MAX_LISTED = 50


@dataclass
class AlertReport:
    late: list[int] = field(default_factory=list)
    at_risk: list[int] = field(default_factory=list)
    emails: int = 0


def _fresh(qs, kind: str, now: dt.datetime) -> list:
    """The orders of `qs` not yet reported as `kind` for their current ship-by time; marks them reported."""
    reported = ShipByAlert.objects.filter(order=OuterRef("pk"), kind=kind, ship_by=OuterRef("ship_by"))
    orders = list(qs.filter(~Exists(reported)))
    ShipByAlert.objects.bulk_create(
        [ShipByAlert(order=o, kind=kind, ship_by=o.ship_by, at=now) for o in orders], ignore_conflicts=True
    )
    return orders


def _lines(orders: list, heading: str) -> list[str]:
    if not orders:
        return []
    out = ["", heading]
    for o in orders[:MAX_LISTED]:
        out.append(
            f"- {o.number} · {o.channel.name} · " + _("ship by %(t)s") % {"t": format_datetime(o.ship_by)}
        )
    if len(orders) > MAX_LISTED:
        out.append(_("… and %(n)s more") % {"n": len(orders) - MAX_LISTED})
    return out


def ship_by_alerts_send(*, now: dt.datetime | None = None) -> AlertReport:
    """Report orders newly late or at risk (each once per ship-by time) in one digest per person, through the
    registered staff notifier (service's outbox). Run by the worker every 15 minutes."""
    now = now or timezone.now()
    report = AlertReport()
    with transaction.atomic():
        late = _fresh(selectors.orders_late(now), ShipByAlert.Kind.LATE, now)
        at_risk = _fresh(selectors.orders_at_risk(now), ShipByAlert.Kind.AT_RISK, now)
        report.late = [o.pk for o in late]
        report.at_risk = [o.pk for o in at_risk]
        notify = extensions.get("staff.notify", "email")
        if (late or at_risk) and notify is not None:
            key = "ship-by:" + now.strftime("%Y%m%dT%H%M") + f":{len(late)}:{len(at_risk)}"
            report.emails = notify(
                key=key,
                kind="ship_by_alert",
                roles=NOTIFY_ROLES,
                subject=lambda: (
                    _("Orders late: %(late)s, at risk: %(risk)s") % {"late": len(late), "risk": len(at_risk)}
                ),
                body=lambda: "\n".join(
                    [_("These orders have not left the warehouse in time:")]
                    + _lines(late, _("Late (ship-by time passed):"))
                    + _lines(at_risk, _("At risk (due soon):"))
                ),
            )
    return report
