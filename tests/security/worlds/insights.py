"""URL parameters of the insights tab (reports): one insight."""

from __future__ import annotations


def build(world) -> dict:
    import datetime as dt

    from zaplecze.reports.models import Insight

    insight = Insight.objects.create(
        kind="stockout", subject_type="variant", subject_id="SKU-0001", subject_label="SKU-0001",
        fingerprint="stockout:variant:SKU-0001", title="SKU-0001 runs out", period_from=dt.date(2026, 11, 23),
        period_to=dt.date(2026, 11, 23), evidence={"position": 1}, confidence=0.9,
        first_seen=dt.date(2026, 11, 23), last_seen=dt.date(2026, 11, 23),
    )  # fmt: skip
    return {"insight_id": insight.pk}
