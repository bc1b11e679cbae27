"""Stock screens beyond the levels list: the movement ledger (filters, CSV export), warehouses and bins,
stocktakes (count sheets, scanning, review, posting), transfers between warehouses and the stock file import.

Thin doors: writes go through `services`, reads through `selectors`."""

from __future__ import annotations

import csv

from django.contrib import messages
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from zaplecze.catalog.models import Category
from zaplecze.catalog.selectors import variants_by_codes
from zaplecze.core.access import require
from zaplecze.core.errors import DomainError
from zaplecze.core.permissions import user_has

from . import selectors, services, sheets
from .models import StockMovement, Stocktake, Transfer, Warehouse

PAGE_SIZE = 50
MAX_UPLOAD = sheets.MAX_FILE_BYTES


def _int(value, default: int = 0) -> int:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return default


def _upload(request) -> tuple[bytes, str] | None:
    f = request.FILES.get("file")
    if f is None:
        return None
    if f.size > MAX_UPLOAD:
        raise DomainError(_("The file is larger than 20 MB."), field="file")
    return f.read(), f.name


# --- the ledger -----------------------------------------------------------------------------------------


@require("stock.view")
@require_safe
def ledger(request):
    """Every stock movement, newest first, filtered on the server and keyset-paginated."""
    f = selectors.MovementFilter.from_params(request.GET)
    page = selectors.movement_page(f, cursor=request.GET.get("cursor") or None, limit=PAGE_SIZE)
    params = request.GET.copy()
    params.pop("cursor", None)
    context = {
        "f": f,
        "page": page,
        "kinds": StockMovement.Kind.choices,
        "warehouses": Warehouse.objects.order_by("priority", "code"),
        "params": params.urlencode(),
        "tab": "ledger",
    }
    return render(request, "inventory/ledger.html", context)


class _Echo:
    def write(self, value):
        return value


@require("stock.view")
@require_safe
def ledger_csv(request):
    """The filtered ledger as CSV (all rows, streamed)."""
    f = selectors.MovementFilter.from_params(request.GET)
    writer = csv.writer(_Echo(), delimiter=";")
    header = [
        "at",
        "sku",
        "name",
        "warehouse",
        "kind",
        "quantity",
        "on_hand_after",
        "reason",
        "reference",
        "user",
    ]

    def rows():
        yield "\ufeff" + writer.writerow(header)
        for row in selectors.movement_export_rows(f):
            yield writer.writerow(row)

    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="stock-movements-{stamp}.csv"'
    return response


# --- warehouses and bins --------------------------------------------------------------------------------


def _warehouse_or_404(warehouse_id: int) -> Warehouse:
    wh = selectors.access_warehouse(warehouse_id)
    if wh is None:
        raise Http404
    return wh


@require("stock.view")
@require_safe
def warehouses(request):
    return render(
        request,
        "inventory/warehouses.html",
        {"warehouses": selectors.warehouses(), "tab": "warehouses", "form": {}, "error": None},
    )


@require("stock.adjust")
@require_POST
def warehouse_create(request):
    p = request.POST
    try:
        wh = services.warehouse_create(
            code=p.get("code", ""),
            name=p.get("name", ""),
            priority=_int(p.get("priority"), 100),
            is_default=p.get("is_default") == "1",
            actor=request.user,
        )
    except DomainError as exc:
        return render(
            request,
            "inventory/warehouses.html",
            {"warehouses": selectors.warehouses(), "tab": "warehouses", "form": p, "error": exc},
            status=400,
        )
    messages.success(request, _("Warehouse %(code)s created.") % {"code": wh.code})
    return redirect("inventory:warehouses")


@require("stock.adjust")
def warehouse_edit(request, warehouse_id: int):
    wh = _warehouse_or_404(warehouse_id)
    error = None
    if request.method == "POST":
        p = request.POST
        try:
            services.warehouse_update(
                warehouse_id=wh.pk,
                name=p.get("name", ""),
                priority=_int(p.get("priority"), wh.priority),
                is_default=p.get("is_default") == "1",
                actor=request.user,
            )
        except DomainError as exc:
            error = exc
        else:
            messages.success(request, _("Warehouse %(code)s saved.") % {"code": wh.code})
            return redirect("inventory:warehouses")
    return render(
        request,
        "inventory/warehouse_edit.html",
        {"wh": wh, "error": error, "form": request.POST if error else {}, "tab": "warehouses"},
        status=400 if error else 200,
    )


def _bins_context(request, wh: Warehouse, **extra) -> dict:
    q = request.GET.get("q", "").strip()[:40]
    show = request.GET.get("show", "active")
    active = {"active": True, "inactive": False}.get(show)
    return {
        "wh": wh,
        "bins": selectors.locations(warehouse=wh, q=q, active=active),
        "q": q,
        "show": show,
        "warehouses": Warehouse.objects.order_by("priority", "code"),
        "tab": "bins",
        "form": {},
        "error": None,
        "report": None,
        **extra,
    }


@require("stock.view")
@require_safe
def bins_default(request):
    wh = Warehouse.objects.order_by("-is_default", "priority", "id").first()
    if wh is None:
        raise Http404
    return redirect("inventory:bins", warehouse_id=wh.pk)


@require("stock.view")
@require_safe
def bins(request, warehouse_id: int):
    return render(request, "inventory/bins.html", _bins_context(request, _warehouse_or_404(warehouse_id)))


@require("stock.adjust")
@require_POST
def bin_create(request, warehouse_id: int):
    wh = _warehouse_or_404(warehouse_id)
    p = request.POST
    try:
        loc = services.location_create(
            warehouse=wh,
            code=p.get("code", ""),
            name=p.get("name", ""),
            sort_order=_int(p.get("sort_order"), 0),
            actor=request.user,
        )
    except DomainError as exc:
        return render(
            request, "inventory/bins.html", _bins_context(request, wh, form=p, error=exc), status=400
        )
    messages.success(request, _("Bin %(code)s created.") % {"code": loc.code})
    return redirect("inventory:bins", warehouse_id=wh.pk)


@require("stock.adjust")
def bin_edit(request, location_id: int):
    loc = selectors.access_location(location_id)
    if loc is None:
        raise Http404
    error = None
    if request.method == "POST":
        p = request.POST
        try:
            services.location_update(
                location_id=loc.pk,
                code=p.get("code", ""),
                name=p.get("name", ""),
                sort_order=_int(p.get("sort_order"), loc.sort_order),
                active=p.get("active") == "1",
                actor=request.user,
            )
        except DomainError as exc:
            error = exc
        else:
            messages.success(request, _("Bin saved."))
            return redirect("inventory:bins", warehouse_id=loc.warehouse_id)
    return render(
        request,
        "inventory/bin_edit.html",
        {"loc": loc, "error": error, "form": request.POST if error else {}, "tab": "bins"},
        status=400 if error else 200,
    )


@require("stock.adjust")
@require_POST
def bins_file(request, warehouse_id: int):
    """CSV/XLSX upload: `what=bins` creates or updates bins (code, name, sort_order); `what=assign` assigns bins
    to products (sku or ean, location). All rows or none."""
    wh = _warehouse_or_404(warehouse_id)
    what = request.POST.get("what", "bins")
    try:
        upload = _upload(request)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("inventory:bins", warehouse_id=wh.pk)
    if upload is None:
        messages.error(request, _("Choose a CSV or XLSX file."))
        return redirect("inventory:bins", warehouse_id=wh.pk)
    data, name = upload
    if what == "assign":
        report = services.locations_assign_file(warehouse=wh, data=data, filename=name, actor=request.user)
    else:
        report = services.locations_import_file(warehouse=wh, data=data, filename=name, actor=request.user)
    if report.ok:
        messages.success(
            request,
            _("%(changed)s changed, %(unchanged)s unchanged.")
            % {"changed": report.changed, "unchanged": report.unchanged},
        )
        return redirect("inventory:bins", warehouse_id=wh.pk)
    return render(
        request,
        "inventory/bins.html",
        _bins_context(request, wh, report=report, report_what=what, report_file=name),
        status=400,
    )


@require("stock.adjust")
@require_POST
def level_bin(request, level_id: int):
    """Assign (or clear) the bin of one stock level."""
    level = selectors.access_stock_level(level_id)
    if level is None:
        raise Http404
    raw = request.POST.get("location", "")
    location = None
    if raw:
        location = selectors.access_location(_int(raw))
        if location is None:
            messages.error(request, _("Choose a bin from the list."))
            return redirect("web:stock_level", level_id=level.pk)
    try:
        services.stock_level_set_location(
            variant=level.variant, warehouse=level.warehouse, location=location, actor=request.user
        )
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Bin saved."))
    return redirect("web:stock_level", level_id=level.pk)


# --- stocktakes -----------------------------------------------------------------------------------------


def _stocktake_or_404(stocktake_id: int) -> Stocktake:
    st = selectors.access_stocktake(stocktake_id)
    if st is None:
        raise Http404
    return st


@require("stock.view")
@require_safe
def stocktakes(request):
    status = request.GET.get("status", "")
    status = status if status in Stocktake.Status.values else ""
    return render(
        request,
        "inventory/stocktakes.html",
        {
            "stocktakes": selectors.stocktakes(status=status),
            "status": status,
            "statuses": Stocktake.Status.choices,
            "tab": "counts",
        },
    )


def _new_context(request, **extra) -> dict:
    wh_id = _int(request.POST.get("warehouse") or request.GET.get("warehouse"))
    whs = list(Warehouse.objects.order_by("priority", "code"))
    current = next((w for w in whs if w.pk == wh_id), None) or (whs[0] if whs else None)
    return {
        "warehouses": whs,
        "current": current,
        "bins": selectors.active_locations(current.pk) if current else [],
        "categories": Category.objects.order_by("name"),
        "form": request.POST,
        "tab": "counts",
        **extra,
    }


@require("stock.count")
def stocktake_new(request):
    if request.method != "POST":
        return render(request, "inventory/stocktake_new.html", _new_context(request))
    p = request.POST
    wh = selectors.access_warehouse(_int(p.get("warehouse")))
    error = None
    if wh is None:
        error = _("Choose a warehouse.")
    else:
        location = selectors.access_location(_int(p.get("location"))) if p.get("location") else None
        category = Category.objects.filter(pk=_int(p.get("category"))).first() if p.get("category") else None
        try:
            st = services.stocktake_create(
                warehouse=wh, location=location, category=category, note=p.get("note", ""), actor=request.user
            )
            if p.get("start") == "1":
                services.stocktake_transition(
                    stocktake_id=st.pk, to=Stocktake.Status.COUNTING, actor=request.user
                )
        except DomainError as exc:
            error = exc.message
        else:
            messages.success(request, _("Stocktake %(number)s created.") % {"number": st.number})
            return redirect("inventory:stocktake", stocktake_id=st.pk)
    return render(request, "inventory/stocktake_new.html", _new_context(request, error=error), status=400)


def _stocktake_context(request, st: Stocktake, **extra) -> dict:
    only = request.GET.get("only", "")
    if only not in ("", "counted", "uncounted", "differences"):
        only = ""
    if st.status == Stocktake.Status.REVIEW and "only" not in request.GET:
        only = "differences"
    q = request.GET.get("q", "").strip()[:64]
    lines = list(selectors.stocktake_lines(st, only=only, q=q)[:500])
    for ln in lines:
        d = ln.difference
        ln.value = d * ln.variant.cost_price if d and ln.variant.cost_price is not None else None
    return {
        "st": st,
        "lines": lines,
        "only": only,
        "q": q,
        "summary": selectors.stocktake_summary(st),
        "may_count": user_has(request.user, "stock.count"),
        "may_post": user_has(request.user, "stock.adjust"),
        "tab": "counts",
        "scan": None,
        "scan_error": None,
        "report": None,
        **extra,
    }


@require("stock.view")
@require_safe
def stocktake(request, stocktake_id: int):
    st = _stocktake_or_404(stocktake_id)
    return render(request, "inventory/stocktake.html", _stocktake_context(request, st))


@require("stock.count")
@require_POST
def stocktake_status(request, stocktake_id: int):
    st = _stocktake_or_404(stocktake_id)
    to = request.POST.get("to", "")
    try:
        services.stocktake_transition(stocktake_id=st.pk, to=to, actor=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            _("Stocktake %(number)s: %(status)s.")
            % {"number": st.number, "status": Stocktake.Status(to).label},
        )
    return redirect("inventory:stocktake", stocktake_id=st.pk)


def _parse_scan(raw: str, qty_raw: str) -> tuple[str, int]:
    """ "5*590123..." (quantity times code) or a plain code with the quantity field (default 1)."""
    raw = (raw or "").strip()
    qty = _int(qty_raw, 1) if (qty_raw or "").strip() else 1
    if "*" in raw:
        left, _sep, right = raw.partition("*")
        if left.strip().lstrip("-").isdigit():
            return right.strip(), int(left)
    return raw, qty


@require("stock.count")
@require_POST
def stocktake_count(request, stocktake_id: int):
    """One scan or typed count (keyboard-wedge friendly: the code field submits on Enter)."""
    st = _stocktake_or_404(stocktake_id)
    code, qty = _parse_scan(request.POST.get("code", ""), request.POST.get("quantity", ""))
    mode = request.POST.get("mode", "add")
    scan, error = None, None
    try:
        scan = services.stocktake_count(
            stocktake_id=st.pk,
            code=code,
            quantity=qty,
            mode=mode,
            location_code=request.POST.get("location", ""),
            actor=request.user,
        )
    except DomainError as exc:
        error = exc.message
    if request.htmx:
        return render(
            request,
            "inventory/_scan.html",
            {"st": st, "scan": scan, "scan_error": error, "mode": mode, "may_count": True},
            status=200,
        )
    if error:
        messages.error(request, error)
    else:
        messages.success(request, _("%(sku)s: counted %(n)s.") % {"sku": scan.variant.sku, "n": scan.counted})
    return redirect(reverse("inventory:stocktake", args=[st.pk]) + f"?mode={mode}")


@require("stock.count")
@require_POST
def stocktake_import(request, stocktake_id: int):
    st = _stocktake_or_404(stocktake_id)
    try:
        upload = _upload(request)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("inventory:stocktake", stocktake_id=st.pk)
    if upload is None:
        messages.error(request, _("Choose a CSV or XLSX count sheet."))
        return redirect("inventory:stocktake", stocktake_id=st.pk)
    data, name = upload
    report = services.stocktake_import_file(stocktake_id=st.pk, data=data, filename=name, actor=request.user)
    if report.ok:
        messages.success(
            request,
            _("%(file)s: %(n)s counts recorded, %(skipped)s rows without a quantity skipped.")
            % {"file": name, "n": report.changed, "skipped": report.skipped},
        )
        return redirect("inventory:stocktake", stocktake_id=st.pk)
    return render(
        request,
        "inventory/stocktake.html",
        _stocktake_context(request, st, report=report, report_file=name),
        status=400,
    )


@require("stock.view")
@require_safe
def stocktake_sheet(request, stocktake_id: int, fmt: str):
    """A blank count sheet (CSV or XLSX) with the stocktake's products by bin."""
    st = _stocktake_or_404(stocktake_id)
    rows = selectors.count_sheet_rows(st)
    if fmt == "xlsx":
        body = sheets.count_sheet_xlsx(rows, title=st.number)
        ctype = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    elif fmt == "csv":
        body, ctype = sheets.count_sheet_csv(rows), "text/csv; charset=utf-8"
    else:
        raise Http404
    response = HttpResponse(body, content_type=ctype)
    response["Content-Disposition"] = f'attachment; filename="{st.number}-count-sheet.{fmt}"'
    return response


@require("stock.adjust")
@require_POST
def stocktake_post(request, stocktake_id: int):
    st = _stocktake_or_404(stocktake_id)
    try:
        services.stocktake_post(
            stocktake_id=st.pk,
            actor=request.user,
            uncounted_as_zero=request.POST.get("uncounted_as_zero") == "1",
        )
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request, _("Stocktake %(number)s posted to the stock ledger.") % {"number": st.number}
        )
    return redirect("inventory:stocktake", stocktake_id=st.pk)


# --- transfers ------------------------------------------------------------------------------------------


def _transfer_or_404(transfer_id: int) -> Transfer:
    t = selectors.access_transfer(transfer_id)
    if t is None:
        raise Http404
    return t


@require("stock.view")
@require_safe
def transfers(request):
    status = request.GET.get("status", "")
    status = status if status in Transfer.Status.values else ""
    return render(
        request,
        "inventory/transfers.html",
        {
            "transfers": selectors.transfers(status=status),
            "status": status,
            "statuses": Transfer.Status.choices,
            "tab": "transfers",
        },
    )


def _parse_lines(text: str) -> tuple[list[tuple], list[str]]:
    """Lines typed as "SKU-or-EAN quantity" (or "SKU;quantity"), one per line."""
    wanted: list[tuple[int, str, str]] = []
    errors: list[str] = []
    for n, raw in enumerate((text or "").splitlines(), start=1):
        raw = raw.strip()
        if not raw:
            continue
        parts = raw.replace(";", " ").replace(",", " ").replace("\t", " ").split()
        code, qty = parts[0], parts[1] if len(parts) > 1 else "1"
        wanted.append((n, code, qty))
    found = variants_by_codes({c for _n, c, _q in wanted})
    lines = []
    for n, code, qty in wanted:
        v = found.get(code)
        if v is None:
            errors.append(_("line %(n)s: no product with SKU or EAN %(code)s") % {"n": n, "code": code})
            continue
        q, problem = sheets.parse_quantity(qty)
        if problem or not q:
            errors.append(_("line %(n)s: quantity %(q)s must be a whole number above 0") % {"n": n, "q": qty})
            continue
        lines.append((v, q))
    return lines, errors


@require("stock.adjust")
def transfer_new(request):
    whs = list(Warehouse.objects.order_by("priority", "code"))
    context = {"warehouses": whs, "form": request.POST, "tab": "transfers", "errors": []}
    if request.method != "POST":
        context["form"] = {"lines": request.GET.get("lines", ""), "source": request.GET.get("source", "")}
        return render(request, "inventory/transfer_new.html", context)
    p = request.POST
    source = selectors.access_warehouse(_int(p.get("source")))
    destination = selectors.access_warehouse(_int(p.get("destination")))
    lines, errors = _parse_lines(p.get("lines", ""))
    if source is None or destination is None:
        errors.insert(0, _("Choose both warehouses."))
    if not errors:
        action = p.get("action", "draft")
        try:
            t = services.transfer_create(
                source=source,
                destination=destination,
                lines=lines,
                note=p.get("note", ""),
                actor=request.user,
                send=action in ("send", "now"),
                receive=action == "now",
            )
        except DomainError as exc:
            errors.append(exc.message)
        else:
            messages.success(request, _("Transfer %(number)s saved.") % {"number": t.number})
            return redirect("inventory:transfer", transfer_id=t.pk)
    context["errors"] = errors
    return render(request, "inventory/transfer_new.html", context, status=400)


@require("stock.view")
@require_safe
def transfer(request, transfer_id: int):
    t = _transfer_or_404(transfer_id)
    return render(
        request,
        "inventory/transfer.html",
        {
            "t": t,
            "lines": selectors.transfer_lines_with_stock(t),
            "movements": StockMovement.objects.filter(reference=t.number)
            .select_related("variant", "warehouse", "actor")
            .order_by("at", "id")[:500],
            "may_adjust": user_has(request.user, "stock.adjust"),
            "tab": "transfers",
        },
    )


@require("stock.adjust")
@require_POST
def transfer_action(request, transfer_id: int):
    t = _transfer_or_404(transfer_id)
    action = request.POST.get("action", "")
    try:
        if action == "send":
            services.transfer_send(transfer_id=t.pk, actor=request.user)
        elif action == "receive":
            services.transfer_receive(transfer_id=t.pk, actor=request.user)
        elif action == "cancel":
            services.transfer_cancel(
                transfer_id=t.pk, actor=request.user, reason=request.POST.get("reason", "")[:150]
            )
        elif action == "line":
            found = variants_by_codes({request.POST.get("code", "").strip()})
            variant = next(iter(found.values()), None)
            if variant is None:
                raise DomainError(
                    _("No product with SKU or EAN %(code)s.") % {"code": request.POST.get("code", "")}
                )
            qty, problem = sheets.parse_quantity(request.POST.get("quantity", ""))
            if problem or qty is None:
                raise DomainError(problem or _("Enter a quantity."), field="quantity")
            services.transfer_line_set(transfer_id=t.pk, variant=variant, quantity=qty, actor=request.user)
        else:
            raise DomainError(_("Unknown action."))
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Transfer %(number)s updated.") % {"number": t.number})
    return redirect("inventory:transfer", transfer_id=t.pk)


# --- stock file import ----------------------------------------------------------------------------------


@require("stock.adjust")
def stock_import(request):
    """Upload a stock file (as `zaplecze stock import`): check it (dry run), then apply it."""
    whs = list(Warehouse.objects.order_by("priority", "code"))
    context = {"warehouses": whs, "form": request.POST, "report": None, "tab": "import"}
    if request.method != "POST":
        return render(request, "inventory/import.html", context)
    p = request.POST
    wh = selectors.access_warehouse(_int(p.get("warehouse")))
    try:
        upload = _upload(request)
    except DomainError as exc:
        context["error"] = exc.message
        return render(request, "inventory/import.html", context, status=400)
    if wh is None or upload is None:
        context["error"] = _("Choose a warehouse and a CSV or XLSX file.")
        return render(request, "inventory/import.html", context, status=400)
    data, name = upload
    mode = p.get("mode") if p.get("mode") in ("set", "add") else "set"
    dry_run = p.get("apply") != "1"
    report = services.stock_import_file(
        data=data, filename=name, warehouse=wh, mode=mode, dry_run=dry_run, actor=request.user
    )
    context.update(report=report, filename=name, dry_run=dry_run, mode=mode, wh=wh)
    if report.ok and report.applied:
        messages.success(
            request,
            _("%(file)s applied: %(n)s levels changed (reference %(ref)s).")
            % {"file": name, "n": report.changed, "ref": report.reference},
        )
        return redirect(reverse("inventory:ledger") + f"?reference={report.reference}")
    return render(request, "inventory/import.html", context, status=200 if report.ok else 400)
