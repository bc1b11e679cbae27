"""Shipping screens: shipments list and page (label, tracking timeline, actions), the order page's shipping
panel, late / at-risk orders, bulk labels, delivery promises, carrier performance, and the ShipX webhook.

Thin doors: writes go through `services`, reads through `selectors`."""

from __future__ import annotations

import datetime as dt
import json

from django.conf import settings
from django.contrib import messages
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from zaplecze.core import selectors as core_selectors
from zaplecze.core.access import public, require
from zaplecze.core.errors import DomainError, NotFound
from zaplecze.core.permissions import user_has
from zaplecze.orders.models import Channel, Order, Stage

from . import charts, selectors, services
from .forms import BulkForm, PerformanceForm, PromiseForm, ShipmentForm, StatusForm, TrackingNumberForm
from .models import SHIPMENT_TRANSITIONS, Carrier, ShipmentStatus, Submission

PAGE_SIZE = 50
BULK_READY_LIMIT = 500


def _shipment(request, shipment_id: int):
    try:
        return selectors.access_shipment(request.user, shipment_id)
    except NotFound:
        raise Http404


# --- list and page -----------------------------------------------------------------------------------


@require("shipping.view")
def shipment_list(request):
    f = selectors.ShipmentFilter.from_params(request.GET)
    page = selectors.shipment_page(f, cursor=request.GET.get("cursor") or None, limit=PAGE_SIZE)
    params = request.GET.copy()
    params.pop("cursor", None)
    now = timezone.now()
    context = {
        "f": f,
        "page": page,
        "carriers": selectors.carriers(),
        "statuses": ShipmentStatus.choices,
        "submissions": Submission.choices,
        "params": params.urlencode(),
        "late_count": selectors.orders_late(now).count(),
        "at_risk_count": selectors.orders_at_risk(now).count(),
        "counts": selectors.shipment_status_counts(),
    }
    template = "shipping/_list_results.html" if request.htmx else "shipping/list.html"
    return render(request, template, context)


def _detail_context(request, shipment, **extra):
    manual = shipment.carrier.connector == Carrier.Connector.MANUAL
    targets = [
        (s, ShipmentStatus(s).label)
        for s in ShipmentStatus.values
        if s in SHIPMENT_TRANSITIONS[shipment.status] and s != ShipmentStatus.CANCELLED
    ]
    return {
        "s": shipment,
        "manual": manual,
        "events": list(shipment.events.all()),
        "parcels": list(shipment.parcels.all()),
        "status_form": extra.pop("status_form", None) or StatusForm(),
        "tracking_form": extra.pop("tracking_form", None)
        or TrackingNumberForm(initial={"tracking_number": shipment.tracking_number}),
        "targets": targets,
        "waiting": shipment.submission in (Submission.PENDING, Submission.SUBMITTED, Submission.FAILED)
        and shipment.status != ShipmentStatus.CANCELLED,
        "can_manage": user_has(request.user, "shipping.manage"),
        **extra,
    }


@require("shipping.view")
def shipment_detail(request, shipment_id: int):
    shipment = _shipment(request, shipment_id)
    context = _detail_context(request, shipment)
    if request.htmx and request.GET.get("part") == "state":
        return render(request, "shipping/_state.html", context)
    return render(request, "shipping/detail.html", context)


@require("shipping.view")
def label(request, shipment_id: int):
    shipment = _shipment(request, shipment_id)
    if not shipment.label:
        raise Http404
    return FileResponse(
        shipment.label.open("rb"),
        content_type="application/pdf",
        filename=f"{shipment.reference}.pdf",
        as_attachment=request.GET.get("download") == "1",
    )


def _act(request, shipment_id: int, action, ok: str):
    shipment = _shipment(request, shipment_id)
    try:
        action(shipment)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, ok)
    return redirect("shipping:detail", shipment_id=shipment.pk)


@require("shipping.manage")
@require_POST
def cancel(request, shipment_id: int):
    return _act(
        request,
        shipment_id,
        lambda s: services.shipment_cancel(
            shipment_id=s.pk, actor=request.user, reason=request.POST.get("note", "")[:500]
        ),
        _("Shipment cancelled."),
    )


@require("shipping.manage")
@require_POST
def retry(request, shipment_id: int):
    return _act(
        request,
        shipment_id,
        lambda s: services.shipment_retry(shipment_id=s.pk, actor=request.user),
        _("The shipment is queued for the carrier again."),
    )


@require("shipping.manage")
@require_POST
def sync(request, shipment_id: int):
    return _act(
        request, shipment_id, lambda s: services.shipment_sync(shipment_id=s.pk), _("Asked the carrier.")
    )


@require("shipping.manage")
@require_POST
def change_status(request, shipment_id: int):
    shipment = _shipment(request, shipment_id)
    form = StatusForm(request.POST)
    if not form.is_valid():
        return render(
            request, "shipping/detail.html", _detail_context(request, shipment, status_form=form), status=400
        )
    return _act(
        request,
        shipment_id,
        lambda s: services.shipment_transition(
            shipment_id=s.pk,
            status=form.cleaned_data["status"],
            note=form.cleaned_data["note"],
            actor=request.user,
        ),
        _("Status changed."),
    )


@require("shipping.manage")
@require_POST
def set_tracking_number(request, shipment_id: int):
    shipment = _shipment(request, shipment_id)
    form = TrackingNumberForm(request.POST)
    if not form.is_valid():
        return render(
            request,
            "shipping/detail.html",
            _detail_context(request, shipment, tracking_form=form),
            status=400,
        )
    return _act(
        request,
        shipment_id,
        lambda s: services.shipment_set_tracking_number(
            shipment_id=s.pk, tracking_number=form.cleaned_data["tracking_number"], actor=request.user
        ),
        _("Tracking number saved."),
    )


@require("shipping.manage")
@require_POST
def sync_all(request):
    report = services.shipments_sync(limit=200)
    messages.success(
        request,
        _("Asked the carriers about %(n)s shipments: %(c)s changed, %(f)s failed.")
        % {"n": report.checked, "c": report.changed, "f": report.failed},
    )
    return redirect("shipping:list")


# --- the order page's panel ---------------------------------------------------------------------------


def _order(order_id: int) -> Order:
    order = Order.objects.select_related("channel").filter(pk=order_id).first()
    if order is None:
        raise Http404
    return order


def _order_form(order: Order, data=None) -> ShipmentForm:
    carriers = list(selectors.carriers(active_only=True))
    carrier, service = services.carrier_for_order(order)
    initial = {
        "carrier": carrier.code if carrier else "",
        "service": service,
        "target_point": order.pickup_point,
        "template": "small" if service == "inpost_locker_standard" else "",
    }
    return ShipmentForm(data, carriers=carriers, initial=initial)


def _panel(request, order: Order, form: ShipmentForm | None = None, error: str = "", status: int = 200):
    context = {
        "order": order,
        "shipments": selectors.shipments_of_order(order.pk),
        "form": form or _order_form(order),
        "error": error,
        "can_manage": user_has(request.user, "shipping.manage"),
        "open": order.stage not in (Stage.CANCELLED, Stage.RETURNED),
    }
    return render(request, "shipping/_order_panel.html", context, status=status)


@require("shipping.view")
def order_panel(request, order_id: int):
    """The order page's shipping panel (a partial: include it with hx-get, see docs/shipping.md)."""
    return _panel(request, _order(order_id))


@require("shipping.manage")
@require_POST
def order_create_shipment(request, order_id: int):
    order = _order(order_id)
    form = _order_form(order, request.POST)
    if not form.is_valid():
        return _panel(request, order, form, _("Check the shipment's details."), status=400)
    d = form.cleaned_data
    try:
        shipment = services.shipment_create(
            order_id=order.pk,
            carrier_code=d["carrier"],
            service=d["service"],
            target_point=d["target_point"],
            parcels=[form.parcel()],
            cod_amount=d["cod_amount"],
            insurance_amount=d["insurance_amount"],
            tracking_number=d["tracking_number"],
            actor=request.user,
        )
    except DomainError as exc:
        if exc.field and exc.field.split("[")[0] in form.fields:
            form.add_error(exc.field.split("[")[0], exc.message)
        return _panel(request, order, form, exc.message, status=exc.status)
    if request.htmx:
        return _panel(request, order)
    messages.success(request, _("Shipment created."))
    return redirect("shipping:detail", shipment_id=shipment.pk)


# --- late and at risk ---------------------------------------------------------------------------------


@require("shipping.view")
def due(request):
    now = timezone.now()
    return render(
        request,
        "shipping/due.html",
        {
            "late": list(selectors.orders_late(now)[:500]),
            "at_risk": list(selectors.orders_at_risk(now)[:500]),
            "risk_hours": settings.SHIP_AT_RISK_HOURS,
            "now": now,
        },
    )


# --- bulk labels --------------------------------------------------------------------------------------


def _bulk_orders(form: BulkForm) -> list[int]:
    raw = form.cleaned_data["order_numbers"]
    numbers = [n.strip() for n in raw.replace(",", "\n").splitlines() if n.strip()]
    if numbers:
        wanted = set(numbers) | {f"#{n}" for n in numbers if not n.startswith("#")}
        found = dict(Order.objects.filter(number__in=wanted).values_list("number", "pk"))
        missing = [n for n in numbers if n not in found and f"#{n}" not in found]
        if missing:
            form.add_error("order_numbers", _("Unknown orders: %(n)s") % {"n": ", ".join(missing[:20])})
            return []
        return list(dict.fromkeys(found.get(n) or found[f"#{n}"] for n in numbers))
    qs = Order.objects.filter(stage__in=(Stage.READY, Stage.IN_FULFILMENT)).exclude(
        shipments__status__in=[s for s in ShipmentStatus.values if s != ShipmentStatus.CANCELLED]
    )
    if form.cleaned_data["delivery_method"]:
        qs = qs.filter(delivery_method=form.cleaned_data["delivery_method"])
    ids = list(qs.order_by("ship_by", "id").values_list("pk", flat=True).distinct()[:BULK_READY_LIMIT])
    if not ids:
        form.add_error(None, _("No ready orders without a shipment."))
    return ids


@require("shipping.manage")
def bulk(request):
    carriers = list(selectors.carriers(active_only=True))
    form = BulkForm(request.POST or None, carriers=carriers)
    if request.method == "POST" and form.is_valid():
        ids = [int(x) for x in request.POST.getlist("order_ids") if x.isdigit()] or _bulk_orders(form)
        if ids:
            try:
                job_id = services.bulk_labels_job_create(
                    order_ids=ids,
                    actor=request.user,
                    carrier_code=form.cleaned_data["carrier"],
                    parcel=form.parcel(),
                )
            except DomainError as exc:
                form.add_error(None, exc.message)
            else:
                return redirect("shipping:bulk_job", job_id=job_id)
    return render(request, "shipping/bulk.html", {"form": form}, status=400 if form.errors else 200)


def _job(request, job_id: int):
    try:
        job = core_selectors.access_job(request.user, job_id)
    except NotFound:
        raise Http404
    if job.kind != "shipping.bulk_labels":
        raise Http404
    return job


@require("shipping.manage")
def bulk_job(request, job_id: int):
    job = _job(request, job_id)
    template = "shipping/_bulk_progress.html" if request.htmx else "shipping/bulk_job.html"
    return render(request, template, {"job": job})


@require("shipping.manage")
def bulk_labels(request, job_id: int):
    job = _job(request, job_id)
    name = (job.result or {}).get("labels_file") or ""
    if not name.startswith("labels/bulk/") or not default_storage.exists(name):
        raise Http404
    return FileResponse(
        default_storage.open(name, "rb"), content_type="application/pdf", filename=f"labels-{job.pk}.pdf"
    )


# --- delivery promises --------------------------------------------------------------------------------


@require("settings.shipping")
def promises(request):
    channels = list(Channel.objects.order_by("name"))
    form = PromiseForm(request.POST or None, channels=channels)
    if request.method == "POST":
        action = request.POST.get("action", "save")
        if action == "delete":
            try:
                services.promise_delete(
                    promise_id=int(request.POST.get("promise_id", "0") or 0), actor=request.user
                )
            except (DomainError, ValueError):
                raise Http404
            messages.success(request, _("Promise deleted."))
            return redirect("shipping:promises")
        if action == "refresh":
            n = services.orders_ship_by_refresh(actor=request.user)
            messages.success(request, _("Ship-by recomputed; %(n)s open orders changed.") % {"n": n})
            return redirect("shipping:promises")
        if form.is_valid():
            d = form.cleaned_data
            try:
                services.promise_save(
                    channel_id=int(d["channel"]) if d["channel"] else None,
                    delivery_method=d["delivery_method"],
                    handling_days=d["handling_days"],
                    cutoff=d["cutoff"],
                    active=d["active"],
                    actor=request.user,
                )
            except DomainError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            else:
                messages.success(request, _("Promise saved."))
                return redirect("shipping:promises")
    return render(
        request,
        "shipping/promises.html",
        {"form": form, "promises": selectors.promises()},
        status=400 if form.errors else 200,
    )


# --- carrier performance ------------------------------------------------------------------------------


@require("shipping.view")
def performance(request):
    today = timezone.localdate()
    form = PerformanceForm(request.GET or {"date_from": today - dt.timedelta(days=30), "date_to": today})
    rows, spec = [], None
    if form.is_valid():
        rows = selectors.carrier_performance(form.cleaned_data["date_from"], form.cleaned_data["date_to"])
        spec = charts.transit_chart(rows) if rows else None
    return render(
        request,
        "shipping/performance.html",
        {"form": form, "rows": rows, "chart_spec": spec},
        status=200 if form.is_valid() else 400,
    )


# --- ShipX webhook ------------------------------------------------------------------------------------


@csrf_exempt
@public
def inpost_webhook(request, secret: str):
    """ShipX posts shipment events here. The address carries ZAPLECZE_INPOST_WEBHOOK_SECRET (no secret
    configured: the endpoint does not exist)."""
    expected = settings.INPOST_WEBHOOK_SECRET
    if not expected or not constant_time_compare(secret, expected):
        raise Http404
    if request.method != "POST":
        return HttpResponse(status=405, headers={"Allow": "POST"})
    if len(request.body) > 64 * 1024:
        return JsonResponse({"code": "too_large"}, status=413)
    try:
        body = json.loads(request.body or b"null")
    except ValueError:
        return JsonResponse({"code": "invalid", "message": "Body is not JSON"}, status=400)
    try:
        result = services.inpost_webhook_receive(body=body, organization_id=settings.INPOST_ORGANIZATION_ID)
    except DomainError as exc:
        return JsonResponse(exc.as_dict(), status=400)
    return JsonResponse({"outcome": result.outcome})
