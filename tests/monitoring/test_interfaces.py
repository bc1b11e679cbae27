"""The Shop health pages, the API and the `zaplecze monitor` command: the same services behind each door."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from click.testing import CliRunner
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from zaplecze.cli import main
from zaplecze.core.services import token_create
from zaplecze.monitoring import services
from zaplecze.monitoring.models import CheckResult, Incident, StorefrontCheck
from zaplecze.monitoring.probe import ProbeResult
from zaplecze.service.models import Ticket

pytestmark = pytest.mark.django_db


def make_check(url: str, name: str = "Strona główna", **values) -> StorefrontCheck:
    return services.check_create(values={"name": name, "url": url, "kind": "home", **values}, actor=None)


def fail(check):
    return ProbeResult(ok=False, status_code=500, response_ms=30, error="HTTP 500, expected 200")


@pytest.fixture
def organiser_client(make_user):
    client = Client()
    client.force_login(make_user("organiser"))
    return client


@pytest.fixture
def api(make_user):
    return Client(HTTP_AUTHORIZATION=f"Bearer {token_create(user=make_user('organiser', 'api-org'))}")


# --- pages ---------------------------------------------------------------------------------------------


def test_list_shows_state_uptime_and_tls_with_a_fixed_number_of_queries(organiser_client, shop):
    check = make_check(shop.url + "/", expected_text="Witamy", confirm_failures=5)
    now = timezone.now()
    for minutes in (30, 20, 10):
        services.result_record(check_id=check.pk, outcome=fail(check), at=now - dt.timedelta(minutes=minutes))
    services.check_run(check_id=check.pk)
    url = reverse("monitoring:index")
    organiser_client.get(url)  # warm up (session, user)
    with CaptureQueriesContext(connection) as one:
        page = organiser_client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert f'data-check-id="{check.pk}" data-state="up"' in html
    assert '<td class="num" data-uptime="24h"><span class="flag">25.00 %</span></td>' in html
    for i in range(5):
        make_check(f"https://s{i}.example/", name=f"S{i}")
    with CaptureQueriesContext(connection) as many:
        organiser_client.get(url)
    assert len(many) == len(one)


def test_check_page_has_both_charts_results_and_incidents(organiser_client):
    check = make_check("https://shop.example.pl/", confirm_failures=1)
    services.check_run(check_id=check.pk, probe_fn=fail)
    for window in ("24h", "7d", "30d"):
        page = organiser_client.get(reverse("monitoring:check", args=[check.pk]) + f"?window={window}")
        assert page.status_code == 200
        html = page.content.decode()
        assert 'id="chart-response"' in html and 'id="chart-uptime"' in html
        assert "vega-lite" in html  # the Altair spec's $schema
    assert 'data-ok="0"' in html
    assert "HTTP 500, expected 200" in html
    assert "Open IT ticket" in html
    assert organiser_client.get(reverse("monitoring:check", args=[999999])).status_code == 404


def test_readonly_sees_but_cannot_change(make_user):
    check = make_check("https://shop.example.pl/")
    client = Client()
    client.force_login(make_user("readonly"))
    page = client.get(reverse("monitoring:check", args=[check.pk]))
    assert page.status_code == 200
    assert "Run now" not in page.content.decode()
    assert client.post(reverse("monitoring:check_run", args=[check.pk])).status_code == 403
    assert client.post(reverse("monitoring:check_delete", args=[check.pk])).status_code == 403
    assert CheckResult.objects.count() == 0
    assert StorefrontCheck.objects.count() == 1


def test_create_edit_run_delete_from_the_pages(organiser_client, shop):
    new = reverse("monitoring:check_new")
    bad = organiser_client.post(new, {"name": "Koszyk", "url": "ftp://x", "kind": "cart", "expected_status": 200,
                                      "interval_minutes": 0, "timeout_seconds": 10, "confirm_failures": 2,
                                      "tls_warning_days": 14, "enabled": "on"})  # fmt: skip
    assert bad.status_code == 200
    assert "Only http:// and https:// addresses can be checked (got ftp)." in bad.content.decode()
    assert StorefrontCheck.objects.count() == 0
    data = {"name": "Koszyk", "url": shop.url + "/", "kind": "cart", "expected_text": "Witamy", "expected_status": 200,
            "interval_minutes": 1, "timeout_seconds": 5, "confirm_failures": 2, "tls_warning_days": 14,
            "enabled": "on", "verify_tls": "on"}  # fmt: skip
    response = organiser_client.post(new, data)
    check = StorefrontCheck.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "monitoring:check", args=[check.pk]
    )
    assert (check.kind, check.interval_minutes, check.expected_text) == ("cart", 1, "Witamy")

    edit = organiser_client.post(
        reverse("monitoring:check_edit", args=[check.pk]), {**data, "interval_minutes": 1441}
    )
    assert "The interval must be a whole number from 1 to 1440." in edit.content.decode()
    organiser_client.post(reverse("monitoring:check_edit", args=[check.pk]), {**data, "interval_minutes": 15})
    check.refresh_from_db()
    assert check.interval_minutes == 15

    organiser_client.post(reverse("monitoring:check_run", args=[check.pk]))
    result = CheckResult.objects.get()
    assert (result.ok, result.status_code) == (True, 200)

    confirm = organiser_client.get(reverse("monitoring:check_delete", args=[check.pk]))
    assert "Delete the check Koszyk?" in confirm.content.decode()
    organiser_client.post(reverse("monitoring:check_delete", args=[check.pk]))
    assert StorefrontCheck.objects.count() == 0 and CheckResult.objects.count() == 0


def test_ticket_and_close_from_the_incidents_page(organiser_client):
    check = make_check("https://shop.example.pl/", confirm_failures=1)
    services.check_run(check_id=check.pk, probe_fn=fail)
    other = make_check("https://shop.example.pl/koszyk", name="Koszyk", confirm_failures=1)
    services.check_run(check_id=other.pk, probe_fn=fail)
    services.check_run(
        check_id=other.pk, probe_fn=lambda c: ProbeResult(ok=True, status_code=200, response_ms=5)
    )
    incident = Incident.objects.get(check_ref=check)

    listing = organiser_client.get(reverse("monitoring:incidents")).content.decode()
    ids = [int(part.split('"')[0]) for part in listing.split('data-incident-id="')[1:]]
    assert ids[0] == incident.pk  # open first
    only_open = organiser_client.get(reverse("monitoring:incidents") + "?state=open").content.decode()
    assert only_open.count("data-incident-id=") == 1
    by_check = organiser_client.get(reverse("monitoring:incidents") + f"?check={other.pk}").content.decode()
    assert by_check.count("data-incident-id=") == 1 and 'data-state="closed"' in by_check

    back = reverse("monitoring:incidents")
    response = organiser_client.post(
        reverse("monitoring:incident_ticket", args=[incident.pk]), {"next": back}
    )
    assert response["Location"] == back
    ticket = Ticket.objects.get()
    incident.refresh_from_db()
    assert (incident.ticket_id, ticket.queue) == (ticket.pk, "it")
    assert f'href="/service/tickets/{ticket.pk}/"' in organiser_client.get(back).content.decode()

    organiser_client.post(reverse("monitoring:incident_close", args=[incident.pk]), {"note": "fixed"})
    incident.refresh_from_db()
    assert (incident.state, incident.close_note) == ("closed", "fixed")


# --- API -----------------------------------------------------------------------------------------------


def test_api_crud_run_results_incidents_and_ticket(api, shop):
    created = api.post(
        "/api/v1/monitoring/checks",
        {"name": "Produkt", "url": shop.url + "/flaky", "kind": "product", "interval_minutes": 1},
        content_type="application/json",
    )
    assert created.status_code == 201, created.content
    body = created.json()
    check_id = body["id"]
    assert (body["state"], body["confirm_failures"], body["uptime"]) == (
        "pending",
        2,
        {"24h": None, "7d": None, "30d": None},
    )

    run = api.post(f"/api/v1/monitoring/checks/{check_id}/run")
    assert run.status_code == 200
    assert (run.json()["ok"], run.json()["status_code"], run.json()["check_id"]) == (True, 200, check_id)

    shop.flaky_status = 502
    api.post(f"/api/v1/monitoring/checks/{check_id}/run")
    api.post(f"/api/v1/monitoring/checks/{check_id}/run")
    detail = api.get(f"/api/v1/monitoring/checks/{check_id}").json()
    assert (detail["state"], detail["uptime"]["24h"]) == ("down", "33.33")

    results = api.get(f"/api/v1/monitoring/checks/{check_id}/results?failed=true").json()
    assert [r["error"] for r in results] == ["HTTP 502, expected 200"] * 2
    incidents = api.get("/api/v1/monitoring/incidents?state=open").json()
    assert [(i["check_id"], i["kind"], i["failures"]) for i in incidents] == [(check_id, "down", 2)]

    ticket = api.post(f"/api/v1/monitoring/incidents/{incidents[0]['id']}/ticket")
    assert ticket.status_code == 200 and ticket.json()["ticket_id"] == Ticket.objects.get().pk
    again = api.post(f"/api/v1/monitoring/incidents/{incidents[0]['id']}/ticket")
    assert (again.status_code, again.json()["code"]) == (409, "conflict")

    patched = api.patch(
        f"/api/v1/monitoring/checks/{check_id}", {"enabled": False}, content_type="application/json"
    )
    assert (patched.status_code, patched.json()["state"]) == (200, "paused")
    assert api.get("/api/v1/monitoring/incidents?state=open").json() == []

    assert api.delete(f"/api/v1/monitoring/checks/{check_id}").status_code == 204
    assert api.get(f"/api/v1/monitoring/checks/{check_id}").status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "X", "url": "javascript:alert(1)"}, "url"),
        ({"name": "X", "url": "https://shop.example.pl/", "interval_minutes": 0}, "interval_minutes"),
        ({"name": "X", "url": "https://shop.example.pl/", "expected_status": 600}, "expected_status"),
        ({"name": "", "url": "https://shop.example.pl/"}, "name"),
    ],
)
def test_api_bad_input_is_a_400_naming_the_field(api, body, field):
    response = api.post("/api/v1/monitoring/checks", body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["field"] == field
    assert StorefrontCheck.objects.count() == 0


def test_api_refuses_unknown_fields(api):
    response = api.post(
        "/api/v1/monitoring/checks",
        {"name": "X", "url": "https://shop.example.pl/", "state": "up"},
        content_type="application/json",
    )
    assert response.status_code == 422
    assert StorefrontCheck.objects.count() == 0


def test_api_readonly_cannot_create(make_user):
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token_create(user=make_user('readonly'))}")
    assert client.get("/api/v1/monitoring/checks").status_code == 200
    denied = client.post(
        "/api/v1/monitoring/checks",
        {"name": "X", "url": "https://a.example/"},
        content_type="application/json",
    )
    assert denied.status_code == 403
    assert StorefrontCheck.objects.count() == 0


# --- CLI -----------------------------------------------------------------------------------------------


def test_cli_list_run_and_incidents(shop):
    good = make_check(shop.url + "/", name="Home", expected_text="Witamy")
    bad = make_check(shop.url + "/status/500", name="Checkout", kind="checkout", confirm_failures=1)
    runner = CliRunner()

    one = runner.invoke(main, ["monitor", "run", "--check", str(good.pk), "--json"])
    assert one.exit_code == 0, one.output
    assert [(r["check_id"], r["ok"], r["status_code"]) for r in json.loads(one.stdout)] == [
        (good.pk, True, 200)
    ]

    due = runner.invoke(main, ["monitor", "run", "--json"])  # both are due (new checks run at once)
    assert due.exit_code == 1
    assert sorted((r["name"], r["ok"]) for r in json.loads(due.stdout)) == [
        ("Checkout", False),
        ("Home", True),
    ]
    assert runner.invoke(main, ["monitor", "run"]).output.strip() == "No check was due."

    listing = runner.invoke(main, ["monitor", "list", "--json"])
    rows = {r["name"]: r for r in json.loads(listing.stdout)}
    assert rows["Home"]["uptime"]["24h"] == 100.0 and rows["Checkout"]["state"] == "down"
    text = runner.invoke(main, ["monitor", "list"]).output
    assert "Checkout" in text and "down" in text

    incidents = runner.invoke(main, ["monitor", "incidents", "--open", "--json"])
    assert [(i["check_id"], i["state"], i["cause"]) for i in json.loads(incidents.stdout)] == [
        (bad.pk, "open", "HTTP 500, expected 200")
    ]
    missing = runner.invoke(main, ["monitor", "run", "--check", "999999"])
    assert missing.exit_code == 2 and "no check 999999" in missing.output
