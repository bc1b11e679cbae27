"""Two workers ticking at the same moment, on PostgreSQL with real threads: every due check is claimed by
exactly one of them (conditional update on next_run_at), and concurrent failures open one incident."""

from __future__ import annotations

import datetime as dt
import threading

import pytest

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)


def _together(n: int, fn) -> list:
    from django.db import connection as db

    barrier = threading.Barrier(n)
    out: list = []
    lock = threading.Lock()

    def run():
        try:
            barrier.wait()
            value = fn()
            with lock:
                out.append(value)
        finally:
            db.close()

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def test_concurrent_ticks_claim_each_due_check_once():
    from zaplecze.monitoring import services
    from zaplecze.monitoring.models import StorefrontCheck

    ids = [
        services.check_create(values={"name": f"P{i}", "url": f"https://p{i}.example/"}, actor=None).pk
        for i in range(12)
    ]
    StorefrontCheck.objects.update(next_run_at=NOW)
    claims = _together(
        4, lambda: [c.pk for c in services.checks_claim_due(now=NOW + dt.timedelta(seconds=1))]
    )
    claimed = [pk for batch in claims for pk in batch]
    assert sorted(claimed) == sorted(ids)  # each exactly once across the four workers


def test_concurrent_failures_open_one_incident():
    from zaplecze.monitoring import services
    from zaplecze.monitoring.models import CheckResult, Incident
    from zaplecze.monitoring.probe import ProbeResult

    check = services.check_create(
        values={"name": "Home", "url": "https://home.example/", "confirm_failures": 2}, actor=None
    )
    _together(
        6,
        lambda: services.result_record(
            check_id=check.pk, outcome=ProbeResult(ok=False, error="HTTP 500, expected 200"), at=NOW
        ),
    )
    assert CheckResult.objects.filter(check_ref=check).count() == 6
    incident = Incident.objects.get()
    assert (incident.state, incident.failures) == ("open", 6)
    check.refresh_from_db()
    assert (check.consecutive_failures, check.state) == (6, "down")
