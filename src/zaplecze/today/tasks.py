"""Background jobs of Today (run by `zaplecze worker`): every minute, the subjects modules touched and the
kinds whose interval has come (`Kind.every_minutes`: time-based kinds every minute or few, slower ones every
15–60 minutes); every morning, the digest e-mails."""

from __future__ import annotations

import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task, lock_task

log = logging.getLogger("zaplecze.today")


def due_kinds(minute_of_day: int) -> list[str]:
    from zaplecze.core import today

    return [code for code, k in today.kinds().items() if minute_of_day % max(1, k.every_minutes) == 0]


@db_periodic_task(crontab(minute="*"))
@lock_task("today-refresh")
def today_refresh_periodic() -> None:
    from django.utils import timezone

    from zaplecze.core.businesstime import tz

    from .services import exceptions_refresh, touched_refresh

    now = timezone.now()
    local = now.astimezone(tz())
    touched_refresh(now=now)
    report = exceptions_refresh(kinds=due_kinds(local.hour * 60 + local.minute), now=now)
    if report.opened or report.resolved or report.failed:
        log.info("today: %s opened, %s resolved, failed %s", report.opened, report.resolved, report.failed)


@db_periodic_task(crontab(hour="5", minute="30"))
def today_digest_daily() -> None:
    """06:30 (winter) / 07:30 (summer) in Warsaw."""
    from .services import digests_send

    log.info("today digests sent: %s", digests_send())


@db_task()
def today_refresh_task(kinds: list[str] | None = None) -> None:
    from .services import exceptions_refresh

    exceptions_refresh(kinds=kinds)
