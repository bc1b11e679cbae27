"""Storefront checks end to end against a local shop: validation, incidents (open after 2 failures, close on
success, e-mails both times), TLS warnings, IT tickets, uptime, the due-check runner and the roll-up."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest

from zaplecze.core.errors import Conflict, DomainError
from zaplecze.monitoring import selectors, services
from zaplecze.monitoring.models import CheckDay, CheckResult, Incident, StorefrontCheck
from zaplecze.monitoring.probe import ProbeResult
from zaplecze.service.models import OutboxEmail, Ticket

from .conftest import https_shop

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)


def make_check(url: str, **values) -> StorefrontCheck:
    return services.check_create(
        values={"name": "Strona główna", "url": url, "kind": "home", **values}, actor=None
    )


def fixed(ok: bool, ms: int = 100, status: int | None = 200, error: str = "", tls_days=None):
    return lambda check: ProbeResult(
        ok=ok, status_code=status, response_ms=ms, error=error, tls_days=tls_days
    )


# --- validation ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        ({"url": "not a url"}, "url", "The address must not contain spaces."),
        (
            {"url": "shop.example.pl"},
            "url",
            "Only http:// and https:// addresses can be checked (got no scheme).",
        ),
        (
            {"url": "ftp://shop.example.pl/"},
            "url",
            "Only http:// and https:// addresses can be checked (got ftp).",
        ),
        ({"url": "https://"}, "url", "https:// is not a valid address."),
        (
            {"url": "http://shop.example.pl:99999/"},
            "url",
            "http://shop.example.pl:99999/ is not a valid address.",
        ),
        ({"url": ""}, "url", "Enter the address of the page to check."),
        ({"name": "  "}, "name", "Give the check a name."),
        ({"interval_minutes": 0}, "interval_minutes", "The interval must be a whole number from 1 to 1440."),
        (
            {"expected_status": 700},
            "expected_status",
            "The expected status must be a whole number from 100 to 599.",
        ),
        (
            {"expected_status": 99},
            "expected_status",
            "The expected status must be a whole number from 100 to 599.",
        ),
        ({"timeout_seconds": 31}, "timeout_seconds", "The timeout must be a whole number from 1 to 30."),
        (
            {"confirm_failures": 0},
            "confirm_failures",
            "Failures before an incident must be a whole number from 1 to 10.",
        ),
        (
            {"tls_warning_days": -1},
            "tls_warning_days",
            "The TLS warning must be a whole number from 0 to 365.",
        ),
        (
            {"kind": "blog"},
            "kind",
            "Unknown kind blog; choose one of home, category, product, cart, checkout, other.",
        ),
    ],
)
def test_bad_input_names_the_field_and_writes_nothing(values, field, message):
    with pytest.raises(DomainError) as err:
        services.check_create(
            values={"name": "Sklep", "url": "https://shop.example.pl/", **values}, actor=None
        )
    assert (err.value.field, err.value.message) == (field, message)
    assert StorefrontCheck.objects.count() == 0


def test_defaults_and_a_partial_update():
    check = make_check("https://shop.example.pl/")
    assert (check.interval_minutes, check.timeout_seconds, check.expected_status, check.confirm_failures) == (
        5,
        10,
        200,
        2,
    )
    assert (check.state, check.enabled, check.verify_tls, check.tls_warning_days) == (
        "pending",
        True,
        True,
        14,
    )
    services.check_update(
        check_id=check.pk, values={"interval_minutes": 1, "expected_text": "Sklep"}, actor=None
    )
    check.refresh_from_db()
    assert (check.interval_minutes, check.expected_text, check.url) == (
        1,
        "Sklep",
        "https://shop.example.pl/",
    )
    with pytest.raises(DomainError) as err:
        services.check_update(check_id=check.pk, values={"interval_minutes": 0}, actor=None)
    assert err.value.field == "interval_minutes"
    check.refresh_from_db()
    assert check.interval_minutes == 1


# --- incidents -----------------------------------------------------------------------------------------


def test_5xx_opens_an_incident_after_two_failures_and_closes_on_success(shop, staff):
    check = make_check(shop.url + "/flaky", expected_text="Witamy")
    assert services.check_run(check_id=check.pk).ok

    shop.flaky_status = 500
    first = services.check_run(check_id=check.pk)
    check.refresh_from_db()
    assert (first.ok, first.status_code, first.error) == (False, 500, "HTTP 500, expected 200")
    assert (check.state, check.consecutive_failures) == ("failing", 1)
    assert Incident.objects.count() == 0  # one failure is not an outage (no flapping)

    second = services.check_run(check_id=check.pk)
    check.refresh_from_db()
    incident = Incident.objects.get()
    assert (check.state, incident.state, incident.kind, incident.failures) == ("down", "open", "down", 2)
    assert (incident.first_failing_result_id, incident.last_failing_result_id) == (first.pk, second.pk)
    assert incident.opened_at == first.at
    assert incident.cause == "HTTP 500, expected 200"
    assert incident.notified_open_at is not None
    opened = OutboxEmail.objects.filter(kind="monitoring_incident").order_by("to")
    # admin and organiser, each in their own language; the warehouse user is not told.
    assert [(e.to, e.language) for e in opened] == [("ala@example.com", "pl"), ("olek@example.com", "en")]
    english = opened.get(to="olek@example.com")
    assert english.subject == "Shop page down: Strona główna"
    assert "has failed 2 checks in a row" in english.body
    assert f"/monitoring/checks/{check.pk}/" in english.body

    third = services.check_run(check_id=check.pk)  # still failing: same incident, one more failure
    incident.refresh_from_db()
    assert (Incident.objects.count(), incident.failures, incident.last_failing_result_id) == (1, 3, third.pk)
    assert OutboxEmail.objects.filter(kind="monitoring_incident").count() == 2

    shop.flaky_status = 200
    back = services.check_run(check_id=check.pk)
    incident.refresh_from_db()
    check.refresh_from_db()
    assert back.ok
    assert (incident.state, incident.closed_at, check.state, check.consecutive_failures) == (
        "closed",
        back.at,
        "up",
        0,
    )
    assert incident.notified_close_at is not None
    # each in the person's language: select by the outbox key (…:close:<user id>), not the subject
    closed = OutboxEmail.objects.filter(kind="monitoring_incident", key__contains=":close:")
    assert sorted(closed.values_list("to", flat=True)) == ["ala@example.com", "olek@example.com"]
    assert "answers again" in closed.get(to="olek@example.com").body


def test_a_single_blip_opens_nothing_and_confirm_failures_1_opens_at_once():
    check = make_check("https://shop.example.pl/")
    services.check_run(check_id=check.pk, probe_fn=fixed(False, error="HTTP 502, expected 200"))
    services.check_run(check_id=check.pk, probe_fn=fixed(True))
    services.check_run(check_id=check.pk, probe_fn=fixed(False, error="HTTP 502, expected 200"))
    assert Incident.objects.count() == 0
    services.check_update(check_id=check.pk, values={"confirm_failures": 1}, actor=None)
    services.check_run(check_id=check.pk, probe_fn=fixed(False, error="boom"))
    assert Incident.objects.get().cause == "boom"


def test_tls_expiring_soon_is_its_own_warning_incident(tmp_path, staff):
    server, _cert = https_shop(tmp_path, days=5)
    try:
        check = make_check(server.url + "/", verify_tls=False, tls_warning_days=14)
        result = services.check_run(check_id=check.pk)
        check.refresh_from_db()
        assert (result.ok, result.tls_days, check.tls_days_left, check.state) == (True, 5, 5, "warning")
        tls = Incident.objects.get()
        assert (tls.kind, tls.state) == ("tls", "open")
        assert tls.cause.endswith("(5 days left)")
        assert OutboxEmail.objects.filter(kind="monitoring_incident", key__contains=":open:").count() == 2
        assert OutboxEmail.objects.filter(subject="TLS certificate expires soon: Strona główna").count() == 1

        services.check_run(check_id=check.pk)  # still expiring: no second incident, no second e-mail
        assert Incident.objects.count() == 1
        assert OutboxEmail.objects.filter(kind="monitoring_incident").count() == 2

        services.check_update(check_id=check.pk, values={"tls_warning_days": 3}, actor=None)
        services.check_run(check_id=check.pk)
        tls.refresh_from_db()
        check.refresh_from_db()
        assert (tls.state, check.state) == ("closed", "up")
        assert OutboxEmail.objects.filter(kind="monitoring_incident", key__contains=":close:").count() == 2
        assert OutboxEmail.objects.filter(subject="TLS certificate renewed: Strona główna").count() == 1
    finally:
        server.stop()


def test_an_untrusted_certificate_fails_the_check_but_the_days_are_kept(tls_shop):
    check = make_check(tls_shop.url + "/", tls_warning_days=0)
    result = services.check_run(check_id=check.pk)
    check.refresh_from_db()
    assert result.ok is False
    assert result.error.startswith("TLS certificate not trusted")
    assert (result.tls_days, check.tls_days_left, check.state) == (10, 10, "failing")


def test_pausing_closes_open_incidents_quietly():
    check = make_check("https://shop.example.pl/", confirm_failures=1)
    services.check_run(check_id=check.pk, probe_fn=fixed(False, error="down"))
    services.check_update(check_id=check.pk, values={"enabled": False}, actor=None)
    incident = Incident.objects.get()
    check.refresh_from_db()
    assert (incident.state, incident.close_note, check.state, check.next_run_at) == (
        "closed",
        "The check was paused.",
        "paused",
        None,
    )


def test_incident_closed_by_hand_and_not_twice():
    check = make_check("https://shop.example.pl/", confirm_failures=1)
    services.check_run(check_id=check.pk, probe_fn=fixed(False, error="down"))
    incident = Incident.objects.get()
    services.incident_close(incident_id=incident.pk, actor=None, note="planned maintenance")
    incident.refresh_from_db()
    assert (incident.state, incident.close_note) == ("closed", "planned maintenance")
    with pytest.raises(DomainError) as err:
        services.incident_close(incident_id=incident.pk, actor=None)
    assert err.value.code == "illegal_transition"


# --- IT ticket -----------------------------------------------------------------------------------------


def test_a_ticket_in_the_it_queue_from_an_incident(make_user):
    user = make_user("organiser")
    user.email = "olek@example.com"
    user.save(update_fields=["email"])
    check = make_check("https://shop.example.pl/koszyk", kind="cart", confirm_failures=1)
    services.check_run(check_id=check.pk, probe_fn=fixed(False, status=503, error="HTTP 503, expected 200"))
    incident = Incident.objects.get()

    incident = services.incident_open_ticket(incident_id=incident.pk, actor=user)
    ticket = Ticket.objects.get()
    assert incident.ticket_id == ticket.pk
    assert (ticket.queue, ticket.priority, ticket.channel, ticket.tags, ticket.email) == (
        "it",
        "urgent",
        "staff",
        ["monitoring"],
        "olek@example.com",
    )
    assert ticket.subject == "[IT] Shop page down: Strona główna"
    first = ticket.messages.filter(direction="in").get()
    assert "Cause: HTTP 503, expected 200" in first.body
    assert "Address: https://shop.example.pl/koszyk" in first.body

    with pytest.raises(Conflict):
        services.incident_open_ticket(incident_id=incident.pk, actor=user)
    assert Ticket.objects.count() == 1


# --- uptime --------------------------------------------------------------------------------------------


def test_uptime_per_window_is_successful_over_all_results():
    check = make_check("https://shop.example.pl/")
    other = make_check("https://shop.example.pl/koszyk", name="Koszyk")
    plan = [
        (dt.timedelta(hours=1), True),
        (dt.timedelta(hours=2), True),
        (dt.timedelta(hours=3), True),
        (dt.timedelta(hours=23), False),  # 24 h: 3 of 4
        (dt.timedelta(days=3), False),
        (dt.timedelta(days=6), True),  # 7 d: 4 of 6
        (dt.timedelta(days=20), True),
        (dt.timedelta(days=29), True),  # 30 d: 6 of 8
        (dt.timedelta(days=31), False),  # outside every window
    ]
    for ago, ok in plan:
        services.result_record(check_id=check.pk, outcome=ProbeResult(ok=ok, response_ms=50), at=NOW - ago)
    services.result_record(check_id=other.pk, outcome=ProbeResult(ok=False), at=NOW - dt.timedelta(hours=1))
    ups = selectors.uptimes(now=NOW)
    assert {k: str(v) for k, v in ups[check.pk].items()} == {"24h": "75.00", "7d": "66.67", "30d": "75.00"}
    assert {k: str(v) for k, v in ups[other.pk].items()} == {"24h": "0.00", "7d": "0.00", "30d": "0.00"}
    assert str(selectors.uptime(check.pk, since=NOW - dt.timedelta(days=40), until=NOW)) == "66.67"
    fresh = make_check("https://shop.example.pl/nowe", name="Nowa")
    rows = {r.check.pk: r for r in selectors.checks_overview(now=NOW)}
    assert rows[fresh.pk].uptime == {"24h": None, "7d": None, "30d": None}
    daily = selectors.uptime_series(check.pk, window="7d", now=NOW)
    assert [str(p["uptime"]) for p in daily] == ["100.00", "0.00", "0.00", "100.00"]


# --- the runner ----------------------------------------------------------------------------------------


def test_due_checks_run_by_interval_and_are_claimed_once():
    every_minute = make_check("https://a.example/", name="A", interval_minutes=1)
    every_five = make_check("https://b.example/", name="B", interval_minutes=5)
    paused = make_check("https://c.example/", name="C", enabled=False)
    StorefrontCheck.objects.update(next_run_at=NOW)
    StorefrontCheck.objects.filter(pk=paused.pk).update(next_run_at=None)

    ran = services.checks_run_due(now=NOW + dt.timedelta(seconds=3), probe_fn=fixed(True))
    assert sorted(r.check_ref_id for r in ran) == [every_minute.pk, every_five.pk]
    every_minute.refresh_from_db()
    every_five.refresh_from_db()
    assert every_minute.next_run_at == NOW + dt.timedelta(minutes=1)
    assert every_five.next_run_at == NOW + dt.timedelta(minutes=5)
    # The same minute again: nothing is due (claimed); a minute later only A; five minutes later both.
    assert services.checks_run_due(now=NOW + dt.timedelta(seconds=30), probe_fn=fixed(True)) == []
    later = services.checks_run_due(now=NOW + dt.timedelta(minutes=1, seconds=1), probe_fn=fixed(True))
    assert [r.check_ref_id for r in later] == [every_minute.pk]
    assert (
        len(services.checks_run_due(now=NOW + dt.timedelta(minutes=5, seconds=2), probe_fn=fixed(True))) == 2
    )
    assert CheckResult.objects.filter(check_ref=paused).count() == 0


def test_one_crashing_or_slow_check_never_blocks_the_others(shop):
    shop.slow_seconds = 3
    slow = make_check(shop.url + "/slow", name="Slow", timeout_seconds=1)
    fast = [make_check(shop.url + "/", name=f"Fast {i}") for i in range(4)]
    broken = make_check("https://broken.example/", name="Broken")

    def probe_fn(check):
        if check.pk == broken.pk:
            raise RuntimeError("probe bug")
        return services.probe_check(check)

    started = time.monotonic()
    results = services.checks_run(StorefrontCheck.objects.all(), probe_fn=probe_fn, max_workers=3)
    elapsed = time.monotonic() - started
    by_check = {r.check_ref_id: r for r in results}
    assert len(by_check) == 6
    assert all(by_check[c.pk].ok for c in fast)
    assert by_check[slow.pk].error == "timed out after 1 s"
    assert by_check[broken.pk].error == "probe crashed: RuntimeError: probe bug"
    assert elapsed < 2.5  # the slow one ran beside the others, bounded by its 1 s timeout


def test_probes_run_at_most_max_workers_at_once():
    active, peak, lock = [0], [0], threading.Lock()

    def probe_fn(check):
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.05)
        with lock:
            active[0] -= 1
        return ProbeResult(ok=True, response_ms=50)

    checks = [make_check(f"https://s{i}.example/", name=f"S{i}") for i in range(7)]
    results = services.checks_run(checks, probe_fn=probe_fn, max_workers=2)
    assert len(results) == 7
    assert peak[0] == 2


# --- retention -----------------------------------------------------------------------------------------


def test_roll_up_keeps_daily_figures_and_deletes_old_raw_results():
    check = make_check("https://shop.example.pl/")
    old_day = NOW - dt.timedelta(days=40)
    for i, ok in enumerate([True, True, False, True]):
        services.result_record(
            check_id=check.pk,
            outcome=ProbeResult(ok=ok, response_ms=100 * (i + 1)),
            at=old_day + dt.timedelta(minutes=i),
        )
    services.result_record(
        check_id=check.pk, outcome=ProbeResult(ok=True, response_ms=80), at=NOW - dt.timedelta(days=1)
    )
    services.result_record(check_id=check.pk, outcome=ProbeResult(ok=True, response_ms=90), at=NOW)

    out = services.results_roll_up(now=NOW)
    days = list(CheckDay.objects.order_by("day").values_list("day", "checks", "ok", "avg_ms", "max_ms"))
    assert days == [(old_day.date(), 4, 3, 250, 400), ((NOW - dt.timedelta(days=1)).date(), 1, 1, 80, 80)]
    assert out == {"days": 2, "deleted": 4}
    assert CheckResult.objects.count() == 2
    assert services.results_roll_up(now=NOW) == {"days": 1, "deleted": 0}  # idempotent
    assert CheckDay.objects.count() == 2
