"""Sales metrics (reports.sales): each definition of issue #7 checked on orders made for the purpose."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest

from zaplecze.core.errors import DomainError
from zaplecze.orders.models import Order, Stage
from zaplecze.reports.sales import Period, sales_report, totals
from zaplecze.service.models import Refund

pytestmark = pytest.mark.django_db
WAW = dt.timezone(dt.timedelta(hours=1))  # Warsaw in November


def _order(ingest, n: int, when: dt.datetime, *, qty: int = 1, price: str = "100.00", **kw):
    return ingest(
        external_id=str(n),
        number=f"#{n}",
        placed_at=when.isoformat(),
        shipping_cost="0",
        lines=[
            {"sku": "SKU-0001", "name": "Kubek", "quantity": qty, "unit_price_gross": price, "vat_rate": "23"}
        ],
        **kw,
    ).order


@pytest.fixture
def shop(product_factory):
    return product_factory(sku="SKU-0001", price="100.00", stock=500)


def test_orders_count_on_their_local_day_and_cancelled_ones_do_not(ingest, shop):
    # 23:30 in Warsaw on 1 November is 22:30 UTC: it belongs to the 1st, not the 2nd.
    _order(ingest, 1, dt.datetime(2026, 11, 1, 23, 30, tzinfo=WAW), qty=2)
    _order(ingest, 2, dt.datetime(2026, 11, 2, 0, 10, tzinfo=WAW))
    cancelled = _order(ingest, 3, dt.datetime(2026, 11, 2, 12, 0, tzinfo=WAW))
    Order.objects.filter(pk=cancelled.pk).update(stage=Stage.CANCELLED)
    r = sales_report(Period(dt.date(2026, 11, 1), dt.date(2026, 11, 3)))
    assert (r["orders"], r["units"], r["revenue_gross"]) == (2, 3, D("300.00"))
    assert r["aov"] == D("150.00")
    assert [(d["day"].day, d["orders"], d["revenue_gross"], d["units"]) for d in r["by_day"]] == [
        (1, 1, D("200.00"), 2),
        (2, 1, D("100.00"), 1),
        (3, 0, D("0.00"), 0),
    ]


def test_net_revenue_subtracts_refunds_recorded_in_the_period_except_failed(ingest, shop):
    order = _order(ingest, 1, dt.datetime(2026, 10, 20, 10, tzinfo=WAW))
    base = {"order": order, "method": "transfer", "currency": "PLN"}
    Refund.objects.create(**base, amount=D("30.00"), idempotency_key="a", state="done",
                          created_at=dt.datetime(2026, 11, 5, 9, tzinfo=WAW))  # fmt: skip
    Refund.objects.create(**base, amount=D("50.00"), idempotency_key="b", state="failed",
                          created_at=dt.datetime(2026, 11, 6, 9, tzinfo=WAW))  # fmt: skip
    Refund.objects.create(**base, amount=D("7.00"), idempotency_key="c", state="done",
                          created_at=dt.datetime(2026, 12, 1, 0, 30, tzinfo=WAW))  # fmt: skip
    _order(ingest, 2, dt.datetime(2026, 11, 10, 10, tzinfo=WAW))
    t = totals(Period(dt.date(2026, 11, 1), dt.date(2026, 11, 30)))
    # the refund counts in November although its order was placed in October
    assert (t["revenue_gross"], t["refunds"], t["revenue_net"]) == (D("100.00"), D("30.00"), D("70.00"))


def test_other_currencies_are_counted_apart_and_never_summed(ingest, shop):
    _order(ingest, 1, dt.datetime(2026, 11, 3, 10, tzinfo=WAW))
    _order(ingest, 2, dt.datetime(2026, 11, 3, 11, tzinfo=WAW), currency="EUR", price="20.00")
    r = sales_report(Period(dt.date(2026, 11, 1), dt.date(2026, 11, 30)))
    assert (r["orders"], r["revenue_gross"]) == (1, D("100.00"))
    assert r["other_currencies"] == {"EUR": {"orders": 1, "revenue_gross": D("20.00")}}


def test_margin_is_marked_incomplete_when_a_line_has_no_cost(ingest, shop, product_factory):
    from zaplecze.catalog.models import Variant

    Variant.objects.filter(pk=shop.pk).update(cost_price=D("50.00"))
    _order(ingest, 1, dt.datetime(2026, 11, 3, 10, tzinfo=WAW), qty=2)  # net 2 x 81.30 = 162.60
    r = sales_report(Period(dt.date(2026, 11, 1), dt.date(2026, 11, 30)))
    assert r["margin"] == D("62.60") and r["margin_complete"] is True
    product_factory(sku="NO-COST", price="10.00", stock=5)
    ingest(
        external_id="2", number="#2", placed_at=dt.datetime(2026, 11, 4, 10, tzinfo=WAW).isoformat(),
        lines=[{"sku": "NO-COST", "name": "X", "quantity": 1, "unit_price_gross": "10.00", "vat_rate": "23"}],
    )  # fmt: skip
    r = sales_report(Period(dt.date(2026, 11, 1), dt.date(2026, 11, 30)))
    assert r["margin"] == D("62.60")  # a missing cost is not a zero cost
    assert r["margin_complete"] is False and 0 < r["margin_coverage"] < 1


def test_new_and_returning_customers(ingest, shop):
    _order(ingest, 1, dt.datetime(2026, 10, 5, 10, tzinfo=WAW), email="stala@example.com")
    _order(ingest, 2, dt.datetime(2026, 11, 5, 10, tzinfo=WAW), email="stala@example.com")
    _order(ingest, 3, dt.datetime(2026, 11, 6, 10, tzinfo=WAW), email="nowa@example.com")
    _order(ingest, 4, dt.datetime(2026, 11, 7, 10, tzinfo=WAW), email="nowa@example.com")
    r = sales_report(Period(dt.date(2026, 11, 1), dt.date(2026, 11, 30)))
    assert (r["customers"], r["new_customers"], r["returning_customers"]) == (2, 1, 1)


def test_previous_period_and_last_year_with_changes(ingest, shop):
    _order(ingest, 1, dt.datetime(2026, 11, 10, 10, tzinfo=WAW), qty=3)
    _order(ingest, 2, dt.datetime(2026, 10, 10, 10, tzinfo=WAW), qty=2)  # previous 30 days: 2.10-31.10
    _order(ingest, 3, dt.datetime(2025, 11, 10, 10, tzinfo=WAW))
    r = sales_report(Period(dt.date(2026, 11, 1), dt.date(2026, 11, 30)))
    assert r["previous_period"]["from"] == dt.date(2026, 10, 2)
    assert r["previous_period"]["revenue_gross"] == D("200.00")
    assert r["same_period_last_year"]["revenue_gross"] == D("100.00")
    assert r["change_vs_previous"]["revenue_gross"] == 0.5
    assert r["change_vs_last_year"]["revenue_gross"] == 2.0


def test_an_empty_period_has_zeros_not_errors():
    r = sales_report(Period(dt.date(2026, 1, 1), dt.date(2026, 1, 7)))
    assert (r["orders"], r["revenue_gross"], r["aov"], r["margin"]) == (0, D("0.00"), None, None)
    assert len(r["by_day"]) == 7 and r["change_vs_previous"]["orders"] is None


def test_a_period_that_ends_before_it_starts_is_refused():
    with pytest.raises(DomainError) as err:
        Period(dt.date(2026, 2, 1), dt.date(2026, 1, 1))
    assert err.value.field == "to"


def test_29_february_last_year_is_the_28th():
    p = Period(dt.date(2028, 2, 29), dt.date(2028, 2, 29)).last_year()
    assert (p.start, p.end) == (dt.date(2027, 2, 28), dt.date(2027, 2, 28))


def test_by_category_and_brand_with_margin_marked_incomplete(ingest, product_factory):
    from zaplecze.catalog.models import Category, Product, Variant

    a = product_factory(sku="CAT-A", price="100.00", stock=10)
    b = product_factory(sku="CAT-B", price="50.00", stock=10)
    cups = Category.objects.create(name="Kubki", slug="kubki")
    Product.objects.filter(pk=a.product_id).update(category=cups, brand="Ceramik")
    Product.objects.filter(pk=b.product_id).update(category=cups, brand="Glina")
    Variant.objects.filter(pk=a.pk).update(cost_price=D("40.00"))
    for n, sku, price in ((1, "CAT-A", "100.00"), (2, "CAT-B", "50.00")):
        ingest(
            external_id=str(n), number=f"#{n}", placed_at=dt.datetime(2026, 11, 3, 10, tzinfo=WAW).isoformat(),
            lines=[{"sku": sku, "name": sku, "quantity": 1, "unit_price_gross": price, "vat_rate": "23"}],
        )  # fmt: skip
    r = sales_report(Period(dt.date(2026, 11, 1), dt.date(2026, 11, 30)))
    (cat,) = r["by_category"]
    assert (cat["name"], cat["revenue_gross"], cat["units"]) == ("Kubki", D("150.00"), 2)
    assert cat["margin"] == D("41.30") and cat["margin_complete"] is False  # 81.30 - 40, B has no cost
    brands = {x["name"]: x for x in r["by_brand"]}
    assert brands["Ceramik"]["margin_complete"] is True and brands["Glina"]["margin"] is None


def test_by_week_and_by_month_add_up_to_the_totals(ingest, shop):
    # Sunday 30 Nov and Monday 1 Dec: two ISO weeks and two months; 29 Nov is in the same week as 30 Nov.
    _order(ingest, 1, dt.datetime(2026, 11, 29, 12, 0, tzinfo=WAW))
    _order(ingest, 2, dt.datetime(2026, 11, 30, 12, 0, tzinfo=WAW), qty=2)
    _order(ingest, 3, dt.datetime(2026, 12, 1, 9, 0, tzinfo=WAW), qty=3)
    data = sales_report(Period(dt.date(2026, 11, 25), dt.date(2026, 12, 2)))
    weeks = [(w["from"], w["to"], w["orders"], w["units"]) for w in data["by_week"]]
    assert weeks == [
        (dt.date(2026, 11, 25), dt.date(2026, 11, 29), 1, 1),  # the period's part of the week of 23 Nov
        (dt.date(2026, 11, 30), dt.date(2026, 12, 2), 2, 5),
    ]
    months = [(m["key"], m["orders"], m["revenue_gross"]) for m in data["by_month"]]
    assert months == [(dt.date(2026, 11, 1), 2, D("300.00")), (dt.date(2026, 12, 1), 1, D("300.00"))]
    assert sum(m["revenue_gross"] for m in data["by_month"]) == data["revenue_gross"]


def test_breakdown_rows_drill_down_to_their_orders(admin_client, ingest, shop):
    from django.urls import reverse

    _order(
        ingest, 1, dt.datetime(2026, 11, 10, 12, 0, tzinfo=WAW), payment_method="cod", payment_status="unpaid"
    )
    _order(ingest, 2, dt.datetime(2026, 11, 11, 12, 0, tzinfo=WAW))
    page = admin_client.get(
        reverse("reports:index"), {"kind": "sales", "date_from": "2026-11-01", "date_to": "2026-11-30"}
    )
    links = {}
    for title, _head, rows in page.context["tables"]:
        for row in rows:
            if isinstance(row[0], dict):
                links.setdefault(str(title), []).append(row[0]["url"])
    [cod] = [u for u in links["By payment method"] if "payment_method=cod" in u]
    queue = admin_client.get(cod).content.decode()
    assert "#1" in queue and "#2" not in queue
    [week] = links["By week"][:1]
    assert "date_from=2026-11-09" in week and "date_to=2026-11-15" in week
    assert links["By month"] and links["By delivery method"]


def test_return_rate_counts_orders_with_a_return_that_was_not_rejected(ingest, shop):
    from zaplecze.service.models import Return

    orders = [_order(ingest, n, dt.datetime(2026, 11, 10 + n, 12, 0, tzinfo=WAW)) for n in range(1, 5)]
    now = dt.datetime(2026, 11, 20, 12, 0, tzinfo=WAW)

    def _return(order, state):
        Return.objects.create(order=order, state=state, statement_sent_at=now, statement_received_at=now,
                              refund_due=now.date(), refund_warn_on=now.date())  # fmt: skip

    _return(orders[0], "requested")
    _return(orders[0], "accepted")  # a second return of the same order: still one order with a return
    _return(orders[1], "rejected")  # refused: not a return
    data = sales_report(Period(dt.date(2026, 11, 1), dt.date(2026, 11, 30)))
    assert (data["returned_orders"], data["return_rate"]) == (1, 0.25)
    assert data["previous_period"]["return_rate"] is None  # no orders then: no rate, not 0 %
