"""Daily demand forecast of one variant and the reorder numbers derived from it. Pure functions: no
database; the services feed them daily quantities and store what they return.

Method (docs/purchasing.md explains it with an example):

* history: units sold per calendar day (Europe/Warsaw), from the later of "history_days ago" and the
  variant's first stock movement, up to yesterday (today is not over yet);
* no sales at all -> forecast 0;
* fewer than 7 days -> the mean of the days (σ = their standard deviation);
* 7 to 20 days -> simple exponential smoothing (statsmodels SimpleExpSmoothing, α estimated);
* 21 days (three full weeks) or more -> Holt-Winters exponential smoothing with an additive weekly season
  (statsmodels ExponentialSmoothing, seasonal_periods=7, no trend; α and γ estimated). If the fit fails,
  simple exponential smoothing is used and the step says so;
* σ = standard deviation of the one-day-ahead errors (actual minus fitted) over the history;
* safety stock = z(service level) × σ × √(lead-time days); reorder point = demand forecast over the lead
  time + safety stock, both rounded up to whole units.

Every step is returned as {"code": ..., "params": {...}} so the screen can say it in the user's language
(`explain.py`)."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from statistics import NormalDist

import numpy as np

MEAN_BELOW_DAYS = 7
HOLT_WINTERS_FROM_DAYS = 21
SEASON = 7


@dataclass
class Forecast:
    method: str  # none | mean | ses | holt_winters
    path: list[float]  # forecast per day, day 0 = today; never negative
    sigma: float
    steps: list[dict] = field(default_factory=list)

    @property
    def daily_rate(self) -> float:
        """Average forecast per day over the next week (a whole season, so weekdays even out)."""
        head = self.path[:SEASON]
        return float(sum(head) / len(head)) if head else 0.0

    def total(self, days: int) -> float:
        return float(sum(self.path[:days]))


def _r(x: float, n: int = 3) -> float:
    return round(float(x), n)


def forecast_daily(history: list[float], *, horizon: int, first_weekday: int = 0) -> Forecast:
    """Forecast `horizon` days (at least 7) from daily quantities `history` (oldest first). `first_weekday`
    is the weekday (0 = Monday) of history[0]; it only labels the weekly pattern in the explanation."""
    horizon = max(SEASON, int(horizon))
    y = np.asarray(history, dtype=float)
    n = len(y)
    total = float(y.sum()) if n else 0.0
    steps: list[dict] = [
        {
            "code": "history",
            "params": {
                "days": n,
                "total": _r(total),
                "mean": _r(total / n) if n else 0.0,
                "days_with_sales": int((y > 0).sum()) if n else 0,
            },
        }
    ]
    if n == 0 or total <= 0:
        steps.append({"code": "method_none", "params": {}})
        return Forecast("none", [0.0] * horizon, 0.0, steps)
    if n < MEAN_BELOW_DAYS:
        mean = total / n
        sigma = float(np.std(y, ddof=1)) if n > 1 else mean
        steps.append(
            {
                "code": "method_mean",
                "params": {"days": n, "min_days": MEAN_BELOW_DAYS, "mean": _r(mean), "sigma": _r(sigma)},
            }
        )
        return Forecast("mean", [mean] * horizon, sigma, steps)
    if n >= HOLT_WINTERS_FROM_DAYS:
        result = _holt_winters(y, horizon, first_weekday)
        if result is not None:
            result.steps[:0] = steps
            return result
        steps.append({"code": "hw_failed", "params": {}})
    return _ses(y, horizon, steps)


def _errors_sigma(y: np.ndarray, fitted: np.ndarray) -> float:
    errors = y - np.asarray(fitted, dtype=float)
    errors = errors[np.isfinite(errors)]
    return float(np.std(errors, ddof=1)) if len(errors) > 1 else 0.0


def _ses(y: np.ndarray, horizon: int, steps: list[dict]) -> Forecast:
    from statsmodels.tsa.holtwinters import SimpleExpSmoothing

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = SimpleExpSmoothing(y, initialization_method="estimated").fit()
    level = max(0.0, float(fit.forecast(1)[0]))
    alpha = float(fit.params["smoothing_level"])
    sigma = _errors_sigma(y, fit.fittedvalues)
    steps.append(
        {
            "code": "method_ses",
            "params": {
                "days": len(y),
                "hw_days": HOLT_WINTERS_FROM_DAYS,
                "alpha": _r(alpha),
                "level": _r(level),
                "sigma": _r(sigma),
            },
        }
    )
    return Forecast("ses", [level] * horizon, sigma, steps)


def _holt_winters(y: np.ndarray, horizon: int, first_weekday: int) -> Forecast | None:
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # heuristic start values (from the first weeks) and no brute-force grid: only α and γ are
            # optimised, 2-4 times faster than estimating the 8 start values too, at a slightly worse fit
            fit = ExponentialSmoothing(
                y, trend=None, seasonal="add", seasonal_periods=SEASON, initialization_method="heuristic"
            ).fit(use_brute=False)
            raw = np.asarray(fit.forecast(horizon), dtype=float)
    except (ValueError, np.linalg.LinAlgError, ZeroDivisionError):
        return None
    if not np.all(np.isfinite(raw)):
        return None
    path = [max(0.0, float(v)) for v in raw]
    sigma = _errors_sigma(y, fit.fittedvalues)
    # next week's forecast by weekday: day 0 of the forecast follows the last day of the history
    start = (first_weekday + len(y)) % 7
    week = {str((start + i) % 7): _r(path[i]) for i in range(SEASON)}
    params = fit.params
    steps = [
        {
            "code": "method_hw",
            "params": {
                "days": len(y),
                "alpha": _r(params.get("smoothing_level", 0.0)),
                "gamma": _r(params.get("smoothing_seasonal", 0.0) or 0.0),
                "sigma": _r(sigma),
                "week": week,
                "clipped": int((raw < 0).sum()),
            },
        }
    ]
    return Forecast("holt_winters", path, sigma, steps)


def z_value(service_level: float) -> float:
    """The standard normal quantile: z(0.95) = 1.645."""
    p = min(max(float(service_level), 0.5), 0.999)
    return NormalDist().inv_cdf(p)


@dataclass
class ReorderNumbers:
    lead_time_demand: float
    safety_stock: int
    reorder_point: int
    z: float
    steps: list[dict]


def reorder_numbers(fc: Forecast, *, cover_days: int, service_level: float) -> ReorderNumbers:
    """Safety stock and reorder point for a lead time spanning `cover_days` calendar days."""
    d = max(1, int(cover_days))
    demand = fc.total(d)
    z = z_value(service_level)
    raw_ss = z * fc.sigma * math.sqrt(d)
    ss = math.ceil(raw_ss - 1e-9) if raw_ss > 0 else 0
    rop_raw = demand + ss
    rop = math.ceil(rop_raw - 1e-9) if rop_raw > 0 else 0
    steps = [
        {"code": "lead_demand", "params": {"days": d, "demand": _r(demand), "rate": _r(fc.daily_rate)}},
        {
            "code": "safety",
            "params": {
                "level": _r(service_level * 100, 1),
                "z": _r(z),
                "sigma": _r(fc.sigma),
                "days": d,
                "sqrt": _r(math.sqrt(d)),
                "raw": _r(raw_ss),
                "ss": ss,
            },
        },
        {"code": "rop", "params": {"demand": _r(demand), "ss": ss, "raw": _r(rop_raw), "rop": rop}},
    ]
    return ReorderNumbers(demand, ss, rop, z, steps)


@dataclass
class Suggestion:
    quantity: int
    steps: list[dict]


def suggest_quantity(
    *,
    available: int,
    on_order: int,
    reorder_point: int,
    daily_rate: float,
    review_days: int,
    min_order_qty: int = 1,
    pack_size: int = 1,
) -> Suggestion:
    """How much to order when available + on order <= reorder point (0 otherwise): enough to get back to
    the reorder point plus the demand of the review period, raised to the minimum order quantity, then
    rounded up to whole packs."""
    position = available + on_order
    steps: list[dict] = [
        {
            "code": "position",
            "params": {
                "available": available,
                "on_order": on_order,
                "position": position,
                "rop": reorder_point,
            },
        }
    ]
    if position > reorder_point:
        steps.append({"code": "above_rop", "params": {"position": position, "rop": reorder_point}})
        return Suggestion(0, steps)
    review_demand = max(0.0, daily_rate) * review_days
    gap = reorder_point - position
    need_raw = gap + review_demand
    need = max(1, math.ceil(need_raw - 1e-9))
    steps.append(
        {
            "code": "need",
            "params": {
                "gap": gap,
                "rate": _r(daily_rate),
                "review_days": review_days,
                "review_demand": _r(review_demand),
                "raw": _r(need_raw),
                "need": need,
            },
        }
    )
    qty = need
    moq = max(1, int(min_order_qty))
    if qty < moq:
        steps.append({"code": "moq", "params": {"need": qty, "moq": moq}})
        qty = moq
    pack = max(1, int(pack_size))
    if qty % pack:
        packs = -(-qty // pack)
        steps.append(
            {"code": "pack", "params": {"qty": qty, "pack": pack, "packs": packs, "result": packs * pack}}
        )
        qty = packs * pack
    steps.append({"code": "result", "params": {"qty": qty}})
    return Suggestion(qty, steps)
