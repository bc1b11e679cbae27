"""The public complaint page (reklamacja, no login) at /reklamacja/: order number + e-mail (the same
non-revealing check and throttle as the return page), then the item, the defect, photos and the remedy asked
for, then a receipt on screen and by e-mail. The statutory order of remedies is the service's rule: repair or
replacement first; a price reduction or withdrawal only with one of the statutory reasons.

Also the language switch of the public pages (/jezyk/?lang=en&next=/reklamacja/)."""

from __future__ import annotations

import time

from django import forms
from django.conf import settings
from django.db import transaction
from django.http import HttpResponseRedirect
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache

from zaplecze.core.access import public
from zaplecze.core.businesstime import local_today
from zaplecze.core.errors import DomainError
from zaplecze.orders.models import SHIPPED_STAGES

from . import rules, selectors, services
from .forms import PublicLookupForm
from .models import Source
from .rules import Remedy, StatutoryReason
from .views_public import NOT_FOUND, _count_failure, _throttled

SESSION_KEY = "service_public_complaint"
SESSION_TTL = 30 * 60
#: Files per complaint sent from the public page (the case holds at most services.MAX_PHOTOS).
MAX_FILES = 5


class PublicComplaintForm(forms.Form):
    line = forms.TypedChoiceField(
        label=gettext_lazy("Which item is defective?"),
        coerce=int,
        choices=(),
        widget=forms.RadioSelect,
        error_messages={"required": gettext_lazy("Choose the item.")},
    )
    quantity = forms.IntegerField(
        label=gettext_lazy("How many pieces are defective?"), min_value=1, max_value=100_000, initial=1
    )
    defect = forms.CharField(
        label=gettext_lazy("Describe the defect"),
        max_length=5000,
        help_text=gettext_lazy("What is wrong, when it happens, what you have tried."),
        error_messages={"required": gettext_lazy("Describe the defect.")},
    )
    noticed_on = forms.DateField(label=gettext_lazy("When did you notice it? (optional)"), required=False)
    remedy = forms.ChoiceField(
        label=gettext_lazy("What do you ask for?"),
        choices=Remedy.choices,
        widget=forms.RadioSelect,
        error_messages={"required": gettext_lazy("Choose what you ask for.")},
    )
    statutory_reason = forms.ChoiceField(
        label=gettext_lazy("Why not a repair or replacement? (needed for a price reduction or withdrawal)"),
        choices=[("", gettext_lazy("— choose the reason —")), *StatutoryReason.choices],
        required=False,
    )
    requested_amount = forms.DecimalField(
        label=gettext_lazy("Price reduction you ask for, in PLN (optional)"),
        max_digits=17,
        decimal_places=2,
        min_value=0,
        required=False,
    )

    def __init__(self, *args, lines=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["line"].choices = [(ln.pk, f"{ln.name} ({ln.sku}) × {ln.quantity}") for ln in lines]

    def clean_noticed_on(self):
        value = self.cleaned_data.get("noticed_on")
        if value and value > local_today():
            raise forms.ValidationError(_("The date cannot be in the future."))
        return value

    def clean(self):
        data = super().clean()
        if data.get("remedy") in rules.SECOND_REMEDIES and not data.get("statutory_reason"):
            self.add_error(
                "statutory_reason",
                _(
                    "A price reduction or withdrawal is possible only after a repair or replacement, or with one "
                    "of these reasons. Choose the reason, or ask for a repair or replacement."
                ),
            )
        return data


def _verified_order(request):
    from zaplecze.orders.models import Order

    data = request.session.get(SESSION_KEY) or {}
    if not data or time.time() - data.get("at", 0) > SESSION_TTL:
        return None
    return Order.objects.filter(pk=data.get("order_id")).first()


def _refusal(order) -> str | None:
    if order.stage not in SHIPPED_STAGES:
        return _(
            "Order %(number)s has not been delivered, so it cannot be the subject of a complaint yet. If "
            "something is wrong with it, write to us through the contact form."
        ) % {"number": order.number}
    return None


@public
@never_cache
def start(request):
    form = PublicLookupForm(request.POST or None)
    error = None
    throttled = request.method == "POST" and _throttled(request)
    if request.method == "POST":
        if throttled:
            error = _("Too many attempts. Try again in 15 minutes.")
        elif form.is_valid():
            order = selectors.order_for_customer(form.cleaned_data["number"], form.cleaned_data["email"])
            if order is None:
                _count_failure(request)
                error = NOT_FOUND
            else:
                error = _refusal(order)
                if error is None:
                    request.session[SESSION_KEY] = {"order_id": order.pk, "at": time.time()}
                    return redirect("service_complaint:form")
    status = 429 if throttled else (400 if request.method == "POST" else 200)
    return render(
        request, "service/public/complaint_start.html", {"form": form, "error": error}, status=status
    )


def _check_files(files) -> list[str]:
    """Errors of the uploaded files (count, size, type by the first bytes), one sentence per file."""
    errors = []
    if len(files) > MAX_FILES:
        errors.append(_("Attach at most %(n)s files.") % {"n": MAX_FILES})
    mb = services.MAX_PHOTO_BYTES // (1024 * 1024)
    for f in files[: MAX_FILES + 1]:
        name = (f.name or "")[-80:]
        if f.size > services.MAX_PHOTO_BYTES:
            errors.append(_("%(name)s is larger than %(mb)s MB.") % {"name": name, "mb": mb})
            continue
        head = f.read(16)
        f.seek(0)
        if not any(head.startswith(magic) for magic in services.PHOTO_TYPES):
            errors.append(_("%(name)s is not a JPEG or PNG photo or a PDF file.") % {"name": name})
    return errors


#: Service error fields -> form fields.
_FIELDS = {
    "requested_remedy": "remedy",
    "statutory_reason": "statutory_reason",
    "quantity": "quantity",
    "defect": "defect",
    "noticed_on": "noticed_on",
    "requested_amount": "requested_amount",
}


@public
@never_cache
def complaint_form(request):
    order = _verified_order(request)
    if order is None:
        return redirect("service_complaint:start")
    lines = list(order.lines.order_by("position", "id"))
    form = PublicComplaintForm(request.POST if request.method == "POST" else None, lines=lines)
    file_errors: list[str] = []
    if request.method == "POST":
        files = request.FILES.getlist("photos")
        file_errors = _check_files(files)
        if form.is_valid() and not file_errors:
            d = form.cleaned_data
            line = next(ln for ln in lines if ln.pk == d["line"])
            if d["quantity"] > line.quantity:
                form.add_error("quantity", _("You bought %(n)s of this item.") % {"n": line.quantity})
            else:
                try:
                    with transaction.atomic():
                        complaint = services.complaint_create(
                            order_line_id=line.pk,
                            quantity=d["quantity"],
                            defect=d["defect"],
                            noticed_on=d["noticed_on"],
                            requested_remedy=d["remedy"],
                            statutory_reason=d["statutory_reason"]
                            if d["remedy"] in rules.SECOND_REMEDIES
                            else "",
                            requested_amount=d["requested_amount"]
                            if d["remedy"] == Remedy.PRICE_REDUCTION
                            else None,
                            email=order.email,
                            actor=None,
                            source=Source.PUBLIC,
                            language=(request.LANGUAGE_CODE or "pl")[:2],
                        )
                        for f in files:
                            services.complaint_add_photo(
                                complaint_id=complaint.pk,
                                filename=f.name or "photo",
                                content=f.read(),
                                actor=None,
                            )
                except DomainError as exc:
                    target = _FIELDS.get(exc.field or "")
                    if exc.field == "photo":
                        file_errors.append(exc.message)
                    else:
                        form.add_error(target, exc.message)
                else:
                    request.session.pop(SESSION_KEY, None)
                    return render(
                        request,
                        "service/public/complaint_done.html",
                        {"complaint": complaint, "order": order, "line": line, "photos": len(files)},
                    )
    return render(
        request,
        "service/public/complaint_form.html",
        {
            "order": order,
            "form": form,
            "file_errors": file_errors,
            "max_files": MAX_FILES,
            "max_mb": services.MAX_PHOTO_BYTES // (1024 * 1024),
            "second_remedies": sorted(rules.SECOND_REMEDIES),
        },
        status=400 if request.method == "POST" else 200,
    )


@public
@never_cache
def language(request):
    """Switch the language of the public pages (a cookie) and go back to the page."""
    lang = request.GET.get("lang", "")
    target = request.GET.get("next") or "/"
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = "/"
    response = HttpResponseRedirect(target)
    if lang in dict(settings.LANGUAGES):
        response.set_cookie(
            settings.LANGUAGE_COOKIE_NAME,
            lang,
            max_age=365 * 24 * 3600,
            samesite="Lax",
            secure=request.is_secure(),
            httponly=False,
        )
    return response
