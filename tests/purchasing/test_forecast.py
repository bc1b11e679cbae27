"""The forecast and the reorder arithmetic (pure functions), and the stored computation per variant."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest

from zaplecze.purchasing import forecast
from zaplecze.purchasing.explain import steps_text

WEEK = [2, 2, 3, 2, 6, 10, 1]  # Mon..Sun: weekend-heavy shop


def _seasonal(days: int, noise: float = 0.3, seed: int = 7) -> list[float]:
    rng = np.random.default_rng(seed)
    return [max(0.0, WEEK[i % 7] + rng.normal(0, noise)) for i in range(days)]


def test_holt_winters_learns_the_weekly_pattern():
    history = _seasonal(12 * 7)  # starts on a Monday
    fc = forecast.forecast_daily(history, horizon=14, first_weekday=0)
    assert fc.method == "holt_winters"
    # the forecast starts on a Monday again (84 days later): it reproduces the pattern day by day
    for got, want in zip(fc.path[:7], WEEK, strict=True):
        assert abs(got - want) < 0.6
    assert fc.path[5] > 3 * fc.path[6]  # Saturday peak, Sunday trough
    assert abs(fc.daily_rate - sum(WEEK) / 7) < 0.2
    assert 0.1 < fc.sigma < 0.6  # close to the noise put in
    hw = next(s for s in fc.steps if s["code"] == "method_hw")
    assert hw["params"]["week"]["5"] == round(fc.path[5], 3)  # weekday 5 = Saturday


def test_the_weekly_season_beats_a_flat_forecast_on_the_lead_time():
    history = _seasonal(10 * 7)
    fc = forecast.forecast_daily(history, horizon=7, first_weekday=0)
    # the next 3 days are Mon-Wed (2, 2, 3 units): a flat mean (3.71/day) would say 11.1
    assert abs(fc.total(3) - 7) < 1.2


def test_short_histories_use_mean_or_simple_smoothing():
    mean = forecast.forecast_daily([1, 3, 2], horizon=7)
    assert mean.method == "mean"
    assert mean.path == [2.0] * 7
    assert mean.sigma == pytest.approx(1.0)
    ses = forecast.forecast_daily([2, 2, 2, 3, 2, 2, 2, 2, 3, 2], horizon=7)
    assert ses.method == "ses"
    assert 2.0 <= ses.path[0] <= 2.5


def test_no_history_or_no_sales_forecasts_zero():
    for history in ([], [0, 0, 0, 0, 0, 0, 0, 0, 0, 0]):
        fc = forecast.forecast_daily(history, horizon=10)
        assert fc.method == "none"
        assert fc.daily_rate == 0 and fc.sigma == 0 and fc.total(10) == 0
    numbers = forecast.reorder_numbers(
        forecast.forecast_daily([], horizon=7), cover_days=7, service_level=0.95
    )
    assert (numbers.safety_stock, numbers.reorder_point) == (0, 0)


def test_safety_stock_and_reorder_point_formula():
    fc = forecast.Forecast("mean", [4.0] * 30, sigma=2.0)
    n = forecast.reorder_numbers(fc, cover_days=9, service_level=0.95)
    # 1.645 × 2 × √9 = 9.87 -> 10; 36 + 10 = 46
    assert n.z == pytest.approx(1.6449, abs=1e-3)
    assert n.safety_stock == 10
    assert n.lead_time_demand == 36
    assert n.reorder_point == 46
    text = " ".join(steps_text(n.steps))
    assert "1.645 × 2.0 × 3.0 = 9.869" in text and "36.0 + 10 = 46.0" in text


@pytest.mark.parametrize(
    ("moq", "pack", "expected"),
    [
        (1, 1, 36),  # (20 - 12) + 2/day × 14 = 36
        (50, 1, 50),  # raised to the minimum order quantity
        (1, 12, 36),  # already whole packs
        (1, 10, 40),  # 36 -> 4 packs of 10
        (50, 12, 60),  # 50 -> 5 packs of 12
    ],
)
def test_suggested_quantity_respects_moq_and_pack_size(moq, pack, expected):
    s = forecast.suggest_quantity(
        available=10,
        on_order=2,
        reorder_point=20,
        daily_rate=2.0,
        review_days=14,
        min_order_qty=moq,
        pack_size=pack,
    )
    assert s.quantity == expected
    assert s.quantity >= moq and s.quantity % pack == 0
    assert s.steps[-1] == {"code": "result", "params": {"qty": expected}}


def test_nothing_suggested_above_the_reorder_point():
    s = forecast.suggest_quantity(available=15, on_order=6, reorder_point=20, daily_rate=2.0, review_days=14)
    assert s.quantity == 0
    assert s.steps[-1]["code"] == "above_rop"


def test_reorder_compute_stores_numbers_and_explanation(item_factory, sales, settings):
    from zaplecze.core.businesstime import add_business_days, local_today
    from zaplecze.purchasing.models import ReorderParameter
    from zaplecze.purchasing.services import reorder_compute

    today = local_today()
    mug = item_factory(sku="MUG-1", lead=3)
    history = _seasonal(8 * 7, seed=3)
    start = today - dt.timedelta(days=len(history))
    sales(mug, {start + dt.timedelta(days=i): round(u) for i, u in enumerate(history)})
    empty = item_factory(sku="NEW-1")

    report = reorder_compute(today=today)

    assert report.computed == 2
    assert report.by_method == {"holt_winters": 1, "none": 1}
    p = ReorderParameter.objects.get(variant=mug, warehouse=None)
    cover = (add_business_days(today, 3) - today).days
    assert p.method == "holt_winters"
    assert p.lead_time_days == 3 and p.cover_days == cover
    assert p.reorder_point == math.ceil(float(p.lead_time_demand) + p.safety_stock - 1e-9)
    assert p.safety_stock == math.ceil(1.6448536 * float(p.sigma) * math.sqrt(cover) - 1e-6)
    assert p.reorder_point > 0
    codes = [s["code"] for s in p.explanation]
    assert codes == ["history", "window", "method_hw", "lead_time", "lead_demand", "safety", "rop"]
    assert all(isinstance(t, str) and t for t in steps_text(p.explanation))
    q = ReorderParameter.objects.get(variant=empty, warehouse=None)
    assert (q.method, q.reorder_point, q.safety_stock) == ("none", 0, 0)


def test_manual_parameters_keep_their_numbers(item_factory, sales):
    from zaplecze.core.businesstime import local_today
    from zaplecze.purchasing.models import ReorderParameter
    from zaplecze.purchasing.services import reorder_compute, reorder_parameter_set

    mug = item_factory(sku="MUG-1")
    today = local_today()
    sales(mug, {today - dt.timedelta(days=i): 5 for i in range(1, 30)})
    reorder_parameter_set(variant_id=mug.pk, mode="manual", reorder_point=7, safety_stock=2, actor=None)
    reorder_compute(today=today)
    p = ReorderParameter.objects.get(variant=mug)
    assert (p.reorder_point, p.safety_stock) == (7, 2)
    assert p.computed_reorder_point > 7  # 5/day over the lead time
    assert p.explanation[-1]["code"] == "manual"
    reorder_parameter_set(variant_id=mug.pk, mode="auto", actor=None)
    p.refresh_from_db()
    assert p.reorder_point == p.computed_reorder_point


def test_the_on_demand_job_and_the_nightly_task(item_factory, sales, admin_user):
    from zaplecze.core.models import Job
    from zaplecze.core.services import job_create
    from zaplecze.purchasing import tasks
    from zaplecze.purchasing.models import ReorderParameter

    mug = item_factory(sku="MUG-1")
    job = job_create(kind="purchasing.forecast", title="Recompute", owner=admin_user)
    tasks.reorder_compute_job(job.pk)  # the queue runs immediately in tests
    job.refresh_from_db()
    assert job.state == Job.State.DONE and job.result["computed"] == 1 and job.progress_done == 1
    ReorderParameter.objects.all().delete()
    tasks.reorder_compute_nightly()
    assert ReorderParameter.objects.get(variant=mug).computed_at is not None
