"""Product import API (mounted at /api/v1/catalog/imports). Thin: writes go through catalog.bulk.

Routes:
  GET    /imports                          bulk changes, newest first (imports and repricings)
  POST   /imports                          multipart upload (field `file`): the preview (201)
  GET    /imports/export?format=csv|xlsx   all products (filters: status, category, brand, q) in import columns
  GET    /imports/{bulk_id}                a preview with its rows (show=all|errors|changes, offset, limit)
  POST   /imports/{bulk_id}/rows/{row}     fix cells of one row; the file is validated again
  POST   /imports/{bulk_id}/apply          apply (skip_errors: apply the valid rows only)
  POST   /imports/{bulk_id}/undo           undo: the last applied bulk change only (imports and repricings)
"""

import datetime as dt
import tempfile
from typing import Any, Literal

from django.http import FileResponse, StreamingHttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import File, Path, Query, Router, Schema, Status, UploadedFile
from pydantic import Field

from zaplecze.api.permissions import allow
from zaplecze.api.schemas import Id, In, errors, text
from zaplecze.core.errors import DomainError, NotFound

from . import bulk as services
from . import io
from .models import BulkChange

router = Router()


class RowErrorOut(Schema):
    column: str = Field(description="The column (empty: the row as a whole)")
    message: str


class RowOut(Schema):
    row: int = Field(description="Spreadsheet row number (the header is row 1)")
    sku: str
    product: str
    action: Literal["create", "update", "unchanged", "error"]
    changes: dict[str, list[Any]] = Field(description="column -> [old, new]")
    errors: list[RowErrorOut]
    warnings: list[str]
    values: dict[str, str] = Field(description="The row's cells as in the file (after fixes)")


class BulkOut(Schema):
    id: int
    kind: str
    state: str
    title: str
    summary: dict[str, Any]
    params: dict[str, Any]
    created_at: dt.datetime
    applied_at: dt.datetime | None
    undone_at: dt.datetime | None


class PreviewOut(BulkOut):
    rows: list[RowOut]
    rows_total: int = Field(description="Rows matching `show` (the page is offset..offset+limit)")


class RowFixOut(Schema):
    row: RowOut
    summary: dict[str, Any]


class PreviewQuery(Schema):
    show: Literal["all", "errors", "changes"] = "all"
    offset: int = Field(0, ge=0, le=1_000_000)
    limit: int = Field(500, ge=1, le=5000)


class ExportQuery(Schema):
    format: Literal["csv", "xlsx"] = "csv"
    status: Literal["", "draft", "active", "archived"] = ""
    category: int | None = Field(None, ge=1, le=2**53)
    brand: text(120) = ""
    q: text(200) = ""


class RowFixIn(In):
    values: dict[text(80, 1), text(100_000)] = Field(
        description="column -> new cell text, as in the file (empty = leave unchanged, - = clear)"
    )


class ApplyIn(In):
    skip_errors: bool = Field(False, description="Apply the valid rows and skip the rows with errors")


class UndoIn(In):
    pass


def _bulk_out(bulk: BulkChange) -> dict:
    return {
        "id": bulk.pk,
        "kind": bulk.kind,
        "state": bulk.state,
        "title": bulk.title,
        "summary": bulk.summary or {},
        "params": bulk.params or {},
        "created_at": bulk.created_at,
        "applied_at": bulk.applied_at,
        "undone_at": bulk.undone_at,
    }


def _row_out(entry: dict) -> dict:
    return {k: entry.get(k, [] if k in ("errors", "warnings") else {}) for k in RowOut.model_fields} | {
        "sku": entry.get("sku", ""),
        "product": entry.get("product", ""),
    }


def _preview_out(bulk: BulkChange, show: str = "all", offset: int = 0, limit: int = 500) -> dict:
    rows = bulk.rows
    if show == "errors":
        rows = [r for r in rows if r["action"] == "error"]
    elif show == "changes":
        rows = [r for r in rows if r["action"] in ("create", "update")]
    return {
        **_bulk_out(bulk),
        "rows": [_row_out(r) for r in rows[offset : offset + limit]],
        "rows_total": len(rows),
    }


def _import(bulk_id: int) -> BulkChange:
    return services.bulk_get(bulk_id, kind=BulkChange.Kind.IMPORT)


@router.get("", response={200: list[BulkOut], **errors()}, summary="Bulk changes (imports and repricings)")
@allow("catalog.view")
def list_bulk_changes(request):
    return [_bulk_out(b) for b in services.bulk_changes(200)]


@router.post(
    "", response={201: PreviewOut, **errors(400, 413, 422)}, summary="Upload a product file: the preview"
)
@allow("catalog.edit")
def upload(request, file: File[UploadedFile]):
    """Multipart upload, field `file` (CSV or XLSX, at most 20 MB and 100,000 rows). Nothing changes in the
    catalog: the answer is the preview, with each row's action, changes and errors. A file that cannot be
    read at all is a 400 with code bad_file."""
    if file.size and file.size > io.MAX_FILE_BYTES:
        raise DomainError(
            _("The file is larger than 20 MB; split it into smaller files."), field="file", code="too_large"
        )
    bulk = services.import_preview(file, file.name or "upload", request.auth)
    return Status(201, _preview_out(bulk))


@router.get("/export", response={200: None, **errors(400, 422)}, summary="Export products (CSV or XLSX)")
@allow("catalog.view")
def export(request, filters: Query[ExportQuery]):
    """The import's columns, so the file imports back with no changes. CSV: UTF-8 with a BOM, `;`."""
    flt = io.ExportFilter(status=filters.status, category=filters.category, brand=filters.brand, q=filters.q)
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    if filters.format == "xlsx":
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


@router.get(
    "/{int:bulk_id}", response={200: PreviewOut, **errors(404, 422)}, summary="One import with its rows"
)
@allow("catalog.view")
def get_import(request, bulk_id: Path[Id], q: Query[PreviewQuery]):
    return _preview_out(_import(bulk_id), q.show, q.offset, q.limit)


@router.post(
    "/{int:bulk_id}/rows/{int:import_row}",
    response={200: RowFixOut, **errors(400, 404, 409, 422)},
    summary="Fix cells of one row of a preview",
)
@allow("catalog.edit")
def fix_row(request, bulk_id: Path[Id], import_row: Path[Id], payload: RowFixIn):
    """Only columns the file has may be given. The whole file is validated again (duplicates)."""
    bulk = _import(bulk_id)
    entry = services.import_fix_row(bulk, import_row, payload.values, request.auth)
    bulk.refresh_from_db()
    return {"row": _row_out(entry), "summary": bulk.summary}


@router.post(
    "/{int:bulk_id}/apply",
    response={200: BulkOut, **errors(400, 404, 409, 422)},
    summary="Apply an import (all or the valid rows)",
)
@allow("catalog.edit")
def apply(request, bulk_id: Path[Id], payload: ApplyIn):
    """400 rows_have_errors while rows have errors (unless skip_errors); 409 stale_preview when the catalog
    changed since the preview (nothing applied, the preview refreshed); 409 when applied already."""
    bulk = services.import_apply(_import(bulk_id), request.auth, skip_errors=payload.skip_errors)
    return _bulk_out(bulk)


@router.post(
    "/{int:bulk_id}/undo",
    response={200: BulkOut, **errors(400, 404, 409, 422)},
    summary="Undo the last bulk change",
)
@allow("catalog.edit")
def undo(request, bulk_id: Path[Id], payload: UndoIn):
    """Imports and repricings alike; 409 not_last names the bulk change that is the last one."""
    bulk = BulkChange.objects.filter(pk=bulk_id).first()
    if bulk is None:
        raise NotFound(_("No such bulk change."))
    return _bulk_out(services.bulk_undo(bulk, request.auth))
