"""Reads of promotions: campaigns, their products, clashes, the calendar, codes."""

from __future__ import annotations

import calendar as pycalendar
import datetime as dt
from dataclasses import dataclass, field

from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from zaplecze.catalog.models import Product, Variant
from zaplecze.catalog.selectors import category_descendants
from zaplecze.core.businesstime import tz
from zaplecze.core.errors import NotFound

from .models import (
    ACTIVE_STATUSES,
    Campaign,
    CampaignCheck,
    CampaignCode,
    CampaignKind,
    CampaignStatus,
    CampaignTarget,
)


def access_campaign(campaign_id: int) -> Campaign:
    campaign = Campaign.objects.filter(pk=campaign_id).first()
    if campaign is None:
        raise NotFound(_("Campaign not found"))
    return campaign


def campaigns(*, status: str = "", q: str = "") -> QuerySet[Campaign]:
    qs = Campaign.objects.all()
    if status:
        qs = qs.filter(status=status)
    if q:
        qs = qs.filter(Q(name__icontains=q) | Q(utm_campaign__iexact=q))
    return qs.order_by("-start", "-id")


def targets_query(targets: list[CampaignTarget]) -> Q | None:
    """The variants a set of targets covers, as one Q (None: no targets = every product)."""
    if not targets:
        return None
    products = [t.product_id for t in targets if t.kind == CampaignTarget.Kind.PRODUCT and t.product_id]
    categories: set[int] = set()
    for t in targets:
        if t.kind == CampaignTarget.Kind.CATEGORY and t.category_id:
            categories |= category_descendants(t.category_id) | {t.category_id}
    brands = [t.brand for t in targets if t.kind == CampaignTarget.Kind.BRAND and t.brand]
    q = Q(pk__in=[])
    if products:
        q |= Q(product_id__in=products)
    if categories:
        q |= Q(product__category_id__in=sorted(categories))
    for brand in brands:
        q |= Q(product__brand__iexact=brand)
    return q


def campaign_variants(campaign: Campaign, *, active_only: bool = False) -> QuerySet[Variant]:
    """The variants a campaign covers (by its targets; no targets: every variant)."""
    q = targets_query(list(campaign.targets.all()))
    qs = Variant.objects.all() if q is None else Variant.objects.filter(q)
    if active_only:
        qs = qs.filter(active=True, product__status=Product.Status.ACTIVE)
    return qs


def campaign_variant_ids(campaign: Campaign) -> set[int]:
    return set(campaign_variants(campaign).values_list("pk", flat=True))


def _channels(c: Campaign) -> set[str]:
    return set(c.channels or [""])


def overlapping(campaign: Campaign, *, start=None, end=None) -> list[Campaign]:
    """Other campaigns (draft, scheduled, running) whose period overlaps and whose channels meet."""
    start = start or campaign.start
    end = end or campaign.end
    others = (
        Campaign.objects.filter(status__in=ACTIVE_STATUSES, start__lt=end, end__gt=start)
        .exclude(pk=campaign.pk)
        .prefetch_related("targets")
        .order_by("start", "pk")
    )
    mine = _channels(campaign)
    # [] means the base price, which every channel following the base price sells at: it meets everything.
    return [o for o in others if not campaign.channels or not o.channels or mine & _channels(o)]


def latest_check(campaign: Campaign) -> CampaignCheck | None:
    return campaign.checks.order_by("-checked_at", "-id").first()


def codes(campaign: Campaign) -> QuerySet[CampaignCode]:
    return campaign.codes.order_by("code")


# --- calendar -----------------------------------------------------------------------------------------


@dataclass
class CalendarEntry:
    campaign: Campaign
    starts_before: bool
    ends_after: bool
    clash_with: list[int] = field(default_factory=list)
    margin_clash: bool = False


@dataclass
class CalendarDay:
    day: dt.date
    in_range: bool
    entries: list[CalendarEntry]


@dataclass
class Calendar:
    mode: str  # month | week
    start: dt.date
    end: dt.date  # inclusive
    weeks: list[list[CalendarDay]]
    campaigns: list[Campaign]
    clashes: list[tuple[Campaign, Campaign, int, bool]]  # a, b, shared variants, stacking breaks a margin
    previous: dt.date
    next: dt.date


def clashes(campaigns_: list[Campaign]) -> list[tuple[Campaign, Campaign, int, bool]]:
    """Pairs of overlapping campaigns that share a variant on a channel: (a, b, shared count, margin), where
    margin is True when the latest check of either found stacking that breaks a minimum margin."""
    ids: dict[int, set[int]] = {}
    out = []
    stacking = {
        c.pk
        for c in campaigns_
        if (chk := latest_check(c)) is not None and chk.summary.get("by_code", {}).get("stacking_margin")
    }
    # free shipping changes no product price: it never clashes on a product
    priced = [c for c in campaigns_ if c.kind != CampaignKind.FREE_SHIPPING]
    for i, a in enumerate(priced):
        for b in priced[i + 1 :]:
            if not (a.start < b.end and b.start < a.end):
                continue
            if a.channels and b.channels and not (_channels(a) & _channels(b)):
                continue
            for c in (a, b):
                if c.pk not in ids:
                    ids[c.pk] = campaign_variant_ids(c)
            shared = len(ids[a.pk] & ids[b.pk])
            if shared:
                out.append((a, b, shared, a.pk in stacking or b.pk in stacking))
    return out


def calendar(*, mode: str = "month", day: dt.date) -> Calendar:
    """Every campaign (cancelled ones left out) in a month or an ISO week (Europe/Warsaw days), with clashes."""
    zone = tz()
    if mode == "week":
        first = day - dt.timedelta(days=day.weekday())
        last = first + dt.timedelta(days=6)
        grid_first, grid_last = first, last
        prev, nxt = first - dt.timedelta(days=7), first + dt.timedelta(days=7)
    else:
        mode = "month"
        first = day.replace(day=1)
        last = first.replace(day=pycalendar.monthrange(first.year, first.month)[1])
        grid_first = first - dt.timedelta(days=first.weekday())
        grid_last = last + dt.timedelta(days=6 - last.weekday())
        prev = (first - dt.timedelta(days=1)).replace(day=1)
        nxt = last + dt.timedelta(days=1)
    t0 = dt.datetime.combine(grid_first, dt.time.min, tzinfo=zone)
    t1 = dt.datetime.combine(grid_last + dt.timedelta(days=1), dt.time.min, tzinfo=zone)
    found = list(
        Campaign.objects.filter(start__lt=t1, end__gt=t0)
        .exclude(status=CampaignStatus.CANCELLED)
        .prefetch_related("targets")
        .order_by("start", "pk")
    )
    pairs = clashes(found)
    with_: dict[int, list[int]] = {}
    margin: set[int] = set()
    for a, b, _n, m in pairs:
        with_.setdefault(a.pk, []).append(b.pk)
        with_.setdefault(b.pk, []).append(a.pk)
        if m:
            margin |= {a.pk, b.pk}
    weeks: list[list[CalendarDay]] = []
    d = grid_first
    while d <= grid_last:
        d0 = dt.datetime.combine(d, dt.time.min, tzinfo=zone)
        d1 = d0 + dt.timedelta(days=1)
        entries = [
            CalendarEntry(
                c,
                starts_before=c.start < d0,
                ends_after=c.end > d1,
                clash_with=with_.get(c.pk, []),
                margin_clash=c.pk in margin,
            )
            for c in found
            if c.start < d1 and c.end > d0
        ]
        if d.weekday() == 0:
            weeks.append([])
        weeks[-1].append(CalendarDay(d, first <= d <= last, entries))
        d += dt.timedelta(days=1)
    return Calendar(mode, first, last, weeks, found, pairs, prev, nxt)
