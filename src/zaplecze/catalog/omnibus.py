"""The Omnibus reference price: the lowest price of the 30 days before a price reduction (COMPLIANCE A3).

One place computes it, from the price history (`PriceChange`) read at a moment `at`; feeds, the storefront
check, the product page and the API all call the functions here:

* `reference_price(variant_id, channel, at)` -> `ReferencePrice | None` for one variant;
* `reference_prices(variant_ids, channel, at)` -> `{variant_id: ReferencePrice | None}` for many (a few
  queries per 10,000 variants, never one per variant);
* `effective_prices(variant_ids, channel, at)` -> `{variant_id: EffectivePrice}`: the price in effect, the
  regular price, the sale price with its start and scheduled end, and the reference.

The rules (docs/prices.md explains each decision):

* A history is a sequence of segments: each entry holds from its `effective_from` until the next entry.
  Entries with the same `effective_from` were never in effect except the last recorded one; an entry with
  the same price and kind as the one before it is no change.
* The price at `at` is a *reduction* when its entry is a promotion (kind promo) or lower than the price
  before it. A run of consecutive reductions is one continuous promotion.
* The reduction *started* at the latest step down within that run (Poland did not adopt the option of
  Art. 6a(5) of Directive 98/6/EC for progressively increasing reductions: each deeper cut is a new
  reduction); a promotional price raised within the run keeps the start of the step down before it.
* Reference = the lowest price in effect during the 30 calendar days (Europe/Warsaw) before the day the
  reduction started, up to its start (UOKiK, 8 May 2023: the last day of the period is the day before the
  promotion starts). Not the 30 days before `at`.
* On sale for fewer than 30 days before the reduction: the lowest price since the first history entry.
* Perishable products (`Product.perishable`): the price in effect before the first reduction of the run.
* A channel uses its own history; before the channel's first own entry (or when it has none) the offer sold
  at the base price, so the base ("") history fills in.
* `discount_percent` is computed from the reference (CJEU C-330/23) and rounded *down* to a whole percent,
  so a badge never claims more than the real reduction; None when the price is not below the reference
  (show no badge).
"""

from __future__ import annotations

import bisect
import datetime as dt
import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.utils import timezone

from zaplecze.core.businesstime import tz

from .models import Offer, PriceChange, Variant

WINDOW_DAYS = 30
CHUNK = 10_000  # ids per query (SQLite allows 32,766 parameters since 3.32)

BASIS_30_DAYS = "30_days"
BASIS_SINCE_SALES_START = "since_sales_start"
BASIS_BEFORE_FIRST_REDUCTION = "before_first_reduction"


@dataclass(frozen=True)
class ReferencePrice:
    """The price a reduced price must be shown against, and over which period it was found."""

    price: Decimal
    window_from: dt.datetime
    window_to: dt.datetime
    basis: str  # "30_days" | "since_sales_start" | "before_first_reduction"
    reduced_price: Decimal
    discount_percent: int | None  # whole percent, rounded down; None: not below the reference (no badge)

    @property
    def discount_label(self) -> str:
        """ "-20 %" as shown next to the price; "" when there is no discount to show."""
        return f"-{self.discount_percent} %" if self.discount_percent else ""

    def as_dict(self) -> dict:
        return {
            "price": str(self.price),
            "window_from": self.window_from.isoformat(),
            "window_to": self.window_to.isoformat(),
            "basis": self.basis,
            "reduced_price": str(self.reduced_price),
            "discount_percent": self.discount_percent,
            "discount_label": self.discount_label,
        }


@dataclass(frozen=True)
class EffectivePrice:
    """What a variant costs at a moment on a channel (feeds: price, sale_price, sale_price_effective_date)."""

    price: Decimal  # what the customer pays
    regular_price: Decimal  # the regular price (during a promotion: the regular price before it)
    sale_price: Decimal | None  # the promotional price when a promo entry is in effect
    sale_from: dt.datetime | None  # when that promotional price started
    sale_to: dt.datetime | None  # when the next entry takes over (a scheduled end), or None
    reference: ReferencePrice | None  # set when the price is a reduction
    currency: str = "PLN"
    from_history: bool = True  # False: no history yet, the price is the variant's (or offer's) own


@dataclass(frozen=True)
class Segment:
    start: dt.datetime
    price: Decimal
    kind: str


def discount_percent(reference: Decimal, reduced: Decimal) -> int | None:
    """Whole percent of the reduction against the reference, rounded down; None when there is none to show."""
    if reference <= 0 or reduced >= reference:
        return None
    pct = int((reference - reduced) * 100 // reference)
    return pct if pct >= 1 else None


def build_timeline(rows: Iterable[tuple[dt.datetime, Decimal, str]]) -> list[Segment]:
    """Segments from history rows (effective_from, price, kind) sorted by (effective_from, id)."""
    segs: list[Segment] = []
    for start, price, kind in rows:
        if segs and segs[-1].start == start:
            segs.pop()  # never in effect: a later entry for the same moment replaced it
        if segs and segs[-1].price == price and segs[-1].kind == kind:
            continue  # the same price again is no change
        segs.append(Segment(start, Decimal(price), kind))
    return segs


def merge_channel(base: Sequence[tuple], own: Sequence[tuple]) -> list[tuple]:
    """A channel's rows: the base rows before its first own entry, then its own (no own rows: the base).

    An own entry of kind "base" means the channel follows the base price again from that moment: the base
    price in effect then, and the base changes after it, apply until the channel's next own entry."""
    if not own:
        return list(base)
    out = [r for r in base if r[0] < own[0][0]]
    for i, row in enumerate(own):
        if row[2] != PriceChange.Kind.BASE:
            out.append(row)
            continue
        start, end = row[0], own[i + 1][0] if i + 1 < len(own) else None
        before = [r for r in base if r[0] <= start]
        if before:
            out.append((start, before[-1][1], before[-1][2]))
        out += [r for r in base if r[0] > start and (end is None or r[0] < end)]
    return out


def _is_reduction(segs: Sequence[Segment], j: int) -> bool:
    if segs[j].kind == PriceChange.Kind.PROMO:
        return True
    return j > 0 and segs[j].price < segs[j - 1].price


def _window_start(start: dt.datetime) -> dt.datetime:
    """Midnight (Europe/Warsaw) of the day 30 calendar days before the day the reduction started."""
    zone = _zone()
    day = start.astimezone(zone).date() - dt.timedelta(days=WINDOW_DAYS)
    return dt.datetime.combine(day, dt.time.min, tzinfo=zone)


@functools.lru_cache(maxsize=4)
def _zone_for(name: str):
    return tz()


def _zone():
    from django.conf import settings

    return _zone_for(settings.TIME_ZONE)


def reference_from_timeline(segs: Sequence[Segment], i: int, *, perishable: bool) -> ReferencePrice | None:
    """The reference price for segment `i` of a timeline (None when segment i is not a reduction)."""
    if i < 0 or not _is_reduction(segs, i):
        return None
    reduced = segs[i].price
    run = i
    while run > 0 and _is_reduction(segs, run - 1):
        run -= 1
    if perishable:
        if run == 0:
            return None
        before = segs[run - 1]
        return ReferencePrice(
            price=before.price,
            window_from=before.start,
            window_to=segs[run].start,
            basis=BASIS_BEFORE_FIRST_REDUCTION,
            reduced_price=reduced,
            discount_percent=discount_percent(before.price, reduced),
        )
    step = run
    for k in range(i, run - 1, -1):
        if k > 0 and segs[k].price < segs[k - 1].price:
            step = k
            break
    if step == 0:
        return None  # the first price ever was the reduction: there is no earlier price to show
    window_to = segs[step].start
    window_from = _window_start(window_to)
    basis = BASIS_30_DAYS
    if segs[0].start > window_from:
        window_from, basis = segs[0].start, BASIS_SINCE_SALES_START
    prices = [
        segs[k].price
        for k in range(step)
        if segs[k + 1].start > window_from  # still in effect when the window opened, or began within it
    ]
    lowest = min(prices)
    return ReferencePrice(
        price=lowest,
        window_from=window_from,
        window_to=window_to,
        basis=basis,
        reduced_price=reduced,
        discount_percent=discount_percent(lowest, reduced),
    )


def effective_from_timeline(
    segs: Sequence[Segment], at: dt.datetime, *, perishable: bool, currency: str
) -> EffectivePrice | None:
    """The effective price at `at` from a timeline; None when nothing was in effect yet."""
    i = bisect.bisect_right(segs, at, key=lambda s: s.start) - 1
    if i < 0:
        return None
    seg = segs[i]
    reference = reference_from_timeline(segs, i, perishable=perishable)
    if seg.kind != PriceChange.Kind.PROMO:
        return EffectivePrice(seg.price, seg.price, None, None, None, reference, currency)
    regular = None
    for k in range(i - 1, -1, -1):
        if segs[k].kind == PriceChange.Kind.REGULAR:
            regular = segs[k].price
            break
    if regular is None:
        regular = segs[i - 1].price if i > 0 else seg.price
    sale_to = segs[i + 1].start if i + 1 < len(segs) else None
    return EffectivePrice(seg.price, regular, seg.price, seg.start, sale_to, reference, currency)


def _chunks(ids: list[int]):
    for n in range(0, len(ids), CHUNK):
        yield ids[n : n + CHUNK]


def effective_prices(
    variant_ids: Iterable[int], channel: str = "", at: dt.datetime | None = None
) -> dict[int, EffectivePrice]:
    """{variant_id: EffectivePrice} at `at` (default now) on `channel` ("" = base prices).

    Reads the history (the source of truth, so a scheduled price holds from its moment even before the
    worker has copied it to Variant.price / Offer.price). A variant with no history yet gets its own price
    (the offer's on a channel, when set), with no reference. Unknown ids are left out.
    """
    at = at or timezone.now()
    ids = sorted({int(v) for v in variant_ids})
    out: dict[int, EffectivePrice] = {}
    for chunk in _chunks(ids):
        variants = {
            pk: (price, currency, perishable)
            for pk, price, currency, perishable in Variant.objects.filter(pk__in=chunk).values_list(
                "pk", "price", "currency", "product__perishable"
            )
        }
        offer_prices: dict[int, Decimal] = {}
        channels = [""]
        if channel:
            channels.append(channel)
            offer_prices = dict(
                Offer.objects.filter(variant_id__in=chunk, channel=channel, price__isnull=False).values_list(
                    "variant_id", "price"
                )
            )
        rows: dict[int, dict[str, list[tuple]]] = {}
        history = (
            PriceChange.objects.filter(variant_id__in=chunk, channel__in=channels)
            .order_by("variant_id", "effective_from", "id")
            .values_list("variant_id", "channel", "effective_from", "price", "kind")
        )
        for vid, ch, start, price, kind in history.iterator(chunk_size=5000):
            rows.setdefault(vid, {}).setdefault(ch, []).append((start, price, kind))
        for vid, (price, currency, perishable) in variants.items():
            by_channel = rows.get(vid, {})
            merged = merge_channel(by_channel.get("", []), by_channel.get(channel, []) if channel else [])
            eff = effective_from_timeline(
                build_timeline(merged), at, perishable=perishable, currency=currency
            )
            if eff is None:
                own = offer_prices.get(vid, price)
                eff = EffectivePrice(own, own, None, None, None, None, currency, from_history=False)
            out[vid] = eff
    return out


def reference_prices(
    variant_ids: Iterable[int], channel: str = "", at: dt.datetime | None = None
) -> dict[int, ReferencePrice | None]:
    """{variant_id: ReferencePrice | None} for many variants at once (see `effective_prices`)."""
    return {vid: eff.reference for vid, eff in effective_prices(variant_ids, channel, at).items()}


def reference_price(
    variant_id: int, channel: str = "", at: dt.datetime | None = None
) -> ReferencePrice | None:
    """The Omnibus reference price of one variant at `at` (None: the price is not a reduction)."""
    return reference_prices([variant_id], channel, at).get(int(variant_id))


@dataclass
class PriceHistory:
    now: dt.datetime
    entries: list[PriceChange]  # by channel, then time
    current: dict[str, EffectivePrice]  # "" first, then each channel with an offer or a history


def price_history(variant: Variant, now: dt.datetime | None = None) -> PriceHistory:
    """Every history entry of a variant and its price in effect now on the base and on each channel."""
    now = now or timezone.now()
    entries = list(
        PriceChange.objects.filter(variant=variant)
        .select_related("actor")
        .order_by("channel", "effective_from", "id")
    )
    channels = sorted(
        {e.channel for e in entries if e.channel}
        | set(Offer.objects.filter(variant=variant).values_list("channel", flat=True))
    )
    current = {}
    for channel in ["", *channels]:
        current[channel] = effective_prices([variant.pk], channel, now)[variant.pk]
    return PriceHistory(now=now, entries=entries, current=current)
