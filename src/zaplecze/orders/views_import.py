"""CSV order import screen: upload -> background job -> progress -> per-row report (the job page)."""

from __future__ import annotations

from django import forms
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _

from zaplecze.core import selectors as core_selectors
from zaplecze.core.access import require
from zaplecze.core.errors import DomainError

from . import selectors
from .importing import JOB_KIND, import_job_create

MAX_UPLOAD_BYTES = 1024 * 1024 * 1024  # 1 GiB: files are streamed to disk, never held in memory


class ImportForm(forms.Form):
    file = forms.FileField(
        label=_("CSV file"),
        help_text=_(
            "Zaplecze's CSV, Shopify's “Export orders” CSV or a WooCommerce order export; UTF-8 or Windows-1250, "
            "separated by commas or semicolons."
        ),
    )
    channel = forms.ChoiceField(
        label=_("Channel"),
        required=False,
        help_text=_(
            "For Shopify and WooCommerce files (default: own shop); for Zaplecze's CSV it replaces the channel column."
        ),
    )
    format = forms.ChoiceField(
        label=_("Format"),
        initial="auto",
        choices=[
            ("auto", _("Detect automatically")),
            ("zaplecze", "Zaplecze"),
            ("shopify", "Shopify"),
            ("woocommerce", "WooCommerce"),
        ],
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["channel"].choices = [("", _("— as in the file / own shop —"))] + [
            (c.code, c.name) for c in selectors.channels() if c.active
        ]

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(_("The file is larger than 1 GiB."))
        return upload


@require("orders.import")
def upload(request):
    form = ImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            job = import_job_create(
                upload=form.cleaned_data["file"],
                channel=form.cleaned_data["channel"] or None,
                fmt=form.cleaned_data["format"],
                actor=request.user,
            )
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            return redirect("web:job", job.pk)
    recent = [j for j in core_selectors.jobs_for(request.user) if j.kind == JOB_KIND][:10]
    return render(
        request, "orders/import.html", {"form": form, "recent": recent}, status=400 if form.errors else 200
    )
