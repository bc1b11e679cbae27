"""Order screens: the queue (filters, search, sorting, keyset pages, bulk actions, export), the order page
(status change, edit, notes, attention), the manual order form and the status / channel settings.

Thin doors: every write goes through `services`, every read through `selectors`."""

from __future__ import annotations

import datetime as dt
import tempfile
from typing import Any

from django.contrib import messages
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpResponseBadRequest, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods, require_POST, require_safe
from pydantic import ValidationError

from zaplecze.catalog import selectors as catalog_selectors
from zaplecze.core import selectors as core_selectors
from zaplecze.core.access import require
from zaplecze.core.errors import Conflict, DomainError, NotFound
from zaplecze.core.formatting import format_date
from zaplecze.core.permissions import user_has

from . import selectors, services
from .forms import (
    DATETIME_INPUT,
    AttentionForm,
    ChannelForm,
    LineFormSet,
    ManualOrderForm,
    NoteForm,
    OrderEditForm,
    StatusChangeForm,
    StatusForm,
    address_from,
    decimal_text,
    new_manual_external_id,
)
from .models import (
    OPEN_STAGES,
    Channel,
    CustomerType,
    DeliveryMethod,
    OrderEvent,
    PaymentMethod,
    PaymentStatus,
    Stage,
)
from .schemas import OrderIn

QUEUE_TARGET = "queue-results"
QUEUE_PAGE_SIZE = 50
BULK_LIMIT = 500
EXPORT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
# Default direction when a column header is clicked first.
SORT_COLUMNS = {"placed_at": "-placed_at", "total_gross": "-total_gross", "ship_by": "ship_by"}


def _query(params: QueryDict, **changes: Any) -> str:
    """`?...` with some parameters replaced; None/'' removes one."""
    q = params.copy()
    for key, value in changes.items():
        if value in (None, ""):
            q.pop(key, None)
        else:
            q[key] = value
    encoded = q.urlencode()
    return f"?{encoded}" if encoded else "?"


def _safe_next(request, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


def _get_order(request, order_id: int):
    try:
        return selectors.access_order(request.user, order_id)
    except NotFound:
        raise Http404


# --- queue -------------------------------------------------------------------------------------------


def _filter_selects(f: selectors.OrderFilter, statuses, channels) -> list[dict[str, Any]]:
    """The drop-downs of the filter bar. A value that is not one option (e.g. `stage=ready,in_fulfilment`
    from a dashboard link) is shown as one extra selected option, so the form round-trips it."""
    specs = [
        ("status", _("Status"), [(s.code, s.name) for s in statuses]),
        ("stage", _("Stage"), [(str(v), str(label)) for v, label in Stage.choices]),
        ("channel", _("Channel"), [(c.code, c.name) for c in channels]),
        ("payment_status", _("Payment"), [(str(v), str(label)) for v, label in PaymentStatus.choices]),
        ("payment_method", _("Payment method"), [(str(v), str(label)) for v, label in PaymentMethod.choices]),
        ("delivery_method", _("Delivery"), [(str(v), str(label)) for v, label in DeliveryMethod.choices]),
    ]
    out = []
    for name, label, options in specs:
        values: list[str] = getattr(f, name)
        names = dict(options)
        opts = [{"value": v, "label": lbl, "selected": values == [v]} for v, lbl in options]
        if values and not (len(values) == 1 and values[0] in names):
            opts.insert(
                0,
                {
                    "value": ",".join(values),
                    "label": ", ".join(names.get(v, v) for v in values),
                    "selected": True,
                },
            )
        out.append({"name": name, "label": label, "options": opts, "active": bool(values)})
    return out


def _active_filters(request, f: selectors.OrderFilter, selects: list[dict]) -> list[dict[str, str]]:
    """Chips for the filters in force, each with a link that drops it."""
    chips = []
    for sel in selects:
        if sel["active"]:
            text = next(o["label"] for o in sel["options"] if o["selected"])
            chips.append(
                {
                    "label": f"{sel['label']}: {text}",
                    "url": _query(request.GET, **{sel["name"]: None, "cursor": None}),
                }
            )
    if f.tag:
        chips.append(
            {
                "label": _("Tag: %(tags)s") % {"tags": ", ".join(f.tag)},
                "url": _query(request.GET, tag=None, cursor=None),
            }
        )
    if f.date_from or f.date_to:
        span = f"{format_date(f.date_from) if f.date_from else '…'} – {format_date(f.date_to) if f.date_to else '…'}"
        chips.append(
            {
                "label": _("Placed: %(span)s") % {"span": span},
                "url": _query(request.GET, date_from=None, date_to=None, cursor=None),
            }
        )
    if f.needs_attention is not None:
        chips.append(
            {
                "label": _("Needs attention") if f.needs_attention else _("No attention needed"),
                "url": _query(request.GET, needs_attention=None, cursor=None),
            }
        )
    if f.late is not None:
        chips.append(
            {
                "label": _("Late") if f.late else _("Not late"),
                "url": _query(request.GET, late=None, cursor=None),
            }
        )
    if f.q:
        chips.append(
            {"label": _("Search: %(q)s") % {"q": f.q}, "url": _query(request.GET, q=None, cursor=None)}
        )
    return chips


def _sort_headers(request, sort: str) -> dict[str, dict[str, str]]:
    out = {}
    for col, first in SORT_COLUMNS.items():
        if sort == col:
            target, direction = f"-{col}", "asc"
        elif sort == f"-{col}":
            target, direction = col, "desc"
        else:
            target, direction = first, ""
        out[col] = {"url": _query(request.GET, sort=target, cursor=None), "dir": direction}
    return out


def _queue_context(request) -> tuple[dict[str, Any], int]:
    statuses, channels = selectors.statuses(), selectors.channels()
    sort = request.GET.get("sort") or "-placed_at"
    cursor = request.GET.get("cursor") or None
    error, page, f = None, None, None
    try:
        f = selectors.OrderFilter.from_params(request.GET)
        page = selectors.order_queue(f, sort=sort, cursor=cursor, limit=QUEUE_PAGE_SIZE)
    except DomainError as exc:
        error = exc.message
    if f is None:
        f = selectors.OrderFilter()
    if sort not in selectors.SORTS:
        sort = "-placed_at"
    now = timezone.now()
    if page is not None:
        for o in page.items:
            o.is_late = bool(o.stage in OPEN_STAGES and o.ship_by and o.ship_by < now)
    selects = _filter_selects(f, statuses, channels)
    filter_params = QueryDict(mutable=True)
    for key, value in f.as_params().items():
        filter_params[key] = str(value).lower() if isinstance(value, bool) else value
    context = {
        "page": page,
        "error": error,
        "f": f,
        "selects": selects,
        "chips": _active_filters(request, f, selects),
        "statuses": statuses,
        "tags": selectors.tags(),
        "sort": sort,
        "sort_headers": _sort_headers(request, sort),
        "cursor": cursor,
        "next_url": _query(request.GET, cursor=page.next_cursor) if page and page.next_cursor else None,
        "first_url": _query(request.GET, cursor=None) if cursor else None,
        "filter_query": filter_params.urlencode(),
        "here": request.get_full_path(),
        "hx_target": QUEUE_TARGET,
    }
    return context, 400 if error else 200


@require("orders.view")
@require_safe
def queue(request):
    context, status = _queue_context(request)
    htmx = getattr(request, "htmx", None)
    if htmx and htmx.target == QUEUE_TARGET and not htmx.history_restore_request:
        return render(request, "orders/_queue_results.html", context, status=status)
    return render(request, "orders/queue.html", context, status=status)


@require("orders.bulk")
@require_POST
def bulk(request):
    back = _safe_next(request, reverse("orders:queue"))
    ids: list[int] = []
    for raw in request.POST.getlist("ids"):
        try:
            ids.append(int(raw))
        except (TypeError, ValueError):
            return HttpResponseBadRequest(_("Bad order id"))
    ids = list(dict.fromkeys(ids))
    if not ids:
        messages.warning(request, _("Select at least one order first."))
        return redirect(back)
    if len(ids) > BULK_LIMIT:
        messages.error(request, _("Select at most %(n)d orders at once.") % {"n": BULK_LIMIT})
        return redirect(back)
    action = request.POST.get("action", "")
    if action == "status":
        code = request.POST.get("status", "")
        names = {s.code: s.name for s in selectors.statuses()}
        if code not in names:
            messages.error(request, _("Choose the status to set."))
            return redirect(back)
        result = services.order_bulk_transition(order_ids=ids, status_code=code, actor=request.user)
        if result.ok:
            messages.success(
                request,
                ngettext(
                    "%(n)d order moved to “%(status)s”.",
                    "%(n)d orders moved to “%(status)s”.",
                    len(result.ok),
                )
                % {"n": len(result.ok), "status": names[code]},
            )
        if result.failed:
            messages.error(
                request,
                ngettext(
                    "%(n)d order was not changed:",
                    "%(n)d orders were not changed:",
                    len(result.failed),
                )
                % {"n": len(result.failed)},
            )
            for message in list(result.failed.values())[:20]:
                messages.error(request, message)
            if len(result.failed) > 20:
                messages.error(request, _("… and %(n)d more.") % {"n": len(result.failed) - 20})
    elif action in ("tag_add", "tag_remove"):
        tag = request.POST.get("tag", "").strip()
        add, remove = ([tag], []) if action == "tag_add" else ([], [tag])
        try:
            n = services.order_tags_change(order_ids=ids, add=add, remove=remove, actor=request.user)
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            if action == "tag_add":
                msg = ngettext(
                    "Tag “%(tag)s” added to %(n)d order.", "Tag “%(tag)s” added to %(n)d orders.", n
                )
            else:
                msg = ngettext(
                    "Tag “%(tag)s” removed from %(n)d order.", "Tag “%(tag)s” removed from %(n)d orders.", n
                )
            messages.success(request, msg % {"tag": tag, "n": n})
    else:
        return HttpResponseBadRequest(_("Unknown bulk action"))
    return redirect(back)


@require("orders.export")
@require_http_methods(["GET", "HEAD", "POST"])
def export(request):
    """The queue's current filter as CSV/XLSX. Up to `exporting.SYNC_LIMIT` orders the file is the answer;
    a bigger export is confirmed (POST) and written by the worker as a job with progress and a download."""
    from . import exporting

    params = request.POST if request.method == "POST" else request.GET
    fmt = params.get("fmt", "csv")
    if fmt not in EXPORT_TYPES:
        return HttpResponseBadRequest(_("Choose the format csv or xlsx."))
    try:
        f = selectors.OrderFilter.from_params(params)
    except DomainError as exc:
        return HttpResponseBadRequest(exc.message, content_type="text/plain; charset=utf-8")
    queryset = selectors.orders_filtered(f)
    if request.method == "POST":
        job_id = exporting.export_job_create(
            params=f.as_params(), fmt=fmt, actor=request.user, total=queryset.count()
        )
        return redirect("orders:export_job", job_id=job_id)
    count = queryset.count()
    if count > exporting.SYNC_LIMIT:
        return render(
            request,
            "orders/export_confirm.html",
            {"count": count, "fmt": fmt, "params": f.as_params(), "limit": exporting.SYNC_LIMIT},
        )
    from zaplecze.orders.csvio.export import export_orders

    # Written to a temporary file (bounded memory, XLSX needs a seekable file), then streamed from disk.
    out = tempfile.TemporaryFile(suffix=f".{fmt}")  # noqa: SIM115 - closed by FileResponse
    export_orders(queryset, fmt, out)
    out.seek(0)
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    return FileResponse(
        out, as_attachment=True, filename=f"orders-{stamp}.{fmt}", content_type=EXPORT_TYPES[fmt]
    )


def _export_job(request, job_id: int):
    from . import exporting

    try:
        job = core_selectors.access_job(request.user, job_id)
    except NotFound:
        raise Http404
    if job.kind != exporting.KIND:
        raise Http404
    return job


@require("orders.export")
@require_safe
def export_job(request, job_id: int):
    job = _export_job(request, job_id)
    template = "orders/_export_progress.html" if request.htmx else "orders/export_job.html"
    return render(request, template, {"job": job})


@require("orders.export")
@require_safe
def export_download(request, job_id: int):
    from . import exporting

    found = exporting.export_file(_export_job(request, job_id))
    if found is None:
        raise Http404
    name, filename = found
    fmt = filename.rsplit(".", 1)[-1]
    return FileResponse(
        default_storage.open(name, "rb"),
        as_attachment=True,
        filename=filename,
        content_type=EXPORT_TYPES[fmt],
    )


# --- order page --------------------------------------------------------------------------------------


def _short(value: Any, limit: int = 120) -> str:
    if value in (None, "", [], {}):
        return "—"
    if isinstance(value, dict):
        value = ", ".join(str(v) for v in value.values() if v not in (None, ""))
    elif isinstance(value, list):
        value = "; ".join(
            " ".join(str(x) for x in v) if isinstance(v, list | tuple) else str(v) for v in value
        )
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _audit_rows(order) -> list[dict[str, Any]]:
    rows = []
    for entry in core_selectors.audit_for("orders.order", order.pk):
        changes = [
            {
                "field": k,
                "before": _short(v[0] if isinstance(v, list) and len(v) == 2 else None),
                "after": _short(v[1] if isinstance(v, list) and len(v) == 2 else v),
            }
            for k, v in (entry.changes or {}).items()
        ]
        rows.append(
            {
                "at": entry.at,
                "actor": entry.actor_label,
                "action": entry.action,
                "changes": changes,
                "reason": entry.reason,
            }
        )
    return rows


def _timeline(order, statuses) -> list[OrderEvent]:
    by_code = {s.code: s for s in statuses}
    events = list(selectors.order_events(order))
    for e in events:
        e.from_status_obj = by_code.get(e.from_status)
        e.to_status_obj = by_code.get(e.to_status)
        e.from_stage_label = Stage(e.from_stage).label if e.from_stage in Stage.values else e.from_stage
        e.to_stage_label = Stage(e.to_stage).label if e.to_stage in Stage.values else e.to_stage
    events.reverse()  # newest first
    return events


def _render_detail(
    request,
    order,
    *,
    status_form=None,
    status_error: str | None = None,
    note_form=None,
    http_status: int = 200,
):
    statuses = selectors.statuses()
    lines = list(order.lines.all())
    context = {
        "order": order,
        "lines": lines,
        "lines_total": sum((ln.total_gross for ln in lines), start=order.total_gross * 0),
        "is_late": bool(order.stage in OPEN_STAGES and order.ship_by and order.ship_by < timezone.now()),
        "targets": [s for s in statuses if s.pk != order.status_id and order.can_move_to(s.stage)],
        "events": _timeline(order, statuses),
        "audit": _audit_rows(order) if user_has(request.user, "audit.view") else None,
        "status_form": status_form or StatusChangeForm(initial={"version": order.version}),
        "status_error": status_error,
        "note_form": note_form or NoteForm(),
        "attention_form": AttentionForm(),
        "stage_label": Stage(order.stage).label,
    }
    return render(request, "orders/detail.html", context, status=http_status)


@require("orders.view")
@require_safe
def detail(request, order_id: int):
    return _render_detail(request, _get_order(request, order_id))


@require("orders.change_status")
@require_POST
def change_status(request, order_id: int):
    order = _get_order(request, order_id)
    form = StatusChangeForm(request.POST)
    if not form.is_valid():
        return _render_detail(
            request, order, status_form=form, status_error=_("Choose the new status."), http_status=400
        )
    try:
        services.order_transition(
            order_id=order.pk,
            status_code=form.cleaned_data["status"],
            actor=request.user,
            expected_version=form.cleaned_data["version"],
            reason=form.cleaned_data["reason"],
        )
    except DomainError as exc:
        if isinstance(exc, NotFound):
            raise Http404
        order = _get_order(request, order_id)  # show what is there now, with its current version
        fresh = StatusChangeForm(initial={"version": order.version, "reason": form.cleaned_data["reason"]})
        return _render_detail(
            request, order, status_form=fresh, status_error=exc.message, http_status=exc.status
        )
    messages.success(request, _("Status changed."))
    return redirect("orders:detail", order_id=order.pk)


@require("orders.edit")
@require_POST
def add_note(request, order_id: int):
    order = _get_order(request, order_id)
    form = NoteForm(request.POST)
    if not form.is_valid():
        return _render_detail(request, order, note_form=form, http_status=400)
    try:
        services.order_add_note(order_id=order.pk, text=form.cleaned_data["text"], actor=request.user)
    except DomainError as exc:
        form.add_error("text", exc.message)
        return _render_detail(request, order, note_form=form, http_status=exc.status)
    messages.success(request, _("Note added."))
    return redirect(reverse("orders:detail", args=[order.pk]) + "#history")


@require("orders.edit")
@require_POST
def resolve_attention(request, order_id: int):
    order = _get_order(request, order_id)
    form = AttentionForm(request.POST)
    note = form.cleaned_data["note"] if form.is_valid() else ""
    services.order_resolve_attention(order_id=order.pk, actor=request.user, note=note)
    messages.success(request, _("Marked as resolved."))
    return redirect("orders:detail", order_id=order.pk)


def _field_text(form, name: str) -> str:
    """What a field shows in the browser, as text (to compare the user's input with the current value)."""
    value = form[name].value()
    if isinstance(value, dt.datetime):
        value = (
            timezone.localtime(value).strftime(DATETIME_INPUT)
            if timezone.is_aware(value)
            else value.strftime(DATETIME_INPUT)
        )
    return "" if value is None else str(value).strip()


@require("orders.edit")
def edit(request, order_id: int):
    order = _get_order(request, order_id)
    conflict, current_values = None, {}
    http_status = 200
    if request.method == "POST":
        form = OrderEditForm(request.POST)
        if form.is_valid():
            changes = form.changes_against(order)
            version = form.cleaned_data["version"]
            if not changes and version == order.version:
                messages.info(request, _("Nothing was changed."))
                return redirect("orders:detail", order_id=order.pk)
            try:
                services.order_edit(
                    order_id=order.pk, expected_version=version, changes=changes, actor=request.user
                )
            except Conflict as exc:
                # Nothing is lost: the user's input stays in the form; the current values are shown beside it
                # and the form now carries the current version, so saving again is a deliberate overwrite.
                order = _get_order(request, order_id)
                data = request.POST.copy()
                data["version"] = str(order.version)
                form = OrderEditForm(data)
                form.is_valid()
                current = OrderEditForm(initial=OrderEditForm.initial_for(order))
                current_values = {
                    name: _field_text(current, name)
                    for name in form.fields
                    if name != "version" and _field_text(current, name) != _field_text(form, name)
                }
                conflict, http_status = exc.message, 409
            except DomainError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
                http_status = exc.status
            else:
                messages.success(request, _("Order saved."))
                return redirect("orders:detail", order_id=order.pk)
        else:
            http_status = 400
    else:
        form = OrderEditForm(initial=OrderEditForm.initial_for(order))
    return render(
        request,
        "orders/edit.html",
        {
            "order": order,
            "form": form,
            "conflict": conflict,
            "current_values": current_values,
            "shipping_fields": [
                form[f"shipping_{p}"]
                for p in ("name", "company", "street", "postcode", "city", "country", "phone")
            ],
            "billing_fields": [
                form[f"billing_{p}"]
                for p in ("name", "company", "street", "postcode", "city", "country", "phone")
            ],
        },
        status=http_status,
    )


# --- manual order ------------------------------------------------------------------------------------

_ADDRESS_PREFIX = {"shipping_address": "shipping", "billing_address": "billing"}


def _pydantic_message(err: dict) -> str:
    msg = str(err.get("msg", ""))
    return msg.removeprefix("Value error, ")


def _manual_payload(form: ManualOrderForm, lines) -> tuple[dict[str, Any], list[int]]:
    """OrderIn input from the form; also which formset row each order line came from."""
    cd = form.cleaned_data
    rows = [
        (i, lf.cleaned_data)
        for i, lf in enumerate(lines.forms)
        if lf.cleaned_data and (lf.cleaned_data.get("sku") or "").strip()
    ]
    variants = catalog_selectors.variants_by_codes({row["sku"].strip() for _, row in rows})
    payload_lines, origin = [], []
    for i, row in rows:
        sku = row["sku"].strip()
        variant = variants.get(sku)
        price = (row.get("unit_price_gross") or "").strip()
        if not price and variant is None:
            lines.forms[i].add_error(
                "unit_price_gross", _("Enter the price: %(sku)s is not in the catalogue.") % {"sku": sku}
            )
        payload_lines.append(
            {
                "sku": sku,
                "name": variant.name if variant else "",
                "quantity": (row.get("quantity") or "").strip() or "1",
                "unit_price_gross": decimal_text(price)
                if price
                else (str(variant.price) if variant else "0"),
                "vat_rate": row.get("vat_rate") or (variant.vat_rate if variant else "23"),
            }
        )
        origin.append(i)
    shipping = address_from(cd, "shipping")
    billing = shipping if cd.get("billing_same") else address_from(cd, "billing")
    payload = {
        "channel": cd["channel"],
        "external_id": cd["external_id"],
        "number": cd["external_id"],
        "placed_at": timezone.now(),
        "customer_type": cd["customer_type"],
        "customer_name": cd["customer_name"],
        "email": cd["email"],
        "phone": cd["phone"],
        "company": cd["company"],
        "nip": cd["nip"],
        "shipping_address": shipping or None,
        "billing_address": billing or None,
        "payment_method": cd["payment_method"],
        "payment_status": cd["payment_status"] or None,
        "delivery_method": cd["delivery_method"],
        "pickup_point": cd["pickup_point"],
        "shipping_cost": decimal_text(cd["shipping_cost"]),
        "discount": decimal_text(cd["discount"]),
        "notes": cd["notes"],
        "lines": payload_lines,
    }
    return payload, origin


def _place_error(form: ManualOrderForm, lines, origin: list[int], loc: tuple, message: str) -> None:
    """Put a validation error next to the field it is about."""
    if loc and loc[0] == "lines":
        if len(loc) >= 3 and isinstance(loc[1], int) and loc[1] < len(origin):
            line_form = lines.forms[origin[loc[1]]]
            field = loc[2] if loc[2] in line_form.fields else None
            line_form.add_error(field, message)
            return
        form.add_error(None, _("Lines: %(message)s") % {"message": message})
        return
    if loc and loc[0] in _ADDRESS_PREFIX:
        name = f"{_ADDRESS_PREFIX[loc[0]]}_{loc[1]}" if len(loc) > 1 else None
        if loc[0] == "billing_address" and form.cleaned_data.get("billing_same"):
            name = f"shipping_{loc[1]}" if len(loc) > 1 else None
        form.add_error(name if name in form.fields else None, message)
        return
    if not loc and "NIP" in message:
        form.add_error("nip", message)
        return
    name = str(loc[0]) if loc else None
    form.add_error(name if name in form.fields and name not in form.errors else None, message)


@require("orders.create")
def create(request):
    channels = selectors.channels()
    http_status = 200
    if request.method == "POST":
        form = ManualOrderForm(request.POST, channels=channels)
        lines = LineFormSet(request.POST, prefix="line")
        if form.is_valid() and lines.is_valid():
            existing = selectors.order_by_external(
                form.cleaned_data["channel"], form.cleaned_data["external_id"]
            )
            if existing is not None:  # the same form sent twice (double click, back + resend)
                messages.info(request, _("This order was already saved."))
                return redirect("orders:detail", order_id=existing.pk)
            payload, origin = _manual_payload(form, lines)
            if not payload["lines"]:
                form.add_error(None, _("Add at least one line with an SKU."))
            # Validate everything at once, so every mistake is shown in one go.
            data = None
            try:
                data = OrderIn.model_validate(payload)
            except ValidationError as exc:
                for err in exc.errors():
                    loc = tuple(err.get("loc", ()))
                    if loc == ("lines",) and not payload["lines"]:
                        continue  # already said above
                    _place_error(form, lines, origin, loc, _pydantic_message(err))
            if data is not None and not form.errors and not any(lf.errors for lf in lines.forms):
                try:
                    result = services.ingest_order(data, actor=request.user, source="ui")
                except DomainError as exc:
                    loc = (exc.field,) if exc.field else ()
                    _place_error(form, lines, origin, loc, exc.message)
                else:
                    order = result.order
                    if result.attention:
                        messages.warning(
                            request,
                            _("Order %(number)s saved; it needs attention: %(why)s")
                            % {
                                "number": order.number,
                                "why": "; ".join(a["message"] for a in result.attention),
                            },
                        )
                    else:
                        messages.success(request, _("Order %(number)s saved.") % {"number": order.number})
                    return redirect("orders:detail", order_id=order.pk)
        http_status = 400
    else:
        default_channel = next((c.code for c in channels if c.kind == Channel.Kind.MANUAL and c.active), None)
        form = ManualOrderForm(
            channels=channels,
            initial={
                "external_id": new_manual_external_id(),
                "channel": default_channel,
                "customer_type": CustomerType.CONSUMER,
            },
        )
        lines = LineFormSet(prefix="line")
    variants = list(catalog_selectors.variant_search("", limit=2000))
    return render(
        request,
        "orders/create.html",
        {"form": form, "lines": lines, "variants": variants},
        status=http_status,
    )


# --- settings ----------------------------------------------------------------------------------------


@require("settings.statuses")
def statuses(request):
    all_statuses = selectors.statuses()
    by_code = {s.code: s for s in all_statuses}
    editing = by_code.get(request.POST.get("editing") or request.GET.get("edit") or "")
    initial = (
        {
            "code": editing.code,
            "name_pl": editing.name_pl,
            "name_en": editing.name_en,
            "stage": editing.stage,
            "colour": editing.colour,
            "position": editing.position,
        }
        if editing
        else None
    )
    http_status = 200
    if request.method == "POST":
        form = StatusForm(request.POST, initial=initial)
        if editing:
            form.fields["code"].disabled = True
        if form.is_valid():
            cd = form.cleaned_data
            if editing is None and cd["code"] in by_code:
                form.add_error("code", _("A status with this code already exists."))
            else:
                try:
                    services.status_save(
                        code=cd["code"],
                        name_pl=cd["name_pl"],
                        name_en=cd["name_en"],
                        stage=cd["stage"],
                        colour=cd["colour"].lower(),
                        position=cd["position"],
                        actor=request.user,
                    )
                except DomainError as exc:
                    form.add_error(exc.field if exc.field in form.fields else None, exc.message)
                else:
                    messages.success(request, _("Status “%(code)s” saved.") % {"code": cd["code"]})
                    return redirect("orders:statuses")
        http_status = 400
    else:
        form = StatusForm(initial=initial)
        if editing:
            form.fields["code"].disabled = True
    return render(
        request,
        "orders/settings_statuses.html",
        {
            "statuses": all_statuses,
            "form": form,
            "editing": editing,
            "stages": Stage,
            "audit": core_selectors.audit_for("orders.status", editing.pk)
            if editing and user_has(request.user, "audit.view")
            else None,
        },
        status=http_status,
    )


@require("settings.channels")
def channels(request):
    all_channels = selectors.channels()
    by_code = {c.code: c for c in all_channels}
    editing = by_code.get(request.POST.get("editing") or request.GET.get("edit") or "")
    initial = (
        {
            "code": editing.code,
            "name": editing.name,
            "kind": editing.kind,
            "ship_within_hours": editing.ship_within_hours,
            "active": editing.active,
        }
        if editing
        else None
    )
    http_status = 200
    if request.method == "POST":
        form = ChannelForm(request.POST, initial=initial)
        if editing:
            form.fields["code"].disabled = True
        if form.is_valid():
            cd = form.cleaned_data
            if editing is None and cd["code"] in by_code:
                form.add_error("code", _("A channel with this code already exists."))
            else:
                try:
                    services.channel_save(
                        code=cd["code"],
                        name=cd["name"],
                        kind=cd["kind"],
                        ship_within_hours=cd["ship_within_hours"],
                        active=cd["active"],
                        actor=request.user,
                    )
                except DomainError as exc:
                    form.add_error(exc.field if exc.field in form.fields else None, exc.message)
                else:
                    messages.success(request, _("Channel “%(code)s” saved.") % {"code": cd["code"]})
                    return redirect("orders:channels")
        http_status = 400
    else:
        form = ChannelForm(initial=initial)
        if editing:
            form.fields["code"].disabled = True
    return render(
        request,
        "orders/settings_channels.html",
        {
            "channels": all_channels,
            "form": form,
            "editing": editing,
        },
        status=http_status,
    )
