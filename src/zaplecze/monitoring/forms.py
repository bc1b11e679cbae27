"""Forms of the monitoring screens (input types only; the rules and their messages live in services)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy

from .models import CheckKind


class CheckForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=200)
    url = forms.CharField(
        label=gettext_lazy("Address (URL)"),
        max_length=600,
        help_text=gettext_lazy("e.g. https://shop.example.pl/koszyk"),
    )
    kind = forms.ChoiceField(label=gettext_lazy("Kind of page"), choices=CheckKind.choices, initial="home")
    expected_text = forms.CharField(
        label=gettext_lazy("Expected text"),
        required=False,
        max_length=300,
        help_text=gettext_lazy("The page must contain it (case-insensitive); empty: not checked."),
    )
    expected_status = forms.IntegerField(label=gettext_lazy("Expected HTTP status"), initial=200)
    interval_minutes = forms.IntegerField(label=gettext_lazy("Check every (minutes)"), initial=5)
    timeout_seconds = forms.IntegerField(label=gettext_lazy("Timeout (seconds)"), initial=10)
    confirm_failures = forms.IntegerField(
        label=gettext_lazy("Failures before an incident"),
        initial=2,
        help_text=gettext_lazy("An incident opens after this many failed checks in a row."),
    )
    tls_warning_days = forms.IntegerField(
        label=gettext_lazy("Warn about the TLS certificate (days before expiry)"),
        initial=14,
        help_text=gettext_lazy("0: no warning."),
    )
    verify_tls = forms.BooleanField(
        label=gettext_lazy("Require a trusted certificate (turn off only for a test shop)"),
        required=False,
        initial=True,
    )
    enabled = forms.BooleanField(label=gettext_lazy("Enabled"), required=False, initial=True)

    def values(self) -> dict:
        return dict(self.cleaned_data)
