"""Late / at-risk alerts: each order reported once per ship-by time, in one digest e-mail per person through
the outbox, in the person's language; a new ship-by time is reported again."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from zaplecze.core.models import User
from zaplecze.orders.services import order_edit
from zaplecze.service.models import OutboxEmail
from zaplecze.shipping.alerts import ship_by_alerts_send

WAW = ZoneInfo("Europe/Warsaw")


def _due(order, when):
    order.refresh_from_db()
    order_edit(order_id=order.pk, expected_version=order.version, changes={"ship_by": when}, actor=None)


def test_late_and_at_risk_orders_are_reported_once_per_ship_by(
    db, ingest, product_factory, make_user, django_capture_on_commit_callbacks
):
    product_factory(sku="SKU-0001", stock=50)

    def user(role, username, email, language="pl"):
        u = make_user(role, username)
        User.objects.filter(pk=u.pk).update(email=email, language=language)
        return u

    user("organiser", "org", "org@example.com")
    user("organiser", "org-en", "en@example.com", language="en")
    user("service", "svc", "svc@example.com")  # not told: does not dispatch orders
    user("warehouse", "nomail", "")  # no address: nothing queued
    now = dt.datetime(2025, 12, 22, 12, 0, tzinfo=WAW)
    late, soon, later = (
        ingest(external_id=x, number=f"#{x.upper()}").order for x in ("late", "soon", "later")
    )
    _due(late, now - dt.timedelta(hours=1))
    _due(soon, now + dt.timedelta(hours=2))
    _due(later, now + dt.timedelta(hours=30))

    report = ship_by_alerts_send(now=now)
    assert report.late == [late.pk] and report.at_risk == [soon.pk] and report.emails == 2
    mails = {m.to: m for m in OutboxEmail.objects.filter(kind="ship_by_alert")}
    assert set(mails) == {"org@example.com", "en@example.com"}
    assert late.number in mails["en@example.com"].body and soon.number in mails["en@example.com"].body
    assert later.number not in mails["en@example.com"].body
    assert mails["en@example.com"].subject == "Orders late: 1, at risk: 1"
    assert mails["org@example.com"].subject != mails["en@example.com"].subject  # Polish for the organiser

    # Nothing new: nothing reported, no e-mail.
    again = ship_by_alerts_send(now=now + dt.timedelta(minutes=15))
    assert (again.late, again.at_risk, again.emails) == ([], [], 0)

    # A new promise that is missed again is reported again (as late this time).
    _due(soon, now - dt.timedelta(minutes=5))
    third = ship_by_alerts_send(now=now + dt.timedelta(minutes=30))
    assert third.late == [soon.pk] and third.emails == 2
