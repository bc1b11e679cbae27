"""Forms of the product screens (input checks only; the rules live in services)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .models import Product, VatRate


def category_choices(tree) -> list[tuple[str, str]]:
    return [("", _("(none)"))] + [(str(c.pk), c.label) for c in tree]


class ProductForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=300)
    status = forms.ChoiceField(label=gettext_lazy("Status"), choices=Product.Status.choices)
    category = forms.ChoiceField(label=gettext_lazy("Category"), required=False)
    brand = forms.CharField(label=gettext_lazy("Brand"), max_length=120, required=False)
    manufacturer = forms.ChoiceField(label=gettext_lazy("Manufacturer"), required=False)
    perishable = forms.BooleanField(
        label=gettext_lazy(
            "Perishable (the Omnibus reference price is the price before the first reduction)"
        ),
        required=False,
    )
    safety_info = forms.CharField(
        label=gettext_lazy("Warnings and safety information (GPSR, in Polish)"),
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        max_length=5000,
    )

    def __init__(self, *args, categories, manufacturers, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["category"].choices = category_choices(categories)
        self.fields["manufacturer"].choices = [("", _("(none)"))] + [
            (str(m.pk), m.name) for m in manufacturers
        ]

    def data_for_service(self) -> dict:
        d = dict(self.cleaned_data)
        d["category"] = int(d["category"]) if d.get("category") else None
        d["manufacturer"] = int(d["manufacturer"]) if d.get("manufacturer") else None
        return d


class DescriptionForm(forms.Form):
    description_html = forms.CharField(
        label=gettext_lazy("Description (HTML)"),
        widget=forms.Textarea(attrs={"rows": 14, "spellcheck": "true"}),
        required=False,
        max_length=100_000,
        help_text=gettext_lazy(
            "Formatting, lists, tables, links and images are kept; scripts, event handlers, javascript: links "
            "and frames are removed when saving."
        ),
    )


class ProductCreateForm(ProductForm):
    sku = forms.CharField(label=gettext_lazy("SKU of the first variant"), max_length=64)
    price = forms.DecimalField(
        label=gettext_lazy("Price (gross)"), min_value=0, max_digits=14, decimal_places=2
    )
    ean = forms.CharField(label="EAN", max_length=14, required=False, help_text=gettext_lazy("checked"))
    vat_rate = forms.ChoiceField(label=gettext_lazy("VAT rate"), choices=VatRate.choices, initial=VatRate.R23)

    field_order = ["name", "sku", "price", "ean", "vat_rate", "status", "category", "brand", "manufacturer"]


def parse_attributes(text: str) -> dict[str, str]:
    """One "name: value" per line (e.g. "size: M"); blank lines are skipped."""
    out: dict[str, str] = {}
    for n, line in enumerate((text or "").splitlines(), start=1):
        if not line.strip():
            continue
        if ":" not in line:
            raise forms.ValidationError(
                _("Line %(n)s: write the attribute as name: value.") % {"n": n}, code="attributes"
            )
        name, value = line.split(":", 1)
        if not name.strip():
            raise forms.ValidationError(_("Line %(n)s: the attribute has no name.") % {"n": n})
        if name.strip() in out:
            raise forms.ValidationError(
                _("Line %(n)s: %(name)s appears twice.") % {"n": n, "name": name.strip()}
            )
        out[name.strip()] = value.strip()
    return out


def format_attributes(attrs: dict) -> str:
    return "\n".join(f"{k}: {v}" for k, v in (attrs or {}).items())


class VariantForm(forms.Form):
    sku = forms.CharField(label="SKU", max_length=64)
    name = forms.CharField(label=gettext_lazy("Name"), max_length=300, required=False)
    ean = forms.CharField(label="EAN", max_length=14, required=False)
    price = forms.DecimalField(
        label=gettext_lazy("Price (gross)"), min_value=0, max_digits=14, decimal_places=2
    )
    vat_rate = forms.ChoiceField(label=gettext_lazy("VAT"), choices=VatRate.choices, initial=VatRate.R23)
    cost_price = forms.DecimalField(
        label=gettext_lazy("Cost (net)"), min_value=0, max_digits=14, decimal_places=2, required=False
    )
    weight_kg = forms.DecimalField(
        label=gettext_lazy("Weight (kg)"), min_value=0, max_digits=10, decimal_places=3, required=False
    )
    length_cm = forms.DecimalField(
        label=gettext_lazy("Length (cm)"), min_value=0, max_digits=8, decimal_places=1, required=False
    )
    width_cm = forms.DecimalField(
        label=gettext_lazy("Width (cm)"), min_value=0, max_digits=8, decimal_places=1, required=False
    )
    height_cm = forms.DecimalField(
        label=gettext_lazy("Height (cm)"), min_value=0, max_digits=8, decimal_places=1, required=False
    )
    mpn = forms.CharField(label=gettext_lazy("MPN"), max_length=70, required=False)
    active = forms.BooleanField(label=gettext_lazy("Active"), required=False, initial=True)
    attributes = forms.CharField(
        label=gettext_lazy("Attributes"),
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        max_length=10_000,
        help_text=gettext_lazy("One per line: name: value (e.g. size: M)"),
    )

    def clean_attributes(self):
        return parse_attributes(self.cleaned_data.get("attributes", ""))


class OfferForm(forms.Form):
    channel = forms.ChoiceField(label=gettext_lazy("Channel"))
    price = forms.DecimalField(
        label=gettext_lazy("Channel price (gross)"),
        min_value=0,
        max_digits=14,
        decimal_places=2,
        required=False,
        help_text=gettext_lazy("Empty: the variant's price"),
    )
    active = forms.BooleanField(label=gettext_lazy("Active"), required=False, initial=True)
    external_id = forms.CharField(label=gettext_lazy("External id"), max_length=100, required=False)
    url = forms.URLField(
        label=gettext_lazy("Listing URL"), max_length=1000, required=False, assume_scheme="https"
    )

    def __init__(self, *args, channels, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["channel"].choices = channels


class ImageUploadForm(forms.Form):
    file = forms.FileField(label=gettext_lazy("Image file"), help_text=gettext_lazy("JPEG, PNG, GIF or WebP"))
    alt = forms.CharField(label=gettext_lazy("Alternative text"), max_length=300, required=False)


class ImageUrlForm(forms.Form):
    url = forms.URLField(label=gettext_lazy("Image URL"), max_length=1000, assume_scheme="https")
    alt = forms.CharField(label=gettext_lazy("Alternative text"), max_length=300, required=False)


class ManufacturerForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=200)
    street = forms.CharField(label=gettext_lazy("Street and number"), max_length=200, required=False)
    postcode = forms.CharField(label=gettext_lazy("Postcode"), max_length=20, required=False)
    city = forms.CharField(label=gettext_lazy("City"), max_length=100, required=False)
    country = forms.CharField(
        label=gettext_lazy("Country"),
        max_length=2,
        required=False,
        initial="PL",
        help_text=gettext_lazy("Two-letter ISO code, e.g. PL, DE, CN"),
    )
    email = forms.CharField(label=gettext_lazy("E-mail"), max_length=254, required=False)
    website = forms.CharField(label=gettext_lazy("Website"), max_length=200, required=False)
    eu_rp_name = forms.CharField(
        label=gettext_lazy("EU responsible person"),
        max_length=200,
        required=False,
        help_text=gettext_lazy("Required by GPSR when the manufacturer is outside the EU/EEA"),
    )
    eu_rp_address = forms.CharField(
        label=gettext_lazy("EU responsible person's address"),
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=1000,
        required=False,
    )
    eu_rp_email = forms.CharField(
        label=gettext_lazy("EU responsible person's e-mail"), max_length=254, required=False
    )


class CategoryForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=200)
    parent = forms.ChoiceField(label=gettext_lazy("Parent"), required=False)

    def __init__(self, *args, tree, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["parent"].choices = [("", _("(top level)"))] + [(str(c.pk), c.label) for c in tree]
