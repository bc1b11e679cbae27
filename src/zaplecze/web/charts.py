"""Chart specs (Vega-Lite via Altair): one spec renders interactively in the page and to SVG/PNG/PDF."""

from __future__ import annotations

import altair as alt
from django.utils.translation import gettext as _


def daily_revenue_chart(daily: list[dict]) -> dict:
    data = [
        {"day": row["day"].isoformat(), "channel": row["channel__name"], "revenue": float(row["revenue"] or 0),
         "orders": row["orders"]}
        for row in daily
    ]
    chart = (
        alt.Chart(alt.Data(values=data))
        .mark_bar()
        .encode(
            x=alt.X("day:T", title=_("Day"), timeUnit="yearmonthdate"),
            y=alt.Y("sum(revenue):Q", title=_("Gross revenue")),
            color=alt.Color("channel:N", title=_("Channel")),
            tooltip=[alt.Tooltip("day:T", title=_("Day")), alt.Tooltip("channel:N", title=_("Channel")),
                     alt.Tooltip("revenue:Q", title=_("Gross revenue"), format=",.2f"),
                     alt.Tooltip("orders:Q", title=_("Orders"))],
        )
        .properties(width="container", height=260)
    )
    return chart.to_dict()
