"""The fulfilment API (pick lists, packing) and `zaplecze picklist`."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from django.test import Client

from zaplecze.cli import main
from zaplecze.fulfilment.models import PickList
from zaplecze.orders.models import Order
from zaplecze.shipping.pdfmerge import page_count

from .conftest import line

MUG = "5901234123457"


@pytest.fixture
def orders(stocked, make_order):
    stocked("MUG", MUG, "A-05")
    stocked("TEA", "", "B-01")
    return make_order("#801", [line("MUG", 2)]), make_order("#802", [line("MUG", 1), line("TEA", 1)])


@pytest.fixture
def api(make_user):
    from zaplecze.core.services import token_create

    user = make_user("warehouse", "magda")
    return Client(HTTP_AUTHORIZATION=f"Bearer {token_create(user=user)}")


def _post(client, url, body=None):
    return client.post(url, data=json.dumps(body or {}), content_type="application/json")


def test_api_creates_gets_and_prints_a_pick_list(orders, api):
    one, two = orders
    created = _post(
        api,
        "/api/v1/fulfilment/picklists",
        {"orders": ["801"], "order_ids": [two.pk], "move_to_picking": True},
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["number"].startswith("PL-")
    assert body["created_by"] == "magda"
    assert [(g["location"], [(r["sku"], r["quantity"]) for r in g["rows"]]) for g in body["groups"]] == [
        ("B-01", [("TEA", 1)]),
        ("A-05", [("MUG", 3)]),
    ]
    # The pick list keeps the orders in the order given: ids first, then numbers.
    assert body["groups"][1]["rows"][0]["orders"] == [
        {"order_id": two.pk, "number": "#802", "quantity": 1},
        {"order_id": one.pk, "number": "#801", "quantity": 2},
    ]
    assert Order.objects.get(pk=one.pk).status.code == "picking"
    got = api.get(f"/api/v1/fulfilment/picklists/{body['id']}")
    assert got.json()["totals"] == [
        {"sku": "MUG", "name": "Item MUG", "quantity": 3},
        {"sku": "TEA", "name": "Item TEA", "quantity": 1},
    ]
    pdf = api.get(f"/api/v1/fulfilment/picklists/{body['id']}/pdf")
    assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF-")
    done = _post(api, f"/api/v1/fulfilment/picklists/{body['id']}/status", {"status": "done"})
    assert done.json()["status"] == "done"
    assert [p["number"] for p in api.get("/api/v1/fulfilment/picklists?status=done").json()] == [
        body["number"]
    ]


def test_api_ready_and_bad_input(orders, api):
    ready = _post(api, "/api/v1/fulfilment/picklists", {"ready": True})
    assert ready.status_code == 201
    assert [o["number"] for o in ready.json()["orders"]] == ["#801", "#802"]
    again = _post(api, "/api/v1/fulfilment/picklists", {"ready": True})  # all are on an open list now
    assert again.status_code == 400
    unknown = _post(api, "/api/v1/fulfilment/picklists", {"orders": ["nope"]})
    assert unknown.status_code == 404
    assert unknown.json()["details"] == {"missing": ["nope"]}
    extra = _post(api, "/api/v1/fulfilment/picklists", {"order_ids": [1], "colour": "red"})
    assert extra.status_code == 422
    assert api.get("/api/v1/fulfilment/picklists/999999").status_code == 404
    assert PickList.objects.count() == 1


def test_api_packing_scan_state_and_undo(orders, api):
    one, _ = orders
    url = f"/api/v1/fulfilment/packing/{one.pk}"
    wrong = _post(api, f"{url}/scan", {"code": "4006381333931"})
    assert wrong.status_code == 200
    assert (wrong.json()["outcome"], wrong.json()["counted"]) == ("unknown", False)
    first = _post(api, f"{url}/scan", {"code": MUG}).json()
    assert (first["counted"], first["packed_now"], first["state"]["units_scanned"]) == (True, False, 1)
    last = _post(api, f"{url}/scan", {"code": "MUG"}).json()
    assert (last["packed_now"], last["state"]["complete"], last["state"]["order_status"]) == (
        True,
        True,
        "packed",
    )
    state = api.get(url).json()
    assert state["lines"] == [
        {
            "line_id": state["lines"][0]["line_id"],
            "sku": "MUG",
            "ean": MUG,
            "name": "Item MUG",
            "needed": 2,
            "scanned": 2,
        }
    ]
    assert [s["outcome"] for s in state["scans"]] == ["counted", "counted", "unknown"]
    # An undo naming a scan that is no longer the last counted one is refused and changes nothing.
    older = state["scans"][1]["id"]
    stale = _post(api, f"{url}/undo", {"scan_id": older})
    assert stale.status_code == 409 and stale.json()["field"] == "scan_id"
    assert api.get(url).json()["units_scanned"] == 2
    undone = _post(api, f"{url}/undo", {"scan_id": state["scans"][0]["id"]}).json()
    assert (undone["outcome"], undone["state"]["units_scanned"], undone["state"]["order_status"]) == (
        "undone",
        1,
        "picking",
    )
    assert _post(api, f"{url}/scan", {"code": ""}).status_code == 422
    assert _post(api, "/api/v1/fulfilment/packing/999999/scan", {"code": MUG}).status_code == 404


# --- CLI ----------------------------------------------------------------------------------------------


def test_cli_prints_a_readable_list(orders):
    result = CliRunner().invoke(main, ["picklist", "801", "#802"])
    assert result.exit_code == 0, result.output
    pl = PickList.objects.get()
    assert result.output.splitlines()[0] == f"Pick list {pl.number}: 2 orders, 4 units"
    assert "[MAIN · A-05]  (3 units)" in result.output
    assert "#801×2, #802×1" in result.output
    assert result.output.index("B-01") < result.output.index("A-05")  # walk order: B-01 sorts first


def test_cli_writes_the_pdf_and_json(orders, tmp_path):
    out = tmp_path / "pick.pdf"
    result = CliRunner().invoke(main, ["picklist", "--ready", "-o", str(out), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert [o["number"] for o in data["orders"]] == ["#801", "#802"]
    assert data["units"] == 4
    assert page_count(out.read_bytes()) == 1


def test_cli_refuses_unknown_orders_and_nothing_ready(orders):
    result = CliRunner().invoke(main, ["picklist", "801", "nope"])
    assert result.exit_code == 1
    assert "nope: no such order" in result.output
    assert PickList.objects.count() == 0
    assert CliRunner().invoke(main, ["picklist"]).exit_code == 2
    CliRunner().invoke(main, ["picklist", "--ready"])
    nothing = CliRunner().invoke(main, ["picklist", "--ready"])
    assert nothing.exit_code == 1
    assert "No orders are ready to fulfil." in nothing.output
