"""The product page's return-exclusion panel (registered at "catalog.product_panels" from
ServiceConfig.ready()): whether the product is excluded from withdrawal (upk art. 38) and, for staff with
``service.manage``, a form to set or clear the flag. The form posts to the product page's panel URL, which
calls `post` below."""

from __future__ import annotations

from django.utils.translation import gettext as _

from zaplecze.core.errors import DomainError
from zaplecze.core.permissions import user_has

from . import services
from .forms import ExclusionForm
from .models import ProductReturnExclusion


def _post(request, product) -> str:
    if not user_has(request.user, "service.manage"):
        raise DomainError(_("You may not change return exclusions."), code="forbidden")
    form = ExclusionForm(request.POST)
    if not form.is_valid():
        raise DomainError(_("Choose an exclusion."), field="kind")
    services.product_exclusion_set(
        product_id=product.pk,
        kind=form.cleaned_data["kind"] or None,
        note=form.cleaned_data["note"],
        actor=request.user,
    )
    return _("Return exclusion saved.") if form.cleaned_data["kind"] else _("Return exclusion cleared.")


def exclusion_panel(request, product) -> dict | None:
    if not user_has(request.user, "service.view"):
        return None
    current = ProductReturnExclusion.objects.filter(product_id=product.pk).select_related("set_by").first()
    can_manage = user_has(request.user, "service.manage")
    form = ExclusionForm(initial={"kind": current.kind, "note": current.note} if current else None)
    return {
        "title": _("Returns"),
        "template": "service/_catalog_panel.html",
        "context": {"exclusion": current, "exclusion_form": form if can_manage else None},
        "order": 40,
        "post": _post,
    }
