"""Demo storefront checks: the back office's own login page and API document (at `BASE_URL`), with three days
of results and one short outage, so Shop health has something to show. Called by the demo builder."""

from __future__ import annotations

import datetime as dt
import random

from django.conf import settings
from django.utils import timezone

from .models import CheckResult, CheckState, Incident, IncidentKind, IncidentState, StorefrontCheck

HISTORY_DAYS = 3


def seed_demo(*, seed: int = 42, now: dt.datetime | None = None, base_url: str | None = None) -> dict:
    now = (now or timezone.now()).replace(second=0, microsecond=0)
    base = (base_url or settings.BASE_URL).rstrip("/")
    rng = random.Random(seed)
    pages = [
        ("Login page", "/login/", "home", "Zaplecze", 180),
        ("API document", "/api/v1/openapi.json", "other", "openapi", 90),
    ]
    results = 0
    for index, (name, path, kind, text, typical_ms) in enumerate(pages):
        check = StorefrontCheck.objects.create(
            name=name,
            url=base + path,
            kind=kind,
            expected_text=text,
            interval_minutes=5,
            state=CheckState.UP,
            next_run_at=now,
            created_at=now - dt.timedelta(days=HISTORY_DAYS),
            updated_at=now,
        )
        # The first page was down for 20 minutes yesterday afternoon (a deploy gone wrong).
        outage_from = now - dt.timedelta(hours=20)
        outage_to = outage_from + dt.timedelta(minutes=20)
        rows = []
        at = now - dt.timedelta(days=HISTORY_DAYS)
        while at < now:
            down = index == 0 and outage_from <= at < outage_to
            rows.append(
                CheckResult(
                    check_ref=check,
                    at=at,
                    ok=not down,
                    status_code=502 if down else 200,
                    response_ms=max(20, round(rng.gauss(typical_ms, typical_ms / 4))) if not down else 30,
                    error="HTTP 502, expected 200" if down else "",
                )
            )
            at += dt.timedelta(minutes=5)
        CheckResult.objects.bulk_create(rows, batch_size=1000)
        results += len(rows)
        last = rows[-1]
        check.last_checked_at, check.last_response_ms = last.at, last.response_ms
        check.save(update_fields=["last_checked_at", "last_response_ms"])
        if index == 0:
            failed = [r for r in rows if not r.ok]
            Incident.objects.create(
                check_ref=check,
                kind=IncidentKind.DOWN,
                state=IncidentState.CLOSED,
                opened_at=failed[0].at,
                closed_at=outage_to,
                cause=failed[0].error,
                failures=len(failed),
            )
    return {"checks": len(pages), "results": results}
