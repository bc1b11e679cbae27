"""The API and the `zaplecze promo` commands reach the same services."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal as D

import pytest
from click.testing import CliRunner
from django.test import Client
from django.utils import timezone

from zaplecze.catalog.models import Variant
from zaplecze.cli import main
from zaplecze.core.services import token_create
from zaplecze.promotions.models import Campaign, CampaignStatus

BASE = "/api/v1/promotions"


@pytest.fixture
def api(make_user):
    def _client(role="marketing"):
        user = make_user(role, username=f"api-{role}")
        return Client(HTTP_AUTHORIZATION=f"Bearer {token_create(user=user)}")

    return _client


def _post(client, url, body=None, method="post"):
    return getattr(client, method)(url, data=body or {}, content_type="application/json")


def test_api_campaign_life(api, product_factory, cost):
    client = api()
    v = cost(product_factory(sku="MUG-1", price="100.00"), "70.00")
    start = timezone.now() - dt.timedelta(minutes=1)
    body = {
        "name": "API sale",
        "value": "20",
        "start": start.isoformat(),
        "end": (start + dt.timedelta(days=3)).isoformat(),
        "targets": [{"kind": "product", "product_id": v.product_id}],
    }
    bad = _post(client, f"{BASE}/campaigns", {**body, "end": (start - dt.timedelta(days=1)).isoformat()})
    assert bad.status_code == 400
    assert bad.json()["field"] == "end"
    resp = _post(client, f"{BASE}/campaigns", body)
    assert resp.status_code == 201, resp.content
    cid = resp.json()["id"]
    assert resp.json()["targets"] == [
        {"kind": "product", "product_id": v.product_id, "category_id": None, "brand": ""}
    ]

    check = _post(client, f"{BASE}/campaigns/{cid}/check").json()
    assert check["summary"]["errors"] == 1
    assert check["rows"][0]["errors"] == ["below_cost"]
    assert check["rows"][0]["new_price"] == "80.00"

    refused = _post(client, f"{BASE}/campaigns/{cid}/launch", {})
    assert refused.status_code == 400
    assert refused.json()["code"] == "check_failed"
    ok = _post(client, f"{BASE}/campaigns/{cid}/launch", {"override_reason": "Accepted: end of line"})
    assert ok.status_code == 200
    assert ok.json()["status"] == "running"
    assert Variant.objects.get(pk=v.pk).price == D("80.00")

    stale = _post(client, f"{BASE}/campaigns/{cid}", {"version": 0, "name": "x"}, method="patch")
    assert stale.status_code == 409
    version = ok.json()["version"]
    changed = _post(
        client,
        f"{BASE}/campaigns/{cid}",
        {"version": version, "value": "10", "override_reason": "Still below cost, accepted"},
        method="patch",
    )
    assert changed.status_code == 200, changed.content
    assert Variant.objects.get(pk=v.pk).price == D("90.00")

    results = client.get(f"{BASE}/campaigns/{cid}/results")
    assert results.status_code == 200
    assert set(results.json()["comparison"]) == {"sales", "units", "orders", "margin"}
    cal = client.get(f"{BASE}/calendar?view=week&date={start.date().isoformat()}").json()
    assert [c["id"] for c in cal["campaigns"]] == [cid]

    end = _post(client, f"{BASE}/campaigns/{cid}/cancel", {"reason": "done"})
    assert end.json()["status"] == "cancelled"
    assert Variant.objects.get(pk=v.pk).price == D("100.00")


def test_api_codes_and_redeem(api, campaign_factory):
    client = api()
    c = campaign_factory(kind="codes", value="10", targets=[], start=timezone.now() - dt.timedelta(minutes=1))
    assert (
        _post(client, f"{BASE}/campaigns/{c.pk}/codes", {"code": "vip-1", "max_uses": 2}).status_code == 201
    )
    gen = _post(client, f"{BASE}/campaigns/{c.pk}/codes/generate", {"count": 10, "prefix": "A"})
    assert gen.json() == {"generated": 10}
    assert len(client.get(f"{BASE}/campaigns/{c.pk}/codes").json()) == 11
    over = _post(client, f"{BASE}/campaigns/{c.pk}/codes/generate", {"count": 100001})
    assert over.status_code == 422
    _post(client, f"{BASE}/campaigns/{c.pk}/launch", {})
    assert _post(client, f"{BASE}/codes/redeem", {"code": "VIP-1", "order_ref": "#1"}).json()["uses"] == 1
    assert _post(client, f"{BASE}/codes/redeem", {"code": "VIP-1", "order_ref": "#2"}).json()["uses"] == 2
    used_up = _post(client, f"{BASE}/codes/redeem", {"code": "VIP-1", "order_ref": "#3"})
    assert used_up.status_code == 409


def test_api_readonly_cannot_write(api, product_factory):
    client = api("readonly")
    v = product_factory()
    start = timezone.now() + dt.timedelta(days=1)
    resp = _post(
        client,
        f"{BASE}/campaigns",
        {
            "name": "x",
            "value": "10",
            "start": start.isoformat(),
            "end": (start + dt.timedelta(days=1)).isoformat(),
            "targets": [{"kind": "product", "product_id": v.product_id}],
        },
    )
    assert resp.status_code == 403
    assert Campaign.objects.count() == 0
    assert client.get(f"{BASE}/campaigns").status_code == 200


def test_cli_check_and_results_json(product_factory, campaign_factory, cost, tmp_path):
    v = cost(product_factory(sku="MUG-1", price="100.00"), "30.00")
    c = campaign_factory([v])
    result = CliRunner().invoke(main, ["promo", "check", str(c.pk), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["summary"]["errors"] == 0
    assert data["rows"][0]["sku"] == "MUG-1"
    assert data["rows"][0]["discount_label"] == "-20 %"

    cost(v, "90.00")
    failing = CliRunner().invoke(main, ["promo", "check", str(c.pk), "--json"])
    assert failing.exit_code == 1
    assert json.loads(failing.output)["rows"][0]["errors"] == ["below_cost"]

    out_csv = tmp_path / "r.csv"
    res = CliRunner().invoke(main, ["promo", "results", str(c.pk), "--json", "--csv", str(out_csv)])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["campaign_id"] == c.pk
    assert out_csv.read_text().startswith("metric,actual")

    launch = CliRunner().invoke(main, ["promo", "launch", str(c.pk)])
    assert launch.exit_code == 1
    assert "errors" in launch.output
    missing = CliRunner().invoke(main, ["promo", "check", "99999"])
    assert missing.exit_code == 1
    assert Campaign.objects.get(pk=c.pk).status == CampaignStatus.DRAFT


def test_cli_codes_generate_and_export(campaign_factory, tmp_path):
    c = campaign_factory(kind="codes", value="5", targets=[])
    path = tmp_path / "codes.csv"
    res = CliRunner().invoke(
        main, ["promo", "codes", str(c.pk), "--generate", "40", "--prefix", "X", "--csv", str(path)]
    )
    assert res.exit_code == 0, res.output
    assert len(path.read_text().strip().splitlines()) == 41
