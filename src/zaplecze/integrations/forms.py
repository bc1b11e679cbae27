"""Forms of the integration screens (input checks only; the rules live in services)."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy

from zaplecze.orders.models import Channel

from .models import Platform

WINDOWS = [
    ("7", gettext_lazy("Last 7 days")),
    ("30", gettext_lazy("Last 30 days")),
    ("90", gettext_lazy("Last 90 days")),
    ("all", gettext_lazy("All orders")),
]
SECRET_FIELDS = (
    "consumer_key",
    "consumer_secret",
    "webhook_secret",
    "access_token",
    "client_id",
    "client_secret",
)


def _secret(label, help_text=""):
    return forms.CharField(
        label=label,
        required=False,
        max_length=500,
        strip=True,
        help_text=help_text,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
    )


class ConnectionForm(forms.Form):
    channel = forms.ChoiceField(label=gettext_lazy("Channel"))
    platform = forms.ChoiceField(label=gettext_lazy("Platform"), choices=Platform.choices)
    base_url = forms.CharField(
        label=gettext_lazy("Shop address"),
        max_length=300,
        help_text=gettext_lazy("e.g. https://shop.example.pl"),
    )
    consumer_key = _secret(
        gettext_lazy("Consumer key"), gettext_lazy("WooCommerce → Settings → Advanced → REST API (ck_…)")
    )
    consumer_secret = _secret(gettext_lazy("Consumer secret"), gettext_lazy("cs_…"))
    webhook_secret = _secret(
        gettext_lazy("Webhook secret"),
        gettext_lazy("The secret you enter in the shop's webhook settings; signatures are checked with it."),
    )
    access_token = _secret(gettext_lazy("Access token"), gettext_lazy("Shopify, PrestaShop"))
    client_id = _secret(
        gettext_lazy("Client ID"),
        gettext_lazy(
            "Allegro: the app's Client ID from apps.developer.allegro.pl (an app of the device type); "
            "the shop address is then https://api.allegro.pl"
        ),
    )
    client_secret = _secret(gettext_lazy("Client secret"), gettext_lazy("Allegro: the app's Client Secret"))
    window = forms.ChoiceField(label=gettext_lazy("First import"), choices=WINDOWS, initial="30")
    enabled = forms.BooleanField(label=gettext_lazy("Sync automatically"), required=False, initial=True)

    def __init__(self, *args, connection=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.connection = connection
        if connection is not None:
            del self.fields["channel"]
            del self.fields["platform"]
            del self.fields["window"]
            hint = connection.credentials_hint
            for name in SECRET_FIELDS:
                self.fields[name].help_text = gettext_lazy("Saved %(hint)s. Leave empty to keep it.") % {
                    "hint": hint or "••••"
                }
        else:
            taken = set(Channel.objects.filter(connection__isnull=False).values_list("code", flat=True))
            self.fields["channel"].choices = [
                (c.code, c.name)
                for c in Channel.objects.filter(active=True).order_by("name")
                if c.code not in taken
            ]

    def credentials(self) -> dict[str, str]:
        return {k: self.cleaned_data.get(k) or "" for k in SECRET_FIELDS if self.cleaned_data.get(k)}

    def first_import_since(self) -> dt.datetime | None:
        window = self.cleaned_data.get("window")
        if not window or window == "all":
            return None
        return timezone.now() - dt.timedelta(days=int(window))


class SyncForm(forms.Form):
    since = forms.DateField(
        label=gettext_lazy("Read again from"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=gettext_lazy("Empty: from where the last import stopped."),
    )
