"""Chart specs of the reports (Vega-Lite via Altair): the page embeds them, the PDF renders the same spec
to SVG with vl-convert, so the two always show the same picture."""

from __future__ import annotations

import altair as alt
from django.utils.translation import gettext as _


def revenue_by_day(rows: list[dict], *, width: int | str = "container", height: int = 200) -> dict:
    data = [
        {"day": r["day"].isoformat(), "revenue": float(r["revenue_gross"]), "orders": r["orders"]}
        for r in rows
    ]
    chart = (
        alt.Chart(alt.Data(values=data))
        .mark_bar(color="#2563eb")
        .encode(
            x=alt.X(
                "day:T", title=None, timeUnit="utcyearmonthdate", axis=alt.Axis(format="%d.%m", labelAngle=0)
            ),
            y=alt.Y("revenue:Q", title=_("Revenue (gross)"), axis=alt.Axis(format="~s", tickCount=5)),
            tooltip=[
                alt.Tooltip("day:T", title=_("Day"), format="%Y-%m-%d", timeUnit="utcyearmonthdate"),
                alt.Tooltip("revenue:Q", title=_("Revenue (gross)"), format=",.2f"),
                alt.Tooltip("orders:Q", title=_("Orders"), format=","),
            ],
        )
        .properties(width=width, height=height)
    )
    return chart.configure_view(stroke=None).to_dict()


def share_by(rows: list[dict], *, width: int | str = "container", height: int | None = None) -> dict:
    data = [{"name": r["name"] or r["key"] or "—", "revenue": float(r["revenue_gross"])} for r in rows[:10]]
    chart = (
        alt.Chart(alt.Data(values=data))
        .mark_bar(color="#0f766e")
        .encode(
            y=alt.Y("name:N", title=None, sort="-x"),
            x=alt.X("revenue:Q", title=_("Revenue (gross)"), axis=alt.Axis(format="~s", tickCount=4)),
            tooltip=[alt.Tooltip("name:N", title=""), alt.Tooltip("revenue:Q", format=",.2f", title="")],
        )
        .properties(width=width, height=height or max(40, 24 * len(data)))
    )
    return chart.configure_view(stroke=None).to_dict()


def to_svg(spec: dict) -> str:
    import vl_convert

    return vl_convert.vegalite_to_svg(spec)


def lead_time_histogram(rows: list[dict], *, width: int | str = "container", height: int = 180) -> dict:
    """Orders by hours from placed to shipped (bins of unequal width, drawn as equal bars with labels)."""
    data = [
        {
            "bin": f"{r['from_h']}–{r['to_h']} h" if r["to_h"] is not None else f"≥ {r['from_h']} h",
            "orders": r["orders"],
            "i": i,
        }
        for i, r in enumerate(rows)
    ]
    chart = (
        alt.Chart(alt.Data(values=data))
        .mark_bar(color="#7c3aed")
        .encode(
            x=alt.X(
                "bin:N",
                title=_("Hours from placed to shipped"),
                sort=alt.EncodingSortField("i"),
                axis=alt.Axis(labelAngle=0),
            ),
            y=alt.Y("orders:Q", title=_("Orders"), axis=alt.Axis(tickCount=4)),
            tooltip=[alt.Tooltip("bin:N", title=""), alt.Tooltip("orders:Q", title=_("Orders"), format=",")],
        )
        .properties(width=width, height=height)
    )
    return chart.configure_view(stroke=None).to_dict()


def step_times(rows: list[dict], *, width: int | str = "container") -> dict:
    """Median (bar) and 90th percentile (tick) hours of each step."""
    data = [{"step": r["label"], "median": r["median_h"], "p90": r["p90_h"]} for r in rows if r["count"]]
    base = alt.Chart(alt.Data(values=data)).encode(y=alt.Y("step:N", title=None, sort=None))
    bars = base.mark_bar(color="#2563eb").encode(
        x=alt.X("median:Q", title=_("Hours (median; the tick is the 90th percentile)")),
        tooltip=[
            alt.Tooltip("step:N", title=""),
            alt.Tooltip("median:Q", title=_("Median")),
            alt.Tooltip("p90:Q", title="p90"),
        ],
    )
    ticks = base.mark_tick(color="#111", thickness=2, size=18).encode(x="p90:Q")
    return (
        (bars + ticks)
        .properties(width=width, height=max(60, 30 * len(data)))
        .configure_view(stroke=None)
        .to_dict()
    )
