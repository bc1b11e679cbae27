"""Chart specs (Vega-Lite via Altair): one spec renders interactively in the page and to SVG/PNG/PDF."""

from __future__ import annotations

import datetime as dt

import altair as alt
from django.conf import settings
from django.utils.translation import gettext as _

# A calm palette that stays readable when stacked (own choice; Vega's scheme names need no assets).
PALETTE = [
    "#2563eb",
    "#f59e0b",
    "#10b981",
    "#ef4444",
    "#8b5cf6",
    "#06b6d4",
    "#f97316",
    "#64748b",
    "#84cc16",
    "#ec4899",
]
FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif'


def _config(chart: alt.Chart) -> alt.Chart:
    return (
        chart.configure(font=FONT)
        .configure_view(stroke=None)
        .configure_axis(
            labelColor="#4b5563",
            titleColor="#4b5563",
            gridColor="#eef0f3",
            domainColor="#d1d5db",
            tickColor="#d1d5db",
            labelFontSize=11,
            titleFontSize=11,
            titleFontWeight="normal",
        )
        .configure_legend(
            orient="top",
            labelFontSize=12,
            titleFontSize=11,
            symbolType="square",
            titleColor="#4b5563",
            labelColor="#1f2430",
        )
    )


def daily_revenue_chart(
    daily: list[dict],
    *,
    start: dt.date | None = None,
    end: dt.date | None = None,
    currency: str | None = None,
) -> dict:
    """Gross revenue per day, stacked by channel (bars), for the dashboard."""
    currency = currency or settings.DEFAULT_CURRENCY
    data = [
        {
            "day": row["day"].isoformat(),
            "channel": row["channel__name"],
            "revenue": float(row["revenue"] or 0),
            "orders": row["orders"],
        }
        for row in daily
    ]
    # Days are calendar dates (shop time), read and drawn as UTC so the viewer's time zone cannot shift them.
    x_scale = alt.Scale(type="utc")
    if start and end:
        # Always the whole period, so a quiet day shows as a gap rather than shifting the axis.
        x_scale = alt.Scale(
            type="utc",
            domain=[
                dt.datetime.combine(start, dt.time.min).isoformat() + "Z",
                dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min).isoformat() + "Z",
            ],
        )
    channels = sorted({row["channel"] for row in data})
    chart = (
        alt.Chart(alt.Data(values=data))
        .mark_bar(width={"band": 0.8}, cornerRadiusTopLeft=1, cornerRadiusTopRight=1)
        .encode(
            x=alt.X(
                "day:T",
                title=None,
                timeUnit="utcyearmonthdate",
                scale=x_scale,
                axis=alt.Axis(format="%d.%m", labelAngle=0, tickCount=10, grid=False),
            ),
            y=alt.Y(
                "sum(revenue):Q",
                title=_("Gross revenue (%(currency)s)") % {"currency": currency},
                axis=alt.Axis(format="~s", tickCount=5),
            ),
            color=alt.Color(
                "channel:N",
                title=None,
                scale=alt.Scale(domain=channels, range=PALETTE[: max(1, len(channels))])
                if channels
                else alt.Undefined,
            ),
            order=alt.Order("channel:N"),
            tooltip=[
                alt.Tooltip("day:T", title=_("Day"), format="%Y-%m-%d", timeUnit="utcyearmonthdate"),
                alt.Tooltip("channel:N", title=_("Channel")),
                alt.Tooltip("revenue:Q", title=_("Gross revenue"), format=",.2f"),
                alt.Tooltip("orders:Q", title=_("Orders")),
            ],
        )
        .properties(width="container", height=260)
    )
    return _config(chart).to_dict()
