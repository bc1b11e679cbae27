"""Insights: each rule fires on crafted data and stays quiet on noise; dedup, states, effect measurement,
the screen, the API and the CLI."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from click.testing import CliRunner
from django.urls import reverse
from django.utils import timezone

from zaplecze.reports import insights
from zaplecze.reports.insights import Context
from zaplecze.reports.insights_services import (
    insight_transition,
    insights_measure_due,
    insights_refresh,
)
from zaplecze.reports.models import Insight

pytestmark = pytest.mark.django_db
DAY = dt.date(2026, 11, 23)  # the run day: the figures end on Sunday 22 November
WAW = dt.timezone(dt.timedelta(hours=1))


def at(day: dt.date, hour: int = 10) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=WAW)


@pytest.fixture
def store(settings, tmp_path):
    """An empty analytics store of this test's own, and the shop front it tracks."""
    from zaplecze.analytics import pipeline, spool
    from zaplecze.analytics.services import site_create

    settings.DATA_DIR = tmp_path
    pipeline.sites_forget()
    spool.close()
    site_create(domain="shop.example", name="Shop", actor=None)
    yield tmp_path
    spool.close()
    pipeline.sites_forget()


def event(n: int, visitor: int, when: dt.datetime, kind: str, **kw) -> dict:
    return {
        "event_id": f"e{n}",
        "ts": when.astimezone(dt.UTC),
        "site": "shop.example",
        "event": kind,
        "visitor": visitor,
        "path": kw.get("path", "/"),
        "source": kw.get("source", "search"),
        "source_name": kw.get("source", "search"),
        "device": "desktop",
        "browser": "Chrome",
        "os": "Windows",
        "sku": kw.get("sku", ""),
        "order_number": kw.get("order", ""),
        "origin": "collector",
        "is_bot": False,
        "is_static": False,
    }


def kinds(candidates) -> list[tuple[str, str]]:
    return sorted((c.kind, c.subject_id) for c in candidates)


# --- many views, low conversion ------------------------------------------------------------------------


def _product_traffic(ingest, product_factory, *, orders_a: int) -> None:
    """200 visits view each of two products over two weeks; B is ordered 30 times, A `orders_a` times."""
    from zaplecze.analytics import warehouse

    product_factory(sku="SKU-A", stock=1000)
    product_factory(sku="SKU-B", stock=1000)
    records, n = [], 0
    for sku, orders in (("SKU-A", orders_a), ("SKU-B", 30)):
        for i in range(200):
            n += 1
            day = DAY - dt.timedelta(days=1 + i % 14)
            records.append(event(n, n, at(day, 9 + i % 8), "product_view", sku=sku, path=f"/p/{sku}"))
        for i in range(orders):
            day = DAY - dt.timedelta(days=1 + i % 14)
            ingest(
                external_id=f"{sku}-{i}",
                number=f"#{sku}-{i}",
                placed_at=at(day).isoformat(),
                lines=[
                    {"sku": sku, "name": sku, "quantity": 1, "unit_price_gross": "40.00", "vat_rate": "23"}
                ],
            )
    warehouse.write_events(records, name="test")


def test_product_with_many_views_and_few_orders_is_flagged(store, ingest, product_factory):
    _product_traffic(ingest, product_factory, orders_a=1)
    found = insights.detect_product_conversion(insights.context(DAY))
    assert kinds(found) == [("product_conversion", "SKU-A")]
    c = found[0]
    assert (c.evidence["view_visits"], c.evidence["orders"]) == (200, 1)
    assert c.evidence["shop_rate"] == round(31 / 400, 4)
    assert c.p_value < 0.005  # Bonferroni over the two products tested
    # (7.75 % x 200 - 1) orders x 40.00 PLN per line
    assert c.expected_effect == Decimal("580.00") and c.effect_unit == "PLN"
    assert c.action_url.startswith("/products/") and "200 visits viewed it, 1 ordered" in c.title


def test_a_conversion_dip_within_sampling_error_is_not_flagged(store, ingest, product_factory):
    _product_traffic(ingest, product_factory, orders_a=16)  # 8 % against 10.3 % in the shop: noise
    assert insights.detect_product_conversion(insights.context(DAY)) == []


# --- stock-out within the lead time --------------------------------------------------------------------


def _param(variant, **kw):
    from zaplecze.purchasing.models import ReorderParameter

    values = {"daily_rate": Decimal("5"), "cover_days": 10, "lead_time_days": 7, "reorder_point": 60} | kw
    return ReorderParameter.objects.create(variant=variant, **values)


def test_stock_that_runs_out_before_a_delivery_could_arrive_is_flagged(product_factory):
    low = product_factory(sku="LOW", stock=10)
    _param(low)
    plenty = product_factory(sku="PLENTY", stock=80)  # 80 against a lead-time demand of 50: safe
    _param(plenty)
    found = insights.detect_stockout(insights.context(DAY))
    assert kinds(found) == [("stockout", "LOW")]
    c = found[0]
    assert c.evidence["position"] == 10 and c.evidence["lead_time_demand"] == 50.0
    assert c.confidence > 0.99
    assert c.expected_effect == Decimal("1999.60")  # (50 - 10) units x 49.99
    assert c.action_url == "/purchasing/reorder/?q=LOW"


# --- rising returns ------------------------------------------------------------------------------------


def _returns(ingest, product_factory, *, recent_returns: int, recent_reason: str) -> None:
    """20 orders of 5 units in the 12 weeks before (2 returned, "changed mind"), then 8 orders of 4 units in
    the last 4 weeks with `recent_returns` returns of one unit."""
    from zaplecze.service.models import Return, ReturnLine

    product_factory(sku="SKU-R", stock=1000)

    def order(n: int, day: dt.date, qty: int):
        return ingest(
            external_id=f"r{n}",
            number=f"#R{n}",
            placed_at=at(day).isoformat(),
            lines=[
                {
                    "sku": "SKU-R",
                    "name": "Shoe",
                    "quantity": qty,
                    "unit_price_gross": "100.00",
                    "vat_rate": "23",
                }
            ],
        ).order

    def give_back(o, day: dt.date, reason: str) -> None:
        r = Return.objects.create(
            order=o, state="accepted", reason=reason, statement_sent_at=at(day), statement_received_at=at(day),
            refund_due=day + dt.timedelta(days=14), refund_warn_on=day + dt.timedelta(days=10),
        )  # fmt: skip
        ReturnLine.objects.create(return_case=r, order_line=o.lines.get(), quantity=1)

    for i in range(20):
        day = DAY - dt.timedelta(days=30 + i * 4)
        o = order(i, day, 5)
        if i < 2:
            give_back(o, day + dt.timedelta(days=1), "Changed mind")
    for i in range(8):
        day = DAY - dt.timedelta(days=2 + i * 3)
        o = order(100 + i, day, 4)
        if i < recent_returns:
            give_back(o, day + dt.timedelta(days=1), recent_reason)


def test_rising_returns_of_a_product_and_of_a_reason_are_flagged(ingest, product_factory):
    _returns(ingest, product_factory, recent_returns=8, recent_reason="  Too SMALL ")
    found = insights.detect_return_rate(insights.context(DAY))
    assert kinds(found) == [("return_rate", "SKU-R"), ("return_rate", "too small")]
    product = next(c for c in found if c.subject_type == "variant")
    assert (product.evidence["returned_units"], product.evidence["sold_units"]) == (8, 32)
    assert product.evidence["baseline_rate"] == round(2.5 / 101, 4)
    assert product.p_value < 0.0025
    reason = next(c for c in found if c.subject_type == "reason")
    assert reason.evidence["returns"] == 8 and reason.action_url == "/service/returns/"


def test_a_few_more_returns_within_chance_are_not_flagged(ingest, product_factory):
    _returns(ingest, product_factory, recent_returns=3, recent_reason="Changed mind")
    assert insights.detect_return_rate(insights.context(DAY)) == []


# --- carriers late more often --------------------------------------------------------------------------


def _deliveries(ingest, product_factory, *, recent_late: int) -> str:
    from zaplecze.shipping.models import Carrier, Shipment

    product_factory(sku="SKU-0001", stock=100)
    order = ingest().order
    carrier = Carrier.objects.order_by("code").first()
    n = 0

    def ship(day: dt.date, late: bool) -> None:
        nonlocal n
        n += 1
        handed = at(day, 12)
        delivered = handed + (dt.timedelta(days=12) if late else dt.timedelta(hours=20))
        Shipment.objects.create(
            order=order, carrier=carrier, reference=f"S{n}", status="delivered",
            handed_over_at=handed, delivered_at=delivered,
        )  # fmt: skip

    for i in range(40):  # the 8 weeks before: 4 of 40 late
        ship(DAY - dt.timedelta(days=30 + i), late=i < 4)
    for i in range(40):
        ship(DAY - dt.timedelta(days=15 + i % 10), late=i < recent_late)
    return carrier.code


def test_a_carrier_late_more_often_is_flagged(ingest, product_factory):
    code = _deliveries(ingest, product_factory, recent_late=20)
    found = insights.detect_carrier_late(insights.context(DAY))
    assert kinds(found) == [("carrier_late", code)]
    c = found[0]
    assert (c.evidence["late"], c.evidence["delivered"], c.evidence["baseline_rate"]) == (20, 40, 0.1)
    assert c.expected_effect == Decimal("16.00") and c.effect_unit == "deliveries"  # (50 % - 10 %) x 40
    assert c.action_url.startswith("/shipping/performance/?date_from=2026-10-26")


def test_a_carrier_a_little_later_by_chance_is_not_flagged(ingest, product_factory):
    _deliveries(ingest, product_factory, recent_late=6)  # 15 % against 10 %
    assert insights.detect_carrier_late(insights.context(DAY)) == []


# --- traffic: channel conversion against its weekday baseline, abandoned checkouts ----------------------


def _days(recent_orders: int, *, recent_purchases: int = 40, weekend_factor: int = 1) -> dict:
    """Five weeks of crafted daily figures (the shape insights_traffic.daily returns): "search" brings 40
    visits a day converting at 5 % (weekends: `weekend_factor` x the visits at the same rate); in the last 7
    days it converts `recent_orders` a day. 50 checkouts a day, 40 purchases (`recent_purchases` lately)."""
    out = {}
    for i in range(35):
        day = DAY - dt.timedelta(days=35 - i)
        recent = i >= 28
        visits = 40 * (weekend_factor if day.weekday() >= 5 else 1)
        orders = recent_orders if recent else visits // 20
        out[day] = {
            "visitors": visits,
            "visits": visits,
            "orders": orders,
            "conversion_rate": orders / visits,
            "funnel": {"begin_checkout": 50, "purchase": recent_purchases if recent else 40},
            "sources": {"search": {"visits": visits, "orders": orders, "revenue": Decimal(orders * 150)}},
        }
    return out


@pytest.fixture
def crafted(monkeypatch):
    holder = {}

    def daily(site, days, *, cache=None):
        return {d: holder["days"][d] for d in days}

    monkeypatch.setattr(insights.insights_traffic, "daily", daily)
    return holder


def test_a_significant_channel_conversion_drop_is_flagged(crafted):
    crafted["days"] = _days(recent_orders=0)
    found = insights.detect_channel_conversion(Context(today=DAY, site="shop.example"))
    assert kinds(found) == [("channel_conversion", "search")]
    c = found[0]
    assert (c.evidence["orders"], c.evidence["expected_orders"]) == (0, 14.0)
    assert c.expected_effect == Decimal("2100.00")  # 14 orders x 150 PLN
    assert "source=search" in c.action_url and c.period == insights.Period(
        DAY - dt.timedelta(days=7), DAY - dt.timedelta(days=1)
    )


def test_a_channel_conversion_dip_within_noise_is_not_flagged(crafted):
    crafted["days"] = _days(recent_orders=1)  # 7 against 14 expected: z = -1.9, not significant
    assert insights.detect_channel_conversion(Context(today=DAY, site="shop.example")) == []


def test_the_channel_baseline_is_weekday_seasonal(crafted):
    """Weekends bring 5x the visits at the same rate: the expectation follows each weekday's own rate."""
    crafted["days"] = _days(recent_orders=2, weekend_factor=5)
    days = crafted["days"]
    recent = [DAY - dt.timedelta(days=d) for d in range(7, 0, -1)]
    b = insights.channel_baseline(days, recent, "search")
    assert b["expected"] == pytest.approx(0.05 * (5 * 40 + 2 * 200))
    assert b["weekday_rates"]["5"] == 0.05


def test_more_abandoned_checkouts_are_flagged_and_a_wobble_is_not(crafted, ingest, product_factory):
    crafted["days"] = _days(recent_orders=2, recent_purchases=30)
    ctx = Context(today=DAY, site="shop.example")
    found = insights.detect_abandoned_checkout(ctx)
    assert kinds(found) == [("abandoned_checkout", "shop.example")]
    assert (found[0].evidence["rate"], found[0].evidence["baseline_rate"]) == (0.4, 0.2)
    crafted["days"] = _days(recent_orders=2, recent_purchases=38)  # 24 % against 20 %
    assert insights.detect_abandoned_checkout(Context(today=DAY, site="shop.example")) == []


def test_daily_traffic_figures_come_from_the_analytics_metrics(store, ingest, product_factory):
    from zaplecze.analytics import warehouse
    from zaplecze.reports import insights_traffic

    product_factory(sku="SKU-0001", stock=100)
    ingest(external_id="1", number="#1", placed_at=at(DAY - dt.timedelta(days=1)).isoformat())
    day = DAY - dt.timedelta(days=1)
    warehouse.write_events(
        [
            event(1, 1, at(day, 10), "pageview"),
            event(2, 1, at(day, 10).replace(minute=1), "begin_checkout"),
            event(3, 1, at(day, 10).replace(minute=2), "purchase", order="1"),
            event(4, 2, at(day, 11), "pageview", source="social"),
            event(5, 2, at(day, 11).replace(minute=1), "begin_checkout", source="social"),
        ],
        name="test",
    )
    got = insights_traffic.daily("shop.example", [day])[day]
    assert (got["visitors"], got["visits"], got["orders"], got["conversion_rate"]) == (2, 2, 1, 0.5)
    assert got["funnel"]["begin_checkout"] == 0  # the funnel counts checkouts after a product view
    assert got["sources"]["search"]["orders"] == 1 and got["sources"]["social"]["visits"] == 1


# --- slow-moving stock ----------------------------------------------------------------------------------


def test_stock_that_will_not_sell_in_half_a_year_is_a_promotion_candidate(product_factory):
    product_factory(sku="SLOW", stock=100)
    product_factory(sku="FEW", stock=5)  # 5 units: could sell at the upper bound of an unseen rate
    today = timezone.localdate() + dt.timedelta(days=100)
    found = insights.detect_slow_stock(insights.context(today))
    assert kinds(found) == [("slow_stock", "SLOW")]
    c = found[0]
    assert c.evidence["sold_units"] == 0 and c.evidence["daily_rate_upper_95"] == pytest.approx(
        0.033, abs=0.001
    )
    assert c.expected_effect == Decimal("4999.00")  # 100 x 49.99 (no cost price: the selling price)


def test_new_stock_is_not_slow_yet(product_factory):
    product_factory(sku="SLOW", stock=100)
    assert insights.detect_slow_stock(insights.context(timezone.localdate() + dt.timedelta(days=30))) == []


# --- orders stalling at a stage -------------------------------------------------------------------------


def _stage_times(monkeypatch, stalled: int):
    history = {"ready": [float(h % 10 + 1) for h in range(100)]}  # p90 = 10 h
    current = {"ready": [(i, 50.0 if i < stalled else 2.0) for i in range(20)]}
    monkeypatch.setattr(insights, "_stage_times", lambda ctx: (history, current))


def test_orders_stalling_at_a_stage_are_flagged(monkeypatch):
    _stage_times(monkeypatch, stalled=8)
    found = insights.detect_stage_stall(insights.context(DAY))
    assert kinds(found) == [("stage_stall", "ready")]
    assert (found[0].evidence["stalled_orders"], found[0].evidence["open_orders"]) == (8, 20)
    assert found[0].action_url == "/orders/?stage=ready"


def test_the_usual_share_beyond_the_90th_percentile_is_not_a_stall(monkeypatch):
    _stage_times(monkeypatch, stalled=3)  # 3 of 20 (15 %) against 10 %: chance
    assert insights.detect_stage_stall(insights.context(DAY)) == []


def test_stage_times_are_read_from_the_order_traces(ingest, product_factory):
    from zaplecze.orders.services import order_transition

    product_factory(sku="SKU-0001", stock=100)
    placed = timezone.now() - dt.timedelta(hours=30)
    first = ingest(external_id="1", number="#1", placed_at=placed.isoformat()).order
    ingest(external_id="2", number="#2", placed_at=placed.isoformat())
    order_transition(order_id=first.pk, status_code="cancelled", actor=None)
    done, current = insights._stage_times(insights.context(timezone.localdate() + dt.timedelta(days=1)))
    assert sum(len(v) for v in done.values()) == 1  # the cancelled order left its first stage
    ((stage, rows),) = current.items()
    assert [oid for oid, _h in rows] == [first.pk + 1] and rows[0][1] >= 30


# --- the stored insight: dedup, states, measured effect --------------------------------------------------


@pytest.fixture
def short_of_stock(product_factory):
    variant = product_factory(sku="LOW", stock=10)
    _param(variant)
    return variant


def test_a_second_run_updates_the_open_insight_instead_of_adding_one(short_of_stock):
    first = insights_refresh(DAY, kinds=["stockout"])
    assert [i.subject_id for i in first["created"]] == ["LOW"] and first["updated"] == []
    second = insights_refresh(DAY + dt.timedelta(days=1), kinds=["stockout"])
    assert second["created"] == [] and [i.pk for i in second["updated"]] == [first["created"][0].pk]
    insight = Insight.objects.get()
    assert (insight.first_seen, insight.last_seen) == (DAY, DAY + dt.timedelta(days=1))


def test_a_dismissed_finding_is_not_raised_again_for_a_while(short_of_stock, admin_user):
    (insight,) = insights_refresh(DAY, kinds=["stockout"])["created"]
    insight_transition(insight_id=insight.pk, state="dismissed", actor=admin_user, note="discontinued")
    assert insights_refresh(DAY, kinds=["stockout"])["created"] == []
    assert Insight.objects.count() == 1


def test_state_moves_follow_the_table_and_are_audited(short_of_stock, admin_user):
    from zaplecze.core.errors import IllegalTransition
    from zaplecze.core.models import AuditEntry

    (insight,) = insights_refresh(DAY, kinds=["stockout"])["created"]
    insight_transition(insight_id=insight.pk, state="accepted", actor=admin_user, note="ordering")
    done = insight_transition(insight_id=insight.pk, state="done", actor=admin_user, note="PO sent")
    assert (done.state, done.note, done.state_changed_by) == ("done", "PO sent", admin_user)
    assert done.done_at is not None
    with pytest.raises(IllegalTransition):
        insight_transition(insight_id=insight.pk, state="accepted", actor=admin_user)
    assert list(
        AuditEntry.objects.filter(object_type="reports.insight")
        .order_by("id")
        .values_list("action", flat=True)
    ) == ["insight_accepted", "insight_done"]


def test_the_effect_is_measured_over_an_equal_period_after_done(short_of_stock, admin_user):
    from zaplecze.inventory.services import stock_adjust, warehouse_default

    (insight,) = insights_refresh(DAY, kinds=["stockout"])["created"]
    insight_transition(insight_id=insight.pk, state="done", actor=admin_user)
    stock_adjust(
        variant=short_of_stock, warehouse=warehouse_default(), delta=100, kind="receipt", reason="PO"
    )
    today = timezone.localdate()
    assert insights_measure_due(today + dt.timedelta(days=6)) == []  # the 7 days after are not over yet
    (measured,) = insights_measure_due(today + dt.timedelta(days=8))
    m = measured.measured_effect
    assert m["before"] > 0.99 and m["after"] == 0.0 and m["improved"] is True
    assert (m["after_from"], m["after_to"]) == (today.isoformat(), (today + dt.timedelta(days=6)).isoformat())
    assert insights_measure_due(today + dt.timedelta(days=9)) == []  # measured once


# --- the screen, the API, the CLI -----------------------------------------------------------------------


def test_insights_page_shows_the_evidence_and_changes_state(
    admin_client, short_of_stock, django_assert_max_num_queries
):
    (insight,) = insights_refresh(DAY, kinds=["stockout"])["created"]
    with django_assert_max_num_queries(12):
        page = admin_client.get(reverse("reports:insights"))
    html = page.content.decode()
    assert page.status_code == 200 and f'data-insight="{insight.pk}"' in html
    assert "Stock-out within the lead time" in html and "Demand over the lead time" in html
    assert 'href="/purchasing/reorder/?q=LOW"' in html
    r = admin_client.post(
        reverse("reports:insight_state", args=[insight.pk]),
        {"state": "accepted", "note": "on it", "kind": ""},
    )
    assert r.status_code == 302
    insight.refresh_from_db()
    assert (insight.state, insight.note) == ("accepted", "on it")
    dismissed = admin_client.get(reverse("reports:insights") + "?state=dismissed").content.decode()
    assert f'data-insight="{insight.pk}"' not in dismissed


def test_a_readonly_user_sees_insights_but_cannot_change_them(client, make_user, short_of_stock):
    (insight,) = insights_refresh(DAY, kinds=["stockout"])["created"]
    client.force_login(make_user("readonly"))
    assert client.get(reverse("reports:insights")).status_code == 200
    r = client.post(reverse("reports:insight_state", args=[insight.pk]), {"state": "dismissed"})
    assert r.status_code == 403
    insight.refresh_from_db()
    assert insight.state == "new"


def test_api_lists_gets_and_changes_state(client, make_user, short_of_stock):
    from zaplecze.core.services import token_create

    (insight,) = insights_refresh(DAY, kinds=["stockout"])["created"]
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token_create(user=make_user('organiser'), name='t')}"}
    listed = client.get("/api/v1/reports/insights?kind=stockout", **headers).json()
    assert [i["id"] for i in listed] == [insight.pk] and listed[0]["evidence"]["position"] == 10
    one = client.get(f"/api/v1/reports/insights/{insight.pk}", **headers).json()
    assert one["action_url"] == "/purchasing/reorder/?q=LOW" and one["state"] == "new"
    url = f"/api/v1/reports/insights/{insight.pk}/state"
    r = client.post(url, {"state": "done", "note": "ordered"}, content_type="application/json", **headers)
    assert r.status_code == 200 and r.json()["state"] == "done" and r.json()["state_changed_by"]
    again = client.post(url, {"state": "accepted"}, content_type="application/json", **headers)
    assert again.status_code == 409 and again.json()["code"] == "illegal_transition"
    assert client.get("/api/v1/reports/insights/999999", **headers).status_code == 404


def test_cli_refreshes_and_prints_json(short_of_stock):
    from zaplecze.cli import main

    out = CliRunner().invoke(main, ["insights", "--refresh", "--json"])
    assert out.exit_code == 0, out.output
    rows = json.loads(out.stdout)
    assert [(r["kind"], r["subject_id"], r["state"]) for r in rows] == [("stockout", "LOW", "new")]
    text = CliRunner().invoke(main, ["insights", "--kind", "stockout"])
    assert text.exit_code == 0 and "LOW" in text.output
    assert CliRunner().invoke(main, ["insights", "--kind", "nonsense"]).exit_code == 2
