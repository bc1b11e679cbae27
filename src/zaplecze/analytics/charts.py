"""Chart specs of the traffic dashboard (Vega-Lite dicts built with Altair, rendered by the page's Vega bundle)."""

from __future__ import annotations

import datetime as dt

import altair as alt
from django.utils.translation import gettext as _
from django.utils.translation import pgettext


def _axis_day(start: dt.date, end: dt.date) -> alt.X:
    return alt.X(
        "day:T",
        title=None,
        timeUnit="utcyearmonthdate",
        scale=alt.Scale(
            type="utc",
            domain=[
                dt.datetime.combine(start, dt.time.min).isoformat() + "Z",
                dt.datetime.combine(end, dt.time.min).isoformat() + "Z",
            ],
        ),
        axis=alt.Axis(format="%d.%m", labelAngle=0, tickCount=10, grid=False),
    )


def timeseries_chart(rows: list[dict], *, start: dt.date, end: dt.date) -> dict:
    """Visitors and pageviews per day (lines)."""
    visitors, pageviews = _("Visitors"), _("Pageviews")
    data = []
    for r in rows:
        day = r["day"].isoformat()
        data.append({"day": day, "measure": visitors, "value": r["visitors"]})
        data.append({"day": day, "measure": pageviews, "value": r["pageviews"]})
    chart = (
        alt.Chart(alt.Data(values=data))
        .mark_line(point=True, strokeWidth=2)
        .encode(
            x=_axis_day(start, end),
            y=alt.Y("value:Q", title=None, axis=alt.Axis(format="~s", tickCount=5)),
            color=alt.Color(
                "measure:N",
                title=None,
                scale=alt.Scale(domain=[visitors, pageviews], range=["#2563eb", "#f59e0b"]),
            ),
            tooltip=[
                alt.Tooltip("day:T", title=_("Day"), format="%Y-%m-%d", timeUnit="utcyearmonthdate"),
                alt.Tooltip("measure:N", title=""),
                alt.Tooltip("value:Q", title=pgettext("chart value", "Count"), format=","),
            ],
        )
        .properties(width="container", height=220)
    )
    return chart.configure_view(stroke=None).configure_legend(orient="top").to_dict()


def funnel_chart(steps: list[dict], labels: dict[str, str]) -> dict:
    """Visits reaching each funnel step (horizontal bars, in funnel order)."""
    data = [
        {"step": labels.get(s["step"], s["step"]), "order": i, "visits": s["visits"]}
        for i, s in enumerate(steps)
    ]
    chart = (
        alt.Chart(alt.Data(values=data))
        .mark_bar(color="#10b981")
        .encode(
            y=alt.Y("step:N", title=None, sort=alt.EncodingSortField(field="order", order="ascending")),
            x=alt.X("visits:Q", title=_("Visits")),
            tooltip=[alt.Tooltip("step:N", title=_("Step")), alt.Tooltip("visits:Q", title=_("Visits"))],
        )
        .properties(width="container", height=alt.Step(28))
    )
    return chart.configure_view(stroke=None).to_dict()
