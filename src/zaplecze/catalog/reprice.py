"""Bulk price change by rule: preview, apply, undo (a BulkChange of kind "reprice").

1. `reprice_preview(...)` selects variants (ids or a filter), computes the new price of each (± percent or
   ± amount, optionally rounded to ,99) and its margin, refuses rows that must not change, and stores all
   of it as a BulkChange in state preview. Nothing else is written.
2. `reprice_apply(bulk, actor)` writes the rows that are not refused through `price_set_many` (price_set
   for many rows in one go: same validation, append-only; source "bulk", bulk_change set). Refused when any
   price changed since the preview.
3. `reprice_undo(bulk, actor)` appends entries restoring the previous prices (history is never deleted).
   Refused, listing the SKUs, when any of those prices changed since the change was applied.

Rounding to ,99: the highest price ending in .99 that is not above the computed price (123.45 -> 122.99,
124.00 -> 123.99, 123.99 stays). A "-10 %" is then at least 10 % off and a "+5 %" at most 5 % up; the
margin check runs on the rounded price. Margin = (net price - cost price) / net price, the net price being
the gross price without VAT at the variant's rate ("zw" = no VAT).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from zaplecze.core.errors import Conflict, DomainError, IllegalTransition
from zaplecze.core.services import audit_record

from .models import BulkChange, Category, Offer, PriceChange, Product, Variant, VatRate
from .omnibus import effective_prices
from .prices import parse_price, price_set_many

MAX_ROWS = 50_000
CENT = Decimal("0.01")

# Why a row is not changed (code -> text for people).
REFUSALS = {
    "below_min_margin": gettext_lazy("Margin below the minimum"),
    "not_positive": gettext_lazy("The new price would be zero or negative"),
    "unchanged": gettext_lazy("The price does not change"),
    "promo_running": gettext_lazy("A promotional price is in effect; change it after the promotion"),
    "scheduled": gettext_lazy("A price change is scheduled; it would override this one"),
}
FLAGS = {
    "no_cost_price": gettext_lazy("No cost price: margin unknown"),
    "below_min_margin": gettext_lazy("Margin stays below the minimum (raised anyway)"),
}


@dataclass
class RepriceFilter:
    """Which variants: explicit ids, or a filter (all given conditions must hold)."""

    variant_ids: list[int] = field(default_factory=list)
    category_id: int | None = None  # the category and every category below it
    brand: str = ""
    status: str = ""  # Product.Status
    sku_prefix: str = ""
    channel: str = ""  # "" = base prices; a channel code = that channel's offer prices

    def as_dict(self) -> dict:
        return {
            "variant_ids": self.variant_ids,
            "category_id": self.category_id,
            "brand": self.brand,
            "status": self.status,
            "sku_prefix": self.sku_prefix,
            "channel": self.channel,
        }


def round99(price: Decimal) -> Decimal:
    """The highest price ending in .99 at or below `price` (prices below 0.99 stay as they are)."""
    if price < Decimal("0.99"):
        return price
    return (price + CENT).to_integral_value(rounding=ROUND_FLOOR) - CENT


def net_of(gross: Decimal, vat_rate: str) -> Decimal:
    return gross / (1 + VatRate.fraction(vat_rate))


def margin_percent(gross: Decimal, cost: Decimal | None, vat_rate: str) -> Decimal | None:
    """Margin on the net selling price, in percent with one decimal; None without a cost price."""
    if cost is None or gross <= 0:
        return None
    net = net_of(gross, vat_rate)
    return ((net - cost) * 100 / net).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def _category_ids(category_id: int) -> list[int]:
    """The category and all below it (a few queries, one per level)."""
    if not Category.objects.filter(pk=category_id).exists():
        raise DomainError(_("There is no category %(id)s") % {"id": category_id}, field="category_id")
    ids, level = [category_id], [category_id]
    while level:
        level = list(Category.objects.filter(parent_id__in=level).values_list("pk", flat=True))
        ids.extend(level)
    return ids


def reprice_select(flt: RepriceFilter):
    """The variants a filter selects (a queryset ordered by SKU)."""
    qs = Variant.objects.select_related("product")
    if flt.variant_ids:
        qs = qs.filter(pk__in=flt.variant_ids)
    if flt.category_id:
        qs = qs.filter(product__category_id__in=_category_ids(flt.category_id))
    if flt.brand:
        qs = qs.filter(product__brand__iexact=flt.brand)
    if flt.status:
        if flt.status not in Product.Status.values:
            raise DomainError(
                _("Unknown status %(status)r; use one of %(choices)s")
                % {"status": flt.status, "choices": ", ".join(Product.Status.values)},
                field="status",
            )
        qs = qs.filter(product__status=flt.status)
    if flt.sku_prefix:
        qs = qs.filter(sku__startswith=flt.sku_prefix)
    if flt.channel:
        qs = qs.filter(pk__in=Offer.objects.filter(channel=flt.channel).values("variant_id"))
    return qs.order_by("sku")


def rule_text(*, percent: Decimal | None, amount: Decimal | None, round_99: bool, min_margin) -> str:
    if percent is not None:
        text = f"{percent:+} %"
    else:
        text = f"{amount:+}"
    if round_99:
        text += ", " + _("round to ,99")
    if min_margin is not None:
        text += ", " + _("minimum margin %(margin)s %%") % {"margin": min_margin}
    return text


def _decimal(value, field_name: str) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        out = Decimal(str(value).strip().replace(",", "."))
    except Exception:
        raise DomainError(_("%(value)r is not a number") % {"value": value}, field=field_name)
    if not out.is_finite():
        raise DomainError(_("%(value)r is not a number") % {"value": value}, field=field_name)
    return out


def reprice_preview(
    *,
    flt: RepriceFilter | None = None,
    percent=None,
    amount=None,
    round_99: bool = False,
    min_margin=None,
    actor=None,
    now: dt.datetime | None = None,
    **filter_fields,
) -> BulkChange:
    """Compute the new prices of the selected variants and store them as a preview (nothing else changes).

    The variants come from `flt`, or from filter keywords (variant_ids, category_id, brand, status,
    sku_prefix, channel)."""
    unknown = set(filter_fields) - set(RepriceFilter.__dataclass_fields__)
    if unknown:
        raise TypeError(f"unknown filter fields: {sorted(unknown)}")
    flt = flt or parse_filter(filter_fields)
    now = now or timezone.now()
    percent = _decimal(percent, "percent")
    amount = _decimal(amount, "amount")
    min_margin = _decimal(min_margin, "min_margin")
    if (percent is None) == (amount is None):
        raise DomainError(_("Give either a percent or an amount"), field="percent")
    if percent is not None and (percent == 0 or not Decimal(-95) <= percent <= Decimal(1000)):
        raise DomainError(_("The percent must be between -95 and 1000, and not 0"), field="percent")
    if amount is not None and (
        amount == 0 or abs(amount) >= Decimal(1_000_000) or amount != amount.quantize(CENT)
    ):
        raise DomainError(_("The amount must be non-zero with at most 2 decimal places"), field="amount")
    if min_margin is not None and not (Decimal(-100) <= min_margin < Decimal(100)):
        raise DomainError(_("The minimum margin is a percent below 100"), field="min_margin")
    if not (flt.variant_ids or flt.category_id or flt.brand or flt.status or flt.sku_prefix or flt.channel):
        raise DomainError(
            _("Choose the products: a category, brand, status, SKU prefix, channel or a list of variants"),
            field="filter",
        )
    variants = list(reprice_select(flt)[: MAX_ROWS + 1])
    if len(variants) > MAX_ROWS:
        raise DomainError(
            _("More than %(n)s variants selected; narrow the filter") % {"n": MAX_ROWS}, field="filter"
        )
    ids = [v.pk for v in variants]
    current = effective_prices(ids, flt.channel, now)
    scheduled: set[int] = set()
    channels = [""] if not flt.channel else ["", flt.channel]
    for n in range(0, len(ids), 2000):
        scheduled.update(
            PriceChange.objects.filter(
                variant_id__in=ids[n : n + 2000], channel__in=channels, effective_from__gt=now
            ).values_list("variant_id", flat=True)
        )
    rows, counts = [], {"rows": 0, "to_change": 0, "refused": 0, "no_cost_price": 0}
    for v in variants:
        eff = current[v.pk]
        old = eff.price
        new = old * (1 + percent / 100) if percent is not None else old + amount
        new = new.quantize(CENT, rounding=ROUND_HALF_UP)
        if round_99:
            new = round99(new)
        m_old = margin_percent(old, v.cost_price, v.vat_rate)
        m_new = margin_percent(new, v.cost_price, v.vat_rate)
        flags, refused = [], None
        if v.cost_price is None:
            flags.append("no_cost_price")
        if eff.sale_price is not None:
            refused = "promo_running"
        elif v.pk in scheduled:
            refused = "scheduled"
        elif new <= 0:
            refused = "not_positive"
        elif new == old:
            refused = "unchanged"
        elif min_margin is not None and m_new is not None and m_new < min_margin:
            if new < old:
                refused = "below_min_margin"
            else:
                flags.append("below_min_margin")
        rows.append(
            {
                "variant_id": v.pk,
                "sku": v.sku,
                "name": v.name,
                "channel": flt.channel,
                "old": str(old),
                "new": str(new),
                "margin_old": None if m_old is None else str(m_old),
                "margin_new": None if m_new is None else str(m_new),
                "refused": refused,
                "flags": flags,
            }
        )
        counts["rows"] += 1
        counts["refused" if refused else "to_change"] += 1
        counts["no_cost_price"] += "no_cost_price" in flags
    return BulkChange.objects.create(
        kind=BulkChange.Kind.REPRICE,
        state=BulkChange.State.PREVIEW,
        title=rule_text(percent=percent, amount=amount, round_99=round_99, min_margin=min_margin)[:300],
        params={
            "filter": flt.as_dict(),
            "percent": None if percent is None else str(percent),
            "amount": None if amount is None else str(amount),
            "round_99": round_99,
            "min_margin": None if min_margin is None else str(min_margin),
            "at": now.isoformat(),
        },
        rows=rows,
        summary=counts,
        created_at=now,
        created_by=actor if getattr(actor, "pk", None) else None,
    )


def _lock(bulk: BulkChange) -> BulkChange:
    locked = BulkChange.objects.select_for_update().get(pk=bulk.pk)
    if locked.kind != BulkChange.Kind.REPRICE:
        raise DomainError(_("This bulk change is not a price change"), field="bulk")
    return locked


def _changed_since(entries: list[dict], expected_key: str, channel_key: str = "channel") -> list[str]:
    """SKUs whose price in effect now is not the one expected (grouped per channel, set-based)."""
    by_channel: dict[str, list[dict]] = {}
    for e in entries:
        by_channel.setdefault(e.get(channel_key, ""), []).append(e)
    changed = []
    for channel, group in by_channel.items():
        now = effective_prices([e["variant_id"] for e in group], channel)
        for e in group:
            eff = now.get(e["variant_id"])
            if eff is None or eff.price != Decimal(e[expected_key]):
                changed.append(e["sku"])
    return sorted(changed)


def reprice_apply(bulk: BulkChange, actor) -> BulkChange:
    """Write the preview's rows that are not refused through price_set_many; one transaction."""
    with transaction.atomic():
        bulk = _lock(bulk)
        if bulk.state != BulkChange.State.PREVIEW:
            raise IllegalTransition(
                _("Only a preview can be applied (this change is %(state)s)")
                % {"state": bulk.get_state_display()}
            )
        todo = [r for r in bulk.rows if not r.get("refused")]
        changed = _changed_since(todo, "old")
        if changed:
            raise Conflict(
                _("Prices changed since the preview; make a new preview. Changed: %(skus)s")
                % {"skus": ", ".join(changed[:20]) + (" …" if len(changed) > 20 else "")},
                changed=changed,
            )
        price_set_many(
            [
                {"variant_id": r["variant_id"], "price": r["new"], "channel": r.get("channel", "")}
                for r in todo
            ],
            source="bulk",
            actor=actor,
            bulk_change=bulk,
        )
        undo = [
            {
                "variant_id": r["variant_id"],
                "sku": r["sku"],
                "channel": r.get("channel", ""),
                "old": r["old"],
                "new": r["new"],
            }
            for r in todo
        ]
        bulk.state = BulkChange.State.APPLIED
        bulk.applied_at = timezone.now()
        bulk.undo = undo
        bulk.summary = {**bulk.summary, "applied": len(undo)}
        bulk.save(update_fields=["state", "applied_at", "undo", "summary"])
        audit_record(
            obj_type="catalog.bulkchange",
            obj_id=bulk.pk,
            action="reprice_applied",
            actor=actor if getattr(actor, "pk", None) else None,
            changes={"rule": bulk.title, "variants": len(undo)},
        )
    return bulk


def reprice_undo(bulk: BulkChange, actor) -> BulkChange:
    """Restore the prices before `bulk` by appending new entries; refused if any price changed since."""
    with transaction.atomic():
        bulk = _lock(bulk)
        if bulk.state != BulkChange.State.APPLIED:
            raise IllegalTransition(
                _("Only an applied change can be undone (this change is %(state)s)")
                % {"state": bulk.get_state_display()}
            )
        changed = _changed_since(bulk.undo, "new")
        if changed:
            raise Conflict(
                _("Prices changed since this change was applied; nothing was undone. Changed: %(skus)s")
                % {"skus": ", ".join(changed[:20]) + (" …" if len(changed) > 20 else "")},
                changed=changed,
            )
        price_set_many(
            [
                {"variant_id": e["variant_id"], "price": e["old"], "channel": e.get("channel", "")}
                for e in bulk.undo
            ],
            source="bulk-undo",
            actor=actor,
            bulk_change=bulk,
        )
        bulk.state = BulkChange.State.UNDONE
        bulk.undone_at = timezone.now()
        bulk.save(update_fields=["state", "undone_at"])
        audit_record(
            obj_type="catalog.bulkchange",
            obj_id=bulk.pk,
            action="reprice_undone",
            actor=actor if getattr(actor, "pk", None) else None,
            changes={"rule": bulk.title, "variants": len(bulk.undo)},
        )
    return bulk


def reprice_discard(bulk: BulkChange, actor) -> BulkChange:
    """Drop a preview that will not be applied (kept, marked discarded)."""
    with transaction.atomic():
        bulk = _lock(bulk)
        if bulk.state != BulkChange.State.PREVIEW:
            raise IllegalTransition(_("Only a preview can be discarded"))
        bulk.state = BulkChange.State.DISCARDED
        bulk.save(update_fields=["state"])
    return bulk


def access_reprice(bulk_id: int) -> BulkChange:
    from zaplecze.core.errors import NotFound

    bulk = BulkChange.objects.filter(pk=bulk_id, kind=BulkChange.Kind.REPRICE).first()
    if bulk is None:
        raise NotFound(_("There is no price change %(id)s") % {"id": bulk_id})
    return bulk


def refusal_text(code: str | None) -> str:
    return str(REFUSALS.get(code, code or ""))


def parse_filter(data: dict) -> RepriceFilter:
    """A RepriceFilter from loose input (a form or the API), with the field named on error."""
    category_id = data.get("category_id") or None
    if category_id is not None:
        try:
            category_id = int(category_id)
        except (TypeError, ValueError):
            raise DomainError(_("The category must be an id"), field="category_id")
    return RepriceFilter(
        variant_ids=[int(v) for v in data.get("variant_ids") or []],
        category_id=category_id,
        brand=(data.get("brand") or "").strip(),
        status=(data.get("status") or "").strip(),
        sku_prefix=(data.get("sku_prefix") or "").strip(),
        channel=(data.get("channel") or "").strip(),
    )


__all__ = [
    "FLAGS",
    "REFUSALS",
    "RepriceFilter",
    "access_reprice",
    "margin_percent",
    "parse_filter",
    "parse_price",
    "refusal_text",
    "reprice_apply",
    "reprice_discard",
    "reprice_preview",
    "reprice_select",
    "reprice_undo",
    "round99",
]
