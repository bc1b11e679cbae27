"""Worker tasks of promotions: every minute, start the campaigns whose start has come and end those whose
end has passed (services.campaigns_tick; idempotent)."""

from __future__ import annotations

import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

log = logging.getLogger("zaplecze.promotions")


@db_periodic_task(crontab(minute="*"))
def campaigns_tick_periodic() -> None:
    from .services import campaigns_tick

    done = campaigns_tick()
    if done["started"] or done["ended"]:
        log.info("campaigns: %(started)s started, %(ended)s ended", done)


@db_task()
def campaign_start_task(campaign_id: int) -> None:
    """Start a launched campaign whose start has come (big ones are not written in the request)."""
    from .services import campaign_start

    campaign_start(campaign_id=campaign_id)
