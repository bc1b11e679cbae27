"""Forms of the promotions screens (input shape only; the rules are in services.clean_campaign)."""

from __future__ import annotations

import re

from django import forms
from django.utils.translation import gettext_lazy as _

from zaplecze.catalog.models import Category, Variant
from zaplecze.catalog.services import channel_choices

from .models import CampaignKind, CampaignTarget, ValueType


class CampaignForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    goal = forms.CharField(label=_("Goal"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    kind = forms.ChoiceField(label=_("Type"), choices=CampaignKind.choices)
    value_type = forms.ChoiceField(label=_("Reduction"), choices=ValueType.choices, required=False)
    value = forms.CharField(
        label=_("Value"), required=False, help_text=_("Percent (e.g. 20) or an amount off the gross price")
    )
    threshold = forms.CharField(label=_("Free shipping from (order value)"), required=False)
    buy_quantity = forms.IntegerField(label=_("Buy"), required=False, min_value=1)
    get_quantity = forms.IntegerField(label=_("Get free"), required=False, min_value=1)
    start = forms.DateTimeField(
        label=_("Start (Europe/Warsaw)"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    end = forms.DateTimeField(
        label=_("End (Europe/Warsaw)"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    channels = forms.MultipleChoiceField(
        label=_("Channels"),
        required=False,
        help_text=_("None chosen: the base price (the own shop and every channel that follows it)"),
        widget=forms.CheckboxSelectMultiple,
    )
    skus = forms.CharField(
        label=_("Products (SKUs)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("One SKU per line or separated by commas; the whole product is included"),
    )
    categories = forms.ModelMultipleChoiceField(
        label=_("Categories (with subcategories)"), queryset=Category.objects.none(), required=False
    )
    brands = forms.CharField(label=_("Brands"), required=False, help_text=_("Separated by commas"))
    budget = forms.CharField(label=_("Budget"), required=False)
    min_margin_percent = forms.CharField(label=_("Minimum margin (%)"), required=False, initial="0")
    utm_campaign = forms.CharField(label=_("UTM campaign"), required=False, max_length=100)
    version = forms.IntegerField(required=False, widget=forms.HiddenInput)
    override_reason = forms.CharField(
        label=_("Reason to accept errors (running or scheduled campaigns)"), required=False, max_length=500
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["channels"].choices = channel_choices()
        self.fields["categories"].queryset = Category.objects.order_by("name")

    def clean_skus(self) -> list[int]:
        codes = [c for c in re.split(r"[\s,;]+", self.cleaned_data.get("skus") or "") if c]
        if not codes:
            return []
        found = dict(Variant.objects.filter(sku__in=codes).values_list("sku", "product_id"))
        missing = [c for c in codes if c not in found]
        if missing:
            raise forms.ValidationError(_("Unknown SKU: %(sku)s") % {"sku": ", ".join(missing[:5])})
        return sorted(set(found.values()))

    def targets(self) -> list[dict]:
        out: list[dict] = [
            {"kind": "product", "product_id": pid} for pid in self.cleaned_data.get("skus") or []
        ]
        out += [{"kind": "category", "category_id": c.pk} for c in self.cleaned_data.get("categories") or []]
        out += [
            {"kind": "brand", "brand": b.strip()}
            for b in (self.cleaned_data.get("brands") or "").split(",")
            if b.strip()
        ]
        return out

    def data_for_service(self) -> dict:
        d = dict(self.cleaned_data)
        for f in ("skus", "categories", "brands", "version", "override_reason"):
            d.pop(f, None)
        return d


def initial_for(campaign) -> dict:
    from zaplecze.core.businesstime import tz

    targets = list(campaign.targets.all())
    product_ids = [t.product_id for t in targets if t.kind == CampaignTarget.Kind.PRODUCT]
    skus = Variant.objects.filter(product_id__in=product_ids).order_by("sku").values_list("sku", flat=True)
    return {
        "name": campaign.name,
        "goal": campaign.goal,
        "kind": campaign.kind,
        "value_type": campaign.value_type,
        "value": campaign.value,
        "threshold": campaign.threshold,
        "buy_quantity": campaign.buy_quantity,
        "get_quantity": campaign.get_quantity,
        "start": campaign.start.astimezone(tz()).strftime("%Y-%m-%dT%H:%M"),
        "end": campaign.end.astimezone(tz()).strftime("%Y-%m-%dT%H:%M"),
        "channels": campaign.channels,
        "skus": "\n".join(skus),
        "categories": [t.category_id for t in targets if t.kind == CampaignTarget.Kind.CATEGORY],
        "brands": ", ".join(t.brand for t in targets if t.kind == CampaignTarget.Kind.BRAND),
        "budget": campaign.budget,
        "min_margin_percent": campaign.min_margin_percent,
        "utm_campaign": campaign.utm_campaign,
        "version": campaign.version,
    }


class CodeForm(forms.Form):
    code = forms.CharField(label=_("Code"), max_length=40)
    max_uses = forms.IntegerField(label=_("Uses allowed (empty: no limit)"), required=False, min_value=1)


class GenerateForm(forms.Form):
    count = forms.IntegerField(label=_("How many"), min_value=1, max_value=100_000, initial=100)
    prefix = forms.CharField(label=_("Prefix"), required=False, max_length=12)
    length = forms.IntegerField(label=_("Random characters"), min_value=6, max_value=20, initial=8)
    max_uses = forms.IntegerField(
        label=_("Uses per code (empty: no limit)"), required=False, min_value=1, initial=1
    )
