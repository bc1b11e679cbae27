"""Cohorts, RFM, lifetime value and ABC (reports.customers), checked against pandas on random order histories
and on small hand-made cases."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal as D

import pandas as pd
import pytest
from django.urls import reverse

from zaplecze.orders.models import Order
from zaplecze.reports.customers import abc, cohorts, lifetime_value, rfm
from zaplecze.reports.sales import Period

pytestmark = pytest.mark.django_db
WAW = dt.timezone(dt.timedelta(hours=1))


def _order(ingest, n, day: dt.date, email: str, price="100.00", qty=1, sku="SKU-0001"):
    return ingest(
        external_id=str(n),
        number=f"#{n}",
        email=email,
        shipping_cost="0",
        placed_at=dt.datetime.combine(day, dt.time(12), tzinfo=WAW).isoformat(),
        lines=[{"sku": sku, "name": sku, "quantity": qty, "unit_price_gross": price, "vat_rate": "23"}],
    ).order


@pytest.fixture
def history(ingest, product_factory):
    """60 orders of 15 customers over 2026 (seeded), and the same as a pandas frame."""
    product_factory(sku="SKU-0001", stock=1000)
    rng = random.Random(7)
    rows = []
    for n in range(1, 61):
        email = f"k{rng.randint(1, 15)}@example.com"
        day = dt.date(2026, 1, 1) + dt.timedelta(days=rng.randint(0, 300))
        qty = rng.randint(1, 3)
        _order(ingest, n, day, email, qty=qty)
        rows.append({"customer": email, "day": pd.Timestamp(day), "gross": 100.0 * qty})
    return pd.DataFrame(rows)


def test_cohort_retention_agrees_with_pandas(history):
    period = Period(dt.date(2026, 1, 1), dt.date(2026, 10, 31))
    ours = {c["cohort"]: c for c in cohorts(period)}
    df = history.copy()
    df["month"] = df["day"].dt.to_period("M")
    first = df.groupby("customer")["month"].min().rename("cohort")
    df = df.join(first, on="customer")
    df["age"] = (df["month"] - df["cohort"]).apply(lambda x: x.n)
    size = first.value_counts()
    active = df.groupby(["cohort", "age"])["customer"].nunique()
    assert sum(c["customers"] for c in ours.values()) == history["customer"].nunique()
    for cohort, n in size.items():
        row = ours[cohort.to_timestamp().date()]
        assert row["customers"] == n
        for age in range(13):
            expected = active.get((cohort, age), 0) / n
            got = row["retention"][age]
            if got is not None:
                assert got == round(expected, 4), (cohort, age)


def test_lifetime_value_and_repeat_rate_agree_with_pandas(history):
    ltv = lifetime_value(dt.date(2026, 12, 31))
    per = history.groupby("customer")["gross"].sum()
    orders = history.groupby("customer").size()
    assert ltv["customers"] == len(per)
    assert ltv["avg_clv"] == D(str(round(per.mean(), 2))).quantize(D("0.01"))
    assert ltv["median_clv"] == D(str(per.median())).quantize(D("0.01"))
    assert ltv["repeat_rate"] == round((orders >= 2).mean(), 4)


def test_rfm_puts_every_customer_in_one_segment(history):
    r = rfm(dt.date(2026, 12, 31))
    assert r["customers"] == history["customer"].nunique()
    assert sum(s["customers"] for s in r["segments"]) == r["customers"]
    assert sum(s["revenue_gross"] for s in r["segments"]) == D(str(history["gross"].sum())).quantize(
        D("0.01")
    )


def test_rfm_finds_the_champion(ingest, product_factory):
    product_factory(sku="SKU-0001", stock=1000)
    n = 0
    for i in range(10):  # ten one-off customers long ago, one frequent recent customer
        n += 1
        _order(ingest, n, dt.date(2026, 1, 5 + i), f"old{i}@example.com")
    for d in (1, 2, 3, 4, 5):
        n += 1
        _order(ingest, n, dt.date(2026, 12, 20 + d), "fan@example.com", price="300.00")
    r = rfm(dt.date(2026, 12, 31))
    seg = {s["segment"]: s for s in r["segments"]}
    assert seg["champions"]["customers"] == 1 and seg["champions"]["avg_orders"] == 5.0
    # scores are relative (quintiles): the one-off customers spread over the lower segments, none above
    assert sum(s["customers"] for k, s in seg.items() if k != "champions") == 10
    assert all(s["avg_orders"] == 1.0 for k, s in seg.items() if k != "champions")
    assert "hibernating" in seg


def test_abc_classes_by_cumulative_revenue(ingest, product_factory):
    for sku, price in (("A1", "800.00"), ("B1", "150.00"), ("C1", "30.00"), ("C2", "20.00")):
        product_factory(sku=sku, price=price, stock=10)
    for n, (sku, price) in enumerate(
        (("A1", "800.00"), ("B1", "150.00"), ("C1", "30.00"), ("C2", "20.00")), start=1
    ):
        _order(ingest, n, dt.date(2026, 11, 3), f"x{n}@example.com", price=price, sku=sku)
    result = abc(Period(dt.date(2026, 11, 1), dt.date(2026, 11, 30)))
    assert {p["sku"]: p["class"] for p in result["products"]} == {"A1": "A", "B1": "B", "C1": "C", "C2": "C"}
    assert [c["products"] for c in result["classes"]] == [1, 1, 2]


def test_cancelled_orders_do_not_count(ingest, product_factory):
    product_factory(sku="SKU-0001", stock=10)
    o = _order(ingest, 1, dt.date(2026, 11, 3), "a@example.com")
    Order.objects.filter(pk=o.pk).update(stage="cancelled")
    assert lifetime_value(dt.date(2026, 12, 31))["customers"] == 0


def test_page(admin_client, history):
    r = admin_client.get(reverse("reports:customers"), {"date_from": "2026-01-01", "date_to": "2026-10-31"})
    body = r.content.decode()
    assert r.status_code == 200 and 'data-cohort="2026-01"' in body and 'data-class="A"' in body
