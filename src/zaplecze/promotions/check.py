"""The pre-launch check of a campaign: for every affected variant (and channel) the regular price at the
start, the new price, the margin after the discount, the Omnibus reference price and the "-X %" computed
from it (COMPLIANCE A3), stock, clashes with other campaigns; each finding an error or a warning.

Set-based: one query for the variants, one for their price history per channel (read in chunks), one for
stock, one per overlapping campaign for its variants; the Omnibus reference of the *planned* price is
computed with the catalog's own rules (catalog/omnibus.py) on the history plus the planned promotional
entry at the campaign's start. 50,000 variants: see bench/promotions_bench.py.

Errors (block the launch unless overridden with a reason): the new price is zero or not below the regular
price; the price after the discount is below cost; stacking with an overlapping campaign leaves the price
below cost or under the minimum margin. Warnings: margin under the minimum, cost unknown, out of stock,
the same product in another overlapping campaign, the "-X %" to announce differs from the campaign's
nominal reduction (the reference is lower than the regular price), no reduction against the reference
(no "-X %" may be shown), product inactive or archived (left out), no offer on a channel (left out).
"""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.utils import timezone
from django.utils.translation import gettext as _

from zaplecze.catalog import stock as catalog_stock
from zaplecze.catalog.models import Offer, PriceChange, Product, VatRate
from zaplecze.catalog.omnibus import (
    build_timeline,
    effective_from_timeline,
    merge_channel,
    reference_from_timeline,
)

from . import selectors
from .models import Campaign, CampaignKind, ValueType

CHUNK = 5000
CENT = Decimal("0.01")
HUNDRED = Decimal(100)

ERROR, WARNING = "error", "warning"
# code -> severity; the messages are in MESSAGES (translated when shown).
SEVERITY = {
    "zero_price": ERROR,
    "not_a_reduction": ERROR,
    "below_cost": ERROR,
    "stacking_margin": ERROR,
    "low_margin": WARNING,
    "no_cost": WARNING,
    "out_of_stock": WARNING,
    "clash": WARNING,
    "badge_differs": WARNING,
    "no_reduction_vs_reference": WARNING,
    "inactive": WARNING,
    "no_offer": WARNING,
}
# Findings that leave the row out of the prices written (the others are written, an error only when the
# launch was overridden).
EXCLUDED = {"zero_price", "not_a_reduction", "inactive", "no_offer"}


def messages() -> dict[str, str]:
    return {
        "zero_price": _("The new price would be zero or less"),
        "not_a_reduction": _("The new price is not below the regular price"),
        "below_cost": _("Sells below cost after the discount"),
        "stacking_margin": _("Stacking with an overlapping campaign breaks the minimum margin"),
        "low_margin": _("Margin after the discount is under the minimum"),
        "no_cost": _("Cost price unknown: margin not checked"),
        "out_of_stock": _("Out of stock"),
        "clash": _("Also in another campaign at the same time"),
        "badge_differs": _(
            "The -X % to announce (from the 30-day lowest price) differs from the nominal one"
        ),
        "no_reduction_vs_reference": _(
            "Not below the lowest price of the last 30 days: it may not be announced as a reduction"
        ),
        "inactive": _("Product inactive or archived: left out"),
        "no_offer": _("No offer on this channel: left out"),
    }


def apply_reduction(price: Decimal, value_type: str, value: Decimal) -> Decimal:
    """The price after a percentage or a fixed-amount reduction, rounded half up to the grosz."""
    if value_type == ValueType.PERCENT:
        out = price * (HUNDRED - value) / HUNDRED
    else:
        out = price - value
    return out.quantize(CENT, rounding=ROUND_HALF_UP)


def customer_price(campaign: Campaign, regular: Decimal) -> Decimal:
    """What the customer pays per unit under the campaign: the promotional price (price reduction), the
    price after the code (codes: the code applied to one unit), the average unit price of a buy-X-get-Y
    bundle; free shipping leaves the product price alone."""
    if campaign.kind in (CampaignKind.PRICE, CampaignKind.CODES):
        return apply_reduction(regular, campaign.value_type, campaign.value)
    if campaign.kind == CampaignKind.BUY_X_GET_Y and campaign.buy_quantity and campaign.get_quantity:
        paid, total = campaign.buy_quantity, campaign.buy_quantity + campaign.get_quantity
        return (regular * paid / total).quantize(CENT, rounding=ROUND_HALF_UP)
    return regular


def net(gross: Decimal, vat_rate: str) -> Decimal:
    return gross / (1 + VatRate.fraction(vat_rate))


@dataclass
class CheckRow:
    variant_id: int
    sku: str
    name: str
    product_id: int
    channel: str
    regular_price: Decimal
    new_price: Decimal
    cost: Decimal | None
    margin: Decimal | None  # net price after discount - cost (net)
    margin_percent: Decimal | None  # of the net price after discount
    reference_price: Decimal | None
    reference_basis: str
    discount_label: str  # "-20 %" computed from the reference; "" none may be shown
    nominal_percent: int | None
    stock: int | None
    clashes: list[int] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)

    @property
    def errors(self) -> list[str]:
        return [f for f in self.findings if SEVERITY[f] == ERROR]

    @property
    def warnings(self) -> list[str]:
        return [f for f in self.findings if SEVERITY[f] == WARNING]

    @property
    def written(self) -> bool:
        return not (set(self.findings) & EXCLUDED)

    def as_dict(self) -> dict:
        return {
            "variant_id": self.variant_id,
            "sku": self.sku,
            "name": self.name,
            "product_id": self.product_id,
            "channel": self.channel,
            "regular_price": str(self.regular_price),
            "new_price": str(self.new_price),
            "cost": None if self.cost is None else str(self.cost),
            "margin": None if self.margin is None else str(self.margin),
            "margin_percent": None if self.margin_percent is None else str(self.margin_percent),
            "reference_price": None if self.reference_price is None else str(self.reference_price),
            "reference_basis": self.reference_basis,
            "discount_label": self.discount_label,
            "nominal_percent": self.nominal_percent,
            "stock": self.stock,
            "clashes": self.clashes,
            "errors": self.errors,
            "warnings": self.warnings,
        }


@dataclass
class CheckResult:
    campaign_id: int
    campaign_version: int
    at: dt.datetime
    rows: list[CheckRow]
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)  # campaign-level findings (free shipping, codes)

    @property
    def errors(self) -> int:
        return sum(1 for r in self.rows if r.errors)

    @property
    def warnings(self) -> int:
        return sum(1 for r in self.rows if r.warnings)

    def summary(self) -> dict:
        by_code = Counter(f for r in self.rows for f in r.findings)
        written = [r for r in self.rows if r.written]
        return {
            "rows": len(self.rows),
            "products": len({r.product_id for r in self.rows}),
            "written": len(written),
            "errors": self.errors,
            "warnings": self.warnings,
            "by_code": dict(sorted(by_code.items())),
            "discount_value": str(sum((r.regular_price - r.new_price for r in written), Decimal(0))),
            "notes": self.notes,
        }

    def as_dict(self) -> dict:
        return {
            "campaign_id": self.campaign_id,
            "campaign_version": self.campaign_version,
            "checked_at": self.at.isoformat(),
            "seconds": round(self.seconds, 3),
            "summary": self.summary(),
            "rows": [r.as_dict() for r in self.rows],
        }


def _chunks(ids: list[int]):
    for n in range(0, len(ids), CHUNK):
        yield ids[n : n + CHUNK]


def _history(ids: list[int], channel: str, before: dt.datetime) -> dict[int, list[tuple]]:
    """{variant_id: rows (effective_from, price, kind)} of the channel's merged history before `before`."""
    channels = [""] + ([channel] if channel else [])
    out: dict[int, list[tuple]] = {}
    for chunk in _chunks(ids):
        rows: dict[int, dict[str, list[tuple]]] = {}
        qs = (
            PriceChange.objects.filter(variant_id__in=chunk, channel__in=channels, effective_from__lte=before)
            .order_by("variant_id", "effective_from", "id")
            .values_list("variant_id", "channel", "effective_from", "price", "kind")
        )
        for vid, ch, start, price, kind in qs.iterator(chunk_size=5000):
            rows.setdefault(vid, {}).setdefault(ch, []).append((start, price, kind))
        for vid, by in rows.items():
            out[vid] = merge_channel(by.get("", []), by.get(channel, [])) if channel else by.get("", [])
    return out


def _offers(ids: list[int], channel: str) -> dict[int, Decimal | None]:
    out: dict[int, Decimal | None] = {}
    for chunk in _chunks(ids):
        out.update(
            Offer.objects.filter(variant_id__in=chunk, channel=channel).values_list("variant_id", "price")
        )
    return out


def _pct(value: Decimal) -> int | None:
    return int(value) if value == value.to_integral_value() else None


def campaign_check(campaign: Campaign, *, now: dt.datetime | None = None) -> CheckResult:
    """Compute the check (nothing is written; services.campaign_check_run stores a summary)."""
    t0 = time.perf_counter()
    now = now or timezone.now()
    start = max(campaign.start, now) if campaign.status != "running" else campaign.start
    variants = list(
        selectors.campaign_variants(campaign).values_list(
            "pk",
            "sku",
            "name",
            "product_id",
            "product__name",
            "price",
            "cost_price",
            "vat_rate",
            "active",
            "product__status",
            "product__perishable",
            "product__created_at",
        )
    )
    if campaign.kind == CampaignKind.FREE_SHIPPING:
        variants = []  # no product price changes: checked as a rule (notes)
    ids = [v[0] for v in variants]
    stock = catalog_stock.available(ids) if ids else {}
    # Overlapping campaigns: their variants (stacking on the same variant and channel).
    others = []
    for other in selectors.overlapping(campaign):
        if other.kind == CampaignKind.FREE_SHIPPING:
            continue
        others.append((other, selectors.campaign_variant_ids(other)))
    nominal = (
        _pct(campaign.value)
        if campaign.kind in (CampaignKind.PRICE, CampaignKind.CODES)
        and campaign.value_type == ValueType.PERCENT
        else None
    )
    min_margin = campaign.min_margin_percent
    applied: dict[tuple[int, str], Decimal] = {}
    if campaign.status == "running":
        applied = {
            (vid, ch): price
            for vid, ch, price in campaign.items.filter(variant__isnull=False).values_list(
                "variant_id", "channel", "regular_price"
            )
        }
    rows: list[CheckRow] = []
    for channel in campaign.channels or [""]:
        history = _history(ids, channel, start)
        offers = _offers(ids, channel) if channel else {}
        for vid, sku, vname, pid, pname, own, cost, vat, active, pstatus, perishable, created in variants:
            known = history.get(vid) or []
            rows_h = [r for r in known if r[0] < start]
            if not rows_h:
                # sold from after the start (or no history): its first known price
                first = (
                    known[0][1]
                    if known
                    else offers.get(vid)
                    if channel and offers.get(vid) is not None
                    else own
                )
                rows_h = [
                    (min(created, start - dt.timedelta(microseconds=1)), first, PriceChange.Kind.REGULAR)
                ]
            segs = build_timeline(rows_h)
            eff = effective_from_timeline(segs, start, perishable=perishable, currency="PLN")
            regular = eff.regular_price if eff is not None else own
            if (vid, channel) in applied:
                regular = applied[(vid, channel)]  # running: the regular price recorded at the start
            new = customer_price(campaign, regular)
            findings: list[str] = []
            if not active or pstatus != Product.Status.ACTIVE:
                findings.append("inactive")
            if channel and vid not in offers:
                findings.append("no_offer")
            if new <= 0:
                findings.append("zero_price")
            elif campaign.kind != CampaignKind.FREE_SHIPPING and new >= regular:
                findings.append("not_a_reduction")
            margin = margin_pct = None
            if cost is None:
                findings.append("no_cost")
            elif new > 0:
                n = net(new, vat)
                margin = (n - cost).quantize(CENT, rounding=ROUND_HALF_UP)
                margin_pct = (margin * HUNDRED / n).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
                if margin < 0:
                    findings.append("below_cost")
                elif margin_pct < min_margin:
                    findings.append("low_margin")
            ref_price, basis, label = None, "", ""
            if campaign.kind == CampaignKind.PRICE and 0 < new < regular:
                at = max(start, rows_h[-1][0] + dt.timedelta(microseconds=1))
                planned = build_timeline([*rows_h, (at, new, PriceChange.Kind.PROMO)])
                ref = reference_from_timeline(planned, len(planned) - 1, perishable=perishable)
                if ref is not None:
                    ref_price, basis, label = ref.price, ref.basis, ref.discount_label
                    if ref.discount_percent is None:
                        findings.append("no_reduction_vs_reference")
                    elif nominal is not None and ref.discount_percent != nominal:
                        findings.append("badge_differs")
            qty = None if stock is None else stock.get(vid, 0)
            if qty is not None and qty <= 0:
                findings.append("out_of_stock")
            clash_ids = []
            stacked_bad = False
            for other, other_ids in others:
                if vid not in other_ids:
                    continue
                if other.channels and channel and channel not in other.channels:
                    continue
                clash_ids.append(other.pk)
                if cost is not None and other.kind != CampaignKind.FREE_SHIPPING:
                    stacked = customer_price(other, new)
                    if stacked <= 0:
                        stacked_bad = True
                    else:
                        sn = net(stacked, vat)
                        if sn - cost < 0 or (sn - cost) * HUNDRED / sn < min_margin:
                            stacked_bad = True
            if clash_ids:
                findings.append("stacking_margin" if stacked_bad else "clash")
            rows.append(
                CheckRow(
                    variant_id=vid,
                    sku=sku,
                    name=f"{pname} {vname}".strip() if vname and vname != pname else pname,
                    product_id=pid,
                    channel=channel,
                    regular_price=regular,
                    new_price=new,
                    cost=cost,
                    margin=margin,
                    margin_percent=margin_pct,
                    reference_price=ref_price,
                    reference_basis=basis,
                    discount_label=label,
                    nominal_percent=nominal,
                    stock=qty,
                    clashes=clash_ids,
                    findings=findings,
                )
            )
    notes = []
    if campaign.kind == CampaignKind.CODES and not campaign.codes.exists():
        notes.append(_("The campaign has no discount codes yet: generate or add them."))
    if campaign.kind == CampaignKind.FREE_SHIPPING:
        notes.append(
            _(
                "Free shipping from %(amount)s: enforced by the shop's shipping rules (exported), not by prices."
            )
            % {"amount": campaign.threshold}
        )
    if not ids:
        notes.append(_("The campaign covers no products."))
    if campaign.budget is not None and campaign.kind == CampaignKind.PRICE:
        # the discount if the stock on hand sells at the new price
        at_stock = sum(
            (
                (r.regular_price - r.new_price) * max(r.stock or 0, 0)
                for r in rows
                if r.written and r.new_price > 0
            ),
            Decimal(0),
        )
        if at_stock > campaign.budget:
            notes.append(
                _(
                    "Selling the stock on hand at these prices would cost %(cost)s in discounts, over the budget %(budget)s."
                )
                % {"cost": at_stock, "budget": campaign.budget}
            )
    return CheckResult(campaign.pk, campaign.version, now, rows, time.perf_counter() - t0, notes)
