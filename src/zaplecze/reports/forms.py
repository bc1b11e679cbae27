from __future__ import annotations

import datetime as dt

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import ReportFormat, ReportKind, ReportSchedule

WEEKDAYS = [
    (0, _("Monday")), (1, _("Tuesday")), (2, _("Wednesday")), (3, _("Thursday")), (4, _("Friday")),
    (5, _("Saturday")), (6, _("Sunday")),
]  # fmt: skip


class ReportForm(forms.Form):
    kind = forms.ChoiceField(label=_("Report"), choices=ReportKind.choices, initial=ReportKind.SALES)
    date_from = forms.DateField(label=_("From"), widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label=_("To"), widget=forms.DateInput(attrs={"type": "date"}))
    channel = forms.ChoiceField(label=_("Channel"), required=False)
    currency = forms.ChoiceField(label=_("Currency"), required=False)

    def __init__(self, *args, channels=(), currencies=("PLN",), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["channel"].choices = [("", _("All channels")), *channels]
        self.fields["currency"].choices = [("", _("Channel's currency")), *((c, c) for c in currencies)]

    def clean(self):
        data = super().clean()
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and end < start:
            self.add_error("date_to", _("The end is before the start."))
        if start and end and (end - start) > dt.timedelta(days=3700):
            self.add_error("date_to", _("The period is longer than ten years."))
        return data


class ScheduleForm(forms.ModelForm):
    weekday = forms.TypedChoiceField(label=_("Weekday"), choices=WEEKDAYS, coerce=int, initial=0)

    class Meta:
        model = ReportSchedule
        fields = [
            "name", "kind", "frequency", "weekday", "day_of_month", "hour", "format", "recipients", "channel",
            "language", "active",
        ]  # fmt: skip
        widgets = {
            "recipients": forms.Textarea(attrs={"rows": 3}),
            "format": forms.Select(choices=[c for c in ReportFormat.choices if c[0] != "json"]),
            "language": forms.Select(choices=[("pl", "Polski"), ("en", "English")]),
        }
