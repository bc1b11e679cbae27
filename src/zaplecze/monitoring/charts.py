"""Chart specs of a storefront check (Vega-Lite via Altair, like the dashboard and the reports): response
time over the window, and uptime % per hour or day. The page embeds the spec; vl-convert can render the
same spec to SVG."""

from __future__ import annotations

import altair as alt
from django.utils import timezone
from django.utils.translation import gettext as _

GOOD = "#10b981"
BAD = "#ef4444"
LINE = "#2563eb"


def _iso(value) -> str:
    # Local wall time, written without an offset and drawn as UTC, so the viewer's time zone cannot shift it.
    return timezone.localtime(value).replace(tzinfo=None).isoformat()


def _finish(chart: alt.Chart) -> dict:
    return (
        chart.configure_view(stroke=None)
        .configure_axis(
            labelColor="#4b5563", titleColor="#4b5563", gridColor="#eef0f3", titleFontWeight="normal"
        )
        .to_dict()
    )


def response_time(points: list[dict], *, window: str, height: int = 200) -> dict:
    """Response time (ms): a line, with failed checks (or hours with a failure) as red dots."""
    data = [
        {"at": _iso(p["at"]), "ms": p["ms"], "state": _("OK") if p["ok"] else _("Failed")}
        for p in points
        if p["ms"] is not None
    ]
    fmt = "%H:%M" if window == "24h" else "%d.%m"
    x = alt.X(
        "at:T", title=None, scale=alt.Scale(type="utc"), axis=alt.Axis(format=fmt, labelAngle=0, grid=False)
    )
    y = alt.Y("ms:Q", title=_("Response time (ms)"), axis=alt.Axis(tickCount=5))
    tooltip = [
        alt.Tooltip(
            "at:T", title=_("Time"), format="%Y-%m-%d %H:%M", timeUnit="utcyearmonthdatehoursminutes"
        ),
        alt.Tooltip("ms:Q", title=_("Response time (ms)"), format=","),
        alt.Tooltip("state:N", title=_("Result")),
    ]
    base = alt.Chart(alt.Data(values=data))
    line = base.mark_line(color=LINE, strokeWidth=1.5).encode(x=x, y=y)
    dots = base.mark_circle(size=28).encode(
        x=x,
        y=y,
        color=alt.Color(
            "state:N", title=None, scale=alt.Scale(domain=[_("OK"), _("Failed")], range=[LINE, BAD])
        ),
        tooltip=tooltip,
    )
    return _finish(alt.layer(line, dots).properties(width="container", height=height))


def uptime_bars(points: list[dict], *, window: str, height: int = 160) -> dict:
    """Uptime % per hour (24 h) or per day: green at 100 %, red below."""
    data = [
        {
            "at": _iso(p["at"]),
            "uptime": float(p["uptime"]) if p["uptime"] is not None else None,
            "checks": p["checks"],
            "full": bool(p["uptime"] is not None and p["uptime"] >= 100),
        }
        for p in points
    ]
    unit = "utcyearmonthdatehours" if window == "24h" else "utcyearmonthdate"
    fmt = "%H:%M" if window == "24h" else "%d.%m"
    chart = (
        alt.Chart(alt.Data(values=data))
        .mark_bar()
        .encode(
            x=alt.X(
                "at:T",
                title=None,
                timeUnit=unit,
                scale=alt.Scale(type="utc"),
                axis=alt.Axis(format=fmt, labelAngle=0, grid=False),
            ),
            y=alt.Y(
                "uptime:Q",
                title=_("Uptime (%)"),
                scale=alt.Scale(domain=[0, 100]),
                axis=alt.Axis(tickCount=5),
            ),
            color=alt.Color("full:N", legend=None, scale=alt.Scale(domain=[True, False], range=[GOOD, BAD])),
            tooltip=[
                alt.Tooltip("at:T", title=_("Time"), timeUnit=unit, format="%Y-%m-%d %H:%M"),
                alt.Tooltip("uptime:Q", title=_("Uptime (%)"), format=".2f"),
                alt.Tooltip("checks:Q", title=_("Checks")),
            ],
        )
        .properties(width="container", height=height)
    )
    return _finish(chart)
