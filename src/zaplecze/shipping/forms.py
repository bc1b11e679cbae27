"""Forms of the shipping screens (input checks only; the rules live in services)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from zaplecze.orders.models import DeliveryMethod

from .carriers import ParcelSpec, services_for
from .models import ParcelTemplate, ShipmentStatus


class ShipmentForm(forms.Form):
    carrier = forms.ChoiceField(label=_("Carrier"))
    service = forms.ChoiceField(label=_("Service"))
    target_point = forms.CharField(label=_("Parcel locker / pickup point"), max_length=40, required=False)
    template = forms.ChoiceField(
        label=_("Locker size"), required=False, choices=[("", "—"), *ParcelTemplate.choices]
    )
    length_mm = forms.IntegerField(label=_("Length (mm)"), min_value=1, max_value=10_000, required=False)
    width_mm = forms.IntegerField(label=_("Width (mm)"), min_value=1, max_value=10_000, required=False)
    height_mm = forms.IntegerField(label=_("Height (mm)"), min_value=1, max_value=10_000, required=False)
    weight_kg = forms.DecimalField(
        label=_("Weight (kg)"), min_value=0.001, max_value=1000, decimal_places=3, required=False
    )
    cod_amount = forms.DecimalField(
        label=_("Cash on delivery"), min_value=0, max_digits=12, decimal_places=2, required=False
    )
    insurance_amount = forms.DecimalField(
        label=_("Insurance"), min_value=0, max_digits=12, decimal_places=2, required=False
    )
    tracking_number = forms.CharField(
        label=_("Tracking number (carriers without a connector)"), max_length=60, required=False
    )

    def __init__(self, *args, carriers, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["carrier"].choices = [(c.code, c.name) for c in carriers]
        services = []
        seen = set()
        for c in carriers:
            for option in services_for(c.connector):
                if option.code not in seen:
                    seen.add(option.code)
                    services.append((option.code, option.label))
        self.fields["service"].choices = services

    def parcel(self) -> ParcelSpec:
        d = self.cleaned_data
        return ParcelSpec(
            template=d.get("template") or "",
            length_mm=d.get("length_mm"),
            width_mm=d.get("width_mm"),
            height_mm=d.get("height_mm"),
            weight_kg=d.get("weight_kg"),
        )


class StatusForm(forms.Form):
    status = forms.ChoiceField(label=_("New status"), choices=ShipmentStatus.choices)
    note = forms.CharField(label=_("Note"), max_length=500, required=False)


class TrackingNumberForm(forms.Form):
    tracking_number = forms.CharField(label=_("Tracking number"), max_length=60)


class PromiseForm(forms.Form):
    channel = forms.ChoiceField(label=_("Channel"), required=False)
    delivery_method = forms.ChoiceField(
        label=_("Delivery method"), required=False, choices=[("", _("Any")), *DeliveryMethod.choices]
    )
    handling_days = forms.IntegerField(
        label=_("Handling time (working days)"),
        min_value=0,
        max_value=60,
        initial=1,
        help_text=_("1 = the same working day when paid by the cut-off"),
    )
    cutoff = forms.TimeField(
        label=_("Cut-off time"),
        required=False,
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        help_text=_("Paid by this time counts for the same working day (Europe/Warsaw)"),
    )
    active = forms.BooleanField(label=_("Active"), required=False, initial=True)

    def __init__(self, *args, channels, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["channel"].choices = [("", _("Any")), *((str(c.pk), c.name) for c in channels)]


class BulkForm(forms.Form):
    order_numbers = forms.CharField(
        label=_("Order numbers"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_(
            "One per line or separated by commas; empty: every ready order without a shipment (up to 500)"
        ),
    )
    delivery_method = forms.ChoiceField(
        label=_("Only delivery method"), required=False, choices=[("", _("Any")), *DeliveryMethod.choices]
    )
    carrier = forms.ChoiceField(label=_("Carrier"), required=False)
    template = forms.ChoiceField(
        label=_("Locker size"), required=False, initial="small", choices=[("", "—"), *ParcelTemplate.choices]
    )
    length_mm = forms.IntegerField(label=_("Length (mm)"), min_value=1, max_value=10_000, required=False)
    width_mm = forms.IntegerField(label=_("Width (mm)"), min_value=1, max_value=10_000, required=False)
    height_mm = forms.IntegerField(label=_("Height (mm)"), min_value=1, max_value=10_000, required=False)
    weight_kg = forms.DecimalField(
        label=_("Weight (kg)"), min_value=0.001, max_value=1000, decimal_places=3, required=False
    )

    def __init__(self, *args, carriers, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["carrier"].choices = [
            ("", _("By delivery method")),
            *((c.code, c.name) for c in carriers),
        ]

    def parcel(self) -> dict | None:
        d = self.cleaned_data
        parcel = {
            "template": d.get("template") or "",
            "length_mm": d.get("length_mm"),
            "width_mm": d.get("width_mm"),
            "height_mm": d.get("height_mm"),
            "weight_kg": str(d["weight_kg"]) if d.get("weight_kg") else None,
        }
        return parcel if any(parcel.values()) else None


class PerformanceForm(forms.Form):
    date_from = forms.DateField(label=_("From"), widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label=_("To"), widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        d = super().clean()
        if d.get("date_from") and d.get("date_to") and d["date_to"] < d["date_from"]:
            self.add_error("date_to", _("The end is before the start"))
        return d
