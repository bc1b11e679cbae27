"""Purchasing screens: home (overdue alert), suppliers and their items, the "to reorder" list, reorder
parameters with their computation, purchase orders (new, edit, send, PDF, CSV, cancel), receiving with a
scanner, and the settings of the computation. Thin doors: writes go through `services`, reads through
`selectors`."""

from __future__ import annotations

import csv

from django.contrib import messages
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from zaplecze.core.access import require
from zaplecze.core.businesstime import local_today
from zaplecze.core.errors import DomainError, NotFound
from zaplecze.core.permissions import user_has
from zaplecze.core.services import job_create
from zaplecze.core.viewhelpers import form_error as _form_error
from zaplecze.core.viewhelpers import or_404 as _get
from zaplecze.inventory.models import Warehouse

from . import documents, selectors, services
from .explain import steps_text
from .forms import ParameterForm, POForm, SettingsForm, SupplierForm, SupplierItemForm, lines_text
from .models import Discrepancy, POStatus, ReorderParameter

PAGE_SIZE = 50


# --- home ---------------------------------------------------------------------------------------------


@require("purchasing.view")
def index(request):
    today = local_today()
    overdue = list(selectors.overdue_purchase_orders(today=today)[:50])
    for po in overdue:
        po.days_late = (today - po.expected_date).days
    suggestions = selectors.reorder_suggestions()
    open_pos = list(selectors.purchase_orders(selectors.POFilter(status="open"))[:20])
    drafts = list(selectors.purchase_orders(selectors.POFilter(status=POStatus.DRAFT))[:20])
    return render(
        request,
        "purchasing/index.html",
        {
            "overdue": overdue,
            "today": today,
            "reorder_count": len(suggestions),
            "reorder_suppliers": len({r.item.supplier_id if r.item else None for r in suggestions}),
            "open_pos": open_pos,
            "drafts": drafts,
            "can_manage": user_has(request.user, "purchasing.manage"),
        },
    )


# --- suppliers ----------------------------------------------------------------------------------------


@require("purchasing.view")
def supplier_list(request):
    q = (request.GET.get("q") or "").strip()[:100]
    active = {"1": True, "0": False}.get(request.GET.get("active", "1"))
    page = Paginator(selectors.suppliers(q=q, active=active), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "purchasing/suppliers.html",
        {
            "page": page,
            "q": q,
            "active": request.GET.get("active", "1"),
            "can_manage": user_has(request.user, "purchasing.manage"),
        },
    )


@require("purchasing.manage")
def supplier_new(request):
    form = SupplierForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            supplier = services.supplier_create(data=form.cleaned_data, actor=request.user)
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, _("Supplier saved."))
            return redirect("purchasing:supplier", supplier_id=supplier.pk)
    return render(
        request, "purchasing/supplier_form.html", {"form": form}, status=400 if form.errors else 200
    )


@require("purchasing.manage")
def supplier_edit(request, supplier_id: int):
    supplier = _get(selectors.access_supplier, supplier_id)
    initial = {f: getattr(supplier, f) for f in services.SUPPLIER_FIELDS}
    form = SupplierForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.supplier_update(supplier_id=supplier.pk, data=form.cleaned_data, actor=request.user)
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, _("Supplier saved."))
            return redirect("purchasing:supplier", supplier_id=supplier.pk)
    return render(
        request,
        "purchasing/supplier_form.html",
        {"form": form, "supplier": supplier},
        status=400 if form.errors else 200,
    )


@require("purchasing.view")
def supplier_detail(request, supplier_id: int):
    supplier = _get(selectors.access_supplier, supplier_id)
    form = SupplierItemForm(request.POST or None)
    if request.method == "POST":
        if not user_has(request.user, "purchasing.manage"):
            raise Http404
        if request.POST.get("action") == "delete":
            try:
                item = selectors.access_supplier_item(int(request.POST.get("item_id") or 0))
                if item.supplier_id != supplier.pk:  # only this supplier's items from this page
                    raise NotFound("Supplier item not found")
                services.supplier_item_delete(item_id=item.pk, actor=request.user)
            except (DomainError, ValueError):
                raise Http404
            messages.success(request, _("Item removed from the supplier."))
            return redirect("purchasing:supplier", supplier_id=supplier.pk)
        if form.is_valid():
            try:
                services.supplier_item_save(supplier_id=supplier.pk, actor=request.user, **form.cleaned_data)
            except DomainError as exc:
                _form_error(form, exc)
            else:
                messages.success(request, _("Item saved."))
                return redirect("purchasing:supplier", supplier_id=supplier.pk)
    return render(
        request,
        "purchasing/supplier_detail.html",
        {
            "supplier": supplier,
            "items": list(selectors.supplier_items(supplier.pk)),
            "pos": list(selectors.purchase_orders(selectors.POFilter(supplier=supplier.pk))[:50]),
            "form": form,
            "can_manage": user_has(request.user, "purchasing.manage"),
        },
        status=400 if form.errors else 200,
    )


# --- reorder list and parameters ----------------------------------------------------------------------


def _explained(rows):
    for r in rows:
        r.explanation = steps_text(r.steps)
    return rows


@require("purchasing.view")
def reorder(request):
    supplier = request.GET.get("supplier", "")
    supplier_id = int(supplier) if supplier.isdigit() else None
    q = (request.GET.get("q") or "").strip()[:100]
    rows = _explained(selectors.reorder_suggestions(supplier_id=supplier_id, q=q))
    return render(
        request,
        "purchasing/reorder.html",
        {
            "groups": selectors.suggestions_by_supplier(rows),
            "suppliers": list(selectors.suppliers(active=True)),
            "supplier_id": supplier_id,
            "q": q,
            "conf": selectors.purchasing_settings(),
            "can_manage": user_has(request.user, "purchasing.manage"),
        },
    )


@require("purchasing.manage")
@require_POST
def reorder_create(request):
    ids = [int(x) for x in request.POST.getlist("param") if x.isdigit()]
    quantities = {}
    for pid in ids:
        raw = (request.POST.get(f"qty_{pid}") or "").strip()
        if raw:
            if not raw.isdigit() or int(raw) < 1:
                messages.error(
                    request, _("Quantity “%(q)s” is not a whole number above 0.") % {"q": raw[:20]}
                )
                return redirect("purchasing:reorder")
            quantities[pid] = int(raw)
    try:
        pos = services.po_create_from_suggestions(param_ids=ids, quantities=quantities, actor=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("purchasing:reorder")
    messages.success(
        request, _("Draft purchase orders created: %(n)s.") % {"n": ", ".join(po.number for po in pos)}
    )
    if len(pos) == 1:
        return redirect("purchasing:po", po_id=pos[0].pk)
    return redirect(f"{_url('purchasing:po_list')}?status=draft")


def _url(name: str, **kwargs) -> str:
    from django.urls import reverse

    return reverse(name, kwargs=kwargs or None)


@require("purchasing.manage")
@require_POST
def recompute(request):
    from .tasks import reorder_compute_job

    job = job_create(kind="purchasing.forecast", title=_("Recompute reorder points"), owner=request.user)
    transaction.on_commit(lambda: reorder_compute_job(job.pk))
    return redirect("web:job", job_id=job.pk)


@require("purchasing.view")
def parameter_list(request):
    q = (request.GET.get("q") or "").strip()[:100]
    method = request.GET.get("method", "")
    at_risk = request.GET.get("at_risk") == "1"
    rows = selectors.parameters(
        q=q, method=method if method in ("none", "mean", "ses", "holt_winters") else "", at_risk=at_risk
    )
    return render(
        request,
        "purchasing/parameters.html",
        {
            "rows": rows,
            "q": q,
            "method": method,
            "at_risk": at_risk,
            "can_manage": user_has(request.user, "purchasing.manage"),
        },
    )


@require("purchasing.view")
def parameter_detail(request, param_id: int):
    row = _get(selectors.access_parameter, param_id)
    p = row.param
    form = ParameterForm(
        request.POST or None,
        initial={"mode": p.mode, "reorder_point": p.reorder_point, "safety_stock": p.safety_stock},
    )
    if request.method == "POST":
        if not user_has(request.user, "purchasing.manage"):
            raise Http404
        if form.is_valid():
            d = form.cleaned_data
            try:
                services.reorder_parameter_set(
                    variant_id=p.variant_id,
                    warehouse_id=p.warehouse_id,
                    mode=d["mode"],
                    reorder_point=d.get("reorder_point"),
                    safety_stock=d.get("safety_stock"),
                    actor=request.user,
                )
            except DomainError as exc:
                _form_error(form, exc)
            else:
                messages.success(request, _("Reorder parameters saved."))
                return redirect("purchasing:parameter", param_id=p.pk)
    suggestion = selectors.reorder_suggestions(param_ids=[p.pk], include_all=True)
    return render(
        request,
        "purchasing/parameter_detail.html",
        {
            "row": row,
            "p": p,
            "explanation": steps_text(p.explanation),
            "suggestion": _explained(suggestion)[0] if suggestion else None,
            "form": form,
            "can_manage": user_has(request.user, "purchasing.manage"),
            "manual": p.mode == ReorderParameter.Mode.MANUAL,
        },
        status=400 if form.errors else 200,
    )


@require("purchasing.manage")
def settings_view(request):
    conf = selectors.purchasing_settings()
    form = SettingsForm(
        request.POST or None,
        initial={
            "review_days": conf.review_days,
            "service_level": conf.service_level * 100,
            "history_days": conf.history_days,
            "default_lead_time_days": conf.default_lead_time_days,
        },
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.settings_update(actor=request.user, **form.cleaned_data)
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, _("Saved. The new settings apply from the next computation."))
            return redirect("purchasing:settings")
    return render(request, "purchasing/settings.html", {"form": form}, status=400 if form.errors else 200)


# --- purchase orders ----------------------------------------------------------------------------------


@require("purchasing.view")
def po_list(request):
    f = selectors.POFilter.from_params(request.GET)
    qs = selectors.purchase_orders(f)
    if request.GET.get("format") == "csv":
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="purchase-orders.csv"'
        w = csv.writer(response)
        w.writerow(
            [
                "number",
                "supplier",
                "status",
                "warehouse",
                "created",
                "expected_date",
                "lines",
                "ordered",
                "received",
            ]
        )
        for po in qs[:10000]:
            w.writerow(
                [
                    po.number,
                    po.supplier.name,
                    po.status,
                    po.warehouse.code,
                    po.created_at.date().isoformat(),
                    po.expected_date.isoformat() if po.expected_date else "",
                    po.n_lines,
                    po.ordered or 0,
                    po.received or 0,
                ]
            )
        return response
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    params = request.GET.copy()
    params.pop("page", None)
    return render(
        request,
        "purchasing/po_list.html",
        {
            "f": f,
            "page": page,
            "params": params.urlencode(),
            "statuses": POStatus.choices,
            "suppliers": list(selectors.suppliers()),
            "today": local_today(),
            "can_manage": user_has(request.user, "purchasing.manage"),
        },
    )


def _po_form(data=None, initial=None) -> POForm:
    return POForm(
        data,
        initial=initial,
        suppliers=list(selectors.suppliers(active=True)),
        warehouses=list(Warehouse.objects.order_by("priority", "id")),
    )


@require("purchasing.manage")
def po_new(request):
    initial = {}
    if request.GET.get("supplier", "").isdigit():
        initial["supplier"] = int(request.GET["supplier"])
    default = Warehouse.objects.filter(is_default=True).first()
    if default:
        initial["warehouse"] = default.pk
    form = _po_form(request.POST or None, initial)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            po = services.po_create(
                supplier_id=d["supplier"],
                warehouse_id=d["warehouse"],
                expected_date=d["expected_date"],
                notes=d["notes"],
                lines=d["lines"],
                actor=request.user,
            )
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, _("Purchase order %(n)s created (draft).") % {"n": po.number})
            return redirect("purchasing:po", po_id=po.pk)
    return render(request, "purchasing/po_form.html", {"form": form}, status=400 if form.errors else 200)


@require("purchasing.manage")
def po_edit(request, po_id: int):
    po = _get(selectors.access_purchase_order, po_id)
    if not po.can_edit():
        messages.error(request, _("Only a draft can be edited."))
        return redirect("purchasing:po", po_id=po.pk)
    form = _po_form(
        request.POST or None,
        {
            "supplier": po.supplier_id,
            "warehouse": po.warehouse_id,
            "expected_date": po.expected_date,
            "notes": po.notes,
            "lines": lines_text(selectors.po_lines(po)),
        },
    )
    form.fields["supplier"].disabled = True
    form.fields["supplier"].choices = [(po.supplier_id, po.supplier.name)]
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            services.po_update(
                po_id=po.pk,
                version=int(request.POST.get("version") or 0) or None,
                lines=d["lines"],
                warehouse_id=d["warehouse"],
                expected_date=d["expected_date"],
                notes=d["notes"],
                actor=request.user,
            )
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, _("Saved."))
            return redirect("purchasing:po", po_id=po.pk)
    return render(
        request, "purchasing/po_form.html", {"form": form, "po": po}, status=400 if form.errors else 200
    )


@require("purchasing.view")
def po_detail(request, po_id: int):
    po = _get(selectors.access_purchase_order, po_id)
    lines = selectors.po_lines(po)
    for line in lines:
        line.explanation_text = steps_text(line.explanation)
    receipts = list(
        po.receipts.prefetch_related("lines__po_line", "discrepancies__po_line").select_related("actor")
    )
    return render(
        request,
        "purchasing/po_detail.html",
        {
            "po": po,
            "lines": lines,
            "totals": selectors.po_totals(lines),
            "receipts": receipts,
            "events": list(po.events.select_related("actor")[:200]),
            "overdue": po.is_open and po.expected_date and po.expected_date < local_today(),
            "can_manage": user_has(request.user, "purchasing.manage"),
            "can_receive": user_has(request.user, "purchasing.receive"),
        },
    )


def _act(request, po_id: int, action, ok: str):
    po = _get(selectors.access_purchase_order, po_id)
    try:
        action(po)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, ok)
    return redirect("purchasing:po", po_id=po.pk)


@require("purchasing.manage")
@require_POST
def po_send(request, po_id: int):
    email = request.POST.get("email", "1") == "1"
    return _act(
        request,
        po_id,
        lambda po: services.po_send(
            po_id=po.pk,
            actor=request.user,
            email=email,
            to=request.POST.get("to", "")[:254],
            message=request.POST.get("message", "")[:5000],
        ),
        _("Sent: the e-mail with the PDF goes out in a moment.") if email else _("Marked as sent."),
    )


@require("purchasing.manage")
@require_POST
def po_cancel(request, po_id: int):
    return _act(
        request,
        po_id,
        lambda po: services.po_cancel(
            po_id=po.pk, actor=request.user, reason=request.POST.get("reason", "")[:300]
        ),
        _("Purchase order cancelled."),
    )


@require("purchasing.view")
def po_pdf(request, po_id: int):
    po = _get(selectors.access_purchase_order, po_id)
    response = HttpResponse(documents.po_pdf(po), content_type="application/pdf")
    disposition = "attachment" if request.GET.get("download") == "1" else "inline"
    response["Content-Disposition"] = f'{disposition}; filename="{documents.pdf_filename(po)}"'
    return response


@require("purchasing.view")
def po_csv(request, po_id: int):
    po = _get(selectors.access_purchase_order, po_id)
    response = HttpResponse(documents.po_csv(po), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{documents.csv_filename(po)}"'
    return response


# --- receiving ----------------------------------------------------------------------------------------


@require("purchasing.receive")
def po_receive(request, po_id: int):
    """The receiving screen: scan EAN/SKU into the field (a keyboard-wedge scanner types the code and Enter);
    each scan adds one unit to its line; quantities stay editable. Without JavaScript the scanned codes are
    sent in `scans` and counted by the server."""
    po = _get(selectors.access_purchase_order, po_id)
    lines = selectors.receiving_lines(po)
    error, status = "", 200
    posted = {}
    if request.method == "POST":
        entries = []
        for line in lines:
            good = (request.POST.get(f"qty_{line.pk}") or "0").strip() or "0"
            damaged = (request.POST.get(f"damaged_{line.pk}") or "0").strip() or "0"
            posted[line.pk] = (good, damaged, request.POST.get(f"note_{line.pk}", ""))
            if good != "0" or damaged != "0":
                entries.append(
                    {
                        "line_id": line.pk,
                        "quantity": good,
                        "damaged": damaged,
                        "note": request.POST.get(f"note_{line.pk}", "")[:300],
                    }
                )
        scans = [c.strip() for c in (request.POST.get("scans") or "").split() if c.strip()]
        wrong = []
        wrong_code = (request.POST.get("wrong_code") or "").strip()
        if wrong_code:
            wrong.append(
                {
                    "code": wrong_code,
                    "quantity": request.POST.get("wrong_qty") or "1",
                    "note": request.POST.get("wrong_note", "")[:300],
                }
            )
        try:
            receipt = services.po_receive(
                po_id=po.pk,
                lines=entries,
                scans=scans,
                wrong_items=wrong,
                accept_over=request.POST.get("accept_over") == "1",
                over_note=request.POST.get("over_note", "")[:300],
                close=request.POST.get("close") == "1",
                note=request.POST.get("note", "")[:500],
                actor=request.user,
            )
        except DomainError as exc:
            error, status = exc.message, exc.status if exc.status != 404 else 400
        else:
            messages.success(request, _("Receipt %(r)s posted to stock.") % {"r": receipt.number})
            return redirect("purchasing:po", po_id=po.pk)
    for line in lines:
        line.posted = posted.get(line.pk, ("0", "0", ""))
    return render(
        request,
        "purchasing/receive.html",
        {
            "po": po,
            "lines": lines,
            "error": error,
            "post": request.POST if request.method == "POST" else {},
            "discrepancy_kinds": Discrepancy.Kind.choices,
        },
        status=status,
    )
