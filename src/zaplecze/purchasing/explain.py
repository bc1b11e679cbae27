"""Say each stored computation step in words, in the user's language. The steps themselves are data
({"code", "params"}) written by forecast.py and services.reorder_compute."""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

WEEKDAYS = [
    gettext_lazy("Mon"),
    gettext_lazy("Tue"),
    gettext_lazy("Wed"),
    gettext_lazy("Thu"),
    gettext_lazy("Fri"),
    gettext_lazy("Sat"),
    gettext_lazy("Sun"),
]


def _week(week: dict) -> str:
    return ", ".join(f"{WEEKDAYS[int(k)]} {v}" for k, v in week.items())


def step_text(step: dict) -> str:
    code, p = step.get("code", ""), step.get("params", {}) or {}
    if code == "history":
        return (
            _(
                "Sales history: %(days)s days, %(total)s units sold in total (%(mean)s per day on average), "
                "sales on %(days_with_sales)s of the days."
            )
            % p
        )
    if code == "window":
        if p.get("first_movement"):
            return (
                _(
                    "Days counted: %(start)s to %(end)s (not before the first stock movement of the product, "
                    "%(first_movement)s: days before it existed are not zero demand)."
                )
                % p
            )
        return _("No stock movements yet: there is no history.")
    if code == "method_none":
        return _("No sales in the history: the forecast is 0 units per day.")
    if code == "method_mean":
        return (
            _(
                "Fewer than %(min_days)s days of history: the forecast is the mean, %(mean)s units per day; "
                "σ (standard deviation of the days) = %(sigma)s."
            )
            % p
        )
    if code == "method_ses":
        return (
            _(
                "Simple exponential smoothing (fewer than %(hw_days)s days, too short for a weekly pattern): "
                "smoothing weight α = %(alpha)s, level = %(level)s units per day; σ of the one-day forecast errors = %(sigma)s."
            )
            % p
        )
    if code == "hw_failed":
        return _(
            "Holt-Winters could not be fitted to this history; simple exponential smoothing is used instead."
        )
    if code == "method_hw":
        text = _(
            "Holt-Winters exponential smoothing with a weekly season on %(days)s days: level weight α = %(alpha)s, "
            "season weight γ = %(gamma)s; σ of the one-day forecast errors = %(sigma)s. Next 7 days: %(week)s."
        ) % {**p, "week": _week(p.get("week", {}))}
        if p.get("clipped"):
            text += " " + _("Negative forecast days (%(n)s) are counted as 0.") % {"n": p["clipped"]}
        return text
    if code == "lead_time":
        who = p.get("supplier") or _("no supplier: the default lead time")
        return _(
            "Lead time: %(days)s working days (%(who)s); ordered today it arrives on %(arrival)s, "
            "so the stock must last %(cover)s calendar days."
        ) % {**p, "who": who}
    if code == "lead_demand":
        return (
            _(
                "Demand over the lead time: the forecast summed over %(days)s days = %(demand)s units (%(rate)s per day)."
            )
            % p
        )
    if code == "safety":
        return (
            _(
                "Safety stock = z × σ × √days = %(z)s × %(sigma)s × %(sqrt)s = %(raw)s, rounded up: %(ss)s "
                "(z for a %(level)s%% service level)."
            )
            % p
        )
    if code == "rop":
        return (
            _(
                "Reorder point = demand over the lead time + safety stock = %(demand)s + %(ss)s = %(raw)s, rounded up: %(rop)s."
            )
            % p
        )
    if code == "manual":
        return (
            _(
                "Manual parameters: the reorder point %(rop)s and safety stock %(ss)s set by hand are used; the numbers above are for comparison."
            )
            % p
        )
    if code == "supplier":
        return (
            _(
                "Supplier: %(supplier)s, %(cost)s %(currency)s per unit, minimum order %(moq)s, pack of %(pack)s."
            )
            % p
        )
    if code == "position":
        return (
            _(
                "Position = available %(available)s + on order %(on_order)s = %(position)s; reorder point %(rop)s."
            )
            % p
        )
    if code == "above_rop":
        return _("The position %(position)s is above the reorder point %(rop)s: nothing to order now.") % p
    if code == "need":
        return (
            _(
                "Needed = (reorder point − position) + demand over the review period = %(gap)s + %(rate)s × %(review_days)s days "
                "(%(review_demand)s) = %(raw)s, rounded up: %(need)s."
            )
            % p
        )
    if code == "moq":
        return _("Raised to the minimum order quantity: %(need)s → %(moq)s.") % p
    if code == "pack":
        return _("Rounded up to whole packs of %(pack)s: %(qty)s → %(packs)s packs = %(result)s.") % p
    if code == "result":
        return _("Suggested quantity: %(qty)s.") % p
    return f"{code}: {p}"


def steps_text(steps: list[dict] | None) -> list[str]:
    return [step_text(s) for s in steps or []]
