"""Writes of promotions: campaigns (create, edit, check, launch, start, end, cancel), targets, codes.

Life of a campaign (TRANSITIONS in models.py; `campaign_transition` is the one writer of `status`):

    draft --launch (check passes, or overridden with a reason)--> scheduled --worker at start--> running
    running --worker at end--> ended;   draft / scheduled / running --cancel--> cancelled
    scheduled --unschedule--> draft

Prices: a price-reduction campaign writes, when it starts, one promotional entry per variant (and channel)
to the catalog price history, effective at the start, and one regular entry scheduled at the end (the
regular price in effect at the start), in one `price_set_many` call (source "promotion:<id>"); feeds read
the sale price and its end from the history, and connectors are told of price changes through it. Ending
early or cancelling writes the regular prices now. A regular price set by hand during the campaign is not
lost: when the scheduled end passes, it is written again (`campaign_finish`).

Every edit, check, override and status change is a CampaignEvent with who and when; edits of a running
campaign are re-checked and applied to the prices at once.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import secrets
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from zaplecze.catalog.models import Category, PriceChange, Product, Variant
from zaplecze.catalog.prices import price_set_many
from zaplecze.catalog.services import channel_choices
from zaplecze.core.businesstime import tz
from zaplecze.core.errors import Conflict, DomainError, IllegalTransition, NotFound
from zaplecze.core.services import actor_label, diff

from . import check as checks
from . import selectors
from .models import (
    ACTIVE_STATUSES,
    TRANSITIONS,
    Campaign,
    CampaignCheck,
    CampaignCode,
    CampaignEvent,
    CampaignItem,
    CampaignKind,
    CampaignStatus,
    CampaignTarget,
    CodeRedemption,
    ValueType,
)

FIELDS = (
    "name",
    "goal",
    "channels",
    "start",
    "end",
    "kind",
    "value_type",
    "value",
    "threshold",
    "buy_quantity",
    "get_quantity",
    "budget",
    "min_margin_percent",
    "utm_campaign",
)
# What a running campaign may not change (its prices are out; change them by ending it and planning anew).
FROZEN_WHILE_RUNNING = ("start", "channels", "kind")
# A campaign whose start has come is started in the launch request up to this many prices; above, by the worker.
IMMEDIATE_LIMIT = 2000
MAX_CHECK_ROWS = 5000  # rows with findings kept with a stored check
CODE_RE = re.compile(r"^[A-Z0-9][A-Z0-9_-]{2,39}$")
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I
MAX_GENERATE = 100_000


def source_of(campaign: Campaign) -> str:
    return f"promotion:{campaign.pk}"


# --- validation ---------------------------------------------------------------------------------------


def _decimal(value: Any, *, field: str, required: bool = False) -> Decimal | None:
    if value in (None, ""):
        if required:
            raise DomainError(_("This field is required"), field=field)
        return None
    try:
        out = Decimal(str(value).strip().replace(",", ".").replace(" ", ""))
    except (InvalidOperation, ValueError):
        raise DomainError(_("%(value)r is not a number") % {"value": value}, field=field)
    if not out.is_finite() or abs(out) >= Decimal("1e15"):
        raise DomainError(_("%(value)r is not a number") % {"value": value}, field=field)
    if out != out.quantize(Decimal("0.01")):
        raise DomainError(_("At most 2 decimal places"), field=field)
    return out.quantize(Decimal("0.01"))


def _moment(value: Any, *, field: str) -> dt.datetime:
    if isinstance(value, str):
        parsed = parse_datetime(value.strip())
        if parsed is None:
            raise DomainError(_("%(value)r is not a date and time") % {"value": value}, field=field)
        value = parsed
    if not isinstance(value, dt.datetime):
        raise DomainError(_("This field is required"), field=field)
    if timezone.is_naive(value):
        value = value.replace(tzinfo=tz())  # entered in shop time (Europe/Warsaw)
    return value.astimezone(dt.UTC)


def _int(value: Any, *, field: str) -> int | None:
    if value in (None, ""):
        return None
    try:
        out = int(value)
    except (TypeError, ValueError):
        raise DomainError(_("%(value)r is not a whole number") % {"value": value}, field=field)
    if out < 1 or out > 1000:
        raise DomainError(_("Between 1 and 1000"), field=field)
    return out


def clean_campaign(data: dict[str, Any], *, current: Campaign | None = None) -> dict[str, Any]:
    """Validated field values (current values fill what `data` leaves out). Errors name the field."""
    merged = {f: getattr(current, f) for f in FIELDS} if current is not None else {}
    merged.update({k: v for k, v in data.items() if k in FIELDS})
    out: dict[str, Any] = {}
    name = str(merged.get("name") or "").strip()
    if not name:
        raise DomainError(_("A campaign needs a name"), field="name")
    if len(name) > 200:
        raise DomainError(_("At most 200 characters"), field="name")
    out["name"] = name
    out["goal"] = str(merged.get("goal") or "").strip()[:5000]
    kind = merged.get("kind") or CampaignKind.PRICE
    if kind not in CampaignKind.values:
        raise DomainError(_("Unknown campaign type %(kind)r") % {"kind": kind}, field="kind")
    out["kind"] = kind
    channels = merged.get("channels") or []
    if isinstance(channels, str):
        channels = [c for c in re.split(r"[,\s]+", channels) if c]
    known = dict(channel_choices())
    for c in channels:
        if known and c not in known:
            raise DomainError(_("Unknown channel %(c)s") % {"c": c}, field="channels")
    out["channels"] = sorted(set(channels))
    out["start"] = _moment(merged.get("start"), field="start")
    out["end"] = _moment(merged.get("end"), field="end")
    if out["end"] <= out["start"]:
        raise DomainError(_("The campaign must end after it starts"), field="end")
    if out["end"] - out["start"] > dt.timedelta(days=366):
        raise DomainError(_("A campaign lasts at most a year"), field="end")
    value_type = merged.get("value_type") or ValueType.PERCENT
    if value_type not in ValueType.values:
        raise DomainError(_("Unknown reduction %(v)r") % {"v": value_type}, field="value_type")
    out["value_type"] = value_type
    value = _decimal(merged.get("value"), field="value") or Decimal("0.00")
    out["threshold"] = _decimal(merged.get("threshold"), field="threshold")
    out["buy_quantity"] = _int(merged.get("buy_quantity"), field="buy_quantity")
    out["get_quantity"] = _int(merged.get("get_quantity"), field="get_quantity")
    if kind in (CampaignKind.PRICE, CampaignKind.CODES):
        if value <= 0:
            raise DomainError(_("The reduction must be more than zero"), field="value")
        if value_type == ValueType.PERCENT and value > 100:
            raise DomainError(_("A discount cannot be over 100 %"), field="value")
        if value_type == ValueType.PERCENT and value == 100 and kind == CampaignKind.PRICE:
            raise DomainError(_("A price reduction of 100 % would give products away"), field="value")
    else:
        value = Decimal("0.00")
    out["value"] = value
    if kind == CampaignKind.FREE_SHIPPING:
        if out["threshold"] is None or out["threshold"] < 0:
            raise DomainError(
                _("Free shipping needs an order value from which it applies"), field="threshold"
            )
    else:
        out["threshold"] = None
    if kind == CampaignKind.BUY_X_GET_Y:
        if not out["buy_quantity"]:
            raise DomainError(_("How many to buy?"), field="buy_quantity")
        if not out["get_quantity"]:
            raise DomainError(_("How many free?"), field="get_quantity")
    else:
        out["buy_quantity"] = out["get_quantity"] = None
    out["budget"] = _decimal(merged.get("budget"), field="budget")
    if out["budget"] is not None and out["budget"] < 0:
        raise DomainError(_("A budget cannot be negative"), field="budget")
    margin = _decimal(merged.get("min_margin_percent"), field="min_margin_percent") or Decimal("0.00")
    if not (Decimal(-100) <= margin < Decimal(100)):
        raise DomainError(_("Between -100 and 100"), field="min_margin_percent")
    out["min_margin_percent"] = margin
    utm = str(merged.get("utm_campaign") or "").strip()
    if len(utm) > 100:
        raise DomainError(_("At most 100 characters"), field="utm_campaign")
    out["utm_campaign"] = utm
    return out


def clean_targets(targets: list[dict[str, Any]]) -> list[CampaignTarget]:
    """Unsaved targets from [{"kind": "product", "product_id": 1} | {"kind": "category", "category_id": 2} |
    {"kind": "brand", "brand": "Acme"}]; errors name the item ("targets[1].product_id")."""
    out: list[CampaignTarget] = []
    seen: set[tuple] = set()
    for i, t in enumerate(targets or []):
        prefix = f"targets[{i}]."
        kind = (t.get("kind") or "").strip()
        if kind == CampaignTarget.Kind.PRODUCT:
            pid = t.get("product_id")
            if not Product.objects.filter(pk=_int_id(pid, prefix + "product_id")).exists():
                raise NotFound(_("There is no product %(id)s") % {"id": pid}, field=prefix + "product_id")
            key = (kind, int(pid))
            target = CampaignTarget(kind=kind, product_id=int(pid))
        elif kind == CampaignTarget.Kind.CATEGORY:
            cid = t.get("category_id")
            if not Category.objects.filter(pk=_int_id(cid, prefix + "category_id")).exists():
                raise NotFound(_("There is no category %(id)s") % {"id": cid}, field=prefix + "category_id")
            key = (kind, int(cid))
            target = CampaignTarget(kind=kind, category_id=int(cid))
        elif kind == CampaignTarget.Kind.BRAND:
            brand = str(t.get("brand") or "").strip()
            if not brand or len(brand) > 120:
                raise DomainError(_("A brand name, at most 120 characters"), field=prefix + "brand")
            key = (kind, brand.lower())
            target = CampaignTarget(kind=kind, brand=brand)
        else:
            raise DomainError(_("A target is a product, a category or a brand"), field=prefix + "kind")
        if key not in seen:
            seen.add(key)
            out.append(target)
    return out


def _int_id(value: Any, field: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise DomainError(_("%(value)r is not an id") % {"value": value}, field=field)


def _targets_repr(targets) -> list[str]:
    return sorted(f"{t.kind}:{t.product_id or t.category_id or t.brand.lower()}" for t in targets)


def _event(
    campaign: Campaign, kind: str, *, actor=None, message: str = "", data=None, **status
) -> CampaignEvent:
    return CampaignEvent.objects.create(
        campaign=campaign,
        kind=kind,
        actor=actor if getattr(actor, "pk", None) else None,
        actor_label=actor_label(actor if getattr(actor, "pk", None) else None),
        message=message[:2000],
        data=data or {},
        **status,
    )


def _check_codes_overlap(campaign: Campaign, codes: list[str], *, start=None, end=None) -> None:
    """A code may be in two campaigns only when their periods do not overlap (a customer typing it must
    get one campaign)."""
    if not codes:
        return
    start = start or campaign.start
    end = end or campaign.end
    for chunk in range(0, len(codes), 5000):
        clash = (
            CampaignCode.objects.filter(
                code__in=codes[chunk : chunk + 5000],
                campaign__status__in=ACTIVE_STATUSES,
                campaign__start__lt=end,
                campaign__end__gt=start,
            )
            .exclude(campaign_id=campaign.pk)
            .select_related("campaign")
            .first()
        )
        if clash is not None:
            raise DomainError(
                _("The code %(code)s is already in the campaign %(name)s at the same time")
                % {"code": clash.code, "name": clash.campaign.name},
                field="codes",
                code="code_overlap",
            )


# --- create and edit ----------------------------------------------------------------------------------


def campaign_create(*, data: dict[str, Any], actor, targets: list[dict] | None = None) -> Campaign:
    values = clean_campaign(data)
    target_rows = clean_targets(targets if targets is not None else data.get("targets") or [])
    if values["kind"] in (CampaignKind.PRICE, CampaignKind.BUY_X_GET_Y) and not target_rows:
        raise DomainError(_("Choose the products, categories or brands"), field="targets")
    now = timezone.now()
    with transaction.atomic():
        campaign = Campaign.objects.create(
            **values,
            created_by=actor if getattr(actor, "pk", None) else None,
            created_at=now,
            updated_at=now,
        )
        for t in target_rows:
            t.campaign = campaign
        CampaignTarget.objects.bulk_create(target_rows)
        _event(
            campaign, CampaignEvent.Kind.CREATED, actor=actor, data={"targets": _targets_repr(target_rows)}
        )
    return campaign


def campaign_update(
    *,
    campaign_id: int,
    data: dict[str, Any],
    actor,
    targets: list[dict] | None = None,
    expected_version: int | None = None,
    override_reason: str = "",
) -> Campaign:
    """Change a campaign. Draft: any field. Scheduled: re-checked; errors send it back to draft unless
    overridden. Running: start, channels and type are fixed; the change is re-checked (errors refuse it unless
    overridden with a reason) and applied to the prices at once. Every change is an event with the diff."""
    now = timezone.now()
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().filter(pk=campaign_id).first()
        if campaign is None:
            raise NotFound(_("Campaign not found"))
        if expected_version is not None and int(expected_version) != campaign.version:
            raise Conflict(
                _("The campaign was changed meanwhile; reload it"), field="version", current=campaign.version
            )
        if not campaign.can_edit():
            raise IllegalTransition(
                _("A campaign that is %(status)s cannot be changed")
                % {"status": campaign.get_status_display()}
            )
        before = {f: getattr(campaign, f) for f in FIELDS}
        values = clean_campaign(data, current=campaign)
        for f in ("start", "end"):
            # a form shows times to the minute: the same minute is no change
            if values[f].replace(second=0, microsecond=0) == getattr(campaign, f).replace(
                second=0, microsecond=0
            ):
                values[f] = getattr(campaign, f)
        old_targets = list(campaign.targets.all())
        new_targets = clean_targets(targets) if targets is not None else None
        changes = diff(before, values)
        if new_targets is not None and _targets_repr(new_targets) != _targets_repr(old_targets):
            changes["targets"] = [_targets_repr(old_targets), _targets_repr(new_targets)]
        if not changes:
            return campaign
        running = campaign.status == CampaignStatus.RUNNING
        if running:
            frozen = [f for f in FROZEN_WHILE_RUNNING if f in changes]
            if frozen:
                raise DomainError(
                    _("A running campaign's %(field)s cannot change: end it and plan a new one")
                    % {"field": frozen[0]},
                    field=frozen[0],
                )
            if values["end"] <= now:
                raise DomainError(_("The end of a running campaign must be in the future"), field="end")
        kind_after = values["kind"]
        targets_after = new_targets if new_targets is not None else old_targets
        if kind_after in (CampaignKind.PRICE, CampaignKind.BUY_X_GET_Y) and not targets_after:
            raise DomainError(_("Choose the products, categories or brands"), field="targets")
        _check_codes_overlap(
            campaign,
            list(campaign.codes.values_list("code", flat=True)),
            start=values["start"],
            end=values["end"],
        )
        old_end = campaign.end
        for f, v in values.items():
            setattr(campaign, f, v)
        campaign.version += 1
        campaign.updated_at = now
        campaign.save(update_fields=[*FIELDS, "version", "updated_at"])
        if new_targets is not None and "targets" in changes:
            campaign.targets.all().delete()
            for t in new_targets:
                t.campaign = campaign
            CampaignTarget.objects.bulk_create(new_targets)
        _event(campaign, CampaignEvent.Kind.EDITED, actor=actor, data={"changes": changes})
        if campaign.status in (CampaignStatus.SCHEDULED, CampaignStatus.RUNNING):
            stored, result = _store_check(campaign, actor=actor)
            if stored.errors:
                reason = (override_reason or "").strip()
                if running and not reason:
                    raise DomainError(
                        _("The change fails the check (%(n)s errors); give a reason to override")
                        % {"n": stored.errors},
                        field="override_reason",
                        code="check_failed",
                    )
                if running or reason:
                    _override(campaign, reason=reason, errors=stored.errors, actor=actor)
                else:
                    campaign_transition(
                        campaign=campaign,
                        to=CampaignStatus.DRAFT,
                        actor=actor,
                        message=_("Back to draft: the change fails the check"),
                    )
            if running and campaign.changes_prices:
                _reapply(campaign, result, old_end=old_end, now=now, actor=actor)
    return campaign


# --- status -------------------------------------------------------------------------------------------


def campaign_transition(*, campaign: Campaign, to: str, actor=None, message: str = "", data=None) -> Campaign:
    """Lock the row, validate the move against TRANSITIONS, save, record the event (one transaction)."""
    with transaction.atomic():
        locked = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if to not in TRANSITIONS[locked.status]:
            raise IllegalTransition(
                _("A campaign cannot go from %(a)s to %(b)s")
                % {"a": locked.get_status_display(), "b": CampaignStatus(to).label}
            )
        now = timezone.now()
        fields = ["status", "updated_at"]
        if to == CampaignStatus.SCHEDULED:
            locked.launched_at = now
            fields.append("launched_at")
        elif to == CampaignStatus.RUNNING:
            locked.started_at = now
            fields.append("started_at")
        elif to in (CampaignStatus.ENDED, CampaignStatus.CANCELLED):
            locked.ended_at = now
            fields.append("ended_at")
        before = locked.status
        locked.status, locked.updated_at = to, now
        locked.save(update_fields=fields)
        _event(
            locked,
            CampaignEvent.Kind.STATUS,
            actor=actor,
            message=message,
            data=data,
            from_status=before,
            to_status=to,
        )
    for f in ("status", "launched_at", "started_at", "ended_at", "updated_at"):
        setattr(campaign, f, getattr(locked, f))
    return campaign


def _store_check(campaign: Campaign, *, actor=None) -> tuple[CampaignCheck, checks.CheckResult]:
    result = checks.campaign_check(campaign)
    flagged = [r.as_dict() for r in result.rows if r.findings][:MAX_CHECK_ROWS]
    stored = CampaignCheck.objects.create(
        campaign=campaign,
        campaign_version=campaign.version,
        checked_at=result.at,
        errors=result.errors,
        warnings=result.warnings,
        products=len({r.product_id for r in result.rows}),
        summary=result.summary(),
        rows=flagged,
        seconds=result.seconds,
        actor=actor if getattr(actor, "pk", None) else None,
    )
    _event(
        campaign,
        CampaignEvent.Kind.CHECKED,
        actor=actor,
        data={"errors": result.errors, "warnings": result.warnings, "rows": len(result.rows)},
    )
    return stored, result


def campaign_check_run(*, campaign_id: int, actor) -> tuple[CampaignCheck, checks.CheckResult]:
    """Run the pre-launch check and store its summary (and the rows with findings)."""
    campaign = selectors.access_campaign(campaign_id)
    with transaction.atomic():
        return _store_check(campaign, actor=actor)


def _override(campaign: Campaign, *, reason: str, errors: int, actor) -> None:
    reason = reason.strip()
    if len(reason) < 5:
        raise DomainError(
            _("Say why the errors are accepted (at least 5 characters)"), field="override_reason"
        )
    Campaign.objects.filter(pk=campaign.pk).update(override_reason=reason[:500])
    campaign.override_reason = reason[:500]
    _event(
        campaign,
        CampaignEvent.Kind.OVERRIDE,
        actor=actor,
        message=reason,
        data={"errors": errors, "version": campaign.version},
    )


def campaign_launch(
    *, campaign_id: int, actor, override_reason: str = "", expected_version: int | None = None
) -> Campaign:
    """Check and schedule a draft. Errors in the check block it unless `override_reason` says why (recorded).
    A campaign whose start has come starts at once (its prices are written now)."""
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().filter(pk=campaign_id).first()
        if campaign is None:
            raise NotFound(_("Campaign not found"))
        if expected_version is not None and int(expected_version) != campaign.version:
            raise Conflict(_("The campaign was changed meanwhile; reload it"), field="version")
        if not campaign.can_launch():
            raise IllegalTransition(
                _("Only a draft can be launched (this one is %(s)s)") % {"s": campaign.get_status_display()}
            )
        if campaign.end <= timezone.now():
            raise DomainError(_("The campaign has already ended: change its dates"), field="end")
        stored, result = _store_check(campaign, actor=actor)
        if stored.errors:
            if not (override_reason or "").strip():
                raise DomainError(
                    _(
                        "The check found %(n)s products with errors: fix them or give a reason to launch anyway"
                    )
                    % {"n": stored.errors},
                    field="override_reason",
                    code="check_failed",
                    errors=stored.errors,
                )
            _override(campaign, reason=override_reason, errors=stored.errors, actor=actor)
        campaign_transition(campaign=campaign, to=CampaignStatus.SCHEDULED, actor=actor)
    if campaign.start <= timezone.now():
        if len(result.rows) <= IMMEDIATE_LIMIT:
            campaign_start(campaign_id=campaign.pk, result=result)  # the check just made: not computed twice
            campaign.refresh_from_db()
        else:
            # a big campaign is written by the worker (a job now, or the minute tick), not in the request
            from .tasks import campaign_start_task

            pk = campaign.pk
            transaction.on_commit(lambda: campaign_start_task(pk))
    return campaign


def campaign_unschedule(*, campaign_id: int, actor) -> Campaign:
    campaign = selectors.access_campaign(campaign_id)
    return campaign_transition(campaign=campaign, to=CampaignStatus.DRAFT, actor=actor)


# --- prices -------------------------------------------------------------------------------------------


def _write(items: list[dict], campaign: Campaign, actor=None) -> None:
    if items:
        price_set_many(items, source=source_of(campaign), actor=actor)


def campaign_start(
    *, campaign_id: int, now: dt.datetime | None = None, result: checks.CheckResult | None = None
) -> Campaign:
    """Scheduled -> running: write the promotional prices (from now) and the regular ones (at the end).
    Recomputed from the history now (prices may have changed since the launch); rows the check leaves out
    (inactive, no offer, not a reduction) are not written. Idempotent: a campaign not scheduled is left."""
    now = now or timezone.now()
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().filter(pk=campaign_id).first()
        if campaign is None or campaign.status != CampaignStatus.SCHEDULED:
            return campaign
        if campaign.changes_prices:
            if result is None or result.campaign_version != campaign.version:
                result = checks.campaign_check(campaign, now=now)
            rows = [r for r in result.rows if r.written]
            begin = max(campaign.start, now)
            items, plan = [], []
            for r in rows:
                items.append(
                    {
                        "variant_id": r.variant_id,
                        "price": r.new_price,
                        "channel": r.channel,
                        "kind": PriceChange.Kind.PROMO,
                        "effective_from": begin,
                    }
                )
                items.append(
                    {
                        "variant_id": r.variant_id,
                        "price": r.regular_price,
                        "channel": r.channel,
                        "kind": PriceChange.Kind.REGULAR,
                        "effective_from": campaign.end,
                    }
                )
                plan.append(
                    CampaignItem(
                        campaign=campaign,
                        variant_id=r.variant_id,
                        sku=r.sku,
                        channel=r.channel,
                        regular_price=r.regular_price,
                        promo_price=r.new_price,
                        applied_at=begin,
                    )
                )
            _write(items, campaign)
            CampaignItem.objects.bulk_create(plan, batch_size=1000)
            _event(
                campaign,
                CampaignEvent.Kind.PRICES,
                message=_("Promotional prices written: %(n)s") % {"n": len(plan)},
                data={
                    "written": len(plan),
                    "left_out": len(result.rows) - len(plan),
                    "errors": result.errors,
                },
            )
        campaign_transition(campaign=campaign, to=CampaignStatus.RUNNING)
    return campaign


def _reapply(campaign: Campaign, result: checks.CheckResult, *, old_end, now, actor) -> None:
    """Apply an edit of a running campaign to the prices: changed prices and new variants from now, removed
    variants back to their regular price now, and the end moved (the entries at the old end superseded)."""
    current = {
        (i.variant_id, i.channel): i
        for i in campaign.items.filter(reverted_at__isnull=True, variant__isnull=False)
    }
    wanted = {(r.variant_id, r.channel): r for r in result.rows if r.written}
    # variants taken out by an earlier edit and now back in: their item row is reused
    returning = {
        (i.variant_id, i.channel): i
        for i in campaign.items.filter(reverted_at__isnull=False, variant__isnull=False)
        if (i.variant_id, i.channel) in wanted
    }
    items: list[dict] = []
    new_items: list[CampaignItem] = []
    changed: list[CampaignItem] = []
    for key, r in wanted.items():
        item = current.get(key)
        if item is None and key in returning:
            back = returning[key]
            back.regular_price, back.promo_price, back.applied_at, back.reverted_at = (
                r.regular_price,
                r.new_price,
                now,
                None,
            )
            back.save(update_fields=["regular_price", "promo_price", "applied_at", "reverted_at"])
            items.append(
                {
                    "variant_id": r.variant_id,
                    "price": r.new_price,
                    "channel": r.channel,
                    "kind": PriceChange.Kind.PROMO,
                    "effective_from": now,
                }
            )
        elif item is None:
            items.append(
                {
                    "variant_id": r.variant_id,
                    "price": r.new_price,
                    "channel": r.channel,
                    "kind": PriceChange.Kind.PROMO,
                    "effective_from": now,
                }
            )
            new_items.append(
                CampaignItem(
                    campaign=campaign,
                    variant_id=r.variant_id,
                    sku=r.sku,
                    channel=r.channel,
                    regular_price=r.regular_price,
                    promo_price=r.new_price,
                    applied_at=now,
                )
            )
        elif item.promo_price != r.new_price:
            items.append(
                {
                    "variant_id": r.variant_id,
                    "price": r.new_price,
                    "channel": r.channel,
                    "kind": PriceChange.Kind.PROMO,
                    "effective_from": now,
                }
            )
            item.promo_price = r.new_price
            changed.append(item)
        regular = item.regular_price if item is not None else r.regular_price
        if item is None or campaign.end != old_end:
            if campaign.end > old_end and item is not None:
                # the regular entry at the old end is superseded by a promotional one at the same moment
                items.append(
                    {
                        "variant_id": r.variant_id,
                        "price": item.promo_price,
                        "channel": r.channel,
                        "kind": PriceChange.Kind.PROMO,
                        "effective_from": old_end,
                    }
                )
            items.append(
                {
                    "variant_id": r.variant_id,
                    "price": regular,
                    "channel": r.channel,
                    "kind": PriceChange.Kind.REGULAR,
                    "effective_from": campaign.end,
                }
            )
    removed = [i for key, i in current.items() if key not in wanted]
    for i in removed:
        items.append(
            {
                "variant_id": i.variant_id,
                "price": i.regular_price,
                "channel": i.channel,
                "kind": PriceChange.Kind.REGULAR,
                "effective_from": now,
            }
        )
        i.reverted_at = now
    _write(items, campaign, actor)
    CampaignItem.objects.bulk_create(new_items, batch_size=1000)
    CampaignItem.objects.bulk_update(changed, ["promo_price"], batch_size=1000)
    CampaignItem.objects.bulk_update(removed, ["reverted_at"], batch_size=1000)
    _event(
        campaign,
        CampaignEvent.Kind.PRICES,
        actor=actor,
        message=_("Prices re-applied after the change"),
        data={
            "added": len(new_items),
            "changed": len(changed),
            "removed": len(removed),
            "end_moved": campaign.end != old_end,
        },
    )


def _restore_manual(campaign: Campaign, now: dt.datetime, until: dt.datetime | None = None) -> int:
    """A regular price set by someone else while the campaign ran would be overwritten by the campaign's
    end entry; write it again now. Returns how many were restored."""
    items = list(
        campaign.items.filter(variant__isnull=False).values_list("variant_id", "channel", "applied_at")
    )
    if not items:
        return 0
    since = min(a for _v, _c, a in items)
    keys = {(v, c) for v, c, _a in items}
    latest: dict[tuple[int, str], tuple] = {}
    ids = sorted({v for v, _c, _a in items})
    for n in range(0, len(ids), 5000):
        qs = (
            PriceChange.objects.filter(
                variant_id__in=ids[n : n + 5000],
                kind=PriceChange.Kind.REGULAR,
                recorded_at__gt=since,
                effective_from__gt=since,
                effective_from__lt=until or campaign.end,
            )
            .exclude(source=source_of(campaign))
            .order_by("effective_from", "id")
            .values_list("variant_id", "channel", "price")
        )
        for vid, ch, price in qs:
            if (vid, ch) in keys:
                latest[(vid, ch)] = price
    out = [
        {"variant_id": v, "price": p, "channel": c, "kind": PriceChange.Kind.REGULAR, "effective_from": now}
        for (v, c), p in sorted(latest.items())
    ]
    _write(out, campaign)
    return len(out)


def campaign_finish(
    *, campaign_id: int, now: dt.datetime | None = None, actor=None, cancel: bool = False, reason: str = ""
) -> Campaign:
    """Running -> ended (the worker at the end) or -> cancelled (early, by hand). Ending early writes the
    regular prices now; at the planned end the regular entries are already in the history. Regular prices
    set by hand meanwhile are written again. Variants deleted meanwhile are skipped (noted in the event)."""
    now = now or timezone.now()
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().filter(pk=campaign_id).first()
        if campaign is None:
            raise NotFound(_("Campaign not found"))
        if campaign.status != CampaignStatus.RUNNING:
            return campaign
        live = list(campaign.items.filter(reverted_at__isnull=True))
        gone = [i.sku for i in live if i.variant_id is None]
        if campaign.end > now:
            existing = set(
                Variant.objects.filter(pk__in=[i.variant_id for i in live if i.variant_id]).values_list(
                    "pk", flat=True
                )
            )
            _write(
                [
                    {
                        "variant_id": i.variant_id,
                        "price": i.regular_price,
                        "channel": i.channel,
                        "kind": PriceChange.Kind.REGULAR,
                        "effective_from": now,
                    }
                    for i in live
                    if i.variant_id in existing
                ],
                campaign,
                actor,
            )
        restored = _restore_manual(campaign, now)
        if campaign.end <= now:
            Campaign.objects.filter(pk=campaign.pk).update(prices_settled=True)
        campaign.items.filter(reverted_at__isnull=True).update(reverted_at=now)
        if live or restored or gone:
            _event(
                campaign,
                CampaignEvent.Kind.PRICES,
                actor=actor,
                message=_("Regular prices back"),
                data={
                    "reverted": len(live) - len(gone),
                    "manual_restored": restored,
                    "deleted_skus": gone[:100],
                },
            )
        to = CampaignStatus.CANCELLED if cancel else CampaignStatus.ENDED
        campaign_transition(campaign=campaign, to=to, actor=actor, message=reason)
    return campaign


def campaign_cancel(*, campaign_id: int, actor, reason: str = "") -> Campaign:
    """Cancel a draft or scheduled campaign, or end a running one early (its regular prices back now)."""
    campaign = selectors.access_campaign(campaign_id)
    if campaign.status == CampaignStatus.RUNNING:
        return campaign_finish(campaign_id=campaign.pk, actor=actor, cancel=True, reason=reason)
    return campaign_transition(campaign=campaign, to=CampaignStatus.CANCELLED, actor=actor, message=reason)


def campaigns_tick(now: dt.datetime | None = None) -> dict[str, int]:
    """The worker (every minute): start scheduled campaigns whose start has come, end running ones whose
    end has passed. Idempotent."""
    now = now or timezone.now()
    started = ended = 0
    for pk in Campaign.objects.filter(status=CampaignStatus.SCHEDULED, start__lte=now).values_list(
        "pk", flat=True
    ):
        if Campaign.objects.filter(pk=pk, end__lte=now).exists():
            # missed entirely (worker down): nothing to write
            campaign_transition(
                campaign=Campaign.objects.get(pk=pk), to=CampaignStatus.RUNNING, message="late"
            )
            campaign_finish(campaign_id=pk, now=now)
            ended += 1
            continue
        campaign_start(campaign_id=pk, now=now)
        started += 1
    for pk in Campaign.objects.filter(status=CampaignStatus.RUNNING, end__lte=now).values_list(
        "pk", flat=True
    ):
        campaign_finish(campaign_id=pk, now=now)
        ended += 1
    # Ended early: once the planned end (where the scheduled regular entries sit) has passed, prices set by
    # hand since are written again.
    for pk in Campaign.objects.filter(
        status__in=(CampaignStatus.ENDED, CampaignStatus.CANCELLED),
        started_at__isnull=False,
        prices_settled=False,
        end__lte=now,
    ).values_list("pk", flat=True):
        campaign_settle(campaign_id=pk, now=now)
    return {"started": started, "ended": ended}


def campaign_settle(*, campaign_id: int, now: dt.datetime | None = None) -> int:
    """After the planned end of a campaign ended early: re-apply regular prices set by hand since, which the
    campaign's scheduled end entries overwrote. Idempotent (prices_settled)."""
    now = now or timezone.now()
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().filter(pk=campaign_id, prices_settled=False).first()
        if campaign is None:
            return 0
        restored = _restore_manual(campaign, now, until=campaign.end + dt.timedelta(microseconds=1))
        Campaign.objects.filter(pk=campaign.pk).update(prices_settled=True)
        if restored:
            _event(
                campaign,
                CampaignEvent.Kind.PRICES,
                message=_("Prices set by hand during the campaign written again"),
                data={"manual_restored": restored},
            )
    return restored


# --- codes --------------------------------------------------------------------------------------------


def normalise_code(value: Any, *, field: str = "code") -> str:
    code = str(value or "").strip().upper()
    if not CODE_RE.match(code):
        raise DomainError(
            _("A code is 3-40 letters, digits, - and _ (%(code)r)") % {"code": value}, field=field
        )
    return code


def _max_uses(value: Any) -> int | None:
    if value in (None, "", 0, "0"):
        return None
    try:
        n = int(value)
    except (TypeError, ValueError):
        raise DomainError(_("%(value)r is not a whole number") % {"value": value}, field="max_uses")
    if n < 1 or n > 10_000_000:
        raise DomainError(_("Between 1 and 10,000,000 (empty: no limit)"), field="max_uses")
    return n


def _codes_campaign(campaign_id: int) -> Campaign:
    campaign = Campaign.objects.select_for_update().filter(pk=campaign_id).first()
    if campaign is None:
        raise NotFound(_("Campaign not found"))
    if campaign.kind != CampaignKind.CODES:
        raise DomainError(_("Only a discount-code campaign has codes"), field="kind")
    if campaign.status not in ACTIVE_STATUSES:
        raise IllegalTransition(_("The campaign is over"))
    return campaign


def code_add(*, campaign_id: int, code: str, max_uses: Any = None, actor) -> CampaignCode:
    """One code (e.g. "SUMMER25"), single-use (max_uses 1), limited, or unlimited (None)."""
    code = normalise_code(code)
    limit = _max_uses(max_uses)
    with transaction.atomic():
        campaign = _codes_campaign(campaign_id)
        if campaign.codes.filter(code=code).exists():
            raise DomainError(_("The campaign already has the code %(code)s") % {"code": code}, field="code")
        _check_codes_overlap(campaign, [code])
        out = CampaignCode.objects.create(campaign=campaign, code=code, max_uses=limit)
        _event(campaign, CampaignEvent.Kind.CODES, actor=actor, data={"added": code, "max_uses": limit})
    return out


def codes_generate(
    *, campaign_id: int, count: int, prefix: str = "", length: int = 8, max_uses: Any = 1, actor
) -> int:
    """Generate `count` random codes ("PREFIX-XXXXXXXX"), single-use by default; returns how many."""
    try:
        count, length = int(count), int(length)
    except (TypeError, ValueError):
        raise DomainError(_("A whole number"), field="count")
    if not (1 <= count <= MAX_GENERATE):
        raise DomainError(
            _("Between 1 and %(n)s codes at a time") % {"n": f"{MAX_GENERATE:,}"}, field="count"
        )
    if not (6 <= length <= 20):
        raise DomainError(_("Between 6 and 20 characters"), field="length")
    prefix = (prefix or "").strip().upper()
    if prefix and not re.fullmatch(r"[A-Z0-9]{1,12}", prefix):
        raise DomainError(_("A prefix is up to 12 letters and digits"), field="prefix")
    limit = _max_uses(max_uses)
    with transaction.atomic():
        campaign = _codes_campaign(campaign_id)
        existing = set(campaign.codes.values_list("code", flat=True))
        made: set[str] = set()
        while len(made) < count:
            code = "".join(secrets.choice(CODE_ALPHABET) for _n in range(length))
            code = f"{prefix}-{code}" if prefix else code
            if code not in existing:
                made.add(code)
        codes = sorted(made)
        _check_codes_overlap(campaign, codes)
        CampaignCode.objects.bulk_create(
            [CampaignCode(campaign=campaign, code=c, max_uses=limit) for c in codes], batch_size=2000
        )
        _event(
            campaign,
            CampaignEvent.Kind.CODES,
            actor=actor,
            data={"generated": count, "prefix": prefix, "max_uses": limit},
        )
    return count


def code_redeem(*, code: str, order_ref: str, at: dt.datetime | None = None) -> CampaignCode:
    """Use a code for an order (a storefront or connector calls it): the code must belong to a running
    campaign and be within its limit. The counter moves by a conditional update, so two orders racing for
    the last use of a single-use code cannot both win. Redeeming the same order again changes nothing."""
    code = normalise_code(code)
    order_ref = str(order_ref or "").strip()[:150]
    if not order_ref:
        raise DomainError(_("Which order uses the code?"), field="order_ref")
    at = at or timezone.now()
    with transaction.atomic():
        row = (
            CampaignCode.objects.filter(
                code=code,
                campaign__status=CampaignStatus.RUNNING,
                campaign__start__lte=at,
                campaign__end__gt=at,
            )
            .select_related("campaign")
            .first()
        )
        if row is None:
            raise NotFound(_("The code %(code)s is not valid now") % {"code": code}, field="code")
        if CodeRedemption.objects.filter(code=row, order_ref=order_ref).exists():
            return row
        updated = (
            CampaignCode.objects.filter(pk=row.pk)
            .filter(Q(max_uses__isnull=True) | Q(uses__lt=F("max_uses")))
            .update(uses=F("uses") + 1)
        )
        if not updated:
            raise Conflict(
                _("The code %(code)s has been used up") % {"code": code}, field="code", code="used_up"
            )
        try:
            with transaction.atomic():
                CodeRedemption.objects.create(code=row, order_ref=order_ref, at=at)
        except IntegrityError:
            CampaignCode.objects.filter(pk=row.pk).update(uses=F("uses") - 1)
        row.refresh_from_db()
    return row


def codes_csv(campaign: Campaign) -> str:
    """code, max_uses, uses, valid_from, valid_to, value, value_type: for the shop's coupon import."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(
        ["code", "max_uses", "uses", "valid_from", "valid_to", "discount", "discount_type", "campaign"]
    )
    start, end = campaign.start.isoformat(), campaign.end.isoformat()
    for code, limit, uses in (
        campaign.codes.order_by("code").values_list("code", "max_uses", "uses").iterator(chunk_size=5000)
    ):
        w.writerow(
            [
                code,
                "" if limit is None else limit,
                uses,
                start,
                end,
                campaign.value,
                campaign.value_type,
                campaign.name,
            ]
        )
    return buf.getvalue()


def rules_export(campaign: Campaign) -> dict:
    """The campaign as a rule for a shop or channel that applies it at checkout (free shipping, buy X get Y,
    codes): what price history cannot carry."""
    targets = [
        {"kind": t.kind, "product_id": t.product_id, "category_id": t.category_id, "brand": t.brand}
        for t in campaign.targets.all()
    ]
    skus = (
        list(selectors.campaign_variants(campaign).values_list("sku", flat=True)[:100_000]) if targets else []
    )
    return {
        "id": campaign.pk,
        "name": campaign.name,
        "type": campaign.kind,
        "channels": campaign.channels,
        "valid_from": campaign.start.isoformat(),
        "valid_to": campaign.end.isoformat(),
        "value_type": campaign.value_type,
        "value": str(campaign.value),
        "free_shipping_from": None if campaign.threshold is None else str(campaign.threshold),
        "buy": campaign.buy_quantity,
        "get": campaign.get_quantity,
        "targets": targets,
        "skus": skus,
        "codes": campaign.codes.count(),
    }
