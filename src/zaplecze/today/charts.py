"""Chart spec of the exceptions history (Vega-Lite via Altair): opened and resolved per day as bars, the
median hours to resolve as a line on its own axis."""

from __future__ import annotations

import altair as alt
from django.utils.translation import gettext as _


def history(data: dict, *, width: int | str = "container", height: int = 220) -> dict:
    opened, resolved = _("Opened"), _("Resolved")
    bars = [
        {"day": d["day"].isoformat(), "what": label, "count": d[key]}
        for d in data["days"]
        for key, label in (("opened", opened), ("resolved", resolved))
    ]
    line = [
        {"day": d["day"].isoformat(), "hours": d["median_hours"]}
        for d in data["days"]
        if d["median_hours"] is not None
    ]
    x = alt.X("day:T", title=None, timeUnit="utcyearmonthdate", axis=alt.Axis(format="%d.%m", labelAngle=0))
    counts = (
        alt.Chart(alt.Data(values=bars))
        .mark_bar()
        .encode(
            x=x,
            xOffset="what:N",
            y=alt.Y("count:Q", title=_("Exceptions")),
            color=alt.Color(
                "what:N", title=None, scale=alt.Scale(domain=[opened, resolved], range=["#dc2626", "#16a34a"])
            ),
            tooltip=[
                alt.Tooltip("day:T", title=_("Day"), format="%Y-%m-%d", timeUnit="utcyearmonthdate"),
                alt.Tooltip("what:N", title=""),
                alt.Tooltip("count:Q", title=_("Exceptions")),
            ],
        )
    )
    hours = (
        alt.Chart(alt.Data(values=line))
        .mark_line(color="#2563eb", point=True)
        .encode(
            x=x,
            y=alt.Y("hours:Q", title=_("Median hours to resolve")),
            tooltip=[alt.Tooltip("hours:Q", title=_("Median hours to resolve"), format=".1f")],
        )
    )
    chart = alt.layer(counts, hours).resolve_scale(y="independent").properties(width=width, height=height)
    return chart.configure_view(stroke=None).to_dict()
