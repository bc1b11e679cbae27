from __future__ import annotations

from django.http import Http404
from django.shortcuts import render

from zaplecze.core.access import require
from zaplecze.core.errors import DomainError, NotFound

from . import selectors


@require("orders.view")
def queue(request):
    try:
        f = selectors.OrderFilter.from_params(request.GET)
        page = selectors.order_queue(f, sort=request.GET.get("sort", "-placed_at"), cursor=request.GET.get("cursor"))
        error = None
    except DomainError as exc:
        page, error = None, exc.message
    return render(request, "orders/queue.html", {"page": page, "error": error})


@require("orders.view")
def detail(request, order_id: int):
    try:
        order = selectors.access_order(request.user, order_id)
    except NotFound:
        raise Http404
    return render(request, "orders/detail.html", {"order": order, "events": selectors.order_events(order)})


def _todo(request, *a, **k):
    from django.http import HttpResponse

    return HttpResponse("not yet", status=501)


export = require("orders.export")(_todo)
bulk = require("orders.bulk")(_todo)
create = require("orders.create")(_todo)
change_status = require("orders.change_status")(_todo)
add_note = require("orders.edit")(_todo)
edit = require("orders.edit")(_todo)
resolve_attention = require("orders.edit")(_todo)
statuses = require("settings.statuses")(_todo)
channels = require("settings.channels")(_todo)
