"""Settings -> Automation screens, the /api/v1/automation API and `zaplecze automation` CLI: thin doors into
the same services."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from django.test import Client

from zaplecze.cli import main
from zaplecze.core.services import token_create
from zaplecze.orders.automation_services import rule_create
from zaplecze.orders.models import AutomationRule, AutomationRun, Order

pytestmark = pytest.mark.django_db

BASE = "/orders/settings/automation/"


@pytest.fixture
def order(ingest, product_factory):
    product_factory(sku="SKU-0001", stock=100)
    return ingest().order


@pytest.fixture
def api(make_user):
    def _client(role="admin"):
        user = make_user(role, username=f"api-{role}")
        return Client(HTTP_AUTHORIZATION=f"Bearer {token_create(user=user)}")

    return _client


def my_rule(**kw):
    fields = {
        "name": "Big orders",
        "trigger": "order_created",
        "conditions": [{"type": "total_at_least", "amount": "100"}],
        "actions": [{"type": "add_tag", "tag": "big"}],
        "actor": None,
    }
    fields.update(kw)
    return rule_create(**fields)


# --- UI ------------------------------------------------------------------------------------------------


def test_the_list_shows_rules_in_order_with_their_words_and_switches(
    admin_client, django_assert_max_num_queries
):
    rule = my_rule(enabled=True)
    with django_assert_max_num_queries(12):
        response = admin_client.get(BASE)
    html = response.content.decode()
    assert response.status_code == 200
    assert html.index("Opłacone i wszystko na stanie") < html.index("Big orders")  # defaults first
    assert "Order total (gross) at least: 100.00" in html and "Add tag: big" in html
    assert f'action="{BASE}{rule.pk}/toggle/"' in html
    assert 'href="/orders/settings/automation/"' in html  # the settings tab


def test_toggle_move_and_delete_from_the_list(admin_client):
    rule = my_rule()
    assert admin_client.post(f"{BASE}{rule.pk}/toggle/", {"enabled": "1"}).status_code == 302
    assert AutomationRule.objects.get(pk=rule.pk).enabled is True
    admin_client.post(f"{BASE}{rule.pk}/move/", {"direction": "up"})
    names = list(AutomationRule.objects.order_by("position").values_list("name", flat=True))
    assert names.index("Big orders") == len(names) - 2
    assert admin_client.post(f"{BASE}{rule.pk}/delete/").status_code == 302
    assert not AutomationRule.objects.filter(pk=rule.pk).exists()


def test_creating_a_rule_with_the_form(admin_client):
    form = {
        "name": "COD to ready",
        "trigger": "order_created",
        "c-0-type": "payment_method",
        "c-0-methods": ["cod", "blik"],
        "c-1-type": "total_at_most",
        "c-1-amount": "500,50",
        "a-0-type": "set_status",
        "a-0-status": "ready",
        "a-1-type": "add_tag",
        "a-1-tag": "cod",
        "stop_processing": "1",
        "enabled": "1",
    }
    response = admin_client.post(f"{BASE}new/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    rule = AutomationRule.objects.get(name="COD to ready")
    assert rule.conditions == [
        {"type": "payment_method", "methods": ["cod", "blik"]},
        {"type": "total_at_most", "amount": "500.50"},
    ]
    assert rule.actions == [{"type": "set_status", "status": "ready"}, {"type": "add_tag", "tag": "cod"}]
    assert (rule.enabled, rule.stop_processing, rule.trigger_params) == (True, True, {})


def test_the_form_shows_the_error_on_its_row_and_keeps_the_input(admin_client):
    form = {
        "name": "Broken",
        "trigger": "order_created",
        "c-0-type": "total_at_least",
        "c-0-amount": "lots",
        "a-0-type": "add_tag",
        "a-0-tag": "x",
    }
    response = admin_client.post(f"{BASE}new/", form)
    html = response.content.decode()
    assert response.status_code == 400
    assert "conditions[0].amount: lots is not an amount" in html
    assert 'data-condition-row="0"' in html and 'value="lots"' in html
    assert not AutomationRule.objects.filter(name="Broken").exists()


def test_adding_a_row_or_changing_a_type_redraws_the_form_without_saving(admin_client):
    form = {
        "name": "Draft",
        "trigger": "in_status_for",
        "a-0-type": "add_tag",
        "a-0-tag": "x",
        "op": "add-condition",
    }
    response = admin_client.post(f"{BASE}new/", form)
    html = response.content.decode()
    assert response.status_code == 200
    assert 'name="c-0-type"' in html and 'name="t-hours"' in html and 'name="t-status"' in html
    response = admin_client.post(f"{BASE}new/?refresh=1", {**form, "op": "", "c-0-type": "channel"})
    assert 'name="c-0-channels" value="allegro"' in response.content.decode()
    assert not AutomationRule.objects.filter(name="Draft").exists()


def test_editing_a_rule_with_a_stale_version_is_refused(admin_client):
    rule = my_rule()
    page = admin_client.get(f"{BASE}{rule.pk}/")
    assert 'value="Big orders"' in page.content.decode()
    form = {
        "name": "Bigger orders",
        "trigger": "order_created",
        "c-0-type": "total_at_least",
        "c-0-amount": "200",
        "a-0-type": "add_tag",
        "a-0-tag": "big",
        "version": str(rule.version),
    }
    assert admin_client.post(f"{BASE}{rule.pk}/", form).status_code == 302
    rule.refresh_from_db()
    assert (rule.name, rule.conditions[0]["amount"], rule.version) == ("Bigger orders", "200.00", 2)
    response = admin_client.post(f"{BASE}{rule.pk}/", {**form, "name": "Lost", "version": "1"})
    assert response.status_code == 400
    assert "changed by someone else" in response.content.decode()
    assert AutomationRule.objects.get(pk=rule.pk).name == "Bigger orders"


def test_dry_run_page_lists_the_matching_orders(admin_client, order):
    rule = my_rule()
    assert "Run the dry run" in admin_client.get(f"{BASE}{rule.pk}/dry-run/").content.decode()
    response = admin_client.post(f"{BASE}{rule.pk}/dry-run/")
    html = response.content.decode()
    assert 'data-matched="1"' in html and f'data-order="{order.pk}"' in html
    assert not order.tags.exists()


def test_the_log_page_filters_and_exports(admin_client, order):
    from zaplecze.orders import automation

    rule = my_rule(enabled=True)
    other = my_rule(name="Never", conditions=[{"type": "payment_method", "methods": ["cod"]}], enabled=True)
    automation.event_process(event="order_created", order_ids=[order.pk])
    html = admin_client.get(f"{BASE}log/").content.decode()
    assert html.count("data-run=") == 2
    html = admin_client.get(f"{BASE}log/", {"rule": other.pk}).content.decode()
    assert html.count("data-run=") == 1 and 'data-result="no_match"' in html
    html = admin_client.get(f"{BASE}log/", {"matched_only": "1", "order": "1001"}).content.decode()
    assert html.count("data-run=") == 1 and 'data-result="done"' in html
    partial = admin_client.get(
        f"{BASE}log/", {"result": "done"}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="log-results"
    )
    assert "<html" not in partial.content.decode() and "Tag “big” added" in partial.content.decode()
    csv_text = admin_client.get(f"{BASE}log/", {"rule": rule.pk, "format": "csv"}).content.decode("utf-8-sig")
    lines = csv_text.strip().splitlines()
    assert lines[0] == "at,rule,order,trigger,result,matched,actions,error,dry_run"
    assert lines[1].endswith(",Big orders,#1001,order_created,done,1,Tag “big” added,,0")


def test_automation_runs_appear_in_the_order_history(admin_client, order):
    from zaplecze.orders import automation

    my_rule(enabled=True)
    automation.event_process(event="order_created", order_ids=[order.pk])
    html = admin_client.get(f"/orders/{order.pk}/").content.decode()
    assert "Rule “Big orders”: Tag “big” added" in html
    assert "ev-automation" in html


@pytest.mark.parametrize("role", ["warehouse", "service", "readonly", "marketing"])
def test_other_roles_cannot_open_or_change_automation(client, make_user, role):
    rule = my_rule()
    client.force_login(make_user(role))
    assert client.get(BASE).status_code == 403
    assert client.post(f"{BASE}{rule.pk}/toggle/", {"enabled": "1"}).status_code == 403
    assert AutomationRule.objects.get(pk=rule.pk).enabled is False


# --- API -----------------------------------------------------------------------------------------------


def test_api_create_list_update_enable_move_and_delete(api):
    client = api("organiser")
    body = {
        "name": "API rule",
        "trigger": "status_changed",
        "trigger_params": {"status": "packed"},
        "conditions": [{"type": "shipping_country", "countries": "pl, cz"}],
        "actions": [{"type": "create_shipment"}],
    }
    response = client.post("/api/v1/automation/rules", body, content_type="application/json")
    assert response.status_code == 201, response.json()
    created = response.json()
    assert created["conditions"] == [{"type": "shipping_country", "countries": ["PL", "CZ"]}]
    assert created["actions"] == [{"type": "create_shipment", "carrier": ""}]
    assert created["enabled"] is False
    assert created["summary"]["trigger"] == "Status changed to “Packed”"
    rid = created["id"]
    assert [r["id"] for r in client.get("/api/v1/automation/rules").json()][-1] == rid

    update = {**body, "name": "API rule 2", "version": created["version"]}
    response = client.put(f"/api/v1/automation/rules/{rid}", update, content_type="application/json")
    assert response.status_code == 200 and response.json()["name"] == "API rule 2"
    stale = client.put(f"/api/v1/automation/rules/{rid}", update, content_type="application/json")
    assert stale.status_code == 409 and stale.json()["code"] == "conflict"

    response = client.post(
        f"/api/v1/automation/rules/{rid}/enable", {"enabled": True}, content_type="application/json"
    )
    assert response.json()["enabled"] is True
    kept = client.put(
        f"/api/v1/automation/rules/{rid}", {**body, "name": "API rule 3"}, content_type="application/json"
    )
    assert (kept.json()["name"], kept.json()["enabled"]) == ("API rule 3", True)  # "enabled" left out: kept
    moved = client.post(
        f"/api/v1/automation/rules/{rid}/move", {"direction": "up"}, content_type="application/json"
    )
    assert [r["id"] for r in moved.json()][-2] == rid
    assert client.delete(f"/api/v1/automation/rules/{rid}").status_code == 204
    assert client.get(f"/api/v1/automation/rules/{rid}").status_code == 404


def test_api_bad_rule_gets_one_clear_error(api):
    body = {"name": "Bad", "trigger": "order_created", "actions": [{"type": "teleport"}]}
    response = api().post("/api/v1/automation/rules", body, content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {
        "code": "invalid",
        "message": "actions[0]: unknown action type teleport",
        "field": "actions[0].type",
    }
    response = api("organiser").post(
        "/api/v1/automation/rules", {**body, "actions": []}, content_type="application/json"
    )
    assert response.status_code == 422  # at least one action (the schema's own check)


def test_api_dry_run_log_and_types(api, order):
    from zaplecze.orders import automation

    client = api()
    rule = my_rule(enabled=True)
    quiet = client.post(
        f"/api/v1/automation/rules/{rule.pk}/dry-run", {"record": False}, content_type="application/json"
    )
    assert quiet.json()["matched"] == 1 and not AutomationRun.objects.exists()
    response = client.post(f"/api/v1/automation/rules/{rule.pk}/dry-run", {}, content_type="application/json")
    assert response.status_code == 200
    assert response.json() == {
        "rule_id": rule.pk,
        "checked": 1,
        "matched": 1,
        "truncated": False,
        "actions": ["Add tag: big"],
        "matches": [
            {"order_id": order.pk, "number": "#1001", "status": "ready", "total_gross": "112.97", "note": ""}
        ],
    }
    automation.event_process(event="order_created", order_ids=[order.pk])
    log = client.get("/api/v1/automation/log", {"rule": rule.pk, "matched_only": True, "limit": 1}).json()
    assert [i["result"] for i in log["items"]] == ["done"]
    assert log["next_cursor"] is not None
    older = client.get("/api/v1/automation/log", {"rule": rule.pk, "cursor": log["next_cursor"]}).json()
    assert [(i["result"], i["dry_run"]) for i in older["items"]] == [("dry_run", True)]
    types = client.get("/api/v1/automation/types").json()
    assert {a["code"] for a in types["actions"]} == {
        "set_status",
        "add_tag",
        "remove_tag",
        "assign_warehouse",
        "create_shipment",
        "send_email",
        "channel_push_status",
        "channel_push_tracking",
    }
    assert len(types["conditions"]) == 12


def test_api_needs_settings_automation(api):
    response = api("warehouse").get("/api/v1/automation/rules")
    assert response.status_code == 403


# --- CLI -----------------------------------------------------------------------------------------------


def test_cli_list_and_dry_run(order):
    rule = my_rule()
    result = CliRunner().invoke(main, ["automation", "list", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert rows[-1]["name"] == "Big orders" and rows[-1]["summary"]["actions"] == ["Add tag: big"]
    text = CliRunner().invoke(main, ["automation", "list"]).output
    assert "off  Big orders" in text and "then: Add tag: big" in text
    result = CliRunner().invoke(main, ["automation", "dry-run", "Big orders", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert (data["rule_id"], data["matched"], [o["number"] for o in data["orders"]]) == (
        rule.pk,
        1,
        ["#1001"],
    )
    assert not Order.objects.get(pk=order.pk).tags.exists()
    missing = CliRunner().invoke(main, ["automation", "dry-run", "nope"])
    assert missing.exit_code == 2 and "No automation rule 'nope'" in missing.output


def test_cli_run_due(ingest, product_factory):
    import datetime as dt

    from django.utils import timezone

    from zaplecze.orders.models import OrderEvent

    product_factory(sku="SKU-0001", stock=100)
    rule = my_rule(
        trigger="in_status_for",
        trigger_params={"status": "awaiting_payment", "hours": 1},
        conditions=[],
        enabled=True,
    )
    AutomationRule.objects.filter(pk=rule.pk).update(enabled_at=timezone.now() - dt.timedelta(hours=5))
    order = ingest(payment_method="transfer", payment_status="unpaid").order
    OrderEvent.objects.filter(order=order).update(at=timezone.now() - dt.timedelta(hours=2))
    result = CliRunner().invoke(main, ["automation", "run-due", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"rules": 1, "orders": 1, "matched": 1, "failed": 0}
    assert set(order.tags.values_list("name", flat=True)) == {"big"}
    assert AutomationRun.objects.filter(rule=rule, result="done").count() == 1
