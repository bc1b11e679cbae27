"""Screens of prices: bulk price change by rule (form -> preview -> apply, undo) and the price history of a
variant (table + step chart with the Omnibus reference). Thin: writes go through catalog.prices and
catalog.reprice, reads through catalog.omnibus."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import altair as alt
from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST, require_safe

from zaplecze.core.access import require
from zaplecze.core.errors import DomainError, NotFound
from zaplecze.core.permissions import user_has
from zaplecze.core.viewhelpers import form_error

from . import omnibus, reprice
from .models import BulkChange, Category, Offer, PriceChange, Product, Variant
from .prices import price_set, promotion_set

ROWS_PER_PAGE = 200
SHOW = ("all", "changes", "refused")


def _form_error(form, exc) -> None:
    aliases = {"effective_from": "start", "percent": "value", "amount": "value", "category_id": "category"}
    form_error(form, exc, aliases=aliases)


def _channel_choices() -> list[tuple[str, str]]:
    from .services import channel_choices

    return [("", _("Base prices"))] + list(channel_choices())


class RepriceForm(forms.Form):
    category = forms.ModelChoiceField(
        label=gettext_lazy("Category"),
        queryset=Category.objects.order_by("name"),
        required=False,
        help_text=gettext_lazy("With every category below it."),
    )
    brand = forms.CharField(label=gettext_lazy("Brand"), max_length=120, required=False)
    status = forms.ChoiceField(
        label=gettext_lazy("Status"),
        choices=[("", gettext_lazy("Any"))] + Product.Status.choices,
        required=False,
    )
    sku_prefix = forms.CharField(label=gettext_lazy("SKU starts with"), max_length=64, required=False)
    channel = forms.ChoiceField(label=gettext_lazy("Prices"), required=False)
    mode = forms.ChoiceField(
        label=gettext_lazy("Change by"),
        choices=[("percent", gettext_lazy("Percent")), ("amount", gettext_lazy("Amount (PLN)"))],
    )
    value = forms.DecimalField(
        label=gettext_lazy("Change"),
        max_digits=10,
        decimal_places=2,
        help_text=gettext_lazy("Negative to lower prices, e.g. -10."),
    )
    round_99 = forms.BooleanField(
        label=gettext_lazy("Round to ,99 (the highest ,99 price not above the result)"), required=False
    )
    min_margin = forms.DecimalField(
        label=gettext_lazy("Minimum margin (%)"),
        max_digits=5,
        decimal_places=1,
        required=False,
        help_text=gettext_lazy("Cuts that leave less margin on the net price are refused."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["channel"].choices = _channel_choices()


class PriceForm(forms.Form):
    price = forms.DecimalField(label=gettext_lazy("New price (gross)"), max_digits=12, decimal_places=2)
    channel = forms.ChoiceField(label=gettext_lazy("Prices"), required=False)
    kind = forms.ChoiceField(label=gettext_lazy("Kind"), choices=PriceChange.Kind.choices)
    start = forms.DateTimeField(
        label=gettext_lazy("From"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text=gettext_lazy("Empty: now. A later moment schedules the price."),
    )
    end = forms.DateTimeField(
        label=gettext_lazy("Promotion ends"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text=gettext_lazy("Promotional prices only: the regular price comes back then."),
    )

    def __init__(self, *args, channels: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["channel"].choices = [("", _("Base price"))] + [(c, c) for c in channels]


def _bulk(reprice_id: int) -> BulkChange:
    try:
        return reprice.access_reprice(reprice_id)
    except NotFound:
        raise Http404


def _variant(variant_id: int) -> Variant:
    variant = Variant.objects.select_related("product").filter(pk=variant_id).first()
    if variant is None:
        raise Http404
    return variant


# --- bulk price change ----------------------------------------------------------------------------------


def _index(request, form, status=200):
    recent = list(BulkChange.objects.filter(kind=BulkChange.Kind.REPRICE).select_related("created_by")[:20])
    return render(
        request,
        "catalog/prices_reprice.html",
        {"form": form, "recent": recent, "can_edit": user_has(request.user, "catalog.edit")},
        status=status,
    )


@require("catalog.view")
@require_safe
def prices_index(request):
    """The bulk price change form and the latest price changes by rule."""
    return _index(request, RepriceForm(initial={"mode": "percent", "round_99": True}))


@require("catalog.edit")
@require_POST
def reprice_create(request):
    form = RepriceForm(request.POST)
    if form.is_valid():
        d = form.cleaned_data
        try:
            bulk = reprice.reprice_preview(
                flt=reprice.RepriceFilter(
                    category_id=d["category"].pk if d["category"] else None,
                    brand=d["brand"],
                    status=d["status"],
                    sku_prefix=d["sku_prefix"],
                    channel=d["channel"],
                ),
                percent=d["value"] if d["mode"] == "percent" else None,
                amount=d["value"] if d["mode"] == "amount" else None,
                round_99=d["round_99"],
                min_margin=d["min_margin"],
                actor=request.user,
            )
        except DomainError as exc:
            _form_error(form, exc)
        else:
            return redirect("catalog:reprice", reprice_id=bulk.pk)
    return _index(request, form, status=400)


@require("catalog.view")
@require_safe
def reprice_detail(request, reprice_id: int):
    bulk = _bulk(reprice_id)
    show = request.GET.get("show") if request.GET.get("show") in SHOW else "all"
    rows = bulk.rows
    if show == "changes":
        rows = [r for r in rows if not r.get("refused")]
    elif show == "refused":
        rows = [r for r in rows if r.get("refused")]
    page = Paginator(rows, ROWS_PER_PAGE).get_page(request.GET.get("page"))
    for r in page:
        r["refused_text"] = reprice.refusal_text(r.get("refused"))
        r["flags_text"] = [str(reprice.FLAGS.get(f, f)) for f in r.get("flags", [])]
        r["diff"] = Decimal(r["new"]) - Decimal(r["old"])
    return render(
        request,
        "catalog/prices_preview.html",
        {
            "bulk": bulk,
            "page": page,
            "show": show,
            "s": bulk.summary,
            "flt": bulk.params.get("filter", {}),
            "can_edit": user_has(request.user, "catalog.edit"),
        },
    )


def _bulk_action(request, reprice_id: int, action, done: str):
    bulk = _bulk(reprice_id)
    try:
        action(bulk, request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, done)
    return redirect("catalog:reprice", reprice_id=bulk.pk)


@require("catalog.edit")
@require_POST
def reprice_apply(request, reprice_id: int):
    return _bulk_action(request, reprice_id, reprice.reprice_apply, _("The new prices are applied."))


@require("catalog.edit")
@require_POST
def reprice_undo(request, reprice_id: int):
    return _bulk_action(request, reprice_id, reprice.reprice_undo, _("The previous prices are restored."))


@require("catalog.edit")
@require_POST
def reprice_discard(request, reprice_id: int):
    return _bulk_action(request, reprice_id, reprice.reprice_discard, _("The preview is discarded."))


# --- price history of a variant ----------------------------------------------------------------------


def history_chart(history: omnibus.PriceHistory, variant: Variant) -> dict | None:
    """A step chart of the price in effect over time per channel, the reference price drawn over its window."""
    rows: dict[str, list[tuple]] = {}
    for e in history.entries:
        rows.setdefault(e.channel, []).append((e.effective_from, e.price, e.kind))
    if not rows:
        return None
    base_label = _("Base price")
    points, refs = [], []
    last = max(e.effective_from for e in history.entries)
    end = max(history.now, last) + dt.timedelta(days=3)
    for channel in history.current:
        merged = (
            omnibus.merge_channel(rows.get("", []), rows.get(channel, [])) if channel else rows.get("", [])
        )
        label = channel or base_label
        segs = omnibus.build_timeline(merged)
        for s in segs:
            points.append(
                {"t": s.start.isoformat(), "price": float(s.price), "channel": label, "kind": s.kind}
            )
        if segs:
            points.append(
                {"t": end.isoformat(), "price": float(segs[-1].price), "channel": label, "kind": ""}
            )
        ref = history.current[channel].reference
        if ref is not None:
            refs.append(
                {
                    "from": ref.window_from.isoformat(),
                    "to": ref.window_to.isoformat(),
                    "price": float(ref.price),
                    "channel": label,
                    "what": _("Lowest price before the reduction"),
                }
            )
    x = alt.X("t:T", title=None, axis=alt.Axis(format="%d.%m.%Y", labelAngle=0, grid=False))
    line = (
        alt.Chart(alt.Data(values=points))
        .mark_line(interpolate="step-after", point=True, strokeWidth=2)
        .encode(
            x=x,
            y=alt.Y("price:Q", title=variant.currency, scale=alt.Scale(zero=False)),
            color=alt.Color("channel:N", title=None),
            tooltip=[
                alt.Tooltip("t:T", title=_("From"), format="%Y-%m-%d %H:%M"),
                alt.Tooltip("channel:N", title=_("Prices")),
                alt.Tooltip("price:Q", title=_("Price"), format=",.2f"),
                alt.Tooltip("kind:N", title=_("Kind")),
            ],
        )
    )
    layers = [line]
    if refs:
        layers.append(
            alt.Chart(alt.Data(values=refs))
            .mark_rule(strokeDash=[6, 4], strokeWidth=2, color="#b42318")
            .encode(
                x=alt.X("from:T"),
                x2="to:T",
                y="price:Q",
                tooltip=[
                    alt.Tooltip("what:N", title=""),
                    alt.Tooltip("channel:N", title=_("Prices")),
                    alt.Tooltip("price:Q", title=_("Price"), format=",.2f"),
                ],
            )
        )
    chart = alt.layer(*layers).properties(width="container", height=240)
    return chart.configure_view(stroke=None).configure_legend(orient="top").to_dict()


def _history_page(request, variant: Variant, form=None, status=200):
    history = omnibus.price_history(variant)
    channels = [c for c in history.current if c]
    offer_channels = list(Offer.objects.filter(variant=variant).values_list("channel", flat=True))
    can_edit = user_has(request.user, "catalog.edit")
    if form is None and can_edit:
        form = PriceForm(channels=offer_channels, initial={"price": variant.price, "kind": "regular"})
    current = [{"channel": c, "eff": e} for c, e in history.current.items()]
    entries = sorted(history.entries, key=lambda e: (e.effective_from, e.pk), reverse=True)
    return render(
        request,
        "catalog/prices_history.html",
        {
            "variant": variant,
            "product": variant.product,
            "current": current,
            "entries": entries,
            "channels": channels,
            "now": history.now,
            "chart_spec": history_chart(history, variant),
            "form": form,
            "can_edit": can_edit,
        },
        status=status,
    )


@require("catalog.view")
@require_safe
def variant_history(request, price_variant_id: int):
    return _history_page(request, _variant(price_variant_id))


@require("catalog.edit")
@require_POST
def variant_price_set(request, price_variant_id: int):
    variant = _variant(price_variant_id)
    offer_channels = list(Offer.objects.filter(variant=variant).values_list("channel", flat=True))
    form = PriceForm(request.POST, channels=offer_channels)
    if form.is_valid():
        d = form.cleaned_data
        try:
            if d["kind"] == PriceChange.Kind.PROMO and d["end"]:
                promotion_set(
                    variant,
                    price=d["price"],
                    start=d["start"],
                    end=d["end"],
                    channel=d["channel"],
                    actor=request.user,
                )
            else:
                if d["end"]:
                    raise DomainError(_("Only a promotional price has an end"), field="end")
                price_set(
                    variant,
                    price=d["price"],
                    channel=d["channel"],
                    kind=d["kind"],
                    effective_from=d["start"],
                    actor=request.user,
                    source="manual",
                )
        except DomainError as exc:
            _form_error(form, exc)
        else:
            start = d["start"]
            if start and start > timezone.now():
                messages.success(request, _("The price is scheduled."))
            else:
                messages.success(request, _("The price is saved."))
            return redirect("catalog:price_history", price_variant_id=variant.pk)
    return _history_page(request, variant, form=form, status=400)
