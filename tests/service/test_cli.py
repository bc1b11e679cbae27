"""`zaplecze service deadlines | run-deadlines | send-outbox`: thin doors over the same selectors/services."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from click.testing import CliRunner

from zaplecze.service import services
from zaplecze.service.models import Return

from .conftest import at

pytestmark = pytest.mark.django_db


def _cli(*args):
    from zaplecze.cli import main

    return CliRunner().invoke(main, ["service", *args], catch_exceptions=False)


def test_deadlines_json_lists_due_and_overdue_cases(delivered_order, staff):
    order = delivered_order()
    a, b = order.lines.order_by("id")
    r1 = services.return_request(order_id=order.pk, lines={a.pk: 1}, actor=staff)
    r2 = services.return_request(order_id=order.pk, lines={b.pk: 1}, actor=staff)
    Return.objects.filter(pk=r1.pk).update(refund_due=dt.date(2026, 3, 9))
    Return.objects.filter(pk=r2.pk).update(refund_due=dt.date(2026, 3, 10))
    c = services.complaint_create(
        order_line_id=a.pk, defect="x", requested_remedy="repair", actor=staff, received_at=at(2026, 2, 20)
    )
    result = _cli("deadlines", "--date", "2026-03-10", "--json")
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert data["today"] == "2026-03-10"
    assert [(r["number"], r["overdue"], r["held"]) for r in data["returns"]] == [
        (r1.number, True, True),
        (r2.number, False, True),
    ]
    assert [(x["number"], x["response_due"], x["overdue"]) for x in data["complaints"]] == [
        (c.number, "2026-03-06", True)
    ]


def test_run_deadlines_deems_unanswered_complaints_accepted(delivered_order, staff):
    order = delivered_order()
    c = services.complaint_create(
        order_line_id=order.lines.first().pk,
        defect="x",
        requested_remedy="repair",
        actor=staff,
        received_at=at(2026, 2, 20),
    )
    result = _cli("run-deadlines", "--date", "2026-03-09")
    assert json.loads(result.output) == {"escalated": [c.pk], "deemed_accepted": [c.pk]}
    c.refresh_from_db()
    assert c.state == "deemed_accepted"


def test_send_outbox_sends_due_emails(delivered_order, staff):
    from django.core import mail

    order = delivered_order()
    services.return_request(order_id=order.pk, lines={order.lines.first().pk: 1}, actor=staff)
    result = _cli("send-outbox")
    assert json.loads(result.output) == {"emails_sent": 1, "refunds_handed_over": 0}
    assert len(mail.outbox) == 1
