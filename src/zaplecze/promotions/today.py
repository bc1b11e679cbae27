"""Exceptions of promotions for the Today page (see `core/today.py`): a planned or running campaign that
shares products with another campaign overlapping it in time on a common channel (critical when the latest
check found the stacking breaking a minimum margin). One exception per campaign, about its first clash."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop

from zaplecze.core import today

from .models import Campaign, CampaignStatus
from .selectors import clashes

LIVE = (CampaignStatus.DRAFT, CampaignStatus.SCHEDULED, CampaignStatus.RUNNING)


def detect_clashes(*, now: dt.datetime, ids: list[int] | None = None) -> Iterable[today.Found]:
    campaigns = list(Campaign.objects.filter(status__in=LIVE, end__gt=now).order_by("start", "id"))
    seen: set[int] = set()
    for a, b, shared, margin in clashes(campaigns):
        for this, other in ((a, b), (b, a)):
            if this.pk in seen or (ids is not None and this.pk not in ids):
                continue
            seen.add(this.pk)
            yield today.Found(
                subject_id=this.pk,
                label=(gettext_noop("Campaign %(name)s"), {"name": this.name}),
                why=(
                    gettext_noop(
                        "Shares %(n)s products with campaign %(other)s at the same time; the stacked discount "
                        "breaks a minimum margin."
                    )
                    if margin
                    else gettext_noop("Shares %(n)s products with campaign %(other)s at the same time."),
                    {"n": shared, "other": other.name},
                ),
                url=reverse("promotions:campaign", args=[this.pk]),
                due_at=this.start,
                severity="critical" if margin else "high",
            )


today.register(
    today.Kind(
        code="promotions.clash",
        area="promotions",
        label=_("Promotion clash"),
        subject_type="campaign",
        detect=detect_clashes,
        severity="high",
        owner_role="marketing",
        permission="promotions.view",
        every_minutes=15,
    )
)
