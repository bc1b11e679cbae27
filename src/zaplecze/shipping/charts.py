"""Chart specs of the shipping screens (Vega-Lite dicts built with Altair; rendered by the page's Vega bundle)."""

from __future__ import annotations

import altair as alt
from django.utils.translation import gettext as _

from .selectors import CarrierPerformance


def transit_chart(rows: list[CarrierPerformance]) -> dict:
    """Median and p90 transit time (hours) per carrier and service, as grouped horizontal bars."""
    data = []
    for r in rows:
        label = f"{r.carrier_name} · {r.service}"
        if r.median_hours is not None:
            data.append({"service": label, "measure": _("median"), "hours": r.median_hours})
            data.append({"service": label, "measure": "p90", "hours": r.p90_hours})
    chart = (
        alt.Chart(alt.Data(values=data))
        .mark_bar()
        .encode(
            y=alt.Y("service:N", title=None),
            yOffset=alt.YOffset("measure:N"),
            x=alt.X("hours:Q", title=_("Transit time (hours)")),
            color=alt.Color("measure:N", title=None, scale=alt.Scale(range=["#2563eb", "#f59e0b"])),
            tooltip=[
                alt.Tooltip("service:N", title=_("Service")),
                alt.Tooltip("measure:N", title=""),
                alt.Tooltip("hours:Q", title=_("Hours"), format=".1f"),
            ],
        )
        .properties(width="container", height=alt.Step(18))
    )
    return chart.configure_view(stroke=None).to_dict()
