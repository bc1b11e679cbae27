"""Login (throttled by django-axes), logout, password change and the user's own settings."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import views as dj_views
from django.contrib.auth.forms import PasswordChangeForm
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from zaplecze.core import services as core_services
from zaplecze.core.access import public, require
from zaplecze.core.errors import DomainError

login_view = public(dj_views.LoginView.as_view(redirect_authenticated_user=True))


@public
@require_POST
def logout_view(request):
    return dj_views.LogoutView.as_view()(request)


@require("dashboard.view")
@require_http_methods(["GET", "POST"])
def account_view(request):
    new_token = None
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "language":
                core_services.user_set_language(user=request.user, language=request.POST.get("language", ""))
                messages.success(request, _("Language saved."))
                return redirect("account")
            if action == "token":
                new_token = core_services.token_create(
                    user=request.user, name=request.POST.get("name", "")[:100]
                )
            if action == "revoke":
                core_services.token_revoke(
                    token_id=int(request.POST.get("token_id", "0")), actor=request.user
                )
                messages.success(request, _("Token revoked."))
                return redirect("account")
        except (DomainError, ValueError) as exc:
            messages.error(request, getattr(exc, "message", str(exc)))
    tokens = request.user.api_tokens.filter(revoked_at__isnull=True).order_by("-created_at")
    return render(request, "registration/account.html", {"tokens": tokens, "new_token": new_token})


@require("dashboard.view")
@require_http_methods(["GET", "POST"])
def password_change_view(request):
    form = PasswordChangeForm(request.user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        form.save()
        from django.contrib.auth import update_session_auth_hash

        update_session_auth_hash(request, form.user)
        messages.success(request, _("Your password was changed."))
        return redirect("account")
    return render(request, "registration/password_change.html", {"form": form})
