"""The Today page and its actions: snooze, resolve with a note, take it, quick actions of the modules, the
history of exceptions, and the per-person digest switch."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from zaplecze.core import today as registry
from zaplecze.core.access import require
from zaplecze.core.businesstime import local_date, tz
from zaplecze.core.errors import DomainError, NotFound
from zaplecze.core.permissions import user_has

from . import charts, selectors, services
from .models import OpsException, Preference


def _filter(request) -> selectors.TodayFilter:
    g = request.GET
    owner = g.get("owner", "all")
    show = g.get("show", "open")
    return selectors.TodayFilter(
        owner=owner if owner in ("all", "mine", "role") else "all",
        area=(g.get("area") or "")[:30],
        kind=(g.get("kind") or "")[:60],
        show=show if show in ("open", "snoozed", "resolved") else "open",
    )


@require("dashboard.view")
@require_safe
def index(request):
    f = _filter(request)
    data = selectors.page(request.user, f)
    kinds = {c: k for c, k in registry.kinds().items() if user_has(request.user, k.permission)}
    pref = Preference.objects.filter(user=request.user).first()
    return render(
        request,
        "today/index.html",
        {
            "f": f,
            "data": data,
            "numbers": selectors.numbers(),
            "kinds": sorted(((c, str(k.label)) for c, k in kinds.items()), key=lambda kv: kv[1]),
            "digest_on": pref.digest if pref else True,
            "now": timezone.now(),
        },
    )


def _row(request, exception_id: int) -> OpsException:
    row = OpsException.objects.filter(pk=exception_id).first()
    if row is None:
        raise Http404
    kind = registry.kinds().get(row.kind)
    if kind is None or not user_has(request.user, kind.permission):
        raise PermissionDenied("today")
    return row


def _back(request):
    target = request.POST.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return redirect(target)
    return redirect(reverse("today:index"))


def _until(value: str, now: dt.datetime) -> dt.datetime:
    local_now = now.astimezone(tz())
    if value == "1h":
        return now + dt.timedelta(hours=1)
    if value == "4h":
        return now + dt.timedelta(hours=4)
    if value == "tomorrow":
        return dt.datetime.combine(local_date(now) + dt.timedelta(days=1), dt.time(8, 0), tzinfo=tz())
    if value == "week":
        days = 7 - local_now.weekday()  # next Monday 8:00
        return dt.datetime.combine(local_date(now) + dt.timedelta(days=days), dt.time(8, 0), tzinfo=tz())
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise DomainError(
            _("%(value)r is not a time: use YYYY-MM-DDTHH:MM") % {"value": value[:40]}, field="until"
        )
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=tz())


@require("dashboard.view")
@require_POST
def snooze(request, exception_id: int):
    row = _row(request, exception_id)
    try:
        until = _until(request.POST.get("until", ""), timezone.now())
        services.exception_snooze(exception_id=row.pk, until=until, actor=request.user)
        messages.success(
            request,
            _("Snoozed until %(when)s.") % {"when": until.astimezone(tz()).strftime("%Y-%m-%d %H:%M")},
        )
    except DomainError as exc:
        messages.error(request, exc.message)
    return _back(request)


@require("dashboard.view")
@require_POST
def unsnooze(request, exception_id: int):
    row = _row(request, exception_id)
    services.exception_unsnooze(exception_id=row.pk, actor=request.user)
    return _back(request)


@require("dashboard.view")
@require_POST
def resolve(request, exception_id: int):
    row = _row(request, exception_id)
    try:
        services.exception_resolve(exception_id=row.pk, note=request.POST.get("note", ""), actor=request.user)
        messages.success(request, _("Resolved."))
    except DomainError as exc:
        messages.error(request, exc.message)
    return _back(request)


@require("dashboard.view")
@require_POST
def take(request, exception_id: int):
    row = _row(request, exception_id)
    mine = request.POST.get("release") != "1"
    services.exception_assign(
        exception_id=row.pk, user_id=request.user.pk if mine else None, actor=request.user
    )
    return _back(request)


@require("dashboard.view")
@require_POST
def act(request, exception_id: int, action: str):
    row = _row(request, exception_id)
    try:
        message = services.exception_act(exception_id=row.pk, action=action, actor=request.user)
        messages.success(request, message)
    except (DomainError, NotFound) as exc:
        messages.error(request, exc.message)
    return _back(request)


@require("dashboard.view")
@require_POST
def digest(request):
    on = request.POST.get("digest") == "1"
    services.preference_set(user=request.user, digest=on)
    messages.success(request, _("The morning e-mail is on.") if on else _("The morning e-mail is off."))
    return _back(request)


@require("settings.automation")
@require_POST
def refresh(request):
    report = services.exceptions_refresh()
    messages.success(
        request,
        _("Looked again: %(opened)d new, %(resolved)d cleared.")
        % {"opened": report.opened, "resolved": report.resolved},
    )
    return _back(request)


@require("dashboard.view")
@require_safe
def history(request):
    try:
        days = min(max(int(request.GET.get("days") or 30), 7), 365)
    except ValueError:
        days = 30
    data = selectors.history(days=days)
    return render(request, "today/history.html", {"data": data, "chart": charts.history(data), "days": days})


@require("settings.automation")
def kind_settings(request):
    """Who owns each kind of exception by default (a role, or a person), and which kinds are switched off."""
    from zaplecze.core.models import User
    from zaplecze.core.permissions import Role

    from .models import KindSetting

    kinds = sorted(registry.kinds().items(), key=lambda kv: (kv[1].area, str(kv[1].label)))
    if request.method == "POST":
        saved, errors = 0, 0
        for code, _kind in kinds:
            try:
                owner_id = int(request.POST.get(f"{code}:owner") or 0) or None
            except ValueError:
                owner_id = None
            try:
                services.kind_setting_save(
                    kind=code,
                    enabled=request.POST.get(f"{code}:enabled") == "1",
                    owner_role=request.POST.get(f"{code}:role", ""),
                    owner_id=owner_id,
                    actor=request.user,
                )
                saved += 1
            except DomainError as exc:
                errors += 1
                messages.error(request, f"{code}: {exc.message}")
        if not errors:
            messages.success(request, _("Saved. New exceptions follow these owners; open ones keep theirs."))
        return redirect(reverse("today:settings"))
    current = {s.kind: s for s in KindSetting.objects.all()}
    rows = [
        {
            "code": code,
            "label": kind.label,
            "area": selectors.area_labels().get(kind.area, kind.area),
            "default_role": kind.owner_role,
            "enabled": current[code].enabled if code in current else True,
            "role": current[code].owner_role if code in current else "",
            "owner_id": current[code].owner_id if code in current else None,
        }
        for code, kind in kinds
    ]
    users = User.objects.filter(is_active=True).order_by("username")
    return render(
        request,
        "today/settings.html",
        {"rows": rows, "roles": Role.choices, "users": users},
    )
