"""GDPR: a purchase event naming an order links that visitor id's day to the customer. The customer's export
includes it; the erasure deletes it from the stored Parquet (events and pre-built visits), nothing else."""

from __future__ import annotations

import datetime as dt

import pyarrow.parquet as pq
import pytest

from tests.service.conftest import delivered_order, informed_channel  # noqa: F401 - fixtures
from zaplecze.analytics import metrics, visits, warehouse
from zaplecze.service import privacy

SITE = "shop.example"


def ev(n, visitor, ts, event="pageview", path="/", order="", origin="collector"):
    return {
        "event_id": f"g{n}",
        "ts": ts,
        "site": SITE,
        "event": event,
        "visitor": visitor,
        "path": path,
        "source": "search",
        "source_name": "Google",
        "device": "mobile",
        "browser": "Chrome",
        "os": "Android",
        "order_number": order,
        "origin": origin,
        "is_bot": False,
        "is_static": False,
    }


@pytest.fixture
def linked(delivered_order, make_user):  # noqa: F811 - the imported fixture
    order = delivered_order()
    number = order.number.lstrip("#")
    t = order.placed_at.astimezone(dt.UTC).replace(hour=10, minute=0, second=0, microsecond=0)
    anna, other = 77, 88
    events = [
        ev(1, anna, t, path="/kubki"),
        ev(2, anna, t + dt.timedelta(minutes=2), "product_view", "/p/kubek"),
        ev(3, anna, t + dt.timedelta(minutes=5), "purchase", "/dziekujemy", order=number),
        ev(4, anna, t + dt.timedelta(hours=3), path="/blog"),  # a second visit the same day
        ev(5, anna, t + dt.timedelta(hours=4), "request", "/robots.txt", origin="log"),
        ev(6, other, t + dt.timedelta(minutes=1)),
        ev(7, other, t + dt.timedelta(minutes=9), "purchase", "/dziekujemy", order="999999"),
        ev(8, anna, t + dt.timedelta(days=1)),  # the same id another day: another salt, someone else
    ]
    warehouse.write_events(events[:4], name="a")
    warehouse.write_events(events[4:], name="b")
    day = t.date()
    visits.ensure(day - dt.timedelta(days=1), day + dt.timedelta(days=1))
    return {"order": order, "number": number, "day": day, "staff": make_user("service", "ola")}


def _stored() -> list[tuple]:
    con = warehouse.connect()
    rows = con.execute("SELECT event_id, visitor, order_number FROM events ORDER BY event_id").fetchall()
    con.close()
    return rows


def _numbers_in_visits() -> set[str]:
    out = set()
    for f in visits.visits_dir().rglob("*.parquet"):
        for orders in pq.read_table(f, columns=["orders"]).column(0).to_pylist():
            out.update(o["number"] for o in orders)
    return out


def test_export_includes_the_visitor_day_linked_by_the_order(linked):
    subject = privacy.subject_resolve("anna@example.com")
    doc = privacy.export_document(subject, actor=linked["staff"])
    [entry] = doc["traffic"]
    assert entry["orders"] == [linked["number"]] and entry["day"] == linked["day"].isoformat()
    assert [e["path"] for e in entry["events"]] == [
        "/kubki",
        "/p/kubek",
        "/dziekujemy",
        "/blog",
        "/robots.txt",
    ]
    assert [(v["entry_page"], v["exit_page"], v["converted"]) for v in entry["visits"]] == [
        ("/kubki", "/kubki", True),
        ("/blog", "/blog", False),
    ]
    assert doc["counts"]["traffic"] == 1
    assert "999999" not in str(doc["traffic"])  # somebody else's purchase


def test_erasure_deletes_the_linked_visitor_day_and_rebuilds_the_visits(linked):
    assert linked["number"] in _numbers_in_visits()
    day = linked["day"]
    q = metrics.Query(SITE, day - dt.timedelta(days=1), day + dt.timedelta(days=1))
    with metrics.Workspace(q, previous=False) as ws:
        before = {c.key: c.value for c in metrics.summary(ws)}

    subject = privacy.subject_resolve("anna@example.com")
    counts = privacy.erase(subject, actor=linked["staff"], confirm="anna@example.com")

    assert counts["traffic_events"] == 5
    assert _stored() == [("g6", 88, ""), ("g7", 88, "999999"), ("g8", 77, "")]
    assert linked["number"] not in _numbers_in_visits()  # no old visits file left behind
    with metrics.Workspace(q, previous=False) as ws:
        after = {c.key: c.value for c in metrics.summary(ws)}
    assert (before["visits"], after["visits"]) == (4, 2)
    assert after["unmatched_purchases"] == 1
    assert privacy.AUDIT_TYPE  # the order itself keeps its number for the accounts (service.privacy)
    linked["order"].refresh_from_db()
    assert linked["order"].number == f"#{linked['number']}"
    # repeating finds nothing more
    from zaplecze.analytics import privacy as analytics_privacy

    assert analytics_privacy.erase([linked["number"]]) == 0


def test_nothing_linked_changes_nothing(analytics_root, db):
    from zaplecze.analytics import privacy as analytics_privacy

    t = dt.datetime(2026, 11, 20, 10, tzinfo=dt.UTC)
    warehouse.write_events([ev(1, 5, t), ev(2, 5, t, "purchase", order="42")], name="a")
    before = {p: p.stat().st_mtime_ns for p in warehouse.events_dir().rglob("*.parquet")}
    assert analytics_privacy.export(["43"]) == []
    assert analytics_privacy.erase(["43"]) == 0
    assert {p: p.stat().st_mtime_ns for p in warehouse.events_dir().rglob("*.parquet")} == before
