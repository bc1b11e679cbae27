"""Forms of the order screens. They only parse and re-show what the user typed; every rule lives in the
schemas (`OrderIn`) and services, whose errors the views put back next to the fields."""

from __future__ import annotations

import datetime as dt
import secrets
from decimal import Decimal, InvalidOperation
from typing import Any

from django import forms
from django.core.validators import RegexValidator
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from zaplecze.catalog.models import VatRate

from .models import Channel, CustomerType, DeliveryMethod, PaymentMethod, PaymentStatus, Stage

ADDRESS_PARTS = ("name", "company", "street", "postcode", "city", "country", "phone")
ADDRESS_LABELS = {
    "name": _("Name"),
    "company": _("Company"),
    "street": _("Street and number"),
    "postcode": _("Postcode"),
    "city": _("City"),
    "country": _("Country"),
    "phone": _("Phone"),
}
DATETIME_INPUT = "%Y-%m-%dT%H:%M"
MANUAL_ID_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I


def new_manual_external_id(now: dt.datetime | None = None) -> str:
    """`M-YYYYMMDD-XXXX`: the day in shop time and four random characters."""
    day = timezone.localtime(now or timezone.now()).strftime("%Y%m%d")
    return f"M-{day}-" + "".join(secrets.choice(MANUAL_ID_ALPHABET) for _ in range(4))


def _address_fields(prefix: str, required: tuple[str, ...] = ()) -> dict[str, forms.Field]:
    out: dict[str, forms.Field] = {}
    for part in ADDRESS_PARTS:
        max_length = {"postcode": 12, "country": 2, "phone": 40}.get(part, 300)
        out[f"{prefix}_{part}"] = forms.CharField(
            label=ADDRESS_LABELS[part],
            max_length=max_length,
            required=part in required,
            widget=forms.TextInput(
                attrs={"autocomplete": "off", **({"size": 2} if part == "country" else {})}
            ),
        )
    return out


def address_from(cleaned: dict[str, Any], prefix: str) -> dict[str, str]:
    """The address dict stored on the order ({} when every part is empty)."""
    parts = {part: (cleaned.get(f"{prefix}_{part}") or "").strip() for part in ADDRESS_PARTS}
    if not any(v for k, v in parts.items() if k != "country"):
        return {}
    parts["country"] = (parts["country"] or "PL").upper()
    return parts


def address_initial(address: dict | None, prefix: str) -> dict[str, str]:
    address = address or {}
    return {f"{prefix}_{part}": address.get(part, "") or "" for part in ADDRESS_PARTS}


class DateTimeLocalInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, attrs=None):
        super().__init__(attrs=attrs, format=DATETIME_INPUT)


def _choices(choices, blank: str | None = None) -> list[tuple[str, str]]:
    out = [(str(v), label) for v, label in choices]
    return [("", blank), *out] if blank is not None else out


# --- order page ---------------------------------------------------------------------------------------


class StatusChangeForm(forms.Form):
    # The page offers only the moves allowed from the current stage; the service decides and explains.
    status = forms.CharField(label=_("New status"), max_length=40)
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)
    reason = forms.CharField(label=_("Comment (optional)"), max_length=1000, required=False)


class NoteForm(forms.Form):
    text = forms.CharField(label=_("Note"), max_length=5000, widget=forms.Textarea(attrs={"rows": 3}))


class AttentionForm(forms.Form):
    note = forms.CharField(label=_("What was done (optional)"), max_length=500, required=False)


class OrderEditForm(forms.Form):
    """The editable fields of an order (services.EDITABLE_FIELDS) with the version the user saw."""

    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)
    customer_name = forms.CharField(label=_("Customer name"), max_length=200, required=False)
    company = forms.CharField(label=_("Company"), max_length=200, required=False)
    nip = forms.CharField(label="NIP", max_length=20, required=False)
    email = forms.CharField(
        label=_("E-mail"),
        max_length=254,
        required=False,
        widget=forms.EmailInput(attrs={"autocomplete": "off"}),
    )
    phone = forms.CharField(label=_("Phone"), max_length=40, required=False)
    payment_method = forms.ChoiceField(label=_("Payment method"), choices=_choices(PaymentMethod.choices))
    payment_status = forms.ChoiceField(label=_("Payment status"), choices=_choices(PaymentStatus.choices))
    paid_at = forms.DateTimeField(
        label=_("Paid at"),
        required=False,
        widget=DateTimeLocalInput,
        input_formats=[DATETIME_INPUT, "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"],
    )
    delivery_method = forms.ChoiceField(label=_("Delivery method"), choices=_choices(DeliveryMethod.choices))
    pickup_point = forms.CharField(
        label=_("Pickup point"),
        max_length=40,
        required=False,
        help_text=_("e.g. the InPost locker id, KRA01M"),
    )
    ship_by = forms.DateTimeField(
        label=_("Ship by"),
        required=False,
        widget=DateTimeLocalInput,
        input_formats=[DATETIME_INPUT, "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"],
    )
    notes = forms.CharField(
        label=_("Customer notes"), max_length=5000, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    internal_notes = forms.CharField(
        label=_("Internal notes"), max_length=5000, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )

    SCALARS = (
        "customer_name",
        "company",
        "nip",
        "email",
        "phone",
        "payment_method",
        "payment_status",
        "paid_at",
        "delivery_method",
        "pickup_point",
        "ship_by",
        "notes",
        "internal_notes",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields.update(_address_fields("shipping"))
        self.fields.update(_address_fields("billing"))

    @classmethod
    def initial_for(cls, order) -> dict[str, Any]:
        initial = {name: getattr(order, name) for name in cls.SCALARS}
        initial["version"] = order.version
        initial.update(address_initial(order.shipping_address, "shipping"))
        initial.update(address_initial(order.billing_address, "billing"))
        return initial

    def changes_against(self, order) -> dict[str, Any]:
        """The fields whose submitted value differs from the order as it is now."""
        data = self.cleaned_data
        changes: dict[str, Any] = {}
        for name in self.SCALARS:
            new, old = data.get(name), getattr(order, name)
            if isinstance(new, str):
                new = new.strip()
            if isinstance(old, dt.datetime) and isinstance(new, dt.datetime):
                if old.replace(second=0, microsecond=0) == new.replace(second=0, microsecond=0):
                    continue
            if (new or None) != (old or None):
                changes[name] = new if new is not None else ("" if isinstance(old, str) else None)
        for prefix in ("shipping", "billing"):
            new_addr = address_from(data, prefix)
            old_addr = {
                k: v for k, v in (getattr(order, f"{prefix}_address") or {}).items() if k in ADDRESS_PARTS
            }
            if address_from(address_initial(old_addr, prefix), prefix) != new_addr:
                changes[f"{prefix}_address"] = new_addr
        return changes


# --- manual order -------------------------------------------------------------------------------------


class ManualOrderForm(forms.Form):
    external_id = forms.CharField(
        widget=forms.HiddenInput,
        max_length=40,
        validators=[RegexValidator(r"^M-\d{8}-[A-Z0-9]{4}$", _("The form is damaged; reload the page."))],
    )
    channel = forms.ChoiceField(label=_("Channel"))
    customer_type = forms.ChoiceField(label=_("Customer type"), choices=_choices(CustomerType.choices))
    customer_name = forms.CharField(label=_("Customer name"), max_length=300, required=False)
    email = forms.CharField(
        label=_("E-mail"),
        max_length=254,
        required=False,
        widget=forms.EmailInput(attrs={"autocomplete": "off"}),
    )
    phone = forms.CharField(
        label=_("Phone"),
        max_length=40,
        required=False,
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "off"}),
    )
    company = forms.CharField(label=_("Company"), max_length=300, required=False)
    nip = forms.CharField(
        label="NIP", max_length=20, required=False, help_text=_("Required for a business customer")
    )
    billing_same = forms.BooleanField(
        label=_("Billing address is the same as shipping"), required=False, initial=True
    )
    payment_method = forms.ChoiceField(
        label=_("Payment method"), choices=_choices(PaymentMethod.choices), initial=PaymentMethod.COD
    )
    payment_status = forms.ChoiceField(
        label=_("Payment status"),
        required=False,
        choices=_choices(PaymentStatus.choices, blank=_("Automatic (from the payment method)")),
    )
    delivery_method = forms.ChoiceField(
        label=_("Delivery method"),
        choices=_choices(DeliveryMethod.choices),
        initial=DeliveryMethod.INPOST_LOCKER,
    )
    pickup_point = forms.CharField(
        label=_("Pickup point"),
        max_length=40,
        required=False,
        help_text=_("e.g. the InPost locker id, KRA01M"),
    )
    shipping_cost = forms.CharField(
        label=_("Shipping cost"),
        max_length=20,
        required=False,
        initial="0.00",
        widget=forms.TextInput(attrs={"inputmode": "decimal", "size": 8}),
    )
    discount = forms.CharField(
        label=_("Discount"),
        max_length=20,
        required=False,
        initial="0.00",
        widget=forms.TextInput(attrs={"inputmode": "decimal", "size": 8}),
    )
    notes = forms.CharField(
        label=_("Customer notes"), max_length=5000, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args, channels: list[Channel], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["channel"].choices = [(c.code, c.name) for c in channels if c.active]
        self.fields.update(_address_fields("shipping"))
        self.fields.update(_address_fields("billing"))
        self.fields["shipping_country"].initial = "PL"
        self.fields["billing_country"].initial = "PL"

    def address_keys(self, prefix: str) -> list[str]:
        return [f"{prefix}_{part}" for part in ADDRESS_PARTS]

    def shipping_fields(self):
        return [self[k] for k in self.address_keys("shipping")]

    def billing_fields(self):
        return [self[k] for k in self.address_keys("billing")]


class LineForm(forms.Form):
    sku = forms.CharField(
        label="SKU",
        max_length=64,
        required=False,
        widget=forms.TextInput(attrs={"list": "variants", "autocomplete": "off", "data-line-sku": "1"}),
    )
    quantity = forms.CharField(
        label=_("Quantity"),
        max_length=10,
        required=False,
        initial="1",
        widget=forms.TextInput(attrs={"inputmode": "numeric", "size": 4}),
    )
    unit_price_gross = forms.CharField(
        label=_("Unit price (gross)"),
        max_length=20,
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "size": 9, "data-line-price": "1"}),
    )
    vat_rate = forms.ChoiceField(
        label=_("VAT"), required=False, choices=_choices(VatRate.choices, blank=_("from product"))
    )

    def is_blank(self) -> bool:
        data = self.cleaned_data if hasattr(self, "cleaned_data") else {}
        return not (data.get("sku") or "").strip()


LineFormSet = forms.formset_factory(LineForm, extra=4, max_num=200, absolute_max=200)


def decimal_text(raw: str | None) -> str:
    """Accept Polish input ("12,99", "1 234,50") and give pydantic a plain decimal string."""
    text = (raw or "").strip().replace("\u00a0", "").replace(" ", "").replace(",", ".")
    return text or "0"


def parse_decimal(raw: str | None) -> Decimal | None:
    try:
        return Decimal(decimal_text(raw))
    except InvalidOperation:
        return None


# --- settings -----------------------------------------------------------------------------------------


class StatusForm(forms.Form):
    code = forms.SlugField(
        label=_("Code"), max_length=40, help_text=_("Letters, digits, - and _; cannot change later")
    )
    name_pl = forms.CharField(label=_("Name (Polish)"), max_length=80)
    name_en = forms.CharField(label=_("Name (English)"), max_length=80)
    stage = forms.ChoiceField(
        label=_("Stage"),
        choices=_choices(Stage.choices),
        help_text=_("The fixed lifecycle stage this status belongs to"),
    )
    colour = forms.RegexField(
        label=_("Colour"),
        regex=r"^#[0-9a-fA-F]{6}$",
        initial="#6b7280",
        widget=forms.TextInput(attrs={"type": "color"}),
    )
    position = forms.IntegerField(label=_("Position"), min_value=0, max_value=32000, initial=100)


class ChannelForm(forms.Form):
    code = forms.RegexField(
        label=_("Code"),
        regex=r"^[a-z0-9][a-z0-9_-]{0,39}$",
        help_text=_("Lower-case letters, digits, - and _; cannot change later"),
    )
    name = forms.CharField(label=_("Name"), max_length=120)
    kind = forms.ChoiceField(label=_("Type"), choices=_choices(Channel.Kind.choices))
    ship_within_hours = forms.IntegerField(
        label=_("Ship within (working hours)"), min_value=1, max_value=2000, initial=24
    )
    active = forms.BooleanField(label=_("Active"), required=False, initial=True)
