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
