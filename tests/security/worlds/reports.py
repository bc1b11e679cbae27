"""URL parameters of reports: a kept report file and a schedule."""

from __future__ import annotations


def build(world) -> dict:
    import datetime as dt

    from zaplecze.reports import services
    from zaplecze.reports.sales import Period

    run, _ = services.report_build(
        kind="sales", period=Period(dt.date(2026, 11, 1), dt.date(2026, 11, 2)), fmt="csv"
    )
    schedule = services.schedule_save(
        values={"name": "Weekly", "kind": "sales", "frequency": "weekly", "format": "pdf",
                "recipients": "boss@example.com"},
    )  # fmt: skip
    from zaplecze.reports.models import Anomaly

    anomaly = Anomaly.objects.create(
        metric="orders", day=dt.date(2026, 11, 23), value=0, expected=5, low=0, high=10, score=-4.0
    )
    return {"run_id": run.pk, "schedule_id": schedule.pk, "anomaly_id": anomaly.pk}
