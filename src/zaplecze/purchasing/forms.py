"""Forms of the purchasing screens (input checks only; the rules live in services)."""

from __future__ import annotations

import re

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .models import Language, ReorderParameter


class SupplierForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=200)
    nip = forms.CharField(
        label=gettext_lazy("NIP"),
        max_length=20,
        required=False,
        help_text=gettext_lazy("e.g. 526-025-02-74; checked"),
    )
    email = forms.EmailField(label=gettext_lazy("E-mail for orders"), required=False)
    phone = forms.CharField(label=gettext_lazy("Phone"), max_length=40, required=False)
    address = forms.CharField(
        label=gettext_lazy("Address"),
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        max_length=1000,
    )
    currency = forms.CharField(label=gettext_lazy("Currency"), max_length=3, initial="PLN")
    language = forms.ChoiceField(
        label=gettext_lazy("Language of orders"), choices=Language.choices, initial="pl"
    )
    lead_time_days = forms.IntegerField(
        label=gettext_lazy("Lead time (working days)"),
        min_value=0,
        max_value=365,
        initial=5,
        help_text=gettext_lazy(
            "Business days from sending the order to delivery (weekends and Polish holidays skipped)."
        ),
    )
    notes = forms.CharField(
        label=gettext_lazy("Notes"), widget=forms.Textarea(attrs={"rows": 3}), required=False, max_length=5000
    )
    active = forms.BooleanField(label=gettext_lazy("Active"), required=False, initial=True)


class SupplierItemForm(forms.Form):
    sku = forms.CharField(label=gettext_lazy("Our SKU or EAN"), max_length=64)
    supplier_sku = forms.CharField(label=gettext_lazy("Supplier SKU"), max_length=64, required=False)
    unit_cost = forms.DecimalField(
        label=gettext_lazy("Unit cost (net)"), min_value=0, max_digits=14, decimal_places=2
    )
    lead_time_days = forms.IntegerField(
        label=gettext_lazy("Lead time override (working days)"), min_value=0, max_value=365, required=False
    )
    min_order_qty = forms.IntegerField(label=gettext_lazy("Minimum order quantity"), min_value=1, initial=1)
    pack_size = forms.IntegerField(label=gettext_lazy("Pack size"), min_value=1, max_value=100_000, initial=1)
    preferred = forms.BooleanField(label=gettext_lazy("Preferred supplier of this item"), required=False)


class SettingsForm(forms.Form):
    review_days = forms.IntegerField(
        label=gettext_lazy("Review period (days)"),
        min_value=0,
        max_value=365,
        help_text=gettext_lazy("Suggested quantities also cover this many days of demand."),
    )
    service_level = forms.DecimalField(
        label=gettext_lazy("Service level (%)"), min_value=50, max_value=99.9, decimal_places=1
    )
    history_days = forms.IntegerField(
        label=gettext_lazy("Sales history used (days)"), min_value=7, max_value=730
    )
    default_lead_time_days = forms.IntegerField(
        label=gettext_lazy("Default lead time (working days)"), min_value=0, max_value=365
    )


class ParameterForm(forms.Form):
    mode = forms.ChoiceField(label=gettext_lazy("Mode"), choices=ReorderParameter.Mode.choices)
    reorder_point = forms.IntegerField(label=gettext_lazy("Reorder point"), min_value=0, required=False)
    safety_stock = forms.IntegerField(label=gettext_lazy("Safety stock"), min_value=0, required=False)

    def clean(self):
        data = super().clean()
        if data.get("mode") == ReorderParameter.Mode.MANUAL and data.get("reorder_point") is None:
            self.add_error("reorder_point", _("Give the reorder point for manual mode."))
        return data


class POForm(forms.Form):
    supplier = forms.TypedChoiceField(label=gettext_lazy("Supplier"), coerce=int)
    warehouse = forms.TypedChoiceField(label=gettext_lazy("Deliver to"), coerce=int)
    expected_date = forms.DateField(
        label=gettext_lazy("Expected delivery"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=gettext_lazy("Empty: today + the supplier's lead time in working days."),
    )
    lines = forms.CharField(
        label=gettext_lazy("Lines"),
        widget=forms.Textarea(attrs={"rows": 8, "placeholder": "MUG-1 24\n5901234123457 12 9.90"}),
        help_text=gettext_lazy(
            "One line per item: SKU or EAN, quantity, and optionally the unit cost (net); default: the supplier's price."
        ),
        max_length=50_000,
    )
    notes = forms.CharField(
        label=gettext_lazy("Notes for the supplier"),
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        max_length=2000,
    )

    def __init__(self, *args, suppliers, warehouses, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["supplier"].choices = [(s.pk, s.name) for s in suppliers]
        self.fields["warehouse"].choices = [(w.pk, w.name) for w in warehouses]

    def clean_lines(self) -> list[dict]:
        rows = []
        for n, raw in enumerate(self.cleaned_data["lines"].splitlines(), 1):
            text = raw.strip()
            if not text:
                continue
            parts = [p for p in re.split(r"[\s;]+", text) if p]
            if len(parts) < 2 or len(parts) > 3:
                raise forms.ValidationError(
                    _("Row %(n)s (“%(t)s”): write the SKU or EAN, the quantity and optionally the unit cost.")
                    % {"n": n, "t": text[:60]}
                )
            if not parts[1].isdigit() or int(parts[1]) < 1:
                raise forms.ValidationError(
                    _("Row %(n)s: the quantity “%(q)s” is not a whole number above 0.")
                    % {"n": n, "q": parts[1][:20]}
                )
            rows.append(
                {
                    "sku": parts[0],
                    "quantity": int(parts[1]),
                    "unit_cost": parts[2] if len(parts) == 3 else None,
                }
            )
        if not rows:
            raise forms.ValidationError(_("Add at least one line."))
        return rows


def lines_text(lines) -> str:
    return "\n".join(f"{line.sku} {line.quantity} {line.unit_cost}" for line in lines)
