"""Pick & pack screens: pick lists (choose orders, the sheet on screen for a tablet, the PDF) and the packing
screen driven by a keyboard-wedge scanner. Thin doors: writes go through `services`, reads through
`selectors`."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST

from zaplecze.core.access import require
from zaplecze.core.errors import DomainError, NotFound
from zaplecze.core.permissions import user_has
from zaplecze.orders.models import Channel, DeliveryMethod, Order
from zaplecze.shipping import selectors as shipping_selectors

from . import pdf, selectors, services
from .models import PickListStatus, ScanOutcome

READY_LIMIT = 500  # orders shown (and taken by "all ready to fulfil") at once


def _pick_list(request, picklist_id: int):
    try:
        return selectors.access_picklist(request.user, picklist_id)
    except NotFound:
        raise Http404


def _ready_filter(params) -> selectors.ReadyFilter:
    return selectors.ReadyFilter(
        channel=(params.get("channel") or "")[:40],
        delivery_method=(params.get("delivery_method") or "")[:20],
        carrier=(params.get("carrier") or "")[:30],
        include_listed=params.get("include_listed") == "1",
    )


# --- pick lists ---------------------------------------------------------------------------------------


@require("fulfilment.pick")
def index(request):
    """Pick lists (open first) and the orders ready to fulfil to make a new one from."""
    f = _ready_filter(request.GET)
    ready_qs = selectors.orders_ready(f)
    ready = list(ready_qs[:READY_LIMIT])
    listed = selectors.open_picklists_of_orders([o.pk for o in ready]) if f.include_listed else {}
    context = {
        "f": f,
        "ready": ready,
        "ready_total": ready_qs.count(),
        "ready_limit": READY_LIMIT,
        "listed": listed,
        "open_lists": list(selectors.picklists(status=PickListStatus.OPEN, limit=50)),
        "done_lists": list(selectors.picklists(status=PickListStatus.DONE, limit=20)),
        "channels": Channel.objects.filter(active=True).order_by("name"),
        "delivery_methods": DeliveryMethod.choices,
        "carriers": shipping_selectors.carriers(active_only=True),
        "can_move": user_has(request.user, "orders.change_status"),
    }
    return render(request, "fulfilment/index.html", context)


def _posted_ids(request) -> list[int] | None:
    ids = []
    for raw in request.POST.getlist("ids") + request.POST.getlist("order_ids"):
        try:
            ids.append(int(raw))
        except (TypeError, ValueError):
            return None
    return ids


@require("fulfilment.pick")
@require_POST
def create(request):
    """Make a pick list from the ticked orders (`ids`, also from the order queue's bulk form), or from all
    orders ready to fulfil that match the filters (`all_ready=1`)."""
    ids = _posted_ids(request)
    if ids is None:
        messages.error(request, _("Bad order id."))
        return redirect("fulfilment:index")
    if request.POST.get("all_ready") == "1":
        ids = list(
            selectors.orders_ready(_ready_filter(request.POST)).values_list("pk", flat=True)[:READY_LIMIT]
        )
        if not ids:
            messages.warning(request, _("No orders are ready to fulfil with these filters."))
            return redirect("fulfilment:index")
    try:
        pick_list = services.picklist_create(
            order_ids=ids,
            actor=request.user,
            move_to_picking=request.POST.get("move_to_picking") == "1",
            note=(request.POST.get("note") or "")[:200],
        )
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("fulfilment:index")
    messages.success(
        request,
        ngettext(
            "Pick list %(number)s made for %(n)d order.",
            "Pick list %(number)s made for %(n)d orders.",
            len(set(ids)),
        )
        % {"number": pick_list.number, "n": len(set(ids))},
    )
    return redirect("fulfilment:picklist", picklist_id=pick_list.pk)


@require("fulfilment.pick")
def picklist_detail(request, picklist_id: int):
    """The pick sheet on screen: big rows with a checkbox each, for a tablet in the aisle."""
    pick_list = _pick_list(request, picklist_id)
    sheet = selectors.picklist_sheet(pick_list)
    packing = selectors.packing_of_orders([o.id for o in sheet.orders])
    return render(
        request,
        "fulfilment/picklist.html",
        {
            "pl": pick_list,
            "sheet": sheet,
            "packing": packing,
            "open": pick_list.status == PickListStatus.OPEN,
        },
    )


@require("fulfilment.pick")
@require_GET
def picklist_pdf(request, picklist_id: int):
    pick_list = _pick_list(request, picklist_id)
    data = pdf.picklist_pdf(pick_list)
    response = HttpResponse(data, content_type="application/pdf")
    disposition = "attachment" if request.GET.get("download") == "1" else "inline"
    response["Content-Disposition"] = f'{disposition}; filename="{pick_list.number}.pdf"'
    return response


@require("fulfilment.pick")
@require_POST
def picklist_mark(request, picklist_id: int):
    pick_list = _pick_list(request, picklist_id)
    picked = request.POST.get("picked") == "1"
    try:
        services.picklist_mark(
            pick_list_id=pick_list.pk,
            key=request.POST.get("key", "")[:200],
            picked=picked,
            actor=request.user,
        )
    except DomainError as exc:
        if request.htmx:
            return HttpResponse(exc.message, status=exc.status)
        messages.error(request, exc.message)
        return redirect("fulfilment:picklist", picklist_id=pick_list.pk)
    if request.htmx:
        return HttpResponse(status=204)
    return redirect("fulfilment:picklist", picklist_id=pick_list.pk)


@require("fulfilment.pick")
@require_POST
def picklist_status(request, picklist_id: int):
    pick_list = _pick_list(request, picklist_id)
    status = request.POST.get("status", "")
    try:
        services.picklist_transition(pick_list_id=pick_list.pk, status=status, actor=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request, _("Pick list done.") if status == PickListStatus.DONE else _("Pick list reopened.")
        )
    return redirect("fulfilment:picklist", picklist_id=pick_list.pk)


# --- packing ------------------------------------------------------------------------------------------


@require("fulfilment.pick")
def pack_lookup(request):
    """Scan or type an order number (or id) to open its packing screen."""
    ref = (request.GET.get("order") or "").strip()[:60]
    error = ""
    if ref:
        order = selectors.order_for_packing(ref)
        if order is not None:
            url = reverse("fulfilment:pack", args=[order.pk])
            pl = request.GET.get("pl", "")
            return redirect(f"{url}?pl={pl}" if pl.isdigit() else url)
        error = _("No order %(ref)s.") % {"ref": ref}
    return render(
        request, "fulfilment/pack_lookup.html", {"ref": ref, "error": error}, status=404 if error else 200
    )


def _order(order_id: int) -> Order:
    order = Order.objects.select_related("status", "channel").filter(pk=order_id).first()
    if order is None:
        raise Http404
    return order


def _pick_list_id(request) -> int | None:
    raw = request.GET.get("pl") or request.POST.get("pl") or ""
    return int(raw) if raw.isdigit() and len(raw) < 12 else None


def _pack_context(request, state: selectors.PackState, result=None, error: str = "") -> dict:
    pl_id = _pick_list_id(request)
    return {
        "state": state,
        "order": state.order,
        "result": result,
        "error": error,
        "warn": bool(error) or (result is not None and result.outcome not in (ScanOutcome.COUNTED, "undone")),
        "pl_id": pl_id,
        "next_order": selectors.next_to_pack(pl_id, state.order.pk) if pl_id else None,
        "shipments": shipping_selectors.shipments_of_order(state.order.pk) if state.complete else [],
        "can_ship": user_has(request.user, "shipping.manage"),
    }


def _pack_response(request, order: Order, result=None, error: str = "", status: int = 200):
    state = result.state if result is not None else selectors.pack_state(order)
    context = _pack_context(request, state, result, error)
    template = "fulfilment/_pack_state.html" if request.htmx else "fulfilment/pack.html"
    return render(request, template, context, status=status)


@require("fulfilment.pick")
def pack(request, order_id: int):
    order = _order(order_id)
    return _pack_response(request, order)


def _after_post(request, order: Order, result=None, error: str = "", status: int = 200):
    """HTMX: the new state panel. Without JavaScript: a message and back to the screen (a reload does not
    post the scan again)."""
    if request.htmx:
        return _pack_response(request, order, result, error, status)
    text = error or (result.message if result else "")
    if text:
        level = (
            messages.success
            if result is not None and result.outcome in (ScanOutcome.COUNTED, "undone")
            else messages.error
        )
        level(request, text)
    url = reverse("fulfilment:pack", args=[order.pk])
    pl = _pick_list_id(request)
    return redirect(f"{url}?pl={pl}" if pl else url)


@require("fulfilment.pick")
@require_POST
def pack_scan(request, order_id: int):
    order = _order(order_id)
    try:
        result = services.packing_scan(
            order_id=order.pk,
            code=(request.POST.get("code") or "")[:200],
            actor=request.user,
            pick_list_id=_pick_list_id(request),
        )
    except DomainError as exc:
        return _after_post(request, order, error=exc.message, status=200 if request.htmx else exc.status)
    return _after_post(request, order, result)


@require("fulfilment.pick")
@require_POST
def pack_undo(request, order_id: int):
    order = _order(order_id)
    try:
        result = services.packing_undo(order_id=order.pk, actor=request.user)
    except DomainError as exc:
        return _after_post(request, order, error=exc.message)
    return _after_post(request, order, result)
