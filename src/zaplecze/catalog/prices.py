"""Writes of prices: every change appends to the price history (PriceChange), never overwrites it.

There is no update or delete of a PriceChange anywhere: a wrong price is corrected by a new entry. The
history is the source of truth (see catalog/omnibus.py); `Variant.price` and `Offer.price` are copies of
the price in effect now, refreshed by `price_set` and, for entries dated in the future, by
`prices_apply_due` (run every few minutes by the worker, tasks_prices.py).

Each entry records who (actor), what made it (source), when it was recorded and from when it holds: the
history is the audit trail of prices (the previous price is the entry before).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from zaplecze.core import aftercommit
from zaplecze.core.errors import Conflict, DomainError, NotFound

from .models import Offer, PriceChange, Variant

MAX_PRICE = Decimal("100000000")
# A moment "now" sent by a slow client may be a little in the past; further back is a rewrite of history.
BACKDATE_TOLERANCE = dt.timedelta(minutes=5)
# How far back prices_apply_due looks for due entries (covers a worker stopped for days).
DUE_LOOKBACK = dt.timedelta(days=14)


def parse_price(value, *, field: str = "price") -> Decimal:
    """A gross price: a Decimal >= 0 with at most 2 decimal places (a comma works as the decimal mark)."""
    try:
        price = Decimal(str(value).strip().replace(",", ".").replace(" ", ""))
    except (InvalidOperation, ValueError):
        raise DomainError(_("%(value)r is not a price") % {"value": value}, field=field)
    if not price.is_finite():
        raise DomainError(_("%(value)r is not a price") % {"value": value}, field=field)
    if price < 0:
        raise DomainError(_("A price cannot be negative (%(price)s)") % {"price": price}, field=field)
    if price >= MAX_PRICE:
        raise DomainError(_("The price %(price)s is too large") % {"price": price}, field=field)
    if price != price.quantize(Decimal("0.01")):
        raise DomainError(
            _("A price has at most 2 decimal places (%(price)s)") % {"price": price}, field=field
        )
    return price.quantize(Decimal("0.01"))


def _validate(price, kind: str, effective_from, now: dt.datetime, backdate: bool, prefix: str = ""):
    price = parse_price(price, field=f"{prefix}price")
    if kind not in PriceChange.Kind.values:
        raise DomainError(
            _("Unknown price kind %(kind)r; use regular, promo or base") % {"kind": kind},
            field=f"{prefix}kind",
        )
    effective_from = effective_from or now
    if timezone.is_naive(effective_from):
        raise DomainError(_("The start needs a time zone"), field=f"{prefix}effective_from")
    if effective_from < now - BACKDATE_TOLERANCE and not backdate:
        raise DomainError(
            _("A price cannot start in the past: the price history is never rewritten"),
            field=f"{prefix}effective_from",
        )
    return price, effective_from


def _chunks(ids: list[int], size: int = 2000):
    for n in range(0, len(ids), size):
        yield ids[n : n + size]


def prices_refresh(variant_ids: list[int], channel: str = "", now: dt.datetime | None = None) -> int:
    """Copy the price in effect now (from the history) to Variant.price or the channel's Offer.price.

    Only variants with history on that channel are touched (an offer without its own history keeps
    following the base price). Returns how many rows changed."""
    from .omnibus import effective_prices

    now = now or timezone.now()
    effective = effective_prices(variant_ids, channel, now)
    ids = list(effective)
    if channel:
        with_own: set[int] = set()
        for chunk in _chunks(ids):
            with_own.update(
                PriceChange.objects.filter(variant_id__in=chunk, channel=channel).values_list(
                    "variant_id", flat=True
                )
            )
        # An offer whose latest own entry in effect says "follows the base price" has no price of its own.
        following: set[int] = set()
        latest: dict[int, str] = {}
        for chunk in _chunks(sorted(with_own)):
            for vid, kind in (
                PriceChange.objects.filter(variant_id__in=chunk, channel=channel, effective_from__lte=now)
                .order_by("variant_id", "effective_from", "id")
                .values_list("variant_id", "kind")
            ):
                latest[vid] = kind
        following = {vid for vid, kind in latest.items() if kind == PriceChange.Kind.BASE}
        offers = []
        for chunk in _chunks(sorted(with_own)):
            for offer in Offer.objects.filter(variant_id__in=chunk, channel=channel).only(
                "pk", "variant_id", "price"
            ):
                target = None if offer.variant_id in following else effective[offer.variant_id].price
                if offer.price != target:
                    offer.price, offer.updated_at = target, now
                    offers.append(offer)
        Offer.objects.bulk_update(offers, ["price", "updated_at"], batch_size=500)
        _prices_changed([o.variant_id for o in offers], channel)
        return len(offers)
    variants = []
    for chunk in _chunks(ids):
        for variant in Variant.objects.filter(pk__in=chunk).only("pk", "price"):
            eff = effective[variant.pk]
            if eff.from_history and variant.price != eff.price:
                variant.price = eff.price
                variants.append(variant)
    Variant.objects.bulk_update(variants, ["price"], batch_size=500)
    _prices_changed([v.pk for v in variants], "")
    return len(variants)


def _prices_changed(variant_ids: list[int], channel: str) -> None:
    """Announce prices in effect that changed ("" = the base price, which every channel without its own
    price follows): the modules above (integrations pushes prices to the channels) hear it through
    "catalog.prices_changed"(variant_ids, channel), once per channel, after commit."""
    if variant_ids:
        aftercommit.notify("catalog.prices_changed", variant_ids, channel)


def price_set_many(
    items: list[dict],
    *,
    source: str,
    actor=None,
    bulk_change=None,
    backdate: bool = False,
) -> list[PriceChange]:
    """`price_set` for many prices at once, in one transaction (bulk price changes use it).

    Each item: {variant_id, price, channel="", kind="regular", effective_from=None}. Every item is
    validated first (errors name the item: "[3].price"); the variants are locked in id order; variants
    without base history get their current price as a first entry (see price_set); the entries are added;
    prices effective now are copied to Variant.price / Offer.price."""
    now = timezone.now()
    rows = []
    for i, item in enumerate(items):
        prefix = f"[{i}]." if len(items) > 1 else ""
        if item.get("kind") == PriceChange.Kind.BASE and not item.get("channel"):
            raise DomainError(
                _("Only a channel can follow the base price; the base price itself is regular or promo"),
                field=f"{prefix}kind",
            )
        price, start = _validate(
            item["price"],
            item.get("kind", PriceChange.Kind.REGULAR),
            item.get("effective_from"),
            now,
            backdate,
            prefix,
        )
        rows.append(
            {
                "variant_id": int(item["variant_id"]),
                "price": price,
                "channel": (item.get("channel") or "").strip(),
                "kind": item.get("kind", PriceChange.Kind.REGULAR),
                "effective_from": start,
            }
        )
    who = actor if getattr(actor, "pk", None) else None
    with transaction.atomic():
        ids = sorted({r["variant_id"] for r in rows})
        variants: dict[int, Variant] = {}
        for chunk in _chunks(ids):
            for v in (
                Variant.objects.select_for_update()
                .select_related("product")
                .filter(pk__in=chunk)
                .order_by("pk")
            ):
                variants[v.pk] = v
        missing = [vid for vid in ids if vid not in variants]
        if missing:
            raise NotFound(_("There is no variant %(id)s") % {"id": missing[0]}, field="variant_id")
        needed = {(r["variant_id"], r["channel"]) for r in rows if r["channel"]}
        if needed:
            offers: set[tuple[int, str]] = set()
            for chunk in _chunks(sorted({vid for vid, _c in needed})):
                offers.update(
                    Offer.objects.filter(
                        variant_id__in=chunk, channel__in={c for _v, c in needed}
                    ).values_list("variant_id", "channel")
                )
            for vid, channel in sorted(needed - offers):
                raise DomainError(
                    _("%(sku)s has no offer on the channel %(channel)s")
                    % {"sku": variants[vid].sku, "channel": channel},
                    field="channel",
                )
        with_base: set[int] = set()
        for chunk in _chunks(ids):
            with_base.update(
                PriceChange.objects.filter(variant_id__in=chunk, channel="").values_list(
                    "variant_id", flat=True
                )
            )
        new, requested = [], []
        for r in rows:
            v = variants[r["variant_id"]]
            if v.pk not in with_base and (r["channel"] or r["price"] != v.price):
                # No history yet: its current base price becomes the first entry, so that the first change
                # can be compared with what came before (as migration 0003 did for existing variants).
                if v.product.created_at < r["effective_from"]:
                    new.append(
                        PriceChange(
                            variant=v,
                            channel="",
                            price=v.price,
                            currency=v.currency,
                            kind=PriceChange.Kind.REGULAR,
                            effective_from=v.product.created_at,
                            recorded_at=now,
                            source="initial",
                        )
                    )
            with_base.add(v.pk)
            requested.append(
                PriceChange(
                    variant=v,
                    channel=r["channel"],
                    price=r["price"],
                    currency=v.currency,
                    kind=r["kind"],
                    effective_from=r["effective_from"],
                    recorded_at=now,
                    source=source[:60],
                    actor=who,
                    bulk_change=bulk_change,
                )
            )
            new.append(requested[-1])
        PriceChange.objects.bulk_create(new, batch_size=1000)
        due: dict[str, set[int]] = {}
        for r in rows:
            if r["effective_from"] <= now:
                due.setdefault(r["channel"], set()).add(r["variant_id"])
        for channel, vids in sorted(due.items()):
            prices_refresh(sorted(vids), channel, now)
    return requested


def price_set(
    variant: Variant,
    *,
    price: Decimal,
    channel: str = "",
    kind: str = PriceChange.Kind.REGULAR,
    effective_from=None,
    source: str = "manual",
    actor=None,
    bulk_change=None,
    expected_price: Decimal | None = None,
    backdate: bool = False,
) -> PriceChange:
    """Record a price of `variant` on `channel` ("" = the base price) and apply it when it is effective now.

    `effective_from` in the future schedules the price (e.g. a promotion starting next week; its end is a
    later regular entry). A moment in the past is refused unless `backdate` (loading history from an old
    shop): history is never rewritten by an ordinary change. `expected_price` is the price the caller saw;
    if the price in effect differs, nothing is written and Conflict (409) says so. Negative prices:
    DomainError(field="price").
    """
    from .omnibus import effective_prices

    now = timezone.now()
    _validate(price, kind, effective_from, now, backdate)
    with transaction.atomic():
        if expected_price is not None:
            # One writer per variant at a time, so that the check holds until the new entry is written.
            locked = Variant.objects.select_for_update().get(pk=variant.pk)
            current = effective_prices([locked.pk], (channel or "").strip(), now)[locked.pk]
            if parse_price(expected_price, field="expected_price") != current.price:
                raise Conflict(
                    _("The price of %(sku)s was changed meanwhile: it is now %(price)s")
                    % {"sku": locked.sku, "price": current.price},
                    field="expected_price",
                    current=str(current.price),
                )
        [change] = price_set_many(
            [
                {
                    "variant_id": variant.pk,
                    "price": price,
                    "channel": channel,
                    "kind": kind,
                    "effective_from": effective_from,
                }
            ],
            source=source,
            actor=actor,
            bulk_change=bulk_change,
            backdate=backdate,
        )
        if not change.channel and change.effective_from <= now:
            variant.price = Variant.objects.filter(pk=variant.pk).values_list("price", flat=True).get()
    return change


def prices_apply_due(now: dt.datetime | None = None) -> int:
    """Copy scheduled prices whose moment has come to Variant.price / Offer.price. Idempotent; returns
    how many variants or offers changed. (The selectors read the history, so prices are right even when
    this has not run yet; this keeps the stored copies, the admin and the lists in step.)"""
    now = now or timezone.now()
    due = (
        PriceChange.objects.filter(effective_from__lte=now, effective_from__gte=now - DUE_LOOKBACK)
        .filter(recorded_at__lt=F("effective_from"))
        .values_list("channel", "variant_id")
        .distinct()
    )
    by_channel: dict[str, set[int]] = {}
    for channel, vid in due:
        by_channel.setdefault(channel, set()).add(vid)
    changed = 0
    for channel, ids in sorted(by_channel.items()):
        with transaction.atomic():
            changed += prices_refresh(sorted(ids), channel, now)
    return changed


def promotion_set(
    variant: Variant,
    *,
    price,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    channel: str = "",
    source: str = "manual",
    actor=None,
) -> list[PriceChange]:
    """A promotional price from `start` (default now) until `end`, when the regular price in effect at the
    start comes back (a regular entry scheduled at `end`). Both entries in one transaction."""
    from .omnibus import effective_prices

    now = timezone.now()
    start = start or now
    if end is not None and end <= start:
        raise DomainError(_("The promotion must end after it starts"), field="end")
    with transaction.atomic():
        regular = effective_prices([variant.pk], channel, start)[variant.pk].regular_price
        if parse_price(price) >= regular:
            raise DomainError(
                _("A promotional price must be below the regular price (%(price)s)") % {"price": regular},
                field="price",
            )
        out = [
            price_set(
                variant,
                price=price,
                channel=channel,
                kind=PriceChange.Kind.PROMO,
                effective_from=start,
                source=source,
                actor=actor,
            )
        ]
        if end is not None:
            out.append(
                price_set(
                    variant, price=regular, channel=channel, effective_from=end, source=source, actor=actor
                )
            )
    return out
