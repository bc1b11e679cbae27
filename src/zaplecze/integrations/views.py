"""Integration screens (Settings → Integrations): connections with their health, connect form, a connection's
run log, kept errors (payload, Retry) and webhook deliveries; and the public webhook receiver. Thin doors:
writes go through `services`, reads through `selectors`."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from zaplecze.core.access import public, require
from zaplecze.core.errors import DomainError, NotFound
from zaplecze.core.viewhelpers import form_error as _form_error
from zaplecze.core.viewhelpers import or_404 as _get

from . import selectors, services
from .connectors import connector_class
from .forms import ConnectionForm, SyncForm
from .models import Platform, SyncRun

PERMISSION = "settings.integrations"


@require(PERMISSION)
def connections(request):
    return render(
        request,
        "integrations/connections.html",
        {"rows": selectors.connections_health(), "syncable": set(connector_class_codes())},
    )


def connector_class_codes() -> list[str]:
    return [p for p in Platform.values if connector_class(p)]


@require(PERMISSION)
def connection_new(request):
    form = ConnectionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            connection = services.connection_create(
                channel_code=form.cleaned_data["channel"],
                platform=form.cleaned_data["platform"],
                base_url=form.cleaned_data["base_url"],
                credentials=form.credentials(),
                first_import_since=form.first_import_since(),
                enabled=form.cleaned_data["enabled"],
                actor=request.user,
            )
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, _("Connection saved. Test it, then start the first import."))
            return redirect("integrations:connection", connection.pk)
    return render(request, "integrations/connection_form.html", {"form": form, "connection": None})


@require(PERMISSION)
def connection_edit(request, connection_id: int):
    connection = _get(selectors.connection_get, connection_id)
    initial = {"base_url": connection.base_url, "enabled": connection.enabled}
    form = ConnectionForm(request.POST or None, connection=connection, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.connection_update(
                connection_id=connection.pk,
                base_url=form.cleaned_data["base_url"],
                credentials=form.credentials(),
                enabled=form.cleaned_data["enabled"],
                actor=request.user,
            )
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, _("Connection saved."))
            return redirect("integrations:connection", connection.pk)
    return render(request, "integrations/connection_form.html", {"form": form, "connection": connection})


@require(PERMISSION)
def connection_detail(request, connection_id: int):
    health = _get(selectors.connection_health, connection_id)
    connection = health.connection
    tab = request.GET.get("tab", "runs")
    if tab not in ("runs", "errors", "deliveries"):
        tab = "runs"
    source = {
        "runs": selectors.runs(connection.pk),
        "errors": selectors.sync_errors(connection.pk),
        "deliveries": selectors.deliveries(connection.pk),
    }[tab]
    page = Paginator(source, 50).get_page(request.GET.get("page"))
    hook_url = request.build_absolute_uri(
        reverse("hooks:receive", args=[connection.platform, connection.webhook_token])
    )
    return render(
        request,
        "integrations/connection_detail.html",
        {
            "h": health,
            "connection": connection,
            "tab": tab,
            "page": page,
            "hook_url": hook_url,
            "sync_form": SyncForm(),
            "can_sync": connector_class(connection.platform) is not None,
            "allegro_auth": _allegro_auth(connection),
            "can_push": bool(
                (cls := connector_class(connection.platform)) and (cls.supports_stock or cls.supports_prices)
            ),
            "push_pending": connection.pending_pushes.count(),
        },
    )


@require(PERMISSION)
@require_POST
def connection_test(request, connection_id: int):
    connection = _get(selectors.connection_get, connection_id)
    try:
        result = services.connection_test(connection_id=connection.pk, actor=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        (messages.success if result.ok else messages.error)(request, result.message)
    return redirect("integrations:connection", connection.pk)


@require(PERMISSION)
@require_POST
def connection_sync(request, connection_id: int):
    from .tasks import connection_sync_task

    connection = _get(selectors.connection_get, connection_id)
    form = SyncForm(request.POST)
    since = None
    if form.is_valid() and form.cleaned_data.get("since"):
        day = form.cleaned_data["since"]
        since = dt.datetime.combine(day, dt.time(0, 0), tzinfo=dt.UTC).isoformat()
    kind = SyncRun.Kind.RECONCILE if since else SyncRun.Kind.IMPORT
    if connector_class(connection.platform) is None:
        messages.error(request, _("This platform cannot sync yet."))
    else:
        connection_sync_task(connection.pk, kind, since)
        messages.success(request, _("Sync started. The run log shows its progress."))
    return redirect("integrations:connection", connection.pk)


@require(PERMISSION)
@require_POST
def connection_push(request, connection_id: int):
    """Push stock and prices now (in the worker): what is pending, or every SKU with `all`."""
    from .tasks import connection_push_task

    connection = _get(selectors.connection_get, connection_id)
    cls = connector_class(connection.platform)
    if cls is None or not (cls.supports_stock or cls.supports_prices):
        messages.error(request, _("This platform does not take stock or prices from us."))
    else:
        connection_push_task(connection.pk, bool(request.POST.get("all")))
        messages.success(request, _("Push of stock and prices started. The run log shows its progress."))
    return redirect("integrations:connection", connection.pk)


@require(PERMISSION)
@require_POST
def error_retry(request, error_id: int):
    try:
        error = services.sync_error_retry(error_id=error_id, actor=request.user)
    except NotFound:
        raise Http404 from None
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("integrations:connections")
    if error.state == "resolved":
        messages.success(request, _("Taken in."))
    else:
        messages.error(request, _("Still failing: %(message)s") % {"message": error.message})
    return redirect(reverse("integrations:connection", args=[error.connection_id]) + "?tab=errors")


@require(PERMISSION)
@require_POST
def delivery_retry(request, delivery_id: int):
    try:
        delivery = services.delivery_retry(delivery_id=delivery_id, actor=request.user)
    except NotFound:
        raise Http404 from None
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("integrations:connections")
    if delivery.state == "failed":
        messages.error(request, _("Still failing: %(message)s") % {"message": delivery.error})
    else:
        messages.success(request, _("Delivery processed."))
    return redirect(reverse("integrations:connection", args=[delivery.connection_id]) + "?tab=deliveries")


# --- Allegro: authorization by device code ----------------------------------------------------------------


def _allegro_auth(connection):
    try:
        return selectors.allegro_authorization(connection)
    except DomainError:  # credentials that cannot be decrypted: the page says so elsewhere
        return None


def _allegro_answer(request, connection, auth, error: str = ""):
    """HTMX: the authorization card alone; otherwise a message and back to the connection page."""
    if request.htmx:
        return render(
            request,
            "integrations/_allegro_auth.html",
            {"connection": connection, "allegro_auth": auth, "auth_error": error},
        )
    if error:
        messages.error(request, error)
    elif auth is not None and auth.state == "granted":
        messages.success(
            request, _("Allegro access granted. Test the connection, then start the first import.")
        )
    elif auth is not None and auth.state == "denied":
        messages.error(request, _("The access was refused on Allegro. Start the authorization again."))
    elif auth is not None and auth.state == "expired":
        messages.error(request, _("The code expired before it was confirmed. Start the authorization again."))
    elif auth is not None and auth.state == "pending":
        messages.info(request, _("Not confirmed on Allegro yet."))
    return redirect("integrations:connection", connection.pk)


@require(PERMISSION)
@require_POST
def connection_authorize(request, connection_id: int):
    connection = _get(selectors.connection_get, connection_id)
    try:
        auth = services.connection_authorize_start(connection_id=connection.pk, actor=request.user)
    except DomainError as exc:
        return _allegro_answer(request, connection, _allegro_auth(connection), exc.message)
    return _allegro_answer(request, connection, auth)


@require(PERMISSION)
@require_POST
def connection_authorize_check(request, connection_id: int):
    connection = _get(selectors.connection_get, connection_id)
    try:
        auth = services.connection_authorize_check(connection_id=connection.pk, actor=request.user)
    except DomainError as exc:
        return _allegro_answer(request, connection, _allegro_auth(connection), exc.message)
    return _allegro_answer(request, connection, auth)


# --- the public webhook receiver -------------------------------------------------------------------------


@csrf_exempt
@public
def webhook(request, hook_platform: str, hook_token: str):
    """Platforms post here (no login: the signature on the raw body is the key). Answers: 202 stored,
    200 duplicate or ping, 401 bad signature (nothing stored), 404 unknown address."""
    if request.method != "POST":
        return HttpResponse(status=405, headers={"Allow": "POST"})
    if hook_platform not in Platform.values:
        raise Http404
    headers = {k.lower(): v for k, v in request.headers.items()}
    result = services.webhook_receive(
        platform=hook_platform, token=hook_token, headers=headers, body=request.body
    )
    if result.status == 404:
        raise Http404
    return JsonResponse({"outcome": result.outcome}, status=result.status)
