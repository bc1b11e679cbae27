"""The doors into prices: screens (reprice form -> preview -> apply -> undo, history with chart, product
panel), the API and the CLI."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal as D

import pytest
from click.testing import CliRunner
from django.test import Client
from django.utils import timezone

from zaplecze.catalog.models import BulkChange, Offer, PriceChange, Variant
from zaplecze.cli import main
from zaplecze.core.services import token_create

pytestmark = pytest.mark.django_db
API = "/api/v1/catalog/prices"


@pytest.fixture
def mug(product_factory):
    v = product_factory(sku="MUG-1", price="100.00", stock=0)
    Variant.objects.filter(pk=v.pk).update(cost_price=D("40.00"))
    # A history: 100 for 60 days, then a promotion at 79.99 since yesterday.
    PriceChange.objects.filter(variant=v).delete()
    now = timezone.now()
    PriceChange.objects.create(variant=v, price=D("100.00"), effective_from=now - dt.timedelta(days=60))
    PriceChange.objects.create(
        variant=v, price=D("79.99"), kind="promo", effective_from=now - dt.timedelta(days=1)
    )
    Variant.objects.filter(pk=v.pk).update(price=D("79.99"))
    v.refresh_from_db()
    return v


@pytest.fixture
def api(make_user):
    def _client(role="admin"):
        user = make_user(role, username=f"api-{role}")
        return Client(HTTP_AUTHORIZATION=f"Bearer {token_create(user=user)}")

    return _client


def _post(client, url, body):
    return client.post(url, data=body, content_type="application/json")


# --- screens ------------------------------------------------------------------------------------------


def test_history_page_shows_reference_discount_chart_and_entries(admin_client, mug):
    response = admin_client.get(f"/products/prices/variants/{mug.pk}/")
    assert response.status_code == 200
    page = response.content.decode()
    assert 'data-reference="100.00"' in page
    assert "-20 %" in page
    assert 'id="chart-prices"' in page and "step-after" in page
    assert page.count("<tr", page.index("data-price-entries")) == 3  # header + two entries


def test_history_form_schedules_a_promotion_with_an_end(admin_client, product_factory):
    v = product_factory(sku="CUP-1", price="50.00", stock=0)
    start = timezone.localtime() + dt.timedelta(days=2)
    end = start + dt.timedelta(days=7)
    response = admin_client.post(
        f"/products/prices/variants/{v.pk}/set/",
        {
            "price": "39.99",
            "kind": "promo",
            "channel": "",
            "start": start.strftime("%Y-%m-%dT%H:%M"),
            "end": end.strftime("%Y-%m-%dT%H:%M"),
        },
    )
    assert response.status_code == 302
    entries = list(
        PriceChange.objects.filter(variant=v).order_by("effective_from").values_list("price", "kind")
    )
    assert entries == [(D("50.00"), "regular"), (D("39.99"), "promo"), (D("50.00"), "regular")]
    assert Variant.objects.get(pk=v.pk).price == D("50.00")  # not yet


def test_history_form_refuses_a_negative_price_on_the_field(admin_client, mug):
    before = PriceChange.objects.count()
    response = admin_client.post(
        f"/products/prices/variants/{mug.pk}/set/", {"price": "-5", "kind": "regular"}
    )
    assert response.status_code == 400
    assert "cannot be negative" in response.content.decode()
    assert PriceChange.objects.count() == before


def test_reprice_screens_preview_apply_undo(admin_client, product_factory):
    for sku, price in [("PAN-1", "123.45"), ("PAN-2", "20.00")]:
        v = product_factory(sku=sku, price=price, stock=0)
        Variant.objects.filter(pk=v.pk).update(cost_price=D("14.00"))
    assert admin_client.get("/products/prices/").status_code == 200
    response = admin_client.post(
        "/products/prices/reprice/",
        {
            "sku_prefix": "PAN-",
            "mode": "percent",
            "value": "-10",
            "round_99": "on",
            "min_margin": "15",
            "channel": "",
        },
    )
    assert response.status_code == 302
    bulk = BulkChange.objects.get(kind="reprice")
    page = admin_client.get(response.url).content.decode()
    assert 'data-refused="below_min_margin"' in page and "110.99" in page
    assert admin_client.post(f"/products/prices/reprice/{bulk.pk}/apply/").status_code == 302
    assert Variant.objects.get(sku="PAN-1").price == D("110.99")
    assert admin_client.post(f"/products/prices/reprice/{bulk.pk}/undo/").status_code == 302
    assert Variant.objects.get(sku="PAN-1").price == D("123.45")
    assert BulkChange.objects.get(pk=bulk.pk).state == "undone"


def test_reprice_form_errors_are_shown_and_nothing_is_created(admin_client):
    response = admin_client.post("/products/prices/reprice/", {"mode": "percent", "value": "-10"})
    assert response.status_code == 400
    assert "Choose the products" in response.content.decode()
    assert not BulkChange.objects.exists()


def test_product_panel_shows_price_reference_and_link(admin_client, admin_user, mug):
    from django.test import RequestFactory

    from zaplecze.catalog.panels_prices import prices_panel

    request = RequestFactory().get("/")
    request.user = admin_user
    spec = prices_panel(request, mug.product)
    [row] = spec["context"]["price_rows"]
    assert (row["sku"], row["eff"].price, row["eff"].reference.discount_label) == (
        "MUG-1",
        D("79.99"),
        "-20 %",
    )
    page = admin_client.get(f"/products/{mug.product_id}/").content.decode()
    assert "data-prices-panel" in page and f"/products/prices/variants/{mug.pk}/" in page


# --- API ----------------------------------------------------------------------------------------------


def test_api_history_and_reference(api, mug):
    client = api("readonly")
    history = client.get(f"{API}/variants/{mug.pk}/history").json()
    assert [e["price"] for e in history["entries"]] == ["100.00", "79.99"]
    assert history["current"][0]["reference"]["discount_label"] == "-20 %"
    at = (timezone.now() - dt.timedelta(days=3)).isoformat()
    ref = client.get(f"{API}/variants/{mug.pk}/reference", {"at": at}).json()
    assert (ref["price"], ref["reference"]) == ("100.00", None)
    ref = client.get(f"{API}/variants/{mug.pk}/reference").json()
    assert (ref["sale_price"], ref["reference"]["price"], ref["reference"]["basis"]) == (
        "79.99",
        "100.00",
        "30_days",
    )
    assert client.get(f"{API}/variants/999999/reference").status_code == 404


def test_api_set_price_permissions_errors_and_conflict(api, mug):
    assert _post(api("readonly"), f"{API}/set", {"sku": "MUG-1", "price": "10.00"}).status_code == 403
    client = api()
    bad = _post(client, f"{API}/set", {"sku": "MUG-1", "price": "-1.00"})
    assert (bad.status_code, bad.json()["field"]) == (400, "price")
    stale = _post(client, f"{API}/set", {"sku": "MUG-1", "price": "90.00", "expected_price": "100.00"})
    assert stale.status_code == 409
    ok = _post(client, f"{API}/set", {"sku": "MUG-1", "price": "90.00", "expected_price": "79.99"})
    assert ok.status_code == 201 and ok.json()["source"] == "api"
    assert Variant.objects.get(pk=mug.pk).price == D("90.00")
    unknown = _post(client, f"{API}/set", {"sku": "MUG-1", "price": "1.00", "colour": "red"})
    assert unknown.status_code == 422


def test_api_reprice_preview_apply_undo(api, product_factory):
    product_factory(sku="PAN-1", price="50.00", stock=0)
    client = api()
    preview = _post(client, f"{API}/reprice", {"sku_prefix": "PAN-", "percent": "10", "round_99": True})
    assert preview.status_code == 201, preview.content
    body = preview.json()
    assert [(r["sku"], r["new"], r["flags"]) for r in body["rows"]] == [("PAN-1", "54.99", ["no_cost_price"])]
    applied = _post(client, f"{API}/reprice/{body['id']}/apply", {})
    assert (applied.status_code, applied.json()["state"]) == (200, "applied")
    again = _post(client, f"{API}/reprice/{body['id']}/apply", {})
    assert again.status_code == 409
    undone = _post(client, f"{API}/reprice/{body['id']}/undo", {})
    assert (undone.status_code, undone.json()["state"]) == (200, "undone")
    assert Variant.objects.get(sku="PAN-1").price == D("50.00")
    bad = _post(client, f"{API}/reprice", {"sku_prefix": "PAN-"})
    assert (bad.status_code, bad.json()["field"]) == (400, "percent")


def test_api_has_no_way_to_change_or_delete_history(api, mug):
    client = api()
    entry = PriceChange.objects.filter(variant=mug).first()
    for method in ("put", "patch", "delete"):
        response = getattr(client, method)(f"{API}/variants/{mug.pk}/history")
        assert response.status_code in (404, 405), method
    assert PriceChange.objects.get(pk=entry.pk).price == entry.price


# --- CLI ----------------------------------------------------------------------------------------------


def test_cli_price_omnibus_and_reprice(mug, product_factory):
    runner = CliRunner()
    result = runner.invoke(main, ["products", "omnibus", "MUG-1", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert (data["price"], data["reference"]["price"], data["reference"]["discount_percent"]) == (
        "79.99",
        "100.00",
        20,
    )
    result = runner.invoke(main, ["products", "price", "--", "MUG-1", "-3"])
    assert result.exit_code != 0 and "negative" in result.output and "(price)" in result.output
    Offer.objects.create(variant=mug, channel="allegro")
    result = runner.invoke(main, ["products", "price", "MUG-1", "105,00", "--channel", "allegro"])
    assert result.exit_code == 0, result.output
    assert Offer.objects.get(variant=mug).price == D("105.00")
    product_factory(sku="PAN-1", price="20.00", stock=0)
    result = runner.invoke(
        main, ["products", "reprice", "--percent", "-10", "--sku-prefix", "PAN-", "--round99", "--json"]
    )
    assert result.exit_code == 0, result.output
    preview = json.loads(result.output)
    assert (preview["state"], preview["rows"][0]["new"]) == ("preview", "17.99")
    assert Variant.objects.get(sku="PAN-1").price == D("20.00")
    result = runner.invoke(
        main, ["products", "reprice", "--percent", "-10", "--sku-prefix", "PAN-", "--apply"]
    )
    assert result.exit_code == 0 and "Applied." in result.output
    assert Variant.objects.get(sku="PAN-1").price == D("18.00")
