"""Screens of the product import: upload, preview (fix rows inline with htmx), apply, history with undo, export.

Thin: every write goes through catalog.bulk; files are read by catalog.io."""

from __future__ import annotations

import tempfile

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from zaplecze.core.access import require
from zaplecze.core.errors import DomainError
from zaplecze.core.permissions import user_has

from . import bulk as bulk_services
from . import io
from .models import BulkChange, Category, Product

PAGE_SIZE = 100
SHOW = ("all", "errors", "changes")


class UploadForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("Product file (CSV or XLSX)"),
        help_text=gettext_lazy(
            "One row per variant, keyed by SKU. CSV in UTF-8 or Windows-1250, separated by ; or ,; or the first "
            "sheet of an XLSX workbook. At most 20 MB and 100,000 rows."
        ),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > io.MAX_FILE_BYTES:
            raise forms.ValidationError(_("The file is larger than 20 MB; split it into smaller files."))
        return upload


def _export_filter(params) -> io.ExportFilter:
    status = params.get("status", "")
    category = params.get("category", "")
    return io.ExportFilter(
        status=status if status in Product.Status.values else "",
        category=int(category) if category.isdigit() and len(category) < 12 else None,
        brand=params.get("brand", "")[:120],
        q=params.get("q", "")[:200],
    )


@require("catalog.edit")
def upload(request):
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        f = form.cleaned_data["file"]
        try:
            bulk = bulk_services.import_preview(f, f.name, request.user)
        except DomainError as exc:
            form.add_error("file", exc.message)
        else:
            return redirect("catalog:import_preview", bulk_id=bulk.pk)
    recent = (
        BulkChange.objects.filter(kind=BulkChange.Kind.IMPORT)
        .select_related("created_by")
        .defer("rows", "undo")[:10]
    )
    return render(
        request,
        "catalog/import_upload.html",
        {
            "form": form,
            "recent": recent,
            "statuses": Product.Status.choices,
            "categories": Category.objects.order_by("name")[:500],
            "columns": io.COLUMNS,
        },
        status=400 if form.errors else 200,
    )


def _bulk(bulk_id: int) -> BulkChange:
    try:
        return bulk_services.bulk_get(bulk_id, kind=BulkChange.Kind.IMPORT)
    except DomainError:
        raise Http404


def _rows(bulk: BulkChange, show: str) -> list[dict]:
    if show == "errors":
        return [r for r in bulk.rows if r["action"] == "error"]
    if show == "changes":
        return [r for r in bulk.rows if r["action"] in ("create", "update")]
    return bulk.rows


def _can_apply(bulk: BulkChange) -> bool:
    s = bulk.summary or {}
    return bulk.state == BulkChange.State.PREVIEW and (s.get("create", 0) + s.get("update", 0)) > 0


@require("catalog.edit")
def preview(request, bulk_id: int):
    bulk = _bulk(bulk_id)
    show = request.GET.get("show", "all")
    show = show if show in SHOW else "all"
    paginator = Paginator(_rows(bulk, show), PAGE_SIZE)
    page = paginator.get_page(request.GET.get("page"))
    return render(
        request,
        "catalog/import_preview.html",
        {
            "bulk": bulk,
            "page": page,
            "show": show,
            "s": bulk.summary or {},
            "can_apply": _can_apply(bulk),
            "editable": bulk.state == BulkChange.State.PREVIEW,
            "is_last": getattr(bulk_services.last_applied(), "pk", None) == bulk.pk,
        },
    )


def _row(bulk: BulkChange, number: int) -> dict:
    entry = next((r for r in bulk.rows if r["row"] == number), None)
    if entry is None:
        raise Http404
    return entry


def _fields(bulk: BulkChange, entry: dict) -> list[dict]:
    """The row's cells for the edit form: columns with an error first."""
    errors: dict[str, list[str]] = {}
    for e in entry["errors"]:
        errors.setdefault(e["column"], []).append(e["message"])
    columns = list(bulk.params.get("columns") or [])
    cells = [
        {
            "column": c,
            "value": entry["values"].get(c, ""),
            "errors": errors.get(c, []),
            "long": c == "description_html",
        }
        for c in columns
    ]
    return sorted(cells, key=lambda c: (not c["errors"], columns.index(c["column"])))


def _other_errors(bulk: BulkChange, entry: dict) -> list[dict]:
    """Errors not about a cell of the file (the row as a whole, or a column the file does not have)."""
    columns = set(bulk.params.get("columns") or [])
    return [e for e in entry["errors"] if e["column"] not in columns]


@require("catalog.edit")
def row(request, bulk_id: int, import_row: int):
    """GET: the edit form of a row (a table row for htmx, a page otherwise). POST: fix the row."""
    bulk = _bulk(bulk_id)
    entry = _row(bulk, import_row)
    error = ""
    if request.method == "POST":
        values = {k[5:]: v for k, v in request.POST.items() if k.startswith("cell:")}
        try:
            entry = bulk_services.import_fix_row(bulk, import_row, values, request.user)
        except DomainError as exc:
            error = exc.message
        else:
            bulk.refresh_from_db()
            if request.htmx and entry["errors"]:
                # still wrong: the form again, with the new messages at the cells
                return render(
                    request,
                    "catalog/import_row_form.html",
                    {
                        "bulk": bulk,
                        "r": entry,
                        "cells": _fields(bulk, entry),
                        "other_errors": _other_errors(bulk, entry),
                        "editable": True,
                        "s": bulk.summary,
                        "oob": True,
                        "can_apply": _can_apply(bulk),
                    },
                )
            if request.htmx:
                return render(
                    request,
                    "catalog/import_row.html",
                    {
                        "bulk": bulk,
                        "r": entry,
                        "editable": True,
                        "s": bulk.summary,
                        "oob": True,
                        "can_apply": _can_apply(bulk),
                    },
                )
            if entry["errors"]:
                messages.warning(request, _("Row %(row)s still has errors.") % {"row": import_row})
            else:
                messages.success(request, _("Row %(row)s is fixed.") % {"row": import_row})
            return redirect(reverse("catalog:import_preview", args=[bulk.pk]) + f"#row-{import_row}")
    context = {
        "bulk": bulk,
        "r": entry,
        "cells": _fields(bulk, entry),
        "other_errors": _other_errors(bulk, entry),
        "error": error,
        "editable": bulk.state == BulkChange.State.PREVIEW,
    }
    if request.htmx:  # htmx swaps 2xx answers only: the form with its message is a 200
        return render(request, "catalog/import_row_form.html", context)
    return render(request, "catalog/import_row_page.html", context, status=400 if error else 200)


@require("catalog.edit")
@require_POST
def apply(request, bulk_id: int):
    bulk = _bulk(bulk_id)
    skip = request.POST.get("skip_errors") == "1"
    try:
        bulk = bulk_services.import_apply(bulk, request.user, skip_errors=skip)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        applied = bulk.summary.get("applied", {})
        messages.success(
            request,
            _("Applied: %(created)s variants created, %(updated)s updated, %(skipped)s rows skipped.")
            % {
                "created": applied.get("created", 0),
                "updated": applied.get("updated", 0),
                "skipped": bulk.summary.get("skipped", 0),
            },
        )
    return redirect("catalog:import_preview", bulk_id=bulk_id)


@require("catalog.edit")
@require_POST
def discard(request, bulk_id: int):
    bulk = _bulk(bulk_id)
    try:
        bulk_services.import_discard(bulk, request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("catalog:import_preview", bulk_id=bulk_id)
    messages.success(request, _("The import was discarded; nothing was changed."))
    return redirect("catalog:import")


@require("catalog.view")
def history(request):
    changes = list(bulk_services.bulk_changes(200))
    return render(
        request,
        "catalog/import_history.html",
        {
            "changes": changes,
            "last": bulk_services.last_applied(),
            "can_edit": user_has(request.user, "catalog.edit"),
        },
    )


@require("catalog.edit")
@require_POST
def undo(request, bulk_id: int):
    bulk = BulkChange.objects.filter(pk=bulk_id).first()
    if bulk is None:
        raise Http404
    try:
        bulk = bulk_services.bulk_undo(bulk, request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request, _("%(what)s #%(id)s was undone.") % {"what": bulk.get_kind_display(), "id": bulk.pk}
        )
        for message in (bulk.summary or {}).get("undo", {}).get("messages", []):
            messages.warning(request, message)
    return redirect("catalog:import_history")


@require("catalog.view")
def export(request):
    fmt = request.GET.get("format", "csv")
    flt = _export_filter(request.GET)
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    if fmt == "xlsx":
        tmp = tempfile.TemporaryFile()  # noqa: SIM115 - closed by FileResponse
        io.export_xlsx(flt, tmp)
        tmp.seek(0)
        return FileResponse(
            tmp,
            as_attachment=True,
            filename=f"products-{stamp}.xlsx",
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    response = StreamingHttpResponse(io.export_csv(flt), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="products-{stamp}.csv"'
    return response
