"""URL parameters of storefront monitoring: a check pointing at a closed local port (so "Run now" in the walk
fails at once, never reaching the network) with a result and an open incident."""

from __future__ import annotations


def build(world) -> dict:
    from zaplecze.monitoring import services
    from zaplecze.monitoring.probe import ProbeResult

    check = services.check_create(
        values={"name": "Home", "url": "http://127.0.0.1:9/", "timeout_seconds": 1, "confirm_failures": 1},
        actor=None,
    )
    services.check_run(check_id=check.pk, probe_fn=lambda c: ProbeResult(ok=False, error="connection failed"))
    incident = check.incidents.get()
    return {"monitor_check_id": check.pk, "monitor_incident_id": incident.pk, "check_id": check.pk,
            "incident_id": incident.pk}  # fmt: skip
