from __future__ import annotations

import datetime as dt

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

PRESETS = (
    ("today", _("Today")),
    ("7d", _("Last 7 days")),
    ("30d", _("Last 30 days")),
    ("90d", _("Last 90 days")),
    ("365d", _("Last 12 months")),
)


class RangeForm(forms.Form):
    site = forms.CharField(required=False, max_length=200)
    date_from = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    period = forms.ChoiceField(label=_("Period"), choices=PRESETS, required=False)

    def clean(self):
        data = super().clean()
        today = timezone.localdate()
        start, end = data.get("date_from"), data.get("date_to")
        if not start and not end:
            period = data.get("period") or "30d"
            days = 1 if period == "today" else int(period.rstrip("d"))
            start, end = today - dt.timedelta(days=days - 1), today
        elif not start or not end:
            start = start or end
            end = end or start
        if end < start:
            self.add_error("date_to", _("The end is before the start."))
        elif (end - start).days > 3660:
            self.add_error("date_from", _("At most ten years at once."))
        data["date_from"], data["date_to"] = start, end
        return data


class SiteForm(forms.Form):
    domain = forms.CharField(label=_("Domain"), max_length=200, help_text=_("e.g. shop.example"))
    name = forms.CharField(label=_("Name"), max_length=200, required=False)
    allowed_origins = forms.CharField(
        label=_("Allowed origins"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Other addresses the shop is served from, one per line, e.g. https://sklep.example"),
    )
