"""Forms of the service screens: shape and bounds of the input only; the rules live in services."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.utils.translation import gettext_lazy as _

from zaplecze.core.businesstime import local_today

from .models import RefundMethod
from .rules import Remedy, ReturnExclusion, StatutoryReason

TEXT_MAX = 5000


class PublicLookupForm(forms.Form):
    number = forms.CharField(
        label=_("Order number"),
        max_length=60,
        widget=forms.TextInput(attrs={"autocomplete": "off", "inputmode": "text"}),
    )
    email = forms.EmailField(
        label=_("E-mail address used for the order"),
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )


class ReturnDetailsForm(forms.Form):
    """The non-line fields of a return (lines come as qty_<line id> inputs)."""

    reason = forms.CharField(
        label=_("Reason (optional)"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    bank_account = forms.CharField(
        label=_("Bank account for the refund (optional, IBAN)"),
        required=False,
        max_length=40,
        help_text=_("Only needed if you paid on delivery or want the refund by transfer."),
    )


class PublicReturnForm(ReturnDetailsForm):
    confirm = forms.BooleanField(
        label=_("I withdraw from the contract for the items selected above."),
        required=True,
        error_messages={"required": _("Confirm the statement of withdrawal to send it.")},
    )


class StaffReturnForm(ReturnDetailsForm):
    statement_sent_at = forms.DateTimeField(
        label=_("Statement sent at"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    statement_received_at = forms.DateTimeField(
        label=_("Statement received at"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )


class ReasonForm(forms.Form):
    reason = forms.CharField(max_length=2000, required=False)
    version = forms.IntegerField(min_value=1, required=False)


class RefundForm(forms.Form):
    idempotency_key = forms.RegexField(regex=r"^[A-Za-z0-9_.:\-]{8,80}$")
    method = forms.ChoiceField(label=_("Method"), choices=RefundMethod.choices)
    amount = forms.DecimalField(
        label=_("Amount"), max_digits=17, decimal_places=2, min_value=0, required=False
    )
    iban = forms.CharField(label="IBAN", max_length=40, required=False)


class ComplaintForm(forms.Form):
    order_line = forms.TypedChoiceField(label=_("Item"), coerce=int, choices=())
    quantity = forms.IntegerField(label=_("Quantity"), min_value=1, max_value=100_000, initial=1)
    defect = forms.CharField(
        label=_("Defect description"), max_length=TEXT_MAX, widget=forms.Textarea(attrs={"rows": 4})
    )
    noticed_on = forms.DateField(
        label=_("Defect noticed on"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    received_at = forms.DateTimeField(
        label=_("Complaint received at"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    requested_remedy = forms.ChoiceField(label=_("Remedy asked for"), choices=Remedy.choices)
    statutory_reason = forms.ChoiceField(
        label=_("Statutory reason (for price reduction or withdrawal)"),
        choices=[("", "—"), *StatutoryReason.choices],
        required=False,
    )
    immaterial = forms.BooleanField(label=_("The non-conformity is immaterial"), required=False)
    requested_amount = forms.DecimalField(
        label=_("Price reduction asked for"), max_digits=17, decimal_places=2, min_value=0, required=False
    )
    language = forms.ChoiceField(
        label=_("Language of letters"), choices=[("pl", _("Polish")), ("en", _("English"))]
    )

    def __init__(self, *args, lines=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["order_line"].choices = [(ln.pk, f"{ln.sku} · {ln.name} × {ln.quantity}") for ln in lines]

    def clean_noticed_on(self):
        value = self.cleaned_data.get("noticed_on")
        if value and value > local_today() + dt.timedelta(days=1):
            raise forms.ValidationError(_("The date cannot be in the future."))
        return value


class DecisionForm(forms.Form):
    accept = forms.TypedChoiceField(
        label=_("Decision"), coerce=lambda v: v == "1", choices=[("1", _("Accept")), ("0", _("Reject"))]
    )
    remedy = forms.ChoiceField(
        label=_("Remedy"), choices=[("", _("As asked")), *Remedy.choices], required=False
    )
    reason = forms.ChoiceField(
        label=_("Statutory reason"), choices=[("", "—"), *StatutoryReason.choices], required=False
    )
    text = forms.CharField(
        label=_("Text of the decision (reasons)"),
        max_length=TEXT_MAX,
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    version = forms.IntegerField(min_value=1, required=False)


class ResolveForm(forms.Form):
    note = forms.CharField(
        label=_("Note"), max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    amount = forms.DecimalField(
        label=_("Amount"), max_digits=17, decimal_places=2, min_value=0, required=False
    )
    method = forms.ChoiceField(label=_("Refund method"), choices=RefundMethod.choices, required=False)
    iban = forms.CharField(label="IBAN", max_length=40, required=False)
    idempotency_key = forms.RegexField(regex=r"^[A-Za-z0-9_.:\-]{8,80}$", required=False)


class ResponseForm(forms.Form):
    sent_at = forms.DateTimeField(
        label=_("Sent at"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    how = forms.CharField(label=_("How"), max_length=300)


class ExclusionForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("Exclusion"), choices=[("", _("None")), *ReturnExclusion.choices], required=False
    )
    note = forms.CharField(label=_("Note"), max_length=300, required=False)


class CalculatorForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("Deadline"),
        choices=[
            ("withdrawal", _("Withdrawal (from delivery)")),
            ("refund", _("Refund (from the statement)")),
            ("complaint", _("Complaint reply (from receipt)")),
            ("liability", _("Liability (from delivery)")),
        ],
    )
    start = forms.DateField(label=_("From"), widget=forms.DateInput(attrs={"type": "date"}))
    not_informed = forms.BooleanField(
        label=_("Customer not informed of the right of withdrawal"), required=False
    )
    business = forms.BooleanField(label=_("Business customer"), required=False)


class TicketForm(forms.Form):
    email = forms.EmailField(label=_("Customer e-mail"), max_length=254)
    name = forms.CharField(label=_("Name"), max_length=200, required=False)
    subject = forms.CharField(label=_("Subject"), max_length=300)
    body = forms.CharField(label=_("Message"), max_length=100_000, widget=forms.Textarea(attrs={"rows": 6}))
    order = forms.CharField(label=_("Order number (optional)"), max_length=60, required=False)
    queue = forms.ChoiceField(label=_("Queue"), choices=())
    priority = forms.ChoiceField(label=_("Priority"), choices=())
    language = forms.ChoiceField(label=_("Language"), choices=[("pl", _("Polish")), ("en", _("English"))])

    def __init__(self, *args, **kwargs):
        from .models import TicketPriority, TicketQueue

        super().__init__(*args, **kwargs)
        self.fields["queue"].choices = TicketQueue.choices
        self.fields["priority"].choices = TicketPriority.choices
        self.fields["priority"].initial = "normal"


class ContactForm(forms.Form):
    name = forms.CharField(label=_("Your name"), max_length=200)
    email = forms.EmailField(label=_("E-mail address"), max_length=254)
    order_number = forms.CharField(
        label=_("Order number (if it is about an order)"), max_length=60, required=False
    )
    subject = forms.CharField(label=_("Subject"), max_length=300)
    message = forms.CharField(label=_("Message"), max_length=20_000, widget=forms.Textarea(attrs={"rows": 6}))
    website = forms.CharField(required=False, max_length=200)  # a trap field for bots, hidden from people


class CannedForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=120)
    language = forms.ChoiceField(label=_("Language"), choices=[("pl", _("Polish")), ("en", _("English"))])
    body = forms.CharField(
        label=_("Text"),
        max_length=100_000,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=_(
            "Variables: {customer_name} {order_number} {tracking_link} {return_deadline} "
            "{refund_amount} {ticket_number}"
        ),
    )
    active = forms.BooleanField(label=_("Active"), required=False, initial=True)
