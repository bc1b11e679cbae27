"""Anomaly alerts: the robust weekday baseline, the recorded evidence, the e-mail and the screens."""

from __future__ import annotations

import datetime as dt

import pytest
from click.testing import CliRunner
from django.urls import reverse

from zaplecze.reports.anomalies import check_day, describe, evaluate
from zaplecze.reports.models import Anomaly
from zaplecze.service.models import OutboxEmail

pytestmark = pytest.mark.django_db
WAW = dt.timezone(dt.timedelta(hours=1))
DAY = dt.date(2026, 11, 23)  # a Monday


def test_evaluate_flags_a_drop_and_ignores_normal_noise():
    history = {
        DAY - dt.timedelta(weeks=w): v
        for w, v in zip(range(1, 9), [20, 22, 19, 21, 40, 20, 18, 23], strict=True)
    }
    # one odd week (40) does not move the median; 20 +- noise is normal, 3 is a drop
    assert evaluate(history | {DAY: 21}, DAY)["anomaly"] is False
    drop = evaluate(history | {DAY: 3}, DAY)
    assert drop["anomaly"] is True and drop["expected"] == 20.5 and drop["score"] < -3.5
    assert len(drop["baseline_days"]) == 8 and drop["baseline_days"][0] == "2026-11-16"


def test_too_little_history_is_no_verdict():
    assert evaluate({DAY - dt.timedelta(weeks=1): 5, DAY: 0}, DAY) is None


def test_a_flat_history_does_not_make_every_wiggle_an_anomaly():
    flat = {DAY - dt.timedelta(weeks=w): 10 for w in range(1, 9)}
    assert evaluate(flat | {DAY: 13}, DAY)["anomaly"] is False  # floor: 10 % of the median, at least 1
    assert evaluate(flat | {DAY: 16}, DAY)["anomaly"] is True


@pytest.fixture
def mondays(ingest, product_factory, make_user):
    """Five orders every Monday for 8 weeks, none on DAY; an organiser with an e-mail address."""
    product_factory(sku="SKU-0001", stock=500)
    n = 0
    for w in range(1, 9):
        for i in range(5):
            n += 1
            when = dt.datetime.combine(DAY - dt.timedelta(weeks=w), dt.time(9 + i), tzinfo=WAW)
            ingest(external_id=str(n), number=f"#{n}", placed_at=when.isoformat())
    user = make_user("organiser", "ola")
    user.email, user.language = "ola@example.com", "en"  # staff e-mails go out in the user's language
    user.save()


def test_check_day_records_the_evidence_once_and_emails_the_organiser(mondays):
    found = check_day(DAY)
    assert {a.metric for a in found} == {"orders", "revenue_gross"}
    orders = Anomaly.objects.get(metric="orders")
    assert (orders.value, orders.expected, orders.direction) == (0, 5, "down")
    assert "well below the 5 expected" in describe(orders)
    mail = OutboxEmail.objects.get(kind="anomaly_alert")
    assert mail.to == "ola@example.com" and "Unusual sales on 2026-11-23" in mail.subject
    assert check_day(DAY) == []  # recorded once
    assert OutboxEmail.objects.filter(kind="anomaly_alert").count() == 1


def test_alerts_page_dismiss_and_cli(admin_client, mondays):
    from zaplecze.cli import main

    out = CliRunner().invoke(main, ["anomalies", "--day", DAY.isoformat(), "--json"])
    assert out.exit_code == 0, out.output
    assert '"metric": "orders"' in out.output
    page = admin_client.get(reverse("reports:alerts"))
    assert page.status_code == 200 and "well below" in page.content.decode()
    a = Anomaly.objects.get(metric="orders")
    r = admin_client.post(reverse("reports:alert_dismiss", args=[a.pk]), {"note": "holiday"})
    assert r.status_code == 302
    a.refresh_from_db()
    assert (a.state, a.note) == ("dismissed", "holiday")
