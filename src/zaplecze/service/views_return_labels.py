"""Staff actions for a return's parcel (see return_labels): create a carrier label with the configured
connector, download it, or record a tracking number typed in by hand."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from zaplecze.core.access import require
from zaplecze.core.errors import DomainError, NotFound

from . import return_labels, selectors


def _get(request, return_id: int, permission: str):
    try:
        return selectors.access_return(request.user, return_id, permission)
    except NotFound:
        raise Http404


@require("service.manage")
@require_POST
def create(request, return_id: int):
    ret = _get(request, return_id, "service.manage")
    try:
        label = return_labels.return_label_create(
            return_id=ret.pk, actor=request.user, provider=request.POST.get("provider") or None
        )
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            _("Return label created (tracking number %(tracking)s) and e-mailed to the customer.")
            % {"tracking": label.tracking_number},
        )
    return redirect("service:return", return_id=ret.pk)


@require("service.view")
@require_safe
def download(request, return_id: int):
    ret = _get(request, return_id, "service.view")
    try:
        filename, pdf = return_labels.return_label_pdf(ret.pk)
    except NotFound:
        raise Http404
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    return response


@require("service.manage")
@require_POST
def tracking(request, return_id: int):
    ret = _get(request, return_id, "service.manage")
    try:
        return_labels.return_tracking_record(
            return_id=ret.pk,
            tracking_number=request.POST.get("tracking_number", ""),
            carrier=request.POST.get("carrier", ""),
            actor=request.user,
        )
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Tracking number saved."))
    return redirect("service:return", return_id=ret.pk)
