"""The real datasets (../shared/datasets, see its README) imported in full by orders.history, and the reports'
figures on them compared with the same figures computed by pandas straight from the raw files.

The pandas side follows the documented definitions (docs/history-import.md, reports/sales.py) on its own:
- Online Retail: invoices starting with "A" (bad-debt adjustments) are left out; a "C" invoice is a
  cancellation and never counts; rows with a negative quantity in other invoices are stock write-offs and
  are left out (an invoice with no other rows is no order); a line is quantity x price rounded to the cent
  half up; an order is placed at its earliest row time, UK local time, and counts in the month of that time
  in the shop's time zone; customers are the CustomerID values, orders without one are guests;
- CDNOW: every row is one order placed on its date (noon New York time), worth dollar_value;
- monthly: orders, gross revenue, customers (distinct), returning customers (with a counted order before
  the month), guest orders, repeat rate = returning / customers (4 decimals);
- CDNOW cohorts: customers by the month of their first order, the share with an order in each month after.

Full imports are fast enough to run in every test pass, so the tests import the whole files. Measured on
a 2-core machine with SQLite: each whole test (import, pandas, every month's report) 16 s (Online Retail)
and 11 s (CDNOW) when the machine is quiet, 51 s and 55 s at load average 7 from other jobs.
"""

from __future__ import annotations

import calendar
import datetime as dt
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from zaplecze.core.businesstime import tz
from zaplecze.orders.history import history_import, mapping_load
from zaplecze.orders.models import Channel, Order, OrderLine, Stage
from zaplecze.reports import customers as customer_reports
from zaplecze.reports import sales
from zaplecze.reports.sales import Period

REPO = Path(__file__).resolve().parents[2]
DATASETS = REPO.parent / "shared" / "datasets"
ONLINE_RETAIL = DATASETS / "online-retail" / "online_retail.csv.gz"
CDNOW = DATASETS / "cdnow" / "CDNOW_master.txt.gz"

pytestmark = pytest.mark.django_db


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.skip("the shared datasets are not next to the repository")  # CI turns a skip into a failure
    return path


def _channel(code: str) -> str:
    Channel.objects.create(code=code, name=code, kind=Channel.Kind.OTHER)
    return code


def _months(first: dt.date, last: dt.date) -> list[Period]:
    out, day = [], first.replace(day=1)
    while day <= last:
        end = day.replace(day=calendar.monthrange(day.year, day.month)[1])
        out.append(Period(day, end))
        day = end + dt.timedelta(days=1)
    return out


def _monthly(orders: pd.DataFrame) -> pd.DataFrame:
    """orders: one row per counted order with columns month (Period[M]), cents (int), customer (str or NA)."""
    first = orders.dropna(subset=["customer"]).groupby("customer")["month"].min().rename("first_month")
    known = orders.dropna(subset=["customer"]).join(first, on="customer")
    per = known.drop_duplicates(["month", "customer"])
    out = pd.DataFrame(
        {
            "orders": orders.groupby("month").size(),
            "cents": orders.groupby("month")["cents"].sum(),
            "customers": per.groupby("month").size(),
            "returning": per[per["first_month"] < per["month"]].groupby("month").size(),
            "guests": orders[orders["customer"].isna()].groupby("month").size(),
        }
    )
    return out.fillna(0).astype("int64")


def _compare_months(expected: pd.DataFrame, periods: list[Period], *, currency: str, channel: str) -> int:
    checked = 0
    for period in periods:
        key = pd.Period(period.start, freq="M")
        row = expected.loc[key] if key in expected.index else None
        totals = sales.totals(period, currency=currency, channel=channel)
        people = sales.customers(period, currency=currency, channel=channel)
        want_orders = int(row["orders"]) if row is not None else 0
        assert totals["orders"] == want_orders, period
        want_revenue = Decimal(int(row["cents"]) if row is not None else 0) / 100
        assert totals["revenue_gross"] == want_revenue, period
        customers_n = int(row["customers"]) if row is not None else 0
        returning = int(row["returning"]) if row is not None else 0
        assert people["customers"] == customers_n, period
        assert people["returning_customers"] == returning, period
        assert people["new_customers"] == customers_n - returning, period
        assert people["guest_orders"] == (int(row["guests"]) if row is not None else 0), period
        assert people["returning_share"] == (round(returning / customers_n, 4) if customers_n else None), (
            period
        )
        checked += want_orders
    return checked


def _online_retail_pandas(path: Path) -> tuple[pd.DataFrame, int]:
    df = pd.read_csv(path, dtype={"InvoiceNo": str, "StockCode": str, "CustomerID": str})
    df = df[~df["InvoiceNo"].str.startswith("A")]
    cancelled = df.loc[df["InvoiceNo"].str.startswith("C"), "InvoiceNo"].nunique()
    sold = df[~df["InvoiceNo"].str.startswith("C") & (df["Quantity"] > 0)].copy()
    millis = np.rint(sold["UnitPrice"].to_numpy() * 1000).astype("int64")  # prices have at most 3 decimals
    sold["cents"] = (sold["Quantity"].to_numpy() * millis + 5) // 10  # half up (all values are positive)
    sold["at"] = pd.to_datetime(sold["InvoiceDate"]).dt.tz_localize("Europe/London").dt.tz_convert(str(tz()))
    orders = sold.groupby("InvoiceNo").agg(
        at=("at", "min"), cents=("cents", "sum"), customer=("CustomerID", "first"), lines=("cents", "size")
    )
    orders["month"] = orders["at"].dt.tz_localize(None).dt.to_period("M")
    return orders, cancelled


def test_online_retail_imports_in_full_and_monthly_figures_match_pandas():
    channel = _channel("online-retail")
    report = history_import(
        path=_need(ONLINE_RETAIL), mapping=mapping_load(preset="online-retail"), channel=channel
    )
    orders, cancelled = _online_retail_pandas(ONLINE_RETAIL)

    assert report.rows == 541_909
    assert report.failed == 0 and report.errors == []
    assert report.skipped_reasons == {"order prefix skipped": 3, "negative quantity": 1336}
    assert report.created == len(orders) + cancelled
    assert Order.objects.filter(channel__code=channel, stage=Stage.CANCELLED).count() == cancelled == 3836
    assert not Order.objects.filter(channel__code=channel, currency="PLN").exists()
    biggest = orders["lines"].idxmax()
    assert OrderLine.objects.filter(order__number=biggest).count() == orders["lines"].max() > 500  # no limit

    monthly = _monthly(orders)
    periods = _months(dt.date(2010, 12, 1), dt.date(2011, 12, 31))
    assert _compare_months(monthly, periods, currency="GBP", channel=channel) == len(orders)
    # the same figures through the report with the currency derived from the channel
    data = sales.sales_report(periods[1], currency=sales.channel_currency(channel), channel=channel)
    assert data["currency"] == "GBP" and data["orders"] == int(
        monthly.loc[pd.Period("2011-01", "M"), "orders"]
    )
    assert sales.totals(periods[1], currency="PLN", channel=channel)["orders"] == 0  # never summed as PLN
    assert data["other_currencies"] == {}
    assert {r["key"] for r in data["by_region"]} <= {"abroad", "unknown"}


def _cdnow_pandas(path: Path) -> pd.DataFrame:
    df = pd.read_csv(path, sep=r"\s+", dtype={"customer_id": str, "date": str})
    at = pd.to_datetime(df["date"], format="%Y%m%d") + pd.Timedelta(hours=12)
    local = at.dt.tz_localize("America/New_York").dt.tz_convert(str(tz())).dt.tz_localize(None)
    return pd.DataFrame(
        {
            "month": local.dt.to_period("M"),
            "cents": np.rint(df["dollar_value"].to_numpy() * 100).astype("int64"),
            "customer": df["customer_id"],
        }
    )


def _cohorts_pandas(orders: pd.DataFrame, last: pd.Period, horizon: int = 12) -> list[dict]:
    first = orders.groupby("customer")["month"].min().rename("cohort")
    o = orders.join(first, on="customer")
    o["m"] = (o["month"] - o["cohort"]).apply(lambda offset: offset.n)
    active = o.drop_duplicates(["customer", "m"]).groupby(["cohort", "m"]).size()
    size = first.value_counts()
    out = []
    for cohort in sorted(size.index):
        observable = (last - cohort).n
        out.append(
            {
                "cohort": cohort.start_time.date(),
                "customers": int(size[cohort]),
                "retention": [
                    round(int(active.get((cohort, m), 0)) / int(size[cohort]), 4) if m <= observable else None
                    for m in range(horizon + 1)
                ],
            }
        )
    return out


def test_cdnow_imports_in_full_and_monthly_figures_and_cohorts_match_pandas():
    channel = _channel("cdnow")
    report = history_import(path=_need(CDNOW), mapping=mapping_load(preset="cdnow"), channel=channel)
    orders = _cdnow_pandas(CDNOW)

    assert report.rows == len(orders) == 69_659
    assert report.failed == 0 and report.created == 69_659 and report.customers_created == 23_570
    assert _compare_months(
        _monthly(orders), _months(dt.date(1997, 1, 1), dt.date(1998, 6, 30)), currency="USD", channel=channel
    ) == len(orders)
    whole = Period(dt.date(1997, 1, 1), dt.date(1998, 6, 30))
    assert sales.totals(whole, currency="USD", channel=channel)["revenue_gross"] == Decimal("2500315.63")

    got = customer_reports.cohorts(whole, currency="USD")
    assert got == _cohorts_pandas(orders, pd.Period("1998-06", "M"))
    assert [c["cohort"] for c in got] == [dt.date(1997, 1, 1), dt.date(1997, 2, 1), dt.date(1997, 3, 1)]
    assert sum(c["customers"] for c in got) == 23_570
    assert Order.objects.filter(channel__code=channel).count() == 69_659
