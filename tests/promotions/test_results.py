"""Results: actual vs seasonally adjusted baseline, the uplift interval, new customers, cannibalisation,
discount cost and code redemptions."""

from __future__ import annotations

import datetime as dt
import math
import statistics

import pytest

from zaplecze.catalog.models import Category, Product
from zaplecze.promotions import results, services
from zaplecze.promotions.models import CampaignItem

START = dt.datetime(2026, 10, 5, 8, 0, tzinfo=dt.UTC)  # a Monday
END = START + dt.timedelta(days=7)


@pytest.fixture
def shop(product_factory, ingest):
    cat = Category.objects.create(name="Mugs", slug="mugs")
    a = product_factory(sku="A-1", price="50.00")
    r = product_factory(sku="R-1", price="30.00")
    x = product_factory(sku="X-1", price="100.00")
    Product.objects.filter(pk__in=[a.product_id, r.product_id]).update(category=cat)
    n = {"i": 0}

    def order(at, sku, qty, price, email="someone@example.com", discount="0", number=None):
        n["i"] += 1
        return ingest(
            external_id=f"O{n['i']}",
            number=number or f"#{n['i']}",
            placed_at=at.isoformat(),
            email=email,
            shipping_cost="0",
            discount=discount,
            lines=[{"sku": sku, "name": sku, "quantity": qty, "unit_price_gross": price, "vat_rate": "23"}],
        ).order

    return {"a": a, "r": r, "x": x, "cat": cat, "order": order}


def _campaign(campaign_factory, shop, **kw):
    return campaign_factory(
        targets=[{"kind": "product", "product_id": shop["a"].product_id}], start=START, end=END, **kw
    )


def test_uplift_against_baseline_with_t_interval(shop, campaign_factory):
    order = shop["order"]
    # baseline weeks (1..4 weeks back): A sells 2, 2, 4, 4 units at 50.00; X sells one a week
    for k, units in zip(range(1, 5), (2, 2, 4, 4), strict=True):
        at = START - dt.timedelta(days=7 * k) + dt.timedelta(days=1)
        order(at, "A-1", units, "50.00")
        order(at, "X-1", 1, "100.00")
    # the campaign week: A sells 9 at 40.00; X one as usual (no season change)
    order(START + dt.timedelta(days=1), "A-1", 9, "40.00", email="new@example.com")
    order(START + dt.timedelta(days=2), "X-1", 1, "100.00")
    c = _campaign(campaign_factory, shop)
    out = results.campaign_results(c, now=END + dt.timedelta(days=1), traffic=False)
    assert out["seasonal_factors"] == [1.0, 1.0, 1.0, 1.0]
    sales = out["comparison"]["sales"]
    assert sales["actual"] == 360.0
    assert sales["baseline"] == [100.0, 100.0, 200.0, 200.0]
    assert sales["expected"] == 150.0
    assert sales["uplift"] == 210.0
    half = 3.182 * statistics.stdev([100, 100, 200, 200]) * math.sqrt(1 + 1 / 4)
    assert sales["ci_low"] == round(210 - half, 2)
    assert sales["ci_high"] == round(210 + half, 2)
    assert sales["significant"] is (210 - half > 0)
    assert out["comparison"]["units"]["actual"] == 9
    assert out["comparison"]["orders"]["actual"] == 1
    assert out["new_customers"] == 1
    assert len(out["daily"]) == 8  # Monday 08:00 to Monday 08:00 touches 8 days
    assert out["daily"][1]["sales"] == 360.0
    csv_text = results.results_csv(out)
    assert csv_text.splitlines()[1].startswith("sales,360.0,150.0,210.0")


def test_season_adjusts_the_baseline_and_cannibalisation_shows(shop, campaign_factory):
    order = shop["order"]
    for k in range(1, 5):
        at = START - dt.timedelta(days=7 * k) + dt.timedelta(days=2)
        order(at, "A-1", 2, "50.00")
        order(at, "R-1", 3, "30.00")
        order(at, "X-1", 1, "100.00")
    # the whole shop doubled (season): X sells 2; A sells 4 -> no real uplift; related R sells 1 -> cannibalised
    at = START + dt.timedelta(days=2)
    order(at, "A-1", 4, "50.00")
    order(at, "R-1", 1, "30.00")
    order(at, "X-1", 2, "100.00")
    c = _campaign(campaign_factory, shop)
    out = results.campaign_results(c, now=END + dt.timedelta(days=1), traffic=False)
    # control = everything outside the campaign (R + X): 30 + 200 = 230 now vs 90 + 100 = 190 before
    factor = 230 / 190
    assert out["seasonal_factors"] == [round(factor, 4)] * 4
    assert out["comparison"]["sales"]["expected"] == round(100 * factor, 2)
    cannibal = out["cannibalisation"]
    assert cannibal["actual"] == 30.0
    assert cannibal["expected"] == round(90 * factor, 2)
    assert cannibal["uplift"] < 0


def test_returning_customer_is_not_new_and_cancelled_orders_do_not_count(shop, campaign_factory):
    from zaplecze.orders.models import Order

    order = shop["order"]
    order(START - dt.timedelta(days=90), "X-1", 1, "100.00", email="old@example.com")
    order(START + dt.timedelta(days=1), "A-1", 1, "50.00", email="old@example.com")
    cancelled = order(START + dt.timedelta(days=1), "A-1", 5, "50.00", email="other@example.com")
    Order.objects.filter(pk=cancelled.pk).update(stage="cancelled")
    out = results.campaign_results(_campaign(campaign_factory, shop), now=END, traffic=False)
    assert out["new_customers"] == 0
    assert out["comparison"]["units"]["actual"] == 1


def test_discount_cost_and_code_redemptions(shop, campaign_factory, manager):
    order = shop["order"]
    c = _campaign(campaign_factory, shop)
    CampaignItem.objects.create(
        campaign=c, variant=shop["a"], sku="A-1", regular_price="50.00", promo_price="40.00", applied_at=START
    )
    order(START + dt.timedelta(hours=5), "A-1", 3, "40.00")  # 3 x 10.00 below the regular price
    out = results.campaign_results(c, now=END, traffic=False)
    assert out["discount_cost"] == "30.00"

    codes = campaign_factory(kind="codes", value="10", targets=[], start=START, end=END, budget="100")
    services.code_add(campaign_id=codes.pk, code="AUTUMN", actor=manager)
    from zaplecze.promotions.models import Campaign, CodeRedemption

    Campaign.objects.filter(pk=codes.pk).update(status="running")
    order(START + dt.timedelta(hours=6), "X-1", 1, "100.00", discount="10.00", number="#C1")
    CodeRedemption.objects.create(code=codes.codes.get(), order_ref="#C1", at=START + dt.timedelta(hours=6))
    out = results.campaign_results(codes, now=END, traffic=False)
    assert out["codes"] == {"count": 1, "used": 0, "redemptions": 1}
    assert out["discount_cost"] == "10.00"
    assert out["budget_used_percent"] == 10.0


def test_baseline_periods_are_whole_weeks_back():
    class C:
        start, end = START, START + dt.timedelta(days=10)

    window, base = results.windows(C, now=END + dt.timedelta(days=30))
    assert window == (START, START + dt.timedelta(days=10))
    assert [b[0] for b in base] == [START - dt.timedelta(days=14 * k) for k in range(1, 5)]


def test_traffic_and_conversion_from_the_campaign_utm(settings, tmp_path, campaign_factory, shop):
    from zaplecze.analytics import pipeline, spool, warehouse
    from zaplecze.analytics.services import site_create

    settings.DATA_DIR = tmp_path
    pipeline.sites_forget()
    spool.close()
    site_create(domain="shop.example", name="Shop", allowed_origins="", actor=None)
    shop["order"](START + dt.timedelta(hours=2), "A-1", 1, "50.00", number="#1001")

    def ev(n, visitor, minutes, campaign, event="pageview", order=""):
        return {
            "event_id": f"e{n}", "ts": START + dt.timedelta(hours=2, minutes=minutes), "site": "shop.example",
            "event": event, "visitor": visitor, "path": "/", "source": "social", "source_name": "Facebook",
            "device": "desktop", "browser": "Chrome", "os": "Linux", "order_number": order,
            "origin": "collector", "is_bot": False, "is_static": False, "utm_campaign": campaign,
        }  # fmt: skip

    warehouse.write_events(
        [
            ev(1, 1, 0, "mugs"),
            ev(2, 1, 3, "mugs", "purchase", "1001"),
            ev(3, 2, 0, "mugs"),
            ev(4, 3, 0, "other"),
        ],
        name="test",
    )
    warehouse.orders_export()
    c = _campaign(campaign_factory, shop, utm_campaign="mugs")
    out = results.campaign_traffic(c, (START, END))
    assert (out["visits"], out["orders"], out["conversion_rate"]) == (2, 1, 0.5)
    assert results.campaign_traffic(_campaign(campaign_factory, shop), (START, END)) is None
    spool.close()
    pipeline.sites_forget()


def test_codes_used_at_the_shop_checkout_count_as_redemptions(shop, campaign_factory, manager, ingest):
    """An order imported from a channel names the codes used at checkout; each counts once, in the window."""
    from zaplecze.promotions.models import Campaign, CodeRedemption

    codes = campaign_factory(kind="codes", value="10", targets=[], start=START, end=END, budget="100")
    services.code_add(campaign_id=codes.pk, code="AUTUMN", actor=manager)
    Campaign.objects.filter(pk=codes.pk).update(status="running")

    def coded(n, at, used, discount="10.00"):
        return ingest(
            external_id=f"K{n}", number=f"#K{n}", placed_at=at.isoformat(), shipping_cost="0", discount=discount,
            discount_codes=used,
            lines=[{"sku": "X-1", "name": "X", "quantity": 1, "unit_price_gross": "100.00", "vat_rate": "23"}],
        ).order  # fmt: skip

    first = coded(1, START + dt.timedelta(hours=2), ["autumn"])  # case does not matter
    assert first.discount_codes == ["AUTUMN"]
    coded(2, START + dt.timedelta(hours=3), ["OTHER"])  # another code: not this campaign's
    coded(3, START - dt.timedelta(days=1), ["AUTUMN"])  # before the campaign: not counted
    coded(4, START + dt.timedelta(hours=4), ["AUTUMN", "FREESHIP"], discount="5.00")
    CodeRedemption.objects.create(code=codes.codes.get(), order_ref="#K4", at=START + dt.timedelta(hours=4))
    out = results.campaign_results(codes, now=END, traffic=False)
    assert out["codes"]["redemptions"] == 2  # #K1 and #K4 (recorded through the API too: once)
    assert out["discount_cost"] == "15.00"


def test_woocommerce_and_shopify_orders_carry_their_discount_codes():
    import json
    from pathlib import Path

    from zaplecze.integrations.connectors.shopify import Shopify
    from zaplecze.integrations.connectors.woocommerce import WooCommerce

    samples = Path(__file__).resolve().parents[2].parent / "shared" / "samples"
    shopify_order = json.loads((samples / "shopify" / "order-2024-10.json").read_text())
    shopify_order = shopify_order.get("order", shopify_order)
    conn = Shopify(base_url="https://shop.myshopify.com", credentials={"access_token": "x"}, channel="shop")
    mapped = conn.map_order(shopify_order)
    expected = [c["code"] for c in shopify_order.get("discount_codes", [])]
    assert expected and mapped.order.discount_codes == expected
    woo = json.loads((samples / "woocommerce" / "order.json").read_text())
    woo["coupon_lines"] = [{"id": 1, "code": "jesien10", "discount": "10.00"}]
    w = WooCommerce(
        base_url="https://sklep.example",
        credentials={"consumer_key": "ck", "consumer_secret": "cs"},
        channel="shop",
    )
    assert w.map_order(woo).order.discount_codes == ["jesien10"]
