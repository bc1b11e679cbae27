"""Process mining (reports.process) on order logs written for the purpose: lead times, the bottleneck,
ship-by compliance, the paths orders took, the map, and the page and API on top."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from zaplecze.orders.models import Order, OrderEvent
from zaplecze.reports.process import process_report
from zaplecze.reports.sales import Period

pytestmark = pytest.mark.django_db
UTC = dt.UTC
T0 = dt.datetime(2026, 11, 2, 8, 0, tzinfo=UTC)  # a Monday, 09:00 in Warsaw
NOV = Period(dt.date(2026, 11, 1), dt.date(2026, 11, 30))


def _trace(ingest, n: int, moves: list[tuple[float, str, str]], *, paid_h: float | None = 0.0, ship_by_h=24):
    """An order placed at T0 + n minutes whose log has `moves`: (hours after placing, stage, status)."""
    placed = T0 + dt.timedelta(minutes=n)
    order = ingest(external_id=str(n), number=f"#{n}", placed_at=placed.isoformat()).order
    OrderEvent.objects.filter(order=order).exclude(kind="created").delete()
    OrderEvent.objects.filter(order=order, kind="created").update(to_stage="new", to_status="new")
    for hours, stage, status in moves:
        OrderEvent.objects.create(
            order=order,
            kind="status",
            at=placed + dt.timedelta(hours=hours),
            to_stage=stage,
            to_status=status,
        )
    Order.objects.filter(pk=order.pk).update(
        paid_at=None if paid_h is None else placed + dt.timedelta(hours=paid_h),
        ship_by=placed + dt.timedelta(hours=ship_by_h),
        shipped_at=None,
        delivered_at=None,
    )
    return order


HAPPY = [
    (1, "ready", "paid"),
    (5, "in_fulfilment", "packed"),
    (7, "shipped", "shipped"),
    (31, "delivered", "delivered"),
]


@pytest.fixture
def log(ingest, product_factory):
    product_factory(sku="SKU-0001", stock=100)
    for n in range(1, 5):  # four happy orders, packing takes 4 h, shipping 2 h after packing
        _trace(ingest, n, HAPPY, paid_h=1)
    # one shipped late (30 h after placing, ship-by 24 h)
    _trace(
        ingest,
        5,
        [(1, "ready", "paid"), (20, "in_fulfilment", "packed"), (30, "shipped", "shipped")],
        paid_h=1,
    )
    # cancelled after payment, then re-opened
    _trace(ingest, 6, [(1, "ready", "paid"), (2, "cancelled", "cancelled"), (3, "ready", "paid")], paid_h=1)
    # never paid, cancelled
    _trace(
        ingest, 7, [(2, "awaiting_payment", "awaiting_payment"), (50, "cancelled", "cancelled")], paid_h=None
    )


def test_lead_times_bottleneck_and_ship_by(log):
    r = process_report(NOV)
    steps = {(s["from"], s["to"]): s for s in r["steps"]}
    assert steps[("placed", "paid")]["count"] == 6 and steps[("placed", "paid")]["median_h"] == 1.0
    assert steps[("paid", "packed")]["median_h"] == 4.0 and steps[("paid", "packed")]["count"] == 5
    assert steps[("packed", "shipped")]["median_h"] == 2.0
    assert steps[("shipped", "delivered")]["median_h"] == 24.0  # longer, but the carrier's part
    assert (r["bottleneck"]["from"], r["bottleneck"]["to"]) == ("paid", "packed")
    assert r["placed_to_shipped"]["count"] == 5 and r["placed_to_shipped"]["median_h"] == 7.0
    assert r["ship_by"] == {"shipped": 5, "on_time": 4, "without_ship_by": 0, "rate": 0.8}
    assert r["by"]["pay_weekday"][0]["key"] == "1"  # paid on a Monday, local time


def test_paths_with_cancelled_after_payment_and_reopened(log):
    r = process_report(NOV)
    paths = {tuple(v["path"]): v for v in r["variants"]}
    happy = paths[("new", "ready", "in_fulfilment", "shipped", "delivered")]
    assert happy["orders"] == 4 and not happy["cancelled_after_payment"]
    odd = paths[("new", "ready", "cancelled", "ready")]
    assert odd["cancelled_after_payment"] and odd["reopened"]
    unpaid = paths[("new", "awaiting_payment", "cancelled")]
    assert not unpaid["cancelled_after_payment"] and not unpaid["reopened"]


def test_the_map_counts_orders_per_stage_and_per_move(log):
    pmap = process_report(NOV)["map"]
    nodes = {n["stage"]: n["orders"] for n in pmap["nodes"]}
    assert nodes["new"] == 7 and nodes["shipped"] == 5 and nodes["cancelled"] == 2
    edges = {(e["from"], e["to"]): e for e in pmap["edges"]}
    assert edges[("ready", "in_fulfilment")]["orders"] == 5
    assert edges[("cancelled", "ready")]["orders"] == 1
    assert edges[("in_fulfilment", "shipped")]["median_h"] == 2.0


def test_an_empty_period_is_not_an_error():
    r = process_report(Period(dt.date(2020, 1, 1), dt.date(2020, 1, 31)))
    assert r["orders"] == 0 and r["bottleneck"] is None and r["variants"] == [] and r["histogram"] == []


def test_page_and_api(admin_client, log):
    page = admin_client.get(reverse("reports:process"), {"date_from": "2026-11-01", "date_to": "2026-11-30"})
    body = page.content.decode()
    assert page.status_code == 200 and 'data-stage="cancelled"' in body and "cancelled after payment" in body
    api = admin_client.get("/api/v1/reports/process", {"from": "2026-11-01", "to": "2026-11-30"})
    assert api.status_code in (200, 401)  # session auth is not the API's; checked with a token below


def test_api_with_a_token(make_user, log):
    from django.test import Client

    from zaplecze.core.services import token_create

    api = Client(HTTP_AUTHORIZATION=f"Bearer {token_create(user=make_user('organiser'))}")
    r = api.get("/api/v1/reports/process", {"from": "2026-11-01", "to": "2026-11-30"})
    assert r.status_code == 200 and r.json()["ship_by"]["rate"] == 0.8


def _report_without_refresh_noise(period=NOV):
    r = process_report(period)
    r.pop("from"), r.pop("to")
    return r


def test_the_folded_traces_give_the_same_report_as_the_raw_log(log, monkeypatch):
    from zaplecze.reports import process
    from zaplecze.reports.models import OrderTrace

    folded = _report_without_refresh_noise()
    assert OrderTrace.objects.count() == 7  # the page read the folded traces
    monkeypatch.setattr(process, "trace_table", process.trace_table_from_log)
    assert _report_without_refresh_noise() == folded


def test_a_new_status_event_refolds_only_that_order(log):
    from zaplecze.reports.models import OrderTrace
    from zaplecze.reports.traces import traces_refresh

    process_report(NOV)
    order = Order.objects.get(number="#7")
    OrderEvent.objects.create(
        order=order,
        kind="status",
        at=order.placed_at + dt.timedelta(hours=60),
        to_stage="ready",
        to_status="paid",
    )
    r = process_report(NOV)
    paths = {tuple(v["path"]) for v in r["variants"]}
    assert ("new", "awaiting_payment", "cancelled", "ready") in paths
    assert OrderTrace.objects.get(order=order).path.endswith(
        f"ready@{int((order.placed_at + dt.timedelta(hours=60)).timestamp())}"
    )
    assert traces_refresh() == 0  # nothing new: nothing folded again


def test_an_event_committed_late_below_the_last_folded_id_is_still_folded(log):
    """Ids are taken at insert but seen at commit: an id below the last folded one can appear later."""
    from zaplecze.reports.models import TraceState
    from zaplecze.reports.traces import traces_refresh

    process_report(NOV)
    order = Order.objects.get(number="#6")
    OrderEvent.objects.create(
        order=order,
        kind="status",
        at=order.placed_at + dt.timedelta(hours=9),
        to_stage="shipped",
        to_status="shipped",
    )
    # as if a later id had already been folded while this one's transaction was still open
    folded = OrderEvent.objects.create(order=order, kind="note", message="a later id, folded first")
    TraceState.objects.filter(pk=1).update(last_event_id=folded.pk)
    other = Order.objects.get(number="#1")
    OrderEvent.objects.create(
        order=other,
        kind="status",
        at=other.placed_at + dt.timedelta(hours=40),
        to_stage="completed",
        to_status="completed",
    )
    assert traces_refresh() >= 2
    paths = {tuple(v["path"]) for v in process_report(NOV)["variants"]}
    assert ("new", "ready", "cancelled", "ready", "shipped") in paths


def test_while_traces_are_first_built_the_page_reads_the_log(log, monkeypatch):
    from zaplecze.reports import process
    from zaplecze.reports.models import OrderTrace, TraceState

    expected = _report_without_refresh_noise()
    OrderTrace.objects.all().delete()
    TraceState.objects.all().delete()
    monkeypatch.setattr(process, "REFRESH_LIMIT", 3)  # one page view folds only a few events
    assert _report_without_refresh_noise() == expected
    assert 0 < OrderTrace.objects.count() < 7


def test_lead_time_by_the_carrier_of_the_first_shipment(log):
    from zaplecze.shipping.models import Carrier, Shipment

    dpd, inpost = Carrier.objects.get(code="dpd"), Carrier.objects.get(code="inpost")
    for n, carrier in ((1, dpd), (2, dpd), (5, inpost)):
        order = Order.objects.get(number=f"#{n}")
        Shipment.objects.create(order=order, carrier=carrier, reference=f"s-{n}", status="in_transit")
    Shipment.objects.create(  # a second parcel does not change the order's carrier
        order=Order.objects.get(number="#5"), carrier=dpd, reference="s-5b", status="in_transit"
    )
    rows = {r["key"]: r for r in process_report(NOV)["by"]["carrier"]}
    assert rows[inpost.name]["count"] == 1 and rows[inpost.name]["median_h"] == 30.0
    assert rows[dpd.name]["count"] == 2 and rows[dpd.name]["median_h"] == 7.0


def test_cli_prints_the_process_analysis_as_json(log):
    import json

    from click.testing import CliRunner

    from zaplecze.cli import main

    out = CliRunner().invoke(main, ["report", "process", "--from", "2026-11-01", "--to", "2026-11-30"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert data["orders"] == 7 and data["ship_by"]["rate"] == 0.8
    refused = CliRunner().invoke(main, ["report", "process", "--format", "pdf", "-o", "x.pdf"])
    assert refused.exit_code != 0 and "json only" in refused.output
